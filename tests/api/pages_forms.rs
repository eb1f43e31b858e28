//! Page forms over plain HTTP (a browser without JavaScript): a field the use case refuses is
//! named beside the field (`aria-invalid`, `aria-describedby`) and in a summary linking to
//! it, in the member's language, with what was typed kept and nothing stored; a draft's
//! audience, title and text changed on its page and over `PATCH`, then sent; the large-print
//! view by the receipts' rule.

use diesel::prelude::*;
use kairan::db::schema::{attachments, posts};
use serde_json::{Value, json};

use crate::districts::inbox_titles;
use crate::fixtures::{Actor, City, expect_json, str_field};
use crate::helpers::{TestApp, spawn_app};
use crate::pages::{Jar, csrf_of};
use crate::pages_tools::{PDF, Part, compose, signed_in};

fn counts(app: &TestApp) -> (i64, i64) {
    let conn = &mut app.db.get().unwrap();
    let posts = posts::table.count().get_result(conn).unwrap();
    let files = attachments::table.count().get_result(conn).unwrap();
    (posts, files)
}

/// The error text beside the field `id`, as `field_error.html` writes it.
pub(crate) fn beside(page: &str, id: &str, message: &str) -> bool {
    page.contains(&format!(
        r#"id="{id}-error"><span class="error-mark" aria-hidden="true">!</span> {message}</p>"#
    ))
}

/// The summary at the top links to the field.
pub(crate) fn summarised(page: &str, id: &str, message: &str) -> bool {
    let Some(start) = page.find(r#"<div class="error-summary" role="alert""#) else {
        return false;
    };
    let summary = &page[start..start + page[start..].find("</div>").unwrap()];
    summary.contains(&format!(r##"<a href="#{id}">{message}</a>"##))
}

#[tokio::test]
async fn a_refused_field_is_named_beside_it_and_in_the_summary_and_nothing_is_sent() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let mut jar = signed_in(&app, &city.officer_a).await;
    let csrf = csrf_of(&jar.get(&app, "/officer/posts/new").await.1);
    let form = |title: &'static str, options: &'static str| {
        vec![
            Part::Text("csrf", &csrf),
            Part::Text("audience", "association"),
            Part::Text("title", title),
            Part::Text("body", "公民館で新年会をします。"),
            Part::Text("requires_confirmation", "on"),
            Part::Text("question", "出欠"),
            Part::Text("options", options),
            Part::File("案内.pdf", "application/pdf", PDF),
        ]
    };

    // A blank title: the draft's own rule refuses it, named as `title`.
    let (status, page) = compose(&app, &mut jar, &form("  ", "出席\n欠席")).await;
    assert_eq!(status, 422);
    assert!(
        beside(&page, "compose-title", "題名を入力してください。"),
        "{page}"
    );
    assert!(summarised(
        &page,
        "compose-title",
        "題名を入力してください。"
    ));
    assert!(page.contains(
        r#"name="title" type="text" maxlength="200" required value="  " aria-describedby="compose-title-error" aria-invalid="true""#
    ));
    // What was written stays; the file must be chosen again, and the page says so.
    assert!(page.contains(">公民館で新年会をします。</textarea>"));
    assert!(page.contains("出席\n欠席</textarea>"));
    assert!(page.contains(r#"name="requires_confirmation" value="on" checked"#));
    assert!(page.contains("選んでいたファイル「案内.pdf」はまだ保存されていません。"));
    assert_eq!(counts(&app), (0, 0), "nothing stored");

    // One choice only: named at the choices, in the member's language.
    let english = [
        ("csrf", csrf.as_str()),
        ("language", "en"),
        ("text_size", "standard"),
    ];
    assert_eq!(jar.post(&app, "/settings", &english).await.status(), 303);
    let (status, page) = compose(&app, &mut jar, &form("新年会", "出席")).await;
    assert_eq!(status, 422);
    let message = "Choices: enter 2 to 20, one per line.";
    assert!(beside(&page, "compose-options", message), "{page}");
    assert!(summarised(&page, "compose-options", message));
    assert!(page.contains("Please check what you entered"));
    assert_eq!(counts(&app), (0, 0));

    // The JSON API names the same field.
    let refused = app
        .post_as(
            &city.officer_a,
            "/api/v1/posts",
            &json!({"scope": {"kind": "association", "id": city.association_a},
                "title": " ", "body": "本文"}),
        )
        .await;
    let body = expect_json(refused, 422).await;
    assert_eq!(body["field"], "title");
    assert_eq!(body["error"], "invalid_input");
    assert_eq!(counts(&app), (0, 0));

    // Corrected, it is sent.
    let (status, _) = compose(&app, &mut jar, &form("新年会", "出席\n欠席")).await;
    assert_eq!(status, 303);
    assert_eq!(counts(&app), (1, 1));
}

/// The draft page's path of the circular a 303 went to.
fn draft_id(location: &str) -> String {
    location
        .trim_start_matches("/officer/posts/")
        .trim_end_matches("/draft")
        .to_string()
}

#[tokio::test]
async fn a_draft_is_changed_on_its_page_then_sent_to_its_new_audience() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let mut jar = signed_in(&app, &city.officer_a).await;
    let csrf = csrf_of(&jar.get(&app, "/officer/posts/new").await.1);
    let parts = [
        Part::Text("csrf", &csrf),
        Part::Text("audience", "association"),
        Part::Text("title", "草稿"),
        Part::Text("body", "まだ途中"),
        Part::Text("save", "draft"),
    ];
    let content_type = format!(
        "multipart/form-data; boundary={}",
        crate::pages_tools::BOUNDARY
    );
    let response = jar
        .post_body(
            &app,
            "/officer/posts/new",
            &content_type,
            crate::pages_tools::multipart(&parts),
        )
        .await;
    assert_eq!(response.status(), 303);
    let id = draft_id(response.headers()["location"].to_str().unwrap());
    let page = format!("/officer/posts/{id}/draft");
    let (_, body) = jar.get(&app, &page).await;
    assert!(body.contains(r#"<h2 id="edit-heading">内容を直す</h2>"#));
    assert!(body.contains(r#"value="草稿""#) && body.contains(">まだ途中</textarea>"));
    assert!(body.contains(r#"<option value="association" selected>"#));

    // A blank text is refused beside it; nothing changes.
    let edit = format!("/officer/posts/{id}/draft/edit");
    let han_h2 = format!("han:{}", city.han_h2);
    let fields = |title: &'static str, body: &'static str| {
        [
            ("csrf", csrf.clone()),
            ("audience", han_h2.clone()),
            ("title", title.to_string()),
            ("body", body.to_string()),
            ("urgent", "on".to_string()),
        ]
    };
    let form = fields("新しい題名", " ");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response = jar.post(&app, &edit, &form).await;
    assert_eq!(response.status(), 422);
    let body = response.text().await.unwrap();
    assert!(
        beside(&body, "compose-body", "本文を入力してください。"),
        "{body}"
    );
    assert!(summarised(
        &body,
        "compose-body",
        "本文を入力してください。"
    ));
    assert!(
        body.contains(r#"value="新しい題名""#),
        "what was typed stays"
    );
    let stored = expect_json(
        app.get_as(&city.officer_a, &format!("/api/v1/posts/{id}"))
            .await,
        200,
    )
    .await;
    assert_eq!(stored["title"], "草稿");

    // Changed: title, text, importance and audience (one 班).
    let form = fields("二班へのお知らせ", "清掃は日曜です");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response = jar.post(&app, &edit, &form).await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"].to_str().unwrap(),
        format!("{page}?saved=1")
    );
    let (_, body) = jar.get(&app, &format!("{page}?saved=1")).await;
    assert!(body.contains("変更を保存しました。"));
    assert!(body.contains(&format!(r#"<option value="{han_h2}" selected>"#)));

    // Sent: it reaches the new 班 only.
    let csrf_form = [("csrf", csrf.as_str())];
    let response = jar
        .post(
            &app,
            &format!("/officer/posts/{id}/draft/publish"),
            &csrf_form,
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        inbox_titles(&app, &city.resident_h2).await,
        ["二班へのお知らせ"]
    );
    assert!(inbox_titles(&app, &city.resident_h1).await.is_empty());
    let sent = expect_json(
        app.get_as(&city.resident_h2, &format!("/api/v1/posts/{id}"))
            .await,
        200,
    )
    .await;
    assert_eq!(sent["body"], "清掃は日曜です");
    assert_eq!(sent["priority"], "urgent");
}

#[tokio::test]
async fn a_draft_changes_audience_over_patch_until_it_is_sent() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let officer = &city.officer_a;
    let created = expect_json(
        app.post_as(
            officer,
            "/api/v1/posts",
            &json!({"scope": {"kind": "association", "id": city.association_a},
                "title": "下書き", "body": "本文", "draft": true}),
        )
        .await,
        201,
    )
    .await;
    let path = format!("/api/v1/posts/{}", str_field(&created, "id"));

    // Refusals name their field and change nothing.
    let blank = app.patch_as(officer, &path, &json!({"title": ""})).await;
    assert_eq!(expect_json(blank, 422).await["field"], "title");
    let lone = json!({"han_ids": [city.han_h1]});
    let lone = app.patch_as(officer, &path, &lone).await;
    assert_eq!(expect_json(lone, 422).await["field"], "scope");
    // Another association is not theirs to post to.
    let elsewhere = json!({"scope": {"kind": "association", "id": city.association_b}});
    assert_eq!(app.patch_as(officer, &path, &elsewhere).await.status(), 403);

    let to_han = json!({"scope": {"kind": "association", "id": city.association_a},
        "han_ids": [city.han_h1], "title": "一班へ"});
    let changed = expect_json(app.patch_as(officer, &path, &to_han).await, 200).await;
    assert_eq!(changed["title"], "一班へ");
    assert_eq!(changed["han_ids"], json!([city.han_h1]));
    let publish = app
        .post_as(officer, &format!("{path}/publish"), &Value::Null)
        .await;
    assert_eq!(publish.status(), 200);
    assert_eq!(inbox_titles(&app, &city.resident_h1).await, ["一班へ"]);
    assert!(inbox_titles(&app, &city.resident_h2).await.is_empty());

    // Once sent, the audience is fixed.
    let whole = json!({"scope": {"kind": "association", "id": city.association_a}});
    let fixed = expect_json(app.patch_as(officer, &path, &whole).await, 409).await;
    assert_eq!(fixed["error"], "audience_fixed");
    assert!(inbox_titles(&app, &city.resident_h2).await.is_empty());
}

async fn sent_by(app: &TestApp, author: &Actor, scope: Value) -> String {
    let post = expect_json(
        app.post_as(
            author,
            "/api/v1/posts",
            &json!({"scope": scope, "title": "大きな字の回覧", "body": "本文です",
                "requires_confirmation": true}),
        )
        .await,
        201,
    )
    .await;
    str_field(&post, "id")
}

async fn print_status(app: &TestApp, who: &Actor, id: &str) -> (u16, String) {
    let mut jar: Jar = signed_in(app, who).await;
    let (answer, body) = jar.get(app, &format!("/officer/posts/{id}/print")).await;
    (answer.status, body)
}

#[tokio::test]
async fn the_large_print_view_follows_the_receipts_rule() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let resident_c = city.resident_c(&app).await;
    let city_post = sent_by(&app, &city.staff, json!({"kind": "city"})).await;
    let district_post = sent_by(
        &app,
        &city.district_officer,
        json!({"kind": "district", "id": city.district_1}),
    )
    .await;

    // Author-level roles print what they manage; officers what reaches their association.
    for (who, id) in [
        (&city.staff, &city_post),
        (&city.district_officer, &district_post),
        (&city.staff, &district_post),
        (&city.officer_a, &district_post),
        (&city.officer_c, &city_post),
    ] {
        let (status, body) = print_status(&app, who, id).await;
        assert_eq!(status, 200, "{} prints {id}", who.login);
        assert!(body.contains("<h1>大きな字の回覧</h1>"));
    }
    // Receipts and print agree for the district officer.
    let mut jar = signed_in(&app, &city.district_officer).await;
    let receipts = format!("/officer/posts/{district_post}/receipts");
    let (answer, body) = jar.get(&app, &receipts).await;
    assert_eq!(answer.status, 200);
    assert!(body.contains(&format!(r#"href="/officer/posts/{district_post}/print""#)));

    // Residents do not follow receipts: a clear refusal page, in their language.
    for (who, id) in [
        (&resident_c, &district_post),
        (&city.resident_h1, &district_post),
    ] {
        let (status, body) = print_status(&app, who, id).await;
        assert_eq!(status, 404, "{}", who.login);
        assert!(
            body.contains("お探しのページは見つかりませんでした。"),
            "{body}"
        );
        assert!(!body.contains("本文です"));
    }
}

#[tokio::test]
async fn the_rosters_forms_name_the_refused_field_and_keep_what_was_typed() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let mut jar = signed_in(&app, &city.officer_a).await;
    let csrf = csrf_of(&jar.get(&app, "/officer/roster").await.1);
    let long = "長".repeat(51);
    let form = [("csrf", csrf.as_str()), ("name", long.as_str())];
    let response = jar.post(&app, "/officer/roster/hans", &form).await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    let message = "班の名前は50文字以内で入力してください。";
    assert!(beside(&page, "han-name", message));
    assert!(summarised(&page, "han-name", message));
    assert!(page.contains(&format!(r#"value="{long}" aria-invalid="true""#)));

    let form = [("csrf", csrf.as_str()), ("label", " ")];
    let response = jar.post(&app, "/officer/roster/households", &form).await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    assert!(summarised(
        &page,
        "household-label",
        "世帯の名前を入力してください。"
    ));
    let (_, roster) = jar.get(&app, "/officer/roster").await;
    assert!(!roster.contains(&long), "nothing added");
}

#[tokio::test]
async fn a_refused_safety_note_is_named_beside_it_and_nothing_is_answered() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let check = crate::pages_safety::start_check(&app, &city).await;
    let mut jar = signed_in(&app, &city.resident_h1).await;
    let page = format!("/safety/{check}");
    let csrf = csrf_of(&jar.get(&app, &page).await.1);
    let long = "あ".repeat(501);
    let form = [
        ("csrf", csrf.as_str()),
        ("status", "needs_help"),
        ("note", long.as_str()),
    ];
    let response = jar.post(&app, &page, &form).await;
    assert_eq!(response.status(), 422);
    let body = response.text().await.unwrap();
    assert!(
        beside(&body, "note", "500文字までにしてください。"),
        "{body}"
    );
    assert!(summarised(&body, "note", "500文字までにしてください。"));
    assert!(
        body.contains(&format!(">{long}</textarea>")),
        "the note stays"
    );
    let status = expect_json(
        app.get_as(
            &city.officer_a,
            &format!("/api/v1/safety-checks/{check}/status"),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(status["answered"], 0);
    // The API names the same field.
    let refused = app
        .post_as(
            &city.resident_h1,
            &format!("/api/v1/safety-checks/{check}/answers"),
            &json!({"status": "needs_help", "note": long}),
        )
        .await;
    assert_eq!(expect_json(refused, 422).await["field"], "note");
}

#[tokio::test]
async fn a_drafts_survey_and_event_change_on_its_page_and_over_patch_until_it_is_sent() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let officer = &city.officer_a;
    let created = app
        .post_as(
            officer,
            "/api/v1/posts",
            &json!({"scope": {"kind": "association", "id": city.association_a},
                "title": "新年会", "body": "公民館で", "draft": true,
                "questions": [{"kind": "single_choice", "prompt": "出欠",
                    "options": ["出席", "欠席"], "required": true}]}),
        )
        .await;
    let id = str_field(&expect_json(created, 201).await, "id");
    let api = format!("/api/v1/posts/{id}");
    let mut jar = signed_in(&app, officer).await;
    let page = format!("/officer/posts/{id}/draft");
    let (_, body) = jar.get(&app, &page).await;
    let csrf = csrf_of(&body);
    assert!(body.contains(r#"name="question" type="text" maxlength="200" value="出欠""#));
    assert!(body.contains(">出席\n欠席</textarea>"), "{body}");

    // Mistakes in the event and the survey: both named, all typed kept, nothing changed.
    let edit = format!("/officer/posts/{id}/draft/edit");
    let form = |options: &'static str, end_time: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("audience", "association".to_string()),
            ("title", "新年会".to_string()),
            ("body", "公民館で".to_string()),
            ("question", "出欠と人数".to_string()),
            ("options", options.to_string()),
            ("event_start_date", "2027-01-10".to_string()),
            ("event_start_time", "18:00".to_string()),
            ("event_end_time", end_time.to_string()),
            ("event_place", "公民館".to_string()),
        ]
    };
    let fields = form("出席", "17:00");
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response = jar.post(&app, &edit, &fields).await;
    assert_eq!(response.status(), 422);
    let body = response.text().await.unwrap();
    let options = "選択肢は2〜20個、1行に1つずつ入力してください。";
    assert!(beside(&body, "compose-options", options), "{body}");
    assert!(summarised(&body, "compose-options", options));
    let ends = "終わりが始まりより前になっています。";
    assert!(summarised(&body, "event-end-date", ends), "{body}");
    assert!(body.contains(r#"value="出欠と人数""#) && body.contains(r#"value="2027-01-10""#));
    let stored = expect_json(app.get_as(officer, &api).await, 200).await;
    assert_eq!(stored["questions"][0]["prompt"], "出欠");
    assert_eq!(stored["event"], Value::Null);

    // Corrected: the survey and the event are the draft's.
    let fields = form("出席\n欠席\n未定", "20:00");
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(jar.post(&app, &edit, &fields).await.status(), 303);
    let stored = expect_json(app.get_as(officer, &api).await, 200).await;
    assert_eq!(stored["questions"][0]["prompt"], "出欠と人数");
    assert_eq!(
        stored["questions"][0]["options"],
        json!(["出席", "欠席", "未定"])
    );
    assert_eq!(stored["event"]["starts_at"], "2027-01-10T09:00:00Z");
    assert_eq!(stored["event"]["place"], "公民館");
    let (_, body) = jar.get(&app, &page).await;
    assert!(body.contains(r#"value="2027-01-10""#) && body.contains(r#"value="18:00""#));

    // Over PATCH, the same use case: a refused survey names its field; once sent it is fixed.
    let one =
        json!({"questions": [{"kind": "single_choice", "prompt": "出欠", "options": ["出席"]}]});
    let refused = app.patch_as(officer, &api, &one).await;
    assert_eq!(
        expect_json(refused, 422).await["field"],
        "questions.options"
    );
    let none = app.patch_as(officer, &api, &json!({"questions": []})).await;
    assert_eq!(expect_json(none, 200).await["questions"], json!([]));
    let sent = app
        .post_as(officer, &format!("{api}/publish"), &json!({}))
        .await;
    assert_eq!(sent.status(), 200);
    let late = json!({"questions": [{"kind": "number", "prompt": "人数"}]});
    let fixed = app.patch_as(officer, &api, &late).await;
    assert_eq!(expect_json(fixed, 409).await["error"], "audience_fixed");
}
