//! The daily email digest: a member who chooses it (API and `/settings`) gets one mail a day
//! from the configured JST hour listing the circulars since the last digest, with links;
//! urgent circulars and safety checks still come at once; each day is queued once; a
//! withdrawn circular is left out, and a digest with nothing left is not sent.

use chrono::{Duration, NaiveDateTime, Utc};
use kairan::db::queries::digests::queue_due;
use reqwest::Method;
use serde_json::{Value, json};

use crate::email::{confirmed, drain_mail, link_with, press, spawn_with_mail, verified_email};
use crate::fixtures::{Actor, City, expect_json, str_field};
use crate::helpers::TestApp;
use crate::pages_officer::{signed_in, submit};
use crate::smtp_server::SmtpServer;

const HOUR: u32 = 7;

/// `hour`:`minute` JST, `days` after today's JST day, in UTC.
fn jst(days: i64, hour: u32, minute: u32) -> NaiveDateTime {
    let today = (Utc::now() + Duration::hours(9)).date_naive();
    (today + Duration::days(days))
        .and_hms_opt(hour, minute, 0)
        .unwrap()
        - Duration::hours(9)
}

fn queue(app: &TestApp, at: NaiveDateTime) -> Option<usize> {
    queue_due(&mut app.db.get().unwrap(), at, HOUR).unwrap()
}

async fn publish(app: &TestApp, city: &City, title: &str, extra: Value) -> String {
    let mut body = json!({
        "scope": {"kind": "association", "id": city.association_a},
        "title": title,
        "body": "本文です。",
    });
    for (key, value) in extra.as_object().unwrap() {
        body[key] = value.clone();
    }
    let created = expect_json(
        app.post_as(&city.officer_a, "/api/v1/posts", &body).await,
        201,
    )
    .await;
    str_field(&created, "id")
}

async fn choose(app: &TestApp, actor: &Actor, frequency: &str) -> Value {
    expect_json(
        app.send_as(
            Method::PUT,
            Some(actor),
            "/api/v1/me/notification-preferences",
            Some(&json!({"email_frequency": frequency})),
        )
        .await,
        200,
    )
    .await
}

/// A circular's delivery figures, as its officer sees them.
async fn delivery_figures(app: &TestApp, city: &City, post: &str) -> Value {
    let path = format!("/api/v1/posts/{post}/deliveries");
    expect_json(app.get_as(&city.officer_a, &path).await, 200).await
}

fn subjects(smtp: &SmtpServer, address: &str) -> Vec<String> {
    smtp.mails_to(address).iter().map(|m| m.subject()).collect()
}

#[tokio::test]
async fn a_daily_member_gets_one_digest_a_day_and_urgent_news_at_once() {
    let (app, smtp) = spawn_with_mail().await;
    let city = City::build(&app).await;
    verified_email(&app, &smtp, &city.resident_h1, "daily@example.jp").await;
    verified_email(&app, &smtp, &city.resident_h2, "each@example.jp").await;

    let preferences = choose(&app, &city.resident_h1, "daily").await;
    assert_eq!(preferences["email_frequency"], "daily", "{preferences}");
    let seen = expect_json(
        app.get_as(&city.resident_h2, "/api/v1/me/notification-preferences")
            .await,
        200,
    )
    .await;
    assert_eq!(seen["email_frequency"], "immediate", "{seen}");
    let bad = app
        .send_as(
            Method::PUT,
            Some(&city.resident_h1),
            "/api/v1/me/notification-preferences",
            Some(&json!({"email_frequency": "weekly"})),
        )
        .await;
    assert_eq!(bad.status(), 422);

    let cleaning = publish(&app, &city, "町内清掃のお知らせ", json!({})).await;
    let festival = publish(&app, &city, "夏祭りのお知らせ", json!({})).await;
    let urgent = publish(
        &app,
        &city,
        "断水のお知らせ",
        json!({"priority": "urgent", "category": "disaster"}),
    )
    .await;
    let check = app
        .post_as(
            &city.officer_a,
            "/api/v1/safety-checks",
            &json!({"scope": {"kind": "association", "id": city.association_a},
                    "message": "地震がありました。ご無事ですか。"}),
        )
        .await;
    assert_eq!(check.status(), 201);
    drain_mail(&app).await;

    // The member who takes each mail got all four; the daily one only the urgent circular
    // and the safety check (beside the verification).
    assert_eq!(smtp.mails_to("each@example.jp").len(), 1 + 4);
    let daily = subjects(&smtp, "daily@example.jp");
    assert_eq!(daily.len(), 1 + 2, "{daily:?}");
    assert!(
        daily.iter().any(|s| s.contains("断水のお知らせ")),
        "{daily:?}"
    );
    assert!(daily.iter().any(|s| s.contains("安否確認")), "{daily:?}");
    assert!(!daily.iter().any(|s| s.contains("町内清掃")), "{daily:?}");

    // The officer sees the mail waiting for a digest.
    let figures = delivery_figures(&app, &city, &cleaning).await;
    assert_eq!(figures["email_digest_waiting"], 1, "{figures}");
    assert_eq!(figures["channels"]["email"]["sent"], 1, "{figures}");

    // Not before the hour; at the hour once, however often the job looks.
    assert_eq!(queue(&app, jst(1, HOUR - 1, 59)), None);
    assert_eq!(queue(&app, jst(1, HOUR, 0)), Some(1));
    assert_eq!(queue(&app, jst(1, HOUR, 5)), None);
    assert_eq!(queue(&app, jst(1, 23, 0)), None);
    assert_eq!(drain_mail(&app).await, 1);

    let digests: Vec<_> = smtp
        .mails_to("daily@example.jp")
        .into_iter()
        .filter(|m| m.subject().contains("回覧のまとめ"))
        .collect();
    assert_eq!(digests.len(), 1);
    let digest = &digests[0];
    assert!(digest.subject().contains('2'), "{}", digest.subject());
    let body = digest.body();
    let (first, second) = (
        body.find("町内清掃のお知らせ").expect("the first circular"),
        body.find("夏祭りのお知らせ").expect("the second circular"),
    );
    assert!(first < second, "oldest first: {body}");
    assert!(body.contains(&format!("/posts/{cleaning}")), "{body}");
    assert!(body.contains(&format!("/posts/{festival}")), "{body}");
    assert!(
        !body.contains(&urgent),
        "the urgent one came at once: {body}"
    );
    assert!(digest.header("List-Unsubscribe").is_some());
    assert_eq!(smtp.mails_to("each@example.jp").len(), 1 + 4, "no digest");
    let figures = delivery_figures(&app, &city, &cleaning).await;
    assert_eq!(figures["email_digest_waiting"], 0, "{figures}");

    // The next day's digest lists only what came since; a withdrawn circular is left out,
    // and a day with nothing left sends nothing.
    let withdrawn = publish(&app, &city, "取り消される回覧", json!({})).await;
    let kept = publish(&app, &city, "資源回収のお知らせ", json!({})).await;
    let response = app
        .post_as(
            &city.officer_a,
            &format!("/api/v1/posts/{withdrawn}/withdraw"),
            &json!({}),
        )
        .await;
    assert_eq!(response.status(), 204);
    assert_eq!(queue(&app, jst(2, HOUR, 0)), Some(1));
    drain_mail(&app).await;
    let latest = smtp.mails_to("daily@example.jp").pop().unwrap();
    assert!(latest.subject().contains("回覧のまとめ"));
    let body = latest.body();
    assert!(body.contains(&format!("/posts/{kept}")), "{body}");
    assert!(!body.contains("取り消される回覧"), "{body}");
    assert!(!body.contains("町内清掃"), "already in yesterday's: {body}");

    let gone = publish(&app, &city, "すぐ取り消す回覧", json!({})).await;
    app.post_as(
        &city.officer_a,
        &format!("/api/v1/posts/{gone}/withdraw"),
        &json!({}),
    )
    .await;
    let before = smtp.mails().len();
    assert_eq!(queue(&app, jst(3, HOUR, 0)), Some(1));
    drain_mail(&app).await;
    assert_eq!(smtp.mails().len(), before, "nothing left to list");
}

#[tokio::test]
async fn the_settings_page_chooses_the_daily_digest() {
    let (app, smtp) = spawn_with_mail().await;
    let city = City::build(&app).await;
    verified_email(&app, &smtp, &city.resident_h1, "h1@example.jp").await;
    let mut jar = signed_in(&app, &city.resident_h1).await;
    let (_, page) = jar.get(&app, "/settings").await;
    assert!(page.contains("1日1回まとめて送る"), "{page}");
    assert!(
        page.contains(
            r#"id="email-frequency-immediate" name="email_frequency" value="immediate" checked"#
        ),
        "{page}"
    );

    let (status, _) = submit(
        &app,
        &mut jar,
        "/settings",
        "/settings/channels",
        &[
            ("push", "on"),
            ("email", "on"),
            ("email_frequency", "daily"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let seen = expect_json(
        app.get_as(&city.resident_h1, "/api/v1/me/notification-preferences")
            .await,
        200,
    )
    .await;
    assert_eq!(seen["email_frequency"], "daily", "{seen}");
    assert_eq!(seen["channels"], json!(["push", "email"]), "{seen}");
    let (_, page) = jar.get(&app, "/settings").await;
    assert!(
        page.contains(r#"id="email-frequency-daily" name="email_frequency" value="daily" checked"#),
        "{page}"
    );
}

#[tokio::test]
async fn processes_racing_for_a_day_queue_its_digest_once() {
    let (app, smtp) = spawn_with_mail().await;
    let city = City::build(&app).await;
    verified_email(&app, &smtp, &city.resident_h1, "daily@example.jp").await;
    choose(&app, &city.resident_h1, "daily").await;
    publish(&app, &city, "町内清掃のお知らせ", json!({})).await;

    // Eight "instances" look at the same moment, each on its own connection.
    let at = jst(1, HOUR, 0);
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let db = app.db.clone();
            std::thread::spawn(move || queue_due(&mut db.get().unwrap(), at, HOUR).unwrap())
        })
        .collect();
    let queued: Vec<usize> = racers
        .into_iter()
        .filter_map(|r| r.join().unwrap())
        .collect();
    assert_eq!(queued, vec![1], "one of them queued the day");
    drain_mail(&app).await;
    let digests = subjects(&smtp, "daily@example.jp")
        .into_iter()
        .filter(|s| s.contains("回覧のまとめ"))
        .count();
    assert_eq!(digests, 1);
}

#[tokio::test]
async fn a_digest_carries_the_signed_confirm_link_of_each_circular_that_asks_for_it() {
    let (app, smtp) = spawn_with_mail().await;
    let city = City::build(&app).await;
    let resident = &city.resident_h1;
    verified_email(&app, &smtp, resident, "daily@example.jp").await;
    choose(&app, resident, "daily").await;
    let asking = publish(
        &app,
        &city,
        "役員会の議事録",
        json!({"requires_confirmation": true}),
    )
    .await;
    let plain = publish(&app, &city, "夏祭りのお知らせ", json!({})).await;
    drain_mail(&app).await;
    assert_eq!(queue(&app, jst(1, HOUR, 0)), Some(1));
    drain_mail(&app).await;
    let digest = smtp.mails_to("daily@example.jp").pop().unwrap();
    assert!(
        digest.subject().contains("回覧のまとめ"),
        "{}",
        digest.subject()
    );

    // One confirm link, for the circular that asks, signed for this member; the same
    // sentence as the circular's own mail.
    let confirms: Vec<String> = digest
        .links()
        .into_iter()
        .filter(|l| l.contains("/links/confirm."))
        .collect();
    assert_eq!(confirms.len(), 1, "{}", digest.body());
    let link = link_with(&digest, "confirm");
    assert!(
        link.starts_with(&format!(
            "{}/links/confirm.{asking}.{}.",
            app.address, resident.id
        )),
        "{link}"
    );
    assert!(!link.contains(&plain));
    let body = digest.body();
    let line = body.find("役員会の議事録").unwrap();
    let sentence = body
        .find("「確認しました」を押してください")
        .expect("the sentence");
    assert!(
        line < sentence && sentence < body.find("夏祭りのお知らせ").unwrap(),
        "{body}"
    );

    // The GET shows the button and confirms nothing; the button confirms, as in the app.
    let opened = app.client.get(&link).send().await.unwrap();
    assert_eq!(opened.status(), 200);
    assert!(
        opened
            .text()
            .await
            .unwrap()
            .contains(">確認しました</button>")
    );
    assert!(!confirmed(&app, resident, &asking).await);
    let (pressed, _) = press(&app, &link).await;
    assert_eq!(pressed.status(), 303);
    assert!(confirmed(&app, resident, &asking).await);
    assert!(!confirmed(&app, &city.resident_h2, &asking).await);
}
