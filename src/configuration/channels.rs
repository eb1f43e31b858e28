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
    /// The JST hour (0–23) from which each day's digest goes to members who chose it.
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub digest_hour: u32,
    /// How often the digest job looks whether the day's digest is due.
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub digest_interval_secs: u64,
    /// Run the digest job in this process (tests queue digests themselves).
    pub digest_worker: bool,
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
        if self.digest_hour > 23 || self.digest_interval_secs == 0 {
            problems.push(format!(
                "email.digest_hour (KAIRAN_EMAIL__DIGEST_HOUR) must be 0 to 23 and email.digest_interval_secs at least 1; they are {} and {}",
                self.digest_hour, self.digest_interval_secs
            ));
        }
        problems
    }
}
