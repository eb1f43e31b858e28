//! Links in mails that act without a password: HMAC-SHA256 over purpose, subject (a post,
//! a safety check, an email address), member and expiry. Opening one only shows a page; its
//! button does the act.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

crate::string_enum!(
    /// What a link does.
    LinkPurpose {
        Confirm => "confirm",
        Safe => "safe",
        NeedsHelp => "needs_help",
        VerifyEmail => "verify_email",
        Unsubscribe => "unsubscribe",
    }
);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedLink {
    pub purpose: LinkPurpose,
    pub subject: String,
    pub member: String,
    /// Unix seconds.
    pub expires: i64,
}

/// Why a link does nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    /// Malformed or altered: the signature does not match.
    Invalid,
    Expired,
}

impl SignedLink {
    fn message(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}",
            self.purpose.as_str(),
            self.subject,
            self.member,
            self.expires
        )
    }

    /// `purpose.subject.member.expires.signature`; ids are UUIDs, so no field has a dot.
    pub fn sign(&self, key: &[u8]) -> String {
        format!(
            "{}.{}.{}.{}.{}",
            self.purpose.as_str(),
            self.subject,
            self.member,
            self.expires,
            URL_SAFE_NO_PAD.encode(mac(key, &self.message()))
        )
    }

    pub fn verify(token: &str, key: &[u8], now: i64) -> Result<Self, LinkError> {
        let fields: Vec<&str> = token.split('.').collect();
        let [purpose, subject, member, expires, signature] = fields[..] else {
            return Err(LinkError::Invalid);
        };
        let link = SignedLink {
            purpose: purpose.parse().map_err(|_| LinkError::Invalid)?,
            subject: subject.to_string(),
            member: member.to_string(),
            expires: expires.parse().map_err(|_| LinkError::Invalid)?,
        };
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| LinkError::Invalid)?;
        let mut check = Hmac::<Sha256>::new_from_slice(key).map_err(|_| LinkError::Invalid)?;
        check.update(link.message().as_bytes());
        check
            .verify_slice(&signature)
            .map_err(|_| LinkError::Invalid)?;
        if link.expires < now {
            return Err(LinkError::Expired);
        }
        Ok(link)
    }
}

fn mac(key: &[u8], message: &str) -> Vec<u8> {
    // HMAC takes a key of any length; the error is unreachable, an empty tag fails to verify.
    Hmac::<Sha256>::new_from_slice(key)
        .map(|mut m| {
            m.update(message.as_bytes());
            m.finalize().into_bytes().to_vec()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link() -> SignedLink {
        SignedLink {
            purpose: LinkPurpose::Confirm,
            subject: "0193-post".into(),
            member: "0193-member".into(),
            expires: 2_000,
        }
    }

    #[test]
    fn a_signed_link_verifies_until_it_expires() {
        let token = link().sign(b"key");
        assert_eq!(SignedLink::verify(&token, b"key", 1_000), Ok(link()));
        assert_eq!(
            SignedLink::verify(&token, b"key", 2_001),
            Err(LinkError::Expired)
        );
    }

    #[test]
    fn any_change_or_another_key_is_refused() {
        let token = link().sign(b"key");
        assert_eq!(
            SignedLink::verify(&token, b"other", 1_000),
            Err(LinkError::Invalid)
        );
        for (from, to) in [
            ("confirm", "safe"),
            ("0193-post", "0193-posu"),
            ("2000", "9000"),
        ] {
            let altered = token.replacen(from, to, 1);
            assert_eq!(
                SignedLink::verify(&altered, b"key", 1_000),
                Err(LinkError::Invalid),
                "{altered}"
            );
        }
        assert_eq!(
            SignedLink::verify("nonsense", b"key", 0),
            Err(LinkError::Invalid)
        );
    }
}
