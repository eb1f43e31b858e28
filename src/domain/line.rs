//! The LINE channel's pure rules (D66): the webhook's `X-Line-Signature`, the safety check's
//! postback data (signed, so a forged postback answers nothing) and members' one-time link
//! codes.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;
use unicode_normalization::UnicodeNormalization;

use crate::domain::SafetyStatus;

/// HMAC takes a key of any length; None is unreachable, and then nothing verifies.
fn mac(key: &[u8]) -> Option<Hmac<Sha256>> {
    Hmac::<Sha256>::new_from_slice(key).ok()
}

/// Whether `header` is the base64 HMAC-SHA256 of the raw `body` under the channel secret.
/// The comparison is constant-time (`Mac::verify_slice`).
pub fn signature_matches(channel_secret: &str, body: &[u8], header: Option<&str>) -> bool {
    let Some(given) = header.and_then(|h| STANDARD.decode(h.trim()).ok()) else {
        return false;
    };
    let Some(mut mac) = mac(channel_secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

/// The signature LINE would send for `body` (tests and the stand-in use it).
pub fn signature(channel_secret: &str, body: &[u8]) -> String {
    mac(channel_secret.as_bytes())
        .map(|mut mac| {
            mac.update(body);
            STANDARD.encode(mac.finalize().into_bytes())
        })
        .unwrap_or_default()
}

/// A safety-check answer a quick-reply button carries: `s1.<check>.<answer>.<mac>`, the
/// mac over the check and the answer under the server's key (at most 300 characters, LINE's
/// limit for postback data). The household is the linked member's, never in the data.
pub fn safety_postback(key: &[u8], check: &str, status: SafetyStatus) -> String {
    let body = format!("s1.{check}.{}", status.as_str());
    let tag = mac(key)
        .map(|mut mac| {
            mac.update(body.as_bytes());
            mac.finalize().into_bytes().to_vec()
        })
        .unwrap_or_default();
    format!(
        "{body}.{}",
        URL_SAFE_NO_PAD.encode(tag.get(..16).unwrap_or_default())
    )
}

/// The check and answer of postback data this server signed; None for anything else.
pub fn parse_safety_postback(key: &[u8], data: &str) -> Option<(String, SafetyStatus)> {
    let (body, tag) = data.rsplit_once('.')?;
    let mut parts = body.split('.');
    let (version, check, status) = (parts.next()?, parts.next()?, parts.next()?);
    if version != "s1" || parts.next().is_some() {
        return None;
    }
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    if tag.len() != 16 {
        return None;
    }
    let mut mac = mac(key)?;
    mac.update(body.as_bytes());
    mac.verify_truncated_left(&tag).ok()?;
    Some((check.to_string(), status.parse().ok()?))
}

/// Letters and digits that cannot be mistaken for each other (no 0/O, 1/I/L).
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
pub const CODE_LENGTH: usize = 8;

/// A new one-time link code, such as `K7PM-Q2XD` (31^8 ≈ 8.5·10^11 codes).
pub fn new_link_code() -> String {
    let mut rng = rand::rng();
    let chars: String = (0..CODE_LENGTH)
        .filter_map(|_| CODE_ALPHABET.get(rng.random_range(0..CODE_ALPHABET.len())))
        .map(|b| char::from(*b))
        .collect();
    let (head, tail) = chars.split_at(CODE_LENGTH / 2);
    format!("{head}-{tail}")
}

/// A code as a member may type it (spaces, lower case, full-width, with or without the
/// dash) in the stored form; None when the text is not a code at all.
pub fn normalize_link_code(text: &str) -> Option<String> {
    let cleaned: String = text
        .nfkc()
        .filter(|c| !c.is_whitespace() && *c != '-' && *c != 'ー')
        .flat_map(char::to_uppercase)
        .collect();
    (cleaned.len() == CODE_LENGTH && cleaned.bytes().all(|b| CODE_ALPHABET.contains(&b))).then(
        || {
            let (head, tail) = cleaned.split_at(CODE_LENGTH / 2);
            format!("{head}-{tail}")
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_only_the_same_body_and_secret() {
        let body = br#"{"events":[]}"#;
        let good = signature("secret", body);
        assert!(signature_matches("secret", body, Some(&good)));
        assert!(!signature_matches("other", body, Some(&good)));
        assert!(!signature_matches("secret", b"{}", Some(&good)));
        assert!(!signature_matches("secret", body, None));
        assert!(!signature_matches("secret", body, Some("not base64!")));
    }

    #[test]
    fn postbacks_are_signed() {
        let data = safety_postback(b"key", "0193-check", SafetyStatus::NeedsHelp);
        assert!(data.len() <= 300);
        assert_eq!(
            parse_safety_postback(b"key", &data),
            Some(("0193-check".into(), SafetyStatus::NeedsHelp))
        );
        assert_eq!(parse_safety_postback(b"other", &data), None);
        let forged = data.replace("needs_help", "safe");
        assert_eq!(parse_safety_postback(b"key", &forged), None);
        assert_eq!(parse_safety_postback(b"key", "s1.x.safe"), None);
    }

    #[test]
    fn codes_are_read_as_members_type_them() {
        let code = new_link_code();
        assert_eq!(normalize_link_code(&code), Some(code.clone()));
        assert_eq!(
            normalize_link_code(&code.to_lowercase().replace('-', " ")),
            Some(code)
        );
        assert_eq!(normalize_link_code("こんにちは"), None);
        assert_eq!(
            normalize_link_code("ｋ７ｐｍ－ｑ２ｘｄ"),
            Some("K7PM-Q2XD".into())
        );
        assert_eq!(normalize_link_code("K7PM-Q2X0"), None);
    }
}
