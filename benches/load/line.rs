//! `line`: a city-wide circular to 100,000 members linked to the city's LINE official account
//! (KAIRAN_BENCH_LINE_MEMBERS), sent by the server's LINE worker as multicasts of 500 to a
//! stand-in Messaging API on loopback; messages per second and the server's peak memory. Only
//! when named alone, on the small city grown to that many members (not Kanazawa).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use kairan::db::queries::outbox::DONE;
use kairan::db::schema::{line_accounts, line_links, members, push_deliveries, push_jobs};

use crate::{Bench, env_number};

pub const TOKEN: &str = "bench-line-token";
const CHANNEL: &str = "1600000001";

/// A stand-in Messaging API: checks the bearer token, counts the users of each multicast,
/// answers 200. In the load driver's process, so it shares the cores with the server.
pub fn loopback_line_api() -> (u16, Arc<AtomicUsize>) {
    use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
    async fn accept(
        count: web::Data<AtomicUsize>,
        request: HttpRequest,
        body: web::Bytes,
    ) -> HttpResponse {
        let bearer = format!("Bearer {TOKEN}");
        if request
            .headers()
            .get("authorization")
            .is_none_or(|v| v.as_bytes() != bearer.as_bytes())
        {
            return HttpResponse::Unauthorized().finish();
        }
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let to = body["to"].as_array().map_or(0, Vec::len);
        if to == 0 || to > 500 {
            return HttpResponse::BadRequest().finish();
        }
        count.fetch_add(to, Ordering::Relaxed);
        HttpResponse::Ok().json(serde_json::json!({}))
    }
    let count = web::Data::new(AtomicUsize::new(0));
    let shared = count.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(shared.clone())
            .app_data(web::PayloadConfig::new(1 << 20))
            .default_service(web::to(accept))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let port = server.addrs()[0].port();
    tokio::spawn(server.disable_signals().run());
    (port, count.into_inner())
}

pub async fn run(bench: &Bench, received: Arc<AtomicUsize>) {
    let wanted: usize = env_number("KAIRAN_BENCH_LINE_MEMBERS").unwrap_or(100_000);
    let staff = bench.sign_in("city@demo.kairan.example").await;
    let response = bench
        .client
        .put(bench.url("/api/v1/city/line-account"))
        .bearer_auth(&staff)
        .json(
            &serde_json::json!({"channel_id": CHANNEL, "channel_access_token": TOKEN,
                                  "channel_secret": "bench-secret", "monthly_quota": 100_000_000}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    // The links, written directly: 100,000 members sending a code on LINE is not the subject.
    let linked = bench
        .query(move |conn| {
            let account: String = line_accounts::table
                .filter(line_accounts::channel_id.eq(CHANNEL))
                .select(line_accounts::id)
                .first(conn)
                .unwrap();
            diesel::delete(line_links::table).execute(conn).unwrap();
            let ids: Vec<String> = members::table
                .filter(members::household_id.is_not_null())
                .select(members::id)
                .order(members::id)
                .limit(i64::try_from(wanted).unwrap())
                .load(conn)
                .unwrap();
            let at = kairan::db::now();
            for (chunk_no, chunk) in ids.chunks(1000).enumerate() {
                let rows: Vec<_> = chunk
                    .iter()
                    .enumerate()
                    .map(|(n, member)| {
                        (
                            line_links::id.eq(kairan::domain::new_id()),
                            line_links::member_id.eq(member.clone()),
                            line_links::account_id.eq(account.clone()),
                            line_links::line_user_id.eq(format!("U{chunk_no:04}{n:04}")),
                            line_links::linked_at.eq(at),
                        )
                    })
                    .collect();
                let insert = diesel::insert_into(line_links::table).values(rows);
                kairan::with_backend!(&mut *conn,
                    pg(c) => insert.execute(c),
                    sqlite(c) => insert.execute(c),
                )
                .unwrap();
            }
            ids.len()
        })
        .await;

    bench.server.reset_peak();
    let before = received.load(Ordering::Relaxed);
    let started = Instant::now();
    let response = bench
        .client
        .post(bench.url("/api/v1/posts"))
        .bearer_auth(&staff)
        .json(&serde_json::json!({
            "scope": {"kind": "city"},
            "title": "ごみ収集日の変更について",
            "body": "年末年始のごみ収集日が変わります。詳しくは回覧板をご覧ください。",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let enqueued = started.elapsed();
    let post: serde_json::Value = response.json().await.unwrap();
    let post_id = post["id"].as_str().unwrap().to_string();
    let deadline =
        started + Duration::from_secs(env_number("KAIRAN_BENCH_FAN_OUT_LIMIT_SECS").unwrap_or(600));
    let mut done = 0;
    while done < linked as i64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if received.load(Ordering::Relaxed) - before < linked {
            continue;
        }
        let post_id = post_id.clone();
        done = bench
            .query(move |conn| {
                push_deliveries::table
                    .inner_join(push_jobs::table)
                    .filter(push_jobs::post_id.eq(post_id))
                    .filter(push_deliveries::channel.eq("line"))
                    .filter(push_deliveries::status.eq(DONE))
                    .count()
                    .get_result(conn)
                    .unwrap()
            })
            .await;
    }
    let fan_out = started.elapsed();
    println!(
        "> line fan-out ({}): {done} of {linked} LINE deliveries done in {:.1} s (enqueue {:.2} s), \
         {} users reached in {} multicasts of ≤ 500, {:.0} msg/s; server peak RSS {:.0} MiB",
        bench.backend,
        fan_out.as_secs_f64(),
        enqueued.as_secs_f64(),
        received.load(Ordering::Relaxed) - before,
        linked.div_ceil(500),
        done as f64 / fan_out.as_secs_f64(),
        bench.server.peak_rss_mib(),
    );
}
