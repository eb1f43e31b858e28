//! A sign-in flood next to ordinary inbox traffic: the inbox's p99 at a fixed rate, alone and
//! while 32 connections sign in as fast as the server answers (Argon2id at the configured
//! cost). The goal: the p99 at most doubles.

use std::sync::Arc;

use diesel::prelude::*;
use kairan::db::schema::members;

use crate::driver::{self, Load, MakeRequest};
use crate::{Bench, MEASURE, PASSWORD, Row, WARM_UP, env_number, get};

pub async fn run(bench: &Bench) {
    let rate: f64 = env_number("KAIRAN_BENCH_SIGNIN_INBOX_RATE").unwrap_or(400.0);
    let paced = || Load {
        connections: 32,
        rate: Some(rate),
        duration: MEASURE,
        stop: None,
    };
    let inbox = get(
        bench.url("/api/v1/me/inbox?limit=20"),
        bench.resident_token.clone(),
    );
    let alone = bench
        .measure(
            &format!("signin: inbox at {rate:.0}/s alone"),
            paced(),
            inbox.clone(),
        )
        .await;

    let logins: Arc<Vec<String>> = Arc::new(
        bench
            .query(|conn| {
                members::table
                    .filter(members::login.like("m%@demo.kairan.example"))
                    .select(members::login)
                    .order(members::login)
                    .limit(2000)
                    .load(conn)
                    .unwrap()
            })
            .await,
    );
    let url = bench.url("/api/v1/auth/login");
    let sign_in: MakeRequest = Arc::new(move |client, n| {
        client.post(&url).json(&serde_json::json!({
            "login": logins[n % logins.len()],
            "password": PASSWORD,
        }))
    });
    let flood_load = Load {
        connections: 32,
        rate: None,
        duration: WARM_UP + MEASURE,
        stop: None,
    };
    let client = bench.client.clone();
    let flood = tokio::spawn(async move { driver::run(&client, &flood_load, sign_in).await });
    let during = bench
        .measure(
            &format!("signin: inbox at {rate:.0}/s during the flood"),
            paced(),
            inbox,
        )
        .await;
    let flood = flood.await.unwrap();
    bench.record(Row {
        scenario: "signin: the flood (32 connections)".into(),
        outcome: flood,
        peak_rss_mib: bench.server.peak_rss_mib(),
        compare: false,
    });
    println!(
        "> sign-in ({}): inbox p99 {alone:.2} ms alone, {during:.2} ms during the flood: × {:.2} (goal ≤ 2: {})",
        bench.backend,
        during / alone,
        if during <= 2.0 * alone {
            "met"
        } else {
            "not met"
        },
    );
}
