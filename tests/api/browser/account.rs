//! `/settings`: a new password and sign out everywhere, in a real browser, with and without
//! JavaScript, checked with axe-core.

use super::sign_in::{RESIDENT_LOGIN, Town};
use super::{Browser, Options};
use crate::fixtures::PASSWORD;
use crate::helpers::spawn_app;

const NEW_PASSWORD: &str = "Kenrokuen-Garden-2027";

async fn me_status(app: &crate::helpers::TestApp, access_token: &str) -> u16 {
    app.client
        .get(app.url("/api/v1/me"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn changes_the_password_and_signs_out_everywhere(options: Options) {
    let app = spawn_app().await;
    Town::build(&app).await;
    let phone = app.sign_in(RESIDENT_LOGIN, PASSWORD).await;
    // axe-core is a script: it checks the pages with JavaScript on (the same HTML).
    let axe = options.javascript;
    let Some(browser) = Browser::open(&app, options).await else {
        return;
    };
    browser.goto("/login").await;
    browser.fill("ログインID", RESIDENT_LOGIN).await;
    browser.fill("パスワード", PASSWORD).await;
    browser.click_button("ログイン").await;

    browser.goto("/settings").await;
    browser.heading("パスワードの変更").await;
    browser.heading("すべての端末からログアウト").await;
    if axe {
        browser
            .assert_accessible("/settings with the account forms")
            .await;
    }

    // A wrong current password: the form again, the message by its field, nothing changed.
    browser.fill("今のパスワード", "not-my-password").await;
    browser.fill("新しいパスワード", NEW_PASSWORD).await;
    browser.click_button("パスワードを変更").await;
    browser.expect_text("今のパスワードが違います。").await;
    if axe {
        browser
            .assert_accessible("the password form with its message")
            .await;
    }
    assert_eq!(me_status(&app, &phone.access_token).await, 200);

    browser.fill("今のパスワード", PASSWORD).await;
    browser.fill("新しいパスワード", NEW_PASSWORD).await;
    browser.click_button("パスワードを変更").await;
    browser
        .expect_text("パスワードを変更しました。ほかの端末ではログアウトしました。")
        .await;
    assert_eq!(browser.path().await, "/settings?password_changed=1");
    assert_eq!(
        me_status(&app, &phone.access_token).await,
        401,
        "the phone is out"
    );
    let again = app.sign_in(RESIDENT_LOGIN, NEW_PASSWORD).await;
    assert_eq!(me_status(&app, &again.access_token).await, 200);

    browser.click_button("すべての端末からログアウト").await;
    browser.heading("ログイン").await;
    assert_eq!(me_status(&app, &again.access_token).await, 401);
    browser.goto("/settings").await;
    assert_eq!(
        browser.path().await,
        "/login?next=%2Fsettings",
        "signed out"
    );
    browser.close().await;
}

#[tokio::test]
async fn a_resident_changes_the_password_and_signs_out_everywhere_with_javascript() {
    changes_the_password_and_signs_out_everywhere(Options::default()).await;
}

#[tokio::test]
async fn a_resident_changes_the_password_and_signs_out_everywhere_without_javascript() {
    changes_the_password_and_signs_out_everywhere(Options::without_javascript()).await;
}
