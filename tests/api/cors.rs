use crate::helpers::{TestApp, error_code, spawn_app, spawn_app_with};

const ALLOWED: &str = "https://kairan.example.jp";

async fn app_allowing_one_origin() -> TestApp {
    spawn_app_with(|s| s.server.cors_allowed_origins = vec![ALLOWED.into()]).await
}

async fn preflight(app: &TestApp, origin: &str, method: &str, headers: &str) -> reqwest::Response {
    app.client
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/posts"))
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", headers)
        .send()
        .await
        .unwrap()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn an_allowed_origin_gets_cors_headers() {
    let app = app_allowing_one_origin().await;
    let response = app
        .client
        .get(app.url("/api/v1/districts"))
        .header("origin", ALLOWED)
        .send()
        .await
        .unwrap();
    // The request itself still needs a token; the browser may read the refusal.
    assert_eq!(response.status(), 401);
    assert_eq!(
        header(&response, "access-control-allow-origin"),
        Some(ALLOWED)
    );
    assert!(header(&response, "vary").is_some_and(|v| v.to_lowercase().contains("origin")));
    assert!(
        header(&response, "access-control-expose-headers")
            .is_some_and(|v| v.to_lowercase().contains("retry-after"))
    );
    assert_eq!(header(&response, "access-control-allow-credentials"), None);
}

#[tokio::test]
async fn preflight_from_an_allowed_origin_names_the_methods_and_headers() {
    let app = app_allowing_one_origin().await;
    let response = preflight(
        &app,
        ALLOWED,
        "POST",
        "authorization, content-type, idempotency-key",
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "access-control-allow-origin"),
        Some(ALLOWED)
    );
    let methods = header(&response, "access-control-allow-methods")
        .unwrap()
        .to_uppercase();
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
        assert!(methods.contains(method), "{method} in {methods}");
    }
    let headers = header(&response, "access-control-allow-headers")
        .unwrap()
        .to_lowercase();
    for name in ["authorization", "content-type", "idempotency-key"] {
        assert!(headers.contains(name), "{name} in {headers}");
    }
    assert_eq!(header(&response, "access-control-max-age"), Some("3600"));
}

#[tokio::test]
async fn a_refused_origin_gets_no_cors_headers_and_a_json_preflight_refusal() {
    let app = app_allowing_one_origin().await;
    let response = preflight(&app, "https://evil.example.com", "POST", "authorization").await;
    assert_eq!(response.status(), 400);
    assert_eq!(header(&response, "access-control-allow-origin"), None);
    assert_eq!(header(&response, "x-content-type-options"), Some("nosniff"));
    assert_eq!(error_code(response).await, "cors_refused");

    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("origin", "https://evil.example.com")
        .json(&serde_json::json!({"login": "a@example.jp", "password": "whatever-password"}))
        .send()
        .await
        .unwrap();
    // Answered as for any non-browser client, but without the header a browser needs
    // before it lets the page read the answer.
    assert_eq!(response.status(), 401);
    assert_eq!(header(&response, "access-control-allow-origin"), None);
}

#[tokio::test]
async fn preflight_asking_for_an_unlisted_header_is_refused() {
    let app = app_allowing_one_origin().await;
    let response = preflight(&app, ALLOWED, "POST", "x-custom-thing").await;
    assert_eq!(response.status(), 400);
    assert_eq!(error_code(response).await, "cors_refused");
}

#[tokio::test]
async fn without_configured_origins_there_are_no_cors_headers() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/livez"))
        .header("origin", ALLOWED)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "access-control-allow-origin"), None);
    let response = preflight(&app, ALLOWED, "POST", "authorization").await;
    assert_eq!(header(&response, "access-control-allow-origin"), None);
}
