//! Signing in, joining and the set-up page, in a real browser (docs/design.md 7b's page
//! contract: the accessible names are the ones residents and screen readers use).

use serde_json::{Value, json};

use super::{Browser, Options};
use crate::fixtures::{
    ADMIN_LOGIN, ADMIN_PASSWORD, Actor, PASSWORD, create_admin_directly, create_association,
    expect_json, str_field,
};
use crate::helpers::{TestApp, spawn_app};

/// An admin, one association, and a resident with a password in a household of it.
pub struct Town {
    pub admin: Actor,
    pub association: String,
    pub resident: Actor,
}

pub const ASSOCIATION_NAME: &str = "テスト本町町会";
pub const RESIDENT_LOGIN: &str = "hanako@kairan.test";

impl Town {
    pub async fn build(app: &TestApp) -> Town {
        create_admin_directly(app, ADMIN_LOGIN, ADMIN_PASSWORD);
        let admin = app.sign_in(ADMIN_LOGIN, ADMIN_PASSWORD).await;
        let districts = expect_json(app.get_as(&admin, "/api/v1/districts").await, 200).await;
        let district = str_field(&districts["items"][0], "id");
        let association = create_association(app, &admin, &district, ASSOCIATION_NAME).await;
        let resident = app
            .new_resident(&admin, &association, None, RESIDENT_LOGIN, "金沢花子")
            .await;
        Town {
            admin,
            association,
            resident,
        }
    }

    /// A fresh invitation code of the association.
    pub async fn invitation(&self, app: &TestApp) -> String {
        app.invite(&self.admin, &self.association, json!({}))
            .await
            .1
    }

    /// A one-time sign-in URL for `member`, issued by the admin.
    pub async fn sign_in_url(&self, app: &TestApp, member: &str) -> String {
        let path = format!("/api/v1/members/{member}/sign-in-codes");
        let issued: Value =
            expect_json(app.post_as(&self.admin, &path, &json!({})).await, 201).await;
        str_field(&issued, "url")
    }
}

async fn sign_in_at_login(browser: &Browser, login: &str, password: &str) {
    browser.goto("/login").await;
    browser.heading("ログイン").await;
    browser.fill("ログインID", login).await;
    browser.fill("パスワード", password).await;
    browser.click_button("ログイン").await;
}

/// Signed in: the settings page opens and greets the member by name.
async fn assert_signed_in_as(browser: &Browser, name: &str) {
    browser.goto("/settings").await;
    browser.heading("設定").await;
    browser.button("ログアウト").await;
    let header = browser
        .client
        .find(fantoccini::Locator::Css("header"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(header.contains(name), "header {header:?} names {name}");
}

async fn signs_in_at_login(options: Options) {
    let app = spawn_app().await;
    let town = Town::build(&app).await;
    let Some(browser) = Browser::open(&app, options).await else {
        return;
    };
    sign_in_at_login(&browser, RESIDENT_LOGIN, PASSWORD).await;
    // A resident's home is the inbox.
    assert_eq!(browser.path().await, "/inbox");
    assert!(browser.cookie("kairan_session").await.is_some());
    assert_signed_in_as(&browser, &town.resident.display_name).await;
    browser.click_button("ログアウト").await;
    browser.heading("ログイン").await;
    browser.goto("/settings").await;
    assert_eq!(
        browser.path().await,
        "/login?next=%2Fsettings",
        "signed out"
    );
    browser.close().await;
}

#[tokio::test]
async fn a_resident_signs_in_at_login_with_javascript() {
    signs_in_at_login(Options::default()).await;
}

#[tokio::test]
async fn a_resident_signs_in_at_login_without_javascript() {
    signs_in_at_login(Options::without_javascript()).await;
}

#[tokio::test]
async fn a_wrong_password_shows_the_message_on_the_page_and_starts_no_session() {
    let app = spawn_app().await;
    Town::build(&app).await;
    let Some(browser) = Browser::open(&app, Options::default()).await else {
        return;
    };
    sign_in_at_login(&browser, RESIDENT_LOGIN, "not-the-password").await;
    browser
        .expect_text("ログインIDかパスワードが違います。")
        .await;
    // The login stays filled in; the password field is marked invalid.
    let login = browser.field("ログインID").await;
    assert_eq!(
        login.prop("value").await.unwrap().as_deref(),
        Some(RESIDENT_LOGIN)
    );
    let password = browser.field("パスワード").await;
    assert_eq!(
        password.attr("aria-invalid").await.unwrap().as_deref(),
        Some("true")
    );
    assert_eq!(browser.cookie("kairan_session").await, None);
    browser.goto("/settings").await;
    assert!(browser.path().await.starts_with("/login"));
    browser.close().await;
}

#[tokio::test]
async fn a_new_resident_joins_with_an_invitation_code_and_only_a_name() {
    let app = spawn_app().await;
    let town = Town::build(&app).await;
    let code = town.invitation(&app).await;
    let Some(browser) = Browser::open(&app, Options::phone()).await else {
        return;
    };
    browser.goto(&format!("/join/{code}")).await;
    browser
        .heading(&format!("{ASSOCIATION_NAME}に参加する"))
        .await;
    browser.fill("お名前", "犀川一郎").await;
    browser.click_button("参加する").await;
    assert_eq!(browser.path().await, "/inbox");
    assert_signed_in_as(&browser, "犀川一郎").await;

    // An unknown code gets a clear page, not a form.
    browser.goto("/join/NOPE-NOPE-NOPE").await;
    browser.expect_text("この招待コードは使えません").await;
    browser.close().await;
}

#[tokio::test]
async fn a_sign_in_qr_signs_a_phone_in_once_and_not_twice() {
    let app = spawn_app().await;
    let town = Town::build(&app).await;
    let url = town.sign_in_url(&app, &town.resident.id).await;
    let path = url.trim_start_matches(&app.address).to_string();
    let Some(phone) = Browser::open(&app, Options::phone()).await else {
        return;
    };
    // Opening the link only shows a button: a preview or a scanner spends nothing.
    phone.goto(&path).await;
    phone.heading("ログイン").await;
    phone.goto(&path).await;
    phone.click_button("ログインする").await;
    assert_eq!(phone.path().await, "/inbox");
    assert_signed_in_as(&phone, &town.resident.display_name).await;
    phone.close().await;

    let second = Browser::open(&app, Options::phone()).await.unwrap();
    second.goto(&path).await;
    second
        .expect_text("このログイン用QRコードは、使用済みか期限切れです。")
        .await;
    assert_eq!(second.cookie("kairan_session").await, None);
    second.close().await;
}

#[tokio::test]
async fn a_form_posted_without_its_csrf_token_changes_nothing() {
    let app = spawn_app().await;
    Town::build(&app).await;
    let Some(browser) = Browser::open(&app, Options::default()).await else {
        return;
    };
    sign_in_at_login(&browser, RESIDENT_LOGIN, PASSWORD).await;
    browser.goto("/settings").await;
    browser
        .execute("document.querySelector('form[action=\"/settings\"] input[name=csrf]').remove(); return true;")
        .await;
    browser
        .by_role("radio", "特大")
        .await
        .click()
        .await
        .unwrap();
    browser.click_button("保存する").await;
    browser
        .expect_text(
            "このフォームは有効期限が切れたか、正しく送られませんでした。何も変更していません。",
        )
        .await;
    browser.goto("/settings").await;
    let standard = browser.by_role("radio", "標準").await;
    assert_eq!(
        standard.prop("checked").await.unwrap().as_deref(),
        Some("true")
    );
    let class = browser
        .execute("return document.documentElement.className;")
        .await;
    assert_eq!(class, json!("text-standard"), "the text size is unchanged");
    browser.close().await;
}

#[tokio::test]
async fn choosing_a_language_changes_the_system_text() {
    let app = spawn_app().await;
    Town::build(&app).await;
    let Some(browser) = Browser::open(&app, Options::without_javascript()).await else {
        return;
    };
    browser.goto("/login").await;
    browser.heading("ログイン").await;
    browser.select("言語 Language", "English").await;
    browser.click_button("切り替える").await;
    browser.heading("Sign in").await;
    browser.field("Login ID").await;
    browser.button("Sign in").await;
    browser.select("Language 言語", "Tiếng Việt").await;
    browser.click_button("Change").await;
    browser.heading("Đăng nhập").await;
    // A member who signs in keeps the language chosen before.
    browser.fill("ID đăng nhập", RESIDENT_LOGIN).await;
    browser.fill("Mật khẩu", PASSWORD).await;
    browser.click_button("Đăng nhập").await;
    browser.goto("/settings").await;
    browser.heading("Cài đặt").await;
    browser.close().await;
}

#[tokio::test]
async fn the_set_up_page_creates_the_first_admin_once() {
    let app = spawn_app().await;
    let setup = app.setup_path.clone().expect("a new database opens set-up");
    let Some(browser) = Browser::open(&app, Options::default()).await else {
        return;
    };
    browser.goto(&setup).await;
    browser.heading("最初の管理者を作成").await;
    browser.fill("ログインID", "kanri@city.kanazawa.test").await;
    browser.fill("お名前", "市の管理者").await;
    browser.fill("パスワード", "short").await;
    browser.click_button("管理者を作成する").await;
    browser.expect_text("パスワードは8文字以上").await;
    browser.fill("パスワード", ADMIN_PASSWORD).await;
    browser.click_button("管理者を作成する").await;
    assert_eq!(browser.path().await, "/city");
    assert_signed_in_as(&browser, "市の管理者").await;
    // The admin signs in to the API too, and the link is spent.
    app.sign_in("kanri@city.kanazawa.test", ADMIN_PASSWORD)
        .await;
    browser.goto(&setup).await;
    browser
        .expect_text("お探しのページは見つかりませんでした")
        .await;
    browser.close().await;
}
