//! axe-core finds no serious or critical violation on the entry pages, on a phone and at
//! 200 % zoom; screenshots of them land in target/screenshots (docs/ with
//! KAIRAN_SCREENSHOTS=1).

use super::sign_in::{RESIDENT_LOGIN, Town};
use super::{Browser, Options};
use crate::fixtures::PASSWORD;
use crate::helpers::spawn_app;

async fn check_entry_pages(zoom: f64, tag: &str) {
    let app = spawn_app().await;
    let town = Town::build(&app).await;
    let code = town.invitation(&app).await;
    let Some(browser) = Browser::open(&app, Options::phone()).await else {
        return;
    };
    if zoom != 1.0 {
        browser.zoom(zoom).await;
    }
    browser.goto("/login").await;
    browser.heading("ログイン").await;
    browser.assert_accessible(&format!("/login {tag}")).await;
    browser.screenshot(&format!("login-{tag}")).await;

    browser.goto(&format!("/join/{code}")).await;
    browser.button("参加する").await;
    browser.assert_accessible(&format!("/join {tag}")).await;
    browser.screenshot(&format!("join-{tag}")).await;

    browser.goto("/login").await;
    browser.fill("ログインID", RESIDENT_LOGIN).await;
    browser.fill("パスワード", PASSWORD).await;
    browser.click_button("ログイン").await;
    browser.goto("/settings").await;
    browser.heading("設定").await;
    browser.assert_accessible(&format!("/settings {tag}")).await;
    browser.screenshot(&format!("settings-{tag}")).await;
    browser.close().await;
}

#[tokio::test]
async fn entry_pages_pass_axe_on_a_phone() {
    check_entry_pages(1.0, "phone").await;
}

#[tokio::test]
async fn entry_pages_pass_axe_at_200_percent_zoom() {
    check_entry_pages(2.0, "zoom-200").await;
}
