//! The officer's tools in a real browser: a circular composed with an attachment (and an
//! oversize or refused file, which sends nothing), starting a safety check from `/officer`,
//! a district circular from `/district`, and the roster's member names; axe-core on each at
//! 100 % and 200 %.

use std::path::{Path, PathBuf};

use diesel::prelude::*;
use kairan::db::schema::posts;
use serde_json::{Value, json};
use tempfile::TempDir;

use super::{Browser, Options};
use crate::fixtures::{Actor, City, expect_json};
use crate::helpers::{TestApp, spawn_app, spawn_app_with};

const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

async fn sign_in(browser: &Browser, actor: &Actor) {
    browser.goto("/login").await;
    browser.fill("ログインID", &actor.login).await;
    browser.fill("パスワード", &actor.password).await;
    browser.click_button("ログイン").await;
}

async fn follow(browser: &Browser, link: &str) {
    let link = browser.link(link).await;
    link.click().await.expect("click");
    browser.wait_until_replaced(&link).await;
}

/// A file in a fresh folder, for the browser to pick.
fn file(folder: &TempDir, name: &str, content: &[u8]) -> PathBuf {
    let path = folder.path().join(name);
    std::fs::write(&path, content).expect("test file written");
    path
}

async fn choose_file(browser: &Browser, label: &str, path: &Path) {
    browser
        .field(label)
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

fn post_count(app: &TestApp) -> i64 {
    posts::table
        .count()
        .get_result(&mut app.db.get().unwrap())
        .unwrap()
}

async fn write_circular(browser: &Browser, title: &str) {
    browser.goto("/officer/posts/new").await;
    browser.heading("回覧を書く").await;
    browser.fill("題名", title).await;
    browser.fill("本文", "案内のPDFを付けました。").await;
}

#[tokio::test]
async fn an_officer_attaches_a_pdf_without_javascript_and_the_resident_opens_it() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let Some(browser) = Browser::open(&app, Options::without_javascript()).await else {
        return;
    };
    let folder = TempDir::new().unwrap();
    let pdf = file(&folder, "natsumatsuri.pdf", PDF);
    sign_in(&browser, &city.officer_a).await;
    write_circular(&browser, "夏祭りのご案内").await;
    choose_file(&browser, "添付ファイル（PDF・JPEG・PNG、10 MBまで）", &pdf).await;
    browser.click_button("回覧を送る").await;
    browser.heading("夏祭りのご案内").await;
    browser.heading("添付ファイル").await;
    let id = browser
        .path()
        .await
        .trim_start_matches("/posts/")
        .to_string();
    browser.close().await;

    assert_eq!(
        inbox_titles(&app, &city.resident_h1).await,
        vec![json!("夏祭りのご案内")]
    );
    let path = format!("/api/v1/posts/{id}/attachments");
    let list = expect_json(app.get_as(&city.resident_h1, &path).await, 200).await;
    assert_eq!(list["items"][0]["file_name"], "natsumatsuri.pdf");
    assert_eq!(list["items"][0]["content_type"], "application/pdf");
    let resident = Browser::open(&app, Options::default()).await.unwrap();
    sign_in(&resident, &city.resident_h1).await;
    resident.goto(&format!("/posts/{id}")).await;
    let href = resident
        .link("natsumatsuri.pdf")
        .await
        .attr("href")
        .await
        .unwrap()
        .expect("the attachment is a link");
    let length = resident
        .execute(&format!(
            "return fetch('{href}').then(r => r.arrayBuffer()).then(b => b.byteLength);"
        ))
        .await;
    assert_eq!(length, json!(PDF.len()), "the resident downloads the file");
    resident.close().await;
}

async fn refused_files(zoom: f64, tag: &str) {
    let app = spawn_app_with(|s| s.posts.attachment_max_bytes = 2048).await;
    let city = City::build(&app).await;
    let Some(browser) = Browser::open(&app, Options::phone()).await else {
        return;
    };
    if zoom != 1.0 {
        browser.zoom(zoom).await;
    }
    let folder = TempDir::new().unwrap();
    let mut big = b"\x89PNG\r\n\x1a\n".to_vec();
    big.resize(5000, 0);
    let big = file(&folder, "big.png", &big);
    let text = file(&folder, "memo.txt", b"just text");
    sign_in(&browser, &city.officer_a).await;

    write_circular(&browser, "大きすぎる添付").await;
    choose_file(&browser, "添付ファイル（PDF・JPEG・PNG、2 KBまで）", &big).await;
    browser.click_button("回覧を送る").await;
    browser
        .expect_text("ファイルが大きすぎます。2 KBまでのファイルを選んでください。")
        .await;
    // What was typed is still there; only the file must be chosen again.
    let title = browser.field("題名").await.prop("value").await.unwrap();
    assert_eq!(title.as_deref(), Some("大きすぎる添付"));
    browser
        .assert_accessible(&format!("compose with a refused file {tag}"))
        .await;

    choose_file(&browser, "添付ファイル（PDF・JPEG・PNG、2 KBまで）", &text).await;
    browser.click_button("回覧を送る").await;
    browser.expect_text("このファイルは付けられません。").await;
    browser.close().await;
    assert!(inbox_titles(&app, &city.resident_h1).await.is_empty());
    assert_eq!(post_count(&app), 0, "nothing was stored, not even a draft");
}

#[tokio::test]
async fn an_oversize_or_refused_attachment_sends_nothing_and_says_why() {
    refused_files(1.0, "phone").await;
}

#[tokio::test]
async fn a_refused_attachment_page_passes_axe_at_200_percent_zoom() {
    refused_files(2.0, "zoom-200").await;
}

#[tokio::test]
async fn a_refused_attachment_is_explained_in_the_members_language() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let options = Options {
        language: "en",
        ..Options::default()
    };
    let Some(browser) = Browser::open(&app, options).await else {
        return;
    };
    let folder = TempDir::new().unwrap();
    // PNG content sent as a .pdf: its content and its declared type disagree.
    let disguised = file(&folder, "photo.pdf", b"\x89PNG\r\n\x1a\nrest");
    browser.goto("/login").await;
    browser.fill("Login ID", &city.officer_a.login).await;
    browser.fill("Password", &city.officer_a.password).await;
    browser.click_button("Sign in").await;
    browser.goto("/officer/posts/new").await;
    browser.fill("Title", "Summer festival").await;
    browser.fill("Text", "See the attached file.").await;
    choose_file(
        &browser,
        "Attachment (PDF, JPEG or PNG, up to 10 MB)",
        &disguised,
    )
    .await;
    browser.click_button("Send circular").await;
    browser
        .expect_text(
            "This file cannot be attached. Choose a PDF, JPEG or PNG file. Nothing was saved.",
        )
        .await;
    browser.close().await;
    assert!(inbox_titles(&app, &city.resident_h1).await.is_empty());
}

async fn checks_of(app: &TestApp, who: &Actor) -> Vec<Value> {
    let list = expect_json(app.get_as(who, "/api/v1/safety-checks").await, 200).await;
    list["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn an_officer_starts_a_safety_check_from_the_desk_without_javascript() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let Some(browser) = Browser::open(&app, Options::without_javascript()).await else {
        return;
    };
    sign_in(&browser, &city.officer_a).await;
    browser.goto("/officer").await;
    browser.expect_text("実施中の安否確認はありません。").await;
    browser.link("回覧を書く").await;
    follow(&browser, "安否確認を始める").await;
    browser.heading("安否確認を始める").await;
    browser
        .select("送り先", "町会全体（テスト一丁目町会）")
        .await;
    // Only spaces: refused with a message, and nothing starts.
    browser.fill("伝えること", "   ").await;
    browser.click_button("安否確認を始める").await;
    browser.expect_text("伝えることを入力してください").await;
    assert!(checks_of(&app, &city.resident_h1).await.is_empty());

    browser
        .fill("伝えること", "地震がありました。ご無事ですか。")
        .await;
    browser.click_button("安否確認を始める").await;
    browser.heading("安否確認の回答状況").await;
    let status_path = browser.path().await;
    let checks = checks_of(&app, &city.resident_h1).await;
    assert_eq!(checks.len(), 1, "the check reaches the resident");
    assert_eq!(checks[0]["message"], "地震がありました。ご無事ですか。");
    assert_eq!(
        status_path,
        format!("/safety/{}/status", checks[0]["id"].as_str().unwrap())
    );

    // The desk lists it, linking to its status.
    browser.goto("/officer").await;
    follow(&browser, "地震がありました。ご無事ですか。").await;
    assert_eq!(browser.path().await, status_path);
    browser.close().await;
    // Another association's officer does not see it on their desk.
    let Some(other) = Browser::open(&app, Options::without_javascript()).await else {
        return;
    };
    sign_in(&other, &city.officer_c).await;
    other.goto("/officer").await;
    other.expect_text("実施中の安否確認はありません。").await;
    other.close().await;
}

async fn check_tool_pages(zoom: f64, tag: &str) {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let body = json!({"scope": {"kind": "association", "id": city.association_a},
        "message": "大雨です。ご無事ですか。"});
    expect_json(
        app.post_as(&city.officer_a, "/api/v1/safety-checks", &body)
            .await,
        201,
    )
    .await;
    let Some(browser) = Browser::open(&app, Options::phone()).await else {
        return;
    };
    if zoom != 1.0 {
        browser.zoom(zoom).await;
    }
    sign_in(&browser, &city.chair_a).await;
    browser.goto("/officer").await;
    browser.link("大雨です。ご無事ですか。").await;
    browser
        .assert_accessible(&format!("/officer with a safety check {tag}"))
        .await;
    follow(&browser, "安否確認を始める").await;
    browser.heading("安否確認を始める").await;
    browser
        .assert_accessible(&format!("/officer/safety/new {tag}"))
        .await;
    browser.goto("/officer/roster").await;
    browser.heading("班と世帯の名簿").await;
    browser.expect_text("住民四郎").await;
    browser
        .assert_accessible(&format!("/officer/roster with names {tag}"))
        .await;
    browser.close().await;
}

#[tokio::test]
async fn the_safety_start_and_roster_pages_pass_axe_on_a_phone() {
    check_tool_pages(1.0, "phone").await;
}

#[tokio::test]
async fn the_safety_start_and_roster_pages_pass_axe_at_200_percent_zoom() {
    check_tool_pages(2.0, "zoom-200").await;
}

/// The chair of association A, made a district officer of its district too: the compose
/// page offers them the association, its 班 and the district.
async fn chair_with_district(app: &TestApp, city: &City) -> Actor {
    let path = format!("/api/v1/districts/{}/officers", city.district_1);
    let body = json!({"member_id": city.chair_a.id});
    expect_json(app.post_as(&city.staff, &path, &body).await, 201).await;
    city.chair_a.clone()
}

#[tokio::test]
async fn a_district_officer_sends_a_district_circular_from_the_district_page_without_javascript() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let writer = chair_with_district(&app, &city).await;
    let Some(browser) = Browser::open(&app, Options::without_javascript()).await else {
        return;
    };
    sign_in(&browser, &writer).await;
    browser.goto("/district").await;
    browser.expect_text("校下への回覧はまだありません。").await;
    follow(&browser, "校下全体への回覧を書く").await;
    browser.heading("回覧を書く").await;
    // The district is chosen already: the writer only writes.
    browser.fill("題名", "校下運動会のお知らせ").await;
    browser
        .fill("本文", "10月の運動会に各町会から参加をお願いします。")
        .await;
    browser.click_button("回覧を送る").await;
    browser.heading("校下運動会のお知らせ").await;
    // Every association of the district gets it: association B's resident too.
    assert_eq!(
        inbox_titles(&app, &city.district_officer).await,
        vec![json!("校下運動会のお知らせ")]
    );
    assert_eq!(
        inbox_titles(&app, &city.resident_h2).await,
        vec![json!("校下運動会のお知らせ")]
    );
    browser.goto("/district").await;
    follow(&browser, "「校下運動会のお知らせ」の確認状況").await;
    browser.heading("「校下運動会のお知らせ」の確認状況").await;
    browser.goto("/district").await;
    follow(&browser, "校下運動会のお知らせ").await;
    browser.heading("校下運動会のお知らせ").await;
    browser.close().await;
}

async fn district_with_circular(zoom: f64, tag: &str) {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let body = json!({"scope": {"kind": "district", "id": city.district_1},
        "title": "防災訓練のお知らせ", "body": "11月に校下で防災訓練をします。"});
    expect_json(
        app.post_as(&city.district_officer, "/api/v1/posts", &body)
            .await,
        201,
    )
    .await;
    let Some(browser) = Browser::open(&app, Options::phone()).await else {
        return;
    };
    if zoom != 1.0 {
        browser.zoom(zoom).await;
    }
    sign_in(&browser, &city.district_officer).await;
    browser.goto("/district").await;
    browser.link("防災訓練のお知らせ").await;
    browser.expect_text("送信済み").await;
    browser
        .assert_accessible(&format!("/district with circulars {tag}"))
        .await;
    browser.close().await;
}

#[tokio::test]
async fn the_district_page_with_its_circulars_passes_axe_on_a_phone() {
    district_with_circular(1.0, "phone").await;
}

#[tokio::test]
async fn the_district_page_with_its_circulars_passes_axe_at_200_percent_zoom() {
    district_with_circular(2.0, "zoom-200").await;
}
