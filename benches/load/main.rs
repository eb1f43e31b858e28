//! Load driver for kairan's performance goals (DESIGN.md section 9).
//!
//! `cargo bench --bench load -- [SCENARIO…]` starts a server in this process on a fresh
//! database (SQLite, or PostgreSQL when KAIRAN_BENCH_DATABASE_URL is set), fills a populated
//! association, then drives each scenario with 64 connections for a fixed time and prints
//! throughput, latency percentiles and the ratio to the plain-JSON yardstick (/livez)
//! measured in the same run. Scenarios: livez, inbox, post, confirm. No scenario: all of
//! these. `push` (only when named) fans one association post out to
//! KAIRAN_BENCH_SUBSCRIPTIONS (default 100,000) Web Push subscriptions at a loopback push
//! service in this process and compares the rate with single-core encryption in the same run;
//! KAIRAN_BENCH_PUSH_BATCH and KAIRAN_BENCH_PUSH_CONCURRENCY override `[push]` batch_size and
//! concurrency_per_host, KAIRAN_BENCH_PUSH_WORKERS runs that many workers at once (PostgreSQL).
//! `safety` (only when named, alone) is described in safety.rs. `dashboard` (only when named,
//! alone) measures the adoption dashboard over an existing database (dashboard.rs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod dashboard;
mod safety;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Duration as Span;
use diesel::prelude::*;
use kairan::configuration::{AppEnvironment, load};
use kairan::db::models::{
    Association, Han, Household, Member, Post, PostAudience, PostRead, PushSubscription,
    RoleAssignment,
};
use kairan::db::queries::push::{DONE, Delivery};
use kairan::db::schema::{
    associations, hans, households, members, post_audiences, post_reads, posts, push_deliveries,
    push_jobs, push_subscriptions, role_assignments,
};
use kairan::db::{AnyConnection, now};
use kairan::domain::*;
use kairan::push::VapidKey;
use kairan::push::sender::WebPushSender;
use kairan::push::worker::PushWorker;
use kairan::startup::Application;

const CONNECTIONS: usize = 64;
const WARM_UP: Duration = Duration::from_secs(2);
const MEASURE: Duration = Duration::from_secs(10);
const PASSWORD: &str = "benchmark password";

struct Fixture {
    resident_login: String,
    post_id: String,
    association: AssociationId,
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
        association,
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

/// Subscribers of the fan-out: `n` members in new households of the association (two a
/// household, over its hans), one subscription each with a real browser key pair (reused
/// round-robin) and an endpoint at the loopback push service; and an officer of the
/// association, who publishes. Returns the officer's login.
fn populate_subscribers(
    conn: &mut AnyConnection,
    association: &AssociationId,
    n: usize,
    keys: &[(String, String)],
    push_port: u16,
    password_hash: &str,
) -> String {
    const CHUNK: usize = 1000;
    let t0 = now() - Span::days(30);
    let han_ids: Vec<HanId> = hans::table
        .filter(hans::association_id.eq(association))
        .select(hans::id)
        .load(conn)
        .unwrap();
    let officer_login = "officer@bench.example.jp".to_string();
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        let homes: Vec<Household> = (0..n.div_ceil(2))
            .map(|i| Household {
                id: HouseholdId::generate(),
                association_id: association.clone(),
                han_id: Some(han_ids[i % han_ids.len()].clone()),
                label: format!("購読世帯{i}"),
                paper: false,
                created_at: t0,
                updated_at: t0,
            })
            .collect();
        for chunk in homes.chunks(CHUNK) {
            kairan::with_backend!(conn,
                pg(c) => diesel::insert_into(households::table).values(chunk).execute(c),
                sqlite(c) => diesel::insert_into(households::table).values(chunk).execute(c),
            )?;
        }
        let people: Vec<Member> = (0..n)
            .map(|i| Member {
                id: MemberId::generate(),
                household_id: Some(homes[i / 2].id.clone()),
                login: format!("push{i}@bench.example.jp"),
                password_hash: password_hash.into(),
                display_name: format!("購読者{i}"),
                disabled: false,
                created_at: t0,
                updated_at: t0,
            })
            .collect();
        for chunk in people.chunks(CHUNK) {
            kairan::with_backend!(conn,
                pg(c) => diesel::insert_into(members::table).values(chunk).execute(c),
                sqlite(c) => diesel::insert_into(members::table).values(chunk).execute(c),
            )?;
        }
        let subscriptions: Vec<PushSubscription> = people
            .iter()
            .enumerate()
            .map(|(i, member)| {
                let (p256dh, auth) = &keys[i % keys.len()];
                PushSubscription {
                    id: PushSubscriptionId::generate(),
                    member_id: member.id.clone(),
                    endpoint: format!("http://127.0.0.1:{push_port}/ok/{i}"),
                    p256dh: p256dh.clone(),
                    auth: auth.clone(),
                    created_at: t0,
                }
            })
            .collect();
        for chunk in subscriptions.chunks(CHUNK) {
            kairan::with_backend!(conn,
                pg(c) => diesel::insert_into(push_subscriptions::table).values(chunk).execute(c),
                sqlite(c) => diesel::insert_into(push_subscriptions::table).values(chunk).execute(c),
            )?;
        }
        let officer = Member {
            id: MemberId::generate(),
            household_id: Some(homes[0].id.clone()),
            login: officer_login.clone(),
            password_hash: password_hash.into(),
            display_name: "役員".into(),
            disabled: false,
            created_at: t0,
            updated_at: t0,
        };
        diesel::insert_into(members::table)
            .values(&officer)
            .execute(conn)?;
        diesel::insert_into(role_assignments::table)
            .values(RoleAssignment {
                id: RoleAssignmentId::generate(),
                member_id: officer.id.clone(),
                role: Role::Officer,
                scope_id: Some(association.to_string()),
                term_year: 2026,
                granted_by: None,
                started_at: t0,
                ended_at: None,
            })
            .execute(conn)?;
        Ok(())
    })
    .unwrap();
    officer_login
}

/// A stand-in push service: 201 to every request, counted. It runs in this process (its
/// own actix workers) and so shares the machine's cores with the server and the sender.
fn loopback_push_service() -> (u16, Arc<AtomicUsize>) {
    use actix_web::{App, HttpResponse, HttpServer, web};
    async fn accept(count: web::Data<AtomicUsize>, _body: web::Bytes) -> HttpResponse {
        count.fetch_add(1, Ordering::Relaxed);
        HttpResponse::Created().finish()
    }
    let count = web::Data::new(AtomicUsize::new(0));
    let shared = count.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(shared.clone())
            .default_service(web::to(accept))
    })
    .workers(2)
    .backlog(4096)
    .max_connections(100_000)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let port = server.addrs()[0].port();
    tokio::spawn(server.disable_signals().run());
    (port, count.into_inner())
}

fn env_number<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
}

/// Browser-like subscriber keys: (p256dh, auth), base64url as a browser hands them over.
fn browser_keys(count: usize) -> Vec<(String, String)> {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    (0..count)
        .map(|_| {
            let (pair, auth) = ece::generate_keypair_and_auth_secret().unwrap();
            (
                URL_SAFE_NO_PAD.encode(pair.pub_as_raw().unwrap()),
                URL_SAFE_NO_PAD.encode(auth),
            )
        })
        .collect()
}

/// Builds (encrypts, signs with the cached VAPID signature) every delivery on this one
/// thread, the way the sender does; messages per second.
fn single_core_encryption_rate(sender: &WebPushSender, deliveries: &[Delivery]) -> f64 {
    // Warm the per-origin signature cache and the allocator first.
    for delivery in deliveries.iter().take(50) {
        sender.build(delivery).unwrap();
    }
    let started = Instant::now();
    let mut bytes = 0usize;
    for delivery in deliveries {
        let (_, message) = sender.build(delivery).unwrap();
        bytes += message.payload.map_or(0, |p| p.content.len());
    }
    let elapsed = started.elapsed();
    assert!(bytes > 0);
    deliveries.len() as f64 / elapsed.as_secs_f64()
}

struct PushRun<'a> {
    settings: &'a kairan::configuration::Settings,
    backend: &'a str,
    db: kairan::db::Db,
    worker: Arc<PushWorker>,
    client: &'a reqwest::Client,
    address: &'a str,
    association: AssociationId,
    password_hash: String,
}

async fn push_scenario(run: PushRun<'_>) {
    let n: usize = env_number("KAIRAN_BENCH_SUBSCRIPTIONS").unwrap_or(100_000);
    let encryptions: usize = env_number("KAIRAN_BENCH_ENCRYPTIONS").unwrap_or(5_000);
    let workers: usize = env_number("KAIRAN_BENCH_PUSH_WORKERS").unwrap_or(1);
    assert!(
        workers == 1 || run.backend == "postgres",
        "SQLite has one push worker (claims are not SKIP LOCKED)"
    );
    let push = &run.settings.push;
    let (push_port, received) = loopback_push_service();

    let started = Instant::now();
    let keys = tokio::task::spawn_blocking(|| browser_keys(300))
        .await
        .unwrap();
    let (db, association, hash) = (
        run.db.clone(),
        run.association.clone(),
        run.password_hash.clone(),
    );
    let officer_login = tokio::task::spawn_blocking(move || {
        populate_subscribers(
            &mut db.get().unwrap(),
            &association,
            n,
            &keys,
            push_port,
            &hash,
        )
    })
    .await
    .unwrap();
    eprintln!(
        "{n} subscriptions inserted in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let tokens: serde_json::Value = run
        .client
        .post(format!("{}/api/v1/auth/login", run.address))
        .json(&serde_json::json!({"login": officer_login, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = tokens["access_token"].as_str().unwrap().to_string();

    // Extra workers (PostgreSQL) share one sender, as they would share the per-host limit.
    let mut pool = vec![run.worker.clone()];
    if workers > 1 {
        let key = VapidKey::load(push, &run.settings.server.data_dir).unwrap();
        let sender = Arc::new(WebPushSender::new(key, push).unwrap());
        for _ in 1..workers {
            pool.push(Arc::new(PushWorker::new(
                run.db.clone(),
                sender.clone(),
                Arc::new(tokio::sync::Notify::new()),
                push,
            )));
        }
    }

    // Publish through the API: the post, its audience and N pending deliveries, in one
    // transaction; then send until nothing is due.
    let t0 = Instant::now();
    let response = run
        .client
        .post(format!("{}/api/v1/posts", run.address))
        .bearer_auth(&token)
        .json(&serde_json::json!({
            "scope": {"kind": "association", "id": run.association},
            "title": "【緊急】避難所開設のお知らせ",
            "body": "本日18時より公民館を避難所として開設します。",
            "priority": "urgent",
            "category": "disaster",
        }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let post: serde_json::Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{post}");
    let enqueued = t0.elapsed();
    let drains: Vec<_> = pool
        .iter()
        .map(|worker| {
            let worker = worker.clone();
            tokio::spawn(async move { worker.drain().await.unwrap() })
        })
        .collect();
    let mut sent = 0;
    for drain in drains {
        sent += drain.await.unwrap();
    }
    let fan_out = t0.elapsed();
    let delivering = fan_out - enqueued;

    let post_id = post["id"].as_str().unwrap().to_string();
    let db = run.db.clone();
    let (done, payload, topic): (i64, String, String) = tokio::task::spawn_blocking(move || {
        let conn = &mut db.get().unwrap();
        let (payload, topic) = push_jobs::table
            .filter(push_jobs::post_id.eq(&post_id))
            .select((push_jobs::payload, push_jobs::topic))
            .first(conn)
            .unwrap();
        let done = push_deliveries::table
            .inner_join(push_jobs::table)
            .filter(push_jobs::post_id.eq(&post_id))
            .filter(push_deliveries::status.eq(DONE))
            .count()
            .get_result(conn)
            .unwrap();
        (done, payload, topic)
    })
    .await
    .unwrap();
    let received = received.load(Ordering::Relaxed);
    assert_eq!(
        usize::try_from(done).unwrap(),
        n,
        "every delivery recorded done"
    );
    assert!(
        received >= n && sent >= n,
        "{received} received, {sent} sent"
    );

    // Single-core encryption in the same run, after the fan-out, on one thread.
    let db = run.db.clone();
    let deliveries: Vec<Delivery> = tokio::task::spawn_blocking(move || {
        push_subscriptions::table
            .select((
                push_subscriptions::id,
                push_subscriptions::endpoint,
                push_subscriptions::p256dh,
                push_subscriptions::auth,
            ))
            .limit(i64::try_from(encryptions).unwrap())
            .load::<(PushSubscriptionId, String, String, String)>(&mut db.get().unwrap())
            .unwrap()
            .into_iter()
            .map(|(subscription_id, endpoint, p256dh, auth)| Delivery {
                job_id: "bench".into(),
                subscription_id,
                attempts: 0,
                endpoint: Some(endpoint),
                p256dh,
                auth,
                payload: payload.clone(),
                topic: topic.clone(),
                urgent: true,
            })
            .collect()
    })
    .await
    .unwrap();
    let key = VapidKey::load(push, &run.settings.server.data_dir).unwrap();
    let sender = WebPushSender::new(key, push).unwrap();
    let encryption = std::thread::spawn(move || single_core_encryption_rate(&sender, &deliveries))
        .join()
        .unwrap();

    let rate = n as f64 / fan_out.as_secs_f64();
    let delivery_rate = n as f64 / delivering.as_secs_f64();
    let extrapolated = fan_out.as_secs_f64() * 300_000.0 / n as f64;
    println!();
    println!(
        "push fan-out, {}: {n} subscriptions at a loopback push service in this process \
         (it shares the cores with the server and the sender), batch_size {}, \
         concurrency_per_host {}, {workers} worker(s); single-core encryption over {encryptions} messages",
        run.backend, push.batch_size, push.concurrency_per_host
    );
    println!();
    println!(
        "| enqueue s | delivery s | fan-out s | messages/s | delivery only msg/s | 300,000 extrapolated s | ≤ 60 s | 1-core encryption msg/s | ratio |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |");
    println!(
        "| {:.2} | {:.2} | {:.2} | {:.0} | {:.0} | {:.0} | {} | {:.0} | {:.2} |",
        enqueued.as_secs_f64(),
        delivering.as_secs_f64(),
        fan_out.as_secs_f64(),
        rate,
        delivery_rate,
        extrapolated,
        if extrapolated <= 60.0 {
            "met"
        } else {
            "not met"
        },
        encryption,
        rate / encryption
    );
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
    // As `kairan`'s main does: no OpenSSL exit handler racing libpq's threads at exit.
    openssl_sys::init();
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    // Its own server process (for kill -9) and data set.
    if wanted.iter().any(|w| w == "safety") {
        return safety::run();
    }
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
        // The push scenario drives the worker itself, at http:// loopback endpoints.
        settings.push.worker = false;
        settings.push.allow_insecure_endpoints = true;
        if let Some(batch) = env_number("KAIRAN_BENCH_PUSH_BATCH") {
            settings.push.batch_size = batch;
        }
        if let Some(concurrency) = env_number("KAIRAN_BENCH_PUSH_CONCURRENCY") {
            settings.push.concurrency_per_host = concurrency;
        }
        let backend = match std::env::var("KAIRAN_BENCH_DATABASE_URL") {
            Ok(url) if !url.is_empty() => {
                settings.database.url = url;
                settings.database.max_connections = 16;
                "postgres"
            }
            _ => "sqlite",
        };
        if wanted.iter().any(|w| w == "dashboard") {
            settings.stats.worker = false;
            dashboard::run(settings, backend).await;
            return;
        }
        let app = Application::build(settings.clone()).await.unwrap();
        let address = format!("http://127.0.0.1:{}", app.port());
        let db = app.db();
        let push_worker = app.push_worker();
        tokio::spawn(app.run_until_stopped());

        let hash = kairan::auth::password::hash_password(
            &settings.password,
            &secrecy::SecretString::from(PASSWORD),
        )
        .unwrap();
        let seeded = Instant::now();
        let fixture = {
            let (db, hash) = (db.clone(), hash.clone());
            tokio::task::spawn_blocking(move || populate(&mut db.get().unwrap(), &hash))
                .await
                .unwrap()
        };
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
        if wanted.iter().any(|w| w == "push") {
            push_scenario(PushRun {
                settings: &settings,
                backend,
                db,
                worker: push_worker,
                client: &client,
                address: &address,
                association: fixture.association.clone(),
                password_hash: hash,
            })
            .await;
        }
        println!();
        println!(
            "peak resident memory of the process (server and load driver): {:.0} MiB",
            peak_rss_mib()
        );
    });
}
