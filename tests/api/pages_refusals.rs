//! The remaining page forms refuse as compose does (D63): a form the use case refuses comes
//! back with 422, a summary at its top linking to the field, the message beside the field
//! (`aria-invalid`, `aria-describedby`) in the member's language, what was typed kept (never
//! a password), and nothing changed, as the JSON API then shows.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::email::spawn_with_mail;
use crate::fixtures::{City, expect_json, str_field};
use crate::helpers::{TestApp, spawn_app};
use crate::pages::{Jar, csrf_of};
use crate::pages_forms::{beside, summarised};
use crate::pages_tools::signed_in;

/// The page's token and the page.
async fn open(app: &TestApp, jar: &mut Jar, path: &str) -> String {
    let (answer, page) = jar.get(app, path).await;
    assert_eq!(answer.status, 200, "{page}");
    csrf_of(&page)
}

/// Posts a form and expects it drawn again with 422.
async fn refused(app: &TestApp, jar: &mut Jar, path: &str, form: &[(&str, &str)]) -> String {
    let response = jar.post(app, path, form).await;
    assert_eq!(response.status(), 422, "{path}");
    response.text().await.unwrap()
}

/// The message is beside the field `id`, in the summary, and the field says so.
fn named(page: &str, id: &str, message: &str) {
    assert!(beside(page, id, message), "{message} beside {id}: {page}");
    assert!(summarised(page, id, message), "{message} in the summary");
    assert!(
        page.contains(&format!(r#"aria-describedby="{id}-error""#))
            || page.contains(&format!(r#" {id}-error""#)),
        "{id} is described by its error"
    );
    assert!(page.contains(r#"aria-invalid="true""#));
}

async fn english(app: &TestApp, jar: &mut Jar) {
    let csrf = open(app, jar, "/settings").await;
    let form = [
        ("csrf", csrf.as_str()),
        ("language", "en"),
        ("text_size", "standard"),
    ];
    assert_eq!(jar.post(app, "/settings", &form).await.status(), 303);
}

#[tokio::test]
async fn starting_a_safety_check_with_a_blank_message_keeps_the_audience_and_starts_nothing() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let mut jar = signed_in(&app, &city.officer_a).await;
    let csrf = open(&app, &mut jar, "/officer/safety/new").await;
    let audience = format!("han:{}", city.han_h1);
    let form = [
        ("csrf", csrf.as_str()),
        ("audience", audience.as_str()),
        ("message", "   "),
    ];
    let page = refused(&app, &mut jar, "/officer/safety/new", &form).await;
    named(&page, "safety-message", "伝えることを入力してください。");
    assert!(page.contains(&format!(r#"<option value="{audience}" selected>"#)));

    // An audience not offered and a message too long: both at once, in English.
    english(&app, &mut jar).await;
    let long = "あ".repeat(1001);
    let form = [
        ("csrf", csrf.as_str()),
        ("audience", "city"),
        ("message", long.as_str()),
    ];
    let page = refused(&app, &mut jar, "/officer/safety/new", &form).await;
    named(
        &page,
        "safety-message",
        "Message must be at most 1000 characters.",
    );
    assert!(summarised(
        &page,
        "safety-audience",
        "Choose who receives it"
    ));
    assert!(page.contains(&format!(">{long}</textarea>")));

    let checks = expect_json(
        app.get_as(&city.officer_a, "/api/v1/safety-checks").await,
        200,
    )
    .await;
    assert_eq!(checks["items"], json!([]), "nothing started");
}

#[tokio::test]
async fn an_invitation_outside_its_limits_is_refused_beside_the_field_and_none_is_made() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let path = format!("/api/v1/associations/{}/invitations", city.association_a);
    let before = expect_json(app.get_as(&city.officer_a, &path).await, 200).await;
    let mut jar = signed_in(&app, &city.officer_a).await;
    let csrf = open(&app, &mut jar, "/officer/invitations").await;
    let form = [
        ("csrf", csrf.as_str()),
        ("role", "resident"),
        ("uses", "5000"),
        ("days", "30"),
    ];
    let page = refused(&app, &mut jar, "/officer/invitations", &form).await;
    named(
        &page,
        "invitation-uses",
        "使える回数は1から1000までの数で入力してください。",
    );
    assert!(page.contains(r#"name="uses" value="5000""#));
    assert!(page.contains(r#"name="days" value="30""#));

    let form = [
        ("csrf", csrf.as_str()),
        ("role", "resident"),
        ("uses", "3"),
        ("days", "91"),
    ];
    let page = refused(&app, &mut jar, "/officer/invitations", &form).await;
    named(
        &page,
        "invitation-days",
        "使える日数は1から90までの数で入力してください。",
    );
    assert!(page.contains(r#"name="uses" value="3""#));

    // Only the chair invites officers: said at the role, which stays chosen.
    let form = [
        ("csrf", csrf.as_str()),
        ("role", "officer"),
        ("uses", "1"),
        ("days", "14"),
    ];
    let page = refused(&app, &mut jar, "/officer/invitations", &form).await;
    named(
        &page,
        "invitation-role",
        "役員と会長の招待は会長だけが作れます。",
    );
    assert!(page.contains(r#"<option value="officer" selected>"#));

    let list = expect_json(app.get_as(&city.officer_a, &path).await, 200).await;
    assert_eq!(list, before, "none made");
    // The API names the same field.
    let body = json!({"max_uses": 5000});
    let answer = expect_json(app.post_as(&city.officer_a, &path, &body).await, 422).await;
    assert_eq!(answer["field"], "max_uses");
}

#[tokio::test]
async fn a_wrong_or_weak_password_is_named_beside_its_field_and_never_drawn_again() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let actor = &city.resident_h1;
    let mut jar = signed_in(&app, actor).await;
    let csrf = open(&app, &mut jar, "/settings").await;
    let form = [
        ("csrf", csrf.as_str()),
        ("current_password", "not-the-password"),
        ("new_password", "a-much-better-secret-9"),
    ];
    let page = refused(&app, &mut jar, "/settings/password", &form).await;
    named(&page, "current-password", "今のパスワードが違います。");
    assert!(!page.contains("not-the-password") && !page.contains("a-much-better-secret-9"));

    let form = [
        ("csrf", csrf.as_str()),
        ("current_password", actor.password.as_str()),
        ("new_password", "short"),
    ];
    let page = refused(&app, &mut jar, "/settings/password", &form).await;
    named(
        &page,
        "new-password",
        "新しいパスワードは8文字以上で、推測されにくいものにしてください。",
    );
    assert!(!page.contains(&format!(r#"value="{}""#, actor.password)));

    english(&app, &mut jar).await;
    let form = [
        ("csrf", csrf.as_str()),
        ("current_password", ""),
        ("new_password", "a-much-better-secret-9"),
    ];
    let page = refused(&app, &mut jar, "/settings/password", &form).await;
    named(&page, "current-password", "Enter Current password.");

    // Nothing changed: the old password still signs in.
    assert_eq!(app.login(&actor.login, &actor.password).await.status(), 200);
}

#[tokio::test]
async fn a_refused_email_address_or_preference_is_kept_beside_its_field_and_nothing_is_stored() {
    let (app, _smtp) = spawn_with_mail().await;
    let city = City::build(&app).await;
    let actor = &city.resident_h1;
    let mut jar = signed_in(&app, actor).await;
    let csrf = open(&app, &mut jar, "/settings").await;
    let form = [("csrf", csrf.as_str()), ("email", "not an address")];
    let page = refused(&app, &mut jar, "/settings/email", &form).await;
    named(&page, "email", "メールアドレスの内容を確かめてください。");
    assert!(page.contains(r#"value="not an address""#));
    let email = app.get_as(actor, "/api/v1/me/email").await;
    assert_eq!(email.status(), 404, "no address stored");

    let form = [
        ("csrf", csrf.as_str()),
        ("language", "klingon"),
        ("text_size", "large"),
    ];
    let page = refused(&app, &mut jar, "/settings", &form).await;
    named(&page, "language", "言語の内容を確かめてください。");
    let (_, settings) = jar.get(&app, "/settings").await;
    assert!(
        settings.contains(r#"<html lang="ja""#),
        "language unchanged"
    );
    assert!(!settings.contains("text-large"), "size unchanged");

    // LINE cannot be chosen before it is linked.
    let form = [("csrf", csrf.as_str()), ("push", "on"), ("line", "on")];
    let page = refused(&app, &mut jar, "/settings/channels", &form).await;
    named(
        &page,
        "channel-push",
        "お知らせの受け取り方の内容を確かめてください。",
    );
    assert!(page.contains(r#"id="channel-push" name="push" value="on" checked"#));
    let prefs = app
        .get_as(actor, "/api/v1/me/notification-preferences")
        .await;
    let prefs: Value = expect_json(prefs, 200).await;
    assert!(!prefs["channels"].to_string().contains("line"));
}

#[tokio::test]
async fn a_survey_answer_out_of_range_or_missing_is_named_at_its_question_and_kept() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let body = json!({
        "scope": {"kind": "association", "id": city.association_a},
        "title": "秋祭りの出欠",
        "body": "参加できるかお知らせください。",
        "category": "survey",
        "questions": [
            {"kind": "single_choice", "prompt": "出欠", "options": ["出席", "欠席"], "required": true},
            {"kind": "number", "prompt": "参加人数", "required": true},
            {"kind": "short_text", "prompt": "ご意見"},
        ],
        "answers_until": (Utc::now() + Duration::days(7)).to_rfc3339(),
    });
    let created = app.post_as(&city.officer_a, "/api/v1/posts", &body).await;
    let created = expect_json(created, 201).await;
    let post = str_field(&created, "id");
    let q: Vec<String> = created["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| str_field(q, "id"))
        .collect();
    let actor = &city.resident_h1;
    let mut jar = signed_in(&app, actor).await;
    let path = format!("/posts/{post}");
    let csrf = open(&app, &mut jar, &path).await;
    let (attend, people, note) = (
        format!("q-{}", q[0]),
        format!("q-{}", q[1]),
        format!("q-{}", q[2]),
    );
    let answers = format!("/posts/{post}/answers");

    let form = [
        ("csrf", csrf.as_str()),
        (attend.as_str(), "0"),
        (people.as_str(), "20000"),
        (note.as_str(), "楽しみです"),
    ];
    let page = refused(&app, &mut jar, &answers, &form).await;
    named(
        &page,
        &people,
        "参加人数は0から10000までの数で入力してください。",
    );
    assert!(page.contains(r#"value="20000""#) && page.contains(r#"value="楽しみです""#));
    assert!(page.contains(&format!(
        r#"id="{attend}-0" name="{attend}" value="0" checked"#
    )));

    let form = [("csrf", csrf.as_str()), (people.as_str(), "2")];
    let page = refused(&app, &mut jar, &answers, &form).await;
    let first = format!("{attend}-0");
    named(&page, &first, "「出欠」に答えてください。");
    assert!(page.contains(r#"value="2""#));

    let mine = app
        .get_as(actor, &format!("/api/v1/posts/{post}/answers/mine"))
        .await;
    assert_eq!(mine.status(), 404, "nothing stored");
}
