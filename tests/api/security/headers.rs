//! Finding 16: personal answers are not cached; the Swagger page has a CSP. Finding 13: the
//! roster import asks for permission before it reads the file.

use serde_json::json;

use crate::fixtures::{City, expect_json, str_field};
use crate::helpers::{error_code, spawn_app};

fn cache_control(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn roster_and_receipt_answers_are_not_stored_by_caches() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let a = &city.association_a;
    let post = expect_json(
        app.post_as(
            &city.officer_a,
            "/api/v1/posts",
            &json!({"scope": {"kind": "association", "id": a}, "title": "回覧", "body": "本文"}),
        )
        .await,
        201,
    )
    .await;
    let post = str_field(&post, "id");
    for path in [
        format!("/api/v1/associations/{a}/roster.csv"),
        format!("/api/v1/associations/{a}/households"),
        format!("/api/v1/associations/{a}/members"),
        format!("/api/v1/posts/{post}/receipts"),
        format!("/api/v1/posts/{post}/receipts.csv"),
    ] {
        let response = app.get_as(&city.officer_a, &path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert!(cache_control(&response).contains("no-store"), "{path}");
    }
}

#[tokio::test]
async fn the_swagger_page_has_a_content_security_policy() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/docs/").await;
    assert_eq!(response.status(), 200);
    let csp = response
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
}

#[tokio::test]
async fn a_resident_importing_a_roster_gets_403_even_for_a_broken_file() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let response = app
        .client
        .post(app.url(&format!(
            "/api/v1/associations/{}/roster.csv",
            city.association_a
        )))
        .bearer_auth(&city.resident_h1.access_token)
        .header("content-type", "text/csv")
        .body("\"unterminated,\n\u{0}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(error_code(response).await, "forbidden");
}
