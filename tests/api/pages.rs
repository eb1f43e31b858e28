//! The pages over plain HTTP (no browser needed): headers, assets, CSRF, sessions and
//! sign-in QR codes. tests/api/browser/ drives the same pages in Chromium.

use std::collections::BTreeMap;

use reqwest::header::{
    ACCEPT, ACCEPT_LANGUAGE, CACHE_CONTROL, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE,
};
use serde_json::{Value, json};

use crate::browser::sign_in::{RESIDENT_LOGIN, Town};
use crate::fixtures::{PASSWORD, expect_json, str_field};
use crate::helpers::{TestApp, error_code, spawn_app};

/// What a browser asks for, so errors come as pages.
pub const HTML: &str = "text/html,application/xhtml+xml,*/*;q=0.8";

/// A browser's cookie jar, by hand.
#[derive(Default)]
pub struct Jar(pub BTreeMap<String, String>);

impl Jar {
    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, response: &reqwest::Response) -> Vec<String> {
        let set: Vec<String> = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        for cookie in &set {
            let (pair, _) = cookie.split_once(';').unwrap_or((cookie, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || cookie.contains("Max-Age=0") {
                self.0.remove(name);
            } else {
                self.0.insert(name.to_string(), value.to_string());
            }
        }
        set
    }

    pub async fn get(&mut self, app: &TestApp, path: &str) -> (Answer, String) {
        let response = app
            .client
            .get(app.url(path))
            .header(ACCEPT, HTML)
            .header(COOKIE, self.header())
            .send()
            .await
            .unwrap();
        self.keep(&response);
        let answer = Answer {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
        };
        (answer, response.text().await.unwrap())
    }

    pub async fn post(
        &mut self,
        app: &TestApp,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let response = app
            .client
            .post(app.url(path))
            .header(ACCEPT, HTML)
            .header(COOKIE, self.header())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).unwrap())
            .send()
            .await
            .unwrap();
        self.keep(&response);
        response
    }

    /// Posts a body of any type (a multipart form, say) with this jar's cookies.
    pub async fn post_body(
        &mut self,
        app: &TestApp,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> reqwest::Response {
        let response = app
            .client
            .post(app.url(path))
            .header(ACCEPT, HTML)
            .header(COOKIE, self.header())
            .header(CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        self.keep(&response);
        response
    }
}

/// A page's status and headers (its body comes beside it).
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
}

impl Answer {
    fn header(&self, name: reqwest::header::HeaderName) -> String {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    }
}

/// The CSRF token a page gives its forms.
pub fn csrf_of(body: &str) -> String {
    let start = body.find("data-csrf=\"").expect("the page names its token") + 11;
    body[start..].split('"').next().unwrap().to_string()
}

fn header(response: &reqwest::Response, name: reqwest::header::HeaderName) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn pages_carry_a_strict_policy_are_not_cached_and_name_hashed_assets() {
    let app = spawn_app().await;
    let mut jar = Jar::default();
    let (page, body) = jar.get(&app, "/login").await;
    assert_eq!(page.status, 200);
    let policy = page.header(reqwest::header::CONTENT_SECURITY_POLICY);
    assert!(policy.contains("script-src 'self'") && policy.contains("style-src 'self'"));
    assert!(!policy.contains("unsafe-inline"));
    assert_eq!(page.header(CACHE_CONTROL), "no-store");
    assert!(body.contains("<html lang=\"ja\""));
    assert!(!body.contains("style=\""), "no inline styles");
    let css = body
        .split('"')
        .find(|s| s.starts_with("/static/app.") && s.ends_with(".css"))
        .expect("the stylesheet by its hashed name")
        .to_string();
    let asset = app.get(&css).await;
    assert_eq!(asset.status(), 200);
    assert_eq!(
        header(&asset, CACHE_CONTROL),
        "public, max-age=31536000, immutable"
    );
    assert!(header(&asset, CONTENT_TYPE).starts_with("text/css"));
    assert_eq!(app.get("/static/app.css").await.status(), 404);
    let worker = app.get("/sw.js").await;
    assert_eq!(header(&worker, CACHE_CONTROL), "no-cache");
    assert!(
        worker.text().await.unwrap().contains(&css),
        "the shell lists the stylesheet"
    );
    let manifest: Value = app.get("/manifest.webmanifest").await.json().await.unwrap();
    assert_eq!(manifest["start_url"], "/");
}

#[tokio::test]
async fn unknown_pages_answer_in_the_visitors_language_and_the_api_stays_json() {
    let app = spawn_app().await;
    let page = app
        .client
        .get(app.url("/no/such/page"))
        .header(ACCEPT, HTML)
        .header(ACCEPT_LANGUAGE, "vi-VN,vi;q=0.9")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 404);
    assert!(header(&page, CONTENT_TYPE).starts_with("text/html"));
    assert!(page.text().await.unwrap().contains("Không tìm thấy trang"));
    // API clients keep their JSON, under /api/ even when they accept HTML.
    for (path, accept) in [("/api/v1/no-such-thing", HTML), ("/no/such/page", "*/*")] {
        let api = app
            .client
            .get(app.url(path))
            .header(ACCEPT, accept)
            .send()
            .await
            .unwrap();
        assert_eq!(api.status(), 404);
        assert_eq!(error_code(api).await, "not_found");
    }
}

#[tokio::test]
async fn a_login_form_without_its_csrf_token_signs_nobody_in() {
    let app = spawn_app().await;
    Town::build(&app).await;
    let mut jar = Jar::default();
    jar.get(&app, "/login").await;
    let refused = jar
        .post(
            &app,
            "/login",
            &[("login", RESIDENT_LOGIN), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(refused.status(), 400);
    assert!(!jar.0.contains_key("kairan_session"));
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("何も変更していません")
    );
    // A token from another visitor does not do either.
    let mut other = Jar::default();
    let (_, body) = other.get(&app, "/login").await;
    let stolen = csrf_of(&body);
    let refused = jar
        .post(
            &app,
            "/login",
            &[
                ("csrf", &stolen),
                ("login", RESIDENT_LOGIN),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(refused.status(), 400);
    assert!(!jar.0.contains_key("kairan_session"));
}

#[tokio::test]
async fn signing_in_sets_a_safe_session_cookie_that_sign_out_ends_on_the_server() {
    let app = spawn_app().await;
    Town::build(&app).await;
    let mut jar = Jar::default();
    let (_, body) = jar.get(&app, "/login?next=/settings").await;
    let token = csrf_of(&body);
    let signed_in = jar
        .post(
            &app,
            "/login",
            &[
                ("csrf", &token),
                ("login", RESIDENT_LOGIN),
                ("password", PASSWORD),
                ("next", "/settings"),
            ],
        )
        .await;
    assert_eq!(signed_in.status(), 303);
    assert_eq!(header(&signed_in, LOCATION), "/settings");
    let cookie = signed_in
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("kairan_session="))
        .expect("a session cookie")
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "plain http on loopback: {cookie}"
    );
    let session = jar.0["kairan_session"].clone();

    let (settings, body) = jar.get(&app, "/settings").await;
    assert_eq!(settings.status, 200);
    let token = csrf_of(&body);
    let out = jar.post(&app, "/logout", &[("csrf", &token)]).await;
    assert_eq!(out.status(), 303);
    assert_eq!(
        header(&out, "clear-site-data".parse().unwrap()),
        "\"cache\", \"storage\""
    );

    // The old cookie, replayed, no longer signs anyone in.
    let mut thief = Jar::default();
    thief.0.insert("kairan_session".into(), session);
    let (page, _) = thief.get(&app, "/settings").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.header(LOCATION), "/login?next=%2Fsettings");
}

#[tokio::test]
async fn a_wrong_password_page_says_so_and_counts_toward_the_api_limit() {
    let app = spawn_app().await;
    Town::build(&app).await;
    let mut jar = Jar::default();
    let (_, body) = jar.get(&app, "/login").await;
    let token = csrf_of(&body);
    let wrong = jar
        .post(
            &app,
            "/login",
            &[
                ("csrf", &token),
                ("login", RESIDENT_LOGIN),
                ("password", "wrong-password"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), 401);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("ログインIDかパスワードが違います。")
    );
    assert!(!jar.0.contains_key("kairan_session"));
    let failures: i64 = {
        use diesel::prelude::*;
        kairan::db::schema::login_failures::table
            .count()
            .get_result(&mut app.db.get().unwrap())
            .unwrap()
    };
    assert_eq!(failures, 1, "the page shares the API's failure counter");
}

#[tokio::test]
async fn only_officers_of_the_members_association_issue_sign_in_codes() {
    let app = spawn_app().await;
    let town = Town::build(&app).await;
    let path = format!("/api/v1/members/{}/sign-in-codes", town.admin.id);
    let other = app
        .new_resident(
            &town.admin,
            &town.association,
            None,
            "jiro@kairan.test",
            "金沢次郎",
        )
        .await;
    let by_resident = app
        .post_as(
            &other,
            &format!("/api/v1/members/{}/sign-in-codes", town.resident.id),
            &json!({}),
        )
        .await;
    assert_eq!(by_resident.status(), 404);
    // Staff without a household get none.
    assert_eq!(
        app.post_as(&town.admin, &path, &json!({})).await.status(),
        404
    );
    let issued = expect_json(
        app.post_as(
            &town.admin,
            &format!("/api/v1/members/{}/sign-in-codes", town.resident.id),
            &json!({}),
        )
        .await,
        201,
    )
    .await;
    assert!(str_field(&issued, "url").starts_with(&format!("{}/signin/", app.address)));
    assert!(str_field(&issued, "qr_svg").starts_with("<svg"));
}

#[tokio::test]
async fn a_sign_in_code_ends_other_sign_ins_and_works_once() {
    let app = spawn_app().await;
    let town = Town::build(&app).await;
    let url = town.sign_in_url(&app, &town.resident.id).await;
    let path = url.trim_start_matches(&app.address).to_string();
    // The lost phone's API sign-in ended.
    let refresh = app
        .post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": town.resident.refresh_token}),
        )
        .await;
    assert_eq!(refresh.status(), 401);

    let mut phone = Jar::default();
    let (shown, body) = phone.get(&app, &path).await;
    assert_eq!(shown.status, 200);
    phone.get(&app, &path).await;
    let token = csrf_of(&body);
    let signed_in = phone.post(&app, &path, &[("csrf", &token)]).await;
    assert_eq!(signed_in.status(), 303);
    assert!(phone.0.contains_key("kairan_session"));

    let mut second = Jar::default();
    let (refused, body) = second.get(&app, &path).await;
    assert_eq!(refused.status, 422);
    assert!(body.contains("使用済みか期限切れ"));
    let token = csrf_of(&body);
    let again = second.post(&app, &path, &[("csrf", &token)]).await;
    assert_eq!(again.status(), 422);
    assert!(!second.0.contains_key("kairan_session"));
    let audited: i64 = {
        use diesel::prelude::*;
        use kairan::db::schema::audit_log;
        audit_log::table
            .filter(audit_log::action.eq_any(["sign_in_code_issued", "sign_in_code_used"]))
            .count()
            .get_result(&mut app.db.get().unwrap())
            .unwrap()
    };
    assert_eq!(audited, 2);
}

#[tokio::test]
async fn joining_without_a_password_keeps_the_phone_signed_in_and_the_language() {
    let app = spawn_app().await;
    let town = Town::build(&app).await;
    let code = town.invitation(&app).await;
    let mut jar = Jar::default();
    let (_, body) = jar.get(&app, "/login").await;
    let token = csrf_of(&body);
    jar.post(
        &app,
        "/language",
        &[("csrf", &token), ("language", "ko"), ("next", "/login")],
    )
    .await;
    let (page, body) = jar.get(&app, &format!("/join/{code}")).await;
    assert_eq!(page.status, 200);
    assert!(body.contains(crate::browser::sign_in::ASSOCIATION_NAME));
    let empty = jar
        .post(
            &app,
            &format!("/join/{code}"),
            &[("csrf", &token), ("display_name", " ")],
        )
        .await;
    assert_eq!(empty.status(), 422);
    // The name's rule refuses it: beside the field and in the summary, in Korean.
    let body = empty.text().await.unwrap();
    let message = "이름을(를) 입력해 주세요.";
    assert!(crate::pages_forms::beside(&body, "name", message), "{body}");
    assert!(crate::pages_forms::summarised(
        &body,
        "display_name",
        message
    ));
    let joined = jar
        .post(
            &app,
            &format!("/join/{code}"),
            &[("csrf", &token), ("display_name", "犀川三郎")],
        )
        .await;
    assert_eq!(joined.status(), 303);
    let (settings, body) = jar.get(&app, "/settings").await;
    assert_eq!(settings.status, 200);
    assert!(
        body.contains("<html lang=\"ko\""),
        "the language chosen before joining is kept"
    );
    assert!(body.contains("犀川三郎"));
}
