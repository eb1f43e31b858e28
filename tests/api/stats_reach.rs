//! The dashboard's monthly figures count the members each channel reaches (push, email,
//! line): counts only, stored with the month's snapshot, on `/api/v1/stats/adoption` and
//! the `/city` page.

use reqwest::Method;
use serde_json::json;

use crate::email::{spawn_with_mail, verified_email};
use crate::fixtures::{City, expect_json};
use crate::pages_officer::signed_in;
use crate::push_service::{Browser, PushService};

#[tokio::test]
async fn the_monthly_figures_count_members_reachable_by_each_channel() {
    let (app, smtp) = spawn_with_mail().await;
    let city = City::build(&app).await;
    let service = PushService::start().await;

    // Email: one verified address; one address never verified does not count.
    verified_email(&app, &smtp, &city.resident_h1, "h1@example.jp").await;
    let unverified = app
        .send_as(
            Method::PUT,
            Some(&city.resident_h2),
            "/api/v1/me/email",
            Some(&json!({"email": "h2@example.jp"})),
        )
        .await;
    assert_eq!(unverified.status(), 202);
    // Push: two members subscribe, one of them turns push off.
    for (actor, name) in [(&city.resident_h2, "h2"), (&city.officer_a, "oa")] {
        let browser = Browser::new(&service, "ok", name);
        let created = app
            .post_as(actor, "/api/v1/push/subscriptions", &browser.subscription())
            .await;
        assert_eq!(created.status(), 201);
    }
    let turned_off = app
        .send_as(
            Method::PUT,
            Some(&city.officer_a),
            "/api/v1/me/notification-preferences",
            Some(&json!({"channels": ["email"]})),
        )
        .await;
    assert_eq!(turned_off.status(), 200);

    let snapshot = app
        .post_as(&city.staff, "/api/v1/stats/snapshots", &json!({}))
        .await;
    assert_eq!(snapshot.status(), 200);
    let adoption = expect_json(app.get_as(&city.staff, "/api/v1/stats/adoption").await, 200).await;
    assert_eq!(
        adoption["reachable_members"],
        json!({"push": 1, "email": 1, "line": 0}),
        "{adoption}"
    );

    // The CSV (API and /city) carries the same city-wide counts on every district's row.
    let csv = app
        .get_as(&city.staff, "/api/v1/stats/adoption.csv")
        .await
        .text()
        .await
        .unwrap();
    let mut lines = csv.lines();
    // The last three columns, so the columns spreadsheets already use keep their places.
    let last_three = |line: &str| -> Vec<String> {
        let mut cells: Vec<String> = line.rsplitn(4, ',').take(3).map(str::to_string).collect();
        cells.reverse();
        cells
    };
    assert_eq!(
        last_three(lines.next().unwrap()),
        [
            "city_reachable_push",
            "city_reachable_email",
            "city_reachable_line"
        ],
        "{csv}"
    );
    let rows: Vec<Vec<String>> = lines.map(last_three).collect();
    assert!(!rows.is_empty(), "{csv}");
    for row in &rows {
        assert_eq!(row, &["1", "1", "0"], "{csv}");
    }
    assert!(!csv.contains("h1@example.jp"));

    // The page shows the same counts, and no one's address.
    let mut staff = signed_in(&app, &city.staff).await;
    let (answer, page) = staff.get(&app, "/city").await;
    assert_eq!(answer.status, 200);
    assert!(page.contains("お知らせが届く人（方法ごと）"), "{page}");
    assert!(page.contains("1 人"), "{page}");
    assert!(!page.contains("h1@example.jp"), "{page}");
    let response = staff.get(&app, "/city.csv").await;
    assert_eq!(response.0.status, 200);
    assert_eq!(
        response.1.trim_start_matches('\u{feff}'),
        csv.trim_start_matches('\u{feff}'),
        "the page's CSV is the API's"
    );
}
