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

    // The page shows the same counts, and no one's address.
    let mut staff = signed_in(&app, &city.staff).await;
    let (answer, page) = staff.get(&app, "/city").await;
    assert_eq!(answer.status, 200);
    assert!(page.contains("お知らせが届く人（方法ごと）"), "{page}");
    assert!(page.contains("1 人"), "{page}");
    assert!(!page.contains("h1@example.jp"), "{page}");
}
