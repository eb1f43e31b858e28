//! Every CSV file the server writes (survey answers, receipts, the roster, the city's and a
//! district's figures) is a `Csv`, and its only way out is `to_bytes`, which neutralises every
//! cell, headers included, so no rule about formulas lives anywhere else.

use std::borrow::Cow;

use unicode_normalization::UnicodeNormalization;

use super::text::is_invisible;

/// A CSV file for a spreadsheet: its name, header and rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Csv {
    pub file_name: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Csv {
    pub fn new<H: Into<String>>(
        file_name: impl Into<String>,
        header: impl IntoIterator<Item = H>,
        rows: Vec<Vec<String>>,
    ) -> Self {
        Self {
            file_name: file_name.into(),
            header: header.into_iter().map(Into::into).collect(),
            rows,
        }
    }

    /// The file for Excel: UTF-8 with a BOM, every cell (headers too) spreadsheet-safe.
    pub fn to_bytes(&self) -> Result<Vec<u8>, csv::Error> {
        let mut writer = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
        for record in std::iter::once(&self.header).chain(&self.rows) {
            writer.write_record(
                record
                    .iter()
                    .map(|cell| spreadsheet_safe(cell).into_owned()),
            )?;
        }
        writer
            .into_inner()
            .map_err(|e| csv::Error::from(e.into_error()))
    }
}

/// A cell a spreadsheet would read as a formula gets a leading `'`, so it shows as text.
/// Spreadsheets skip leading spaces and invisible characters and read full-width `＝` as `=`,
/// so those are looked through; a tab or CR at the start is itself refused as a start.
pub fn spreadsheet_safe(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['\t', '\r']) || starts_like_formula(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

fn starts_like_formula(cell: &str) -> bool {
    cell.chars()
        .find(|c| !c.is_whitespace() && !is_invisible(*c))
        .is_some_and(|first| {
            std::iter::once(first)
                .nfkc()
                .next()
                .is_some_and(|c| matches!(c, '=' | '+' | '-' | '@'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_however_they_are_dressed() {
        for cell in [
            "=HYPERLINK(\"http://x\")",
            "+1",
            "-1",
            "@SUM(A1)",
            "＝1+1",
            "＋1",
            "－1",
            "＠SUM(A1)",
            "﹦1+1",
            "\u{FEFF}=1+1",
            "\u{200B}=1+1",
            "\u{202E}=1+1",
            "\u{2060}+1",
            "  =1+1",
            "\u{3000}=1+1",
            "\t=1+1",
            "\r=1+1",
            "\tplain",
            "\n=1+1",
        ] {
            assert_eq!(spreadsheet_safe(cell), format!("'{cell}"), "{cell:?}");
        }
    }

    #[test]
    fn ordinary_cells_are_kept() {
        for cell in ["", "出欠", "1", "0.5", "a=b", "田中 - 一班", "yes"] {
            assert_eq!(spreadsheet_safe(cell), cell);
        }
    }

    #[test]
    fn the_header_row_is_neutralised_too() {
        let csv = Csv::new(
            "a.csv",
            ["household_id", "=HYPERLINK(\"x\")"],
            vec![vec!["h1".into(), "＝2".into()]],
        );
        let bytes = csv.to_bytes().unwrap();
        let text = std::str::from_utf8(&bytes[3..]).unwrap();
        assert_eq!(text, "household_id,\"'=HYPERLINK(\"\"x\"\")\"\nh1,'＝2\n");
    }
}
