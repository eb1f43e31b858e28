//! kill -9 in the middle of an email fan-out: after a restart every member's mail arrives,
//! at least once (mails of the batch in flight, sent but not yet recorded, come twice), and
//! none is lost; the officer's figures end with every mail sent.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::helpers::TestDatabase;
use crate::process::{ADMIN_LOGIN, Remote, Served, ServerEnv, Town};
use crate::smtp_server::SmtpServer;

/// Waits until `address` received a mail and returns its first link.
async fn mailed_link(smtp: &SmtpServer, address: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(mail) = smtp.mails_to(address).pop() {
            return mail
                .links()
                .into_iter()
                .next()
                .expect("a verification link");
        }
        assert!(
            Instant::now() < deadline,
            "no verification mail to {address}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_kill_mid_email_fan_out_loses_no_mail() {
    const MEMBERS: usize = 40;
    let database = TestDatabase::fresh();
    let smtp = SmtpServer::start().await;
    let mut env = ServerEnv::new(database.data_dir.path(), &database.url);
    env.set("KAIRAN_PUSH__WORKER", "true");
    // A killed worker's claims lapse after 13 s (the least small push batches allow), and
    // the restarted worker sends them then.
    env.set("KAIRAN_PUSH__BATCH_SIZE", "4");
    env.set("KAIRAN_PUSH__CONCURRENCY_PER_HOST", "4");
    env.set("KAIRAN_PUSH__CLAIM_SECS", "13");
    env.set("KAIRAN_EMAIL__SMTP_URL", &smtp.url);
    env.set("KAIRAN_EMAIL__FROM", "kairan@example.jp");
    // Two mails in flight, batches of eight.
    env.set("KAIRAN_EMAIL__CONCURRENCY", "2");
    env.create_admin(ADMIN_LOGIN);
    let served = Served::start(&env).await;
    let remote = Remote::new(env.address());

    // Every resident sets and verifies an address through the mailed link.
    let town = Town::build(&remote, MEMBERS).await;
    let mut addresses = Vec::new();
    for (n, (_, resident)) in town.residents.iter().enumerate() {
        let address = format!("resident{n}@example.jp");
        remote
            .call(
                Method::PUT,
                Some(resident.as_str()),
                "/api/v1/me/email",
                Some(&json!({"email": address})),
                202,
            )
            .await;
        let link = mailed_link(&smtp, &address).await;
        let opened = remote.client.get(&link).send().await.unwrap();
        assert_eq!(opened.status(), 200);
        addresses.push(address);
    }
    let verification_mails = smtp.mails().len();
    assert_eq!(verification_mails, MEMBERS);

    // A slow mail server: the fan-out takes about a second, and the kill falls inside it.
    smtp.slow_down(Duration::from_millis(50));
    let post = town.publish(&remote, "断水のお知らせ").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while smtp.mails().len() == verification_mails {
        assert!(Instant::now() < deadline, "the worker never began mailing");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    served.kill9();
    let before_restart = smtp.mails().len() - verification_mails;
    assert!(
        before_restart < MEMBERS,
        "the kill must fall mid-fan-out, but {before_restart} of {MEMBERS} were mailed"
    );

    let served = Served::start(&env).await;
    let notices = |smtp: &SmtpServer| -> HashMap<String, usize> {
        let mut per_address: HashMap<String, usize> = HashMap::new();
        for mail in smtp.mails() {
            if mail.body().contains(&post) {
                *per_address.entry(mail.to.clone()).or_default() += 1;
            }
        }
        per_address
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while notices(&smtp).len() < MEMBERS {
        assert!(
            Instant::now() < deadline,
            "only {} of {MEMBERS} addresses got the circular after the restart: {}",
            notices(&smtp).len(),
            std::fs::read_to_string(&env.log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Give a duplicate, if any, time to arrive.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let per_address = notices(&smtp);
    for address in &addresses {
        assert!(
            per_address.get(address).is_some_and(|n| *n >= 1),
            "{address}"
        );
    }
    // Outcomes are recorded per batch, so only the batch in flight at the kill may come
    // twice: at most its eight mails (four per connection, two connections).
    let twice: usize = per_address.values().map(|n| n - 1).sum();
    assert!(twice <= 8, "{twice} mails were sent twice: {per_address:?}");
    println!("email restart: {before_restart} mailed before the kill, {twice} sent twice");

    let figures = remote
        .call(
            Method::GET,
            Some(town.officer.as_str()),
            &format!("/api/v1/posts/{post}/deliveries"),
            None,
            200,
        )
        .await;
    assert_eq!(
        figures["channels"]["email"]["sent"], MEMBERS as i64,
        "{figures}"
    );
    assert_eq!(figures["channels"]["email"]["pending"], 0, "{figures}");
    assert_eq!(figures["failed"], 0, "{figures}");
    served.kill9();
}
