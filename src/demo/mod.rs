//! `kairan demo`: fills an empty database with a believable city, small by default or the
//! size of Kanazawa, so a newcomer can sign in at once and the benchmarks have a city to load.

mod city;
mod names;
pub mod unfinished;

use std::net::IpAddr;
use std::time::Instant;

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use secrecy::SecretString;

use crate::configuration::{Settings, SqliteSynchronous};
use crate::db::AnyConnection;
use crate::db::schema::{associations, districts, members};
use crate::domain::DistrictId;

pub use city::DistrictRow;

/// The shared password of every demo login unless `--password` sets another.
pub const DEFAULT_PASSWORD: &str = "kairan-demo";
/// Where the Kanazawa-size city's push subscriptions point unless `--push-endpoint` says.
pub const DEFAULT_PUSH_ENDPOINT: &str = "http://127.0.0.1:8090";

/// How big a city to make.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    pub districts: usize,
    /// Districts that use the app from the first month; the others join one by one.
    pub baseline_districts: usize,
    pub associations: usize,
    pub households: usize,
    /// About this many members in all: one or two in every household not on paper.
    pub members: usize,
    pub paper_percent: usize,
    /// Months of circulars before today.
    pub months: u32,
    pub city_posts_per_month: f64,
    pub district_posts_per_month: f64,
    pub association_posts_per_month: f64,
    pub subscriptions: usize,
    /// Each district's 防災訓練 safety check, once a year for this many past years.
    pub drill_years: u32,
    /// A city-wide safety check after an earthquake this many days ago; none when 0.
    pub earthquake_days_ago: u32,
}

impl Scale {
    /// A few associations of one district with a year of circulars and one safety drill.
    pub const SMALL: Scale = Scale {
        districts: 1,
        baseline_districts: 1,
        associations: 4,
        households: 100,
        members: 140,
        paper_percent: 10,
        months: 12,
        city_posts_per_month: 1.0,
        district_posts_per_month: 1.0,
        association_posts_per_month: 3.0,
        subscriptions: 0,
        drill_years: 1,
        earthquake_days_ago: 0,
    };

    /// Kanazawa: 62 districts (21 using an app at the plan's start), 1,346 associations,
    /// 144,294 member households, five years of circulars, 300,000 push subscriptions, and
    /// two past safety checks per household: last year's earthquake and this year's drill.
    pub const KANAZAWA: Scale = Scale {
        districts: 62,
        baseline_districts: 21,
        associations: 1346,
        households: 144_294,
        members: 200_000,
        paper_percent: 8,
        months: 60,
        city_posts_per_month: 0.5,
        district_posts_per_month: 0.5,
        association_posts_per_month: 1.0,
        subscriptions: 300_000,
        drill_years: 1,
        earthquake_days_ago: 400,
    };
}

pub struct DemoOptions {
    pub scale: Scale,
    pub seed: u64,
    pub password: SecretString,
    /// Base URL of the loopback push service the subscriptions point at.
    pub push_endpoint: String,
    /// Fill a database that already holds associations (never one with demo logins, never
    /// in production, never with the documented default password).
    pub add_to_existing: bool,
    /// KAIRAN_ENVIRONMENT is production: a real city's database.
    pub production: bool,
    pub progress: bool,
}

/// The demo refuses to run: bad options or a database it must not touch (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

/// A login to try, with the role it shows.
#[derive(Debug, Clone)]
pub struct DemoLogin {
    pub login: String,
    pub role: &'static str,
    pub place: String,
}

#[derive(Debug, Clone, Default)]
pub struct DemoReport {
    pub districts: usize,
    pub hans: usize,
    pub households: usize,
    pub paper_households: usize,
    pub members: usize,
    pub posts: usize,
    pub reads: usize,
    pub confirmations: usize,
    pub survey_answers: usize,
    pub safety_checks: usize,
    pub safety_answers: usize,
    pub subscriptions: usize,
    pub logins: Vec<DemoLogin>,
}

/// Push subscriptions may only point at this machine: the demo never sends to anyone else.
pub fn check_push_endpoint(base: &str) -> Result<String, Refusal> {
    let refuse = || {
        Refusal(format!(
            "--push-endpoint must be an http(s) URL on loopback such as {DEFAULT_PUSH_ENDPOINT}, not '{base}'"
        ))
    };
    let url = reqwest::Url::parse(base).map_err(|_| refuse())?;
    let loopback = url.host_str().is_some_and(|host| {
        host == "localhost"
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    });
    if !matches!(url.scheme(), "http" | "https") || !loopback || url.query().is_some() {
        return Err(refuse());
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// Today at 00:00 UTC: the demo's "now", so one seed gives the same city all day.
pub fn anchor() -> NaiveDateTime {
    chrono::Utc::now()
        .date_naive()
        .and_time(chrono::NaiveTime::MIN)
}

/// Fills the database, then freezes the adoption figures of its finished months. Refuses
/// (and writes nothing) when it already holds associations, unless asked to add to them,
/// and always when a demo city is already there.
pub fn fill(
    conn: &mut AnyConnection,
    settings: &Settings,
    options: &DemoOptions,
    password_hash: &str,
) -> anyhow::Result<DemoReport> {
    let existing: i64 = associations::table.count().get_result(conn)?;
    let data_dir = &settings.server.data_dir;
    if let Some(marker) = unfinished::read(data_dir) {
        if existing > 0 {
            return Err(Refusal(format!(
                "a `kairan demo` started at {} was interrupted and left part of a demo city in \
                 this database. To start again: {}",
                marker.started,
                unfinished::how_to_start_again(&settings.database_url()?)
            ))
            .into());
        }
        // The database it was about is gone: an empty one starts afresh.
        unfinished::finish(data_dir)?;
    }
    if existing > 0 && !options.add_to_existing {
        return Err(Refusal(format!(
            "this database already holds {existing} associations; kairan demo fills only an \
             empty city (pass --add-to-existing to add a demo city next to them)"
        ))
        .into());
    }
    let demo_logins: i64 = members::table
        .filter(members::login.like("%@demo.kairan.example"))
        .count()
        .get_result(conn)?;
    if demo_logins > 0 {
        return Err(Refusal("this database already holds a demo city".into()).into());
    }
    if existing > 0 && options.production {
        return Err(Refusal(
            "KAIRAN_ENVIRONMENT is production: kairan demo never adds a demo city to a \
             production database"
                .into(),
        )
        .into());
    }
    let default_password =
        secrecy::ExposeSecret::expose_secret(&options.password) == DEFAULT_PASSWORD;
    if existing > 0 && default_password {
        return Err(Refusal(format!(
            "this database holds real associations: add a demo city only with a --password \
             of your own, never the documented \"{DEFAULT_PASSWORD}\""
        ))
        .into());
    }
    let wanted = options.scale.districts;
    let districts: Vec<DistrictRow> = districts::table
        .filter(districts::archived.eq(false))
        .order((districts::checked.desc(), districts::code.asc()))
        .select((districts::id, districts::name))
        .limit(i64::try_from(wanted)?)
        .load::<(DistrictId, String)>(conn)?
        .into_iter()
        .map(|(id, name)| DistrictRow { id, name })
        .collect();
    if districts.len() < wanted {
        return Err(Refusal(format!(
            "the demo city needs {wanted} districts and the database has {}; load the district \
             list first (kairan import districts FILE)",
            districts.len()
        ))
        .into());
    }
    let indexes = secondary_indexes(conn, BULK_TABLES)?;
    let deferred: Vec<String> = indexes.iter().map(|i| i.definition.clone()).collect();
    unfinished::begin(data_dir, &deferred)?;
    bulk_load_mode(conn, true, settings.database.sqlite_synchronous)?;
    for index in &indexes {
        conn.batch_execute(&format!("DROP INDEX {}", index.name))?;
    }
    let built = city::Builder::new(
        conn,
        &options.scale,
        options.seed,
        anchor(),
        password_hash,
        &options.push_endpoint,
        options.progress,
    )
    .build(districts);
    for definition in &deferred {
        conn.batch_execute(definition)?;
    }
    bulk_load_mode(conn, false, settings.database.sqlite_synchronous)?;
    if built.is_ok() {
        unfinished::finish(data_dir)?;
        // As in a city that has run for years, its finished months' adoption figures are
        // frozen already: a server's first start need not spend minutes of a core on them.
        let rule = crate::domain::Rule::from(&settings.stats);
        crate::db::queries::stats::take_snapshots(conn, rule, crate::db::now())?;
    }
    built
}

/// The tables of millions of rows, whose secondary indexes are built once after the load
/// (sorted, fast) instead of row by row in random order during it.
const BULK_TABLES: &[&str] = &["post_reads", "household_receipts"];

#[derive(QueryableByName)]
struct IndexDefinition {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    definition: String,
}

/// The tables' indexes other than their primary keys, as the catalog defines them (so the
/// migrations stay their only source): dropped during the load, then recreated.
fn secondary_indexes(
    conn: &mut AnyConnection,
    tables: &[&str],
) -> anyhow::Result<Vec<IndexDefinition>> {
    let mut definitions = Vec::new();
    for table in tables {
        let indexes: Vec<IndexDefinition> = crate::with_backend!(conn,
            pg(c) => diesel::sql_query(
                "SELECT indexname AS name, indexdef AS definition FROM pg_indexes \
                 WHERE schemaname = current_schema() AND tablename = $1 \
                 AND indexname NOT IN (SELECT conname FROM pg_constraint)",
            )
            .bind::<diesel::sql_types::Text, _>(*table)
            .load(c),
            sqlite(c) => diesel::sql_query(
                // Autoindexes (primary keys, UNIQUE) have no SQL of their own.
                "SELECT name, sql AS definition FROM sqlite_master \
                 WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
            )
            .bind::<diesel::sql_types::Text, _>(*table)
            .load(c),
        )?;
        definitions.extend(indexes);
    }
    Ok(definitions)
}

/// Relaxed durability for the load only: on SQLite no fsync per transaction and a larger
/// cache; on PostgreSQL asynchronous commit. An interrupted load leaves a database to
/// throw away, never a real one (fill refuses a database with associations). Afterwards the
/// server's settings come back, and PostgreSQL gathers statistics for the new tables.
fn bulk_load_mode(
    conn: &mut AnyConnection,
    on: bool,
    synchronous: SqliteSynchronous,
) -> anyhow::Result<()> {
    // The connection goes back to the pool with the cache every connection gets.
    let sqlite_after = format!(
        "PRAGMA synchronous = {}; PRAGMA cache_size = -{}; PRAGMA wal_checkpoint(TRUNCATE);",
        synchronous.pragma(),
        crate::db::SQLITE_CACHE_KIB
    );
    crate::with_backend!(conn,
        pg(c) => c.batch_execute(if on { "SET synchronous_commit = off" } else { "RESET synchronous_commit; ANALYZE" }),
        sqlite(c) => c.batch_execute(if on { "PRAGMA synchronous = OFF; PRAGMA cache_size = -262144;" } else { &sqlite_after }),
    )?;
    Ok(())
}

/// The command: check the options, hash the password once, fill, and print the logins.
pub async fn run(settings: Settings, options: DemoOptions) -> anyhow::Result<()> {
    let started = Instant::now();
    let db = crate::startup::prepare_database(settings.clone(), true).await?;
    let password = options.password.clone();
    let password_settings = settings.password.clone();
    let scale = options.scale;
    let is_default_password =
        secrecy::ExposeSecret::expose_secret(&options.password) == DEFAULT_PASSWORD;
    let push_endpoint = options.push_endpoint.clone();
    let url = settings.database_url()?;
    let filling = tokio::task::spawn_blocking(move || -> anyhow::Result<DemoReport> {
        let hash = crate::auth::password::hash_password(&password_settings, &password)?;
        let conn = &mut *db.get()?;
        fill(conn, &settings, &options, &hash)
    });
    let report = tokio::select! {
        report = filling => report??,
        _ = tokio::signal::ctrl_c() => {
            // The load cannot be rolled back from here; say what is left and how to go on.
            eprintln!(
                "\nkairan demo: interrupted. The database holds part of a demo city; the next \
                 kairan command rebuilds its indexes. To start again: {}",
                unfinished::how_to_start_again(&url)
            );
            std::process::exit(130);
        }
    };
    print_report(
        &report,
        &scale,
        is_default_password,
        &push_endpoint,
        started.elapsed().as_secs_f64(),
    );
    Ok(())
}

fn print_report(
    report: &DemoReport,
    scale: &Scale,
    default_password: bool,
    push_endpoint: &str,
    seconds: f64,
) {
    let n = thousands;
    println!(
        "demo city ready in {seconds:.0} s: {} districts, {} associations, {} hans, {} households ({} on paper), {} members, {} circulars, {} reads, {} confirmations, {} survey answers, {} safety checks ({} answers)",
        n(report.districts),
        n(scale.associations),
        n(report.hans),
        n(report.households),
        n(report.paper_households),
        n(report.members),
        n(report.posts),
        n(report.reads),
        n(report.confirmations),
        n(report.survey_answers),
        n(report.safety_checks),
        n(report.safety_answers),
    );
    if report.subscriptions > 0 {
        println!(
            "{} push subscriptions point at {push_endpoint}/demo/…: a city-wide post is pushed there \
             (set KAIRAN_PUSH__ALLOW_INSECURE_ENDPOINTS=true for an http:// push service).",
            n(report.subscriptions)
        );
    }
    println!();
    if default_password {
        println!("Sign in with one of these logins and the password \"{DEFAULT_PASSWORD}\":");
    } else {
        println!("Sign in with one of these logins and the password you gave with --password:");
    }
    for login in &report.logins {
        println!("  {:<32} {:<17} {}", login.login, login.role, login.place);
    }
    println!("Every other member is mNNNNNN@demo.kairan.example with the same password.");
    println!();
    println!(
        "Start the server with `{} serve`; it prints the address of the pages and of the API documentation.",
        crate::hints::command()
    );
}

/// 144294 → "144,294".
fn thousands(value: usize) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_endpoints_stay_on_this_machine() {
        assert_eq!(
            check_push_endpoint("http://127.0.0.1:8090/").unwrap(),
            "http://127.0.0.1:8090"
        );
        assert!(check_push_endpoint("http://localhost:9/push").is_ok());
        assert!(check_push_endpoint("http://[::1]:9").is_ok());
        assert!(check_push_endpoint("https://fcm.googleapis.com/fcm/send").is_err());
        assert!(check_push_endpoint("http://10.0.0.1:8090").is_err());
        assert!(check_push_endpoint("ftp://127.0.0.1").is_err());
        assert!(check_push_endpoint("127.0.0.1:8090").is_err());
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(144_294), "144,294");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
