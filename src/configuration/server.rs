//! Settings of the HTTP server and the database pool (config/default.toml explains each).

use std::path::PathBuf;

use serde::Deserialize;
use serde_aux::field_attributes::deserialize_number_from_string;

use super::deserialize::{deserialize_bool_from_string, deserialize_list_from_string};

#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    pub bind: String,
    pub data_dir: PathBuf,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub workers: usize,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub json_limit_bytes: usize,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub shutdown_timeout_secs: u64,
    /// Browser origins allowed to call the API (CORS); empty sends no CORS headers.
    #[serde(default, deserialize_with = "deserialize_list_from_string")]
    pub cors_allowed_origins: Vec<String>,
    /// Requests at work at once; past it a request waits `admission_wait_ms`, then gets 503.
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub max_requests_in_progress: usize,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub admission_wait_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    pub url: String,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub max_connections: u32,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub connect_timeout_secs: u64,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub queue_timeout_ms: u64,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub sqlite_busy_timeout_ms: u32,
    pub sqlite_synchronous: SqliteSynchronous,
    #[serde(deserialize_with = "deserialize_bool_from_string")]
    pub seed_kanazawa_districts: bool,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    Full,
    Normal,
}

impl SqliteSynchronous {
    /// The value `PRAGMA synchronous` takes.
    pub fn pragma(self) -> &'static str {
        match self {
            Self::Full => "FULL",
            Self::Normal => "NORMAL",
        }
    }
}
