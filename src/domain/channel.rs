//! The channels a member is reached by (push, email, LINE), and an email address as a member
//! gives it.

use std::str::FromStr;

crate::string_enum!(
    /// Where notifications go; a member may choose several, or none.
    Channel {
        Push => "push",
        Email => "email",
        Line => "line",
    }
);

/// A mail address that lettre can send to (lower-cased, trimmed, NFKC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let login = super::Login::parse(raw).map_err(|_| "not an email address".to_string())?;
        let value = login.into_inner();
        if value.contains('@') && lettre::Address::from_str(&value).is_ok() {
            Ok(Self(value))
        } else {
            Err("not an email address".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The channels chosen, given those turned off: each once, in a fixed order.
pub fn chosen(muted: &[Channel]) -> Vec<Channel> {
    Channel::ALL
        .iter()
        .copied()
        .filter(|c| !muted.contains(c))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_and_lower_cased() {
        assert_eq!(
            EmailAddress::parse(" Hanako@Example.JP ").unwrap().as_str(),
            "hanako@example.jp"
        );
        for bad in ["", "no-at-sign", "a@b", "two@@example.jp", "09012345678"] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn chosen_channels_are_the_rest() {
        assert_eq!(
            chosen(&[Channel::Push]),
            vec![Channel::Email, Channel::Line]
        );
        assert!(chosen(Channel::ALL).is_empty());
    }
}
