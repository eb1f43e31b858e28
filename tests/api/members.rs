//! Members moving between households, and what that does to receipts.

use serde_json::json;

use crate::fixtures::{City, expect_json};
use crate::helpers::spawn_app;

#[tokio::test]
async fn a_member_who_moves_leaves_their_confirmation_with_the_old_household() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let a = &city.association_a;
    let post = expect_json(
        app.post_as(&city.officer_a, "/api/v1/posts", &json!({"scope": {"kind": "association", "id": a}, "title": "草刈り", "body": "日曜日", "requires_confirmation": true}))
            .await,
        201,
    )
    .await;
    let post_id = post["id"].as_str().unwrap();
    assert_eq!(
        app.post_as(
            &city.resident_h1,
            &format!("/api/v1/posts/{post_id}/confirm"),
            &json!({})
        )
        .await
        .status(),
        204
    );
    let before = expect_json(
        app.get_as(
            &city.officer_a,
            &format!("/api/v1/posts/{post_id}/receipts"),
        )
        .await,
        200,
    )
    .await;

    city.move_resident_h1_to_h2(&app).await;
    let me = app.me(&city.resident_h1).await;
    assert_eq!(me["household_id"], city.household_h2_resident.as_str());
    assert_eq!(me["han_id"], city.han_h2.as_str());

    let after = expect_json(
        app.get_as(
            &city.officer_a,
            &format!("/api/v1/posts/{post_id}/receipts"),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        after["confirmed"], before["confirmed"],
        "the old household stays confirmed; the new one gains nothing"
    );
    let unconfirmed: Vec<&str> = after["unconfirmed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["household_id"].as_str().unwrap())
        .collect();
    assert!(!unconfirmed.contains(&city.household_h1_resident.as_str()));
    assert!(unconfirmed.contains(&city.household_h2_resident.as_str()));

    let seen = expect_json(
        app.get_as(&city.resident_h1, &format!("/api/v1/posts/{post_id}"))
            .await,
        200,
    )
    .await;
    assert_eq!(seen["read"], true, "the member did open it");
    assert_eq!(
        seen["confirmed"], false,
        "their new household has not confirmed"
    );
}

#[tokio::test]
async fn only_the_associations_officers_may_move_its_members_and_only_within_it() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let path = format!("/api/v1/members/{}", city.resident_h1.id);
    let to_h2 = json!({"household_id": city.household_h2_resident});
    for outsider in [
        &city.officer_b,
        &city.resident_h2,
        &city.staff,
        &city.han_leader_h1,
    ] {
        assert_eq!(
            app.patch_as(outsider, &path, &to_h2).await.status(),
            404,
            "{}",
            outsider.login
        );
    }
    let to_b = app
        .patch_as(
            &city.officer_a,
            &path,
            &json!({"household_id": city.household_b}),
        )
        .await;
    assert_eq!(to_b.status(), 422);
    assert_eq!(crate::helpers::error_code(to_b).await, "unknown_household");
    assert_eq!(
        app.me(&city.resident_h1).await["household_id"],
        city.household_h1_resident.as_str()
    );
}
