//! Settings of the channels beside push: email over SMTP (config/default.toml explains each).

use serde::Deserialize;
use serde_aux::field_attributes::deserialize_number_from_string;

#[derive(Debug, Clone, Deserialize)]
pub struct EmailSettings {
    /// `smtp://host:port`, `smtps://user:pass@host`; empty turns email off.
    pub smtp_url: secrecy::SecretString,
    /// The sender, such as `kairan <kairan@example.jp>`.
    pub from: String,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub link_ttl_days: i64,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub concurrency: usize,
}

impl EmailSettings {
    pub fn enabled(&self) -> bool {
        use secrecy::ExposeSecret;
        !self.smtp_url.expose_secret().trim().is_empty()
    }

    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.enabled() && self.from.parse::<lettre::message::Mailbox>().is_err() {
            problems.push(format!(
                "email.from (KAIRAN_EMAIL__FROM) is '{}'; expected an address such as kairan@example.jp",
                self.from
            ));
        }
        if self.link_ttl_days < 1 || self.concurrency == 0 {
            problems.push("email.link_ttl_days and email.concurrency must be at least 1".into());
        }
        problems
    }
}
