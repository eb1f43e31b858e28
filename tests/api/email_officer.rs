//! What an officer sees of a circular's mails: per channel sent, failed and waiting, and
//! when mails failed, why, in the officer's own language, in the JSON (deliveries and
//! receipts) and on the receipts page of `/officer`.

use kairan::db::models::MemberPreferences;
use kairan::db::now;
use kairan::db::queries::web::save_preferences;
use kairan::domain::{Language, MemberId, TextSize};
use serde_json::{Value, json};

use crate::email::{drain_mail, spawn_with_mail, verified_email};
use crate::fixtures::{Actor, City, expect_json, str_field};
use crate::helpers::TestApp;
use crate::pages_officer::signed_in;
use crate::smtp_server::Answer;

async fn publish(app: &TestApp, city: &City) -> String {
    let body = json!({
        "scope": {"kind": "association", "id": city.association_a},
        "title": "資源回収のお知らせ",
        "body": "土曜日に資源回収をします。",
        "requires_confirmation": true,
    });
    let created = expect_json(
        app.post_as(&city.officer_a, "/api/v1/posts", &body).await,
        201,
    )
    .await;
    str_field(&created, "id")
}

fn reads(app: &TestApp, actor: &Actor, language: Language) {
    save_preferences(
        &mut app.db.get().unwrap(),
        &MemberPreferences {
            member_id: MemberId(actor.id.clone()),
            language,
            text_size: TextSize::Standard,
            high_contrast: false,
            updated_at: now(),
        },
    )
    .unwrap();
}

#[tokio::test]
async fn an_officer_sees_how_many_mails_failed_and_why_in_their_language() {
    let (app, smtp) = spawn_with_mail().await;
    let city = City::build(&app).await;
    verified_email(&app, &smtp, &city.resident_h1, "h1@example.jp").await;
    verified_email(&app, &smtp, &city.resident_h2, "h2@example.jp").await;

    // Every mail of this circular is refused for good (550).
    smtp.answer(Answer::Refuse);
    let post = publish(&app, &city).await;
    drain_mail(&app).await;

    let figures = expect_json(
        app.get_as(&city.officer_a, &format!("/api/v1/posts/{post}/deliveries"))
            .await,
        200,
    )
    .await;
    let email = &figures["channels"]["email"];
    assert!(email["failed"].as_i64().unwrap() >= 2, "{figures}");
    assert_eq!(email["sent"], 0, "{figures}");
    assert_eq!(email["pending"], 0, "{figures}");
    let failures = figures["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{figures}");
    assert_eq!(failures[0]["channel"], "email");
    assert_eq!(failures[0]["reason"], "refused");
    let failed = failures[0]["count"].as_i64().unwrap();
    assert_eq!(Some(failed), email["failed"].as_i64());

    // The receipts carry the same figures for the circular's officer …
    let receipts = expect_json(
        app.get_as(&city.officer_a, &format!("/api/v1/posts/{post}/receipts"))
            .await,
        200,
    )
    .await;
    assert_eq!(receipts["deliveries"]["failures"], figures["failures"]);
    // … and none for the 班長, who follows the receipts without managing the circular.
    let followed = expect_json(
        app.get_as(
            &city.han_leader_h1,
            &format!("/api/v1/posts/{post}/receipts"),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(followed["deliveries"], Value::Null, "{followed}");

    // The page says it in Japanese …
    let mut jar = signed_in(&app, &city.officer_a).await;
    let page_path = format!("/officer/posts/{post}/receipts");
    let (answer, page) = jar.get(&app, &page_path).await;
    assert_eq!(answer.status, 200);
    assert!(page.contains("お知らせの配信"), "{page}");
    assert!(
        page.contains(&format!(
            "{failed} 通のメールが送れませんでした: メールサーバーが受け取りを拒否しました"
        )),
        "{page}"
    );

    // … and in English to an officer who reads English.
    reads(&app, &city.officer_a, Language::En);
    let (_, page) = jar.get(&app, &page_path).await;
    assert!(
        page.contains(&format!(
            "{failed} emails could not be sent: the mail server refused them"
        )),
        "{page}"
    );
    assert!(!page.contains("メールサーバー"), "{page}");
}

#[tokio::test]
async fn a_circular_whose_mails_all_went_shows_no_failure() {
    let (app, smtp) = spawn_with_mail().await;
    let city = City::build(&app).await;
    verified_email(&app, &smtp, &city.resident_h1, "h1@example.jp").await;
    let post = publish(&app, &city).await;
    drain_mail(&app).await;
    let figures = expect_json(
        app.get_as(&city.officer_a, &format!("/api/v1/posts/{post}/deliveries"))
            .await,
        200,
    )
    .await;
    assert_eq!(figures["failures"], json!([]), "{figures}");
    assert!(figures["channels"]["email"]["sent"].as_i64().unwrap() >= 1);
    let mut jar = signed_in(&app, &city.officer_a).await;
    let (_, page) = jar
        .get(&app, &format!("/officer/posts/{post}/receipts"))
        .await;
    assert!(page.contains("お知らせの配信"), "{page}");
    assert!(!page.contains("送れませんでした"), "{page}");
}
