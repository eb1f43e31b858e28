//! A refused form in a browser (D73): a survey answer that leaves a required question blank
//! comes back with the summary at the top of the form, its link named by the message, the
//! message tied to the question's first choice, the number typed kept, and axe clean; the
//! password form the same, with nothing typed drawn again.

use chrono::{Duration, Utc};
use serde_json::json;

use super::{Browser, Options};
use crate::fixtures::{City, expect_json, str_field};
use crate::helpers::spawn_app;

#[tokio::test]
async fn a_survey_answer_missing_a_required_question_is_named_there_and_nothing_is_stored() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let body = json!({
        "scope": {"kind": "association", "id": city.association_a},
        "title": "秋祭りの出欠",
        "body": "参加できるかお知らせください。",
        "category": "survey",
        "questions": [
            {"kind": "single_choice", "prompt": "出欠", "options": ["出席", "欠席"], "required": true},
            {"kind": "number", "prompt": "参加人数"},
        ],
        "answers_until": (Utc::now() + Duration::days(7)).to_rfc3339(),
    });
    let created = app.post_as(&city.officer_a, "/api/v1/posts", &body).await;
    let created = expect_json(created, 201).await;
    let post = str_field(&created, "id");
    let attend = str_field(&created["questions"][0], "id");
    let actor = &city.resident_h1;
    let Some(browser) = Browser::open(&app, Options::phone()).await else {
        return;
    };
    browser.goto("/login").await;
    browser.fill("ログインID", &actor.login).await;
    browser.fill("パスワード", &actor.password).await;
    browser.click_button("ログイン").await;
    browser.goto(&format!("/posts/{post}")).await;
    browser.heading("秋祭りの出欠").await;

    browser.fill("参加人数", "3").await;
    browser.click_button("回答する").await;
    let message = "「出欠」に答えてください。";
    browser.heading("入力内容を確認してください").await;
    let link = browser.link(message).await;
    let target = format!("#q-{attend}-0");
    let href = link.attr("href").await.unwrap().unwrap_or_default();
    assert!(href.ends_with(&target), "{href}");
    let first = browser.by_role("radio", "出席").await;
    assert_eq!(
        first.attr("aria-invalid").await.unwrap().as_deref(),
        Some("true")
    );
    let number = browser.field("参加人数").await;
    assert_eq!(number.prop("value").await.unwrap().as_deref(), Some("3"));
    browser.assert_accessible("a refused survey answer").await;

    // The password form: a wrong current password, named beside it; nothing typed kept.
    browser.goto("/settings").await;
    browser.fill("今のパスワード", "not-the-password").await;
    browser
        .fill("新しいパスワード", "a-much-better-secret-9")
        .await;
    browser.click_button("パスワードを変更").await;
    browser.link("今のパスワードが違います。").await;
    let current = browser.field("今のパスワード").await;
    assert_eq!(
        current.attr("aria-invalid").await.unwrap().as_deref(),
        Some("true")
    );
    assert_eq!(current.prop("value").await.unwrap().as_deref(), Some(""));
    browser.assert_accessible("a refused password change").await;
    browser.close().await;

    let mine = app
        .get_as(actor, &format!("/api/v1/posts/{post}/answers/mine"))
        .await;
    assert_eq!(mine.status(), 404, "no answer stored");
    assert_eq!(app.login(&actor.login, &actor.password).await.status(), 200);
}
