//! The one home of the rules for text people type: a single line (names, titles, prompts,
//! options, short answers) and several lines (bodies, messages, notes, free-text answers).
//! Both are trimmed and NFC; neither keeps control characters (several lines keep `\n` and
//! `\t`), nor invisible or direction-changing characters, which can make a name read
//! backwards or hide what a cell starts with. A zero-width joiner or non-joiner is kept
//! between two visible characters, where emoji and some scripts need it.

use unicode_normalization::UnicodeNormalization;

use crate::error::{FieldError, Problem};

/// Text is stored as NFC, so the same name typed on two phones compares equal.
pub fn normalize(s: &str) -> String {
    s.trim().nfc().collect()
}

/// Characters that draw nothing: zero-width spaces and joiners, the BOM, word joiners, soft
/// hyphens, bidi marks, embeddings, overrides and isolates, fillers.
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

fn visible(c: char) -> bool {
    !c.is_whitespace() && !c.is_control() && !is_invisible(c)
}

/// Refuses the first character that does not belong, naming it.
fn check_characters(field: &str, value: &str, lines: bool) -> Result<(), FieldError> {
    let refused = |message: String| FieldError::new(field, Problem::Characters, message);
    let chars: Vec<char> = value.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let code = u32::from(c);
        if c.is_control() && !(lines && matches!(c, '\n' | '\t')) {
            return Err(refused(format!(
                "{field} must not contain control characters (U+{code:04X})"
            )));
        }
        let joins = matches!(c, '\u{200C}' | '\u{200D}')
            && i > 0
            && visible(chars[i - 1])
            && chars.get(i + 1).is_some_and(|n| visible(*n));
        if is_invisible(c) && !joins {
            return Err(refused(format!(
                "{field} must not contain invisible or direction-changing characters (U+{code:04X})"
            )));
        }
    }
    Ok(())
}

fn checked(field: &str, value: String, max: usize, lines: bool) -> Result<String, FieldError> {
    if value.chars().count() > max {
        let message = format!("{field} must be at most {max} characters");
        return Err(FieldError::new(field, Problem::TooLong { max }, message));
    }
    check_characters(field, &value, lines)?;
    Ok(value)
}

fn empty(field: &str) -> FieldError {
    FieldError::new(field, Problem::Empty, format!("{field} must not be empty"))
}

/// One line of text, 1 to `MAX` characters: a name, title, prompt, option or short answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneLine<const MAX: usize>(String);

impl<const MAX: usize> OneLine<MAX> {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        Self::optional(field, raw)?.ok_or_else(|| empty(field))
    }

    /// Empty (or only spaces) is none.
    pub fn optional(field: &str, raw: &str) -> Result<Option<Self>, FieldError> {
        let value = normalize(raw);
        if value.is_empty() {
            return Ok(None);
        }
        checked(field, value, MAX, false).map(|v| Some(Self(v)))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Several lines of text, 1 to `MAX` characters: a body, message, note or free answer.
/// Line breaks are stored as `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiLine<const MAX: usize>(String);

impl<const MAX: usize> MultiLine<MAX> {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        Self::optional(field, raw)?.ok_or_else(|| empty(field))
    }

    /// Empty (or only spaces) is none.
    pub fn optional(field: &str, raw: &str) -> Result<Option<Self>, FieldError> {
        let value = normalize(&raw.replace("\r\n", "\n").replace('\r', "\n"));
        if value.is_empty() {
            return Ok(None);
        }
        checked(field, value, MAX, true).map(|v| Some(Self(v)))
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
        let t = OneLine::<10>::parse("name", " か\u{3099} ").unwrap();
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
        assert!(OneLine::<3>::parse("name", "  ").is_err());
        assert!(OneLine::<3>::parse("name", "abcd").is_err());
        assert!(OneLine::<3>::parse("name", "a\u{0}").is_err());
    }

    #[test]
    fn one_line_refuses_controls_invisibles_and_direction_changes() {
        for raw in [
            "田中\u{1b}[31m",
            "田中\u{7}",
            "田中\n太郎",
            "田中\t太郎",
            "\u{202E}中田",
            "田\u{2066}中",
            "田\u{200B}中",
            "\u{FEFF}田中",
            "田中\u{200D}",
            "田\u{200D}\u{200D}中",
            "田\u{AD}中",
        ] {
            assert!(OneLine::<20>::parse("name", raw).is_err(), "{raw:?}");
        }
        let err = OneLine::<20>::parse("name", "田中\u{1b}").unwrap_err();
        assert_eq!(err, "name must not contain control characters (U+001B)");
    }

    #[test]
    fn joiners_between_visible_characters_are_kept() {
        let family = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467} 田中";
        assert_eq!(
            OneLine::<20>::parse("name", family).unwrap().into_inner(),
            family
        );
        let heart = "\u{2764}\u{FE0F}\u{200D}\u{1F525}";
        assert!(OneLine::<20>::parse("name", heart).is_ok());
    }

    #[test]
    fn several_lines_keep_breaks_and_tabs_only() {
        let text = MultiLine::<50>::parse("body", " 日曜 8時\r\n公園に\t集合\r解散 ").unwrap();
        assert_eq!(text.into_inner(), "日曜 8時\n公園に\t集合\n解散");
        for raw in [
            "集合\u{7}",
            "集合\u{1b}",
            "\u{202D}集合",
            "集\u{2060}合",
            "集合\u{FEFF}",
        ] {
            assert!(MultiLine::<50>::parse("body", raw).is_err(), "{raw:?}");
        }
        assert_eq!(MultiLine::<50>::optional("note", " \r\n ").unwrap(), None);
        assert!(MultiLine::<3>::parse("body", "abcd").is_err());
    }
}
