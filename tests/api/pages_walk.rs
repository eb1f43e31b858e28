//! What a walk through the pages role by role found, over plain HTTP: an open safety check
//! is on the resident's inbox (a resident without notifications finds it), and a 班 sheet
//! sent back with no box ticked records nothing and says so.
//! tests/api/browser/walk.rs drives the same in Chromium at phone width.

use serde_json::json;

use crate::fixtures::City;
use crate::helpers::spawn_app;
use crate::pages::csrf_of;
use crate::pages_officer::{signed_in, submit};
use crate::pages_safety::start_check;

#[tokio::test]
async fn an_open_safety_check_is_on_the_residents_inbox_until_it_closes() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let mut resident = signed_in(&app, &city.resident_h1).await;
    let (_, body) = resident.get(&app, "/inbox").await;
    assert!(!body.contains("安否確認が届いています"), "no check yet");

    let check = start_check(&app, &city).await;
    let (answer, body) = resident.get(&app, "/inbox").await;
    assert_eq!(answer.status, 200);
    assert!(body.contains("安否確認が届いています"), "{body}");
    // The link to the check is named by the message's first line.
    assert!(
        body.contains(&format!("href=\"/safety/{check}\">地震がありました。</a>")),
        "{body}"
    );
    assert!(body.contains("まだ回答していません。"));

    // Answered (the page's form): the inbox says how, and still links to the check.
    let page = format!("/safety/{check}");
    let (status, _) = submit(&app, &mut resident, &page, &page, &[("status", "safe")]).await;
    assert_eq!(status, 303);
    let (_, body) = resident.get(&app, "/inbox").await;
    assert!(body.contains("回答済み：無事"), "{body}");
    assert!(!body.contains("まだ回答していません。"));

    // In the member's language.
    let (_, settings) = resident.get(&app, "/settings").await;
    let csrf = csrf_of(&settings);
    let form = [
        ("csrf", csrf.as_str()),
        ("language", "en"),
        ("next", "/inbox"),
    ];
    assert_eq!(resident.post(&app, "/language", &form).await.status(), 303);
    let (_, body) = resident.get(&app, "/inbox").await;
    assert!(
        body.contains("A safety check is waiting for your answer")
            && body.contains("Answered: Safe"),
        "{body}"
    );

    // A member of another association does not see it.
    let mut other = signed_in(&app, &city.officer_b).await;
    let (_, body) = other.get(&app, "/inbox").await;
    assert!(!body.contains(&format!("/safety/{check}")));

    // Closed, it leaves the inbox.
    let close = format!("/api/v1/safety-checks/{check}/close");
    let closed = app.post_as(&city.officer_a, &close, &json!({})).await;
    assert_eq!(closed.status().as_u16(), 204);
    let (_, body) = resident.get(&app, "/inbox").await;
    assert!(!body.contains(&format!("/safety/{check}")), "closed: gone");
}

#[tokio::test]
async fn a_han_sheet_sent_with_no_box_ticked_records_nothing_and_says_so() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let post = crate::pages_officer::circular(&app, &city).await;
    let mut leader = signed_in(&app, &city.han_leader_h1).await;
    let sheet = format!("/officer/posts/{post}/hans/{}/sheet", city.han_h1);
    let response = {
        let (_, body) = leader.get(&app, &sheet).await;
        let csrf = csrf_of(&body);
        leader.post(&app, &sheet, &[("csrf", csrf.as_str())]).await
    };
    assert_eq!(response.status(), 303);
    let back = response.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(back, format!("{sheet}?nothing=1"), "back to the sheet");
    let (answer, body) = leader.get(&app, &back).await;
    assert_eq!(answer.status, 200);
    assert!(
        body.contains("どの世帯にもチェックが入っていませんでした。何も記録していません。"),
        "{body}"
    );
    assert!(
        body.contains("紙回覧宅イチ"),
        "the sheet is still there to tick"
    );
    let (_, receipts) = leader
        .get(&app, &format!("/officer/posts/{post}/receipts"))
        .await;
    assert!(receipts.contains("確認した世帯: 0"));
}

#[tokio::test]
async fn the_receipts_link_a_sheet_only_for_hans_with_paper_households() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let post = crate::pages_officer::circular(&app, &city).await;
    let mut chair = signed_in(&app, &city.chair_a).await;
    let (_, body) = chair
        .get(&app, &format!("/officer/posts/{post}/receipts"))
        .await;
    // 一班 has a paper household, 二班 none.
    assert!(body.contains("一班の紙回覧チェック表"), "{body}");
    assert!(!body.contains("二班の紙回覧チェック表"), "{body}");
    // Each 班's visit list is a region named by its heading, which scrolls on a phone.
    assert!(
        body.contains("class=\"table-scroll\" role=\"region\" aria-labelledby=\"visit-1-heading\"")
    );
}
