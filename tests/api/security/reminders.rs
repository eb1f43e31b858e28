//! Finding 15: reminders have a cool-down per member and post (or safety check), so nobody
//! can ring every unconfirmed household's phone again and again.

use serde_json::{Value, json};

use crate::fixtures::{Actor, City, expect_json, str_field};
use crate::helpers::{TestApp, error_code, spawn_app};

async fn remind(app: &TestApp, by: &Actor, path: &str) -> reqwest::Response {
    app.post_as(by, &format!("{path}/reminders"), &json!({}))
        .await
}

/// A second reminder within the cool-down: 429 `reminder_too_soon`, with a Retry-After no
/// longer than the cool-down and a message saying when.
async fn assert_too_soon(response: reqwest::Response, cool_down_secs: u64) {
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After in seconds");
    assert!(
        (cool_down_secs - 60..=cool_down_secs).contains(&retry_after),
        "Retry-After {retry_after}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "reminder_too_soon", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("minutes"),
        "{body}"
    );
}

#[tokio::test]
async fn a_second_reminder_for_a_circular_within_six_hours_is_refused() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let body = json!({"scope": {"kind": "association", "id": city.association_a},
                      "title": "回覧: 防災訓練の出欠", "body": "出欠をお知らせください。",
                      "requires_confirmation": true});
    let post = expect_json(
        app.post_as(&city.officer_a, "/api/v1/posts", &body).await,
        201,
    )
    .await;
    let path = format!("/api/v1/posts/{}", str_field(&post, "id"));

    assert_eq!(remind(&app, &city.officer_a, &path).await.status(), 202);
    assert_too_soon(remind(&app, &city.officer_a, &path).await, 6 * 3600).await;
    // The cool-down is the member's own: the chair may still remind once.
    assert_eq!(remind(&app, &city.chair_a, &path).await.status(), 202);
    assert_too_soon(remind(&app, &city.chair_a, &path).await, 6 * 3600).await;
}

#[tokio::test]
async fn a_second_reminder_for_a_safety_check_within_ten_minutes_is_refused() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let body = json!({"scope": {"kind": "association", "id": city.association_a},
                      "message": "地震がありました。ご無事ですか。"});
    let check = expect_json(
        app.post_as(&city.officer_a, "/api/v1/safety-checks", &body)
            .await,
        201,
    )
    .await;
    let path = format!("/api/v1/safety-checks/{}", str_field(&check, "id"));

    assert_eq!(remind(&app, &city.officer_a, &path).await.status(), 202);
    let again = remind(&app, &city.officer_a, &path).await;
    assert_too_soon(again, 600).await;
    assert_eq!(remind(&app, &city.han_leader_h1, &path).await.status(), 202);
    let refused = remind(&app, &city.han_leader_h1, &path).await;
    assert_eq!(error_code(refused).await, "reminder_too_soon");
}
