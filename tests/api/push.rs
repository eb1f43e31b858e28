//! Web Push end to end: the server's VAPID key, subscriptions, the outbox sent to a loopback
//! push service (headers, VAPID signature, decrypted payload), outcomes per status,
//! preferences, reminders, and a restart of the real binary mid-fan-out.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use kairan::configuration::{AppEnvironment, load};
use kairan::db::schema::push_deliveries;
use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures::{Actor, City, expect_json, str_field};
use crate::helpers::{TestApp, TestDatabase, spawn_app, spawn_app_with};
use crate::process::{ADMIN_LOGIN, Remote, Served, ServerEnv, Town};
use crate::push_service::{Browser, PushService, Received, assert_vapid};

fn configured_subject() -> String {
    let subject = load(AppEnvironment::Test, Path::new("config"), false)
        .unwrap()
        .push
        .vapid_subject;
    assert_eq!(subject, "mailto:webpush@example.jp");
    subject
}

async fn vapid_public_key(app: &TestApp) -> String {
    let body = expect_json(app.get("/api/v1/push/vapid-public-key").await, 200).await;
    str_field(&body, "public_key")
}

/// Registers the browser for `actor`; returns the subscription id.
async fn subscribe(app: &TestApp, actor: &Actor, browser: &Browser) -> String {
    let created = expect_json(
        app.post_as(actor, "/api/v1/push/subscriptions", &browser.subscription())
            .await,
        201,
    )
    .await;
    assert_eq!(created["endpoint"], browser.endpoint.as_str());
    str_field(&created, "id")
}

async fn subscription_ids(app: &TestApp, actor: &Actor) -> Vec<String> {
    let list = expect_json(app.get_as(actor, "/api/v1/push/subscriptions").await, 200).await;
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| str_field(s, "id"))
        .collect()
}

/// Publishes a post to association `association` at once; `extra` adds or overrides fields.
async fn publish(app: &TestApp, by: &Actor, association: &str, extra: Value) -> String {
    let mut body = json!({
        "scope": {"kind": "association", "id": association},
        "title": "町内清掃のお知らせ",
        "body": "日曜日の朝8時から町内清掃を行います。",
    });
    for (key, value) in extra.as_object().unwrap() {
        body[key] = value.clone();
    }
    let created = expect_json(app.post_as(by, "/api/v1/posts", &body).await, 201).await;
    assert_eq!(created["status"], "published", "{created}");
    str_field(&created, "id")
}

/// A post's push figures (the push tests send nothing on the other channels).
async fn deliveries(app: &TestApp, by: &Actor, post: &str) -> Value {
    let mut all = expect_json(
        app.get_as(by, &format!("/api/v1/posts/{post}/deliveries"))
            .await,
        200,
    )
    .await;
    let push = all["channels"]["push"].clone();
    let object = all.as_object_mut().unwrap();
    object.remove("channels");
    // Why deliveries failed is checked in email_officer.rs, the digest in email_digest.rs.
    object.remove("failures");
    assert_eq!(object.remove("email_digest_waiting"), Some(json!(0)));
    assert_eq!(object.remove("cancelled"), Some(json!(0)));
    assert_eq!(push["sent"], all["sent"], "every delivery is a push");
    all
}

fn counts(sent: i64, failed: i64, pending: i64, gone: i64) -> Value {
    json!({"sent": sent, "failed": failed, "pending": pending, "gone": gone})
}

async fn drain(app: &TestApp) -> usize {
    app.push.drain().await.expect("the outbox drains")
}

#[derive(Debug)]
struct DeliveryRow {
    status: String,
    attempts: i32,
    next_attempt_at: NaiveDateTime,
    last_status: Option<i32>,
}

/// The outbox row of one subscription (it must have exactly one).
fn delivery_row(app: &TestApp, subscription: &str) -> DeliveryRow {
    let mut rows: Vec<(String, i32, NaiveDateTime, Option<i32>)> = push_deliveries::table
        .filter(push_deliveries::subscription_id.eq(subscription))
        .select((
            push_deliveries::status,
            push_deliveries::attempts,
            push_deliveries::next_attempt_at,
            push_deliveries::last_status,
        ))
        .load(&mut *app.db.get().unwrap())
        .unwrap();
    assert_eq!(rows.len(), 1, "deliveries of {subscription}: {rows:?}");
    let (status, attempts, next_attempt_at, last_status) = rows.remove(0);
    DeliveryRow {
        status,
        attempts,
        next_attempt_at,
        last_status,
    }
}

/// Makes every delivery due now, whatever its state (a clock jump, or a retry falling due).
fn make_everything_due(app: &TestApp) {
    let past = kairan::db::now() - chrono::Duration::minutes(10);
    diesel::update(push_deliveries::table)
        .set(push_deliveries::next_attempt_at.eq(past))
        .execute(&mut *app.db.get().unwrap())
        .unwrap();
}

fn header<'a>(received: &'a Received, name: &str) -> &'a str {
    received
        .header(name)
        .unwrap_or_else(|| panic!("no {name} header on {}", received.path))
}

// ---------------------------------------------------------------------------------------
// The VAPID key

#[tokio::test]
async fn the_vapid_public_key_is_an_uncompressed_p256_point_kept_across_restarts() {
    let app = spawn_app().await;
    let key = vapid_public_key(&app).await;
    let point = URL_SAFE_NO_PAD
        .decode(&key)
        .expect("base64url without padding");
    assert_eq!(point.len(), 65);
    assert_eq!(point[0], 0x04);
    let kept = if app.database.is_postgres() {
        !app.database
            .pg_values("SELECT value FROM server_secrets WHERE name = 'vapid_private_key'")
            .is_empty()
    } else {
        app.database
            .data_dir
            .path()
            .join("vapid-private-key")
            .is_file()
    };
    assert!(kept, "the private key is kept (data folder or database)");

    // A second server on the same data folder and database reads the same key.
    let data_dir = app.database.data_dir.path().to_path_buf();
    let url = app.database.url.clone();
    let again = spawn_app_with(|s| {
        s.server.data_dir = data_dir;
        s.database.url = url;
    })
    .await;
    assert_eq!(vapid_public_key(&again).await, key);

    // Another data folder makes a key of its own.
    let other = spawn_app().await;
    assert_ne!(vapid_public_key(&other).await, key);
}

// ---------------------------------------------------------------------------------------
// Subscriptions

#[tokio::test]
async fn members_manage_only_their_own_subscriptions() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let service = PushService::start().await;
    let phone = Browser::new(&service, "ok", "h1-phone");
    let other = Browser::new(&service, "ok", "h2-phone");

    let h1 = subscribe(&app, &city.resident_h1, &phone).await;
    let h2 = subscribe(&app, &city.resident_h2, &other).await;
    assert_ne!(h1, h2);

    let list = expect_json(
        app.get_as(&city.resident_h1, "/api/v1/push/subscriptions")
            .await,
        200,
    )
    .await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["id"], h1.as_str());
    assert_eq!(items[0]["endpoint"], phone.endpoint.as_str());
    assert!(items[0]["created_at"].is_string());
    assert_eq!(
        subscription_ids(&app, &city.resident_h2).await,
        vec![h2.clone()]
    );

    // The same endpoint again is the same subscription.
    assert_eq!(subscribe(&app, &city.resident_h1, &phone).await, h1);
    assert_eq!(
        subscription_ids(&app, &city.resident_h1).await,
        vec![h1.clone()]
    );

    // Someone else's subscription is not found; one's own is deleted.
    let path = format!("/api/v1/push/subscriptions/{h2}");
    assert_eq!(app.delete_as(&city.resident_h1, &path).await.status(), 404);
    assert_eq!(
        subscription_ids(&app, &city.resident_h2).await,
        vec![h2.clone()]
    );
    let own = format!("/api/v1/push/subscriptions/{h1}");
    assert_eq!(app.delete_as(&city.resident_h1, &own).await.status(), 204);
    assert!(subscription_ids(&app, &city.resident_h1).await.is_empty());
    assert_eq!(app.delete_as(&city.resident_h1, &own).await.status(), 404);
    assert_eq!(subscription_ids(&app, &city.resident_h2).await, vec![h2]);
}

#[tokio::test]
async fn subscriptions_need_a_token() {
    let app = spawn_app().await;
    let service = PushService::start().await;
    let browser = Browser::new(&service, "ok", "anonymous");
    let response = app
        .post_json("/api/v1/push/subscriptions", &browser.subscription())
        .await;
    assert_eq!(response.status(), 401);
    assert_eq!(app.get("/api/v1/push/subscriptions").await.status(), 401);
    let response = app
        .send_as(
            Method::DELETE,
            None,
            "/api/v1/push/subscriptions/anything",
            None,
        )
        .await;
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn malformed_subscriptions_are_refused() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let service = PushService::start().await;
    let browser = Browser::new(&service, "ok", "valid");
    let valid = browser.subscription();
    let member = &city.resident_h1;

    let with = |pointer: &str, value: Value| {
        let mut body = valid.clone();
        *body.pointer_mut(pointer).unwrap() = value;
        body
    };
    let long_endpoint = format!("https://push.example.jp/{}", "a".repeat(2048));
    let compressed = {
        let mut point = vec![0x02];
        point.extend_from_slice(&[7u8; 32]);
        URL_SAFE_NO_PAD.encode(point)
    };
    let cases = [
        (
            "ftp endpoint",
            with("/endpoint", json!("ftp://push.example.jp/x")),
        ),
        (
            "endpoint over 2048 bytes",
            with("/endpoint", json!(long_endpoint)),
        ),
        (
            "endpoint without a host",
            with("/endpoint", json!("https:///x")),
        ),
        (
            "p256dh not base64url",
            with("/keys/p256dh", json!("not*base64url!")),
        ),
        (
            "p256dh compressed (33 bytes)",
            with("/keys/p256dh", json!(compressed)),
        ),
        (
            "auth of 15 bytes",
            with("/keys/auth", json!(URL_SAFE_NO_PAD.encode([1u8; 15]))),
        ),
        ("missing keys", json!({"endpoint": browser.endpoint})),
    ];
    for (case, body) in cases {
        let response = app
            .post_as(member, "/api/v1/push/subscriptions", &body)
            .await;
        assert_eq!(response.status(), 422, "{case}");
    }
    assert!(
        subscription_ids(&app, member).await.is_empty(),
        "nothing was stored"
    );
    // The unchanged body is accepted, so the cases above failed for their one fault.
    subscribe(&app, member, &browser).await;
}

#[tokio::test]
async fn http_endpoints_are_refused_unless_allowed() {
    let app = spawn_app_with(|s| s.push.allow_insecure_endpoints = false).await;
    let city = City::build(&app).await;
    let service = PushService::start().await;
    let insecure = Browser::new(&service, "ok", "insecure");
    let response = app
        .post_as(
            &city.resident_h1,
            "/api/v1/push/subscriptions",
            &insecure.subscription(),
        )
        .await;
    assert_eq!(response.status(), 422);

    let secure = Browser::with_endpoint("https://fcm.googleapis.com/fcm/send/abc".into());
    subscribe(&app, &city.resident_h1, &secure).await;
}

// ---------------------------------------------------------------------------------------
// Sending

#[tokio::test]
async fn publishing_notifies_every_subscription_of_the_audience_once() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let service = PushService::start().await;
    let public_key = vapid_public_key(&app).await;
    let subject = configured_subject();

    let audience = [
        (&city.resident_h1, Browser::new(&service, "ok", "h1-phone")),
        (&city.resident_h1, Browser::new(&service, "ok", "h1-tablet")),
        (&city.resident_h2, Browser::new(&service, "ok", "h2-phone")),
        (&city.han_leader_h1, Browser::new(&service, "ok", "leader")),
    ];
    for (member, browser) in &audience {
        subscribe(&app, member, browser).await;
    }
    let outsider = Browser::new(&service, "ok", "b-resident");
    subscribe(&app, &city.district_officer, &outsider).await;

    let post = publish(
        &app,
        &city.officer_a,
        &city.association_a,
        json!({"title": "夏祭りのご案内", "category": "event"}),
    )
    .await;
    assert_eq!(service.count(), 0, "nothing is sent on the request path");
    assert_eq!(
        deliveries(&app, &city.officer_a, &post).await,
        counts(0, 0, 4, 0)
    );
    assert_eq!(drain(&app).await, 4);

    for (_, browser) in &audience {
        let received = service.received_by(browser);
        assert_eq!(received.len(), 1, "{}", browser.endpoint);
        let request = &received[0];
        assert_vapid(request, &public_key, &service.address, &subject);
        assert_eq!(header(request, "content-encoding"), "aes128gcm");
        assert_eq!(header(request, "ttl"), "86400");
        assert_eq!(header(request, "urgency"), "normal");
        let topic = header(request, "topic");
        assert!(
            !topic.is_empty()
                && topic.len() <= 32
                && topic
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "topic {topic}"
        );
        let payload = browser.decrypt(&request.body);
        assert_eq!(payload["type"], "post", "{payload}");
        assert_eq!(payload["post_id"], post.as_str(), "{payload}");
        assert_eq!(payload["title"], "夏祭りのご案内", "{payload}");
        assert_eq!(payload["priority"], "normal", "{payload}");
        assert!(
            payload.get("body").is_none(),
            "the payload stays small: {payload}"
        );
    }
    assert!(service.received_by(&outsider).is_empty());
    assert_eq!(service.count(), 4);

    assert_eq!(
        deliveries(&app, &city.officer_a, &post).await,
        counts(4, 0, 0, 0)
    );
    let response = app
        .get_as(
            &city.resident_h1,
            &format!("/api/v1/posts/{post}/deliveries"),
        )
        .await;
    assert_eq!(response.status(), 404);

    // Done deliveries are never sent again, not even when their time comes round again.
    assert_eq!(drain(&app).await, 0);
    make_everything_due(&app);
    assert_eq!(drain(&app).await, 0);
    assert_eq!(service.count(), 4);

    // An urgent post: shorter TTL, high urgency.
    let urgent = publish(
        &app,
        &city.officer_a,
        &city.association_a,
        json!({"title": "避難指示", "category": "disaster", "priority": "urgent"}),
    )
    .await;
    assert_eq!(drain(&app).await, 4);
    for (_, browser) in &audience {
        let received = service.received_by(browser);
        assert_eq!(received.len(), 2, "{}", browser.endpoint);
        let request = &received[1];
        assert_vapid(request, &public_key, &service.address, &subject);
        assert_eq!(header(request, "content-encoding"), "aes128gcm");
        assert_eq!(header(request, "ttl"), "21600");
        assert_eq!(header(request, "urgency"), "high");
        assert_ne!(
            header(request, "topic"),
            header(&received[0], "topic"),
            "each post has its own topic"
        );
        let payload = browser.decrypt(&request.body);
        assert_eq!(payload["post_id"], urgent.as_str());
        assert_eq!(payload["title"], "避難指示");
        assert_eq!(payload["priority"], "urgent");
    }
    assert!(service.received_by(&outsider).is_empty());
    assert_eq!(
        deliveries(&app, &city.officer_a, &urgent).await,
        counts(4, 0, 0, 0)
    );
}

#[tokio::test]
async fn gone_endpoints_lose_their_subscription() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let service = PushService::start().await;
    let not_found = Browser::new(&service, "gone404", "h1");
    let gone = Browser::new(&service, "gone410", "h2");
    let fine = Browser::new(&service, "ok", "leader");
    subscribe(&app, &city.resident_h1, &not_found).await;
    subscribe(&app, &city.resident_h2, &gone).await;
    let kept = subscribe(&app, &city.han_leader_h1, &fine).await;

    let post = publish(&app, &city.officer_a, &city.association_a, json!({})).await;
    assert_eq!(drain(&app).await, 3);
    assert_eq!(service.received_by(&not_found).len(), 1);
    assert_eq!(service.received_by(&gone).len(), 1);
    assert!(subscription_ids(&app, &city.resident_h1).await.is_empty());
    assert!(subscription_ids(&app, &city.resident_h2).await.is_empty());
    assert_eq!(
        subscription_ids(&app, &city.han_leader_h1).await,
        vec![kept]
    );
    assert_eq!(
        deliveries(&app, &city.officer_a, &post).await,
        counts(1, 0, 0, 2)
    );

    // Later posts no longer go to them.
    publish(&app, &city.officer_a, &city.association_a, json!({})).await;
    make_everything_due(&app);
    assert_eq!(drain(&app).await, 1);
    assert_eq!(service.received_by(&not_found).len(), 1);
    assert_eq!(service.received_by(&gone).len(), 1);
    assert_eq!(service.received_by(&fine).len(), 2);
}

#[tokio::test]
async fn a_server_error_keeps_the_subscription_and_schedules_a_retry() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let service = PushService::start().await;
    let failing = Browser::new(&service, "error", "h1");
    let id = subscribe(&app, &city.resident_h1, &failing).await;

    let post = publish(&app, &city.officer_a, &city.association_a, json!({})).await;
    assert_eq!(drain(&app).await, 1);
    assert_eq!(service.received_by(&failing).len(), 1);
    assert_eq!(
        subscription_ids(&app, &city.resident_h1).await,
        vec![id.clone()]
    );
    assert_eq!(
        deliveries(&app, &city.officer_a, &post).await,
        counts(0, 0, 1, 0)
    );
    let row = delivery_row(&app, &id);
    assert_eq!(row.status, "pending");
    assert_eq!(row.attempts, 1);
    assert_eq!(row.last_status, Some(500));
    assert!(
        row.next_attempt_at > kairan::db::now(),
        "the retry waits: {row:?}"
    );

    // Not due yet: a drain now sends nothing.
    assert_eq!(drain(&app).await, 0);
    assert_eq!(service.received_by(&failing).len(), 1);
}

#[tokio::test]
async fn too_many_requests_honours_retry_after() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let service = PushService::start().await;
    let busy = Browser::new(&service, "busy", "h1");
    let id = subscribe(&app, &city.resident_h1, &busy).await;

    let post = publish(&app, &city.officer_a, &city.association_a, json!({})).await;
    assert_eq!(drain(&app).await, 1);
    assert_eq!(service.received_by(&busy).len(), 1);
    assert_eq!(
        deliveries(&app, &city.officer_a, &post).await,
        counts(0, 0, 1, 0)
    );
    assert_eq!(
        subscription_ids(&app, &city.resident_h1).await,
        vec![id.clone()]
    );
    let row = delivery_row(&app, &id);
    assert_eq!(row.status, "pending");
    assert_eq!(row.last_status, Some(429));
    let ahead = row.next_attempt_at - kairan::db::now();
    assert!(
        ahead >= chrono::Duration::seconds(115),
        "Retry-After: 120 is honoured, but the retry is {}s ahead",
        ahead.num_seconds()
    );
    assert_eq!(drain(&app).await, 0);
}

#[tokio::test]
async fn a_delivery_fails_after_max_attempts_and_finished_ones_are_never_resent() {
    let app = spawn_app_with(|s| s.push.max_attempts = 2).await;
    let city = City::build(&app).await;
    let service = PushService::start().await;
    let failing = Browser::new(&service, "error", "h1");
    let fine = Browser::new(&service, "ok", "h2");
    let failing_id = subscribe(&app, &city.resident_h1, &failing).await;
    let fine_id = subscribe(&app, &city.resident_h2, &fine).await;

    let post = publish(&app, &city.officer_a, &city.association_a, json!({})).await;
    assert_eq!(drain(&app).await, 2);
    assert_eq!(
        deliveries(&app, &city.officer_a, &post).await,
        counts(1, 0, 1, 0)
    );
    assert_eq!(delivery_row(&app, &failing_id).attempts, 1);

    make_everything_due(&app);
    assert_eq!(
        drain(&app).await,
        1,
        "only the pending delivery is sent again"
    );
    assert_eq!(service.received_by(&failing).len(), 2);
    assert_eq!(service.received_by(&fine).len(), 1);
    let row = delivery_row(&app, &failing_id);
    assert_eq!(row.status, "failed", "{row:?}");
    assert_eq!(row.attempts, 2);
    assert_eq!(row.last_status, Some(500));
    assert_eq!(delivery_row(&app, &fine_id).status, "done");
    assert_eq!(
        deliveries(&app, &city.officer_a, &post).await,
        counts(1, 1, 0, 0)
    );
    // A failure is the push service's, not the browser's: the subscription stays.
    assert_eq!(
        subscription_ids(&app, &city.resident_h1).await,
        vec![failing_id]
    );

    make_everything_due(&app);
    assert_eq!(drain(&app).await, 0);
    assert_eq!(service.received_by(&failing).len(), 2);
    assert_eq!(service.received_by(&fine).len(), 1);
}

// ---------------------------------------------------------------------------------------
// Preferences and reminders

#[tokio::test]
async fn muted_categories_are_not_notified_unless_urgent() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let service = PushService::start().await;
    let muter = Browser::new(&service, "ok", "h1");
    let listener = Browser::new(&service, "ok", "h2");
    subscribe(&app, &city.resident_h1, &muter).await;
    subscribe(&app, &city.resident_h2, &listener).await;

    let path = "/api/v1/me/notification-preferences";
    let initial = expect_json(app.get_as(&city.resident_h1, path).await, 200).await;
    assert_eq!(
        initial,
        json!({"muted_categories": [], "channels": ["push", "email"],
               "email_frequency": "immediate"})
    );
    let set = expect_json(
        app.send_as(
            Method::PUT,
            Some(&city.resident_h1),
            path,
            Some(&json!({"muted_categories": ["event"]})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(set["muted_categories"], json!(["event"]));
    let read = expect_json(app.get_as(&city.resident_h1, path).await, 200).await;
    assert_eq!(read["muted_categories"], json!(["event"]));
    let others = expect_json(app.get_as(&city.resident_h2, path).await, 200).await;
    assert_eq!(others["muted_categories"], json!([]));

    let unknown = app
        .send_as(
            Method::PUT,
            Some(&city.resident_h1),
            path,
            Some(&json!({"muted_categories": ["weather"]})),
        )
        .await;
    assert_eq!(unknown.status(), 422);
    let read = expect_json(app.get_as(&city.resident_h1, path).await, 200).await;
    assert_eq!(read["muted_categories"], json!(["event"]));

    // A normal event post: only the member who did not mute events hears of it.
    publish(
        &app,
        &city.officer_a,
        &city.association_a,
        json!({"category": "event"}),
    )
    .await;
    assert_eq!(drain(&app).await, 1);
    assert!(service.received_by(&muter).is_empty());
    assert_eq!(service.received_by(&listener).len(), 1);

    // Another category still notifies.
    publish(
        &app,
        &city.officer_a,
        &city.association_a,
        json!({"category": "garbage"}),
    )
    .await;
    assert_eq!(drain(&app).await, 2);
    assert_eq!(service.received_by(&muter).len(), 1);

    // An urgent event post always notifies.
    let urgent = publish(
        &app,
        &city.officer_a,
        &city.association_a,
        json!({"category": "event", "priority": "urgent"}),
    )
    .await;
    assert_eq!(drain(&app).await, 2);
    let received = service.received_by(&muter);
    assert_eq!(received.len(), 2);
    assert_eq!(muter.decrypt(&received[1].body)["post_id"], urgent.as_str());
    assert_eq!(service.received_by(&listener).len(), 3);

    // Unmuting again.
    expect_json(
        app.send_as(
            Method::PUT,
            Some(&city.resident_h1),
            path,
            Some(&json!({"muted_categories": []})),
        )
        .await,
        200,
    )
    .await;
    publish(
        &app,
        &city.officer_a,
        &city.association_a,
        json!({"category": "event"}),
    )
    .await;
    assert_eq!(drain(&app).await, 2);
    assert_eq!(service.received_by(&muter).len(), 3);
}

#[tokio::test]
async fn reminders_go_only_to_households_that_have_not_confirmed() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let service = PushService::start().await;
    let h1 = Browser::new(&service, "ok", "h1");
    let h2 = Browser::new(&service, "ok", "h2");
    subscribe(&app, &city.resident_h1, &h1).await;
    subscribe(&app, &city.resident_h2, &h2).await;

    let post = publish(
        &app,
        &city.officer_a,
        &city.association_a,
        json!({"title": "回覧: 防災訓練の出欠", "requires_confirmation": true}),
    )
    .await;
    assert_eq!(drain(&app).await, 2);
    assert_eq!(
        app.post_as(
            &city.resident_h1,
            &format!("/api/v1/posts/{post}/confirm"),
            &json!({})
        )
        .await
        .status(),
        204
    );

    let reminded = expect_json(
        app.post_as(
            &city.officer_a,
            &format!("/api/v1/posts/{post}/reminders"),
            &json!({}),
        )
        .await,
        202,
    )
    .await;
    assert_eq!(reminded["deliveries"], 1, "{reminded}");
    assert_eq!(drain(&app).await, 1);

    assert_eq!(
        service.received_by(&h1).len(),
        1,
        "H1 confirmed: no reminder"
    );
    let received = service.received_by(&h2);
    assert_eq!(received.len(), 2);
    let reminder = h2.decrypt(&received[1].body);
    assert_eq!(reminder["type"], "reminder", "{reminder}");
    assert_eq!(reminder["post_id"], post.as_str(), "{reminder}");
    assert_eq!(h2.decrypt(&received[0].body)["type"], "post");
}

// ---------------------------------------------------------------------------------------
// A restart of the real binary in the middle of a fan-out

#[tokio::test]
async fn a_restart_mid_fan_out_sends_every_notification_exactly_once() {
    const MEMBERS: usize = 60;
    let database = TestDatabase::fresh();
    let service = PushService::start().await;
    let mut env = ServerEnv::new(database.data_dir.path(), &database.url);
    env.set("KAIRAN_PUSH__WORKER", "true");
    env.set("KAIRAN_PUSH__BATCH_SIZE", "20");
    env.set("KAIRAN_PUSH__CONCURRENCY_PER_HOST", "4");
    env.create_admin(ADMIN_LOGIN);
    let served = Served::start(&env).await;
    let remote = Remote::new(env.address());

    // One association with an officer and 60 resident households, each with a browser.
    let town = Town::build(&remote, MEMBERS).await;
    let (officer, association) = (&town.officer, &town.association);
    let mut browsers = Vec::new();
    for (n, (_, resident)) in town.residents.iter().enumerate() {
        let browser = Browser::new(&service, "slow", &n.to_string());
        remote
            .call(
                Method::POST,
                Some(resident.as_str()),
                "/api/v1/push/subscriptions",
                Some(&browser.subscription()),
                201,
            )
            .await;
        browsers.push(browser);
    }

    let body = json!({"scope": {"kind": "association", "id": association},
                      "title": "断水のお知らせ", "body": "明日9時から断水します。"});
    let post = remote
        .call(
            Method::POST,
            Some(officer.as_str()),
            "/api/v1/posts",
            Some(&body),
            201,
        )
        .await;
    let post = str_field(&post, "id");

    // Stop the server once the fan-out has begun.
    let deadline = Instant::now() + Duration::from_secs(30);
    while service.count() == 0 {
        assert!(
            Instant::now() < deadline,
            "the worker never started sending"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(served.terminate().await.success());
    // Nothing is left claimed: the batch in flight was recorded, the one claimed next given
    // back, so the restarted server sends them at once.
    let still_claimed: i64 = push_deliveries::table
        .filter(push_deliveries::status.eq("pending"))
        .filter(push_deliveries::claimed_by.is_not_null())
        .count()
        .get_result(&mut *database.connection())
        .unwrap();
    assert_eq!(still_claimed, 0);
    let before_restart = service.count();
    assert!(
        before_restart > 0 && before_restart < MEMBERS,
        "the restart must fall mid-fan-out, but {before_restart} of {MEMBERS} were sent"
    );

    let served = Served::start(&env).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let seen: std::collections::HashSet<String> =
            service.received().into_iter().map(|r| r.path).collect();
        if seen.len() == MEMBERS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {MEMBERS} endpoints were reached after the restart: {}",
            seen.len(),
            std::fs::read_to_string(&env.log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Give a duplicate, if any, time to arrive.
    tokio::time::sleep(Duration::from_millis(1000)).await;

    let mut per_endpoint: HashMap<String, usize> = HashMap::new();
    for received in service.received() {
        *per_endpoint
            .entry(format!("{}{}", service.address, received.path))
            .or_default() += 1;
    }
    for browser in &browsers {
        assert_eq!(
            per_endpoint.get(&browser.endpoint),
            Some(&1),
            "{}",
            browser.endpoint
        );
    }
    assert_eq!(service.count(), MEMBERS);
    // Each notification is intact: it decrypts and names the post.
    for browser in &browsers {
        let received = service.received_by(browser);
        assert_eq!(browser.decrypt(&received[0].body)["post_id"], post.as_str());
    }

    // The access token outlives the restart (the signing keys are kept).
    let figures = remote
        .call(
            Method::GET,
            Some(officer.as_str()),
            &format!("/api/v1/posts/{post}/deliveries"),
            None,
            200,
        )
        .await;
    let expected = counts(MEMBERS as i64, 0, 0, 0);
    for key in ["sent", "failed", "pending", "gone"] {
        assert_eq!(figures[key], expected[key], "{figures}");
    }
    assert_eq!(figures["channels"]["push"]["sent"], MEMBERS as i64);
    assert!(served.terminate().await.success());
}

/// A thread's nice value, from its `stat` (the 19th field; the name before may hold spaces).
#[cfg(target_os = "linux")]
fn nice_of(stat: &str) -> i32 {
    let after_name = &stat[stat.rfind(')').expect("a stat names its thread") + 2..];
    after_name
        .split_whitespace()
        .nth(16)
        .unwrap()
        .parse()
        .unwrap()
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn pushes_are_encrypted_and_sent_below_the_requests_priority() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let service = PushService::start().await;
    let browser = Browser::new(&service, "ok", "h1-phone");
    subscribe(&app, &city.resident_h1, &browser).await;
    publish(
        &app,
        &city.officer_a,
        &city.association_a,
        json!({"title": "防災訓練", "category": "event"}),
    )
    .await;
    assert_eq!(drain(&app).await, 1);
    assert_eq!(service.received_by(&browser).len(), 1);

    let server = nice_of(&std::fs::read_to_string("/proc/self/stat").unwrap());
    let sending: Vec<i32> = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.unwrap().path().join("stat")).ok())
        .filter(|stat| stat.contains("(kairan-push)"))
        .map(|stat| nice_of(&stat))
        .collect();
    assert!(
        !sending.is_empty(),
        "the push was sent on the sending threads"
    );
    assert!(
        sending.iter().all(|&nice| nice == (server + 10).min(19)),
        "server at {server}, sending threads at {sending:?}"
    );
}
