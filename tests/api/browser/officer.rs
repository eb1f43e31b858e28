//! The officer's pages in a real browser: axe-core on each (also at 200 % zoom), and a
//! printed sign-in QR code that signs a phone in once and not twice.

use fantoccini::Locator;
use serde_json::json;

use super::{Browser, Options};
use crate::fixtures::{Actor, City, expect_json};
use crate::helpers::{TestApp, spawn_app};

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

/// The 一班 sheet with a sign-in code for 住民四郎, as the officer's browser shows it.
async fn print_sign_in_sheet(browser: &Browser) {
    browser.goto("/officer").await;
    follow(browser, "一班のログイン用QRコード").await;
    browser.heading("一班のログイン用QRコード").await;
    browser
        .field("住民四郎 (住民宅イチ)")
        .await
        .click()
        .await
        .unwrap();
    browser.click_button("QRコードを作って印刷する").await;
    browser.heading("住民四郎").await;
}

async fn check_officer_pages(app: &TestApp, zoom: f64, tag: &str) {
    let city = City::build(app).await;
    let path = format!("/api/v1/associations/{}/join-requests", city.association_a);
    expect_json(
        app.post_as(&city.no_household, &path, &json!({})).await,
        201,
    )
    .await;
    let Some(browser) = Browser::open(app, Options::phone()).await else {
        return;
    };
    if zoom != 1.0 {
        browser.zoom(zoom).await;
    }
    sign_in(&browser, &city.chair_a).await;
    browser.goto("/officer").await;
    browser.heading("役員の窓口").await;
    browser.assert_accessible(&format!("/officer {tag}")).await;
    browser.screenshot(&format!("officer-{tag}")).await;

    follow(&browser, "班と世帯の名簿").await;
    browser.heading("班と世帯の名簿").await;
    browser
        .assert_accessible(&format!("/officer/roster {tag}"))
        .await;

    browser.goto("/officer/join-requests").await;
    browser.button("未所属九郎さんを承認する").await;
    browser
        .assert_accessible(&format!("/officer/join-requests {tag}"))
        .await;

    browser.goto("/officer/invitations").await;
    browser.fill("使える回数", "5").await;
    browser.click_button("招待コードを作る").await;
    browser.heading("テスト一丁目町会への参加のご案内").await;
    browser
        .assert_accessible(&format!("invitation card {tag}"))
        .await;
    browser.goto("/officer/invitations").await;
    browser.button("取り消す").await;
    browser
        .assert_accessible(&format!("/officer/invitations {tag}"))
        .await;

    browser
        .goto(&format!("/officer/hans/{}/sign-in-codes", city.han_h1))
        .await;
    browser.heading("一班のログイン用QRコード").await;
    browser
        .assert_accessible(&format!("sign-in choice {tag}"))
        .await;
    print_sign_in_sheet(&browser).await;
    browser
        .assert_accessible(&format!("sign-in sheet {tag}"))
        .await;
    browser
        .screenshot(&format!("officer-sign-in-sheet-{tag}"))
        .await;
    browser.close().await;
}

#[tokio::test]
async fn officer_pages_pass_axe_on_a_phone() {
    let app = spawn_app().await;
    check_officer_pages(&app, 1.0, "phone").await;
}

#[tokio::test]
async fn officer_pages_pass_axe_at_200_percent_zoom() {
    let app = spawn_app().await;
    check_officer_pages(&app, 2.0, "zoom-200").await;
}

#[tokio::test]
async fn a_printed_sign_in_qr_signs_a_phone_in_once_and_not_twice() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    // The officer works without JavaScript: every form posts and redirects.
    let Some(officer) = Browser::open(&app, Options::without_javascript()).await else {
        return;
    };
    sign_in(&officer, &city.officer_a).await;
    print_sign_in_sheet(&officer).await;
    let link = officer
        .client
        .find(Locator::Css("a[href*='/signin/']"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .expect("the sheet prints the sign-in address");
    officer.close().await;
    let path = link.trim_start_matches(&app.address).to_string();

    let phone = Browser::open(&app, Options::phone()).await.unwrap();
    phone.goto(&path).await;
    phone.click_button("ログインする").await;
    phone.goto("/settings").await;
    phone.heading("設定").await;
    phone.button("ログアウト").await;
    phone.close().await;

    let second = Browser::open(&app, Options::phone()).await.unwrap();
    second.goto(&path).await;
    second.expect_text("使用済みか期限切れ").await;
    second.goto("/settings").await;
    assert_eq!(
        second.path().await,
        "/login?next=%2Fsettings",
        "not signed in"
    );
    second.close().await;
}

async fn check_receipts_pages(zoom: f64, tag: &str) {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let body = json!({"scope": {"kind": "association", "id": city.association_a},
        "title": "草刈りのお知らせ", "body": "日曜日の朝8時に公園へ。", "requires_confirmation": true});
    expect_json(
        app.post_as(&city.officer_a, "/api/v1/posts", &body).await,
        201,
    )
    .await;
    let Some(browser) = Browser::open(&app, Options::phone()).await else {
        return;
    };
    if zoom != 1.0 {
        browser.zoom(zoom).await;
    }
    sign_in(&browser, &city.han_leader_h1).await;
    browser.goto("/officer").await;
    follow(&browser, "回覧の確認状況").await;
    browser
        .assert_accessible(&format!("/officer/posts {tag}"))
        .await;
    follow(&browser, "草刈りのお知らせ").await;
    browser.heading("「草刈りのお知らせ」の確認状況").await;
    browser.expect_text("確認した世帯: 0").await;
    browser.assert_accessible(&format!("receipts {tag}")).await;
    follow(&browser, "一班の紙回覧チェック表").await;
    browser
        .assert_accessible(&format!("paper sheet {tag}"))
        .await;
    browser
        .screenshot(&format!("officer-paper-sheet-{tag}"))
        .await;
    browser.field("紙回覧宅イチ").await.click().await.unwrap();
    browser.click_button("チェックした世帯を記録する").await;
    // The paper confirmation from the sheet shows in the receipts.
    browser.expect_text("紙での確認を記録しました。").await;
    browser.expect_text("確認した世帯: 1").await;
    follow(&browser, "大きな文字で印刷する").await;
    browser.heading("草刈りのお知らせ").await;
    browser
        .assert_accessible(&format!("large print {tag}"))
        .await;
    browser.close().await;
}

#[tokio::test]
async fn a_paper_confirmation_from_the_han_sheet_shows_in_the_receipts() {
    check_receipts_pages(1.0, "phone").await;
}

#[tokio::test]
async fn receipts_pages_pass_axe_at_200_percent_zoom() {
    check_receipts_pages(2.0, "zoom-200").await;
}
