//! Circulars (回覧) over HTTP: who a post reaches, who may post where, reads and
//! confirmations, receipts and the visit list, the life of a post, the inbox's pages and
//! search, and bad input. Each test builds its own city (see `fixtures.rs`).
//!
//! Households of the city after `City::build`:
//!   A: 班長宅イチ, 住民宅イチ, 紙回覧宅イチ (paper) in 一班 (H1); 住民宅ニ in 二班 (H2);
//!      the chair's and officer's own households (no han)            → 6
//!   B: 二丁目住民宅 (the district officer's), officer B's own         → 2
//!   C: officer C's own                                             → 1

use std::collections::HashSet;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::fixtures::{Actor, City, create_han, create_household, expect_json, str_field};
use crate::helpers::{TestApp, error_code, spawn_app, spawn_app_with};

const HOUSEHOLDS_A: i64 = 6;
const HOUSEHOLDS_H1: i64 = 3;
const HOUSEHOLDS_CITY: i64 = 9;

// Helpers.

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn parse_time(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(
        value
            .as_str()
            .unwrap_or_else(|| panic!("not a time: {value}")),
    )
    .unwrap()
    .with_timezone(&Utc)
}

/// Percent-encodes a query value.
fn enc(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn association_post(city: &City, title: &str) -> Value {
    json!({
        "scope": {"kind": "association", "id": city.association_a},
        "title": title,
        "body": format!("{title}の本文です。"),
    })
}

fn han_post(city: &City, hans: &[&str], title: &str) -> Value {
    let mut body = association_post(city, title);
    body["han_ids"] = json!(hans);
    body
}

fn with(mut body: Value, key: &str, value: Value) -> Value {
    body[key] = value;
    body
}

/// Creates a post and asserts 201; returns the post.
async fn create(app: &TestApp, by: &Actor, body: &Value) -> Value {
    expect_json(app.post_as(by, "/api/v1/posts", body).await, 201).await
}

async fn create_id(app: &TestApp, by: &Actor, body: &Value) -> String {
    str_field(&create(app, by, body).await, "id")
}

async fn inbox(app: &TestApp, actor: &Actor, query: &str) -> Value {
    expect_json(
        app.get_as(actor, &format!("/api/v1/me/inbox{query}")).await,
        200,
    )
    .await
}

/// Ids of the whole inbox (first 100).
async fn inbox_ids(app: &TestApp, actor: &Actor) -> Vec<String> {
    inbox(app, actor, "?limit=100").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| str_field(i, "id"))
        .collect()
}

async fn inbox_item(app: &TestApp, actor: &Actor, id: &str) -> Value {
    inbox(app, actor, "?limit=100").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id)
        .unwrap_or_else(|| panic!("{} has {id} in the inbox", actor.login))
        .clone()
}

async fn in_inbox(app: &TestApp, actor: &Actor, id: &str) -> bool {
    inbox_ids(app, actor).await.iter().any(|i| i == id)
}

async fn get_post(app: &TestApp, actor: &Actor, id: &str) -> reqwest::Response {
    app.get_as(actor, &format!("/api/v1/posts/{id}")).await
}

async fn post_action(app: &TestApp, actor: &Actor, id: &str, action: &str) -> reqwest::Response {
    app.post_as(actor, &format!("/api/v1/posts/{id}/{action}"), &json!({}))
        .await
}

async fn receipts(app: &TestApp, actor: &Actor, id: &str) -> Value {
    expect_json(
        app.get_as(actor, &format!("/api/v1/posts/{id}/receipts"))
            .await,
        200,
    )
    .await
}

/// households, read, confirmed.
fn counts(receipts: &Value) -> (i64, i64, i64) {
    (
        receipts["households"].as_i64().unwrap(),
        receipts["read"].as_i64().unwrap(),
        receipts["confirmed"].as_i64().unwrap(),
    )
}

fn unconfirmed_ids(receipts: &Value) -> Vec<String> {
    receipts["unconfirmed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| str_field(u, "household_id"))
        .collect()
}

async fn paper(app: &TestApp, actor: &Actor, post: &str, household: &str) -> reqwest::Response {
    app.post_as(
        actor,
        &format!("/api/v1/posts/{post}/paper-confirmations"),
        &json!({"household_id": household}),
    )
    .await
}

async fn expect_error(response: reqwest::Response, status: u16, code: &str) {
    let url = response.url().to_string();
    assert_eq!(response.status().as_u16(), status, "{url}");
    assert_eq!(error_code(response).await, code, "{url}");
}

/// Asserts that `actor` is outside the post's audience: not in the inbox, and 404 (as if the
/// post did not exist) for the post, its receipts, reading and confirming.
async fn assert_outside(app: &TestApp, actor: &Actor, id: &str) {
    assert!(
        !in_inbox(app, actor, id).await,
        "{} must not have {id} in the inbox",
        actor.login
    );
    expect_error(get_post(app, actor, id).await, 404, "not_found").await;
    expect_error(
        app.get_as(actor, &format!("/api/v1/posts/{id}/receipts"))
            .await,
        404,
        "not_found",
    )
    .await;
    expect_error(post_action(app, actor, id, "read").await, 404, "not_found").await;
    expect_error(
        post_action(app, actor, id, "confirm").await,
        404,
        "not_found",
    )
    .await;
}

/// Asserts that `actor` is in the post's audience: in the inbox and able to open it.
async fn assert_inside(app: &TestApp, actor: &Actor, id: &str) {
    assert!(
        in_inbox(app, actor, id).await,
        "{} must have {id} in the inbox",
        actor.login
    );
    let post = expect_json(get_post(app, actor, id).await, 200).await;
    assert_eq!(post["id"], id);
}

async fn household_count(app: &TestApp, city: &City, association: &str) -> i64 {
    let list = expect_json(
        app.get_as(
            &city.admin,
            &format!("/api/v1/associations/{association}/households"),
        )
        .await,
        200,
    )
    .await;
    i64::try_from(list["items"].as_array().unwrap().len()).unwrap()
}

fn post_rows(app: &TestApp) -> i64 {
    use kairan::db::schema::posts;
    posts::table
        .count()
        .get_result(&mut *app.db.get().unwrap())
        .unwrap()
}

// Audience.

#[tokio::test]
async fn a_post_to_one_han_reaches_exactly_that_hans_households() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let post = create(
        &app,
        &city.officer_a,
        &han_post(&city, &[&city.han_h1], "一班の皆様へ"),
    )
    .await;
    let id = str_field(&post, "id");
    assert_eq!(post["status"], "published");
    assert_eq!(post["tier"], "association");
    assert_eq!(post["scope_id"], city.association_a.as_str());
    assert_eq!(post["han_ids"], json!([city.han_h1]));
    assert_eq!(post["version"], 1);
    assert_eq!(post["author"]["id"], city.officer_a.id.as_str());
    assert_eq!(post["author"]["display_name"], "役員二郎");

    assert_inside(&app, &city.resident_h1, &id).await;
    assert_inside(&app, &city.han_leader_h1, &id).await;
    let seen = expect_json(get_post(&app, &city.resident_h1, &id).await, 200).await;
    assert_eq!(seen["title"], "一班の皆様へ");
    assert_eq!(seen["read"], false);
    assert_eq!(seen["confirmed"], false);

    assert_outside(&app, &city.resident_h2, &id).await;
    // The chair's household has no han: not in the audience, though the chair manages it.
    assert!(!in_inbox(&app, &city.chair_a, &id).await);
    expect_json(get_post(&app, &city.chair_a, &id).await, 200).await;

    let r = receipts(&app, &city.officer_a, &id).await;
    assert_eq!(counts(&r), (HOUSEHOLDS_H1, 0, 0));
}

#[tokio::test]
async fn a_post_to_two_hans_reaches_both() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let post = create(
        &app,
        &city.officer_a,
        &han_post(&city, &[&city.han_h1, &city.han_h2], "一班・二班へ"),
    )
    .await;
    let id = str_field(&post, "id");
    let hans: HashSet<String> = post["han_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        hans,
        HashSet::from([city.han_h1.clone(), city.han_h2.clone()])
    );
    assert_inside(&app, &city.resident_h1, &id).await;
    assert_inside(&app, &city.resident_h2, &id).await;
    assert_inside(&app, &city.han_leader_h1, &id).await;
    assert!(!in_inbox(&app, &city.officer_a, &id).await);
    assert_outside(&app, &city.officer_b, &id).await;
    let r = receipts(&app, &city.officer_a, &id).await;
    assert_eq!(counts(&r), (HOUSEHOLDS_H1 + 1, 0, 0));
}

#[tokio::test]
async fn an_association_post_reaches_all_its_households_and_no_one_else() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let resident_b = app
        .new_resident(
            &city.officer_b,
            &city.association_b,
            None,
            "resident.b@kairan.test",
            "二丁目住民",
        )
        .await;
    let resident_c = city.resident_c(&app).await;
    let id = create_id(
        &app,
        &city.officer_a,
        &with(
            association_post(&city, "町会総会のお知らせ"),
            "requires_confirmation",
            json!(true),
        ),
    )
    .await;
    for actor in [
        &city.resident_h1,
        &city.resident_h2,
        &city.han_leader_h1,
        &city.officer_a,
        &city.chair_a,
    ] {
        assert_inside(&app, actor, &id).await;
    }
    for actor in [
        &resident_b,
        &resident_c,
        &city.officer_b,
        &city.officer_c,
        &city.district_officer,
    ] {
        assert_outside(&app, actor, &id).await;
    }
    let r = receipts(&app, &city.officer_a, &id).await;
    assert_eq!(
        household_count(&app, &city, &city.association_a).await,
        HOUSEHOLDS_A
    );
    assert_eq!(counts(&r), (HOUSEHOLDS_A, 0, 0));
}

#[tokio::test]
async fn a_district_post_reaches_its_associations_and_not_another_district() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let resident_c = city.resident_c(&app).await;
    let post = create(
        &app,
        &city.district_officer,
        &json!({
            "scope": {"kind": "district", "id": city.district_1},
            "title": "校下運動会のお知らせ",
            "body": "校下の皆様へ",
            "requires_confirmation": true,
        }),
    )
    .await;
    let id = str_field(&post, "id");
    assert_eq!(post["tier"], "district");
    assert_eq!(post["scope_id"], city.district_1.as_str());
    for actor in [
        &city.resident_h1,
        &city.resident_h2,
        &city.han_leader_h1,
        &city.officer_a,
        &city.officer_b,
        &city.district_officer,
    ] {
        assert_inside(&app, actor, &id).await;
    }
    assert_outside(&app, &city.officer_c, &id).await;
    assert_outside(&app, &resident_c, &id).await;
    let confirmed = post_action(&app, &city.resident_h1, &id, "confirm").await;
    assert_eq!(confirmed.status(), 204);
    // The author sees the district's counts: A's and B's households.
    let r = receipts(&app, &city.district_officer, &id).await;
    assert_eq!(counts(&r), (HOUSEHOLDS_A + 2, 1, 1));
}

#[tokio::test]
async fn a_city_post_reaches_every_household_and_staff_see_counts_only() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let id = create_id(
        &app,
        &city.staff,
        &json!({
            "scope": {"kind": "city"},
            "title": "市からのお知らせ",
            "body": "全市の皆様へ",
            "category": "disaster",
            "priority": "urgent",
            "requires_confirmation": true,
        }),
    )
    .await;
    for actor in [
        &city.resident_h1,
        &city.resident_h2,
        &city.han_leader_h1,
        &city.officer_a,
        &city.chair_a,
        &city.officer_b,
        &city.officer_c,
        &city.district_officer,
    ] {
        assert_inside(&app, actor, &id).await;
    }
    let item = inbox_item(&app, &city.officer_c, &id).await;
    assert_eq!(item["priority"], "urgent");
    assert_eq!(item["tier"], "city");
    assert_eq!(item["requires_confirmation"], true);

    assert_eq!(
        post_action(&app, &city.resident_h1, &id, "confirm")
            .await
            .status(),
        204
    );
    assert_eq!(
        post_action(&app, &city.officer_c, &id, "read")
            .await
            .status(),
        204
    );
    let r = receipts(&app, &city.staff, &id).await;
    assert_eq!(counts(&r), (HOUSEHOLDS_CITY, 2, 1));
    assert_eq!(r["unconfirmed"], json!([]));
    // Officers of A following a city post see their own association's part, with the list.
    let r = receipts(&app, &city.officer_a, &id).await;
    assert_eq!(counts(&r), (HOUSEHOLDS_A, 1, 1));
    assert_eq!(r["unconfirmed"].as_array().unwrap().len(), 5);
}

/// DESIGN §3: the inbox lists circulars "whose audience includes their household"; a member
/// without a household is in no audience.
#[tokio::test]
async fn a_city_post_does_not_reach_a_member_without_a_household() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let id = create_id(
        &app,
        &city.staff,
        &json!({"scope": {"kind": "city"}, "title": "市からのお知らせ", "body": "本文"}),
    )
    .await;
    assert!(in_inbox(&app, &city.resident_h1, &id).await);
    assert!(!in_inbox(&app, &city.no_household, &id).await);
    expect_error(
        get_post(&app, &city.no_household, &id).await,
        404,
        "not_found",
    )
    .await;
}

// Who may post where.

#[tokio::test]
async fn residents_may_not_post() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    for body in [
        association_post(&city, "住民の投稿"),
        han_post(&city, &[&city.han_h1], "住民の投稿"),
    ] {
        expect_error(
            app.post_as(&city.resident_h1, "/api/v1/posts", &body).await,
            403,
            "forbidden",
        )
        .await;
    }
    expect_error(
        app.post_as(
            &city.no_household,
            "/api/v1/posts",
            &association_post(&city, "未所属の投稿"),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    let anonymous = app
        .post_json("/api/v1/posts", &association_post(&city, "匿名"))
        .await;
    assert_eq!(anonymous.status(), 401);
    assert_eq!(post_rows(&app), 0);
}

#[tokio::test]
async fn officers_post_only_to_their_own_association() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let to_b = json!({"scope": {"kind": "association", "id": city.association_b},
                      "title": "よその町会へ", "body": "本文"});
    let to_district = json!({"scope": {"kind": "district", "id": city.district_1},
                             "title": "校下へ", "body": "本文"});
    let to_city = json!({"scope": {"kind": "city"}, "title": "全市へ", "body": "本文"});
    for body in [&to_b, &to_district, &to_city] {
        expect_error(
            app.post_as(&city.officer_a, "/api/v1/posts", body).await,
            403,
            "forbidden",
        )
        .await;
    }
    assert_eq!(post_rows(&app), 0);
    create(&app, &city.officer_a, &association_post(&city, "自町会へ")).await;
    create(&app, &city.chair_a, &association_post(&city, "会長から")).await;
    create(&app, &city.officer_b, &to_b).await;
}

#[tokio::test]
async fn han_leaders_post_only_to_their_own_han() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let post = create(
        &app,
        &city.han_leader_h1,
        &han_post(&city, &[&city.han_h1], "一班の班長より"),
    )
    .await;
    assert!(in_inbox(&app, &city.resident_h1, &str_field(&post, "id")).await);
    assert!(!in_inbox(&app, &city.resident_h2, &str_field(&post, "id")).await);
    for body in [
        han_post(&city, &[&city.han_h2], "二班へ"),
        han_post(&city, &[&city.han_h1, &city.han_h2], "一班・二班へ"),
        association_post(&city, "町会全体へ"),
    ] {
        expect_error(
            app.post_as(&city.han_leader_h1, "/api/v1/posts", &body)
                .await,
            403,
            "forbidden",
        )
        .await;
    }
    assert_eq!(post_rows(&app), 1);
}

#[tokio::test]
async fn district_officers_post_only_to_their_district() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    for body in [
        json!({"scope": {"kind": "district", "id": city.district_2}, "title": "他校下へ", "body": "本文"}),
        json!({"scope": {"kind": "city"}, "title": "全市へ", "body": "本文"}),
        json!({"scope": {"kind": "association", "id": city.association_b}, "title": "町会へ", "body": "本文"}),
    ] {
        expect_error(
            app.post_as(&city.district_officer, "/api/v1/posts", &body)
                .await,
            403,
            "forbidden",
        )
        .await;
    }
    assert_eq!(post_rows(&app), 0);
    let post = create(
        &app,
        &city.district_officer,
        &json!({"scope": {"kind": "district", "id": city.district_1}, "title": "自校下へ", "body": "本文"}),
    )
    .await;
    assert_eq!(post["status"], "published");
}

#[tokio::test]
async fn city_staff_post_to_the_city_and_to_districts() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let post = create(
        &app,
        &city.staff,
        &json!({"scope": {"kind": "city"}, "title": "全市へ", "body": "本文"}),
    )
    .await;
    assert_eq!(post["tier"], "city");
    assert_eq!(post["scope_id"], Value::Null);
    assert_eq!(post["han_ids"], json!([]));
    let post = create(
        &app,
        &city.staff,
        &json!({"scope": {"kind": "district", "id": city.district_2}, "title": "第二校下へ", "body": "本文"}),
    )
    .await;
    let id = str_field(&post, "id");
    assert!(in_inbox(&app, &city.officer_c, &id).await);
    assert!(!in_inbox(&app, &city.resident_h1, &id).await);
}

#[tokio::test]
async fn unknown_scopes_and_foreign_hans_are_refused() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let han_b = create_han(&app, &city.officer_b, &city.association_b, "二丁目一班").await;
    let unknown = "00000000-0000-0000-0000-000000000000";
    let cases = [
        (
            json!({"scope": {"kind": "association", "id": unknown}, "title": "t", "body": "b"}),
            "unknown_scope",
        ),
        (
            json!({"scope": {"kind": "district", "id": unknown}, "title": "t", "body": "b"}),
            "unknown_scope",
        ),
        (han_post(&city, &[&han_b], "他町会の班へ"), "unknown_han"),
        (
            han_post(&city, &[&city.han_h1, &han_b], "混在"),
            "unknown_han",
        ),
        (han_post(&city, &[unknown], "存在しない班"), "unknown_han"),
    ];
    for (body, code) in cases {
        let response = app.post_as(&city.officer_a, "/api/v1/posts", &body).await;
        assert_eq!(response.status(), 422, "{body}");
        assert_eq!(error_code(response).await, code, "{body}");
    }
    assert_eq!(post_rows(&app), 0);
}

// Reads and confirmations.

#[tokio::test]
async fn reading_and_confirming_are_idempotent() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let id = create_id(
        &app,
        &city.officer_a,
        &with(
            association_post(&city, "確認をお願いします"),
            "requires_confirmation",
            json!(true),
        ),
    )
    .await;
    for _ in 0..3 {
        let response = post_action(&app, &city.resident_h1, &id, "read").await;
        assert_eq!(response.status(), 204);
        assert!(response.text().await.unwrap().is_empty());
        assert_eq!(
            counts(&receipts(&app, &city.officer_a, &id).await),
            (HOUSEHOLDS_A, 1, 0)
        );
    }
    let post = expect_json(get_post(&app, &city.resident_h1, &id).await, 200).await;
    assert_eq!(
        (&post["read"], &post["confirmed"]),
        (&json!(true), &json!(false))
    );
    for _ in 0..3 {
        let response = post_action(&app, &city.resident_h1, &id, "confirm").await;
        assert_eq!(response.status(), 204);
        assert_eq!(
            counts(&receipts(&app, &city.officer_a, &id).await),
            (HOUSEHOLDS_A, 1, 1)
        );
    }
    // Reading again after confirming changes nothing either.
    assert_eq!(
        post_action(&app, &city.resident_h1, &id, "read")
            .await
            .status(),
        204
    );
    assert_eq!(
        counts(&receipts(&app, &city.officer_a, &id).await),
        (HOUSEHOLDS_A, 1, 1)
    );
    let post = expect_json(get_post(&app, &city.resident_h1, &id).await, 200).await;
    assert_eq!(
        (&post["read"], &post["confirmed"]),
        (&json!(true), &json!(true))
    );
    let item = inbox_item(&app, &city.resident_h1, &id).await;
    assert_eq!(
        (&item["read"], &item["confirmed"]),
        (&json!(true), &json!(true))
    );
    // Another household's view is untouched.
    let item = inbox_item(&app, &city.resident_h2, &id).await;
    assert_eq!(
        (&item["read"], &item["confirmed"]),
        (&json!(false), &json!(false))
    );
    assert!(
        !unconfirmed_ids(&receipts(&app, &city.officer_a, &id).await)
            .contains(&city.household_h1_resident)
    );
}

/// Sent at once, they share group commits: one member's reads and confirmations meet in one
/// batch's multi-row statements.
#[tokio::test]
async fn reads_and_confirmations_sent_at_once_are_each_recorded_once() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let id = create_id(
        &app,
        &city.officer_a,
        &with(
            association_post(&city, "一斉に確認"),
            "requires_confirmation",
            json!(true),
        ),
    )
    .await;
    let confirming = [&city.chair_a, &city.officer_a, &city.resident_h1];
    let reading = [&city.han_leader_h1, &city.resident_h2];
    let mut requests = Vec::new();
    for _ in 0..4 {
        for actor in confirming {
            requests.push(post_action(&app, actor, &id, "read"));
            requests.push(post_action(&app, actor, &id, "confirm"));
        }
        for actor in reading {
            requests.push(post_action(&app, actor, &id, "read"));
        }
    }
    for response in futures_util::future::join_all(requests).await {
        assert_eq!(response.status(), 204);
    }
    // Five households read; the chair's, the officer's and 住民宅イチ confirmed.
    assert_eq!(
        counts(&receipts(&app, &city.officer_a, &id).await),
        (HOUSEHOLDS_A, 5, 3)
    );
    for actor in confirming {
        let post = expect_json(get_post(&app, actor, &id).await, 200).await;
        assert_eq!(
            (&post["read"], &post["confirmed"]),
            (&json!(true), &json!(true))
        );
    }
    for actor in reading {
        let post = expect_json(get_post(&app, actor, &id).await, 200).await;
        assert_eq!(
            (&post["read"], &post["confirmed"]),
            (&json!(true), &json!(false))
        );
    }
}

#[tokio::test]
async fn confirming_without_reading_first_counts_as_read() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let id = create_id(
        &app,
        &city.officer_a,
        &with(
            association_post(&city, "確認のみ"),
            "requires_confirmation",
            json!(true),
        ),
    )
    .await;
    assert_eq!(
        post_action(&app, &city.resident_h2, &id, "confirm")
            .await
            .status(),
        204
    );
    assert_eq!(
        counts(&receipts(&app, &city.officer_a, &id).await),
        (HOUSEHOLDS_A, 1, 1)
    );
    let post = expect_json(get_post(&app, &city.resident_h2, &id).await, 200).await;
    assert_eq!(
        (&post["read"], &post["confirmed"]),
        (&json!(true), &json!(true))
    );
}

#[tokio::test]
async fn the_unread_filter_hides_read_posts() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let first = create_id(&app, &city.officer_a, &association_post(&city, "一通目")).await;
    let second = create_id(&app, &city.officer_a, &association_post(&city, "二通目")).await;
    assert_eq!(
        post_action(&app, &city.resident_h1, &first, "read")
            .await
            .status(),
        204
    );
    let all = inbox(&app, &city.resident_h1, "").await;
    let items = all["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["id"], second.as_str());
    assert_eq!(items[0]["read"], false);
    assert_eq!(items[1]["id"], first.as_str());
    assert_eq!(items[1]["read"], true);
    assert_eq!(items[1]["confirmed"], false);
    let unread = inbox(&app, &city.resident_h1, "?unread=true").await;
    let ids: Vec<_> = unread["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| str_field(i, "id"))
        .collect();
    assert_eq!(ids, vec![second.clone()]);
    assert_eq!(unread["next_cursor"], Value::Null);
    // Read state is per member: the other household still has both unread.
    let unread = inbox(&app, &city.resident_h2, "?unread=true").await;
    assert_eq!(unread["items"].as_array().unwrap().len(), 2);
    let explicit = inbox(&app, &city.resident_h1, "?unread=false").await;
    assert_eq!(explicit["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn confirming_a_post_that_asks_for_no_confirmation_is_refused() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let post = create(
        &app,
        &city.officer_a,
        &association_post(&city, "お知らせのみ"),
    )
    .await;
    assert_eq!(post["requires_confirmation"], false);
    let id = str_field(&post, "id");
    expect_error(
        post_action(&app, &city.resident_h1, &id, "confirm").await,
        422,
        "confirmation_not_requested",
    )
    .await;
    assert_eq!(
        counts(&receipts(&app, &city.officer_a, &id).await),
        (HOUSEHOLDS_A, 0, 0)
    );
    assert_eq!(
        post_action(&app, &city.resident_h1, &id, "read")
            .await
            .status(),
        204
    );
    assert_eq!(
        counts(&receipts(&app, &city.officer_a, &id).await),
        (HOUSEHOLDS_A, 1, 0)
    );
}

// Counting.

#[tokio::test]
async fn a_household_with_two_members_counts_once() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let spouse = app
        .new_resident(
            &city.officer_a,
            &city.association_a,
            Some(&city.household_h1_resident),
            "spouse.h1@kairan.test",
            "住民四郎の家族",
        )
        .await;
    assert_eq!(
        app.me(&spouse).await["household_id"],
        city.household_h1_resident.as_str()
    );
    let id = create_id(
        &app,
        &city.officer_a,
        &with(
            association_post(&city, "家族で確認"),
            "requires_confirmation",
            json!(true),
        ),
    )
    .await;
    assert_eq!(
        counts(&receipts(&app, &city.officer_a, &id).await),
        (HOUSEHOLDS_A, 0, 0)
    );
    // Both inboxes have been shown (and kept in memory) before the confirmation.
    for member in [&spouse, &city.resident_h1] {
        let item = inbox_item(&app, member, &id).await;
        assert_eq!(
            (&item["read"], &item["confirmed"]),
            (&json!(false), &json!(false))
        );
    }
    assert_eq!(
        post_action(&app, &city.resident_h1, &id, "confirm")
            .await
            .status(),
        204
    );
    let item = inbox_item(&app, &city.resident_h1, &id).await;
    assert_eq!(
        (&item["read"], &item["confirmed"]),
        (&json!(true), &json!(true))
    );
    // The household is confirmed for the spouse too; reading is per person.
    let seen = expect_json(get_post(&app, &spouse, &id).await, 200).await;
    assert_eq!(
        (&seen["read"], &seen["confirmed"]),
        (&json!(false), &json!(true))
    );
    let item = inbox_item(&app, &spouse, &id).await;
    assert_eq!(
        (&item["read"], &item["confirmed"]),
        (&json!(false), &json!(true))
    );
    assert_eq!(post_action(&app, &spouse, &id, "read").await.status(), 204);
    assert_eq!(
        post_action(&app, &spouse, &id, "confirm").await.status(),
        204
    );
    assert_eq!(
        counts(&receipts(&app, &city.officer_a, &id).await),
        (HOUSEHOLDS_A, 1, 1)
    );
}

#[tokio::test]
async fn receipts_count_the_targeted_hans_and_list_the_unconfirmed() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let id = create_id(
        &app,
        &city.officer_a,
        &with(
            han_post(&city, &[&city.han_h1], "一班の確認"),
            "requires_confirmation",
            json!(true),
        ),
    )
    .await;
    assert_eq!(
        post_action(&app, &city.han_leader_h1, &id, "read")
            .await
            .status(),
        204
    );
    assert_eq!(
        post_action(&app, &city.resident_h1, &id, "confirm")
            .await
            .status(),
        204
    );
    let r = receipts(&app, &city.officer_a, &id).await;
    assert_eq!(counts(&r), (HOUSEHOLDS_H1, 2, 1));
    let unconfirmed = r["unconfirmed"].as_array().unwrap();
    assert_eq!(unconfirmed.len(), 2);
    let leader = unconfirmed
        .iter()
        .find(|u| u["household_id"] == city.household_h1_leader.as_str())
        .expect("the 班長's household is unconfirmed");
    assert_eq!(leader["label"], "班長宅イチ");
    assert_eq!(leader["han"], "一班");
    assert_eq!(leader["paper"], false);
    assert_eq!(leader["read"], true);
    let paper_household = unconfirmed
        .iter()
        .find(|u| u["household_id"] == city.household_h1_paper.as_str())
        .expect("the paper household is unconfirmed");
    assert_eq!(paper_household["label"], "紙回覧宅イチ");
    assert_eq!(paper_household["han"], "一班");
    assert_eq!(paper_household["paper"], true);
    assert_eq!(paper_household["read"], false);
    // The 班長 of H1 follows their han with the same list.
    let r = receipts(&app, &city.han_leader_h1, &id).await;
    assert_eq!(counts(&r), (HOUSEHOLDS_H1, 2, 1));
    assert_eq!(r["unconfirmed"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_han_leader_records_paper_confirmations_for_their_han() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let paper_household = create_household(
        &app,
        &city.officer_a,
        &city.association_a,
        "紙回覧宅ニ号",
        Some(&city.han_h1),
        true,
    )
    .await;
    let id = create_id(
        &app,
        &city.officer_a,
        &with(
            association_post(&city, "紙でも確認"),
            "requires_confirmation",
            json!(true),
        ),
    )
    .await;
    let before = receipts(&app, &city.officer_a, &id).await;
    assert_eq!(counts(&before), (HOUSEHOLDS_A + 1, 0, 0));
    let listed = before["unconfirmed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["household_id"] == paper_household.as_str())
        .expect("the new paper household is listed")
        .clone();
    assert_eq!(listed["paper"], true);
    assert_eq!(listed["han"], "一班");
    for _ in 0..3 {
        let response = paper(&app, &city.han_leader_h1, &id, &paper_household).await;
        assert_eq!(response.status(), 204);
        let r = receipts(&app, &city.officer_a, &id).await;
        assert_eq!(counts(&r), (HOUSEHOLDS_A + 1, 1, 1));
        assert!(!unconfirmed_ids(&r).contains(&paper_household));
    }
    // An officer may record one too.
    assert_eq!(
        paper(&app, &city.officer_a, &id, &city.household_h1_paper)
            .await
            .status(),
        204
    );
    assert_eq!(
        counts(&receipts(&app, &city.officer_a, &id).await),
        (HOUSEHOLDS_A + 1, 2, 2)
    );
    // A household with a phone handed a paper copy: its member's inbox, already shown,
    // turns confirmed but not read.
    let before = inbox_item(&app, &city.resident_h1, &id).await;
    assert_eq!(before["confirmed"], false);
    assert_eq!(
        paper(&app, &city.officer_a, &id, &city.household_h1_resident)
            .await
            .status(),
        204
    );
    let after = inbox_item(&app, &city.resident_h1, &id).await;
    assert_eq!(
        (&after["read"], &after["confirmed"]),
        (&json!(false), &json!(true))
    );
}

#[tokio::test]
async fn paper_confirmations_are_limited_to_their_recorders_and_audience() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let paper_h2 = create_household(
        &app,
        &city.officer_a,
        &city.association_a,
        "紙回覧宅ニ班",
        Some(&city.han_h2),
        true,
    )
    .await;
    let whole = create_id(
        &app,
        &city.officer_a,
        &with(
            association_post(&city, "町会全体"),
            "requires_confirmation",
            json!(true),
        ),
    )
    .await;
    let h1_only = create_id(
        &app,
        &city.officer_a,
        &with(
            han_post(&city, &[&city.han_h1], "一班のみ"),
            "requires_confirmation",
            json!(true),
        ),
    )
    .await;
    // The 班長 of H1 may not record for a household of H2.
    expect_error(
        paper(&app, &city.han_leader_h1, &whole, &paper_h2).await,
        403,
        "forbidden",
    )
    .await;
    // Another association's officer does not see the post at all.
    expect_error(
        paper(&app, &city.officer_b, &whole, &city.household_h1_paper).await,
        404,
        "not_found",
    )
    .await;
    // Households the post does not reach.
    expect_error(
        paper(&app, &city.officer_a, &h1_only, &paper_h2).await,
        422,
        "household_not_in_audience",
    )
    .await;
    expect_error(
        paper(&app, &city.officer_a, &whole, &city.household_b).await,
        422,
        "household_not_in_audience",
    )
    .await;
    expect_error(
        paper(
            &app,
            &city.officer_a,
            &whole,
            "00000000-0000-0000-0000-000000000000",
        )
        .await,
        422,
        "household_not_in_audience",
    )
    .await;
    assert_eq!(
        counts(&receipts(&app, &city.officer_a, &whole).await),
        (HOUSEHOLDS_A + 1, 0, 0)
    );
    assert_eq!(
        counts(&receipts(&app, &city.officer_a, &h1_only).await),
        (HOUSEHOLDS_H1, 0, 0)
    );
}

#[tokio::test]
async fn the_unconfirmed_list_is_grouped_by_han_and_marks_paper() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    // Labels that sort before and after the existing ones, in each han.
    let extra = [
        ("あ宅", Some(city.han_h2.as_str()), false),
        ("ん宅", Some(city.han_h1.as_str()), true),
        ("ア宅", Some(city.han_h1.as_str()), false),
    ];
    for (label, han, is_paper) in extra {
        create_household(
            &app,
            &city.officer_a,
            &city.association_a,
            label,
            han,
            is_paper,
        )
        .await;
    }
    let id = create_id(
        &app,
        &city.officer_a,
        &with(
            association_post(&city, "班ごとの一覧"),
            "requires_confirmation",
            json!(true),
        ),
    )
    .await;
    let households = expect_json(
        app.get_as(
            &city.officer_a,
            &format!("/api/v1/associations/{}/households", city.association_a),
        )
        .await,
        200,
    )
    .await;
    let households = households["items"].as_array().unwrap().clone();
    let r = receipts(&app, &city.officer_a, &id).await;
    let list = r["unconfirmed"].as_array().unwrap();
    assert_eq!(list.len(), households.len());
    assert_eq!(counts(&r), (i64::try_from(list.len()).unwrap(), 0, 0));
    // Every household once, with its paper flag.
    for h in &households {
        let row = list
            .iter()
            .find(|u| u["household_id"] == h["id"])
            .unwrap_or_else(|| panic!("{h} is in the visit list"));
        assert_eq!(row["paper"], h["paper"], "{row}");
        assert_eq!(row["label"], h["label"], "{row}");
    }
    // Grouped by han: each han's rows are together, hans in name order, labels in order.
    let hans: Vec<Option<String>> = list
        .iter()
        .map(|u| u["han"].as_str().map(String::from))
        .collect();
    let mut groups: Vec<Option<String>> = Vec::new();
    for han in &hans {
        if groups.last() != Some(han) {
            assert!(
                !groups.contains(han),
                "han {han:?} appears in two groups: {hans:?}"
            );
            groups.push(han.clone());
        }
    }
    let named: Vec<String> = groups.iter().flatten().cloned().collect();
    assert_eq!(named, vec!["一班".to_string(), "二班".to_string()]);
    for group in &groups {
        let labels: Vec<String> = list
            .iter()
            .filter(|u| u["han"].as_str().map(String::from) == *group)
            .map(|u| str_field(u, "label"))
            .collect();
        let mut sorted = labels.clone();
        sorted.sort();
        assert_eq!(labels, sorted, "labels of han {group:?} in order");
    }
    let h1: Vec<String> = list
        .iter()
        .filter(|u| u["han"] == "一班")
        .map(|u| str_field(u, "label"))
        .collect();
    assert_eq!(
        h1,
        vec!["ん宅", "ア宅", "住民宅イチ", "班長宅イチ", "紙回覧宅イチ"]
    );
    let paper_labels: HashSet<String> = list
        .iter()
        .filter(|u| u["paper"] == true)
        .map(|u| str_field(u, "label"))
        .collect();
    assert_eq!(
        paper_labels,
        HashSet::from(["ん宅".to_string(), "紙回覧宅イチ".to_string()])
    );
}

#[tokio::test]
async fn the_receipts_csv_lists_the_unconfirmed_for_excel() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let id = create_id(
        &app,
        &city.officer_a,
        &with(
            han_post(&city, &[&city.han_h1], "一班の確認"),
            "requires_confirmation",
            json!(true),
        ),
    )
    .await;
    assert_eq!(
        post_action(&app, &city.resident_h1, &id, "confirm")
            .await
            .status(),
        204
    );
    assert_eq!(
        post_action(&app, &city.han_leader_h1, &id, "read")
            .await
            .status(),
        204
    );
    let response = app
        .get_as(&city.officer_a, &format!("/api/v1/posts/{id}/receipts.csv"))
        .await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let bytes = response.bytes().await.unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 BOM");
    let text = std::str::from_utf8(&bytes[3..]).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "household_id,han,label,paper,read");
    let mut rows = lines[1..].to_vec();
    rows.sort_unstable();
    let mut expected = vec![
        format!("{},一班,班長宅イチ,no,yes", city.household_h1_leader),
        format!("{},一班,紙回覧宅イチ,yes,no", city.household_h1_paper),
    ];
    expected.sort();
    assert_eq!(rows, expected);
    // Someone who may not follow the post gets 404 for the CSV too.
    expect_error(
        app.get_as(
            &city.resident_h1,
            &format!("/api/v1/posts/{id}/receipts.csv"),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        app.get_as(&city.officer_b, &format!("/api/v1/posts/{id}/receipts.csv"))
            .await,
        404,
        "not_found",
    )
    .await;
}

// Life cycle.

#[tokio::test]
async fn drafts_are_seen_only_by_their_managers_until_published() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let post = create(
        &app,
        &city.officer_a,
        &with(association_post(&city, "下書き"), "draft", json!(true)),
    )
    .await;
    let id = str_field(&post, "id");
    assert_eq!(post["status"], "draft");
    assert!(!in_inbox(&app, &city.resident_h1, &id).await);
    assert!(!in_inbox(&app, &city.officer_a, &id).await);
    expect_error(
        get_post(&app, &city.resident_h1, &id).await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        post_action(&app, &city.resident_h1, &id, "read").await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        post_action(&app, &city.resident_h1, &id, "publish").await,
        404,
        "not_found",
    )
    .await;
    let seen = expect_json(get_post(&app, &city.officer_a, &id).await, 200).await;
    assert_eq!(seen["status"], "draft");
    let seen = expect_json(get_post(&app, &city.chair_a, &id).await, 200).await;
    assert_eq!(seen["status"], "draft");

    let published = expect_json(
        post_action(&app, &city.officer_a, &id, "publish").await,
        200,
    )
    .await;
    assert_eq!(published["status"], "published");
    assert!(published["published_at"].is_string());
    assert!(in_inbox(&app, &city.resident_h1, &id).await);
    let seen = expect_json(get_post(&app, &city.resident_h1, &id).await, 200).await;
    assert_eq!(seen["status"], "published");
    expect_error(
        post_action(&app, &city.officer_a, &id, "publish").await,
        409,
        "not_publishable",
    )
    .await;
    assert_eq!(inbox_ids(&app, &city.resident_h1).await, vec![id]);
}

#[tokio::test]
async fn scheduled_posts_appear_when_their_time_comes() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let at = Utc::now() + Duration::hours(1);
    let post = create(
        &app,
        &city.officer_a,
        &with(
            association_post(&city, "予約投稿"),
            "publish_at",
            json!(rfc3339(at)),
        ),
    )
    .await;
    let id = str_field(&post, "id");
    assert_eq!(post["status"], "scheduled");
    assert_eq!(
        parse_time(&post["published_at"]).timestamp(),
        at.timestamp()
    );
    assert!(!in_inbox(&app, &city.resident_h1, &id).await);
    expect_error(
        get_post(&app, &city.resident_h1, &id).await,
        404,
        "not_found",
    )
    .await;
    let seen = expect_json(get_post(&app, &city.officer_a, &id).await, 200).await;
    assert_eq!(seen["status"], "scheduled");

    // Not due yet: nothing happens.
    let early =
        kairan::db::queries::posts::publish_due(&mut app.db.get().unwrap(), kairan::db::now())
            .unwrap();
    assert!(early.is_empty());
    assert!(!in_inbox(&app, &city.resident_h1, &id).await);

    // The clock moves on.
    let published = kairan::db::queries::posts::publish_due(
        &mut app.db.get().unwrap(),
        kairan::db::now() + Duration::hours(2),
    )
    .unwrap();
    assert_eq!(
        published
            .posts
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        vec![id.clone()]
    );
    app.inbox_cache.posts_changed(&published);
    let item = inbox_item(&app, &city.resident_h1, &id).await;
    assert_eq!(
        parse_time(&item["published_at"]).timestamp(),
        at.timestamp()
    );
    let seen = expect_json(get_post(&app, &city.resident_h1, &id).await, 200).await;
    assert_eq!(seen["status"], "published");
    // Running it again publishes nothing twice.
    let again = kairan::db::queries::posts::publish_due(
        &mut app.db.get().unwrap(),
        kairan::db::now() + Duration::hours(3),
    )
    .unwrap();
    assert!(again.is_empty());
    assert_eq!(inbox_ids(&app, &city.resident_h1).await, vec![id]);
}

/// A read written behind the server's back (another program on the database) is announced to
/// no one; the read book reads its posts again in the background once they are older than
/// the TTL, and the inbox shows it then.
#[tokio::test]
async fn a_read_nobody_announced_shows_once_the_book_reads_its_post_again() {
    let app = spawn_app_with(|s| s.posts.inbox_cache_ttl_ms = 400).await;
    let city = City::build(&app).await;
    let id = create_id(
        &app,
        &city.officer_a,
        &association_post(&city, "裏口の既読"),
    )
    .await;
    assert_eq!(
        inbox_item(&app, &city.resident_h1, &id).await["read"],
        false
    );

    let read = kairan::db::models::PostRead {
        post_id: kairan::domain::PostId(id.clone()),
        member_id: kairan::domain::MemberId(city.resident_h1.id.clone()),
        household_id: kairan::domain::HouseholdId(city.household_h1_resident.clone()),
        read_at: kairan::db::now(),
        confirmed_at: None,
    };
    diesel::insert_into(kairan::db::schema::post_reads::table)
        .values(read)
        .execute(&mut app.db.get().unwrap())
        .unwrap();
    let started = std::time::Instant::now();
    while inbox_item(&app, &city.resident_h1, &id).await["read"] == false {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "the read never showed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// With nothing kept in memory (TTL zero), every read state comes from the member's own rows,
/// looked up per post (`queries::inbox::read_states`).
#[tokio::test]
async fn with_nothing_kept_in_memory_the_inbox_reads_each_members_states_from_the_database() {
    let app = spawn_app_with(|s| s.posts.inbox_cache_ttl_ms = 0).await;
    let city = City::build(&app).await;
    let confirmed = create_id(
        &app,
        &city.officer_a,
        &with(
            association_post(&city, "確認済みにする"),
            "requires_confirmation",
            json!(true),
        ),
    )
    .await;
    let opened = create_id(&app, &city.officer_a, &association_post(&city, "開くだけ")).await;
    let untouched = create_id(
        &app,
        &city.officer_a,
        &association_post(&city, "未読のまま"),
    )
    .await;
    for (id, what) in [(&confirmed, "confirm"), (&opened, "read")] {
        let response = post_action(&app, &city.resident_h1, id, what).await;
        assert_eq!(response.status(), 204);
    }

    let state = |item: Value| (item["read"].clone(), item["confirmed"].clone());
    let (yes, no) = (json!(true), json!(false));
    for (id, read, done) in [
        (&confirmed, &yes, &yes),
        (&opened, &yes, &no),
        (&untouched, &no, &no),
    ] {
        assert_eq!(
            state(inbox_item(&app, &city.resident_h1, id).await),
            (read.clone(), done.clone())
        );
        // Another household of the same association sees none of it.
        assert_eq!(
            state(inbox_item(&app, &city.resident_h2, id).await),
            (no.clone(), no.clone())
        );
    }
}

#[tokio::test]
async fn withdrawn_posts_leave_every_inbox() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let id = create_id(
        &app,
        &city.officer_a,
        &with(
            association_post(&city, "取り下げ予定"),
            "requires_confirmation",
            json!(true),
        ),
    )
    .await;
    assert!(in_inbox(&app, &city.resident_h1, &id).await);
    // Neither a reader nor an outsider may withdraw it.
    expect_error(
        post_action(&app, &city.resident_h1, &id, "withdraw").await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        post_action(&app, &city.officer_b, &id, "withdraw").await,
        404,
        "not_found",
    )
    .await;
    assert!(in_inbox(&app, &city.resident_h1, &id).await);

    assert_eq!(
        post_action(&app, &city.officer_a, &id, "withdraw")
            .await
            .status(),
        204
    );
    for actor in [&city.resident_h1, &city.resident_h2, &city.officer_a] {
        assert!(!in_inbox(&app, actor, &id).await);
    }
    expect_error(
        get_post(&app, &city.resident_h1, &id).await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        post_action(&app, &city.resident_h1, &id, "confirm").await,
        404,
        "not_found",
    )
    .await;
    let seen = expect_json(get_post(&app, &city.officer_a, &id).await, 200).await;
    assert_eq!(seen["status"], "withdrawn");
    expect_error(
        app.patch_as(
            &city.officer_a,
            &format!("/api/v1/posts/{id}"),
            &json!({"title": "復活"}),
        )
        .await,
        409,
        "post_withdrawn",
    )
    .await;
    expect_error(
        post_action(&app, &city.officer_a, &id, "publish").await,
        409,
        "not_publishable",
    )
    .await;
}

#[tokio::test]
async fn expired_posts_leave_the_inbox() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let expires = Utc::now() + Duration::days(1);
    let post = create(
        &app,
        &city.officer_a,
        &with(
            with(
                association_post(&city, "期限付き"),
                "expires_at",
                json!(rfc3339(expires)),
            ),
            "requires_confirmation",
            json!(true),
        ),
    )
    .await;
    let id = str_field(&post, "id");
    assert_eq!(
        parse_time(&post["expires_at"]).timestamp(),
        expires.timestamp()
    );
    let item = inbox_item(&app, &city.resident_h1, &id).await;
    assert_eq!(
        parse_time(&item["expires_at"]).timestamp(),
        expires.timestamp()
    );
    let still = create_id(&app, &city.officer_a, &association_post(&city, "期限なし")).await;
    {
        use kairan::db::schema::{post_audiences, posts};
        let past = (Utc::now() - Duration::minutes(5)).naive_utc();
        let mut conn = app.db.get().unwrap();
        let changed = diesel::update(posts::table.filter(posts::id.eq(id.as_str())))
            .set(posts::expires_at.eq(past))
            .execute(&mut *conn)
            .unwrap();
        assert_eq!(changed, 1);
        let changed =
            diesel::update(post_audiences::table.filter(post_audiences::post_id.eq(id.as_str())))
                .set(post_audiences::expires_at.eq(past))
                .execute(&mut *conn)
                .unwrap();
        assert_eq!(changed, 1);
    }
    assert_eq!(inbox_ids(&app, &city.resident_h1).await, vec![still]);
    expect_error(
        get_post(&app, &city.resident_h1, &id).await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        post_action(&app, &city.resident_h1, &id, "confirm").await,
        404,
        "not_found",
    )
    .await;
    // Its author still finds it.
    expect_json(get_post(&app, &city.officer_a, &id).await, 200).await;
}

#[tokio::test]
async fn editing_a_published_post_keeps_its_previous_version() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let id = create_id(&app, &city.officer_a, &association_post(&city, "旧題")).await;
    let path = format!("/api/v1/posts/{id}");
    expect_error(
        app.patch_as(&city.resident_h1, &path, &json!({"title": "住民の改題"}))
            .await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        app.patch_as(&city.officer_b, &path, &json!({"title": "他町会の改題"}))
            .await,
        404,
        "not_found",
    )
    .await;
    let edited = expect_json(
        app.patch_as(&city.officer_a, &path, &json!({"title": "新題"}))
            .await,
        200,
    )
    .await;
    assert_eq!(edited["title"], "新題");
    assert_eq!(edited["body"], "旧題の本文です。");
    assert_eq!(edited["version"], 2);
    assert_eq!(edited["status"], "published");
    let seen = expect_json(get_post(&app, &city.resident_h1, &id).await, 200).await;
    assert_eq!(seen["title"], "新題");
    assert_eq!(seen["version"], 2);
    assert_eq!(
        inbox_item(&app, &city.resident_h1, &id).await["title"],
        "新題"
    );

    let versions = expect_json(
        app.get_as(&city.officer_a, &format!("/api/v1/posts/{id}/versions"))
            .await,
        200,
    )
    .await;
    let items = versions["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["version"], 1);
    assert_eq!(items[0]["title"], "旧題");
    assert_eq!(items[0]["body"], "旧題の本文です。");
    assert_eq!(items[0]["edited_by"], city.officer_a.id.as_str());
    expect_error(
        app.get_as(&city.resident_h1, &format!("/api/v1/posts/{id}/versions"))
            .await,
        404,
        "not_found",
    )
    .await;
    // A bad edit is refused and changes nothing.
    expect_error(
        app.patch_as(&city.officer_a, &path, &json!({"title": ""}))
            .await,
        422,
        "invalid_input",
    )
    .await;
    let seen = expect_json(get_post(&app, &city.officer_a, &id).await, 200).await;
    assert_eq!(
        (&seen["title"], &seen["version"]),
        (&json!("新題"), &json!(2))
    );
}

// The inbox's pages and search.

#[tokio::test]
async fn the_inbox_pages_newest_first_without_duplicates() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let mut created = Vec::new();
    for n in 0..25 {
        created.push(
            create_id(
                &app,
                &city.officer_a,
                &association_post(&city, &format!("回覧その{n}")),
            )
            .await,
        );
    }
    let mut seen: Vec<String> = Vec::new();
    let mut times: Vec<DateTime<Utc>> = Vec::new();
    let mut sizes = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("?limit=10&cursor={}", enc(c)),
            None => "?limit=10".to_string(),
        };
        let page = inbox(&app, &city.resident_h1, &query).await;
        let items = page["items"].as_array().unwrap();
        sizes.push(items.len());
        for item in items {
            seen.push(str_field(item, "id"));
            times.push(parse_time(&item["published_at"]));
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => {
                assert_eq!(page["next_cursor"], Value::Null);
                break;
            }
        }
        assert!(sizes.len() < 5, "too many pages: {sizes:?}");
    }
    assert_eq!(sizes, vec![10, 10, 5]);
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), 25);
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    let mut newest_first = created.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first);
    // A page that ends exactly at the last item says so.
    let whole = inbox(&app, &city.resident_h1, "?limit=25").await;
    assert_eq!(whole["items"].as_array().unwrap().len(), 25);
    assert_eq!(whole["next_cursor"], Value::Null);
    // The default page is 20.
    let first = inbox(&app, &city.resident_h1, "").await;
    assert_eq!(first["items"].as_array().unwrap().len(), 20);
    assert!(first["next_cursor"].is_string());
}

#[tokio::test]
async fn the_inbox_pages_the_same_past_the_posts_kept_in_memory() {
    // Three posts per audience in memory, so most pages come partly or wholly from the
    // database; every page must still be exact.
    let app = spawn_app_with(|s| s.posts.inbox_cache_posts = 3).await;
    let city = City::build(&app).await;
    let mut created = Vec::new();
    for n in 0..16 {
        let title = format!("回覧その{n}");
        let (by, body) = match n % 4 {
            0 => (
                &city.staff,
                json!({"scope": {"kind": "city"}, "title": title, "body": "本文"}),
            ),
            1 => (
                &city.district_officer,
                json!({"scope": {"kind": "district", "id": city.district_1}, "title": title, "body": "本文"}),
            ),
            2 => (&city.officer_a, han_post(&city, &[&city.han_h1], &title)),
            _ => (&city.officer_a, association_post(&city, &title)),
        };
        created.push(create_id(&app, by, &body).await);
    }
    // A post for another han is never merged in.
    create_id(
        &app,
        &city.officer_a,
        &han_post(&city, &[&city.han_h2], "二班へ"),
    )
    .await;
    expect_json(
        post_action(&app, &city.resident_h1, &created[14], "read").await,
        204,
    )
    .await;
    let mut newest_first = created.clone();
    newest_first.reverse();
    for limit in [1, 2, 5, 7] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let query = match &cursor {
                Some(c) => format!("?limit={limit}&cursor={}", enc(c)),
                None => format!("?limit={limit}"),
            };
            let page = inbox(&app, &city.resident_h1, &query).await;
            for item in page["items"].as_array().unwrap() {
                let id = str_field(item, "id");
                assert_eq!(item["read"], json!(id == created[14]), "read state of {id}");
                seen.push(id);
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => break,
            }
            assert!(seen.len() <= created.len(), "pages repeat: {seen:?}");
        }
        assert_eq!(seen, newest_first, "pages of {limit}");
    }
    // A new post shows at once, though the feeds were in memory.
    let fresh = create_id(&app, &city.officer_a, &association_post(&city, "最新")).await;
    assert_eq!(inbox_ids(&app, &city.resident_h1).await[0], fresh);
}

#[tokio::test]
async fn the_inbox_refuses_bad_cursors_and_limits() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    create_id(&app, &city.officer_a, &association_post(&city, "一通")).await;
    for cursor in [
        "garbage",
        "!!!",
        "bm90IGEgY3Vyc29y",
        "MTIzfHp6eg",
        "MTIzfA",
        &"A".repeat(300),
    ] {
        let response = app
            .get_as(
                &city.resident_h1,
                &format!("/api/v1/me/inbox?cursor={}", enc(cursor)),
            )
            .await;
        expect_error(response, 400, "invalid_cursor").await;
    }
    for limit in ["0", "101", "-1"] {
        let response = app
            .get_as(
                &city.resident_h1,
                &format!("/api/v1/me/inbox?limit={limit}"),
            )
            .await;
        expect_error(response, 400, "invalid_query").await;
    }
    let response = app
        .get_as(&city.resident_h1, "/api/v1/me/inbox?limit=ten")
        .await;
    assert_eq!(response.status(), 400);
    for limit in ["1", "100"] {
        let page = inbox(&app, &city.resident_h1, &format!("?limit={limit}")).await;
        assert_eq!(page["items"].as_array().unwrap().len(), 1);
    }
    let anonymous = app.get("/api/v1/me/inbox").await;
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn the_inbox_search_finds_words_in_titles_and_bodies() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let in_title = create_id(
        &app,
        &city.officer_a,
        &json!({"scope": {"kind": "association", "id": city.association_a},
                "title": "秋の防災訓練について", "body": "集合場所は公民館です。"}),
    )
    .await;
    let in_body = create_id(
        &app,
        &city.officer_a,
        &json!({"scope": {"kind": "association", "id": city.association_a},
                "title": "十月の行事予定", "body": "十月十日に防災訓練を行います。"}),
    )
    .await;
    let ascii = create_id(
        &app,
        &city.officer_a,
        &json!({"scope": {"kind": "association", "id": city.association_a},
                "title": "Clean-Up Day", "body": "Bring gloves. AED training follows."}),
    )
    .await;
    let percent = create_id(
        &app,
        &city.officer_a,
        &json!({"scope": {"kind": "association", "id": city.association_a},
                "title": "資源回収 100%達成", "body": "ご協力ありがとうございました。"}),
    )
    .await;
    let other = create_id(
        &app,
        &city.officer_a,
        &json!({"scope": {"kind": "association", "id": city.association_a},
                "title": "ごみ出しの注意", "body": "1000円の罰金はありません。"}),
    )
    .await;

    let search = |q: &str| {
        let q = enc(q);
        let app = &app;
        let actor = &city.resident_h1;
        async move {
            let mut ids: Vec<String> = inbox(app, actor, &format!("?q={q}")).await["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| str_field(i, "id"))
                .collect();
            ids.sort();
            ids
        }
    };
    let sorted = |mut ids: Vec<String>| {
        ids.sort();
        ids
    };
    assert_eq!(
        search("防災訓練").await,
        sorted(vec![in_title.clone(), in_body.clone()])
    );
    assert_eq!(search("公民館").await, vec![in_title.clone()]);
    assert_eq!(search("clean-up").await, vec![ascii.clone()]);
    assert_eq!(search("CLEAN-UP DAY").await, vec![ascii.clone()]);
    assert_eq!(search("aed TRAINING").await, vec![ascii.clone()]);
    assert_eq!(search("100%").await, vec![percent.clone()]);
    assert_eq!(search("罰金").await, vec![other.clone()]);
    assert_eq!(search("存在しない言葉").await, Vec::<String>::new());
    // An empty q is no filter.
    assert_eq!(search("").await.len(), 5);
    // Search combines with paging and respects the audience.
    let page = inbox(
        &app,
        &city.resident_h1,
        &format!("?q={}&limit=1", enc("防災訓練")),
    )
    .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["id"], in_body.as_str());
    let next = str_field(&page, "next_cursor");
    let page = inbox(
        &app,
        &city.resident_h1,
        &format!("?q={}&limit=1&cursor={}", enc("防災訓練"), enc(&next)),
    )
    .await;
    assert_eq!(page["items"][0]["id"], in_title.as_str());
    assert_eq!(page["next_cursor"], Value::Null);
    let outsider = inbox(&app, &city.officer_b, &format!("?q={}", enc("防災訓練"))).await;
    assert_eq!(outsider["items"], json!([]));
    let too_long = app
        .get_as(
            &city.resident_h1,
            &format!("/api/v1/me/inbox?q={}", enc(&"防".repeat(101))),
        )
        .await;
    expect_error(too_long, 400, "invalid_query").await;
}

// Bad input.

#[tokio::test]
async fn invalid_posts_are_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let base = association_post(&city, "正しい題");
    let past = Utc::now() - Duration::hours(1);
    let later = Utc::now() + Duration::days(2);
    let sooner = Utc::now() + Duration::days(1);
    let cases: Vec<(&str, &Actor, Value, &str)> = vec![
        (
            "empty title",
            &city.officer_a,
            with(base.clone(), "title", json!("")),
            "invalid_input",
        ),
        (
            "blank title",
            &city.officer_a,
            with(base.clone(), "title", json!("   ")),
            "invalid_input",
        ),
        (
            "title over 200",
            &city.officer_a,
            with(base.clone(), "title", json!("題".repeat(201))),
            "invalid_input",
        ),
        (
            "empty body",
            &city.officer_a,
            with(base.clone(), "body", json!("")),
            "invalid_input",
        ),
        (
            "body over 20000",
            &city.officer_a,
            with(base.clone(), "body", json!("本".repeat(20_001))),
            "invalid_input",
        ),
        (
            "publish_at in the past",
            &city.officer_a,
            with(base.clone(), "publish_at", json!(rfc3339(past))),
            "invalid_input",
        ),
        (
            "expires_at in the past",
            &city.officer_a,
            with(base.clone(), "expires_at", json!(rfc3339(past))),
            "invalid_input",
        ),
        (
            "expires_at before publish_at",
            &city.officer_a,
            with(
                with(base.clone(), "publish_at", json!(rfc3339(later))),
                "expires_at",
                json!(rfc3339(sooner)),
            ),
            "invalid_input",
        ),
        (
            "expires_at equal to publish_at",
            &city.officer_a,
            with(
                with(base.clone(), "publish_at", json!(rfc3339(later))),
                "expires_at",
                json!(rfc3339(later)),
            ),
            "invalid_input",
        ),
        (
            "han_ids on a city post",
            &city.staff,
            json!({"scope": {"kind": "city"}, "han_ids": [city.han_h1],
                   "title": "全市", "body": "本文"}),
            "invalid_input",
        ),
        (
            "han_ids on a district post",
            &city.staff,
            json!({"scope": {"kind": "district", "id": city.district_1}, "han_ids": [city.han_h1],
                   "title": "校下", "body": "本文"}),
            "invalid_input",
        ),
        (
            "association post without id",
            &city.officer_a,
            json!({"scope": {"kind": "association"}, "title": "t", "body": "b"}),
            "invalid_input",
        ),
        (
            "unknown field",
            &city.officer_a,
            with(base.clone(), "pinned", json!(true)),
            "invalid_field",
        ),
        (
            "unknown field in scope",
            &city.officer_a,
            json!({"scope": {"kind": "association", "id": city.association_a, "han": "x"},
                   "title": "t", "body": "b"}),
            "invalid_field",
        ),
        (
            "unknown scope kind",
            &city.officer_a,
            json!({"scope": {"kind": "han", "id": city.han_h1}, "title": "t", "body": "b"}),
            "invalid_field",
        ),
        (
            "unknown priority",
            &city.officer_a,
            with(base.clone(), "priority", json!("very_urgent")),
            "invalid_field",
        ),
        (
            "unknown category",
            &city.officer_a,
            with(base.clone(), "category", json!("gossip")),
            "invalid_field",
        ),
        (
            "missing title",
            &city.officer_a,
            json!({"scope": {"kind": "association", "id": city.association_a}, "body": "b"}),
            "invalid_field",
        ),
        (
            "publish_at not a time",
            &city.officer_a,
            with(base.clone(), "publish_at", json!("tomorrow")),
            "invalid_field",
        ),
    ];
    for (name, actor, body, code) in cases {
        let response = app.post_as(actor, "/api/v1/posts", &body).await;
        assert_eq!(response.status(), 422, "{name}");
        assert_eq!(error_code(response).await, code, "{name}");
    }
    assert_eq!(post_rows(&app), 0);
    assert_eq!(inbox_ids(&app, &city.officer_a).await, Vec::<String>::new());
    assert_eq!(
        inbox_ids(&app, &city.resident_h1).await,
        Vec::<String>::new()
    );

    // The limits themselves are allowed, counted in characters.
    let post = create(
        &app,
        &city.officer_a,
        &with(
            with(base.clone(), "title", json!("題".repeat(200))),
            "body",
            json!("本".repeat(20_000)),
        ),
    )
    .await;
    assert_eq!(post["title"].as_str().unwrap().chars().count(), 200);
    assert_eq!(post["body"].as_str().unwrap().chars().count(), 20_000);
    assert_eq!(post_rows(&app), 1);
    assert_eq!(inbox_ids(&app, &city.officer_a).await.len(), 1);
}

#[tokio::test]
async fn text_is_stored_trimmed_and_nfc() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    // "が" written as か + combining dakuten.
    let post = create(
        &app,
        &city.officer_a,
        &json!({"scope": {"kind": "association", "id": city.association_a},
                "title": "  か\u{3099}っこう  ", "body": "一行目\r\n二行目"}),
    )
    .await;
    assert_eq!(post["title"], "がっこう");
    assert_eq!(post["body"], "一行目\n二行目");
    assert_eq!(post["category"], "notice");
    assert_eq!(post["priority"], "normal");
    assert_eq!(post["requires_confirmation"], false);
}

/// A body within the 20,000-character limit must be accepted however the client encodes
/// it: JSON libraries that escape non-ASCII (Python's default `ensure_ascii`) send each
/// Japanese character as `\uXXXX`, six bytes.
#[tokio::test]
async fn a_body_at_the_limit_is_accepted_when_sent_with_escaped_characters() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let raw = format!(
        r#"{{"scope": {{"kind": "association", "id": "{}"}}, "title": "長文", "body": "{}"}}"#,
        city.association_a,
        "\\u672c".repeat(20_000)
    );
    let response = app
        .client
        .post(app.url("/api/v1/posts"))
        .bearer_auth(&city.officer_a.access_token)
        .header("content-type", "application/json")
        .body(raw)
        .send()
        .await
        .unwrap();
    let post = expect_json(response, 201).await;
    assert_eq!(post["body"].as_str().unwrap().chars().count(), 20_000);
}

// Members who move (PATCH /api/v1/members/{id}, officers).

#[tokio::test]
async fn a_member_who_moves_follows_the_audience_of_their_new_household() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let h1_only = create_id(
        &app,
        &city.officer_a,
        &with(
            han_post(&city, &[&city.han_h1], "一班のみ"),
            "requires_confirmation",
            json!(true),
        ),
    )
    .await;
    let whole = create_id(
        &app,
        &city.officer_a,
        &with(
            association_post(&city, "町会全体"),
            "requires_confirmation",
            json!(true),
        ),
    )
    .await;
    for id in [&h1_only, &whole] {
        assert_eq!(
            post_action(&app, &city.resident_h1, id, "confirm")
                .await
                .status(),
            204
        );
    }
    city.move_resident_h1_to_h2(&app).await;
    // Now in H2: the H1 post is no longer theirs.
    assert_outside(&app, &city.resident_h1, &h1_only).await;
    // The association post is, with the new household's (unconfirmed) state.
    let seen = expect_json(get_post(&app, &city.resident_h1, &whole).await, 200).await;
    assert_eq!(seen["confirmed"], false);
    assert_eq!(
        counts(&receipts(&app, &city.officer_a, &whole).await),
        (HOUSEHOLDS_A, 1, 1)
    );
    // Confirming again counts for the new household; the old one keeps its confirmation.
    assert_eq!(
        post_action(&app, &city.resident_h1, &whole, "confirm")
            .await
            .status(),
        204
    );
    let r = receipts(&app, &city.officer_a, &whole).await;
    assert_eq!(counts(&r), (HOUSEHOLDS_A, 2, 2));
    let unconfirmed = unconfirmed_ids(&r);
    assert!(!unconfirmed.contains(&city.household_h1_resident));
    assert!(!unconfirmed.contains(&city.household_h2_resident));
    let seen = expect_json(get_post(&app, &city.resident_h1, &whole).await, 200).await;
    assert_eq!(seen["confirmed"], true);
}

/// Every member's place is kept in memory (D83): a household moved to another han reads that
/// han's circulars at once, and no longer the old one's, even with everything warm.
#[tokio::test]
async fn a_household_moved_to_another_han_reads_its_circulars_at_once() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let h1_only = create_id(
        &app,
        &city.officer_a,
        &han_post(&city, &[&city.han_h1], "一班"),
    )
    .await;
    let h2_only = create_id(
        &app,
        &city.officer_a,
        &han_post(&city, &[&city.han_h2], "二班"),
    )
    .await;
    let before = inbox_ids(&app, &city.resident_h1).await;
    assert!(before.contains(&h1_only) && !before.contains(&h2_only));
    let moved = app
        .patch_as(
            &city.officer_a,
            &format!("/api/v1/households/{}", city.household_h1_resident),
            &json!({"han_id": city.han_h2}),
        )
        .await;
    assert_eq!(moved.status(), 200);
    let after = inbox_ids(&app, &city.resident_h1).await;
    assert!(after.contains(&h2_only) && !after.contains(&h1_only));
    assert_outside(&app, &city.resident_h1, &h1_only).await;
}

/// Like a member's confirmation, a paper one makes no sense for a post that asks for none.
#[tokio::test]
async fn paper_confirmation_of_a_post_that_asks_for_no_confirmation_is_refused() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let id = create_id(
        &app,
        &city.officer_a,
        &association_post(&city, "お知らせのみ"),
    )
    .await;
    expect_error(
        paper(&app, &city.han_leader_h1, &id, &city.household_h1_paper).await,
        422,
        "confirmation_not_requested",
    )
    .await;
    assert_eq!(
        counts(&receipts(&app, &city.officer_a, &id).await),
        (HOUSEHOLDS_A, 0, 0)
    );
}

/// A han listed twice is either taken once (201) or refused as bad input (422); it is not a
/// conflict with something that "already exists".
#[tokio::test]
async fn a_han_named_twice_is_taken_once_or_refused() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let response = app
        .post_as(
            &city.officer_a,
            "/api/v1/posts",
            &han_post(&city, &[&city.han_h1, &city.han_h1], "一班へ二度"),
        )
        .await;
    match response.status().as_u16() {
        201 => {
            let post: Value = response.json().await.unwrap();
            assert_eq!(post["han_ids"], json!([city.han_h1]));
            let id = str_field(&post, "id");
            assert_eq!(inbox_ids(&app, &city.resident_h1).await, vec![id.clone()]);
            assert_eq!(
                counts(&receipts(&app, &city.officer_a, &id).await),
                (HOUSEHOLDS_H1, 0, 0)
            );
        }
        422 => {
            assert_eq!(error_code(response).await, "invalid_input");
            assert_eq!(post_rows(&app), 0);
        }
        other => panic!(
            "duplicate han_ids: expected 201 or 422, got {other}: {}",
            response.text().await.unwrap()
        ),
    }
}

#[tokio::test]
async fn a_post_cannot_be_scheduled_years_ahead() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let body = json!({
        "scope": {"kind": "association", "id": city.association_a},
        "title": "来年の総会",
        "body": "日程は追ってお知らせします",
        "publish_at": "9999-12-31T00:00:00Z",
    });
    let response = app.post_as(&city.officer_a, "/api/v1/posts", &body).await;
    assert_eq!(response.status(), 422);
    assert_eq!(error_code(response).await, "invalid_input");
}
