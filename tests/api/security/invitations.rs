//! Finding 1: an invitation that grants a role works only while its issuer may still issue it.

use serde_json::{Value, json};

use crate::fixtures::{City, expect_json, str_field};
use crate::helpers::{error_code, spawn_app};

fn roles_path(city: &City) -> String {
    format!("/api/v1/associations/{}/roles", city.association_a)
}

#[tokio::test]
async fn a_chairs_invitation_stops_working_when_the_handover_ends_the_chair() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let a = &city.association_a;
    let (invitation, code) = app
        .invite(&city.chair_a, a, json!({"role": "chair", "max_uses": 1000}))
        .await;
    let next_chair = app
        .new_resident(
            &city.officer_a,
            a,
            None,
            "next.chair@kairan.test",
            "次期会長",
        )
        .await;
    let next_year = kairan::domain::fiscal_year(chrono::Utc::now().naive_utc()) + 1;

    let answer = expect_json(
        app.post_as(
            &city.admin,
            &format!("/api/v1/associations/{a}/handover"),
            &json!({"term_year": next_year, "assignments": [
                {"member_id": next_chair.id, "role": "chair"},
            ]}),
        )
        .await,
        200,
    )
    .await;

    let revoked: Vec<String> = answer["revoked_invitations"]
        .as_array()
        .unwrap_or_else(|| panic!("the handover lists revoked invitations: {answer}"))
        .iter()
        .map(|i| str_field(i, "id"))
        .collect();
    assert!(revoked.contains(&invitation), "{answer}");
    let response = app
        .register(
            Some(&code),
            "usurper@kairan.test",
            crate::fixtures::PASSWORD,
            "元会長の招待",
        )
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(error_code(response).await, "invitation_invalid");
}

#[tokio::test]
async fn ending_a_chairs_role_revokes_the_role_invitations_they_issued() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let a = &city.association_a;
    let (_, officer_code) = app
        .invite(&city.chair_a, a, json!({"role": "officer"}))
        .await;
    let history = expect_json(app.get_as(&city.admin, &roles_path(&city)).await, 200).await;
    let chair_role = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["member_id"] == city.chair_a.id.as_str() && r["role"] == "chair")
        .map(|r: &Value| str_field(r, "id"))
        .expect("the chair's role");

    let ended = app
        .delete_as(
            &city.admin,
            &format!("/api/v1/role-assignments/{chair_role}"),
        )
        .await;
    assert_eq!(ended.status(), 204);

    let response = app
        .register(
            Some(&officer_code),
            "late@kairan.test",
            crate::fixtures::PASSWORD,
            "遅い人",
        )
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(error_code(response).await, "invitation_invalid");
}

#[tokio::test]
async fn a_role_invitation_is_checked_against_its_issuer_when_it_is_used() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let a = &city.association_a;
    let (_, code) = app
        .invite(&city.chair_a, a, json!({"role": "chair", "max_uses": 3}))
        .await;
    // The role ends behind the API (as a database restore or another process might), so
    // no revocation ran: the check at redemption must still refuse.
    {
        use diesel::{ExpressionMethods, RunQueryDsl};
        use kairan::db::schema::role_assignments;
        let mut conn = app.db.get().unwrap();
        let ended = diesel::update(role_assignments::table)
            .filter(role_assignments::member_id.eq(city.chair_a.id.as_str()))
            .set(role_assignments::ended_at.eq(chrono::Utc::now().naive_utc()))
            .execute(&mut conn)
            .unwrap();
        assert!(ended >= 1);
    }

    let response = app
        .register(
            Some(&code),
            "late@kairan.test",
            crate::fixtures::PASSWORD,
            "遅い人",
        )
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(error_code(response).await, "invitation_invalid");
}

#[tokio::test]
async fn role_invitations_are_for_one_use_unless_asked_otherwise() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let created = expect_json(
        app.post_as(
            &city.chair_a,
            &format!("/api/v1/associations/{}/invitations", city.association_a),
            &json!({"role": "officer"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(created["max_uses"], 1, "{created}");
}
