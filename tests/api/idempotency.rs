//! Idempotency-Key on POSTs that create things: a repeat replays the first answer and creates
//! nothing, a different request under the same key is refused, concurrent duplicates create
//! once, keys belong to one member and expire.

use diesel::prelude::*;
use kairan::db::schema::{hans, idempotency_keys, posts};
use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::fixtures::{Actor, City, expect_json, str_field};
use crate::helpers::{TestApp, error_code, spawn_app, spawn_app_with};
use crate::push_service::Browser;

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";

async fn post_with_key(
    app: &TestApp,
    actor: &Actor,
    path: &str,
    body: &Value,
    key: &str,
) -> Response {
    app.client
        .request(Method::POST, app.url(path))
        .bearer_auth(&actor.access_token)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .expect("request sent")
}

fn post_count(app: &TestApp) -> i64 {
    posts::table
        .count()
        .get_result(&mut app.db.get().unwrap())
        .unwrap()
}

fn han_count(app: &TestApp) -> i64 {
    hans::table
        .count()
        .get_result(&mut app.db.get().unwrap())
        .unwrap()
}

fn notice(city: &City, title: &str) -> Value {
    json!({
        "scope": {"kind": "association", "id": city.association_a},
        "title": title,
        "body": "回覧です。",
    })
}

fn is_replay(response: &Response) -> bool {
    response
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true")
}

#[tokio::test]
async fn a_repeated_post_returns_the_first_answer_and_creates_nothing() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let before = post_count(&app);
    let body = notice(&city, "清掃のお知らせ");

    let first = post_with_key(&app, &city.officer_a, "/api/v1/posts", &body, "post-1").await;
    assert!(!is_replay(&first));
    let first = expect_json(first, 201).await;
    let second = post_with_key(&app, &city.officer_a, "/api/v1/posts", &body, "post-1").await;
    assert!(is_replay(&second), "the repeat is marked as a replay");
    let second = expect_json(second, 201).await;

    assert_eq!(first, second, "the same status and body come back");
    assert_eq!(post_count(&app), before + 1, "only one post was created");
    // Without a key, the same body is a new request.
    expect_json(
        app.post_as(&city.officer_a, "/api/v1/posts", &body).await,
        201,
    )
    .await;
    assert_eq!(post_count(&app), before + 2);
}

#[tokio::test]
async fn the_same_key_with_another_request_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let path = format!("/api/v1/associations/{}/hans", city.association_a);
    expect_json(
        post_with_key(
            &app,
            &city.officer_a,
            &path,
            &json!({"name": "3班"}),
            "han-key",
        )
        .await,
        201,
    )
    .await;
    let hans_before = han_count(&app);
    let posts_before = post_count(&app);

    let other_body = post_with_key(
        &app,
        &city.officer_a,
        &path,
        &json!({"name": "4班"}),
        "han-key",
    )
    .await;
    assert_eq!(other_body.status(), 422);
    assert_eq!(error_code(other_body).await, "idempotency_key_mismatch");
    let other_path = post_with_key(
        &app,
        &city.officer_a,
        "/api/v1/posts",
        &notice(&city, "別の回覧"),
        "han-key",
    )
    .await;
    assert_eq!(other_path.status(), 422);
    assert_eq!(error_code(other_path).await, "idempotency_key_mismatch");

    assert_eq!(han_count(&app), hans_before);
    assert_eq!(post_count(&app), posts_before);
}

#[tokio::test]
async fn keys_belong_to_one_member() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let before = post_count(&app);
    let body = notice(&city, "総会のお知らせ");
    let by_officer = expect_json(
        post_with_key(&app, &city.officer_a, "/api/v1/posts", &body, "shared").await,
        201,
    )
    .await;
    let by_chair = post_with_key(&app, &city.chair_a, "/api/v1/posts", &body, "shared").await;
    assert!(
        !is_replay(&by_chair),
        "another member's key is not replayed"
    );
    let by_chair = expect_json(by_chair, 201).await;
    assert_ne!(str_field(&by_officer, "id"), str_field(&by_chair, "id"));
    assert_eq!(post_count(&app), before + 2);
}

#[tokio::test]
async fn concurrent_duplicates_create_once() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let before = post_count(&app);
    let body = notice(&city, "同時送信");
    let requests =
        (0..8).map(|_| post_with_key(&app, &city.officer_a, "/api/v1/posts", &body, "burst"));
    let responses = futures_util::future::join_all(requests).await;

    let mut created_ids = Vec::new();
    for response in responses {
        match response.status().as_u16() {
            201 => created_ids.push(str_field(&response.json::<Value>().await.unwrap(), "id")),
            409 => assert_eq!(error_code(response).await, "idempotency_key_in_use"),
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(!created_ids.is_empty(), "one of them created the post");
    created_ids.dedup();
    assert_eq!(created_ids.len(), 1, "every 201 names the same post");
    assert_eq!(post_count(&app), before + 1, "only one post was created");
}

#[tokio::test]
async fn a_refused_request_is_not_recorded_so_the_key_can_be_used_again() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let before = post_count(&app);
    let invalid = json!({"scope": {"kind": "association", "id": city.association_a}, "title": "", "body": "本文"});
    for _ in 0..2 {
        let refused =
            post_with_key(&app, &city.officer_a, "/api/v1/posts", &invalid, "retry").await;
        assert_eq!(refused.status(), 422);
        assert!(!is_replay(&refused));
    }
    let fixed = post_with_key(
        &app,
        &city.officer_a,
        "/api/v1/posts",
        &notice(&city, "修正版"),
        "retry",
    )
    .await;
    expect_json(fixed, 201).await;
    assert_eq!(post_count(&app), before + 1);
}

#[tokio::test]
async fn a_key_without_its_answer_is_never_carried_out_twice() {
    // As after a crash between the commit and storing the answer.
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let body = notice(&city, "停電のお知らせ");
    expect_json(
        post_with_key(&app, &city.officer_a, "/api/v1/posts", &body, "lost").await,
        201,
    )
    .await;
    diesel::update(idempotency_keys::table)
        .set(idempotency_keys::response_status.eq(None::<i32>))
        .execute(&mut app.db.get().unwrap())
        .unwrap();
    let before = post_count(&app);
    let repeat = post_with_key(&app, &city.officer_a, "/api/v1/posts", &body, "lost").await;
    assert_eq!(repeat.status(), 409);
    assert_eq!(error_code(repeat).await, "idempotency_key_in_use");
    assert_eq!(post_count(&app), before);
}

#[tokio::test]
async fn bad_keys_and_anonymous_requests_are_refused_plainly() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let before = post_count(&app);
    let body = notice(&city, "鍵の形");
    for key in ["has space", &"k".repeat(256)] {
        let refused = post_with_key(&app, &city.officer_a, "/api/v1/posts", &body, key).await;
        assert_eq!(refused.status(), 400, "key {key:?}");
        assert_eq!(error_code(refused).await, "invalid_idempotency_key");
    }
    let anonymous = app
        .client
        .post(app.url("/api/v1/posts"))
        .header("Idempotency-Key", "anon")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(post_count(&app), before);
}

#[tokio::test]
async fn expired_keys_are_free_again_and_pruned() {
    let app = spawn_app_with(|s| s.idempotency.prune_interval_secs = 1).await;
    let city = City::build(&app).await;
    let body = notice(&city, "期限切れ");
    let first = expect_json(
        post_with_key(&app, &city.officer_a, "/api/v1/posts", &body, "old").await,
        201,
    )
    .await;
    let stored: i64 = idempotency_keys::table
        .count()
        .get_result(&mut app.db.get().unwrap())
        .unwrap();
    assert_eq!(stored, 1, "the key is recorded");
    let past = kairan::db::now() - chrono::Duration::hours(1);
    diesel::update(idempotency_keys::table)
        .set(idempotency_keys::expires_at.eq(past))
        .execute(&mut app.db.get().unwrap())
        .unwrap();

    // Expired: the key starts over (this may race the pruner; either way a new post).
    let again = expect_json(
        post_with_key(&app, &city.officer_a, "/api/v1/posts", &body, "old").await,
        201,
    )
    .await;
    assert_ne!(str_field(&first, "id"), str_field(&again, "id"));

    diesel::update(idempotency_keys::table)
        .set(idempotency_keys::expires_at.eq(past))
        .execute(&mut app.db.get().unwrap())
        .unwrap();
    let mut remaining = 1;
    for _ in 0..100 {
        remaining = idempotency_keys::table
            .count()
            .get_result::<i64>(&mut app.db.get().unwrap())
            .unwrap();
        if remaining == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(remaining, 0, "the pruner deletes expired keys");
}

/// Every creating POST in the list takes a key: a repeat is a replay of the same answer.
#[tokio::test]
async fn every_creating_post_replays_its_first_answer() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let post = expect_json(
        app.post_as(&city.officer_a, "/api/v1/posts", &notice(&city, "添付付き"))
            .await,
        201,
    )
    .await;
    let post_id = str_field(&post, "id");
    let a = &city.association_a;
    let browser = Browser::with_endpoint("http://127.0.0.1:9/ok/idem".into());
    let cases: Vec<(&Actor, String, Value)> = vec![
        (
            &city.staff,
            "/api/v1/associations".into(),
            json!({"district_id": city.district_1, "name": "新町会", "member_households": 40}),
        ),
        (
            &city.officer_a,
            format!("/api/v1/associations/{a}/hans"),
            json!({"name": "5班"}),
        ),
        (
            &city.officer_a,
            format!("/api/v1/associations/{a}/households"),
            json!({"label": "山田家", "paper": true}),
        ),
        (
            &city.resident_h1,
            "/api/v1/push/subscriptions".into(),
            browser.subscription(),
        ),
        (
            &city.officer_a,
            "/api/v1/posts".into(),
            notice(&city, "一覧"),
        ),
    ];
    for (n, (actor, path, body)) in cases.iter().enumerate() {
        let key = format!("case-{n}");
        let first = post_with_key(&app, actor, path, body, &key).await;
        let status = first.status();
        assert!(status.is_success(), "{path}: {status}");
        let first: Value = first.json().await.unwrap();
        let second = post_with_key(&app, actor, path, body, &key).await;
        assert_eq!(second.status(), status, "{path}");
        assert!(is_replay(&second), "{path} is replayed");
        assert_eq!(second.json::<Value>().await.unwrap(), first, "{path}");
    }

    let upload = |key: &'static str| {
        app.client
            .post(app.url(&format!(
                "/api/v1/posts/{post_id}/attachments?file_name=map.pdf"
            )))
            .bearer_auth(&city.officer_a.access_token)
            .header("Content-Type", "application/pdf")
            .header("Idempotency-Key", key)
            .body(PDF)
            .send()
    };
    let first = expect_json(upload("attach").await.unwrap(), 201).await;
    let second = upload("attach").await.unwrap();
    assert!(is_replay(&second));
    assert_eq!(expect_json(second, 201).await, first);
    let list = expect_json(
        app.get_as(
            &city.officer_a,
            &format!("/api/v1/posts/{post_id}/attachments"),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        1,
        "one attachment stored"
    );
}

async fn invitation_count(app: &TestApp, officer: &Actor, path: &str) -> usize {
    let list = expect_json(app.get_as(officer, path).await, 200).await;
    list["items"].as_array().unwrap().len()
}

/// An invitation code is shown once: its answer is not kept, and a repeat is refused
/// instead of creating a second invitation.
#[tokio::test]
async fn answers_holding_secrets_are_not_kept_and_not_repeated() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let path = format!("/api/v1/associations/{}/invitations", city.association_a);
    let before = invitation_count(&app, &city.officer_a, &path).await;
    let body = json!({"max_uses": 3});
    let first = post_with_key(&app, &city.officer_a, &path, &body, "invite").await;
    assert_eq!(
        first.headers().get("cache-control").unwrap(),
        "no-store",
        "the code is not cached"
    );
    let code = str_field(&expect_json(first, 201).await, "code");

    let repeat = post_with_key(&app, &city.officer_a, &path, &body, "invite").await;
    assert_eq!(repeat.status(), 409);
    assert_eq!(error_code(repeat).await, "idempotency_answer_withheld");
    assert_eq!(
        invitation_count(&app, &city.officer_a, &path).await,
        before + 1,
        "one invitation was created"
    );

    let bodies: Vec<Option<Vec<u8>>> = idempotency_keys::table
        .select(idempotency_keys::response_body)
        .load(&mut app.db.get().unwrap())
        .unwrap();
    assert_eq!(bodies, [None], "the answer with the code is not stored");
    assert!(!format!("{bodies:?}").contains(&code));
}
