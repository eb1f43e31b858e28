//! The day before an event (行事): one reminder through the outbox to its audience, less the
//! households that declined its 出欠, in each member's language, on their channels; due at
//! the configured time (the clock is the `at` the job passes); re-armed when the event moves;
//! none for a withdrawn circular; never twice, with processes racing for it and across a
//! restart of the real binary.

use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, NaiveDateTime, NaiveTime, SecondsFormat, Utc};
use kairan::db::models::MemberPreferences;
use kairan::db::now;
use kairan::db::queries::event_reminders::queue_due;
use kairan::db::queries::web::save_preferences;
use kairan::domain::{Language, MemberId, PostId, TextSize};
use reqwest::Method;
use serde_json::{Value, json};

use crate::email::{drain_mail, spawn_with_mail, verified_email};
use crate::fixtures::{Actor, City, expect_json, str_field};
use crate::helpers::{TestApp, TestDatabase, spawn_app};
use crate::process::{ADMIN_LOGIN, Remote, Served, ServerEnv, Town};
use crate::push_service::{Browser, PushService};

const SIX_PM: NaiveTime = NaiveTime::from_hms_opt(18, 0, 0).unwrap();

/// 10:00 JST `days` after today's JST day, in UTC.
fn ten_jst(days: i64) -> DateTime<Utc> {
    let today = (Utc::now() + Duration::hours(9)).date_naive();
    (today + Duration::days(days))
        .and_hms_opt(1, 0, 0)
        .unwrap()
        .and_utc()
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// 18:00 JST the day before an event at 10:00 JST `days` from today.
fn six_pm_before(days: i64) -> NaiveDateTime {
    (ten_jst(days) - Duration::hours(16)).naive_utc()
}

fn queue(app: &TestApp, at: NaiveDateTime) -> Vec<PostId> {
    queue_due(&mut app.db.get().unwrap(), at, SIX_PM).unwrap()
}

async fn drain(app: &TestApp) -> usize {
    app.push.drain().await.expect("the outbox drains")
}

fn reads_english(app: &TestApp, actor: &Actor) {
    save_preferences(
        &mut app.db.get().unwrap(),
        &MemberPreferences {
            member_id: MemberId(actor.id.clone()),
            language: Language::En,
            text_size: TextSize::Standard,
            high_contrast: false,
            updated_at: now(),
        },
    )
    .unwrap();
}

/// The clean-up of association A in `days` days at 10:00 JST, asking 出席 or 欠席.
async fn clean_up(app: &TestApp, city: &City, days: i64) -> (String, String) {
    let body = json!({
        "scope": {"kind": "association", "id": city.association_a},
        "title": "町会の清掃",
        "body": "公園を清掃します。",
        "category": "event",
        "event": {"starts_at": rfc3339(ten_jst(days)), "place": "中央公園"},
        "questions": [{"kind": "single_choice", "prompt": "出欠", "options": ["出席", "欠席"], "required": true}],
    });
    let post = expect_json(
        app.post_as(&city.officer_a, "/api/v1/posts", &body).await,
        201,
    )
    .await;
    (
        str_field(&post, "id"),
        str_field(&post["questions"][0], "id"),
    )
}

async fn answer(app: &TestApp, who: &Actor, post: &str, question: &str, choice: i64) {
    let body = json!({"answers": [{"question_id": question, "choice": choice}]});
    let path = format!("/api/v1/posts/{post}/answers");
    expect_json(
        app.send_as(Method::PUT, Some(who), &path, Some(&body))
            .await,
        200,
    )
    .await;
}

async fn subscribed(app: &TestApp, service: &PushService, who: &Actor, name: &str) -> Browser {
    let browser = Browser::new(service, "ok", name);
    expect_json(
        app.post_as(who, "/api/v1/push/subscriptions", &browser.subscription())
            .await,
        201,
    )
    .await;
    browser
}

fn payloads(service: &PushService, browser: &Browser) -> Vec<Value> {
    service
        .received_by(browser)
        .iter()
        .map(|r| browser.decrypt(&r.body))
        .collect()
}

/// A city with a push service standing in for the browsers' push services.
async fn city_with_push() -> (TestApp, City, PushService) {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    (app, city, PushService::start().await)
}

#[tokio::test]
async fn the_reminder_reaches_the_audience_once_in_their_language_less_those_who_declined() {
    let (app, city, service) = city_with_push().await;
    let coming = subscribed(&app, &service, &city.resident_h1, "coming").await;
    let declining = subscribed(&app, &service, &city.resident_h2, "declining").await;
    let silent = subscribed(&app, &service, &city.han_leader_h1, "silent").await;
    reads_english(&app, &city.han_leader_h1);

    let (post, question) = clean_up(&app, &city, 3).await;
    assert_eq!(drain(&app).await, 3, "the circular itself");
    answer(&app, &city.resident_h1, &post, &question, 0).await;
    answer(&app, &city.resident_h2, &post, &question, 1).await;

    let due = six_pm_before(3);
    assert!(
        queue(&app, due - Duration::minutes(1)).is_empty(),
        "not before 18:00"
    );
    assert_eq!(queue(&app, due), vec![PostId(post.clone())]);
    assert!(queue(&app, due + Duration::hours(1)).is_empty(), "once");
    assert_eq!(drain(&app).await, 2);

    assert_eq!(
        payloads(&service, &declining).len(),
        1,
        "declined: no reminder"
    );
    let ja = payloads(&service, &coming).pop().unwrap();
    assert_eq!(ja["type"], "event_reminder", "{ja}");
    assert_eq!(ja["post_id"], post.as_str());
    assert_eq!(ja["title"], "【行事のお知らせ】町会の清掃");
    let date = (ten_jst(3) + Duration::hours(9))
        .format("%Y-%m-%d")
        .to_string();
    assert_eq!(ja["body"], format!("日時: {date} 10:00\n場所: 中央公園"));
    let en = payloads(&service, &silent).pop().unwrap();
    assert_eq!(en["title"], "[Event reminder] 町会の清掃", "{en}");
    assert_eq!(en["body"], format!("When: {date} 10:00\nWhere: 中央公園"));

    // Moved by an hour: the reminder is armed again and names the new time.
    let moved = json!({"event": {"starts_at": rfc3339(ten_jst(3) + Duration::hours(1)), "place": "中央公園"}});
    let path = format!("/api/v1/posts/{post}");
    expect_json(app.patch_as(&city.officer_a, &path, &moved).await, 200).await;
    assert!(queue(&app, due - Duration::minutes(1)).is_empty());
    assert_eq!(queue(&app, due).len(), 1);
    assert_eq!(drain(&app).await, 2);
    let again = payloads(&service, &coming).pop().unwrap();
    assert_eq!(again["body"], format!("日時: {date} 11:00\n場所: 中央公園"));
    assert_eq!(payloads(&service, &declining).len(), 1);
}

#[tokio::test]
async fn processes_racing_for_one_reminder_queue_it_once() {
    let (app, city, service) = city_with_push().await;
    let browser = subscribed(&app, &service, &city.resident_h1, "h1").await;
    clean_up(&app, &city, 2).await;
    assert_eq!(drain(&app).await, 1);
    let due = six_pm_before(2);
    // Each racer has its own connection, as another process would.
    let racers: Vec<_> = (0..4)
        .map(|_| {
            let db = app.db.clone();
            std::thread::spawn(move || queue_due(&mut db.get().unwrap(), due, SIX_PM).unwrap())
        })
        .collect();
    let queued: usize = racers.into_iter().map(|r| r.join().unwrap().len()).sum();
    assert_eq!(queued, 1);
    assert_eq!(drain(&app).await, 1);
    assert_eq!(service.received_by(&browser).len(), 2);
}

#[tokio::test]
async fn a_withdrawn_or_past_event_gets_no_reminder_and_a_queued_one_is_cancelled() {
    let (app, city, service) = city_with_push().await;
    let browser = subscribed(&app, &service, &city.resident_h1, "h1").await;
    let (withdrawn, _) = clean_up(&app, &city, 2).await;
    let (queued, _) = clean_up(&app, &city, 3).await;
    assert_eq!(drain(&app).await, 2);
    let withdraw = |post: String| {
        let path = format!("/api/v1/posts/{post}/withdraw");
        let (app, officer) = (&app, &city.officer_a);
        async move { app.send_as(Method::POST, Some(officer), &path, None).await }
    };
    assert!(withdraw(withdrawn).await.status().is_success());
    assert!(queue(&app, six_pm_before(2)).is_empty(), "withdrawn first");
    // Queued, then withdrawn before the worker sent it.
    assert_eq!(queue(&app, six_pm_before(3)).len(), 1);
    assert!(withdraw(queued).await.status().is_success());
    assert_eq!(drain(&app).await, 0);
    // An event that has begun is not reminded of.
    assert!(queue(&app, ten_jst(3).naive_utc()).is_empty());
    assert_eq!(service.received_by(&browser).len(), 2);
}

#[tokio::test]
async fn a_reminder_mails_in_the_members_language() {
    let (app, smtp) = spawn_with_mail().await;
    let city = City::build(&app).await;
    verified_email(&app, &smtp, &city.resident_h1, "h1@example.jp").await;
    verified_email(&app, &smtp, &city.resident_h2, "h2@example.jp").await;
    reads_english(&app, &city.resident_h2);
    let (post, _) = clean_up(&app, &city, 2).await;
    assert_eq!(drain_mail(&app).await, 2, "the circular itself");

    assert_eq!(queue(&app, six_pm_before(2)).len(), 1);
    assert_eq!(drain_mail(&app).await, 2);
    let date = (ten_jst(2) + Duration::hours(9))
        .format("%Y-%m-%d")
        .to_string();
    let ja = smtp.mails_to("h1@example.jp").pop().unwrap();
    assert_eq!(ja.subject(), "【行事のお知らせ】町会の清掃");
    let body = ja.body();
    assert!(
        body.contains(&format!("日時: {date} 10:00\n場所: 中央公園")),
        "{body}"
    );
    assert!(body.contains(&format!("/posts/{post}")), "{body}");
    let en = smtp.mails_to("h2@example.jp").pop().unwrap();
    assert_eq!(en.subject(), "[Event reminder] 町会の清掃");
    assert!(
        en.body().contains(&format!("When: {date} 10:00")),
        "{}",
        en.body()
    );
}

/// Waits until the push service has received `n` notifications.
async fn until_received(service: &PushService, n: usize, env: &ServerEnv) {
    let deadline = Instant::now() + StdDuration::from_secs(60);
    while service.count() < n {
        assert!(
            Instant::now() < deadline,
            "{} of {n} notifications arrived: {}",
            service.count(),
            std::fs::read_to_string(&env.log).unwrap_or_default()
        );
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_reminder_job_sends_each_reminder_once_across_a_restart() {
    const RESIDENTS: usize = 3;
    let database = TestDatabase::fresh();
    let service = PushService::start().await;
    let mut env = ServerEnv::new(database.data_dir.path(), &database.url);
    env.set("KAIRAN_PUSH__WORKER", "true");
    env.set("KAIRAN_EVENTS__WORKER", "true");
    // Midnight: an event tomorrow is due at once, whenever the test runs.
    env.set("KAIRAN_EVENTS__REMINDER_TIME", "00:00");
    env.set("KAIRAN_EVENTS__REMINDER_INTERVAL_SECS", "1");
    env.create_admin(ADMIN_LOGIN);
    let served = Served::start(&env).await;
    let remote = Remote::new(env.address());
    let town = Town::build(&remote, RESIDENTS).await;
    let mut browsers = Vec::new();
    for (n, (_, resident)) in town.residents.iter().enumerate() {
        let browser = Browser::new(&service, "ok", &n.to_string());
        let path = "/api/v1/push/subscriptions";
        remote
            .call(
                Method::POST,
                Some(resident.as_str()),
                path,
                Some(&browser.subscription()),
                201,
            )
            .await;
        browsers.push(browser);
    }
    let body = json!({"scope": {"kind": "association", "id": town.association},
                      "title": "防災訓練", "body": "明日です。", "category": "event",
                      "event": {"starts_at": rfc3339(ten_jst(1))}});
    remote
        .call(
            Method::POST,
            Some(town.officer.as_str()),
            "/api/v1/posts",
            Some(&body),
            201,
        )
        .await;
    until_received(&service, 2 * RESIDENTS, &env).await;
    assert!(served.terminate().await.success());

    let served = Served::start(&env).await;
    // Several of the job's rounds, and a worker that would send anything queued.
    tokio::time::sleep(StdDuration::from_secs(4)).await;
    assert!(served.terminate().await.success());
    for browser in &browsers {
        let kinds: Vec<Value> = payloads(&service, browser)
            .into_iter()
            .map(|p| p["type"].clone())
            .collect();
        assert_eq!(kinds.len(), 2, "{kinds:?}");
        assert!(kinds.contains(&json!("post")) && kinds.contains(&json!("event_reminder")));
    }
}
