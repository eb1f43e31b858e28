//! `email` (only when named): 100,000 mails through the outbox to a stand-in SMTP server on
//! loopback. Members of the demo city get verified addresses (and push turned off, so only
//! mail is measured); city staff publish as many city-wide circulars as it takes to reach
//! KAIRAN_BENCH_EMAILS (100,000) mails; the server's email worker writes and sends each
//! one. Prints messages per second and the server's peak memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use kairan::db::queries::outbox::DONE;
use kairan::db::schema::{member_emails, members, muted_channels, push_deliveries, push_jobs};
use kairan::domain::{MemberId, new_id};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::{Bench, env_number};

/// A stand-in SMTP server: accepts every mail and counts it. It runs in the load driver's
/// process and shares the machine's cores with the server.
pub async fn loopback_smtp_server() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let shared = count.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(session(stream, shared.clone()));
        }
    });
    (port, count)
}

async fn session(stream: tokio::net::TcpStream, count: Arc<AtomicUsize>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let _ = write.write_all(b"220 bench ESMTP\r\n").await;
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let command = line.trim_end().to_ascii_uppercase();
        let reply: &[u8] = if command.starts_with("EHLO") || command.starts_with("HELO") {
            b"250-bench\r\n250 8BITMIME\r\n"
        } else if command == "DATA" {
            let _ = write.write_all(b"354 go ahead\r\n").await;
            loop {
                line.clear();
                if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                if line == ".\r\n" {
                    break;
                }
            }
            count.fetch_add(1, Ordering::Relaxed);
            b"250 queued\r\n"
        } else if command == "QUIT" {
            let _ = write.write_all(b"221 bye\r\n").await;
            return;
        } else {
            b"250 ok\r\n"
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}

pub async fn run(bench: &Bench) {
    let wanted: i64 = env_number("KAIRAN_BENCH_EMAILS").unwrap_or(100_000);
    let staff = bench.sign_in("city@demo.kairan.example").await;

    // Every member with a household gets a verified address and turns push off.
    let addressed: i64 = bench
        .query(|conn| {
            let everyone: Vec<MemberId> = members::table
                .filter(members::household_id.is_not_null())
                .filter(diesel::dsl::not(diesel::dsl::exists(
                    member_emails::table.filter(member_emails::member_id.eq(members::id)),
                )))
                .select(members::id)
                .load(conn)
                .unwrap();
            let at = kairan::db::now();
            conn.transaction::<_, diesel::result::Error, _>(|conn| {
                for (n, member) in everyone.iter().enumerate() {
                    diesel::insert_into(member_emails::table)
                        .values((
                            member_emails::id.eq(new_id()),
                            member_emails::member_id.eq(member),
                            member_emails::address.eq(format!("member{n}@bench.example")),
                            member_emails::verified_at.eq(Some(at)),
                            member_emails::created_at.eq(at),
                        ))
                        .execute(conn)?;
                    diesel::insert_into(muted_channels::table)
                        .values((
                            muted_channels::member_id.eq(member),
                            muted_channels::channel.eq("push"),
                        ))
                        .execute(conn)?;
                }
                Ok(())
            })
            .unwrap();
            member_emails::table.count().get_result(conn).unwrap()
        })
        .await;
    let circulars = (wanted + addressed - 1) / addressed.max(1);

    bench.server.reset_peak();
    let started = Instant::now();
    let mut posts = Vec::new();
    for n in 0..circulars {
        let response = bench
            .client
            .post(bench.url("/api/v1/posts"))
            .bearer_auth(&staff)
            .json(&serde_json::json!({
                "scope": {"kind": "city"},
                "title": format!("市からのお知らせ {n}"),
                "body": "ごみの収集日が変わります。\n詳しくは回覧板をご覧ください。",
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let post: serde_json::Value = response.json().await.unwrap();
        posts.push(post["id"].as_str().unwrap().to_string());
    }
    let enqueued = started.elapsed();
    let expected = addressed * circulars;
    let deadline = started + Duration::from_secs(3600);
    let mut done = 0;
    while done < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let posts = posts.clone();
        done = bench
            .query(move |conn| {
                push_deliveries::table
                    .inner_join(push_jobs::table)
                    .filter(push_jobs::post_id.eq_any(posts))
                    .filter(push_deliveries::channel.eq("email"))
                    .filter(push_deliveries::status.eq(DONE))
                    .count()
                    .get_result::<i64>(conn)
                    .unwrap()
            })
            .await;
    }
    let elapsed = started.elapsed();
    let received = bench.smtp_received.load(Ordering::Relaxed);
    println!(
        "> email ({}): {done} of {expected} mails done ({received} received by the SMTP stand-in) in {:.1} s \
         (publishing {circulars} circulars to {addressed} addresses {:.2} s), {:.0} messages/s; server peak RSS {:.0} MiB",
        bench.backend,
        elapsed.as_secs_f64(),
        enqueued.as_secs_f64(),
        done as f64 / elapsed.as_secs_f64(),
        bench.server.peak_rss_mib(),
    );
}
