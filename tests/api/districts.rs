use crate::fixtures::create_admin_directly;
use crate::helpers::{TestApp, error_code, spawn_app, spawn_app_with};

async fn admin_get(app: &TestApp, path: &str) -> reqwest::Response {
    create_admin_directly(app, "admin@city.kanazawa.jp", "district admin password");
    let admin = app
        .sign_in("admin@city.kanazawa.jp", "district admin password")
        .await;
    app.get_as(&admin, path).await
}

#[tokio::test]
async fn first_start_loads_the_kanazawa_districts() {
    let app = spawn_app().await;
    let response = admin_get(&app, "/api/v1/districts").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 64);
    let codes: Vec<&str> = items.iter().map(|d| d["code"].as_str().unwrap()).collect();
    let mut sorted = codes.clone();
    sorted.sort_unstable();
    assert_eq!(codes, sorted, "districts come in code order");
    let ioozen = items.iter().find(|d| d["code"] == "KZ05").unwrap();
    assert_eq!(ioozen["name"], "医王山");
    assert_eq!(ioozen["name_kana"], "いおうぜん");
    assert!(ioozen["id"].as_str().unwrap().len() == 36);
}

#[tokio::test]
async fn seeding_can_be_turned_off() {
    let app = spawn_app_with(|s| s.database.seed_kanazawa_districts = false).await;
    let body: serde_json::Value = admin_get(&app, "/api/v1/districts")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn districts_are_for_signed_in_members() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/districts").await;
    assert_eq!(response.status(), 401);
    assert_eq!(error_code(response).await, "unauthorized");
}
