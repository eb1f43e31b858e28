//! Load driver for kairan's performance goals (DESIGN.md section 9).
//!
//! `cargo bench --bench load -- [SCENARIO…]` starts a server in this process on a fresh
//! database (SQLite, or PostgreSQL when KAIRAN_BENCH_DATABASE_URL is set), fills a populated
//! association, then drives each scenario with 64 connections for a fixed time and prints
//! throughput, latency percentiles and the ratio to the plain-JSON yardstick (/livez)
//! measured in the same run. Scenarios: livez, inbox, post, confirm. No scenario: all.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Duration as Span;
use diesel::prelude::*;
use kairan::configuration::{AppEnvironment, load};
use kairan::db::models::{
    Association, Han, Household, Member, Post, PostAudience, PostRead, RoleAssignment,
};
use kairan::db::schema::{
    associations, hans, households, members, post_audiences, post_reads, posts, role_assignments,
};
use kairan::db::{AnyConnection, now};
use kairan::domain::*;
use kairan::startup::Application;

const CONNECTIONS: usize = 64;
const WARM_UP: Duration = Duration::from_secs(2);
const MEASURE: Duration = Duration::from_secs(10);
const PASSWORD: &str = "benchmark password";

struct Fixture {
    resident_login: String,
    post_id: String,
}

/// One district of 20 associations × 5 hans × 100 households; the member's association has
/// 2,000 posts over five years, the district 500, the city 500; the member has read most.
fn populate(conn: &mut AnyConnection, password_hash: &str) -> Fixture {
    let t0 = now() - Span::days(5 * 365);
    let district: DistrictId = kairan::db::schema::districts::table
        .select(kairan::db::schema::districts::id)
        .first(conn)
        .unwrap();
    let mut first_household = None;
    let mut first_association = None;
    let mut first_han = None;
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        for a in 0..20 {
            let association = Association {
                id: AssociationId::generate(),
                district_id: district.clone(),
                name: format!("ベンチ町会{a}"),
                name_kana: None,
                member_households: 500,
                area_households: None,
                archived: false,
                created_at: t0,
                updated_at: t0,
            };
            diesel::insert_into(associations::table)
                .values(&association)
                .execute(conn)?;
            for h in 0..5 {
                let han = Han {
                    id: HanId::generate(),
                    association_id: association.id.clone(),
                    name: format!("{h}班"),
                    created_at: t0,
                };
                diesel::insert_into(hans::table)
                    .values(&han)
                    .execute(conn)?;
                for n in 0..100 {
                    let household = Household {
                        id: HouseholdId::generate(),
                        association_id: association.id.clone(),
                        han_id: Some(han.id.clone()),
                        label: format!("世帯{a}-{h}-{n}"),
                        paper: n % 10 == 0,
                        created_at: t0,
                        updated_at: t0,
                    };
                    diesel::insert_into(households::table)
                        .values(&household)
                        .execute(conn)?;
                    if first_household.is_none() {
                        first_household = Some(household.id.clone());
                        first_han = Some(han.id.clone());
                        first_association = Some(association.id.clone());
                    }
                }
            }
        }
        Ok(())
    })
    .unwrap();
    let (household, association, han) = (
        first_household.unwrap(),
        first_association.unwrap(),
        first_han.unwrap(),
    );
    let member = Member {
        id: MemberId::generate(),
        household_id: Some(household.clone()),
        login: "resident@bench.example.jp".into(),
        password_hash: password_hash.into(),
        display_name: "住民".into(),
        disabled: false,
        created_at: t0,
        updated_at: t0,
    };
    diesel::insert_into(members::table)
        .values(&member)
        .execute(conn)
        .unwrap();
    diesel::insert_into(role_assignments::table)
        .values(RoleAssignment {
            id: RoleAssignmentId::generate(),
            member_id: member.id.clone(),
            role: Role::Resident,
            scope_id: Some(association.to_string()),
            term_year: 2026,
            granted_by: None,
            started_at: t0,
            ended_at: None,
        })
        .execute(conn)
        .unwrap();
    let mut last_post = None;
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        let scopes: Vec<(Tier, Option<String>, String, usize)> = vec![
            (
                Tier::Association,
                Some(association.to_string()),
                format!("association:{association}"),
                2000,
            ),
            (
                Tier::Association,
                Some(association.to_string()),
                format!("han:{han}"),
                300,
            ),
            (
                Tier::District,
                Some(district.to_string()),
                format!("district:{district}"),
                500,
            ),
            (Tier::City, None, "city".to_string(), 500),
        ];
        for (tier, scope_id, key, count) in scopes {
            for i in 0..count {
                let published_at = t0 + Span::minutes(i64::try_from(i).unwrap() * 1000 + 7);
                let post = Post {
                    id: PostId::generate(),
                    author_id: member.id.clone(),
                    tier,
                    scope_id: scope_id.clone(),
                    title: format!("回覧 {key} {i}"),
                    body: "本文".repeat(100),
                    category: Category::Notice,
                    priority: Priority::Normal,
                    requires_confirmation: true,
                    status: PostStatus::Published,
                    published_at: Some(published_at),
                    expires_at: None,
                    answers_until: None,
                    version: 1,
                    created_at: published_at,
                    updated_at: published_at,
                };
                diesel::insert_into(posts::table)
                    .values(&post)
                    .execute(conn)?;
                diesel::insert_into(post_audiences::table)
                    .values(PostAudience {
                        scope_key: key.clone(),
                        published_at,
                        post_id: post.id.clone(),
                        expires_at: None,
                    })
                    .execute(conn)?;
                if i % 4 != 0 {
                    diesel::insert_into(post_reads::table)
                        .values(PostRead {
                            post_id: post.id.clone(),
                            member_id: member.id.clone(),
                            household_id: household.clone(),
                            read_at: published_at,
                            confirmed_at: None,
                        })
                        .execute(conn)?;
                }
                last_post = Some(post.id.clone());
            }
        }
        Ok(())
    })
    .unwrap();
    Fixture {
        resident_login: member.login,
        post_id: last_post.unwrap().to_string(),
    }
}

struct Outcome {
    requests: usize,
    errors: usize,
    latencies_us: Vec<u64>,
    elapsed: Duration,
}

impl Outcome {
    fn throughput(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let index = ((self.latencies_us.len() - 1) as f64 * p).round() as usize;
        self.latencies_us[index] as f64 / 1000.0
    }
}

async fn drive(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Arc<String>,
) -> Outcome {
    let run = |duration: Duration| {
        let (client, url, token, method) =
            (client.clone(), url.clone(), token.clone(), method.clone());
        async move {
            let deadline = Instant::now() + duration;
            let tasks: Vec<_> = (0..CONNECTIONS)
                .map(|_| {
                    let (client, url, token, method) =
                        (client.clone(), url.clone(), token.clone(), method.clone());
                    tokio::spawn(async move {
                        let mut latencies = Vec::new();
                        let mut errors = 0;
                        while Instant::now() < deadline {
                            let started = Instant::now();
                            let response = client
                                .request(method.clone(), &url)
                                .bearer_auth(token.as_str())
                                .send()
                                .await;
                            let ok = match response {
                                Ok(r) => {
                                    let status = r.status();
                                    let _ = r.bytes().await;
                                    status.is_success()
                                }
                                Err(_) => false,
                            };
                            latencies.push(
                                u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
                            );
                            if !ok {
                                errors += 1;
                            }
                        }
                        (latencies, errors)
                    })
                })
                .collect();
            let started = Instant::now();
            let mut outcome = Outcome {
                requests: 0,
                errors: 0,
                latencies_us: Vec::new(),
                elapsed: Duration::ZERO,
            };
            for task in tasks {
                let (latencies, errors) = task.await.unwrap();
                outcome.requests += latencies.len();
                outcome.errors += errors;
                outcome.latencies_us.extend(latencies);
            }
            outcome.elapsed = started.elapsed();
            outcome.latencies_us.sort_unstable();
            outcome
        }
    };
    run(WARM_UP).await;
    run(MEASURE).await
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_string)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        // KAIRAN_BENCH_DATA_DIR keeps the database for a look afterwards (query plans).
        let temp = tempfile::tempdir().unwrap();
        let data_dir = std::env::var_os("KAIRAN_BENCH_DATA_DIR")
            .map_or_else(|| temp.path().to_path_buf(), Into::into);
        let mut settings = load(AppEnvironment::Local, Path::new("config"), false).unwrap();
        settings.server.bind = "127.0.0.1:0".into();
        settings.server.data_dir = data_dir;
        settings.log.filter = "error".into();
        let backend = match std::env::var("KAIRAN_BENCH_DATABASE_URL") {
            Ok(url) if !url.is_empty() => {
                settings.database.url = url;
                settings.database.max_connections = 16;
                "postgres"
            }
            _ => "sqlite",
        };
        let app = Application::build(settings.clone()).await.unwrap();
        let address = format!("http://127.0.0.1:{}", app.port());
        let db = app.db();
        tokio::spawn(app.run_until_stopped());

        let hash = kairan::auth::password::hash_password(
            &settings.password,
            &secrecy::SecretString::from(PASSWORD),
        )
        .unwrap();
        let seeded = Instant::now();
        let fixture = tokio::task::spawn_blocking(move || populate(&mut db.get().unwrap(), &hash))
            .await
            .unwrap();
        eprintln!("populated in {:.1} s", seeded.elapsed().as_secs_f64());

        let client = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(CONNECTIONS)
            .build()
            .unwrap();
        let tokens: serde_json::Value = client
            .post(format!("{address}/api/v1/auth/login"))
            .json(&serde_json::json!({"login": fixture.resident_login, "password": PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = Arc::new(tokens["access_token"].as_str().unwrap().to_string());

        let scenarios: Vec<(&str, reqwest::Method, String)> = vec![
            ("livez", reqwest::Method::GET, format!("{address}/livez")),
            (
                "inbox",
                reqwest::Method::GET,
                format!("{address}/api/v1/me/inbox?limit=20"),
            ),
            (
                "post",
                reqwest::Method::GET,
                format!("{address}/api/v1/posts/{}", fixture.post_id),
            ),
            (
                "confirm",
                reqwest::Method::POST,
                format!("{address}/api/v1/posts/{}/confirm", fixture.post_id),
            ),
        ];
        println!(
            "backend: {backend}, {CONNECTIONS} connections, {} s per scenario after {} s warm-up",
            MEASURE.as_secs(),
            WARM_UP.as_secs()
        );
        println!();
        println!("| scenario | req/s | p50 ms | p99 ms | max ms | errors | ratio to livez |");
        println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        let mut yardstick = None;
        for (name, method, url) in scenarios {
            if !wanted.is_empty() && name != "livez" && !wanted.iter().any(|w| w == name) {
                continue;
            }
            let outcome = drive(&client, method, url, token.clone()).await;
            let throughput = outcome.throughput();
            let base = *yardstick.get_or_insert(throughput);
            println!(
                "| {name} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {:.0} % |",
                throughput,
                outcome.percentile_ms(0.50),
                outcome.percentile_ms(0.99),
                outcome.percentile_ms(1.0),
                outcome.errors,
                100.0 * throughput / base
            );
        }
        println!();
        println!(
            "peak resident memory of the process (server and load driver): {:.0} MiB",
            peak_rss_mib()
        );
    });
}
