//! The compose page over plain HTTP (what a browser without JavaScript sends): a 行事 with a
//! mistake comes back with the message beside its field in the member's language and sends
//! nothing; the audiences of city staff and of an officer of two districts, a wide audience
//! never chosen for the writer; a draft's files added and removed only by its managers.
//! tests/api/browser/compose.rs drives the same pages in Chromium.

use diesel::prelude::*;
use kairan::db::schema::{attachments, posts};
use serde_json::{Value, json};

use crate::fixtures::{Actor, City, expect_json};
use crate::helpers::{TestApp, spawn_app};
use crate::pages::{Jar, csrf_of};
use crate::pages_tools::{BOUNDARY, PDF, Part, compose, multipart, signed_in};

fn counts(app: &TestApp) -> (i64, i64) {
    let conn = &mut app.db.get().unwrap();
    let posts = posts::table.count().get_result(conn).unwrap();
    let files = attachments::table.count().get_result(conn).unwrap();
    (posts, files)
}

async fn token(app: &TestApp, jar: &mut Jar) -> String {
    csrf_of(&jar.get(app, "/officer/posts/new").await.1)
}

async fn inbox_titles(app: &TestApp, who: &Actor) -> Vec<Value> {
    let inbox = expect_json(app.get_as(who, "/api/v1/me/inbox").await, 200).await;
    inbox["items"]
        .as_array()
        .map(|items| items.iter().map(|i| i["title"].clone()).collect())
        .unwrap_or_default()
}

/// The path a 303 sends the browser to.
async fn posted(app: &TestApp, jar: &mut Jar, path: &str, form: &[(&str, &str)]) -> String {
    let response = jar.post(app, path, form).await;
    assert_eq!(response.status(), 303, "{path}");
    response.headers()["location"].to_str().unwrap().to_string()
}

#[tokio::test]
async fn an_event_mistake_shows_beside_its_field_in_the_members_language_and_sends_nothing() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let mut jar = signed_in(&app, &city.officer_a).await;
    let csrf = token(&app, &mut jar).await;
    let english = [
        ("csrf", csrf.as_str()),
        ("language", "en"),
        ("text_size", "standard"),
    ];
    posted(&app, &mut jar, "/settings", &english).await;
    let event = |end: &'static str| {
        vec![
            Part::Text("csrf", &csrf),
            Part::Text("audience", "association"),
            Part::Text("title", "新年会"),
            Part::Text("body", "公民館で新年会をします。"),
            Part::Text("event_start_date", "2027-01-10"),
            Part::Text("event_start_time", "10:00"),
            Part::Text("event_end_time", end),
            Part::Text("event_place", "公民館"),
        ]
    };

    let (status, page) = compose(&app, &mut jar, &event("09:00")).await;
    assert_eq!(status, 422);
    let error = page
        .find(r#"id="event-end-error""#)
        .expect("the message is beside the end");
    assert!(page[error..].starts_with(r#"id="event-end-error"><span class="error-mark" aria-hidden="true">!</span> The end is before the start."#));
    assert!(page.contains(r#"name="event_end_time" type="time" value="09:00" aria-describedby="event-end-error" aria-invalid="true""#));
    assert!(
        page.contains(r#"value="2027-01-10""#),
        "what was typed stays"
    );
    assert_eq!(counts(&app), (0, 0));

    // A time without its day is named at the day.
    let mut no_day = event("12:00");
    no_day[4] = Part::Text("event_start_date", "");
    let (status, page) = compose(&app, &mut jar, &no_day).await;
    assert_eq!(status, 422);
    assert!(page.contains(r#"id="event-start-date-error""#));
    assert!(page.contains("Enter the day of the event."));
    assert_eq!(counts(&app), (0, 0));

    let (status, _) = compose(&app, &mut jar, &event("12:00")).await;
    assert_eq!(status, 303);
    let items = expect_json(app.get_as(&city.resident_h1, "/api/v1/me/inbox").await, 200).await;
    let id = items["items"][0]["id"].as_str().unwrap().to_string();
    let post = expect_json(
        app.get_as(&city.resident_h1, &format!("/api/v1/posts/{id}"))
            .await,
        200,
    )
    .await;
    assert_eq!(
        post["event"],
        json!({"starts_at": "2027-01-10T01:00:00Z", "ends_at": "2027-01-10T03:00:00Z",
            "all_day": false, "place": "公民館"})
    );
    // The resident's circular says when and where.
    let mut resident = signed_in(&app, &city.resident_h1).await;
    let (_, page) = resident.get(&app, &format!("/posts/{id}")).await;
    assert!(page.contains("<dd>2027-01-10 10:00–12:00</dd>") && page.contains("<dd>公民館</dd>"));
    assert!(page.contains(r#"href="/calendar?month=2027-01""#));
}

/// The `<option>` values of the compose page's audience list, the chosen one marked `*`.
fn audience_values(page: &str) -> Vec<String> {
    let start = page.find(r#"<select id="compose-audience""#).unwrap();
    let list = &page[start..start + page[start..].find("</select>").unwrap()];
    list.split("<option value=\"")
        .skip(1)
        .map(|option| {
            let value = option.split('"').next().unwrap().to_string();
            let chosen = option.split('>').next().unwrap().contains("selected");
            if chosen { format!("*{value}") } else { value }
        })
        .collect()
}

#[tokio::test]
async fn city_staff_must_choose_between_the_city_and_every_district() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let mut jar = signed_in(&app, &city.staff).await;
    let (_, page) = jar.get(&app, "/officer/posts/new").await;
    let values = audience_values(&page);
    assert_eq!(values[0], "*", "nothing wide is chosen for them");
    // The way back is the section they came from.
    assert!(page.contains(r#"<p class="breadcrumb"><a href="/city">"#));
    assert_eq!(values[1], "city");
    for district in [&city.district_1, &city.district_2] {
        assert!(
            values.contains(&format!("district:{district}")),
            "{values:?}"
        );
    }
    let csrf = csrf_of(&page);
    let send = |audience| {
        vec![
            Part::Text("csrf", &csrf),
            Part::Text("audience", audience),
            Part::Text("title", "防災の日のお知らせ"),
            Part::Text("body", "各校下で訓練をします。"),
        ]
    };
    for refused in ["", "district:no-such-district", "association"] {
        let (status, page) = compose(&app, &mut jar, &send(refused)).await;
        assert_eq!(status, 422, "{refused}");
        assert!(page.contains(r#"id="compose-audience-error""#), "{refused}");
        assert_eq!(counts(&app).0, 0, "{refused}");
    }
    let to_district_2 = format!("district:{}", city.district_2);
    let (status, _) = compose(&app, &mut jar, &send(&to_district_2)).await;
    assert_eq!(status, 303);
    assert_eq!(
        inbox_titles(&app, &city.officer_c).await,
        vec![json!("防災の日のお知らせ")]
    );
    assert!(inbox_titles(&app, &city.resident_h1).await.is_empty());
}

#[tokio::test]
async fn an_officer_of_two_districts_is_offered_both_and_the_district_link_chooses_one() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let path = format!("/api/v1/districts/{}/officers", city.district_2);
    let body = json!({"member_id": city.district_officer.id});
    expect_json(app.post_as(&city.staff, &path, &body).await, 201).await;
    let mut jar = signed_in(&app, &city.district_officer).await;
    let (_, page) = jar.get(&app, "/officer/posts/new").await;
    let values = audience_values(&page);
    assert!(values.contains(&format!("district:{}", city.district_1)));
    assert!(values.contains(&format!("district:{}", city.district_2)));
    assert!(!values.contains(&"city".to_string()));

    let (_, page) = jar
        .get(&app, &format!("/district?district={}", city.district_2))
        .await;
    let link = format!("/officer/posts/new?audience=district:{}", city.district_2);
    assert!(page.contains(&format!(r#"href="{link}""#)));
    let (_, page) = jar.get(&app, &link).await;
    assert!(audience_values(&page).contains(&format!("*district:{}", city.district_2)));
}

async fn attach(app: &TestApp, jar: &mut Jar, path: &str, csrf: &str, name: &str) -> u16 {
    let parts = [
        Part::Text("csrf", csrf),
        Part::File(name, "application/pdf", PDF),
    ];
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let response = jar
        .post_body(app, path, &content_type, multipart(&parts))
        .await;
    response.status().as_u16()
}

#[tokio::test]
async fn a_draft_takes_and_loses_files_for_its_managers_only_and_is_sent_once() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let mut jar = signed_in(&app, &city.officer_a).await;
    let csrf = token(&app, &mut jar).await;
    let parts = [
        Part::Text("csrf", &csrf),
        Part::Text("audience", "association"),
        Part::Text("title", "清掃の下書き"),
        Part::Text("body", "日曜の清掃です。"),
        Part::Text("save", "draft"),
        Part::File("chizu.pdf", "application/pdf", PDF),
    ];
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let response = jar
        .post_body(&app, "/officer/posts/new", &content_type, multipart(&parts))
        .await;
    assert_eq!(response.status(), 303);
    let draft = response.headers()["location"].to_str().unwrap().to_string();
    assert!(draft.ends_with("/draft"), "{draft}");
    assert!(inbox_titles(&app, &city.resident_h1).await.is_empty());
    let (_, page) = jar.get(&app, "/officer/posts/new").await;
    assert!(page.contains(&format!(r#"<a href="{draft}">清掃の下書き</a>"#)));

    let upload = format!("{draft}/attachments");
    assert_eq!(
        attach(&app, &mut jar, &upload, &csrf, "annai.pdf").await,
        303
    );
    assert_eq!(counts(&app), (1, 2));
    // No file chosen: the page says so and nothing changes.
    let empty = [Part::Text("csrf", &csrf)];
    let response = jar
        .post_body(&app, &upload, &content_type, multipart(&empty))
        .await;
    assert_eq!(response.status(), 422);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("ファイルを選んでください。")
    );

    let (_, page) = jar.get(&app, &draft).await;
    let file_id = page
        .split("/attachments/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    assert!(page.contains("「chizu.pdf」を外す"));
    let remove = format!("{draft}/attachments/{file_id}/remove");
    // A resident and another association's officer cannot see or change it.
    for outsider in [&city.resident_h1, &city.officer_b] {
        let mut other = signed_in(&app, outsider).await;
        let other_csrf = csrf_of(&other.get(&app, "/settings").await.1);
        assert_eq!(other.get(&app, &draft).await.0.status, 404);
        let answer = other.post(&app, &remove, &[("csrf", &other_csrf)]).await;
        assert_eq!(answer.status(), 404);
        assert_eq!(
            attach(&app, &mut other, &upload, &other_csrf, "x.pdf").await,
            404
        );
    }
    assert_eq!(counts(&app), (1, 2));
    assert_eq!(
        posted(&app, &mut jar, &remove, &[("csrf", &csrf)]).await,
        draft
    );
    assert_eq!(counts(&app), (1, 1));
    let (_, page) = jar.get(&app, &draft).await;
    assert!(!page.contains("chizu.pdf") && page.contains("annai.pdf"));

    let sent = posted(
        &app,
        &mut jar,
        &format!("{draft}/publish"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(
        inbox_titles(&app, &city.resident_h1).await,
        vec![json!("清掃の下書き")]
    );
    // Sent: the draft page opens the circular, and sending again changes nothing.
    let (answer, _) = jar.get(&app, &draft).await;
    assert_eq!(answer.status, 303);
    assert_eq!(answer.headers["location"].to_str().unwrap(), sent);
    let again = jar
        .post(&app, &format!("{draft}/publish"), &[("csrf", &csrf)])
        .await;
    assert_eq!(again.status(), 409);
    assert_eq!(inbox_titles(&app, &city.resident_h1).await.len(), 1);
}
