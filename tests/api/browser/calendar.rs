//! `/calendar` and the calendar feed on `/settings`, in a browser: reached from the inbox, an
//! event listed by day and in the month grid, axe clean on a phone and at 200 % zoom; the
//! subscribe link is `webcal://`, and revoking it makes the feed answer 404.

use chrono::{Datelike, Duration, Utc};
use serde_json::json;

use super::{Browser, Options};
use crate::calendar::post_event;
use crate::fixtures::{City, PASSWORD};
use crate::helpers::spawn_app;

async fn check_calendar(zoom: f64, tag: &str) {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    // 10:00 JST tomorrow, kept in this month's grid by asking for its month.
    let tomorrow = (Utc::now() + Duration::hours(9)).date_naive() + Duration::days(1);
    let starts = tomorrow.and_hms_opt(1, 0, 0).unwrap().and_utc();
    post_event(
        &app,
        &city.officer_a,
        json!({"kind": "association", "id": city.association_a}),
        &[],
        "公園の清掃",
        json!({"starts_at": starts.to_rfc3339(), "place": "児童公園"}),
    )
    .await;
    let Some(browser) = Browser::open(&app, Options::phone()).await else {
        return;
    };
    if zoom != 1.0 {
        browser.zoom(zoom).await;
    }
    browser.goto("/login").await;
    browser.fill("ログインID", &city.resident_h1.login).await;
    browser.fill("パスワード", PASSWORD).await;
    browser.click_button("ログイン").await;
    browser.goto("/inbox").await;
    browser.link("行事予定を見る").await.click().await.unwrap();
    browser.heading("行事予定").await;
    let month = format!("{:04}-{:02}", tomorrow.year(), tomorrow.month());
    browser.goto(&format!("/calendar?month={month}")).await;
    browser.heading(&tomorrow.to_string()).await;
    browser.expect_text("児童公園").await;
    browser.link("公園の清掃").await;
    browser.assert_accessible(&format!("/calendar {tag}")).await;
    browser.screenshot(&format!("calendar-{tag}")).await;

    browser.goto("/settings").await;
    browser.click_button("購読用アドレスを作る").await;
    browser.heading("カレンダーの購読").await;
    let webcal = browser
        .link("カレンダーに追加する")
        .await
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    assert!(webcal.starts_with("webcal://"), "{webcal}");
    browser
        .assert_accessible(&format!("/calendar/feed {tag}"))
        .await;
    let feed = webcal.replacen("webcal://", "http://", 1);
    assert_eq!(reqwest::get(&feed).await.unwrap().status().as_u16(), 200);

    browser.goto("/settings").await;
    browser.click_button("購読をやめる").await;
    browser
        .expect_text("購読用アドレスを無効にしました。")
        .await;
    assert_eq!(reqwest::get(&feed).await.unwrap().status().as_u16(), 404);
    browser.close().await;
}

#[tokio::test]
async fn the_calendar_page_and_feed_work_and_pass_axe_on_a_phone() {
    check_calendar(1.0, "phone").await;
}

#[tokio::test]
async fn the_calendar_page_passes_axe_at_200_percent_zoom() {
    check_calendar(2.0, "zoom-200").await;
}
