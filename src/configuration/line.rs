//! Settings of the LINE channel (config/default.toml explains each). The accounts themselves
//! (channel id, token, secret) are registered per association through the API, not here.

use serde::Deserialize;
use serde_aux::field_attributes::deserialize_number_from_string;

#[derive(Debug, Clone, Deserialize)]
pub struct LineSettings {
    /// The Messaging API, `https://api.line.me`; tests point it at a loopback stand-in.
    pub api_base_url: String,
    /// An account's messages a month when its officers give no figure (the free plan's 200).
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub default_monthly_quota: i32,
    /// Users per multicast request (LINE accepts at most 500).
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub multicast_size: usize,
    /// How long a member's one-time link code works, in minutes.
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub link_code_ttl_mins: i64,
}

impl LineSettings {
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        match url::Url::parse(self.api_base_url.trim()) {
            Ok(url) if matches!(url.scheme(), "https" | "http") => {}
            _ => problems.push(format!(
                "line.api_base_url (KAIRAN_LINE__API_BASE_URL) is '{}'; expected an address such as https://api.line.me",
                self.api_base_url
            )),
        }
        if self.default_monthly_quota < 0 {
            problems.push("line.default_monthly_quota must not be negative".into());
        }
        if !(1..=500).contains(&self.multicast_size) {
            problems.push("line.multicast_size must be from 1 to 500".into());
        }
        if self.link_code_ttl_mins < 1 {
            problems.push("line.link_code_ttl_mins must be at least 1".into());
        }
        problems
    }
}
