//! Finding 4: push endpoints name only the known push services (`push.allowed_hosts`), are
//! parsed as URLs rather than compared by prefix, never make the server connect inside its
//! own network (checked after DNS resolution), and a member keeps a bounded number.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

use crate::fixtures::{Actor, City, expect_json, str_field};
use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use crate::push_service::{Browser, PushService};

async fn subscribe(app: &TestApp, member: &Actor, endpoint: &str) -> reqwest::Response {
    let browser = Browser::with_endpoint(endpoint.to_string());
    app.post_as(
        member,
        "/api/v1/push/subscriptions",
        &browser.subscription(),
    )
    .await
}

async fn subscriptions(app: &TestApp, member: &Actor) -> Vec<Value> {
    let listed = expect_json(app.get_as(member, "/api/v1/push/subscriptions").await, 200).await;
    listed["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn only_the_known_push_services_hosts_are_accepted() {
    let app = spawn_app_with(|s| s.push.allow_insecure_endpoints = false).await;
    let city = City::build(&app).await;
    let member = &city.resident_h1;
    for refused in [
        "https://listener.attacker.example/push",
        "https://fcm.googleapis.com.attacker.example/fcm/send/x",
        "https://push.apple.com/x",
        "https://10.0.0.5/x",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]:8443/x",
        "https://user:secret@fcm.googleapis.com/fcm/send/x",
        "https://localhost:8443/x",
        "http://fcm.googleapis.com/fcm/send/x",
    ] {
        let response = subscribe(&app, member, refused).await;
        assert_eq!(response.status(), 422, "{refused}");
    }
    assert!(subscriptions(&app, member).await.is_empty());
    for accepted in [
        "https://fcm.googleapis.com/fcm/send/dQw4w9WgXcQ:APA91b",
        "https://updates.push.services.mozilla.com/wpush/v2/gAAAAABk",
        "https://web.push.apple.com/QGz9H3xK",
        "https://wns2-ty1p.notify.windows.com/w/?token=BQYAAAB",
    ] {
        let response = subscribe(&app, member, accepted).await;
        assert_eq!(response.status(), 201, "{accepted}");
    }
}

#[tokio::test]
async fn the_test_setting_admits_loopback_only_as_itself() {
    // The test configuration allows loopback endpoints (a stand-in push service).
    let app = spawn_app().await;
    let city = City::build(&app).await;
    for disguised in [
        "http://localhost:1@127.0.0.2/",
        "http://localhost:1@10.0.0.5/",
        "http://127.0.0.1.attacker.example/x",
        "http://localhost.attacker.example/x",
        "http://10.0.0.5:8080/x",
        "http://192.168.1.1/x",
    ] {
        let response = subscribe(&app, &city.resident_h1, disguised).await;
        assert_eq!(response.status(), 422, "{disguised}");
    }
    let service = PushService::start().await;
    let real = Browser::new(&service, "ok", "h1");
    let response = subscribe(&app, &city.resident_h1, &real.endpoint).await;
    assert_eq!(response.status(), 201);
}

#[tokio::test]
async fn the_sender_never_connects_where_a_name_resolves_inside_the_network() {
    // A listener on loopback, and an allowed host name that resolves to it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            counted.fetch_add(1, Ordering::SeqCst);
        }
    });
    let app = spawn_app_with(|s| {
        s.push.allow_insecure_endpoints = false;
        s.push.allowed_hosts = vec!["localhost".into()];
    })
    .await;
    let city = City::build(&app).await;
    let endpoint = format!("https://localhost:{port}/push/h1");
    assert_eq!(
        subscribe(&app, &city.resident_h1, &endpoint).await.status(),
        201
    );

    let body = json!({"scope": {"kind": "association", "id": city.association_a},
                      "title": "町内清掃のお知らせ", "body": "日曜日の朝8時からです。"});
    let post = expect_json(
        app.post_as(&city.officer_a, "/api/v1/posts", &body).await,
        201,
    )
    .await;
    assert_eq!(app.push.drain().await.expect("the outbox drains"), 1);

    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "no connection was made"
    );
    let path = format!("/api/v1/posts/{}/deliveries", str_field(&post, "id"));
    let figures = expect_json(app.get_as(&city.officer_a, &path).await, 200).await;
    let totals = ["sent", "failed", "pending", "gone"].map(|k| figures[k].clone());
    assert_eq!(
        totals,
        [0, 1, 0, 0].map(|n| json!(n)),
        "refused, not retried"
    );
    assert_eq!(
        subscriptions(&app, &city.resident_h1).await.len(),
        1,
        "the subscription stays: its fate tells nothing about the address"
    );
}

#[tokio::test]
async fn a_new_subscription_beyond_the_limit_replaces_the_oldest() {
    let app = spawn_app_with(|s| s.push.max_subscriptions_per_member = 3).await;
    let city = City::build(&app).await;
    let service = PushService::start().await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let browser = Browser::new(&service, "ok", &format!("device-{n}"));
        let created = expect_json(
            subscribe(&app, &city.resident_h1, &browser.endpoint).await,
            201,
        )
        .await;
        ids.push(str_field(&created, "id"));
        // Distinct creation times, so "oldest" is well defined.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let kept: Vec<String> = subscriptions(&app, &city.resident_h1)
        .await
        .iter()
        .map(|s| str_field(s, "id"))
        .collect();
    assert_eq!(kept, ids[2..].to_vec());
    // Another member's are their own.
    let other = Browser::new(&service, "ok", "h2");
    assert_eq!(
        subscribe(&app, &city.resident_h2, &other.endpoint)
            .await
            .status(),
        201
    );
    assert_eq!(subscriptions(&app, &city.resident_h1).await.len(), 3);
}
