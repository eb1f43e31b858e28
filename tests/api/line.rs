//! LINE through the outbox, against a loopback LINE API stand-in (tests/api/line_service.rs):
//! registering an official account (its token never shown again), the webhook's signature,
//! linking by a one-time code and unlinking (both sides), a circular's multicast in batches
//! counted against the monthly quota, replies with unread circulars, the safety check's
//! quick replies answering for the household, 429/500 retried, a revoked token (401) failing
//! with a reason officers see while other channels go on, a withdrawn circular, and a kill -9
//! in the middle of a fan-out.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use kairan::db::schema::{line_accounts, push_deliveries};
use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures::{Actor, City, expect_json, str_field};
use crate::helpers::{TestApp, TestDatabase, error_code, spawn_app_with};
use crate::line_service::LineService;
use crate::pages::{Jar, csrf_of};
use crate::process::{ADMIN_LOGIN, Remote, Served, ServerEnv, Town};
use crate::push_service::{Browser, PushService};

const TOKEN: &str = "channel-token-ok";
const SECRET: &str = "channel-secret-1";
const CHANNEL: &str = "1656789012";

async fn spawn_with_line(
    customize: impl FnOnce(&mut kairan::configuration::Settings),
) -> (TestApp, LineService) {
    let line = LineService::start(TOKEN).await;
    let url = line.address.clone();
    let app = spawn_app_with(|s| {
        s.line.api_base_url = url;
        customize(s);
    })
    .await;
    (app, line)
}

fn account_path(association: &str) -> String {
    format!("/api/v1/associations/{association}/line-account")
}

async fn register(app: &TestApp, by: &Actor, association: &str, extra: Value) -> Value {
    let mut body = json!({"channel_id": CHANNEL, "channel_access_token": TOKEN,
                          "channel_secret": SECRET, "friend_url": "https://lin.ee/abcd"});
    for (key, value) in extra.as_object().unwrap() {
        body[key] = value.clone();
    }
    expect_json(
        app.send_as(
            Method::PUT,
            Some(by),
            &account_path(association),
            Some(&body),
        )
        .await,
        200,
    )
    .await
}

async fn drain_line(app: &TestApp) -> usize {
    app.line.drain().await.expect("the LINE outbox drains")
}

/// Posts a webhook body as LINE would, signed with `secret` (None: no signature header).
async fn post_webhook(app: &TestApp, body: &Value, secret: Option<&str>) -> reqwest::Response {
    let raw = body.to_string();
    let mut request = app
        .client
        .post(app.url(&format!("/api/v1/line/webhook/{CHANNEL}")))
        .header("content-type", "application/json");
    if let Some(secret) = secret {
        request = request.header(
            "x-line-signature",
            kairan::domain::line::signature(secret, raw.as_bytes()),
        );
    }
    request.body(raw).send().await.unwrap()
}

fn event(kind: &str, user: &str, extra: Value) -> Value {
    let mut event = json!({"type": kind, "mode": "active", "timestamp": 1_764_800_000_000_i64,
                           "source": {"type": "user", "userId": user},
                           "webhookEventId": format!("ev-{user}-{kind}"),
                           "deliveryContext": {"isRedelivery": false},
                           "replyToken": format!("reply-{user}")});
    for (key, value) in extra.as_object().unwrap() {
        event[key] = value.clone();
    }
    event
}

fn text_event(user: &str, text: &str) -> Value {
    event(
        "message",
        user,
        json!({"message": {"type": "text", "id": "1", "text": text}}),
    )
}

async fn send_events(app: &TestApp, events: Vec<Value>) {
    let body = json!({"destination": "Uxxxxxxxx", "events": events});
    let response = post_webhook(app, &body, Some(SECRET)).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

async fn link_state(app: &TestApp, actor: &Actor) -> Value {
    expect_json(app.get_as(actor, "/api/v1/me/line-link").await, 200).await
}

/// Links `actor` to LINE user `user` through a one-time code sent on LINE.
async fn link(app: &TestApp, actor: &Actor, user: &str) {
    let opened = expect_json(
        app.post_as(actor, "/api/v1/me/line-link/code", &json!({}))
            .await,
        200,
    )
    .await;
    let code = str_field(&opened, "code");
    // Members type it as they like: lower case, no dash.
    send_events(
        app,
        vec![text_event(user, &code.to_lowercase().replace('-', ""))],
    )
    .await;
    let state = link_state(app, actor).await;
    assert_eq!(state["linked"], true, "{state}");
    assert_eq!(state["code"], Value::Null, "the code is used up: {state}");
}

async fn publish(
    app: &TestApp,
    by: &Actor,
    association: &str,
    title: &str,
    extra: Value,
) -> String {
    let mut body = json!({"scope": {"kind": "association", "id": association},
                          "title": title, "body": "日曜日の朝8時から町内清掃を行います。"});
    for (key, value) in extra.as_object().unwrap() {
        body[key] = value.clone();
    }
    let created = expect_json(app.post_as(by, "/api/v1/posts", &body).await, 201).await;
    str_field(&created, "id")
}

fn line_rows(app: &TestApp) -> Vec<(String, i32, Option<i32>)> {
    push_deliveries::table
        .filter(push_deliveries::channel.eq("line"))
        .order(push_deliveries::next_attempt_at)
        .select((
            push_deliveries::status,
            push_deliveries::attempts,
            push_deliveries::last_status,
        ))
        .load(&mut *app.db.get().unwrap())
        .unwrap()
}

fn make_line_due(app: &TestApp) {
    let past = kairan::db::now() - chrono::Duration::minutes(10);
    diesel::update(push_deliveries::table.filter(push_deliveries::channel.eq("line")))
        .set(push_deliveries::next_attempt_at.eq(past))
        .execute(&mut *app.db.get().unwrap())
        .unwrap();
}

#[tokio::test]
async fn officers_register_an_account_whose_token_and_secret_are_never_shown_again() {
    let (app, _line) = spawn_with_line(|_| {}).await;
    let city = City::build(&app).await;
    let path = account_path(&city.association_a);
    assert_eq!(app.get_as(&city.officer_a, &path).await.status(), 404);

    let saved = register(&app, &city.officer_a, &city.association_a, json!({})).await;
    let text = saved.to_string();
    assert!(!text.contains(TOKEN) && !text.contains(SECRET), "{saved}");
    assert_eq!(saved["channel_access_token_set"], true);
    assert_eq!(saved["channel_secret_set"], true);
    assert_eq!(
        saved["webhook_path"],
        format!("/api/v1/line/webhook/{CHANNEL}")
    );
    assert_eq!(saved["quota"]["used"], 0);
    assert_eq!(saved["quota"]["limit"], 200, "line.default_monthly_quota");
    let read = expect_json(app.get_as(&city.chair_a, &path).await, 200).await;
    assert!(!read.to_string().contains(TOKEN) && !read.to_string().contains(SECRET));

    // Stored sealed: neither value is in the database as given.
    let (token, secret): (String, String) = line_accounts::table
        .select((line_accounts::access_token, line_accounts::channel_secret))
        .first(&mut *app.db.get().unwrap())
        .unwrap();
    assert!(
        !token.contains(TOKEN) && !secret.contains(SECRET),
        "{token} {secret}"
    );

    // Only the association's officers (and admins); others are refused.
    let body = json!({"channel_id": "1", "channel_access_token": "x", "channel_secret": "y"});
    for (who, status) in [
        (&city.resident_h1, 403),
        (&city.officer_b, 403),
        (&city.han_leader_h1, 403),
    ] {
        let put = app
            .send_as(Method::PUT, Some(who), &path, Some(&body))
            .await;
        assert_eq!(put.status(), status);
        assert_eq!(app.get_as(who, &path).await.status(), status);
    }
    // Another association cannot take the same channel.
    let taken = app
        .send_as(
            Method::PUT,
            Some(&city.officer_b),
            &account_path(&city.association_b),
            Some(
                &json!({"channel_id": CHANNEL, "channel_access_token": "t", "channel_secret": "s"}),
            ),
        )
        .await;
    assert_eq!(taken.status(), 409);
    let bad = app
        .send_as(
            Method::PUT,
            Some(&city.officer_a),
            &path,
            Some(&json!({"channel_id": "abc", "channel_access_token": "t", "channel_secret": "s"})),
        )
        .await;
    assert_eq!(error_code(bad).await, "invalid_field");

    // The city's account is city staff's.
    let city_body = json!({"channel_id": "2000000001", "channel_access_token": "city-token",
                           "channel_secret": "city-secret", "monthly_quota": 5000});
    let city_put = app
        .send_as(
            Method::PUT,
            Some(&city.officer_a),
            "/api/v1/city/line-account",
            Some(&city_body),
        )
        .await;
    assert_eq!(city_put.status(), 403);
    let city_saved = expect_json(
        app.send_as(
            Method::PUT,
            Some(&city.staff),
            "/api/v1/city/line-account",
            Some(&city_body),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(city_saved["quota"]["limit"], 5000);
    assert_eq!(
        app.delete_as(&city.staff, "/api/v1/city/line-account")
            .await
            .status(),
        204
    );
    assert_eq!(
        app.get_as(&city.staff, "/api/v1/city/line-account")
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn the_webhook_refuses_a_wrong_or_missing_signature_and_changes_nothing() {
    let (app, line) = spawn_with_line(|_| {}).await;
    let city = City::build(&app).await;
    register(&app, &city.officer_a, &city.association_a, json!({})).await;
    let opened = expect_json(
        app.post_as(&city.resident_h1, "/api/v1/me/line-link/code", &json!({}))
            .await,
        200,
    )
    .await;
    let code = str_field(&opened, "code");
    let body = json!({"destination": "U0", "events": [text_event("U-h1", &code)]});

    for secret in [Some("another-secret"), None] {
        let refused = post_webhook(&app, &body, secret).await;
        assert_eq!(refused.status(), 401);
        assert_eq!(error_code(refused).await, "invalid_line_signature");
    }
    // A signature over another body does not fit this one.
    let other = json!({"destination": "U0", "events": []}).to_string();
    let response = app
        .client
        .post(app.url(&format!("/api/v1/line/webhook/{CHANNEL}")))
        .header(
            "x-line-signature",
            kairan::domain::line::signature(SECRET, other.as_bytes()),
        )
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // An unknown channel is refused the same way.
    let unknown = app
        .client
        .post(app.url("/api/v1/line/webhook/999"))
        .header(
            "x-line-signature",
            kairan::domain::line::signature(SECRET, body.to_string().as_bytes()),
        )
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 401);

    let state = link_state(&app, &city.resident_h1).await;
    assert_eq!(state["linked"], false, "{state}");
    assert_eq!(
        state["code"],
        code.as_str(),
        "the code is still open: {state}"
    );
    assert!(line.requests().is_empty(), "no reply went out");

    // The same body, signed right, links.
    assert_eq!(post_webhook(&app, &body, Some(SECRET)).await.status(), 200);
    assert_eq!(link_state(&app, &city.resident_h1).await["linked"], true);
}

#[tokio::test]
async fn a_linked_member_gets_circulars_and_replies_and_unfollowing_stops_them() {
    let (app, line) = spawn_with_line(|_| {}).await;
    let city = City::build(&app).await;
    register(&app, &city.officer_a, &city.association_a, json!({})).await;

    // Before linking, `line` is not a channel they can choose.
    let prefs = "/api/v1/me/notification-preferences";
    let refused = app
        .send_as(
            Method::PUT,
            Some(&city.resident_h1),
            prefs,
            Some(&json!({"channels": ["push", "line"]})),
        )
        .await;
    assert_eq!(refused.status(), 422);
    assert_eq!(error_code(refused).await, "line_not_linked");
    let shown = expect_json(app.get_as(&city.resident_h1, prefs).await, 200).await;
    assert_eq!(shown["channels"], json!(["push", "email"]));
    // A member of another association cannot link through A's account.
    let b_member = city.officer_b.clone();
    let opened = expect_json(
        app.post_as(&b_member, "/api/v1/me/line-link/code", &json!({}))
            .await,
        409,
    )
    .await;
    assert_eq!(opened["error"], "line_not_available");

    link(&app, &city.resident_h1, "U-h1").await;
    let reply = line.replies().pop().unwrap();
    assert_eq!(reply.authorization, format!("Bearer {TOKEN}"));
    assert_eq!(reply.body["replyToken"], "reply-U-h1");
    assert!(reply.text().contains("つながりました"), "{}", reply.text());
    let shown = expect_json(app.get_as(&city.resident_h1, prefs).await, 200).await;
    assert_eq!(shown["channels"], json!(["push", "email", "line"]));
    // The dashboard counts the link, and no one else's.
    let snapshot = app
        .post_as(&city.staff, "/api/v1/stats/snapshots", &json!({}))
        .await;
    assert_eq!(snapshot.status(), 200);
    let adoption = expect_json(app.get_as(&city.staff, "/api/v1/stats/adoption").await, 200).await;
    assert_eq!(adoption["reachable_members"]["line"], 1, "{adoption}");

    let post = publish(
        &app,
        &city.officer_a,
        &city.association_a,
        "町内清掃のお知らせ",
        json!({}),
    )
    .await;
    assert_eq!(drain_line(&app).await, 1);
    let sent = line.multicasts();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].authorization, format!("Bearer {TOKEN}"));
    assert_eq!(sent[0].to(), vec!["U-h1".to_string()]);
    assert!(sent[0].retry_key.as_deref().is_some_and(|k| k.len() == 36));
    let text = sent[0].text();
    assert!(
        text.contains("【回覧】町内清掃のお知らせ") && text.contains(&format!("/posts/{post}")),
        "{text}"
    );
    let account = expect_json(
        app.get_as(&city.officer_a, &account_path(&city.association_a))
            .await,
        200,
    )
    .await;
    assert_eq!(account["quota"]["used"], 1, "{account}");
    assert_eq!(account["linked_members"], 1);
    let figures = expect_json(
        app.get_as(&city.officer_a, &format!("/api/v1/posts/{post}/deliveries"))
            .await,
        200,
    )
    .await;
    assert_eq!(figures["channels"]["line"]["sent"], 1, "{figures}");

    // Any text gets the unread circulars back, free of charge (a reply, not counted).
    send_events(&app, vec![text_event("U-h1", "新しい回覧は？")]).await;
    let reply = line.replies().pop().unwrap();
    assert!(
        reply.text().contains("町内清掃のお知らせ")
            && reply.text().contains(&format!("/posts/{post}")),
        "{}",
        reply.text()
    );
    let account = expect_json(
        app.get_as(&city.officer_a, &account_path(&city.association_a))
            .await,
        200,
    )
    .await;
    assert_eq!(account["quota"]["used"], 1);
    // Read, it is no longer listed.
    let read = app
        .post_as(
            &city.resident_h1,
            &format!("/api/v1/posts/{post}/read"),
            &json!({}),
        )
        .await;
    assert!(read.status().is_success(), "{}", read.status());
    send_events(&app, vec![text_event("U-h1", "未読は？")]).await;
    assert!(
        line.replies()
            .pop()
            .unwrap()
            .text()
            .contains("未読の回覧はありません")
    );

    // Turning LINE off in the preferences stops it; on again, it comes back.
    expect_json(
        app.send_as(
            Method::PUT,
            Some(&city.resident_h1),
            prefs,
            Some(&json!({"channels": ["push"]})),
        )
        .await,
        200,
    )
    .await;
    publish(
        &app,
        &city.officer_a,
        &city.association_a,
        "二つ目",
        json!({}),
    )
    .await;
    assert_eq!(drain_line(&app).await, 0);
    expect_json(
        app.send_as(
            Method::PUT,
            Some(&city.resident_h1),
            prefs,
            Some(&json!({"channels": ["line"]})),
        )
        .await,
        200,
    )
    .await;

    // Blocking the account on LINE (unfollow) unlinks: nothing more is sent.
    send_events(&app, vec![event("unfollow", "U-h1", json!({}))]).await;
    assert_eq!(link_state(&app, &city.resident_h1).await["linked"], false);
    publish(
        &app,
        &city.officer_a,
        &city.association_a,
        "三つ目",
        json!({}),
    )
    .await;
    assert_eq!(drain_line(&app).await, 0);
    assert_eq!(line.multicasts().len(), 1);

    // Linked again, then unlinked from the board's side.
    link(&app, &city.resident_h1, "U-h1").await;
    let unlinked = expect_json(
        app.delete_as(&city.resident_h1, "/api/v1/me/line-link")
            .await,
        200,
    )
    .await;
    assert_eq!(unlinked["linked"], false);
    publish(
        &app,
        &city.officer_a,
        &city.association_a,
        "四つ目",
        json!({}),
    )
    .await;
    assert_eq!(drain_line(&app).await, 0);
    // A used or unknown code links nothing and says so.
    send_events(&app, vec![text_event("U-h1", "ABCD-EFGH")]).await;
    assert!(line.replies().pop().unwrap().text().contains("使えません"));
    assert_eq!(link_state(&app, &city.resident_h1).await["linked"], false);
}

#[tokio::test]
async fn a_safety_check_carries_quick_replies_and_a_tap_answers_for_the_household() {
    let (app, line) = spawn_with_line(|_| {}).await;
    let city = City::build(&app).await;
    register(&app, &city.officer_a, &city.association_a, json!({})).await;
    link(&app, &city.resident_h1, "U-h1").await;
    // Safety checks go to every channel the member has, even with LINE's categories muted.
    let check = expect_json(
        app.post_as(
            &city.officer_a,
            "/api/v1/safety-checks",
            &json!({"scope": {"kind": "association", "id": city.association_a},
                    "message": "地震がありました。ご無事ですか。"}),
        )
        .await,
        201,
    )
    .await;
    let check = str_field(&check, "id");
    drain_line(&app).await;
    let sent = line
        .multicasts()
        .pop()
        .expect("the safety check went out on LINE");
    assert_eq!(sent.to(), vec!["U-h1".to_string()]);
    assert!(sent.text().contains("【安否確認】"), "{}", sent.text());
    let items = sent.body["messages"][0]["quickReply"]["items"]
        .as_array()
        .unwrap()
        .clone();
    let labels: Vec<&str> = items
        .iter()
        .map(|i| i["action"]["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["無事です", "支援が必要です"]);
    let data: Vec<String> = items
        .iter()
        .map(|i| str_field(&i["action"], "data"))
        .collect();
    assert!(data.iter().all(|d| d.contains(&check) && d.len() <= 300));

    let status = format!("/api/v1/safety-checks/{check}/status");
    let postback =
        |user: &str, data: &str| event("postback", user, json!({"postback": {"data": data}}));
    // Forged data (the answer changed) and an unlinked user answer nothing.
    let forged = data[1].replace("needs_help", "safe");
    send_events(
        &app,
        vec![postback("U-h1", &forged), postback("U-stranger", &data[0])],
    )
    .await;
    let before = expect_json(app.get_as(&city.officer_a, &status).await, 200).await;
    assert_eq!(before["answered"], 0, "{before}");

    send_events(&app, vec![postback("U-h1", &data[1])]).await;
    let after = expect_json(app.get_as(&city.officer_a, &status).await, 200).await;
    assert_eq!(
        (after["answered"].clone(), after["needs_help"].clone()),
        (json!(1), json!(1)),
        "{after}"
    );
    assert!(
        line.replies()
            .pop()
            .unwrap()
            .text()
            .contains("記録しました")
    );
    // The household changes its answer with the other button.
    send_events(&app, vec![postback("U-h1", &data[0])]).await;
    let after = expect_json(app.get_as(&city.officer_a, &status).await, 200).await;
    assert_eq!(
        (after["safe"].clone(), after["needs_help"].clone()),
        (json!(1), json!(0)),
        "{after}"
    );
}

#[tokio::test]
async fn multicasts_are_batched_counted_retried_and_a_revoked_token_fails_while_push_goes_on() {
    let (app, line) = spawn_with_line(|s| s.line.multicast_size = 2).await;
    let city = City::build(&app).await;
    register(
        &app,
        &city.officer_a,
        &city.association_a,
        json!({"monthly_quota": 6}),
    )
    .await;
    let members = [&city.resident_h1, &city.resident_h2, &city.han_leader_h1];
    for (n, member) in members.iter().enumerate() {
        link(&app, member, &format!("U-{n}")).await;
    }
    let push = PushService::start().await;
    let browser = Browser::new(&push, "ok", "h1");
    expect_json(
        app.post_as(
            &city.resident_h1,
            "/api/v1/push/subscriptions",
            &browser.subscription(),
        )
        .await,
        201,
    )
    .await;

    // Three users in batches of two: two requests. The first is throttled (429, Retry-After 7).
    line.script(&[429]);
    publish(
        &app,
        &city.officer_a,
        &city.association_a,
        "一つ目",
        json!({}),
    )
    .await;
    drain_line(&app).await;
    let sent = line.multicasts();
    assert_eq!(sent.len(), 2);
    let mut sizes: Vec<usize> = sent.iter().map(|r| r.to().len()).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [1, 2]);
    let mut rows = line_rows(&app);
    rows.sort();
    let pending: Vec<_> = rows.iter().filter(|r| r.0 == "pending").collect();
    assert!(
        !pending.is_empty() && pending.iter().all(|r| r.1 == 1 && r.2 == Some(429)),
        "{rows:?}"
    );
    let due: Vec<chrono::NaiveDateTime> = push_deliveries::table
        .filter(push_deliveries::status.eq("pending"))
        .filter(push_deliveries::channel.eq("line"))
        .select(push_deliveries::next_attempt_at)
        .load(&mut *app.db.get().unwrap())
        .unwrap();
    assert!(
        due.iter()
            .all(|at| *at >= kairan::db::now() + chrono::Duration::seconds(6)),
        "Retry-After is honoured"
    );

    // Then a 500, retried with back-off; then through. The retry sends the same retry key.
    line.script(&[500]);
    make_line_due(&app);
    drain_line(&app).await;
    assert!(
        line_rows(&app)
            .iter()
            .any(|r| r.0 == "pending" && r.2 == Some(500))
    );
    make_line_due(&app);
    drain_line(&app).await;
    assert!(
        line_rows(&app).iter().all(|r| r.0 == "done"),
        "{:?}",
        line_rows(&app)
    );
    let sent = line.multicasts();
    let retried: Vec<&str> = sent
        .iter()
        .filter(|r| r.to().len() == sent[0].to().len())
        .filter_map(|r| r.retry_key.as_deref())
        .collect();
    assert!(
        retried.windows(2).all(|w| w[0] == w[1]),
        "a retried request keeps its retry key"
    );
    let mut reached: HashMap<String, usize> = HashMap::new();
    for request in sent.iter().filter(|r| r.status == 200) {
        for user in request.to() {
            *reached.entry(user).or_default() += 1;
        }
    }
    assert_eq!(reached.len(), 3, "{reached:?}");
    let account = expect_json(
        app.get_as(&city.officer_a, &account_path(&city.association_a))
            .await,
        200,
    )
    .await;
    assert_eq!(
        account["quota"]["used"], 3,
        "only what LINE accepted counts: {account}"
    );

    // The token is revoked on LINE's side: 401 fails the deliveries, says why, and push goes on.
    line.accept_token("a-new-token");
    let post = publish(
        &app,
        &city.officer_a,
        &city.association_a,
        "二つ目",
        json!({}),
    )
    .await;
    drain_line(&app).await;
    app.push.drain().await.unwrap();
    let figures = expect_json(
        app.get_as(&city.officer_a, &format!("/api/v1/posts/{post}/deliveries"))
            .await,
        200,
    )
    .await;
    assert_eq!(figures["channels"]["line"]["failed"], 3, "{figures}");
    assert_eq!(figures["channels"]["push"]["sent"], 1, "{figures}");
    let account = expect_json(
        app.get_as(&city.officer_a, &account_path(&city.association_a))
            .await,
        200,
    )
    .await;
    assert!(
        account["refusal"].as_str().unwrap().contains("401"),
        "{account}"
    );
    assert!(account["refused_at"].is_string());
    assert_eq!(account["quota"]["used"], 3);
    // While refused, nothing more is tried; a new token clears it and sending resumes.
    let before = line.multicasts().len();
    publish(
        &app,
        &city.officer_a,
        &city.association_a,
        "三つ目",
        json!({}),
    )
    .await;
    drain_line(&app).await;
    assert_eq!(
        line.multicasts().len(),
        before,
        "no request with a refused token"
    );
    register(
        &app,
        &city.officer_a,
        &city.association_a,
        json!({"channel_access_token": "a-new-token", "monthly_quota": 6}),
    )
    .await;
    publish(
        &app,
        &city.officer_a,
        &city.association_a,
        "四つ目",
        json!({}),
    )
    .await;
    drain_line(&app).await;
    assert_eq!(line.multicasts().last().unwrap().status, 200);
    let account = expect_json(
        app.get_as(&city.officer_a, &account_path(&city.association_a))
            .await,
        200,
    )
    .await;
    assert_eq!(account["refusal"], Value::Null);
    assert_eq!(account["quota"]["used"], 6);

    // The quota is used up: nothing is sent, the deliveries fail, officers see used = limit.
    let post = publish(
        &app,
        &city.officer_a,
        &city.association_a,
        "五つ目",
        json!({}),
    )
    .await;
    let before = line.multicasts().len();
    drain_line(&app).await;
    assert_eq!(line.multicasts().len(), before);
    let figures = expect_json(
        app.get_as(&city.officer_a, &format!("/api/v1/posts/{post}/deliveries"))
            .await,
        200,
    )
    .await;
    assert_eq!(figures["channels"]["line"]["failed"], 3, "{figures}");
}

#[tokio::test]
async fn a_circular_withdrawn_before_its_line_message_went_out_cancels_it() {
    let (app, line) = spawn_with_line(|_| {}).await;
    let city = City::build(&app).await;
    register(&app, &city.officer_a, &city.association_a, json!({})).await;
    link(&app, &city.resident_h1, "U-h1").await;
    let post = publish(
        &app,
        &city.officer_a,
        &city.association_a,
        "中止になる回覧",
        json!({}),
    )
    .await;
    let withdrawn = app
        .post_as(
            &city.officer_a,
            &format!("/api/v1/posts/{post}/withdraw"),
            &json!({}),
        )
        .await;
    assert_eq!(withdrawn.status(), 204);
    assert_eq!(drain_line(&app).await, 0);
    assert!(line.multicasts().is_empty());
    let figures = expect_json(
        app.get_as(&city.officer_a, &format!("/api/v1/posts/{post}/deliveries"))
            .await,
        200,
    )
    .await;
    assert_eq!(figures["channels"]["line"]["cancelled"], 1, "{figures}");
}

#[tokio::test]
async fn a_kill_9_mid_line_fan_out_loses_no_message() {
    const MEMBERS: usize = 40;
    let database = TestDatabase::fresh();
    let line = LineService::start(TOKEN).await;
    let mut env = ServerEnv::new(database.data_dir.path(), &database.url);
    env.set("KAIRAN_PUSH__WORKER", "true");
    // Claims lapse 12 s after a kill (the shortest the settings allow with these).
    env.set("KAIRAN_PUSH__SEND_TIMEOUT_SECS", "1");
    env.set("KAIRAN_PUSH__BATCH_SIZE", "4");
    env.set("KAIRAN_PUSH__CONCURRENCY_PER_HOST", "4");
    env.set("KAIRAN_PUSH__CLAIM_SECS", "12");
    env.set("KAIRAN_LINE__API_BASE_URL", &line.address);
    env.set("KAIRAN_LINE__MULTICAST_SIZE", "2");
    env.create_admin(ADMIN_LOGIN);
    let served = Served::start(&env).await;
    let remote = Remote::new(env.address());
    let town = Town::build(&remote, MEMBERS).await;
    let body = json!({"channel_id": CHANNEL, "channel_access_token": TOKEN,
                      "channel_secret": SECRET, "monthly_quota": 100000});
    remote
        .call(
            Method::PUT,
            Some(&town.officer),
            &account_path(&town.association),
            Some(&body),
            200,
        )
        .await;
    for (n, (_, resident)) in town.residents.iter().enumerate() {
        let opened = remote
            .call(
                Method::POST,
                Some(resident),
                "/api/v1/me/line-link/code",
                None,
                200,
            )
            .await;
        let events = json!({"destination": "U0", "events": [text_event(&format!("U-{n}"), &str_field(&opened, "code"))]});
        let raw = events.to_string();
        let response = remote
            .client
            .post(format!("{}/api/v1/line/webhook/{CHANNEL}", remote.address))
            .header(
                "x-line-signature",
                kairan::domain::line::signature(SECRET, raw.as_bytes()),
            )
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    // Each multicast of two takes 150 ms: the fan-out lasts about three seconds.
    line.delay(Duration::from_millis(150));
    let post = town.publish(&remote, "断水のお知らせ").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while line.multicasts().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the LINE worker never started sending"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    served.kill9();
    let reached_before: usize = line.multicasts().iter().map(|r| r.to().len()).sum();
    assert!(
        reached_before < MEMBERS,
        "the kill must fall mid-fan-out, but {reached_before} of {MEMBERS} were sent"
    );

    let served = Served::start(&env).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let reached: std::collections::HashSet<String> = line
            .multicasts()
            .iter()
            .filter(|r| r.status == 200)
            .flat_map(|r| r.to())
            .collect();
        if reached.len() == MEMBERS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {MEMBERS} LINE users were reached after the restart",
            reached.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Every message names the circular; the outbox counts every one sent.
    assert!(
        line.multicasts()
            .iter()
            .all(|r| r.text().contains(&format!("/posts/{post}")))
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let figures = remote
            .call(
                Method::GET,
                Some(&town.officer),
                &format!("/api/v1/posts/{post}/deliveries"),
                None,
                200,
            )
            .await;
        if figures["channels"]["line"]["sent"] == MEMBERS as i64 {
            assert_eq!(figures["channels"]["line"]["failed"], 0, "{figures}");
            break;
        }
        assert!(Instant::now() < deadline, "{figures}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(served.terminate().await.success());
}

/// Signs `actor` in on the pages; returns the jar holding their session.
async fn page_session(app: &TestApp, actor: &Actor) -> Jar {
    let mut jar = Jar::default();
    let (_, body) = jar.get(app, "/login").await;
    let signed_in = jar
        .post(
            app,
            "/login",
            &[
                ("csrf", &csrf_of(&body)),
                ("login", &actor.login),
                ("password", &actor.password),
            ],
        )
        .await;
    assert_eq!(signed_in.status(), 303);
    jar
}

#[tokio::test]
async fn settings_show_the_code_and_instructions_and_unlink_with_a_button() {
    let (app, _line) = spawn_with_line(|_| {}).await;
    let city = City::build(&app).await;
    let mut jar = page_session(&app, &city.resident_h1).await;
    let (_, page) = jar.get(&app, "/settings").await;
    assert!(
        page.contains("町会のLINE公式アカウントはまだ登録されていません"),
        "{page}"
    );
    assert!(
        !page.contains("id=\"channel-line\""),
        "LINE is no choice before it is linked"
    );

    register(&app, &city.officer_a, &city.association_a, json!({})).await;
    let (_, page) = jar.get(&app, "/settings").await;
    let pressed = jar
        .post(&app, "/settings/line/code", &[("csrf", &csrf_of(&page))])
        .await;
    assert_eq!(pressed.status(), 303);
    let (_, page) = jar.get(&app, "/settings").await;
    let code = str_field(&link_state(&app, &city.resident_h1).await, "code");
    assert!(
        page.contains(&format!("<strong id=\"line-code\">{code}</strong>")),
        "{page}"
    );
    assert!(
        page.contains("次のコードをトークで送ってください（30分間有効）"),
        "{page}"
    );
    assert!(page.contains("href=\"https://lin.ee/abcd\""), "{page}");

    send_events(&app, vec![text_event("U-h1", &code)]).await;
    let (_, page) = jar.get(&app, "/settings").await;
    assert!(page.contains("LINEとつながっています"), "{page}");
    assert!(
        page.contains("id=\"channel-line\" name=\"line\" value=\"on\" checked"),
        "{page}"
    );
    let pressed = jar
        .post(&app, "/settings/line/unlink", &[("csrf", &csrf_of(&page))])
        .await;
    assert_eq!(pressed.status(), 303);
    let to = pressed.headers()["location"].to_str().unwrap().to_string();
    let (_, page) = jar.get(&app, &to).await;
    assert!(page.contains("LINEとのつながりを解除しました"), "{page}");
    assert_eq!(link_state(&app, &city.resident_h1).await["linked"], false);
}
