//! Load driver for kairan's performance goals (DESIGN.md section 9).
//!
//! `cargo bench --bench load -- [SCENARIO…]` fills a demo city with `kairan::demo` (the
//! Kanazawa size; KAIRAN_BENCH_SCALE=small for a quick look), starts `kairan serve` on it in
//! a child process, and drives each scenario, printing throughput, p50/p99/max latency,
//! errors, the server's peak resident memory during the scenario and the ratio to the
//! plain-JSON yardstick (/livez, always measured first in the same run).
//!
//! Scenarios: livez, inbox, post, confirm (one resident, 64 connections, as fast as
//! answered), inbox-members and confirm-members (the same with a different member each
//! request, over the whole city, so nothing of theirs is warm in memory), signin (a
//! sign-in flood against paced inbox traffic), emergency (a city-wide urgent post pushed to
//! every subscription while thousands of members open and confirm it at 3,000 req/s); push
//! (the fan-out alone, only when named), email (100,000 mails through the outbox to a
//! stand-in SMTP server, only when named), dashboard (city staff's adoption figures, one request
//! at a time). No scenario named: the default suite. `safety` (only when named, alone) runs
//! its own server and data set; see safety.rs.
//!
//! KAIRAN_BENCH_DATABASE_URL runs on PostgreSQL (an empty database); KAIRAN_BENCH_DATA_DIR
//! keeps the data folder, and a run on a folder or database that already holds the demo city
//! reuses it. KAIRAN_BENCH_PUSH_BATCH / KAIRAN_BENCH_PUSH_CONCURRENCY set the server's
//! `[push]` batch_size / concurrency_per_host. KAIRAN_BENCH_INSTANCES=N (PostgreSQL) starts
//! N servers on the database; the emergency's traffic goes round-robin to all of them, each
//! runs a push worker, and the peak memory is the largest instance's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod dashboard;
mod driver;
mod email;
mod emergency;
mod line;
mod members;
mod safety;
mod server;
mod signin;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use kairan::auth::jwt::JwtKeys;
use kairan::configuration::{AppEnvironment, Settings, load};
use kairan::db::Db;
use kairan::db::schema::push_subscriptions;
use kairan::demo::{DemoOptions, Refusal, Scale};

use driver::{Load, MakeRequest, Outcome};

/// The scenarios run when none is named; a new module adds its name here and a match arm
/// in `run_scenario`.
const DEFAULT_SUITE: &[&str] = &[
    "livez",
    "inbox",
    "inbox-members",
    "post",
    "confirm",
    "confirm-members",
    "dashboard",
    "signin",
    "emergency",
];
const CONNECTIONS: usize = 64;
const WARM_UP: Duration = Duration::from_secs(2);
const MEASURE: Duration = Duration::from_secs(10);
pub const PASSWORD: &str = "benchmark password";

/// What every scenario gets: the server, a client, the bench's own pool on the same
/// database, the server's token keys (to act as many members without signing each in), and
/// the report.
pub struct Bench {
    pub client: reqwest::Client,
    pub address: String,
    pub server: server::Server,
    /// KAIRAN_BENCH_INSTANCES − 1 more servers on the same PostgreSQL database; the
    /// emergency spreads its traffic over all of them and each runs a push worker.
    pub more_servers: Vec<server::Server>,
    pub db: Db,
    pub keys: JwtKeys,
    pub backend: &'static str,
    pub resident_token: Arc<String>,
    /// The newest circular in the resident's inbox that asks for confirmation.
    pub post_id: String,
    pub push_received: Arc<AtomicUsize>,
    /// Mails the stand-in SMTP server accepted (the `email` scenario).
    pub smtp_received: Arc<AtomicUsize>,
    /// Users the stand-in LINE API was asked to reach.
    pub line_received: Arc<AtomicUsize>,
    rows: Mutex<Vec<Row>>,
}

pub struct Row {
    pub scenario: String,
    pub outcome: Outcome,
    pub peak_rss_mib: f64,
    /// Closed-loop scenarios are compared with /livez; paced ones are not.
    pub compare: bool,
}

impl Bench {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// `path` on every instance, the first one first.
    pub fn urls(&self, path: &str) -> Vec<String> {
        std::iter::once(&self.server)
            .chain(&self.more_servers)
            .map(|server| format!("{}{path}", server.address))
            .collect()
    }

    fn servers(&self) -> impl Iterator<Item = &server::Server> {
        std::iter::once(&self.server).chain(&self.more_servers)
    }

    /// Starts a new peak on every instance.
    pub fn reset_peaks(&self) {
        self.servers().for_each(server::Server::reset_peak);
    }

    /// The largest instance's peak resident memory since the last reset, in MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        self.servers()
            .map(server::Server::peak_rss_mib)
            .fold(0.0, f64::max)
    }

    /// Measures `make` under `load` after a warm-up, with the server's peak memory of the
    /// measured part, and records the row.
    pub async fn measure(&self, scenario: &str, load: Load, make: MakeRequest) -> f64 {
        let warm = Load {
            duration: WARM_UP,
            stop: None,
            ..load
        };
        driver::run(&self.client, &warm, make.clone()).await;
        self.server.reset_peak();
        let outcome = driver::run(&self.client, &load, make).await;
        let p99 = outcome.percentile_ms(0.99);
        self.record(Row {
            scenario: scenario.to_string(),
            outcome,
            peak_rss_mib: self.server.peak_rss_mib(),
            compare: load.rate.is_none(),
        });
        p99
    }

    pub fn record(&self, row: Row) {
        let rows = &mut self.rows.lock().unwrap();
        let yardstick = rows.first().map(|r| r.outcome.throughput());
        print_row(&row, yardstick);
        rows.push(row);
    }

    pub async fn sign_in(&self, login: &str) -> String {
        let body: serde_json::Value = self
            .client
            .post(self.url("/api/v1/auth/login"))
            .json(&serde_json::json!({"login": login, "password": PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("{login} signs in: {body}"))
            .to_string()
    }

    /// Runs a blocking closure with a connection of the bench's own pool.
    pub async fn query<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut kairan::db::AnyConnection) -> R + Send + 'static,
    ) -> R {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || f(&mut db.get().unwrap()))
            .await
            .unwrap()
    }
}

fn print_row(row: &Row, yardstick: Option<f64>) {
    let o = &row.outcome;
    let ratio = match yardstick {
        Some(base) if row.compare => format!("{:.0} %", 100.0 * o.throughput() / base),
        None => "100 %".into(),
        _ => "—".into(),
    };
    println!(
        "| {} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {} | {:.0} | {ratio} |",
        row.scenario,
        o.throughput(),
        o.percentile_ms(0.50),
        o.percentile_ms(0.99),
        o.percentile_ms(1.0),
        o.errors,
        o.server_errors,
        row.peak_rss_mib,
    );
    for (kind, (count, first)) in &o.failures {
        let first: String = first.chars().take(300).collect();
        println!(
            "<!-- {}: {count} × {kind}, first: {first} -->",
            row.scenario
        );
    }
}

pub fn get(path: String, token: Arc<String>) -> MakeRequest {
    Arc::new(move |client, _| client.get(&path).bearer_auth(token.as_str()))
}

fn post(path: String, token: Arc<String>) -> MakeRequest {
    Arc::new(move |client, _| client.post(&path).bearer_auth(token.as_str()))
}

pub fn closed() -> Load {
    Load {
        connections: CONNECTIONS,
        rate: None,
        duration: MEASURE,
        stop: None,
    }
}

/// Runs one scenario; false if the name is unknown.
async fn run_scenario(bench: &Bench, name: &str) -> bool {
    let token = bench.resident_token.clone();
    match name {
        "livez" => {
            let url = bench.url("/livez");
            let make: MakeRequest = Arc::new(move |client, _| client.get(&url));
            bench.measure("livez", closed(), make).await;
        }
        "inbox" => {
            let url = bench.url("/api/v1/me/inbox?limit=20");
            bench.measure("inbox", closed(), get(url, token)).await;
        }
        "post" => {
            let url = bench.url(&format!("/api/v1/posts/{}", bench.post_id));
            bench.measure("post", closed(), get(url, token)).await;
        }
        "confirm" => {
            let url = bench.url(&format!("/api/v1/posts/{}/confirm", bench.post_id));
            bench.measure("confirm", closed(), post(url, token)).await;
        }
        "inbox-members" => members::inbox(bench).await,
        "confirm-members" => members::confirm(bench).await,
        "dashboard" => dashboard::run(bench).await,
        "signin" => signin::run(bench).await,
        "emergency" => emergency::run(bench, true).await,
        "push" => emergency::run(bench, false).await,
        "email" => email::run(bench).await,
        "line" => line::run(bench, bench.line_received.clone()).await,
        _ => return false,
    }
    true
}

fn env_number<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
}

/// Fills the demo city unless it is there already; then points its subscriptions at this
/// run's push service.
async fn fill(settings: &Settings, db: &Db, scale: Scale, push_base: String) {
    let started = Instant::now();
    let (settings, db2) = (settings.clone(), db.clone());
    let base = push_base.clone();
    let filled = tokio::task::spawn_blocking(move || {
        let hash = kairan::auth::password::hash_password(
            &settings.password,
            &secrecy::SecretString::from(PASSWORD),
        )
        .unwrap();
        let options = DemoOptions {
            scale,
            seed: 1,
            password: secrecy::SecretString::from(PASSWORD),
            push_endpoint: base,
            add_to_existing: false,
            production: false,
            progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
        };
        kairan::demo::fill(&mut db2.get().unwrap(), &settings, &options, &hash)
    })
    .await
    .unwrap();
    match filled {
        Ok(report) => eprintln!(
            "demo city filled in {:.0} s: {} households, {} members, {} circulars, {} reads, {} subscriptions",
            started.elapsed().as_secs_f64(),
            report.households,
            report.members,
            report.posts,
            report.reads,
            report.subscriptions
        ),
        Err(e)
            if e.downcast_ref::<Refusal>()
                .is_some_and(|r| r.0.contains("demo city")) =>
        {
            eprintln!("reusing the demo city already in the database");
            diesel::define_sql_function!(fn replace(text: diesel::sql_types::Text, from: diesel::sql_types::Text, to: diesel::sql_types::Text) -> diesel::sql_types::Text);
            let db = db.clone();
            tokio::task::spawn_blocking(move || {
                let conn = &mut db.get().unwrap();
                let old: Option<String> = push_subscriptions::table
                    .select(push_subscriptions::endpoint)
                    .filter(push_subscriptions::endpoint.like("%/demo/%"))
                    .first(conn)
                    .optional()
                    .unwrap();
                if let Some(old) = old.and_then(|e| e.split("/demo/").next().map(str::to_string)) {
                    diesel::update(push_subscriptions::table)
                        .set(push_subscriptions::endpoint.eq(replace(
                            push_subscriptions::endpoint,
                            format!("{old}/demo/"),
                            format!("{push_base}/demo/"),
                        )))
                        .execute(conn)
                        .unwrap();
                }
            })
            .await
            .unwrap();
        }
        Err(e) => panic!("cannot fill the demo city: {e}"),
    }
}

fn main() {
    // As `kairan`'s main does: no OpenSSL exit handler racing libpq's threads at exit.
    openssl_sys::init();
    let mut wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    // Its own server process (for kill -9) and data set.
    if wanted.iter().any(|w| w == "safety") {
        return safety::run();
    }
    if wanted.is_empty() {
        wanted = DEFAULT_SUITE.iter().map(|s| s.to_string()).collect();
    }
    if let Some(unknown) = wanted.iter().find(|w| {
        !DEFAULT_SUITE.contains(&w.as_str()) && !["push", "email", "line"].contains(&w.as_str())
    }) {
        eprintln!("unknown scenario '{unknown}'");
        std::process::exit(2);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let temp = tempfile::tempdir().unwrap();
        let data_dir: PathBuf = std::env::var_os("KAIRAN_BENCH_DATA_DIR")
            .map_or_else(|| temp.path().to_path_buf(), Into::into);
        std::fs::create_dir_all(&data_dir).unwrap();
        let (url, backend) = match std::env::var("KAIRAN_BENCH_DATABASE_URL") {
            Ok(url) if !url.is_empty() => (url, "postgres"),
            _ => (
                format!("sqlite://{}", data_dir.join("kairan.sqlite3").display()),
                "sqlite",
            ),
        };
        let line_members: usize = env_number("KAIRAN_BENCH_LINE_MEMBERS").unwrap_or(100_000);
        let scale = match std::env::var("KAIRAN_BENCH_SCALE").as_deref() {
            // `line` alone: the small city grown to its LINE members (one month of circulars,
            // nobody on paper), never Kanazawa.
            _ if wanted == ["line"] => Scale {
                households: line_members * 3 / 4,
                members: line_members,
                paper_percent: 0,
                months: 1,
                ..Scale::SMALL
            },
            // The small city has no subscriptions of its own; push needs some.
            Ok("small") => Scale {
                subscriptions: 2_000,
                ..Scale::SMALL
            },
            _ => Scale::KANAZAWA,
        };
        let mut settings = load(AppEnvironment::Local, Path::new("config"), false).unwrap();
        settings.server.data_dir = data_dir.clone();
        settings.database.url = url.clone();
        settings.log.filter = "error".into();

        let (push_port, push_received) = emergency::loopback_push_service();
        let (line_port, line_received) = line::loopback_line_api();
        let push_base = format!("http://127.0.0.1:{push_port}");
        let (smtp_port, smtp_received) = email::loopback_smtp_server().await;
        let db = kairan::startup::prepare_database(settings.clone(), true)
            .await
            .unwrap();
        fill(&settings, &db, scale, push_base).await;
        let keys = JwtKeys::load(&settings.auth, &data_dir).unwrap();

        let mut env = vec![
            ("KAIRAN_SERVER__BIND", "127.0.0.1:0".to_string()),
            ("KAIRAN_SERVER__DATA_DIR", data_dir.display().to_string()),
            ("KAIRAN_DATABASE__URL", url),
            ("KAIRAN_LOG__FILTER", "error".to_string()),
            ("KAIRAN_PUSH__ALLOW_INSECURE_ENDPOINTS", "true".to_string()),
            ("KAIRAN_EMAIL__SMTP_URL", format!("smtp://127.0.0.1:{smtp_port}")),
            ("KAIRAN_EMAIL__FROM", "kairan <kairan@bench.example>".to_string()),
            (
                "KAIRAN_LINE__API_BASE_URL",
                format!("http://127.0.0.1:{line_port}"),
            ),
        ];
        if backend == "postgres" {
            env.push(("KAIRAN_DATABASE__MAX_CONNECTIONS", "16".to_string()));
        }
        if let Some(batch) = env_number::<usize>("KAIRAN_BENCH_PUSH_BATCH") {
            env.push(("KAIRAN_PUSH__BATCH_SIZE", batch.to_string()));
            // The claim must outlast a batch's sends (Settings::validate checks it).
            env.push(("KAIRAN_PUSH__CLAIM_SECS", (batch / 4 + 60).to_string()));
        }
        if let Some(concurrency) = env_number::<usize>("KAIRAN_BENCH_PUSH_CONCURRENCY") {
            env.push(("KAIRAN_PUSH__CONCURRENCY_PER_HOST", concurrency.to_string()));
        }
        let server = server::Server::start(&env);
        let instances: usize = env_number("KAIRAN_BENCH_INSTANCES").unwrap_or(1);
        assert!(
            instances == 1 || backend == "postgres",
            "KAIRAN_BENCH_INSTANCES needs KAIRAN_BENCH_DATABASE_URL (several instances share PostgreSQL)"
        );
        let more_servers = (1..instances)
            .map(|n| {
                let dir = data_dir.join(format!("instance-{n}"));
                std::fs::create_dir_all(&dir).unwrap();
                let mut env = env.clone();
                env.retain(|(key, _)| *key != "KAIRAN_SERVER__DATA_DIR");
                env.push(("KAIRAN_SERVER__DATA_DIR", dir.display().to_string()));
                server::Server::start(&env)
            })
            .collect();
        let client = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(4096)
            .build()
            .unwrap();

        let mut bench = Bench {
            client,
            address: server.address.clone(),
            server,
            more_servers,
            db,
            keys,
            backend,
            resident_token: Arc::new(String::new()),
            post_id: String::new(),
            push_received,
            smtp_received,
            line_received,
            rows: Mutex::new(Vec::new()),
        };
        bench.resident_token = Arc::new(bench.sign_in("resident@demo.kairan.example").await);
        let inbox: serde_json::Value = bench
            .client
            .get(bench.url("/api/v1/me/inbox?limit=100"))
            .bearer_auth(bench.resident_token.as_str())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        // The confirm scenario needs a circular that asks for confirmation.
        let items = inbox["items"].as_array().unwrap();
        let asking = items.iter().find(|i| i["requires_confirmation"] == true);
        bench.post_id = asking.unwrap_or(&items[0])["id"]
            .as_str()
            .unwrap()
            .to_string();

        println!(
            "backend: {backend}; closed-loop scenarios: {CONNECTIONS} connections, {} s after {} s warm-up; \
             server in its own process (peak RSS is the server's alone); {instances} instance(s), \
             the emergency's traffic spread over all",
            MEASURE.as_secs(),
            WARM_UP.as_secs()
        );
        println!();
        println!(
            "| scenario | req/s | p50 ms | p99 ms | max ms | errors | 5xx | server peak RSS MiB | ratio to livez |"
        );
        println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        let started = Instant::now();
        run_scenario(&bench, "livez").await;
        for name in wanted.iter().filter(|w| *w != "livez") {
            run_scenario(&bench, name).await;
        }
        eprintln!(
            "scenarios ran in {:.0} s",
            started.elapsed().as_secs_f64()
        );
    });
}
