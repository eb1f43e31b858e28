//! Layered settings: the built-in `config/default.toml`, then `config/$KAIRAN_ENVIRONMENT.toml`,
//! then `KAIRAN_<SECTION>__<KEY>` environment variables. Validated before anything starts.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use config::{Config, Environment as EnvSource, File, FileFormat};
use serde::Deserialize;
use serde_aux::field_attributes::deserialize_number_from_string;

use crate::db::url::DatabaseUrl;
use crate::domain::push_endpoint::{EndpointPolicy, check_host_pattern};
use deserialize::{deserialize_bool_from_string, deserialize_list_from_string};

mod channels;
mod deserialize;
mod events;
mod line;
mod server;
mod strict;
pub use channels::EmailSettings;
pub use events::EventSettings;
pub use line::LineSettings;
pub use server::{DatabaseSettings, ServerSettings, SqliteSynchronous};
pub use strict::{OTHER_VARIABLES, variable_name};

/// Every setting's `section.key`, as the built-in defaults name them (and `auth.keys`).
pub fn setting_keys() -> Result<std::collections::BTreeSet<String>, SettingsError> {
    strict::known_keys(DEFAULT_TOML).map_err(SettingsError)
}

/// Compiled in, so the binary runs from any directory.
const DEFAULT_TOML: &str = include_str!("../config/default.toml");
/// Also compiled in: a service started from `/` (systemd) has no `config/` folder, and its
/// logs must still be JSON.
const PRODUCTION_TOML: &str = include_str!("../config/production.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub password: PasswordSettings,
    pub auth: AuthSettings,
    pub posts: PostSettings,
    pub push: PushSettings,
    pub email: EmailSettings,
    pub line: LineSettings,
    pub log: LogSettings,
    pub stats: StatsSettings,
    pub events: EventSettings,
    pub idempotency: IdempotencySettings,
    pub backup: BackupSettings,
    pub web: WebSettings,
}

/// The pages: browser sessions, cookies, sign-in QR codes (config/default.toml explains each).
#[derive(Debug, Clone, Deserialize)]
pub struct WebSettings {
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub session_ttl_days: u64,
    pub secure_cookies: SecureCookies,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub sign_in_code_ttl_days: u64,
    /// Empty: the address the request came to.
    pub public_url: String,
}

impl WebSettings {
    pub fn session_ttl_secs(&self) -> u64 {
        self.session_ttl_days.saturating_mul(86_400)
    }

    pub fn sign_in_code_ttl_secs(&self) -> u64 {
        self.sign_in_code_ttl_days.saturating_mul(86_400)
    }
}

/// When session cookies carry `Secure`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SecureCookies {
    /// When the request came over TLS (or a proxy says so with X-Forwarded-Proto).
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Deserialize)]
pub struct IdempotencySettings {
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub key_ttl_secs: u64,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub prune_interval_secs: u64,
}

/// Scheduled SQLite backups into `<data_dir>/backups/`.
#[derive(Debug, Clone, Deserialize)]
pub struct BackupSettings {
    /// 0 turns scheduled backups off.
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub interval_secs: u64,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub keep: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PushSettings {
    pub vapid_private_key: secrecy::SecretString,
    pub vapid_subject: String,
    #[serde(deserialize_with = "deserialize_bool_from_string")]
    pub allow_insecure_endpoints: bool,
    /// Push services' hosts endpoints may name (`domain::push_endpoint`).
    #[serde(deserialize_with = "deserialize_list_from_string")]
    pub allowed_hosts: Vec<String>,
    /// Subscriptions kept per member; a new one replaces the oldest beyond it.
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub max_subscriptions_per_member: i64,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub ttl_normal_secs: i32,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub ttl_urgent_secs: i32,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub batch_size: i64,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub concurrency_per_host: usize,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub send_timeout_secs: u64,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub max_attempts: i32,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub claim_secs: i64,
    #[serde(deserialize_with = "deserialize_bool_from_string")]
    pub worker: bool,
}

impl PushSettings {
    /// Which endpoints members may register and the sender may reach.
    pub fn endpoint_policy(&self) -> EndpointPolicy {
        EndpointPolicy {
            allowed_hosts: self.allowed_hosts.clone(),
            allow_loopback: self.allow_insecure_endpoints,
        }
    }
}

/// The adoption dashboard's rule and the plan's figures (config/default.toml explains each).
#[derive(Debug, Clone, Deserialize, serde::Serialize, utoipa::ToSchema)]
pub struct StatsSettings {
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub months_with_posts: u32,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub min_registered_share: f64,
    #[serde(deserialize_with = "deserialize_bool_from_string")]
    pub count_city_posts: bool,
    pub baseline_month: String,
    pub target_month: String,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub baseline_districts: i64,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub target_districts: i64,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub baseline_member_households: i64,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub target_member_households: i64,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub baseline_projects: i64,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub target_projects: i64,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub projection_months: u32,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub refresh_interval_secs: u64,
    #[serde(deserialize_with = "deserialize_bool_from_string")]
    pub worker: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PostSettings {
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub scheduler_interval_secs: u64,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub attachment_max_bytes: usize,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub inbox_cache_ttl_ms: u64,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub inbox_cache_posts: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuthSettings {
    pub issuer: String,
    pub audience: String,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub access_ttl_secs: u64,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub refresh_ttl_secs: u64,
    /// Empty: use the key ring kept in `<data_dir>/jwt-keys.json`, made on first start.
    pub active_kid: String,
    #[serde(default)]
    pub keys: Vec<JwtKeySetting>,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub max_failures_per_account_hour: u32,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub max_failures_per_address_hour: u32,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub max_registrations_per_address_hour: u32,
    /// Password hashes computed at once; 0: half the cores, at least one.
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub hash_concurrency: usize,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub hash_queue_timeout_ms: u64,
    /// Reverse proxies (addresses or blocks such as 10.0.0.0/8) whose X-Forwarded-For or
    /// Forwarded header names the client; empty: the TCP peer is the client.
    #[serde(default, deserialize_with = "deserialize_list_from_string")]
    pub trusted_proxies: Vec<String>,
    /// Replaced by `trusted_proxies`; refused at start-up when on, so an old setting cannot
    /// silently make every client look like the proxy.
    #[serde(default, deserialize_with = "deserialize_bool_from_string")]
    pub behind_proxy: bool,
}

impl AuthSettings {
    /// Hashing slots: a hash takes a core for tens of milliseconds, so by default half the
    /// cores stay free for requests while sign-ins flood (docs/design.md §9).
    pub fn hash_slots(&self) -> usize {
        match self.hash_concurrency {
            0 => std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1)),
            n => n,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct JwtKeySetting {
    pub kid: String,
    /// At least 32 bytes, base64url.
    pub secret: secrecy::SecretString,
}

/// Argon2id cost. Defaults are OWASP's (19 MiB, 2 passes, 1 lane); only tests go cheaper.
#[derive(Debug, Clone, Deserialize)]
pub struct PasswordSettings {
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub argon2_memory_kib: u32,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub argon2_iterations: u32,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub argon2_parallelism: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    pub format: LogFormat,
    pub filter: String,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnvironment {
    Local,
    Test,
    Production,
}

impl AppEnvironment {
    pub fn as_str(self) -> &'static str {
        match self {
            AppEnvironment::Local => "local",
            AppEnvironment::Test => "test",
            AppEnvironment::Production => "production",
        }
    }
}

impl TryFrom<String> for AppEnvironment {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        match value.to_lowercase().as_str() {
            "local" => Ok(Self::Local),
            "test" => Ok(Self::Test),
            "production" => Ok(Self::Production),
            other => Err(format!(
                "KAIRAN_ENVIRONMENT is '{other}'; use one of local, test, production"
            )),
        }
    }
}

/// Loads settings from the process environment and `config/` (or `$KAIRAN_CONFIG_DIR`).
pub fn get_configuration() -> Result<Settings, SettingsError> {
    let environment: AppEnvironment = std::env::var("KAIRAN_ENVIRONMENT")
        .unwrap_or_else(|_| "local".into())
        .try_into()
        .map_err(SettingsError)?;
    let config_dir = std::env::var_os("KAIRAN_CONFIG_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("config"));
    load(environment, &config_dir, true)
}

/// `with_env`: whether `KAIRAN_…` variables apply (tests pass false to stay hermetic).
pub fn load(
    environment: AppEnvironment,
    config_dir: &Path,
    with_env: bool,
) -> Result<Settings, SettingsError> {
    let env_file = config_dir.join(format!("{}.toml", environment.as_str()));
    let known = strict::known_keys(DEFAULT_TOML).map_err(SettingsError)?;
    let mut unknown = Vec::new();
    if env_file.exists() {
        unknown.extend(strict::file_problems(&env_file, &known));
    }
    if with_env {
        let names = std::env::vars_os().filter_map(|(name, _)| name.into_string().ok());
        unknown.extend(strict::variable_problems(names, &known));
    }
    if !unknown.is_empty() {
        return Err(SettingsError(format!(
            "configuration names settings that do not exist (docs/configuration.md lists them all):\n  - {}",
            unknown.join("\n  - ")
        )));
    }
    let mut builder = Config::builder().add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml));
    builder = match environment {
        AppEnvironment::Production if !env_file.exists() => {
            builder.add_source(File::from_str(PRODUCTION_TOML, FileFormat::Toml))
        }
        _ => builder.add_source(File::from(env_file).required(false)),
    };
    if with_env {
        builder = builder.add_source(
            EnvSource::with_prefix("KAIRAN")
                .prefix_separator("_")
                .separator("__"),
        );
    }
    let settings: Settings = builder
        .build()
        .and_then(Config::try_deserialize)
        .map_err(|e| SettingsError(format!("configuration: {e}")))?;
    settings.validate(environment)?;
    Ok(settings)
}

/// A configuration problem, worded for the operator who has to fix it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(pub String);

impl Settings {
    fn validate(&self, environment: AppEnvironment) -> Result<(), SettingsError> {
        let mut problems = Vec::new();
        if self.server.bind.parse::<SocketAddr>().is_err() {
            problems.push(format!(
                "server.bind (KAIRAN_SERVER__BIND) is '{}'; expected address:port such as 127.0.0.1:8080",
                self.server.bind
            ));
        }
        if self.server.data_dir.as_os_str().is_empty() {
            problems.push("server.data_dir (KAIRAN_SERVER__DATA_DIR) must not be empty".into());
        }
        if self.idempotency.key_ttl_secs < 60 || self.idempotency.prune_interval_secs == 0 {
            problems.push(
                "idempotency.key_ttl_secs must be at least 60 and idempotency.prune_interval_secs at least 1".into(),
            );
        }
        if self.backup.interval_secs > 0 && self.backup.keep == 0 {
            problems.push("backup.keep must be at least 1 when backup.interval_secs is set".into());
        }
        problems.extend(self.email.problems());
        problems.extend(self.line.problems());
        problems.extend(self.events.problems());
        if self.server.json_limit_bytes < 1024 {
            problems.push("server.json_limit_bytes must be at least 1024".into());
        }
        if self.auth.behind_proxy {
            problems.push("auth.behind_proxy is replaced by auth.trusted_proxies: list your reverse proxies' addresses (KAIRAN_AUTH__TRUSTED_PROXIES=127.0.0.1) and remove behind_proxy".into());
        }
        for block in &self.auth.trusted_proxies {
            if let Err(problem) = crate::domain::network::IpBlock::parse(block) {
                problems.push(format!("auth.trusted_proxies: {problem}"));
            }
        }
        for origin in &self.server.cors_allowed_origins {
            if !is_origin(origin) {
                problems.push(format!(
                    "server.cors_allowed_origins: '{origin}' is not an origin such as https://kairan.example.jp (scheme and host, no path)"
                ));
            }
        }
        if !(1..=256).contains(&self.database.max_connections) {
            problems.push("database.max_connections must be between 1 and 256".into());
        }
        if !(1..=60).contains(&self.database.connect_timeout_secs) {
            problems.push("database.connect_timeout_secs must be between 1 and 60".into());
        }
        if !(1..=100_000).contains(&self.server.max_requests_in_progress) {
            problems.push("server.max_requests_in_progress must be between 1 and 100000".into());
        }
        if !(1..=60_000).contains(&self.server.admission_wait_ms) {
            problems.push("server.admission_wait_ms must be between 1 and 60000".into());
        }
        if !(1..=60_000).contains(&self.database.queue_timeout_ms) {
            problems.push("database.queue_timeout_ms must be between 1 and 60000".into());
        }
        if environment == AppEnvironment::Production && self.database.url.trim().is_empty() {
            problems.push(
                "database.url is required in production: set KAIRAN_DATABASE__URL to postgres://… or sqlite://PATH"
                    .into(),
            );
        }
        if let Err(e) = self.database_url() {
            problems.push(e.to_string());
        }
        if environment != AppEnvironment::Test
            && (self.password.argon2_memory_kib < 19_456 || self.password.argon2_iterations < 2)
        {
            problems.push("password: Argon2id below OWASP's minimum (19456 KiB, 2 iterations) is allowed only in tests".into());
        }
        if !(60..=3600).contains(&self.auth.access_ttl_secs) {
            problems.push("auth.access_ttl_secs must be between 60 and 3600".into());
        }
        if self.auth.refresh_ttl_secs < self.auth.access_ttl_secs {
            problems
                .push("auth.refresh_ttl_secs must not be shorter than auth.access_ttl_secs".into());
        }
        if self.auth.issuer.is_empty() || self.auth.audience.is_empty() {
            problems.push("auth.issuer and auth.audience must not be empty".into());
        }
        if !self.auth.keys.is_empty()
            && !self.auth.keys.iter().any(|k| k.kid == self.auth.active_kid)
        {
            problems.push(format!(
                "auth.active_kid '{}' is not among auth.keys",
                self.auth.active_kid
            ));
        }
        if self.auth.max_failures_per_account_hour == 0 {
            problems.push("auth.max_failures_per_account_hour must be at least 1".into());
        }
        if !(1..=3600).contains(&self.posts.scheduler_interval_secs) {
            problems.push("posts.scheduler_interval_secs must be between 1 and 3600".into());
        }
        if !(1024..=100 * 1024 * 1024).contains(&self.posts.attachment_max_bytes) {
            problems.push("posts.attachment_max_bytes must be between 1 KiB and 100 MiB".into());
        }
        let subject = self.push.vapid_subject.to_lowercase();
        if !(subject.starts_with("mailto:") || subject.starts_with("https://"))
            || subject.contains("localhost")
        {
            problems.push(format!(
                "push.vapid_subject '{}' must be a mailto: or https: contact that is not localhost",
                self.push.vapid_subject
            ));
        }
        if !(60..=2_419_200).contains(&self.push.ttl_normal_secs)
            || !(60..=2_419_200).contains(&self.push.ttl_urgent_secs)
        {
            problems.push(
                "push.ttl_normal_secs and push.ttl_urgent_secs must be between 60 and 2419200"
                    .into(),
            );
        }
        for pattern in &self.push.allowed_hosts {
            if let Err(problem) = check_host_pattern(pattern) {
                problems.push(format!("push.allowed_hosts: {problem}"));
            }
        }
        if !(1..=100).contains(&self.push.max_subscriptions_per_member) {
            problems.push("push.max_subscriptions_per_member must be between 1 and 100".into());
        }
        if !(1..=10_000).contains(&self.push.batch_size) || self.push.concurrency_per_host == 0 {
            problems.push(
                "push.batch_size must be 1 to 10000 and push.concurrency_per_host at least 1"
                    .into(),
            );
        }
        // A claim must outlast the slowest batch, or a second worker could send it again.
        let rounds = u64::try_from(self.push.batch_size)
            .unwrap_or(1)
            .div_ceil(self.push.concurrency_per_host.max(1) as u64);
        if i64::try_from(rounds * self.push.send_timeout_secs + 10).unwrap_or(i64::MAX)
            > self.push.claim_secs
        {
            problems.push(format!(
                "push.claim_secs must exceed push.send_timeout_secs × batch_size / concurrency_per_host + 10 s (here {} s)",
                rounds * self.push.send_timeout_secs + 10
            ));
        }
        if self.push.max_attempts < 1
            || self.push.send_timeout_secs == 0
            || self.push.claim_secs < 10
        {
            problems.push("push.max_attempts and push.send_timeout_secs must be at least 1, push.claim_secs at least 10".into());
        }
        problems.extend(self.stats.problems());
        if !(1..=3650).contains(&self.web.session_ttl_days)
            || !(1..=365).contains(&self.web.sign_in_code_ttl_days)
        {
            problems.push(
                "web.session_ttl_days must be 1 to 3650 and web.sign_in_code_ttl_days 1 to 365"
                    .into(),
            );
        }
        let public_url = self.web.public_url.trim_end_matches('/');
        if !public_url.is_empty() && !is_origin(public_url) {
            problems.push(format!(
                "web.public_url '{}' must be scheme://host[:port], such as https://kairan.example.jp",
                self.web.public_url
            ));
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.filter).is_err() {
            problems.push(format!(
                "log.filter '{}' is not a valid filter",
                self.log.filter
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(SettingsError(format!(
                "invalid configuration:\n  - {}",
                problems.join("\n  - ")
            )))
        }
    }

    /// The database to use: the configured URL, or SQLite in the data folder.
    pub fn database_url(&self) -> Result<DatabaseUrl, SettingsError> {
        let url = self.database.url.trim();
        if url.is_empty() {
            Ok(DatabaseUrl::Sqlite(
                self.server.data_dir.join("kairan.sqlite3"),
            ))
        } else {
            DatabaseUrl::parse(url)
                .map_err(|e| SettingsError(format!("database.url (KAIRAN_DATABASE__URL): {e}")))
        }
    }

    pub fn socket_addr(&self) -> Result<SocketAddr, SettingsError> {
        self.server.bind.parse().map_err(|_| {
            SettingsError(format!(
                "server.bind '{}' is not address:port",
                self.server.bind
            ))
        })
    }
}

impl StatsSettings {
    fn problems(&self) -> Vec<String> {
        use crate::domain::Month;
        let mut problems = Vec::new();
        if !(1..=12).contains(&self.months_with_posts) {
            problems.push("stats.months_with_posts must be between 1 and 12".into());
        }
        if !(0.0..=1.0).contains(&self.min_registered_share) {
            problems
                .push("stats.min_registered_share must be between 0 and 1 (0.10 is 10 %)".into());
        }
        match (
            Month::parse(&self.baseline_month),
            Month::parse(&self.target_month),
        ) {
            (Ok(baseline), Ok(target)) if baseline < target => {}
            (Ok(_), Ok(_)) => {
                problems.push("stats.target_month must come after stats.baseline_month".into())
            }
            _ => problems.push(
                "stats.baseline_month and stats.target_month must be YYYY-MM, e.g. 2028-03".into(),
            ),
        }
        if self.target_districts < 1
            || self.baseline_districts < 0
            || self.target_member_households < 1
            || self.baseline_member_households < 0
            || self.target_projects < 1
            || self.baseline_projects < 0
        {
            problems.push("stats: targets must be positive and baselines not negative".into());
        }
        if !(2..=60).contains(&self.projection_months) {
            problems.push("stats.projection_months must be between 2 and 60".into());
        }
        if !(10..=86_400).contains(&self.refresh_interval_secs) {
            problems.push("stats.refresh_interval_secs must be between 10 and 86400".into());
        }
        problems
    }
}

/// `scheme://host[:port]` exactly as a browser sends it in `Origin`.
fn is_origin(origin: &str) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    matches!(scheme, "http" | "https")
        && !rest.is_empty()
        && !rest.contains(['/', '?', '#', '@', ' '])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_use_sqlite_in_the_data_folder() {
        let settings = load(AppEnvironment::Local, Path::new("config"), false).unwrap();
        assert_eq!(settings.server.bind, "127.0.0.1:8080");
        assert_eq!(
            settings.database_url().unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("data/kairan.sqlite3"))
        );
    }

    #[test]
    fn unknown_environment_is_refused() {
        let err = AppEnvironment::try_from("staging".to_string()).unwrap_err();
        assert!(err.contains("local, test, production"));
    }

    #[test]
    fn cors_origins_come_from_a_list_or_a_comma_separated_variable() {
        #[derive(Deserialize)]
        struct Origins {
            #[serde(deserialize_with = "deserialize_list_from_string")]
            origins: Vec<String>,
        }
        let from_env: Origins =
            serde_json::from_str(r#"{"origins": "https://a.example.jp, http://localhost:5173,"}"#)
                .unwrap();
        assert_eq!(
            from_env.origins,
            ["https://a.example.jp", "http://localhost:5173"]
        );
        let from_toml: Origins =
            serde_json::from_str(r#"{"origins": ["https://a.example.jp"]}"#).unwrap();
        assert_eq!(from_toml.origins, ["https://a.example.jp"]);
        assert!(is_origin("http://localhost:5173"));
        assert!(!is_origin("https://a.example.jp/"));
        assert!(!is_origin("a.example.jp"));
        assert!(!is_origin("*"));
    }

    #[test]
    fn the_old_behind_proxy_switch_and_bad_proxy_blocks_are_refused() {
        let mut settings = load(AppEnvironment::Local, Path::new("config"), false).unwrap();
        settings.auth.trusted_proxies = vec!["127.0.0.1".into(), "10.0.0.0/8".into()];
        assert!(settings.validate(AppEnvironment::Local).is_ok());
        settings.auth.behind_proxy = true;
        assert!(settings.validate(AppEnvironment::Local).is_err());
        settings.auth.behind_proxy = false;
        settings.auth.trusted_proxies = vec!["proxy.internal".into()];
        assert!(settings.validate(AppEnvironment::Local).is_err());
    }
}
