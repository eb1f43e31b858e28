//! The safety-check, city and district pages in a real browser: a resident answers a safety
//! check with JavaScript on, off, and offline (stored once, when the network is back); city
//! staff see `N / 62` and the chart, a resident is refused `/city`; a district officer sees
//! `/district`. axe-core on each page, also at 200 % zoom.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::browser::{Browser, Options};
use crate::fixtures::{Actor, City, expect_json, str_field};
use crate::helpers::{TestApp, spawn_app};

/// Officer A asks association A's households whether they are safe.
pub(crate) async fn start_check(app: &TestApp, city: &City) -> String {
    let body = json!({"scope": {"kind": "association", "id": city.association_a},
                      "message": "地震がありました。\nご無事ですか。"});
    let created = expect_json(
        app.post_as(&city.officer_a, "/api/v1/safety-checks", &body)
            .await,
        201,
    )
    .await;
    str_field(&created, "id")
}

pub(crate) async fn sign_in(browser: &Browser, who: &Actor) {
    browser.goto("/login").await;
    browser.fill("ログインID", &who.login).await;
    browser.fill("パスワード", &who.password).await;
    browser.click_button("ログイン").await;
}

async fn status_as_officer(app: &TestApp, city: &City, check: &str) -> Value {
    let path = format!("/api/v1/safety-checks/{check}/status");
    expect_json(app.get_as(&city.officer_a, &path).await, 200).await
}

async fn answers_of_resident(app: &TestApp, city: &City, check: &str) -> Vec<Value> {
    let path = format!(
        "/api/v1/safety-checks/{check}/households/{}/answers",
        city.household_h1_resident
    );
    let history = expect_json(app.get_as(&city.officer_a, &path).await, 200).await;
    history["items"].as_array().cloned().unwrap_or_default()
}

async fn answers_with(options: Options) {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let check = start_check(&app, &city).await;
    let Some(browser) = Browser::open(&app, options).await else {
        return;
    };
    sign_in(&browser, &city.resident_h1).await;
    browser.goto(&format!("/safety/{check}")).await;
    browser.heading("安否確認").await;
    browser.expect_text("ご無事ですか。").await;
    browser.expect_text("まだ回答していません。").await;
    if options.javascript {
        browser.assert_accessible("/safety/{id}").await;
        browser.zoom(2.0).await;
        browser.assert_accessible("/safety/{id} at 200 %").await;
        browser.zoom(1.0).await;
    }
    browser
        .fill("伝えたいこと（なくてもかまいません）", "足をけがしました")
        .await;
    browser.click_button("支援が必要です").await;
    browser.expect_text("回答を受け付けました。").await;
    browser.expect_text("支援が必要").await;
    browser.expect_text("足をけがしました").await;

    let status = status_as_officer(&app, &city, &check).await;
    assert_eq!(status["needs_help"], 1);
    let help = &status["help"][0];
    assert_eq!(help["household_id"], json!(city.household_h1_resident));
    assert_eq!(help["note"], "足をけがしました");
    assert_eq!(help["on_behalf"], false);

    // A closed check says so and takes no answer.
    let close = format!("/api/v1/safety-checks/{check}/close");
    let closed = app.post_as(&city.officer_a, &close, &json!({})).await;
    assert_eq!(closed.status().as_u16(), 204);
    browser.goto(&format!("/safety/{check}")).await;
    browser
        .expect_text("この安否確認は終了しました。回答は受け付けていません。")
        .await;
    assert!(
        !browser.main_text().await.contains("伝えたいこと"),
        "no answer form on a closed check"
    );
    browser.close().await;
}

#[tokio::test]
async fn a_resident_answers_a_safety_check_with_javascript() {
    answers_with(Options::default()).await;
}

#[tokio::test]
async fn a_resident_answers_a_safety_check_without_javascript() {
    answers_with(Options::without_javascript()).await;
}

#[tokio::test]
async fn a_safety_answer_made_offline_is_stored_once_when_the_network_is_back() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let check = start_check(&app, &city).await;
    let Some(browser) = Browser::open(&app, Options::phone()).await else {
        return;
    };
    sign_in(&browser, &city.resident_h1).await;
    browser.goto(&format!("/safety/{check}")).await;
    browser.heading("安否確認").await;
    browser
        .execute("return navigator.serviceWorker.ready.then(() => true);")
        .await;
    browser.offline(true).await;
    // Offline the page stays: the answer is queued, not posted.
    browser
        .button("無事です")
        .await
        .click()
        .await
        .expect("click");
    // The page's own post failed and the answer is queued; the service worker (which
    // DevTools' offline emulation does not cut off) may send it at once, replacing the
    // message, or when the page is back online.
    browser
        .expect_one_of(&["回答を保存しました。", "保存していた回答を送りました。"])
        .await;

    browser.offline(false).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = status_as_officer(&app, &city, &check).await;
        if status["answered"] == 1 {
            assert_eq!(status["safe"], 1);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the queued answer arrives: {status}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Exactly once: the queue is empty and no second copy arrives.
    tokio::time::sleep(Duration::from_secs(2)).await;
    browser
        .execute("return window.kairan.tellServiceWorker({type: 'flush'}).then(() => true);")
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(answers_of_resident(&app, &city, &check).await.len(), 1);
    browser.close().await;
}

#[tokio::test]
async fn city_staff_see_the_districts_toward_62_with_a_chart_and_a_resident_is_refused() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let Some(browser) = Browser::open(&app, Options::phone()).await else {
        return;
    };
    sign_in(&browser, &city.staff).await;
    browser.goto("/city").await;
    browser.heading("校下の利用状況").await;
    let text = browser.main_text().await;
    let shown = text
        .lines()
        .find(|l| l.trim().ends_with(" / 62"))
        .unwrap_or_else(|| panic!("N / 62 on the page: {text}"));
    let active: u32 = shown.trim().trim_end_matches(" / 62").parse().unwrap();
    let api = expect_json(app.get_as(&city.staff, "/api/v1/stats/adoption").await, 200).await;
    assert_eq!(json!(active), api["active_districts"]);
    browser
        .by_role("image", "利用している校下の数（月ごと）と目標までの見通し")
        .await;
    browser.link("CSVファイルをダウンロード").await;
    // The CSV is the API's file.
    let from_page = browser
        .execute("return fetch('/city.csv').then(r => r.text());")
        .await;
    let from_api = app
        .get_as(&city.staff, "/api/v1/stats/adoption.csv")
        .await
        .text()
        .await
        .unwrap();
    let bare = |t: &str| t.trim_start_matches('\u{feff}').to_string();
    assert_eq!(bare(from_page.as_str().unwrap()), bare(&from_api));
    for person in city.personal_data() {
        assert!(!text.contains(&person), "{person} is not on /city");
    }
    browser.assert_accessible("/city").await;
    browser.screenshot("city-phone").await;
    browser.zoom(2.0).await;
    browser.assert_accessible("/city at 200 %").await;
    browser.close().await;

    let Some(browser) = Browser::open(&app, Options::default()).await else {
        return;
    };
    sign_in(&browser, &city.resident_h1).await;
    browser.goto("/city").await;
    browser.heading("この操作はできません").await;
    browser.assert_accessible("/city refused").await;
    browser.close().await;
}

#[tokio::test]
async fn a_district_officer_sees_the_district_and_its_safety_checks() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let check = start_check(&app, &city).await;
    let districts = expect_json(app.get_as(&city.admin, "/api/v1/districts").await, 200).await;
    let name = districts["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == json!(city.district_1))
        .map(|d| str_field(d, "name"))
        .unwrap();
    let Some(browser) = Browser::open(&app, Options::default()).await else {
        return;
    };
    sign_in(&browser, &city.district_officer).await;
    browser.goto("/district").await;
    browser.heading(&format!("{name}校下")).await;
    browser.heading("町会ごとの数字").await;
    browser.link("地震がありました。").await;
    assert!(browser.main_text().await.contains("対象の世帯"));
    for label in &city.labels_a {
        assert!(!browser.main_text().await.contains(label.as_str()));
    }
    browser.assert_accessible("/district").await;
    browser.zoom(2.0).await;
    browser.assert_accessible("/district at 200 %").await;
    browser.zoom(1.0).await;
    // Its status page: counts per association, no household.
    browser.goto(&format!("/safety/{check}/status")).await;
    browser.heading("安否確認の回答状況").await;
    browser.assert_accessible("/safety/{id}/status").await;
    browser.close().await;
}

#[tokio::test]
async fn an_officer_follows_the_status_page_with_the_visit_list() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let check = start_check(&app, &city).await;
    let Some(browser) = Browser::open(&app, Options::default()).await else {
        return;
    };
    sign_in(&browser, &city.officer_a).await;
    browser.goto(&format!("/safety/{check}")).await;
    browser
        .link("回答の状況を見る")
        .await
        .click()
        .await
        .expect("click");
    browser.heading("安否確認の回答状況").await;
    browser.heading("まだ回答がない世帯（訪問先）").await;
    browser.expect_text("住民宅イチ").await;
    browser.assert_accessible("/safety/{id}/status").await;
    browser.zoom(2.0).await;
    browser
        .assert_accessible("/safety/{id}/status at 200 %")
        .await;
    browser.close().await;
}
