//! The resident's pages: the inbox (回覧板), a circular with its `確認しました` button and its
//! survey, with and without JavaScript, offline, and refusals that change nothing.

use serde_json::{Value, json};

use super::sign_in::{RESIDENT_LOGIN, Town};
use super::{Browser, Options};
use crate::fixtures::{Actor, PASSWORD, create_association, expect_json, str_field};
use crate::helpers::{TestApp, spawn_app};

const TITLE: &str = "春の一斉清掃のお知らせ";
/// The body of the screenshot's circular, as an officer would write it.
const PLAIN_BODY: &str = "4月20日（日）午前8時に、みどり公園に集まってください。\n軍手とごみ袋は町会で用意します。\n雨の場合は27日（日）に延期します。";
const BODY: &str =
    "4月20日（日）午前8時に公園に集まってください。\n軍手は町会で用意します。<b>雨天中止</b>";

/// The admin posts a circular to the town's association, asking for confirmation.
async fn post_circular(app: &TestApp, town: &Town, extra: Value) -> String {
    let mut body = json!({
        "scope": {"kind": "association", "id": town.association},
        "title": TITLE,
        "body": BODY,
        "priority": "urgent",
        "requires_confirmation": true,
    });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let post = expect_json(app.post_as(&town.admin, "/api/v1/posts", &body).await, 201).await;
    str_field(&post, "id")
}

async fn receipts(app: &TestApp, admin: &Actor, post: &str) -> Value {
    let path = format!("/api/v1/posts/{post}/receipts");
    expect_json(app.get_as(admin, &path).await, 200).await
}

async fn sign_in(browser: &Browser) {
    browser.goto("/login").await;
    browser.fill("ログインID", RESIDENT_LOGIN).await;
    browser.fill("パスワード", PASSWORD).await;
    browser.click_button("ログイン").await;
    browser.heading("回覧板").await;
}

/// With JavaScript on, also axe-core (at 100 % and 200 %) and the unread badge's count.
async fn read_and_confirm(options: Options, javascript: bool) {
    let app = spawn_app().await;
    let town = Town::build(&app).await;
    let post = post_circular(&app, &town, json!({})).await;
    let Some(browser) = Browser::open(&app, options).await else {
        return;
    };
    sign_in(&browser).await;
    browser.goto("/inbox").await;
    browser.heading("回覧板").await;
    browser.expect_text("未読").await;
    browser.expect_text("重要").await;
    if javascript {
        let unread = browser
            .execute("return document.body.getAttribute('data-unread-count');")
            .await;
        assert_eq!(unread, json!("1"));
        browser.assert_accessible("/inbox").await;
    }
    browser
        .link(TITLE)
        .await
        .click()
        .await
        .expect("the circular opens");
    browser.heading(TITLE).await;
    assert_eq!(browser.path().await, format!("/posts/{post}"));
    // The body as written: escaped, its line break kept.
    browser.expect_text("<b>雨天中止</b>").await;
    browser
        .expect_text("集まってください。\n軍手は町会で用意します。")
        .await;
    assert_eq!(receipts(&app, &town.admin, &post).await["read"], 1);
    if javascript {
        browser.assert_accessible("/posts/{id}").await;
        browser.zoom(2.0).await;
        browser.assert_accessible("/posts/{id} at 200 %").await;
        browser.goto("/inbox").await;
        browser.heading("回覧板").await;
        browser.assert_accessible("/inbox at 200 %").await;
        browser.zoom(1.0).await;
        browser.goto(&format!("/posts/{post}")).await;
    }

    browser.click_button("確認しました").await;
    browser.expect_text("確認済み").await;
    let seen = receipts(&app, &town.admin, &post).await;
    assert_eq!(
        (seen["households"].clone(), seen["confirmed"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(seen["unconfirmed"], json!([]));

    if javascript {
        browser.goto("/inbox").await;
        browser.heading("回覧板").await;
        let unread = browser
            .execute("return document.body.getAttribute('data-unread-count');")
            .await;
        assert_eq!(unread, json!("0"));
    }
    browser.close().await;
}

#[tokio::test]
async fn a_resident_reads_a_circular_confirms_it_and_the_officer_sees_the_household_confirmed() {
    read_and_confirm(Options::phone(), true).await;
}

#[tokio::test]
async fn reading_and_confirming_work_without_javascript() {
    read_and_confirm(Options::without_javascript(), false).await;
}

#[tokio::test]
async fn a_survey_is_answered_without_javascript_and_shows_the_households_answer() {
    let app = spawn_app().await;
    let town = Town::build(&app).await;
    let questions = json!({"questions": [
        {"kind": "single_choice", "prompt": "清掃に参加しますか", "options": ["参加する", "参加しない"], "required": true},
        {"kind": "number", "prompt": "参加する人数", "options": []},
    ]});
    let post = post_circular(&app, &town, questions).await;
    let Some(browser) = Browser::open(&app, Options::without_javascript()).await else {
        return;
    };
    sign_in(&browser).await;
    browser.goto(&format!("/posts/{post}")).await;
    browser.heading("アンケート").await;
    browser
        .by_role("radio", "参加しない")
        .await
        .click()
        .await
        .unwrap();
    browser.fill("参加する人数", "2").await;
    browser.click_button("回答する").await;
    browser.expect_text("回答を受け付けました").await;
    let checked = browser.by_role("radio", "参加しない").await;
    assert_eq!(
        checked.prop("checked").await.unwrap().as_deref(),
        Some("true")
    );

    let resident = &town.resident;
    let path = format!("/api/v1/posts/{post}/answers/mine");
    let mine = expect_json(app.get_as(resident, &path).await, 200).await;
    assert_eq!(mine["answers"][0]["choice"], 1);
    assert_eq!(mine["answers"][1]["number"], 2);
    browser.close().await;
}

#[tokio::test]
async fn unknown_and_other_associations_circulars_are_404_pages_and_change_nothing() {
    let app = spawn_app().await;
    let town = Town::build(&app).await;
    let districts = expect_json(app.get_as(&town.admin, "/api/v1/districts").await, 200).await;
    let district = str_field(&districts["items"][0], "id");
    let other = create_association(&app, &town.admin, &district, "となり町会").await;
    let body = json!({
        "scope": {"kind": "association", "id": other},
        "title": "となり町会の回覧",
        "body": "ほかの町会あて",
        "requires_confirmation": true,
    });
    let elsewhere = expect_json(app.post_as(&town.admin, "/api/v1/posts", &body).await, 201).await;
    let elsewhere = str_field(&elsewhere, "id");
    let Some(browser) = Browser::open(&app, Options::default()).await else {
        return;
    };
    sign_in(&browser).await;
    for path in [
        "/posts/0190d5a4-0000-7000-8000-000000000000".to_string(),
        format!("/posts/{elsewhere}"),
    ] {
        browser.goto(&path).await;
        browser.expect_text("見つかりません").await;
        let status = browser
            .execute(&format!(
                "return fetch('{path}', {{headers: {{accept: 'text/html'}}}}).then(r => r.status);"
            ))
            .await;
        assert_eq!(status, json!(404), "{path}");
    }
    let token = browser.execute("return document.body.dataset.csrf;").await;
    let confirm = format!(
        "return fetch('/posts/{elsewhere}/confirm', {{method: 'POST', headers: {{'content-type': 'application/x-www-form-urlencoded'}}, body: 'csrf={}'}}).then(r => r.status);",
        token.as_str().unwrap()
    );
    assert_eq!(browser.execute(&confirm).await, json!(404));
    let seen = receipts(&app, &town.admin, &elsewhere).await;
    assert_eq!(
        (seen["read"].clone(), seen["confirmed"].clone()),
        (json!(0), json!(0))
    );
    browser.close().await;
}

#[tokio::test]
async fn a_confirmation_posted_without_its_csrf_token_changes_nothing() {
    let app = spawn_app().await;
    let town = Town::build(&app).await;
    let post = post_circular(&app, &town, json!({})).await;
    let Some(browser) = Browser::open(&app, Options::default()).await else {
        return;
    };
    sign_in(&browser).await;
    browser.goto(&format!("/posts/{post}")).await;
    browser.button("確認しました").await;
    let status = browser
        .execute(&format!(
            "return fetch('/posts/{post}/confirm', {{method: 'POST', headers: {{'content-type': 'application/x-www-form-urlencoded'}}, body: ''}}).then(r => r.status);"
        ))
        .await;
    assert_eq!(status, json!(400));
    assert_eq!(receipts(&app, &town.admin, &post).await["confirmed"], 0);
    browser.goto(&format!("/posts/{post}")).await;
    browser.button("確認しました").await;
    browser.close().await;
}

#[tokio::test]
async fn a_circular_opened_before_stays_readable_offline() {
    let app = spawn_app().await;
    let town = Town::build(&app).await;
    let post = post_circular(&app, &town, json!({"body": PLAIN_BODY})).await;
    let Some(browser) = Browser::open(&app, Options::phone()).await else {
        return;
    };
    sign_in(&browser).await;
    browser
        .execute("return navigator.serviceWorker.ready.then(() => true);")
        .await;
    browser.goto(&format!("/posts/{post}")).await;
    browser.heading(TITLE).await;
    browser.screenshot("circular-phone").await;
    // The service worker keeps pages it saw while in control; wait until the copy is there.
    let kept = format!(
        "return (async () => {{ for (let i = 0; i < 100; i++) {{
            const c = await caches.open('kairan-pages');
            if (await c.match('/posts/{post}')) return true;
            await new Promise(r => setTimeout(r, 100)); }} return false; }})();"
    );
    assert_eq!(
        browser.execute(&kept).await,
        json!(true),
        "the circular is kept"
    );
    browser.goto("/settings").await;
    browser.offline(true).await;
    browser.goto(&format!("/posts/{post}")).await;
    browser.heading(TITLE).await;
    browser.expect_text("延期します").await;
    browser.offline(false).await;
    browser.close().await;
}

#[tokio::test]
async fn an_officer_composes_a_circular_without_javascript_that_reaches_a_residents_inbox() {
    let app = spawn_app().await;
    let town = Town::build(&app).await;
    let officer = app
        .new_resident(
            &town.admin,
            &town.association,
            None,
            "officer@kairan.test",
            "役員一郎",
        )
        .await;
    let appoint = json!({"member_id": officer.id, "role": "officer"});
    let path = format!("/api/v1/associations/{}/officers", town.association);
    expect_json(app.post_as(&town.admin, &path, &appoint).await, 201).await;
    let Some(browser) = Browser::open(&app, Options::without_javascript()).await else {
        return;
    };
    browser.goto("/login").await;
    browser.fill("ログインID", "officer@kairan.test").await;
    browser.fill("パスワード", PASSWORD).await;
    browser.click_button("ログイン").await;
    browser.heading("回覧板").await;
    browser.goto("/officer/posts/new").await;
    browser.heading("回覧を書く").await;
    browser.fill("題名", "夏祭りのお手伝い募集").await;
    browser
        .fill("本文", "8月の夏祭りのお手伝いを募集します。")
        .await;
    browser
        .by_role("checkbox", "「確認しました」を押してもらう")
        .await
        .click()
        .await
        .unwrap();
    // A survey with one choice is refused: the form comes back, filled in, and nothing is sent.
    browser.fill("質問", "お手伝いできますか").await;
    browser.fill("選択肢", "できる").await;
    browser.click_button("回覧を送る").await;
    browser
        .expect_text("選択肢は2〜20個、1行に1つずつ入力してください。")
        .await;
    let inbox = expect_json(app.get_as(&town.resident, "/api/v1/me/inbox").await, 200).await;
    assert_eq!(inbox["items"], json!([]));
    browser.fill("選択肢", "できる\nできない").await;
    browser.click_button("回覧を送る").await;
    browser.heading("夏祭りのお手伝い募集").await;

    let inbox = expect_json(app.get_as(&town.resident, "/api/v1/me/inbox").await, 200).await;
    assert_eq!(inbox["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(inbox["items"][0]["title"], "夏祭りのお手伝い募集");
    assert_eq!(inbox["items"][0]["requires_confirmation"], true);
    browser.heading("アンケート").await;
    browser.by_role("radio", "できない").await;
    browser.close().await;
}

#[tokio::test]
async fn the_compose_page_is_accessible_and_refused_to_residents() {
    let app = spawn_app().await;
    Town::build(&app).await;
    let Some(browser) = Browser::open(&app, Options::default()).await else {
        return;
    };
    browser.goto("/login").await;
    browser
        .fill("ログインID", crate::fixtures::ADMIN_LOGIN)
        .await;
    browser
        .fill("パスワード", crate::fixtures::ADMIN_PASSWORD)
        .await;
    browser.click_button("ログイン").await;
    browser.goto("/officer/posts/new").await;
    browser.heading("回覧を書く").await;
    browser.assert_accessible("/officer/posts/new").await;
    browser.zoom(2.0).await;
    browser
        .assert_accessible("/officer/posts/new at 200 %")
        .await;
    browser.close().await;

    let Some(browser) = Browser::open(&app, Options::default()).await else {
        return;
    };
    sign_in(&browser).await;
    let status = browser
        .execute("return fetch('/officer/posts/new', {headers: {accept: 'text/html'}}).then(r => r.status);")
        .await;
    assert_eq!(status, json!(403));
    browser.close().await;
}
