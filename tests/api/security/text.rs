//! Finding 12: one rule for text everywhere (`domain::text`): control characters (but line
//! breaks and tabs in several-line text), bidi overrides and isolates, and zero-width
//! characters that join nothing are refused in the JSON API, the pages and the roster CSV.

use serde_json::{Value, json};

use crate::fixtures::{City, PASSWORD, expect_json};
use crate::helpers::{TestApp, error_code, spawn_app};
use crate::pages_officer::{signed_in, submit};

fn post(title: &str, body: &str, option: &str, city: &City) -> Value {
    json!({
        "scope": {"kind": "association", "id": city.association_a},
        "title": title,
        "body": body,
        "questions": [{"kind": "single_choice", "prompt": "出欠", "options": ["出席", option]}],
    })
}

async fn household_labels(app: &TestApp, city: &City) -> Vec<String> {
    let path = format!("/api/v1/associations/{}/households", city.association_a);
    let list = expect_json(app.get_as(&city.admin, &path).await, 200).await;
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["label"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_api_refuses_hidden_characters_in_titles_bodies_options_names_and_labels() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let posts = [
        post("\u{1b}[2J清掃のお知らせ", "日曜 8時", "欠席", &city),
        post("清掃のお知らせ", "日曜 8時\u{7}", "欠席", &city),
        post("清掃のお知らせ", "日曜\u{202E}8時", "欠席", &city),
        post("清掃のお知らせ", "日曜 8時", "\u{202E}席欠", &city),
        post("清掃の\u{200B}お知らせ", "日曜 8時", "欠席", &city),
    ];
    for body in &posts {
        let response = app.post_as(&city.officer_a, "/api/v1/posts", body).await;
        assert_eq!(response.status(), 422, "{body}");
        assert_eq!(error_code(response).await, "invalid_input", "{body}");
    }
    let inbox = expect_json(app.get_as(&city.resident_h1, "/api/v1/me/inbox").await, 200).await;
    assert_eq!(inbox["items"], json!([]), "nothing was published");

    let before = household_labels(&app, &city).await;
    let path = format!("/api/v1/associations/{}/households", city.association_a);
    for label in ["田\u{200B}中", "\u{2067}田中", "田中\u{1b}", "\u{FEFF}=1+1"] {
        let response = app
            .post_as(&city.officer_a, &path, &json!({"label": label}))
            .await;
        assert_eq!(response.status(), 422, "{label:?}");
    }
    assert_eq!(household_labels(&app, &city).await, before);

    // Emoji sequences keep their joiners; several-line text keeps breaks and tabs.
    let family = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467} 田中";
    expect_json(
        app.post_as(&city.officer_a, &path, &json!({"label": family}))
            .await,
        201,
    )
    .await;
    let fine = post("清掃のお知らせ", "日曜 8時\r\n\t公園に集合", "欠席", &city);
    let created = expect_json(
        app.post_as(&city.officer_a, "/api/v1/posts", &fine).await,
        201,
    )
    .await;
    assert_eq!(created["body"], "日曜 8時\n\t公園に集合");

    let (_, code) = app
        .invite(&city.officer_a, &city.association_a, json!({}))
        .await;
    let response = app
        .register(
            Some(&code),
            "reversed@kairan.test",
            PASSWORD,
            "\u{202E}oof\u{202C}",
        )
        .await;
    assert_eq!(response.status(), 422);
}

#[tokio::test]
async fn the_pages_refuse_the_same_characters() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let before = household_labels(&app, &city).await;
    let mut officer = signed_in(&app, &city.officer_a).await;
    for label in ["田\u{200B}中", "田中\u{7}"] {
        let fields = [("label", label), ("han", "")];
        let (status, _) = submit(
            &app,
            &mut officer,
            "/officer/roster",
            "/officer/roster/households",
            &fields,
        )
        .await;
        assert_eq!(status, 422, "{label:?}");
    }
    assert_eq!(household_labels(&app, &city).await, before);
}

#[tokio::test]
async fn a_roster_file_with_escape_or_bell_is_refused_naming_the_line() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let before = household_labels(&app, &city).await;
    let path = format!("/api/v1/associations/{}/roster.csv", city.association_a);
    for (file, bad) in [
        (
            "han,label,paper\n一班,山田,no\n二班,鈴木\u{1b}[31m,no\n",
            "line 3",
        ),
        ("han,label,paper\n一\u{7}班,山田,no\n", "line 2"),
        ("han,label\n一班,山田\n一班,\u{202E}田中\n", "line 3"),
    ] {
        let response = app
            .client
            .post(app.url(&path))
            .bearer_auth(&city.officer_a.access_token)
            .header("content-type", "text/csv")
            .body(file.to_string())
            .send()
            .await
            .unwrap();
        let error = expect_json(response, 422).await;
        assert_eq!(error["error"], "invalid_csv", "{file:?}");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(bad), "{message}");
    }
    assert_eq!(household_labels(&app, &city).await, before);
}
