//! The adoption dashboard (DESIGN.md §9: city figures over a Kanazawa-size data set in
//! ≤ 50 ms): city staff asking for `/stats/adoption` over the demo city, one request at a
//! time, so the latency is the server's, not a queue's.

use std::sync::Arc;

use diesel::prelude::*;
use kairan::db::schema::{members, role_assignments};
use kairan::domain::Role;

use crate::driver::Load;
use crate::{Bench, MEASURE, get};

pub async fn run(bench: &Bench) {
    let login: String = bench
        .query(|conn| {
            role_assignments::table
                .inner_join(members::table)
                .filter(role_assignments::role.eq(Role::CityStaff))
                .select(members::login)
                .first(conn)
                .expect("the demo city has city staff")
        })
        .await;
    let token = Arc::new(bench.sign_in(&login).await);
    let url = bench.url("/api/v1/stats/adoption");
    // A month never computed is computed once, inside its first request: not measured.
    let first = bench
        .client
        .get(&url)
        .bearer_auth(token.as_str())
        .send()
        .await
        .unwrap();
    assert!(first.status().is_success(), "dashboard: {}", first.status());
    let one_at_a_time = Load {
        connections: 1,
        rate: None,
        duration: MEASURE,
        stop: None,
    };
    bench
        .measure("dashboard (1 connection)", one_at_a_time, get(url, token))
        .await;
}
