//! kill -9 one of three instances sharing PostgreSQL while they fan a circular out and take
//! confirmations (issue 16). Needs PostgreSQL, like `instances`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use reqwest::Method;

use crate::instances::{count, instance_envs, postgres_database};
use crate::process::{ADMIN_LOGIN, Remote, Served, Town};
use crate::push_service::{Browser, PushService};

const RESIDENTS: usize = 40;
const BATCH: usize = 10;
/// At least `send_timeout_secs × batch_size / concurrency_per_host + 10 s` (configuration).
const CLAIM_SECS: &str = "16";

/// A confirmation sent to instance `first`, and to the next one whenever a connection
/// breaks (the killed instance): what a client with several addresses does. Any answer
/// other than 204 fails the test.
async fn confirm_somewhere(remotes: &[Remote], first: usize, token: &str, post: &str) {
    for attempt in 0..remotes.len() * 2 {
        let remote = &remotes[(first + attempt) % remotes.len()];
        let sent = remote
            .client
            .post(format!("{}/api/v1/posts/{post}/confirm", remote.address))
            .bearer_auth(token)
            .send()
            .await;
        match sent {
            Ok(response) => {
                assert_eq!(response.status(), 204, "{}", response.text().await.unwrap());
                return;
            }
            Err(_) => continue,
        }
    }
    panic!("no instance answered");
}

#[tokio::test]
async fn killing_one_of_three_instances_mid_fan_out_loses_no_write_and_no_delivery() {
    let Some(database) = postgres_database("killing_one_of_three_instances") else {
        return;
    };
    let service = PushService::start().await;
    let mut envs = instance_envs(&database, 3);
    for (_, env) in &mut envs {
        env.set("KAIRAN_PUSH__WORKER", "true");
        env.set("KAIRAN_PUSH__BATCH_SIZE", &BATCH.to_string());
        env.set("KAIRAN_PUSH__CONCURRENCY_PER_HOST", "2");
        env.set("KAIRAN_PUSH__SEND_TIMEOUT_SECS", "1");
        env.set("KAIRAN_PUSH__CLAIM_SECS", CLAIM_SECS);
    }
    let (a, b, c) = tokio::join!(
        Served::start(&envs[0].1),
        Served::start(&envs[1].1),
        Served::start(&envs[2].1)
    );
    envs[0].1.create_admin(ADMIN_LOGIN);
    let remotes: Vec<Remote> = envs.iter().map(|(_, e)| Remote::new(e.address())).collect();
    let town = Town::build(&remotes[0], RESIDENTS).await;
    // Published before anyone subscribes: only the second circular is pushed.
    let confirmed = town.publish(&remotes[1], "確認のお願い").await;
    let mut browsers = Vec::new();
    for (n, (_, token)) in town.residents.iter().enumerate() {
        let browser = Browser::new(&service, "slow", &n.to_string());
        remotes[n % 3]
            .call(
                Method::POST,
                Some(token),
                "/api/v1/push/subscriptions",
                Some(&browser.subscription()),
                201,
            )
            .await;
        browsers.push(browser);
    }
    let pushed = town.publish(&remotes[0], "断水のお知らせ").await;

    // Confirmations spread over the three instances and over the moment of the kill.
    let confirming: Vec<_> = town
        .residents
        .iter()
        .enumerate()
        .map(|(n, (_, token))| {
            let (remotes, token, post) = (remotes.clone(), token.clone(), confirmed.clone());
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(25 * n as u64)).await;
                confirm_somewhere(&remotes, n % 3, &token, &post).await;
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while service.count() == 0 {
        assert!(Instant::now() < deadline, "the fan-out never started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    c.kill9();
    let at_kill = service.count();
    assert!(
        at_kill < RESIDENTS,
        "the kill must fall mid-fan-out ({at_kill} sent)"
    );
    for task in confirming {
        task.await.unwrap();
    }

    // Every acknowledged confirmation is stored.
    let receipts = remotes[0]
        .call(
            Method::GET,
            Some(&town.officer),
            &format!("/api/v1/posts/{confirmed}/receipts"),
            None,
            200,
        )
        .await;
    assert_eq!(receipts["confirmed"], RESIDENTS, "{receipts}");

    // Every delivery is sent by the survivors, the killed one's claims once they lapse.
    let deadline = Instant::now() + Duration::from_secs(60);
    let endpoints = |service: &PushService| {
        let mut seen: HashMap<String, usize> = HashMap::new();
        for received in service.received() {
            *seen
                .entry(format!("{}{}", service.address, received.path))
                .or_default() += 1;
        }
        seen
    };
    while endpoints(&service).len() < RESIDENTS {
        assert!(
            Instant::now() < deadline,
            "{} of {RESIDENTS} endpoints reached",
            endpoints(&service).len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let seen = endpoints(&service);
    // Only a send the killed instance made without recording it may arrive twice.
    let twice: usize = seen.values().map(|n| n - 1).sum();
    assert!(twice <= BATCH, "{twice} duplicates");
    for browser in &browsers {
        let received = service.received_by(browser);
        assert!(!received.is_empty(), "{}", browser.endpoint);
        assert_eq!(
            browser.decrypt(&received[0].body)["post_id"],
            pushed.as_str()
        );
    }
    let unfinished = count(
        &database.url,
        "SELECT count(*) AS n FROM push_deliveries WHERE status <> 'done'",
    );
    assert_eq!(unfinished, 0);
    drop((a, b));
}
