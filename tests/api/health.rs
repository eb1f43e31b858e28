use crate::helpers::spawn_app;

#[tokio::test]
async fn livez_answers_without_the_database() {
    let app = spawn_app().await;
    let response = app.get("/livez").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"status": "ok"}));
}

#[tokio::test]
async fn readyz_reports_the_backend_in_use() {
    let app = spawn_app().await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    let expected = if app.database.is_postgres() {
        "postgres"
    } else {
        "sqlite"
    };
    assert_eq!(body["database"], expected);
}

#[tokio::test]
async fn openapi_document_and_browsable_page_are_served() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/openapi.json").await;
    assert_eq!(response.status(), 200);
    let doc: serde_json::Value = response.json().await.unwrap();
    assert!(doc["paths"]["/api/v1/districts"]["get"].is_object());
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    let page = app.get("/api/v1/docs/").await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("swagger"));
}

#[tokio::test]
async fn committed_openapi_snapshot_is_current() {
    let generated = serde_json::to_string_pretty(&kairan::openapi::document()).unwrap();
    let committed = std::fs::read_to_string("docs/openapi.json").unwrap_or_default();
    if std::env::var("UPDATE_OPENAPI").is_ok() {
        std::fs::write("docs/openapi.json", format!("{generated}\n")).unwrap();
        return;
    }
    assert!(
        committed.trim_end() == generated,
        "docs/openapi.json is stale: run `UPDATE_OPENAPI=1 cargo test committed_openapi_snapshot_is_current` and review the diff"
    );
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let app = spawn_app().await;
    for path in ["/livez", "/api/v1/districts", "/no/such/route"] {
        let response = app.get(path).await;
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert!(headers.contains_key("strict-transport-security"), "{path}");
    }
}
