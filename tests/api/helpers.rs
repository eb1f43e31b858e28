use std::path::Path;
use std::sync::LazyLock;

use diesel::{Connection, RunQueryDsl};
use kairan::configuration::{AppEnvironment, Settings, load};
use kairan::db::Db;
use kairan::startup::Application;
use tempfile::TempDir;

static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var("TEST_LOG").is_ok() {
        let settings = test_settings_template();
        kairan::telemetry::init_subscriber(&settings.log, std::io::stdout);
    }
});

fn test_settings_template() -> Settings {
    load(AppEnvironment::Test, Path::new("config"), false).expect("config/test.toml loads")
}

/// A database of its own for one test: a file in a temp folder, or a new PostgreSQL
/// database dropped again when the test ends.
pub struct TestDatabase {
    pub url: String,
    pub data_dir: TempDir,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    pub fn fresh() -> Self {
        // As `kairan`'s main does: no OpenSSL exit handler racing libpq's threads at exit.
        openssl_sys::init();
        let data_dir = tempfile::tempdir().expect("temp dir");
        match std::env::var("KAIRAN_TEST_DATABASE_URL") {
            Ok(maintenance_url) if !maintenance_url.is_empty() => {
                let name = format!("kairan_test_{}", uuid_simple());
                let mut conn = diesel::pg::PgConnection::establish(&maintenance_url)
                    .expect("connect to KAIRAN_TEST_DATABASE_URL");
                diesel::sql_query(format!(r#"CREATE DATABASE "{name}""#))
                    .execute(&mut conn)
                    .expect("create test database");
                let url = replace_database_name(&maintenance_url, &name);
                Self {
                    url,
                    data_dir,
                    postgres: Some((maintenance_url, name)),
                }
            }
            _ => {
                let url = format!(
                    "sqlite://{}",
                    data_dir.path().join("kairan.sqlite3").display()
                );
                Self {
                    url,
                    data_dir,
                    postgres: None,
                }
            }
        }
    }

    /// A connection of the test's own, to look at what a server process stored.
    pub fn connection(&self) -> diesel::r2d2::PooledConnection<kairan::db::AnyConnectionManager> {
        let mut settings = load(AppEnvironment::Test, Path::new("config"), false).unwrap();
        settings.database.url = self.url.clone();
        let db = Db::connect(settings.database_url().unwrap(), &settings.database).unwrap();
        db.get().unwrap()
    }

    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    /// A PostgreSQL query's `value` column, for what the server keeps in the database there
    /// and in the data folder on SQLite (keys, attachment contents).
    pub fn pg_values(&self, sql: &str) -> Vec<String> {
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            value: String,
        }
        let mut conn = diesel::pg::PgConnection::establish(&self.url).expect("connect");
        diesel::sql_query(sql)
            .load::<Row>(&mut conn)
            .expect("query")
            .into_iter()
            .map(|row| row.value)
            .collect()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((maintenance_url, name)) = &self.postgres
            && let Ok(mut conn) = diesel::pg::PgConnection::establish(maintenance_url)
        {
            let drop = format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#);
            let _ = diesel::sql_query(drop).execute(&mut conn);
        }
    }
}

fn uuid_simple() -> String {
    kairan::domain::new_id().replace('-', "")
}

fn replace_database_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let host_and_path = &base[authority_end..];
    let host = host_and_path.split('/').next().unwrap_or_default();
    format!("{}{host}/{name}{query}", &base[..authority_end])
}

pub struct TestApp {
    pub address: String,
    pub db: Db,
    /// The push outbox worker; tests drain it on purpose (config/test.toml runs none).
    pub push: std::sync::Arc<kairan::outbox::worker::OutboxWorker>,
    /// The email outbox worker, when the test configured `[email]`.
    pub email: Option<std::sync::Arc<kairan::outbox::worker::OutboxWorker>>,
    /// The LINE outbox worker; tests drain it on purpose.
    pub line: std::sync::Arc<kairan::outbox::worker::OutboxWorker>,
    /// Tests that publish behind the API (as the scheduler does) drop its entries.
    pub inbox_cache: std::sync::Arc<kairan::inbox_cache::InboxCache>,
    pub client: reqwest::Client,
    pub database: TestDatabase,
    /// The one-time set-up page while the database has no admin (`/setup/<token>`).
    pub setup_path: Option<String>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the server on port 0 with test settings, changed by `customize`.
pub async fn spawn_app_with(customize: impl FnOnce(&mut Settings)) -> TestApp {
    LazyLock::force(&TRACING);
    let database = TestDatabase::fresh();
    let mut settings = test_settings_template();
    settings.server.data_dir = database.data_dir.path().to_path_buf();
    settings.database.url = database.url.clone();
    customize(&mut settings);
    let app = Application::build(settings)
        .await
        .expect("application builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let db = app.db();
    let push = app.push_worker();
    let email = app.email_worker();
    let line = app.line_worker();
    let inbox_cache = app.inbox_cache();
    let setup_path = app.setup_path();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        db,
        push,
        email,
        line,
        inbox_cache,
        client: reqwest::Client::builder()
            .no_proxy()
            // Below actix's 5 s keep-alive, so a slow test never sends on a connection the
            // server is closing (hyper's IncompleteMessage).
            .pool_idle_timeout(std::time::Duration::from_secs(3))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        database,
        setup_path,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }
}

/// Reads a JSON error body and checks its shape.
pub async fn error_code(response: reqwest::Response) -> String {
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        content_type.starts_with("application/json"),
        "error content type {content_type}"
    );
    let body: serde_json::Value = response.json().await.expect("JSON error body");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "error has a message: {body}"
    );
    body["error"]
        .as_str()
        .expect("error has a code")
        .to_string()
}
