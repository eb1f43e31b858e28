use crate::helpers::{error_code, spawn_app};

#[tokio::test]
async fn unknown_route_is_a_json_404() {
    let app = spawn_app().await;
    for path in ["/nope", "/api/v1/nope", "/api/v2/districts"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(error_code(response).await, "not_found");
    }
}

#[tokio::test]
async fn wrong_method_is_a_json_error() {
    let app = spawn_app().await;
    let response = app
        .client
        .delete(app.url("/api/v1/districts"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(
        response
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok()),
        Some("GET")
    );
    assert_eq!(error_code(response).await, "method_not_allowed");
}

async fn post_raw(
    app: &crate::helpers::TestApp,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn unreadable_json_bodies_get_clear_json_errors() {
    let app = spawn_app().await;
    let login = "/api/v1/auth/login";
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "application/json",
            b"{\"login\": ".to_vec(),
            400,
            "malformed_json",
        ),
        (
            "application/json",
            b"not json at all".to_vec(),
            400,
            "malformed_json",
        ),
        (
            "application/json",
            b"{\"login\": \"\xff\xfe\", \"password\": \"x\"}".to_vec(),
            400,
            "malformed_json",
        ),
        (
            "application/json",
            br#"{"login": 12, "password": "secret-pass"}"#.to_vec(),
            422,
            "invalid_field",
        ),
        (
            "application/json",
            br#"{"password": "secret-pass"}"#.to_vec(),
            422,
            "invalid_field",
        ),
        (
            "text/plain",
            br#"{"login": "a@b.jp", "password": "secret-pass"}"#.to_vec(),
            415,
            "unsupported_media_type",
        ),
    ];
    for (content_type, body, status, code) in cases {
        let response = post_raw(&app, login, content_type, body.clone()).await;
        assert_eq!(
            response.status(),
            status,
            "{}",
            String::from_utf8_lossy(&body)
        );
        assert_eq!(
            error_code(response).await,
            code,
            "{}",
            String::from_utf8_lossy(&body)
        );
    }
}

#[tokio::test]
async fn a_json_body_over_64_kib_is_refused_with_413() {
    let app = spawn_app().await;
    let huge = serde_json::json!({"login": "a".repeat(70 * 1024), "password": "secret-pass"});
    let response = post_raw(
        &app,
        "/api/v1/auth/login",
        "application/json",
        serde_json::to_vec(&huge).unwrap(),
    )
    .await;
    assert_eq!(response.status(), 413);
    assert_eq!(error_code(response).await, "payload_too_large");
}

#[tokio::test]
async fn unknown_fields_are_refused_rather_than_ignored() {
    let app = spawn_app().await;
    let body = serde_json::json!({"login": "a@b.jp", "password": "long enough", "display_name": "x", "is_admin": true});
    let response = post_raw(
        &app,
        "/api/v1/auth/register",
        "application/json",
        serde_json::to_vec(&body).unwrap(),
    )
    .await;
    assert_eq!(response.status(), 422);
    assert_eq!(error_code(response).await, "invalid_field");
}

#[tokio::test]
async fn a_sign_in_flood_waits_for_a_hashing_slot_then_gets_503_with_retry_after() {
    // One slot, no queueing, and OWASP-cost hashes so each sign-in holds the slot a while.
    let app = crate::helpers::spawn_app_with(|s| {
        s.auth.hash_concurrency = 1;
        s.auth.hash_queue_timeout_ms = 0;
        s.password.argon2_memory_kib = 19_456;
        s.password.argon2_iterations = 2;
    })
    .await;
    let attempts = (0..8).map(|i| {
        let body = serde_json::json!({"login": format!("nobody{i}@example.jp"), "password": "not the password"});
        app.client.post(app.url("/api/v1/auth/login")).json(&body).send()
    });
    let responses = futures_util::future::join_all(attempts).await;
    let mut refused = 0;
    for response in responses {
        let response = response.unwrap();
        match response.status().as_u16() {
            401 => {}
            503 => {
                assert!(response.headers().contains_key("retry-after"));
                assert_eq!(error_code(response).await, "service_unavailable");
                refused += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(refused > 0, "some sign-ins found the only slot taken");
    assert!(refused < 8, "at least one sign-in was hashed");
}
