use unicode_normalization::UnicodeNormalization;

/// Text is stored as NFC, so the same name typed on two phones compares equal.
pub fn normalize(s: &str) -> String {
    s.trim().nfc().collect()
}

/// A required, trimmed, NFC-normalised string of at most `MAX` characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredText<const MAX: usize>(String);

impl<const MAX: usize> RequiredText<MAX> {
    pub fn parse(field: &str, raw: &str) -> Result<Self, String> {
        let value = normalize(raw);
        if value.is_empty() {
            return Err(format!("{field} must not be empty"));
        }
        if value.chars().count() > MAX {
            return Err(format!("{field} must be at most {MAX} characters"));
        }
        if value.chars().any(|c| c.is_control()) {
            return Err(format!("{field} must not contain control characters"));
        }
        Ok(Self(value))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_nfc() {
        // "が" written as か + combining dakuten becomes one code point.
        let t = RequiredText::<10>::parse("name", " か\u{3099} ").unwrap();
        assert_eq!(t.into_inner(), "が");
    }

    #[test]
    fn empty_long_and_control_text_is_refused() {
        assert!(RequiredText::<3>::parse("name", "  ").is_err());
        assert!(RequiredText::<3>::parse("name", "abcd").is_err());
        assert!(RequiredText::<3>::parse("name", "a\u{0}").is_err());
    }
}
