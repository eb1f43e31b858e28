//! Email through the outbox, against an SMTP receiver on loopback: address verification,
//! a new circular's mail in the member's language, the signed confirm link (a GET confirms
//! nothing; the button does, once; tampered and expired links do nothing), the safety check's
//! answer links, unsubscribing, refusals and deferrals, and a withdrawn circular's mail.

use diesel::prelude::*;
use kairan::db::schema::push_deliveries;
use kairan::domain::signed_link::{LinkPurpose, SignedLink};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::fixtures::{Actor, City, PASSWORD, expect_json, str_field};
use crate::helpers::{TestApp, error_code, spawn_app, spawn_app_with};
use crate::pages::{Jar, csrf_of};
use crate::smtp_server::{Answer, ReceivedMail, SmtpServer};

pub async fn spawn_with_mail() -> (TestApp, SmtpServer) {
    let smtp = SmtpServer::start().await;
    let url = smtp.url.clone();
    let app = spawn_app_with(|s| {
        s.email.smtp_url = SecretString::from(url);
        s.email.from = "町内会 <kairan@example.jp>".into();
    })
    .await;
    (app, smtp)
}

pub async fn drain_mail(app: &TestApp) -> usize {
    app.email
        .as_ref()
        .expect("email is configured")
        .drain()
        .await
        .expect("the outbox drains")
}

async fn set_email(app: &TestApp, actor: &Actor, address: &str) -> reqwest::Response {
    app.send_as(
        Method::PUT,
        Some(actor),
        "/api/v1/me/email",
        Some(&json!({"email": address})),
    )
    .await
}

/// Sets and verifies `address` for `actor` through the mailed link.
pub async fn verified_email(app: &TestApp, smtp: &SmtpServer, actor: &Actor, address: &str) {
    assert_eq!(set_email(app, actor, address).await.status(), 202);
    drain_mail(app).await;
    let mail = smtp.mails_to(address).pop().expect("a verification mail");
    let link = mail
        .links()
        .into_iter()
        .next()
        .expect("a verification link");
    let opened = app.client.get(&link).send().await.unwrap();
    assert_eq!(opened.status(), 200);
    let email = expect_json(app.get_as(actor, "/api/v1/me/email").await, 200).await;
    assert_eq!(email["verified"], true, "{email}");
}

async fn publish(app: &TestApp, by: &Actor, association: &str, extra: Value) -> String {
    let mut body = json!({
        "scope": {"kind": "association", "id": association},
        "title": "町内清掃のお知らせ",
        "body": "日曜日の朝8時から町内清掃を行います。\n\n軍手をお持ちください。\n雨天の場合は中止します。\n4行目は載りません。",
    });
    for (key, value) in extra.as_object().unwrap() {
        body[key] = value.clone();
    }
    let created = expect_json(app.post_as(by, "/api/v1/posts", &body).await, 201).await;
    str_field(&created, "id")
}

pub async fn confirmed(app: &TestApp, actor: &Actor, post: &str) -> bool {
    let seen = expect_json(
        app.get_as(actor, &format!("/api/v1/posts/{post}")).await,
        200,
    )
    .await;
    seen["confirmed"].as_bool().unwrap()
}

/// A post's delivery figures, as its officer sees them.
async fn delivery_figures(app: &TestApp, officer: &Actor, post: &str) -> Value {
    expect_json(
        app.get_as(officer, &format!("/api/v1/posts/{post}/deliveries"))
            .await,
        200,
    )
    .await
}

pub fn link_with(mail: &ReceivedMail, purpose: &str) -> String {
    mail.links()
        .into_iter()
        .find(|l| l.contains(&format!("/links/{purpose}.")))
        .unwrap_or_else(|| panic!("no {purpose} link in {}", mail.body()))
}

fn path_of(link: &str) -> String {
    link.split_once("/links/")
        .map(|(_, rest)| format!("/links/{rest}"))
        .unwrap()
}

/// Opens a link's page as a browser would and presses its button.
pub async fn press(app: &TestApp, link: &str) -> (reqwest::Response, String) {
    let mut jar = Jar::default();
    let path = path_of(link);
    let (_, page) = jar.get(app, &path).await;
    let token = csrf_of(&page);
    (jar.post(app, &path, &[("csrf", &token)]).await, page)
}

#[tokio::test]
async fn an_address_is_verified_by_its_mailed_link_before_any_mail_goes_there() {
    let (app, smtp) = spawn_with_mail().await;
    let city = City::build(&app).await;
    let resident = &city.resident_h1;

    let bad = set_email(&app, resident, "not-an-address").await;
    assert_eq!(bad.status(), 422);
    assert_eq!(error_code(bad).await, "invalid_email");
    assert_eq!(app.get_as(resident, "/api/v1/me/email").await.status(), 404);

    let set = set_email(&app, resident, " Hanako@Example.JP ").await;
    assert_eq!(set.status(), 202);
    let body: Value = set.json().await.unwrap();
    assert_eq!(body["email"], "hanako@example.jp");
    assert_eq!(body["verified"], false);

    // Unverified: a circular sends no mail there; only the verification mail goes out.
    publish(&app, &city.officer_a, &city.association_a, json!({})).await;
    assert_eq!(drain_mail(&app).await, 1);
    let mails = smtp.mails_to("hanako@example.jp");
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.subject(), "メールアドレスの確認");
    assert!(mail.header("From").unwrap().contains("kairan@example.jp"));
    assert!(
        mail.header("List-Unsubscribe")
            .is_some_and(|h| h.starts_with(&format!("<{}/links/unsubscribe.", app.address))),
        "{:?}",
        mail.header("List-Unsubscribe")
    );
    let link = link_with(mail, "verify_email");
    assert!(link.starts_with(&app.address));
    let opened = app.client.get(&link).send().await.unwrap();
    assert_eq!(opened.status(), 200);
    assert!(opened.text().await.unwrap().contains("hanako@example.jp"));
    let email = expect_json(app.get_as(resident, "/api/v1/me/email").await, 200).await;
    assert_eq!(email["verified"], true);

    // A new address is unverified again, and the old link no longer verifies anything.
    assert_eq!(
        set_email(&app, resident, "taro@example.jp").await.status(),
        202
    );
    let stale = app.client.get(&link).send().await.unwrap();
    assert_eq!(stale.status(), 400);
    let email = expect_json(app.get_as(resident, "/api/v1/me/email").await, 200).await;
    assert_eq!(email["verified"], false);
}

#[tokio::test]
async fn without_an_smtp_server_an_address_is_refused_clearly() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let refused = set_email(&app, &city.resident_h1, "hanako@example.jp").await;
    assert_eq!(refused.status(), 409);
    assert_eq!(error_code(refused).await, "email_not_configured");
    assert!(app.email.is_none());
}

#[tokio::test]
async fn a_circular_mails_its_title_first_lines_and_a_link_in_the_members_language() {
    let (app, smtp) = spawn_with_mail().await;
    let city = City::build(&app).await;
    verified_email(&app, &smtp, &city.resident_h1, "h1@example.jp").await;
    verified_email(&app, &smtp, &city.resident_h2, "h2@example.jp").await;
    // The second resident reads English pages.
    let mut jar = Jar::default();
    let (_, login) = jar.get(&app, "/login").await;
    let token = csrf_of(&login);
    let signed_in = jar
        .post(
            &app,
            "/login",
            &[
                ("csrf", &token),
                ("login", &city.resident_h2.login),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(signed_in.status(), 303);
    let (_, settings) = jar.get(&app, "/settings").await;
    let token = csrf_of(&settings);
    let saved = jar
        .post(
            &app,
            "/settings",
            &[
                ("csrf", &token),
                ("language", "en"),
                ("text_size", "standard"),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);

    let post = publish(&app, &city.officer_a, &city.association_a, json!({})).await;
    assert_eq!(drain_mail(&app).await, 2);
    let ja = smtp.mails_to("h1@example.jp").pop().unwrap();
    assert_eq!(ja.subject(), "【回覧】町内清掃のお知らせ");
    let body = ja.body();
    assert!(body.contains("日曜日の朝8時から町内清掃を行います。\n軍手をお持ちください。\n雨天の場合は中止します。"), "{body}");
    assert!(!body.contains("4行目"), "only the first lines: {body}");
    assert!(
        body.contains(&format!("{}/posts/{post}", app.address)),
        "{body}"
    );
    assert!(body.contains("回覧板で読む"), "{body}");
    assert!(
        !body.contains("/links/confirm."),
        "no confirmation asked: {body}"
    );
    let en = smtp.mails_to("h2@example.jp").pop().unwrap();
    assert_eq!(en.subject(), "[Circular] 町内清掃のお知らせ");
    assert!(en.body().contains("Read it on the board:"), "{}", en.body());
    assert!(en.header("List-Unsubscribe").is_some());

    // The officer sees the mails per channel.
    let figures = delivery_figures(&app, &city.officer_a, &post).await;
    assert_eq!(figures["channels"]["email"]["sent"], 2, "{figures}");
    assert_eq!(figures["channels"]["push"]["sent"], 0, "{figures}");
}

#[tokio::test]
async fn the_confirm_link_confirms_only_by_its_button_once_and_never_when_altered() {
    let (app, smtp) = spawn_with_mail().await;
    let city = City::build(&app).await;
    let resident = &city.resident_h1;
    verified_email(&app, &smtp, resident, "h1@example.jp").await;
    let post = publish(
        &app,
        &city.officer_a,
        &city.association_a,
        json!({"requires_confirmation": true}),
    )
    .await;
    drain_mail(&app).await;
    let mail = smtp.mails_to("h1@example.jp").pop().unwrap();
    let link = link_with(&mail, "confirm");
    assert!(link.starts_with(&format!(
        "{}/links/confirm.{post}.{}.",
        app.address, resident.id
    )));

    // Opening it (as a mail scanner would) shows the button and records nothing.
    let opened = app.client.get(&link).send().await.unwrap();
    assert_eq!(opened.status(), 200);
    let page = opened.text().await.unwrap();
    assert!(page.contains(">確認しました</button>"), "{page}");
    assert!(page.contains("町内清掃のお知らせ"));
    assert!(!confirmed(&app, resident, &post).await);

    // Altered links: another post, another member, a longer life, a wrong signature.
    let other = publish(
        &app,
        &city.officer_a,
        &city.association_a,
        json!({"requires_confirmation": true}),
    )
    .await;
    for altered in [
        link.replace(&post, &other),
        link.replace(&resident.id, &city.resident_h2.id),
        {
            let (head, signature) = link.rsplit_once('.').unwrap();
            let (head, expires) = head.rsplit_once('.').unwrap();
            format!(
                "{head}.{}.{signature}",
                expires.parse::<i64>().unwrap() + 86_400
            )
        },
        format!("{}x", link),
    ] {
        let (pressed, page) = press(&app, &altered).await;
        assert!(page.contains("このリンクは使えません"), "{page}");
        assert_eq!(pressed.status(), 400, "{altered}");
        let body = pressed.text().await.unwrap();
        assert!(body.contains("何も記録していません"), "{body}");
    }
    assert!(!confirmed(&app, resident, &post).await);
    assert!(!confirmed(&app, &city.resident_h2, &post).await);

    // The button confirms, like the app's confirmation.
    let (pressed, _) = press(&app, &link).await;
    assert_eq!(pressed.status(), 303);
    assert_eq!(
        pressed.headers()["location"].to_str().unwrap(),
        "/links/done/confirm"
    );
    assert!(confirmed(&app, resident, &post).await);
    let receipts = expect_json(
        app.get_as(&city.officer_a, &format!("/api/v1/posts/{post}/receipts"))
            .await,
        200,
    )
    .await;
    assert_eq!(receipts["confirmed"], 1, "{receipts}");

    // Used once: the same link again says so.
    let again = app.client.get(&link).send().await.unwrap();
    assert_eq!(again.status(), 409);
    assert!(again.text().await.unwrap().contains("すでに使われています"));
    let (replayed, _) = press(&app, &link).await;
    assert_eq!(replayed.status(), 409);

    // An expired link, signed with the server's own key, does nothing either.
    let key = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        link_key(&app.database).trim(),
    )
    .unwrap();
    let expired = SignedLink {
        purpose: LinkPurpose::Confirm,
        subject: other.clone(),
        member: resident.id.clone(),
        expires: chrono::Utc::now().timestamp() - 1,
    }
    .sign(&key);
    let (pressed, page) = press(&app, &format!("{}/links/{expired}", app.address)).await;
    assert!(page.contains("有効期限が切れています"), "{page}");
    assert_eq!(pressed.status(), 410);
    assert!(!confirmed(&app, resident, &other).await);
}

#[tokio::test]
async fn a_safety_check_mail_answers_through_a_preselected_link_and_its_button() {
    let (app, smtp) = spawn_with_mail().await;
    let city = City::build(&app).await;
    verified_email(&app, &smtp, &city.resident_h1, "h1@example.jp").await;
    let check = expect_json(
        app.post_as(
            &city.officer_a,
            "/api/v1/safety-checks",
            &json!({"scope": {"kind": "association", "id": city.association_a},
                    "message": "地震がありました。ご無事ですか。"}),
        )
        .await,
        201,
    )
    .await;
    let check = str_field(&check, "id");
    drain_mail(&app).await;
    let mail = smtp.mails_to("h1@example.jp").pop().unwrap();
    assert_eq!(
        mail.subject(),
        "【安否確認】地震がありました。ご無事ですか。"
    );
    let safe = link_with(&mail, "safe");
    let help = link_with(&mail, "needs_help");
    assert!(safe.contains(&check) && help.contains(&check));

    let opened = app.client.get(&help).send().await.unwrap();
    let page = opened.text().await.unwrap();
    assert!(
        page.contains("支援が必要です") && page.contains(">この答えを送る</button>"),
        "{page}"
    );
    let status = format!("/api/v1/safety-checks/{check}/status");
    let before = expect_json(app.get_as(&city.officer_a, &status).await, 200).await;
    assert_eq!(before["answered"], 0, "opening the link answers nothing");

    let (pressed, _) = press(&app, &help).await;
    assert_eq!(pressed.status(), 303);
    let after = expect_json(app.get_as(&city.officer_a, &status).await, 200).await;
    assert_eq!(after["needs_help"], 1, "{after}");
    // The other link of the same mail still works (the household changes its answer).
    let (pressed, _) = press(&app, &safe).await;
    assert_eq!(pressed.status(), 303);
    let after = expect_json(app.get_as(&city.officer_a, &status).await, 200).await;
    assert_eq!(
        (after["safe"].clone(), after["needs_help"].clone()),
        (json!(1), json!(0))
    );
}

#[tokio::test]
async fn channels_are_chosen_per_member_and_unsubscribing_turns_email_off() {
    let (app, smtp) = spawn_with_mail().await;
    let city = City::build(&app).await;
    let resident = &city.resident_h1;
    verified_email(&app, &smtp, resident, "h1@example.jp").await;
    let path = "/api/v1/me/notification-preferences";
    let app = &app;
    let put = |body: Value| async move {
        app.send_as(Method::PUT, Some(resident), path, Some(&body))
            .await
    };
    let bad = put(json!({"channels": ["fax"]})).await;
    assert_eq!(bad.status(), 422);
    let none = expect_json(put(json!({"channels": []})).await, 200).await;
    assert_eq!(none["channels"], json!([]));
    publish(app, &city.officer_a, &city.association_a, json!({})).await;
    assert_eq!(drain_mail(app).await, 0, "no channel chosen, no mail");

    let chosen = expect_json(
        put(json!({"channels": ["email", "push", "email"]})).await,
        200,
    )
    .await;
    assert_eq!(chosen["channels"], json!(["push", "email"]));
    assert_eq!(
        chosen["muted_categories"],
        json!([]),
        "categories unchanged"
    );
    publish(app, &city.officer_a, &city.association_a, json!({})).await;
    assert_eq!(drain_mail(app).await, 1);
    let mail = smtp.mails_to("h1@example.jp").pop().unwrap();

    // The mail's unsubscribe link: a button, then email is off.
    let (pressed, page) = press(app, &link_with(&mail, "unsubscribe")).await;
    assert!(page.contains("お知らせを止める"), "{page}");
    assert_eq!(pressed.status(), 303);
    let read = expect_json(app.get_as(resident, path).await, 200).await;
    assert_eq!(read["channels"], json!(["push"]));
    publish(app, &city.officer_a, &city.association_a, json!({})).await;
    assert_eq!(drain_mail(app).await, 0);
}

fn email_rows(app: &TestApp) -> Vec<(String, i32, Option<i32>)> {
    push_deliveries::table
        .filter(push_deliveries::channel.eq("email"))
        .select((
            push_deliveries::status,
            push_deliveries::attempts,
            push_deliveries::last_status,
        ))
        .order(push_deliveries::next_attempt_at.asc())
        .load(&mut *app.db.get().unwrap())
        .unwrap()
}

fn make_due(app: &TestApp) {
    let past = kairan::db::now() - chrono::Duration::minutes(10);
    diesel::update(push_deliveries::table)
        .set(push_deliveries::next_attempt_at.eq(past))
        .execute(&mut *app.db.get().unwrap())
        .unwrap();
}

#[tokio::test]
async fn a_deferring_smtp_server_is_retried_a_refusing_one_fails_and_nothing_is_lost() {
    let (app, smtp) = spawn_with_mail().await;
    let city = City::build(&app).await;
    verified_email(&app, &smtp, &city.resident_h1, "h1@example.jp").await;
    let before = email_rows(&app).len();

    smtp.answer(Answer::Defer);
    let post = publish(&app, &city.officer_a, &city.association_a, json!({})).await;
    assert_eq!(drain_mail(&app).await, 1);
    let rows = email_rows(&app);
    assert_eq!(rows[before..], [("pending".to_string(), 1, Some(451))]);
    assert_eq!(drain_mail(&app).await, 0, "not due before its back-off");

    smtp.answer(Answer::Accept);
    make_due(&app);
    assert_eq!(drain_mail(&app).await, 1);
    assert_eq!(
        smtp.mails_to("h1@example.jp").len(),
        2,
        "verification and the circular"
    );
    let figures = delivery_figures(&app, &city.officer_a, &post).await;
    assert_eq!(figures["channels"]["email"]["sent"], 1);

    smtp.answer(Answer::Refuse);
    let refused = publish(&app, &city.officer_a, &city.association_a, json!({})).await;
    drain_mail(&app).await;
    let figures = delivery_figures(&app, &city.officer_a, &refused).await;
    assert_eq!(figures["channels"]["email"]["failed"], 1, "{figures}");
    assert_eq!(email_rows(&app).last().unwrap().2, Some(550));
}

#[tokio::test]
async fn an_smtp_server_that_is_down_leaves_the_mail_pending_for_a_retry() {
    // An SMTP address where nothing listens.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("smtp://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = spawn_app_with(|s| s.email.smtp_url = SecretString::from(url)).await;
    let city = City::build(&app).await;
    assert_eq!(
        set_email(&app, &city.resident_h1, "h1@example.jp")
            .await
            .status(),
        202
    );
    assert_eq!(drain_mail(&app).await, 1);
    let rows = email_rows(&app);
    assert_eq!(
        rows,
        [("pending".to_string(), 1, None)],
        "a refused connection is retried"
    );
}

#[tokio::test]
async fn a_circular_withdrawn_before_its_mail_went_out_cancels_it() {
    let (app, smtp) = spawn_with_mail().await;
    let city = City::build(&app).await;
    verified_email(&app, &smtp, &city.resident_h1, "h1@example.jp").await;
    let post = publish(&app, &city.officer_a, &city.association_a, json!({})).await;
    let withdrawn = app
        .post_as(
            &city.officer_a,
            &format!("/api/v1/posts/{post}/withdraw"),
            &json!({}),
        )
        .await;
    assert_eq!(withdrawn.status(), 204);
    assert_eq!(drain_mail(&app).await, 0);
    assert_eq!(
        smtp.mails_to("h1@example.jp").len(),
        1,
        "only the verification"
    );
    let figures = delivery_figures(&app, &city.officer_a, &post).await;
    assert_eq!(figures["channels"]["email"]["cancelled"], 1, "{figures}");
    assert_eq!(figures["pending"], 0, "{figures}");
}

/// The server's key of mail links: in the data folder on SQLite, in the database on PostgreSQL.
fn link_key(database: &crate::helpers::TestDatabase) -> String {
    if !database.is_postgres() {
        return std::fs::read_to_string(database.data_dir.path().join("link-key")).unwrap();
    }
    database.pg_values("SELECT value FROM server_secrets WHERE name = 'link_key'")[0].clone()
}
