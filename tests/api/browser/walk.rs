//! What a walk through the pages role by role found, in Chromium on a 375 px phone: a
//! resident finds an open safety check on the inbox and answers it (without JavaScript:
//! tests/api/pages_walk.rs); the
//! officer's and city staff's forms and tables fit the phone in Vietnamese at the largest
//! text size. axe-core on each page. Over plain HTTP: tests/api/pages_walk.rs.

use crate::browser::{Browser, Options};
use crate::fixtures::{Actor, City};
use crate::helpers::spawn_app;
use crate::pages_officer::circular;
use crate::pages_safety::{sign_in, start_check};

#[tokio::test]
async fn a_resident_finds_an_open_safety_check_on_the_inbox_and_answers_it_on_a_phone() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let check = start_check(&app, &city).await;
    let Some(browser) = Browser::open(&app, Options::small_phone()).await else {
        return;
    };
    sign_in(&browser, &city.resident_h1).await;
    browser.heading("回覧板").await;
    browser.heading("安否確認が届いています").await;
    browser.expect_text("まだ回答していません。").await;
    browser
        .assert_fits_the_width("/inbox with a safety check")
        .await;
    let link = browser.link("地震がありました。").await;
    link.click().await.expect("click");
    browser.wait_until_replaced(&link).await;
    assert_eq!(browser.path().await, format!("/safety/{check}"));
    browser.click_button("無事です").await;
    browser.expect_text("回答を受け付けました。").await;
    browser.goto("/inbox").await;
    browser.expect_text("回答済み：無事").await;
    browser.close().await;
}

/// Signs `who` in, then makes the text 特大 and the language Vietnamese.
async fn largest_text_in_vietnamese(browser: &Browser, who: &Actor) {
    sign_in(browser, who).await;
    browser.goto("/settings").await;
    browser
        .by_role("radio", "特大")
        .await
        .click()
        .await
        .expect("click");
    browser.click_button("保存する").await;
    browser.select("言語 Language", "Tiếng Việt").await;
    browser.click_button("切り替える").await;
    browser.expect_text("Cài đặt").await;
}

#[tokio::test]
async fn officer_and_city_pages_fit_a_375_px_phone_at_the_largest_text_in_vietnamese() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let post = circular(&app, &city).await;
    let Some(browser) = Browser::open(&app, Options::small_phone()).await else {
        return;
    };
    largest_text_in_vietnamese(&browser, &city.officer_a).await;
    for path in [
        "/officer/posts/new".to_string(),
        "/officer/safety/new".to_string(),
        "/officer/roster".to_string(),
        format!("/officer/posts/{post}/receipts"),
        format!("/officer/posts/{post}/hans/{}/sheet", city.han_h1),
    ] {
        browser.goto(&path).await;
        browser.assert_fits_the_width(&path).await;
        browser.assert_accessible(&path).await;
    }
    browser.close().await;

    let Some(browser) = Browser::open(&app, Options::small_phone()).await else {
        return;
    };
    largest_text_in_vietnamese(&browser, &city.staff).await;
    for path in [
        "/city",
        "/officer/posts/new?audience=city",
        "/officer/safety/new",
    ] {
        browser.goto(path).await;
        browser.assert_fits_the_width(path).await;
        browser.assert_accessible(path).await;
    }
    browser.close().await;
}
