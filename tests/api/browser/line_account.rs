//! `/officer/line` in a browser: an officer reaches it from `/officer`, sees a refused channel
//! ID in the error summary and beside its field, registers the account and sees it working;
//! axe clean on a phone, before, refused and after.

use super::{Browser, Options};
use crate::fixtures::{City, expect_json};
use crate::helpers::spawn_app;

/// Fills the form with `channel` and a token and secret, and presses 登録する.
async fn register(browser: &Browser, channel: &str) {
    browser.fill("チャネルID", channel).await;
    browser
        .fill("チャネルアクセストークン（長期）", "browser-token-1")
        .await;
    browser
        .fill("チャネルシークレット", "browser-secret-1")
        .await;
    browser.click_button("登録する").await;
}

#[tokio::test]
async fn an_officer_registers_the_line_account_and_sees_a_refusal_explained_on_a_phone() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let Some(browser) = Browser::open(&app, Options::phone()).await else {
        return;
    };
    browser.goto("/login").await;
    browser.fill("ログインID", &city.officer_a.login).await;
    browser.fill("パスワード", &city.officer_a.password).await;
    browser.click_button("ログイン").await;
    browser.goto("/officer").await;
    browser
        .link("LINE公式アカウント")
        .await
        .click()
        .await
        .unwrap();
    browser
        .heading("テスト一丁目町会のLINE公式アカウント")
        .await;
    browser.assert_accessible("/officer/line").await;

    register(&browser, "12ab").await;
    browser
        .expect_text("チャネルIDの内容を確かめてください。")
        .await;
    browser.assert_accessible("/officer/line refused").await;

    register(&browser, "1656000009").await;
    browser
        .expect_text("LINE公式アカウントを保存しました。")
        .await;
    browser.expect_text("使えます。").await;
    browser.assert_accessible("/officer/line saved").await;
    browser.close().await;
    let path = format!("/api/v1/associations/{}/line-account", city.association_a);
    let saved = expect_json(app.get_as(&city.officer_a, &path).await, 200).await;
    assert_eq!(saved["channel_id"], "1656000009");
}
