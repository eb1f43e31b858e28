//! Events (行事) on a calendar: a circular's event, the member's calendar by date over the
//! inbox's audience rule, bad events refused, and the iCalendar feed at a secret URL (parsed
//! back here), cancelled after withdrawal, gone after revocation.

use std::str::FromStr;

use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use icalendar::{Calendar, CalendarComponent, Component, EventLike};
use serde_json::{Value, json};

use crate::fixtures::{Actor, City, expect_json, str_field};
use crate::helpers::{TestApp, error_code, spawn_app};

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// 10:00 JST `days` from today, in UTC.
fn at_ten_jst(days: i64) -> DateTime<Utc> {
    let today = (Utc::now() + Duration::hours(9)).date_naive();
    (today + Duration::days(days))
        .and_hms_opt(1, 0, 0)
        .unwrap()
        .and_utc()
}

fn day(days: i64) -> String {
    ((Utc::now() + Duration::hours(9)).date_naive() + Duration::days(days)).to_string()
}

pub async fn post_event(
    app: &TestApp,
    by: &Actor,
    scope: Value,
    han_ids: &[&str],
    title: &str,
    event: Value,
) -> String {
    let body = json!({
        "scope": scope,
        "han_ids": han_ids,
        "title": title,
        "body": format!("{title}のお知らせです。"),
        "category": "event",
        "event": event,
    });
    let post = expect_json(app.post_as(by, "/api/v1/posts", &body).await, 201).await;
    str_field(&post, "id")
}

async fn calendar_titles(app: &TestApp, who: &Actor, from: &str, to: &str) -> Vec<String> {
    let path = format!("/api/v1/me/calendar?from={from}&to={to}");
    let list = expect_json(app.get_as(who, &path).await, 200).await;
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap().to_string())
        .collect()
}

/// Four events in three tiers and one 班, posted in an order other than their dates.
async fn city_with_events(app: &TestApp) -> City {
    let city = City::build(app).await;
    let association = json!({"kind": "association", "id": city.association_a});
    let ev = |days: i64| json!({"starts_at": rfc3339(at_ten_jst(days))});
    post_event(
        app,
        &city.officer_a,
        association.clone(),
        &[&city.han_h2],
        "二班の草刈り",
        ev(3),
    )
    .await;
    post_event(
        app,
        &city.staff,
        json!({"kind": "city"}),
        &[],
        "市の防災訓練",
        ev(5),
    )
    .await;
    post_event(
        app,
        &city.district_officer,
        json!({"kind": "district", "id": city.district_1}),
        &[],
        "校下の運動会",
        json!({"starts_at": rfc3339(at_ten_jst(2)), "ends_at": rfc3339(at_ten_jst(2) + Duration::hours(6)), "place": "〇〇小学校"}),
    )
    .await;
    post_event(
        app,
        &city.officer_c,
        json!({"kind": "association", "id": city.association_c}),
        &[],
        "三丁目の餅つき",
        ev(4),
    )
    .await;
    post_event(app, &city.officer_a, association, &[], "町会の清掃", ev(1)).await;
    city
}

#[tokio::test]
async fn events_are_listed_by_date_for_their_audience_only() {
    let app = spawn_app().await;
    let city = city_with_events(&app).await;
    let (from, to) = (day(0), day(10));
    assert_eq!(
        calendar_titles(&app, &city.resident_h1, &from, &to).await,
        ["町会の清掃", "校下の運動会", "市の防災訓練"]
    );
    assert_eq!(
        calendar_titles(&app, &city.resident_h2, &from, &to).await,
        ["町会の清掃", "校下の運動会", "二班の草刈り", "市の防災訓練"]
    );
    assert_eq!(
        calendar_titles(&app, &city.officer_c, &from, &to).await,
        ["三丁目の餅つき", "市の防災訓練"]
    );
    // Staff live in no household, so no audience reaches them (as in the inbox).
    assert!(
        calendar_titles(&app, &city.staff, &from, &to)
            .await
            .is_empty()
    );
    // The window is in days, both ends included.
    assert_eq!(
        calendar_titles(&app, &city.resident_h2, &day(2), &day(3)).await,
        ["校下の運動会", "二班の草刈り"]
    );
    let path = format!("/api/v1/me/calendar?from={}&to={}", day(2), day(2));
    let list = expect_json(app.get_as(&city.resident_h1, &path).await, 200).await;
    let item = &list["items"][0];
    assert_eq!(item["place"], "〇〇小学校");
    assert_eq!(item["starts_at"], rfc3339(at_ten_jst(2)));
    assert_eq!(item["ends_at"], rfc3339(at_ten_jst(2) + Duration::hours(6)));
    assert_eq!(item["all_day"], false);
}

#[tokio::test]
async fn a_posts_event_comes_back_with_it_and_follows_edits() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let starts = at_ten_jst(7);
    let id = post_event(
        &app,
        &city.officer_a,
        json!({"kind": "association", "id": city.association_a}),
        &[],
        "夏祭り",
        json!({"starts_at": rfc3339(starts), "all_day": true, "place": " 児童公園 "}),
    )
    .await;
    let post = expect_json(
        app.get_as(&city.resident_h1, &format!("/api/v1/posts/{id}"))
            .await,
        200,
    )
    .await;
    assert_eq!(
        post["event"],
        json!({"starts_at": rfc3339(starts), "ends_at": null, "all_day": true, "place": "児童公園"})
    );
    let moved = starts + Duration::days(1);
    let edit = json!({"event": {"starts_at": rfc3339(moved)}});
    let post = expect_json(
        app.patch_as(&city.officer_a, &format!("/api/v1/posts/{id}"), &edit)
            .await,
        200,
    )
    .await;
    assert_eq!(post["event"]["starts_at"], rfc3339(moved));
    assert_eq!(
        calendar_titles(&app, &city.resident_h1, &day(8), &day(8)).await,
        ["夏祭り"]
    );
    assert!(
        calendar_titles(&app, &city.resident_h1, &day(7), &day(7))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn bad_events_and_windows_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let starts = at_ten_jst(3);
    let bad = [
        json!({"starts_at": rfc3339(starts), "ends_at": rfc3339(starts - Duration::minutes(1))}),
        json!({"starts_at": rfc3339(starts), "ends_at": rfc3339(starts + Duration::days(40))}),
        json!({"starts_at": rfc3339(starts), "place": "あ".repeat(201)}),
    ];
    for event in bad {
        let body = json!({
            "scope": {"kind": "association", "id": city.association_a},
            "title": "逆さまの行事",
            "body": "本文",
            "event": event,
        });
        let response = app.post_as(&city.officer_a, "/api/v1/posts", &body).await;
        assert_eq!(response.status().as_u16(), 422, "{event}");
        assert_eq!(error_code(response).await, "invalid_input");
    }
    let inbox = expect_json(app.get_as(&city.resident_h1, "/api/v1/me/inbox").await, 200).await;
    assert!(inbox["items"].as_array().unwrap().is_empty());
    for query in [
        format!("from={}&to={}", day(5), day(1)),
        "from=12/01".to_string(),
        format!("from={}&to={}", day(0), day(500)),
    ] {
        let response = app
            .get_as(&city.resident_h1, &format!("/api/v1/me/calendar?{query}"))
            .await;
        assert_eq!(response.status().as_u16(), 400, "{query}");
        assert_eq!(error_code(response).await, "invalid_query");
    }
}

async fn new_feed(app: &TestApp, who: &Actor) -> Value {
    expect_json(
        app.post_as(who, "/api/v1/me/calendar-feed", &json!({}))
            .await,
        201,
    )
    .await
}

async fn fetch_feed(url: &str) -> reqwest::Response {
    reqwest::get(url).await.unwrap()
}

async fn parse_feed(url: &str) -> Calendar {
    let response = fetch_feed(url).await;
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("text/calendar"), "{content_type}");
    let text = response.text().await.unwrap();
    Calendar::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn vevents(calendar: &Calendar) -> Vec<&icalendar::Event> {
    calendar
        .components
        .iter()
        .filter_map(|c| match c {
            CalendarComponent::Event(e) => Some(e),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn the_feed_parses_with_stable_uids_in_tokyo_time_and_cancels_withdrawn_events() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let starts = at_ten_jst(3);
    let id = post_event(
        &app,
        &city.officer_a,
        json!({"kind": "association", "id": city.association_a}),
        &[],
        "防災訓練",
        json!({"starts_at": rfc3339(starts), "ends_at": rfc3339(starts + Duration::hours(2)), "place": "公民館"}),
    )
    .await;
    let all_day = post_event(
        &app,
        &city.staff,
        json!({"kind": "city"}),
        &[],
        "市民清掃の日",
        json!({"starts_at": rfc3339(at_ten_jst(5)), "ends_at": rfc3339(at_ten_jst(6)), "all_day": true}),
    )
    .await;
    let feed = new_feed(&app, &city.resident_h1).await;
    let url = feed["url"].as_str().unwrap();
    assert!(
        feed["webcal_url"]
            .as_str()
            .unwrap()
            .starts_with("webcal://")
    );

    let calendar = parse_feed(url).await;
    assert!(calendar.to_string().contains("TZID:Asia/Tokyo"));
    let events = vevents(&calendar);
    assert_eq!(events.len(), 2);
    let timed = events
        .iter()
        .find(|e| e.get_uid() == Some(&format!("{id}@kairan")))
        .expect("the timed event by its UID");
    assert_eq!(timed.get_summary(), Some("防災訓練"));
    assert_eq!(timed.get_location(), Some("公民館"));
    assert_eq!(timed.property_value("STATUS"), Some("CONFIRMED"));
    let ten_jst = (starts + Duration::hours(9)).naive_utc();
    assert_eq!(
        timed.get_start(),
        Some(icalendar::DatePerhapsTime::DateTime(
            icalendar::CalendarDateTime::WithTimezone {
                date_time: ten_jst,
                tzid: "Asia/Tokyo".into()
            }
        ))
    );
    let whole = events
        .iter()
        .find(|e| e.get_uid() == Some(&format!("{all_day}@kairan")))
        .expect("the all-day event");
    let first: NaiveDate = (at_ten_jst(5) + Duration::hours(9)).date_naive();
    assert_eq!(whole.get_start(), Some(first.into()));
    assert_eq!(whole.get_end(), Some((first + Duration::days(2)).into()));

    let response = app
        .post_as(
            &city.officer_a,
            &format!("/api/v1/posts/{id}/withdraw"),
            &json!({}),
        )
        .await;
    assert!(response.status().is_success());
    let calendar = parse_feed(url).await;
    let cancelled = vevents(&calendar)
        .into_iter()
        .find(|e| e.get_uid() == Some(&format!("{id}@kairan")))
        .expect("the withdrawn event keeps its UID")
        .clone();
    assert_eq!(cancelled.property_value("STATUS"), Some("CANCELLED"));
    let sequence = |e: &icalendar::Event| e.get_sequence().unwrap_or(0);
    assert!(sequence(&cancelled) >= sequence(timed));
    // The calendar list shows only what is on.
    assert_eq!(
        calendar_titles(&app, &city.resident_h1, &day(0), &day(10)).await,
        ["市民清掃の日"]
    );
}

#[tokio::test]
async fn a_replaced_or_revoked_feed_url_answers_404() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let first = new_feed(&app, &city.resident_h1).await;
    let first = first["url"].as_str().unwrap().to_string();
    assert_eq!(fetch_feed(&first).await.status().as_u16(), 200);
    let second = new_feed(&app, &city.resident_h1).await;
    let second = second["url"].as_str().unwrap().to_string();
    assert_ne!(first, second);
    assert_eq!(fetch_feed(&first).await.status().as_u16(), 404);
    assert_eq!(fetch_feed(&second).await.status().as_u16(), 200);
    let response = app
        .delete_as(&city.resident_h1, "/api/v1/me/calendar-feed")
        .await;
    assert_eq!(response.status().as_u16(), 204);
    let gone = fetch_feed(&second).await;
    assert_eq!(gone.status().as_u16(), 404);
    assert_eq!(error_code(gone).await, "not_found");
    assert_eq!(
        fetch_feed(&app.url("/api/v1/calendar-feeds/made-up.ics"))
            .await
            .status()
            .as_u16(),
        404
    );
    // Without a token there is no feed to make.
    let anonymous = reqwest::Client::new()
        .post(app.url("/api/v1/me/calendar-feed"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
}
