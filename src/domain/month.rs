//! A calendar month in Japan Standard Time, as the city counts months. Timestamps are stored
//! in UTC; a month runs from 00:00 JST on its first day (15:00 UTC the day before).

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use serde::{Serialize, Serializer};

/// Japan has no daylight saving time: JST is always UTC+9.
const JST_OFFSET_HOURS: i64 = 9;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    month: u32,
}

impl Month {
    /// `YYYY-MM`, with a four-digit year and a two-digit month.
    pub fn parse(text: &str) -> Result<Self, String> {
        let invalid = || format!("'{text}' is not a month; use YYYY-MM, e.g. 2026-04");
        let (year, month) = text.split_once('-').ok_or_else(invalid)?;
        if year.len() != 4
            || month.len() != 2
            || !(year.bytes().chain(month.bytes())).all(|b| b.is_ascii_digit())
        {
            return Err(invalid());
        }
        let year: i32 = year.parse().map_err(|_| invalid())?;
        let month: u32 = month.parse().map_err(|_| invalid())?;
        if !(1..=12).contains(&month) || year < 2000 {
            return Err(invalid());
        }
        Ok(Self { year, month })
    }

    /// The JST month that a UTC instant falls in.
    pub fn containing(utc: NaiveDateTime) -> Self {
        let jst = utc + Duration::hours(JST_OFFSET_HOURS);
        Self {
            year: jst.year(),
            month: jst.month(),
        }
    }

    /// Months counted from year 0, so that differences are month counts.
    pub fn ordinal(self) -> i64 {
        i64::from(self.year) * 12 + i64::from(self.month) - 1
    }

    fn from_ordinal(ordinal: i64) -> Self {
        let year = i32::try_from(ordinal.div_euclid(12)).unwrap_or(i32::MAX);
        let month = u32::try_from(ordinal.rem_euclid(12) + 1).unwrap_or(1);
        Self { year, month }
    }

    pub fn plus(self, months: i64) -> Self {
        Self::from_ordinal(self.ordinal() + months)
    }

    /// The first instant of the month, in UTC.
    pub fn start_utc(self) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(self.year, self.month, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .unwrap_or_default()
            - Duration::hours(JST_OFFSET_HOURS)
    }

    /// The first instant after the month, in UTC.
    pub fn end_utc(self) -> NaiveDateTime {
        self.plus(1).start_utc()
    }

    /// The 年度 (fiscal year, April to March) the month belongs to.
    pub fn fiscal_year(self) -> i32 {
        if self.month >= 4 {
            self.year
        } else {
            self.year - 1
        }
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl Serialize for Month {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_strictly() {
        assert_eq!(Month::parse("2026-04").unwrap().to_string(), "2026-04");
        for bad in [
            "2026-4",
            "2026-13",
            "2026-00",
            "26-04",
            "2026/04",
            "2026-04-01",
            "",
            "abcd-ef",
        ] {
            assert!(Month::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_month_runs_from_midnight_jst() {
        let april = Month::parse("2026-04").unwrap();
        let start = NaiveDate::from_ymd_opt(2026, 3, 31)
            .unwrap()
            .and_hms_opt(15, 0, 0)
            .unwrap();
        assert_eq!(april.start_utc(), start);
        assert_eq!(Month::containing(start), april);
        assert_eq!(
            Month::containing(start - Duration::seconds(1)),
            april.plus(-1)
        );
        assert_eq!(
            Month::parse("2026-12").unwrap().plus(1).to_string(),
            "2027-01"
        );
        assert_eq!(
            Month::parse("2027-01").unwrap().plus(-1).to_string(),
            "2026-12"
        );
        assert_eq!(Month::parse("2027-03").unwrap().fiscal_year(), 2026);
    }
}
