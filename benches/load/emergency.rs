//! The city-wide emergency: city staff publish an urgent circular to the whole city; the
//! server's push worker sends it to every subscription at a stand-in push service on
//! loopback, while thousands of members open and confirm it (inbox, read, confirm) at a
//! fixed rate. `push` is the same fan-out without that traffic.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use kairan::db::queries::outbox::DONE;
use kairan::db::schema::{members, push_deliveries, push_jobs};
use kairan::domain::MemberId;

use crate::driver::{self, Load, MakeRequest};
use crate::{Bench, Row, env_number};

/// A stand-in push service: 201 to every request, counted. It runs in the load driver's
/// process (its own actix workers) and so shares the machine's cores with the server.
pub fn loopback_push_service() -> (u16, Arc<AtomicUsize>) {
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

pub async fn run(bench: &Bench, with_traffic: bool) {
    let rate: f64 = env_number("KAIRAN_BENCH_EMERGENCY_RATE").unwrap_or(3000.0);
    let people: usize = env_number("KAIRAN_BENCH_EMERGENCY_MEMBERS").unwrap_or(3000);
    // 256 shared connections queue members behind each other in the driver, out of the
    // server's sight; the overload runs give each member a connection of their own.
    let connections: usize = env_number("KAIRAN_BENCH_EMERGENCY_CONNECTIONS").unwrap_or(256);
    let staff = bench.sign_in("city@demo.kairan.example").await;

    // Members who open and confirm: spread over the whole city; their tokens come from the
    // server's key ring rather than thousands of Argon2 sign-ins.
    let everyone: Vec<MemberId> = bench
        .query(|conn| {
            members::table
                .filter(members::household_id.is_not_null())
                .select(members::id)
                .order(members::id)
                .load(conn)
                .unwrap()
        })
        .await;
    let step = (everyone.len() / people).max(1);
    let tokens: Arc<Vec<String>> = Arc::new(
        everyone
            .iter()
            .step_by(step)
            .take(people)
            .map(|m| bench.keys.issue(m, 0).unwrap())
            .collect(),
    );

    bench.reset_peaks();
    let received_before = bench.push_received.load(Ordering::Relaxed);
    let started = Instant::now();
    let response = bench
        .client
        .post(bench.url("/api/v1/posts"))
        .bearer_auth(&staff)
        .json(&serde_json::json!({
            "scope": {"kind": "city"},
            "title": "【緊急】避難指示（金沢市全域）",
            "body": "大雨のため、市内全域に避難指示を発令しました。最寄りの避難所へ避難してください。",
            "priority": "urgent",
            "category": "disaster",
            "requires_confirmation": true,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let enqueued = started.elapsed();
    let post: serde_json::Value = response.json().await.unwrap();
    let post_id = post["id"].as_str().unwrap().to_string();

    let stop = Arc::new(AtomicBool::new(false));
    let traffic = with_traffic.then(|| {
        let (client, tokens, stop, post_id) = (
            bench.client.clone(),
            tokens.clone(),
            stop.clone(),
            post_id.clone(),
        );
        let (inbox, read, confirm) = (
            bench.urls("/api/v1/me/inbox?limit=20"),
            bench.urls(&format!("/api/v1/posts/{post_id}/read")),
            bench.urls(&format!("/api/v1/posts/{post_id}/confirm")),
        );
        // Each member opens the inbox, reads the circular, confirms it; members take the
        // instances in turn.
        let make: MakeRequest = Arc::new(move |client, n| {
            let member = n / 3;
            let token = &tokens[member % tokens.len()];
            let instance = member % inbox.len();
            match n % 3 {
                0 => client.get(&inbox[instance]),
                1 => client.post(&read[instance]),
                _ => client.post(&confirm[instance]),
            }
            .bearer_auth(token)
        });
        let load = Load {
            connections,
            rate: Some(rate),
            duration: Duration::from_secs(900),
            stop: Some(stop),
        };
        tokio::spawn(async move { driver::run(&client, &load, make).await })
    });

    let expected: i64 = {
        let post_id = post_id.clone();
        bench
            .query(move |conn| {
                push_deliveries::table
                    .inner_join(push_jobs::table)
                    .filter(push_jobs::post_id.eq(post_id))
                    .count()
                    .get_result(conn)
                    .unwrap()
            })
            .await
    };
    // Done when every delivery is recorded done (the push service's count leads that); at
    // the time-out the run reports how far it got.
    let deadline =
        started + Duration::from_secs(env_number("KAIRAN_BENCH_FAN_OUT_LIMIT_SECS").unwrap_or(600));
    let mut done = 0;
    while done < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let received = bench.push_received.load(Ordering::Relaxed) - received_before;
        if usize::try_from(expected).unwrap() > received {
            continue;
        }
        done = deliveries_done(bench, &post_id).await;
    }
    if done < expected {
        done = deliveries_done(bench, &post_id).await;
    }
    let fan_out = started.elapsed();
    // At least ten seconds of traffic, however fast the fan-out.
    if let Some(rest) = (started + Duration::from_secs(10)).checked_duration_since(Instant::now()) {
        tokio::time::sleep(rest).await;
    }
    stop.store(true, Ordering::Relaxed);
    let outcome = match traffic {
        Some(task) => Some(task.await.unwrap()),
        None => None,
    };
    let peak = bench.peak_rss_mib();
    let per_300k = fan_out.as_secs_f64() * 300_000.0 / done.max(1) as f64;
    if let Some(outcome) = outcome {
        let windows: Vec<String> = outcome
            .windows(5)
            .iter()
            .map(|(start, requests, p99, max)| {
                format!(
                    "{start}–{} s: {requests} req, p99 {p99:.1} ms, max {max:.1} ms",
                    start + 5
                )
            })
            .collect();
        println!("<!-- emergency traffic by 5 s: {} -->", windows.join("; "));
        let kinds: Vec<String> = outcome
            .first_seconds_by(10, |n| ["1 inbox", "2 read", "3 confirm"][n % 3])
            .iter()
            .map(|(kind, requests, p99, max)| {
                format!("{kind}: {requests} req, p99 {p99:.1} ms, max {max:.1} ms")
            })
            .collect();
        println!(
            "<!-- emergency's first 10 s by request: {} -->",
            kinds.join("; ")
        );
        bench.record(Row {
            scenario: format!(
                "emergency: inbox, read, confirm at {rate:.0}/s by {} members on {connections} connections",
                tokens.len()
            ),
            outcome,
            peak_rss_mib: peak,
            compare: false,
        });
    }
    println!(
        "> {} fan-out ({}): {done} of {expected} deliveries done in {:.1} s (enqueue {:.2} s), {:.0} msg/s; \
         300,000 → {:.0} s (goal ≤ 60 s: {}); server peak RSS {:.0} MiB (goal ≤ 150 MB: {})",
        if with_traffic { "emergency" } else { "push" },
        bench.backend,
        fan_out.as_secs_f64(),
        enqueued.as_secs_f64(),
        done as f64 / fan_out.as_secs_f64(),
        per_300k,
        if per_300k <= 60.0 { "met" } else { "not met" },
        peak,
        if peak * 1.048_576 <= 150.0 {
            "met"
        } else {
            "not met"
        },
    );
}

async fn deliveries_done(bench: &Bench, post_id: &str) -> i64 {
    let post_id = post_id.to_string();
    bench
        .query(move |conn| {
            push_deliveries::table
                .inner_join(push_jobs::table)
                .filter(push_jobs::post_id.eq(post_id))
                .filter(push_deliveries::status.eq(DONE))
                .count()
                .get_result(conn)
                .unwrap()
        })
        .await
}
