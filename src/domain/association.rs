//! An association's figures and names as city staff enter them.

use crate::domain::OneLine;
use crate::error::FieldError;

const MAX_REPORTED_HOUSEHOLDS: i32 = 1_000_000;

/// A household count an association reports (加入世帯数, or all households of its area).
pub fn household_count(field: &str, value: i64) -> Result<i32, String> {
    i32::try_from(value)
        .ok()
        .filter(|n| (0..=MAX_REPORTED_HOUSEHOLDS).contains(n))
        .ok_or_else(|| format!("{field} must be a whole number from 0 to 1,000,000"))
}

/// A name that may be left out: blank counts as none.
pub fn optional_name(field: &str, value: Option<String>) -> Result<Option<String>, FieldError> {
    value
        .filter(|v| !v.trim().is_empty())
        .map(|v| OneLine::<100>::parse(field, &v).map(OneLine::into_inner))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn household_counts_are_whole_and_bounded() {
        assert_eq!(household_count("n", 0), Ok(0));
        assert_eq!(household_count("n", 1_000_000), Ok(1_000_000));
        assert!(household_count("n", -1).is_err());
        assert!(household_count("n", 1_000_001).is_err());
        assert!(household_count("n", i64::MAX).is_err());
    }

    #[test]
    fn a_blank_optional_name_is_none() {
        assert_eq!(optional_name("kana", None), Ok(None));
        assert_eq!(optional_name("kana", Some("  ".into())), Ok(None));
        assert_eq!(
            optional_name("kana", Some(" ほんまち ".into())),
            Ok(Some("ほんまち".into()))
        );
        assert!(optional_name("kana", Some("あ".repeat(101))).is_err());
    }
}
