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

crate::string_enum!(
    /// How often a member's circulars come by mail: each at once, or one digest a day
    /// (urgent circulars, safety checks and reminders still come at once).
    EmailFrequency {
        Immediate => "immediate",
        Daily => "daily",
    }
);

crate::string_enum!(
    /// Why deliveries failed for good, as an officer is told, from the last answer a
    /// channel's server gave (`last_status`): `refused` for good (SMTP 5xx; HTTP 4xx other
    /// than 429), `deferred` (asked to retry until the attempts ran out: SMTP 4xx, HTTP 429
    /// and 5xx), `unreachable` (no answer: down, timed out or not allowed), `invalid` (never
    /// handed over: the address or message could not be used, status 0).
    FailureReason {
        Refused => "refused",
        Deferred => "deferred",
        Unreachable => "unreachable",
        Invalid => "invalid",
    }
);

impl FailureReason {
    /// The reason for a failed delivery on `channel` whose last answer was `status`.
    pub fn of(channel: Channel, status: Option<i32>) -> Self {
        match (channel, status) {
            (_, None) => FailureReason::Unreachable,
            (_, Some(0)) => FailureReason::Invalid,
            (Channel::Email, Some(400..=499)) => FailureReason::Deferred,
            (Channel::Email, Some(_)) => FailureReason::Refused,
            (_, Some(429 | 500..)) => FailureReason::Deferred,
            (_, Some(_)) => FailureReason::Refused,
        }
    }
}

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
    fn failures_are_explained_by_the_channel_and_its_last_answer() {
        use FailureReason::*;
        assert_eq!(FailureReason::of(Channel::Email, Some(550)), Refused);
        assert_eq!(FailureReason::of(Channel::Email, Some(451)), Deferred);
        assert_eq!(FailureReason::of(Channel::Email, None), Unreachable);
        assert_eq!(FailureReason::of(Channel::Email, Some(0)), Invalid);
        assert_eq!(FailureReason::of(Channel::Push, Some(403)), Refused);
        assert_eq!(FailureReason::of(Channel::Line, Some(429)), Deferred);
        assert_eq!(FailureReason::of(Channel::Line, Some(500)), Deferred);
        assert_eq!(FailureReason::of(Channel::Line, Some(401)), Refused);
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
