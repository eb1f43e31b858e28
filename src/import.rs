//! CSV input from city and association offices: UTF-8 (with or without a BOM, as Excel
//! writes it) or Shift_JIS, as older Japanese office software writes it.

use std::borrow::Cow;

use serde::Deserialize;

use crate::domain::{DistrictRecord, OneLine, RosterRecord, normalize};

/// A problem in an input file, with the line it is on.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("line {line}: {message}")]
pub struct ImportError {
    pub line: u64,
    pub message: String,
}

impl ImportError {
    fn new(line: u64, message: impl Into<String>) -> Self {
        Self {
            line,
            message: message.into(),
        }
    }
}

/// Turns file bytes into text: UTF-8 first, then Shift_JIS; anything else is refused.
pub fn decode_text(bytes: &[u8]) -> Result<Cow<'_, str>, ImportError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(Cow::Borrowed(text));
    }
    let (text, had_errors) = encoding_rs::SHIFT_JIS.decode_without_bom_handling(bytes);
    if had_errors {
        return Err(ImportError::new(
            1,
            "the file is neither UTF-8 nor Shift_JIS text",
        ));
    }
    Ok(text)
}

#[derive(Deserialize)]
struct RawDistrict {
    code: Option<String>,
    name: Option<String>,
    name_kana: Option<String>,
    kominkan: Option<String>,
    chokai_count: Option<String>,
    households: Option<String>,
    checked: Option<String>,
}

fn optional_text(value: Option<String>) -> Option<String> {
    value.map(|v| normalize(&v)).filter(|v| !v.is_empty())
}

fn optional_count(
    line: u64,
    field: &str,
    value: Option<String>,
) -> Result<Option<i32>, ImportError> {
    match optional_text(value) {
        None => Ok(None),
        Some(v) => v
            .parse::<i32>()
            .ok()
            .filter(|n| *n >= 0)
            .map(Some)
            .ok_or_else(|| {
                ImportError::new(line, format!("{field} '{v}' is not a whole number ≥ 0"))
            }),
    }
}

/// A trimming CSV reader over `text` and its header, which must name every `required`
/// column (`hint` follows the complaint when one is missing).
fn csv_with_columns<'a>(
    text: &'a str,
    required: &[&str],
    hint: &str,
) -> Result<(csv::Reader<&'a [u8]>, csv::StringRecord), ImportError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| ImportError::new(1, format!("cannot read the header: {e}")))?
        .clone();
    if let Some(missing) = required.iter().find(|r| !headers.iter().any(|h| h == **r)) {
        return Err(ImportError::new(
            1,
            format!("the header has no '{missing}' column{hint}"),
        ));
    }
    Ok((reader, headers))
}

/// Parses the whole file, or reports the first bad line; nothing is written on error.
pub fn parse_districts(bytes: &[u8]) -> Result<Vec<DistrictRecord>, ImportError> {
    let text = decode_text(bytes)?;
    let (mut reader, headers) = csv_with_columns(&text, &["code", "name"], "")?;
    let mut records = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for row in reader.records() {
        let row = row.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            ImportError::new(line, format!("malformed CSV: {e}"))
        })?;
        let line = row.position().map_or(0, |p| p.line());
        let raw: RawDistrict = row
            .deserialize(Some(&headers))
            .map_err(|e| ImportError::new(line, format!("malformed row: {e}")))?;
        let code =
            optional_text(raw.code).ok_or_else(|| ImportError::new(line, "code is empty"))?;
        if code.chars().count() > 32
            || !code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ImportError::new(
                line,
                format!("code '{code}' must be up to 32 letters, digits, '-' or '_'"),
            ));
        }
        if !seen.insert(code.clone()) {
            return Err(ImportError::new(
                line,
                format!("code '{code}' appears twice"),
            ));
        }
        let name =
            optional_text(raw.name).ok_or_else(|| ImportError::new(line, "name is empty"))?;
        if name.chars().count() > 100 {
            return Err(ImportError::new(line, "name is longer than 100 characters"));
        }
        let checked = match optional_text(raw.checked).as_deref() {
            None | Some("no") => false,
            Some("yes") => true,
            Some(other) => {
                return Err(ImportError::new(
                    line,
                    format!("checked '{other}' must be yes or no"),
                ));
            }
        };
        records.push(DistrictRecord {
            code,
            name,
            name_kana: optional_text(raw.name_kana),
            kominkan: optional_text(raw.kominkan),
            reported_associations: optional_count(line, "chokai_count", raw.chokai_count)?,
            reported_households: optional_count(line, "households", raw.households)?,
            checked,
        });
    }
    if records.is_empty() {
        return Err(ImportError::new(2, "the file has no districts"));
    }
    Ok(records)
}

/// The Kanazawa list shipped with kairan (see docs/data-sources.md).
pub const KANAZAWA_DISTRICTS_CSV: &[u8] = include_bytes!("../config/kanazawa/districts.csv");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_kanazawa_list_parses() {
        let records = parse_districts(KANAZAWA_DISTRICTS_CSV).unwrap();
        assert_eq!(records.len(), 64);
        let kz05 = records.iter().find(|r| r.code == "KZ05").unwrap();
        assert_eq!(kz05.name, "医王山");
        assert_eq!(kz05.name_kana.as_deref(), Some("いおうぜん"));
        assert_eq!(kz05.reported_households, Some(190));
        assert!(kz05.checked);
    }

    #[test]
    fn a_bad_row_is_reported_with_its_line() {
        let csv = "code,name,checked\nA1,一,yes\nA2,,no\n";
        assert_eq!(
            parse_districts(csv.as_bytes()).unwrap_err(),
            ImportError::new(3, "name is empty")
        );
        let csv = "code,name,households\nA1,一,-5\n";
        assert_eq!(parse_districts(csv.as_bytes()).unwrap_err().line, 2);
        let csv = "code,name\nA1,一\nA1,二\n";
        assert!(
            parse_districts(csv.as_bytes())
                .unwrap_err()
                .message
                .contains("twice")
        );
    }

    #[test]
    fn shift_jis_and_bom_are_accepted() {
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("code,name\nB1,犀川\n");
        assert_eq!(parse_districts(&sjis).unwrap()[0].name, "犀川");
        let bom = "\u{feff}code,name\nB1,犀川\n";
        assert_eq!(parse_districts(bom.as_bytes()).unwrap()[0].code, "B1");
    }

    #[test]
    fn binary_garbage_is_refused() {
        assert!(parse_districts(&[0xff, 0xfe, 0x00, 0x81]).is_err());
    }
}

#[derive(Deserialize)]
struct RawRosterRow {
    han: Option<String>,
    label: Option<String>,
    paper: Option<String>,
}

/// Parses a roster CSV (`han,label,paper`), or reports the first bad line.
pub fn parse_roster(bytes: &[u8]) -> Result<Vec<RosterRecord>, ImportError> {
    let text = decode_text(bytes)?;
    let (mut reader, headers) =
        csv_with_columns(&text, &["han", "label"], " (expected han,label,paper)")?;
    let mut records = Vec::new();
    for row in reader.records() {
        let row = row.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            ImportError::new(line, format!("malformed CSV: {e}"))
        })?;
        let line = row.position().map_or(0, |p| p.line());
        let raw: RawRosterRow = row
            .deserialize(Some(&headers))
            .map_err(|e| ImportError::new(line, format!("malformed row: {e}")))?;
        let in_line = |message: String| ImportError::new(line, message);
        let label = OneLine::<100>::parse("label", raw.label.as_deref().unwrap_or_default())
            .map_err(|e| in_line(e.into()))?
            .into_inner();
        let han = OneLine::<50>::optional("han", raw.han.as_deref().unwrap_or_default())
            .map_err(|e| in_line(e.into()))?
            .map(OneLine::into_inner);
        let paper = match optional_text(raw.paper)
            .map(|p| p.to_lowercase())
            .as_deref()
        {
            None | Some("no" | "false" | "0") => false,
            Some("yes" | "true" | "1") => true,
            Some(other) => {
                return Err(ImportError::new(
                    line,
                    format!("paper '{other}' must be yes or no"),
                ));
            }
        };
        records.push(RosterRecord {
            line,
            han,
            label,
            paper,
        });
        if records.len() > 5000 {
            return Err(ImportError::new(
                line,
                "a roster file may have at most 5,000 households",
            ));
        }
    }
    Ok(records)
}

/// The stable-toolchain cousin of `tests/fuzz/fuzz_targets/csv_import.rs`: seeded random
/// bytes and mutations of real files must parse or fail cleanly, never panic.
#[cfg(test)]
mod random_input {
    use rand::{Rng, SeedableRng, rngs::StdRng};

    use super::*;

    #[test]
    fn random_and_mutated_csv_never_panics() {
        let mut rng = StdRng::seed_from_u64(9);
        let seeds: [&[u8]; 2] = [
            KANAZAWA_DISTRICTS_CSV,
            "han,label,paper\n一班,山田,no\n,\"a,b\",yes\n".as_bytes(),
        ];
        for round in 0..3_000 {
            let mut bytes = seeds[round % 2][..seeds[round % 2].len().min(400)].to_vec();
            for _ in 0..rng.random_range(0..8) {
                let at = rng.random_range(0..=bytes.len());
                match rng.random_range(0..3) {
                    0 => bytes.insert(at, rng.random()),
                    1 if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    _ => bytes.insert(at, *b",\"\n\r\xef\xbb\xbf\xff".get(at % 8).unwrap_or(&b',')),
                }
            }
            if round % 3 == 0 {
                bytes = (0..rng.random_range(0..200))
                    .map(|_| rng.random())
                    .collect();
            }
            if let Ok(records) = parse_districts(&bytes) {
                assert!(
                    records
                        .iter()
                        .all(|r| !r.code.is_empty() && !r.name.is_empty())
                );
            }
            if let Ok(records) = parse_roster(&bytes) {
                assert!(records.iter().all(|r| !r.label.is_empty()));
            }
        }
    }
}
