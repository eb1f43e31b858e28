//! The first start's set-up link: while no city admin exists, a random one-time token is
//! kept in memory and printed at start; its page creates the first admin (the command
//! line's `kairan admin create` stays).

use std::sync::Mutex;

use secrecy::{ExposeSecret, SecretString};

use crate::auth::jwt::{random_token, sha256_hex};

/// The hash of the set-up token while set-up is open.
pub struct SetupLink(Mutex<Option<String>>);

impl SetupLink {
    /// Set-up is done (an admin exists).
    pub fn closed() -> Self {
        Self(Mutex::new(None))
    }

    /// Opens set-up with a new token, returned once to be printed.
    pub fn open() -> (Self, SecretString) {
        let token = random_token();
        let link = Self(Mutex::new(Some(sha256_hex(token.expose_secret()))));
        (link, token)
    }

    pub fn accepts(&self, token: &str) -> bool {
        let hash = sha256_hex(token);
        self.0
            .lock()
            .map(|open| open.as_deref() == Some(hash.as_str()))
            .unwrap_or(false)
    }

    /// The token works once.
    pub fn close(&self) {
        if let Ok(mut open) = self.0.lock() {
            *open = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_opens_set_up_until_closed() {
        let (link, token) = SetupLink::open();
        assert!(link.accepts(token.expose_secret()));
        assert!(!link.accepts("guess"));
        link.close();
        assert!(!link.accepts(token.expose_secret()));
        assert!(!SetupLink::closed().accepts(""));
    }
}
