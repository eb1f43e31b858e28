use crate::helpers::spawn_app;

#[tokio::test]
async fn first_start_loads_the_kanazawa_districts() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/districts").await;
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
    let app = crate::helpers::spawn_app_with(|s| s.database.seed_kanazawa_districts = false).await;
    let body: serde_json::Value = app.get("/api/v1/districts").await.json().await.unwrap();
    assert_eq!(body["items"].as_array().unwrap().len(), 0);
}
