use unicode_normalization::UnicodeNormalization;

/// Text is stored as NFC, so the same name typed on two phones compares equal.
pub fn normalize(s: &str) -> String {
    s.trim().nfc().collect()
}

/// Characters that draw nothing: zero-width spaces and joiners, the BOM, word joiners, soft
/// hyphens, bidi marks, embeddings, overrides and isolates. They can hide what text says
/// (a name that reads backwards, a formula behind a BOM).
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
    )
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

/// Invitation codes are typed from paper: full-width, lower case, spaces and dashes are
/// forgiven.
pub fn normalize_invitation_code(raw: &str) -> String {
    raw.nfkc()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// A new invitation code: 12 characters of Crockford's base32 (no I, L, O, U), 60 bits,
/// shown as XXXX-XXXX-XXXX.
pub fn new_invitation_code() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut rng = rand::rng();
    let chars: Vec<char> = (0..12)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
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
    fn invitation_codes_survive_how_people_type_them() {
        let code = new_invitation_code();
        assert_eq!(code.len(), 14);
        let typed = code.to_lowercase().replace('-', " ");
        assert_eq!(normalize_invitation_code(&typed), code.replace('-', ""));
        assert_eq!(normalize_invitation_code("ＡＢ１２-cd"), "AB12CD");
    }

    #[test]
    fn empty_long_and_control_text_is_refused() {
        assert!(RequiredText::<3>::parse("name", "  ").is_err());
        assert!(RequiredText::<3>::parse("name", "abcd").is_err());
        assert!(RequiredText::<3>::parse("name", "a\u{0}").is_err());
    }
}
