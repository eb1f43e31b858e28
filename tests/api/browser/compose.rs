//! Finishing circulars in a browser: a draft kept, a file added and another removed on its
//! page, then sent (JavaScript off); a 行事 whose end is before its start is marked beside
//! the field, then reaches the resident's circular and calendar; the navigation marks where
//! the member is and the skip link moves the focus to the content; axe-core on the compose
//! page with a mistake and on the draft page, at 100 % and 200 %.

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use tempfile::TempDir;

use super::{Browser, Options};
use crate::fixtures::{Actor, City, expect_json};
use crate::helpers::{TestApp, spawn_app};

const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
const ATTACHMENT: &str = "添付ファイル（PDF・JPEG・PNG、10 MBまで）";

async fn sign_in(browser: &Browser, actor: &Actor) {
    browser.goto("/login").await;
    browser.fill("ログインID", &actor.login).await;
    browser.fill("パスワード", &actor.password).await;
    browser.click_button("ログイン").await;
}

async fn choose_file(browser: &Browser, folder: &TempDir, name: &str) {
    let path = folder.path().join(name);
    std::fs::write(&path, PDF).expect("test file written");
    browser
        .field(ATTACHMENT)
        .await
        .send_keys(&path.to_string_lossy())
        .await
        .expect("the file is chosen");
}

async fn inbox_titles(app: &TestApp, who: &Actor) -> Vec<Value> {
    let inbox = expect_json(app.get_as(who, "/api/v1/me/inbox").await, 200).await;
    inbox["items"]
        .as_array()
        .map(|items| items.iter().map(|i| i["title"].clone()).collect())
        .unwrap_or_default()
}

/// The `aria-current` of the navigation link to `href` (the site's name also reads 回覧板).
async fn current_of(browser: &Browser, href: &str) -> Option<String> {
    let found = browser
        .client
        .find(fantoccini::Locator::Css(&format!(
            ".site-nav a[href='{href}']"
        )))
        .await
        .expect("a navigation link");
    found.attr("aria-current").await.expect("attribute read")
}

#[tokio::test]
async fn an_officer_keeps_a_draft_changes_its_files_and_sends_it_without_javascript() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let Some(browser) = Browser::open(&app, Options::without_javascript()).await else {
        return;
    };
    let folder = TempDir::new().unwrap();
    sign_in(&browser, &city.officer_a).await;
    browser.goto("/officer/posts/new").await;
    browser.fill("題名", "清掃のお知らせ").await;
    browser.fill("本文", "日曜の朝8時に公園へ。").await;
    choose_file(&browser, &folder, "chizu.pdf").await;
    browser.click_button("下書きに保存").await;
    browser.heading("下書き：清掃のお知らせ").await;
    browser
        .expect_text("下書きです（まだ送っていません）")
        .await;
    browser.link("chizu.pdf").await;
    assert!(inbox_titles(&app, &city.resident_h1).await.is_empty());
    let draft = browser.path().await;

    choose_file(&browser, &folder, "annai.pdf").await;
    browser.click_button("添付する").await;
    browser.link("annai.pdf").await;
    browser.click_button("「chizu.pdf」を外す").await;
    browser.link("annai.pdf").await;
    assert!(!browser.main_text().await.contains("chizu.pdf"));

    // The compose page lists the draft to come back to.
    browser.goto("/officer/posts/new").await;
    browser.heading("書きかけの回覧").await;
    let link = browser.link("清掃のお知らせ").await;
    link.click().await.unwrap();
    browser.wait_until_replaced(&link).await;
    assert_eq!(browser.path().await, draft);

    browser.click_button("回覧を送る").await;
    browser.heading("清掃のお知らせ").await;
    assert_eq!(
        inbox_titles(&app, &city.resident_h1).await,
        vec![json!("清掃のお知らせ")]
    );
    let id = draft
        .trim_start_matches("/officer/posts/")
        .trim_end_matches("/draft");
    let files = expect_json(
        app.get_as(
            &city.resident_h1,
            &format!("/api/v1/posts/{id}/attachments"),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(files["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(files["items"][0]["file_name"], "annai.pdf");
    browser.close().await;
}

/// Sets a date or time field as a picker would (typing into one depends on the locale).
async fn set_value(browser: &Browser, id: &str, value: &str) {
    browser
        .execute(&format!(
            "document.getElementById('{id}').value = '{value}'; return true;"
        ))
        .await;
}

async fn event_and_navigation(zoom: f64, tag: &str) {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let Some(browser) = Browser::open(&app, Options::phone()).await else {
        return;
    };
    if zoom != 1.0 {
        browser.zoom(zoom).await;
    }
    let day = ((Utc::now() + Duration::hours(9)).date_naive() + Duration::days(3)).to_string();
    sign_in(&browser, &city.officer_a).await;
    browser.goto("/officer/posts/new").await;
    browser.fill("題名", "防災訓練").await;
    browser.fill("本文", "公民館に集まってください。").await;
    set_value(&browser, "event-start-date", &day).await;
    set_value(&browser, "event-start-time", "10:00").await;
    set_value(&browser, "event-end-time", "09:00").await;
    browser.fill("場所", "公民館").await;
    browser.click_button("回覧を送る").await;
    browser
        .expect_text("終わりが始まりより前になっています。")
        .await;
    let end = browser.field("終了時刻（なくてもかまいません）").await;
    assert_eq!(
        end.attr("aria-invalid").await.unwrap().as_deref(),
        Some("true")
    );
    browser
        .assert_accessible(&format!("/officer/posts/new with an event mistake {tag}"))
        .await;
    assert!(inbox_titles(&app, &city.resident_h1).await.is_empty());
    set_value(&browser, "event-end-time", "12:00").await;
    browser.click_button("回覧を送る").await;
    browser.heading("防災訓練").await;
    browser.expect_text(&format!("{day} 10:00–12:00")).await;
    browser.close().await;

    let Some(browser) = Browser::open(&app, Options::phone()).await else {
        return;
    };
    if zoom != 1.0 {
        browser.zoom(zoom).await;
    }
    sign_in(&browser, &city.resident_h1).await;
    assert_eq!(
        current_of(&browser, "/inbox").await.as_deref(),
        Some("page")
    );
    let link = browser.link("防災訓練").await;
    link.click().await.unwrap();
    browser.wait_until_replaced(&link).await;
    assert_eq!(
        current_of(&browser, "/inbox").await.as_deref(),
        Some("true")
    );
    browser.expect_text("公民館").await;
    // The skip link takes keyboard users past the header to the content.
    // It shows once focused, as the first Tab stop; Enter follows it.
    let skip = browser.link("本文へ移動").await;
    browser
        .execute("document.querySelector('.skip-link').focus(); return true;")
        .await;
    assert!(skip.is_displayed().await.unwrap());
    skip.send_keys("\u{E007}").await.unwrap();
    let focused = browser.execute("return document.activeElement.id;").await;
    assert_eq!(focused, json!("main"));
    let calendar = browser.link("行事予定").await;
    assert_eq!(
        calendar.attr("href").await.unwrap().as_deref(),
        Some("/calendar")
    );
    calendar.click().await.unwrap();
    browser.wait_until_replaced(&calendar).await;
    assert_eq!(
        current_of(&browser, "/calendar").await.as_deref(),
        Some("page")
    );
    assert_eq!(current_of(&browser, "/inbox").await, None);
    browser.link("防災訓練").await;
    browser
        .assert_accessible(&format!("/calendar from the navigation {tag}"))
        .await;
    browser.close().await;
}

#[tokio::test]
async fn an_event_mistake_is_marked_beside_its_field_and_the_event_reaches_the_calendar() {
    event_and_navigation(1.0, "phone").await;
}

#[tokio::test]
async fn the_event_fields_and_navigation_pass_axe_at_200_percent_zoom() {
    event_and_navigation(2.0, "zoom-200").await;
}

#[tokio::test]
async fn the_draft_page_passes_axe_at_100_and_200_percent() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let body = json!({"scope": {"kind": "association", "id": city.association_a},
        "title": "夏祭りの下書き", "body": "8月に夏祭りをします。", "draft": true});
    let post = expect_json(
        app.post_as(&city.officer_a, "/api/v1/posts", &body).await,
        201,
    )
    .await;
    let id = post["id"].as_str().unwrap();
    let Some(browser) = Browser::open(&app, Options::phone()).await else {
        return;
    };
    let folder = TempDir::new().unwrap();
    sign_in(&browser, &city.officer_a).await;
    browser.goto(&format!("/officer/posts/{id}/draft")).await;
    browser.heading("下書き：夏祭りの下書き").await;
    browser.expect_text("添付ファイルはありません。").await;
    choose_file(&browser, &folder, "chirashi.pdf").await;
    browser.click_button("添付する").await;
    browser.button("「chirashi.pdf」を外す").await;
    assert_eq!(
        current_of(&browser, "/officer").await.as_deref(),
        Some("true")
    );
    browser.assert_accessible("/officer/posts/{id}/draft").await;
    browser.zoom(2.0).await;
    browser
        .assert_accessible("/officer/posts/{id}/draft at 200 %")
        .await;
    browser.close().await;
}
