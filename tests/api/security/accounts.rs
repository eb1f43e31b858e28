//! Finding 9: a new password, sign out everywhere, disabling and removing a member, and
//! access tokens that stop the moment their member signs out or is shut out.

use reqwest::header::LOCATION;
use serde_json::{Value, json};

use crate::fixtures::{Actor, City, PASSWORD, expect_json, str_field};
use crate::helpers::{TestApp, error_code, spawn_app};
use crate::pages::{Jar, csrf_of};

const NEW_PASSWORD: &str = "Asanogawa-Bridge-2027";

async fn me_status(app: &TestApp, access_token: &str) -> u16 {
    app.client
        .get(app.url("/api/v1/me"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn refresh_status(app: &TestApp, refresh_token: &str) -> u16 {
    let body = json!({"refresh_token": refresh_token});
    let response = app.post_json("/api/v1/auth/refresh", &body).await;
    response.status().as_u16()
}

/// A browser signed in through the sign-in page.
async fn browser_session(app: &TestApp, login: &str, password: &str) -> Jar {
    let mut jar = Jar::default();
    let (_, body) = jar.get(app, "/login").await;
    let form = [
        ("csrf", csrf_of(&body)),
        ("login", login.into()),
        ("password", password.into()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let signed_in = jar.post(app, "/login", &form).await;
    assert_eq!(signed_in.status(), 303, "signed in through the page");
    jar
}

/// Whether the jar's session still opens /settings (rather than going to sign in).
async fn session_works(app: &TestApp, jar: &mut Jar) -> bool {
    let (page, _) = jar.get(app, "/settings").await;
    page.status == 200
}

async fn audit_actions(app: &TestApp, city: &City, target: &str) -> Vec<String> {
    let page = expect_json(
        app.get_as(&city.admin, "/api/v1/audit-log?limit=500").await,
        200,
    );
    page.await["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target_id"] == target)
        .map(|e| str_field(e, "action"))
        .collect()
}

#[tokio::test]
async fn an_access_token_stops_the_moment_its_member_signs_out() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let resident = &city.resident_h1;
    let phone = app.sign_in(&resident.login, PASSWORD).await;
    assert_eq!(me_status(&app, &phone.access_token).await, 200);

    let body = json!({"refresh_token": phone.refresh_token});
    let out = app.post_as(&phone, "/api/v1/auth/logout", &body).await;
    assert_eq!(out.status(), 204);
    assert_eq!(me_status(&app, &phone.access_token).await, 401);
    assert_eq!(refresh_status(&app, &phone.refresh_token).await, 401);
    // Another sign-in of the same member gets a new access token with its refresh token.
    assert_eq!(me_status(&app, &resident.access_token).await, 401);
    let tokens = expect_json(
        app.post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": resident.refresh_token}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        me_status(&app, &str_field(&tokens, "access_token")).await,
        200
    );
}

#[tokio::test]
async fn a_pages_api_token_stops_when_its_browser_signs_out() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let mut browser = browser_session(&app, &city.resident_h1.login, PASSWORD).await;
    let (_, body) = browser.get(&app, "/settings").await;
    let csrf = csrf_of(&body);
    let cookie = format!("kairan_session={}", browser.0["kairan_session"]);
    let token = app
        .client
        .post(app.url("/session/api-token"))
        .header("cookie", cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    let token = str_field(&expect_json(token, 200).await, "access_token");
    assert_eq!(me_status(&app, &token).await, 200);
    let out = browser.post(&app, "/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status(), 303);
    assert_eq!(me_status(&app, &token).await, 401);
}

#[tokio::test]
async fn signing_out_everywhere_ends_every_token_and_browser_session_at_once() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let resident = &city.resident_h1;
    let laptop = app.sign_in(&resident.login, PASSWORD).await;
    let mut browser = browser_session(&app, &resident.login, PASSWORD).await;
    assert!(session_works(&app, &mut browser).await);

    let out = app
        .post_as(resident, "/api/v1/me/sign-out-everywhere", &json!({}))
        .await;
    assert_eq!(out.status(), 204);
    for actor in [resident, &laptop] {
        assert_eq!(me_status(&app, &actor.access_token).await, 401);
        assert_eq!(refresh_status(&app, &actor.refresh_token).await, 401);
    }
    assert!(!session_works(&app, &mut browser).await);
    // Others are untouched, and the member signs in again as before.
    assert_eq!(me_status(&app, &city.resident_h2.access_token).await, 200);
    let again = app.sign_in(&resident.login, PASSWORD).await;
    assert_eq!(me_status(&app, &again.access_token).await, 200);
    assert!(
        audit_actions(&app, &city, &resident.id)
            .await
            .contains(&"signed_out_everywhere".into())
    );
}

async fn change_password(app: &TestApp, by: &Actor, current: &str, new: &str) -> reqwest::Response {
    let body = json!({"current_password": current, "new_password": new});
    app.post_as(by, "/api/v1/me/password", &body).await
}

#[tokio::test]
async fn a_new_password_needs_the_current_one_and_ends_every_other_sign_in() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let resident = &city.resident_h1;
    let other_device = app.sign_in(&resident.login, PASSWORD).await;
    let mut browser = browser_session(&app, &resident.login, PASSWORD).await;

    let wrong = change_password(&app, resident, "not-my-password-1", NEW_PASSWORD).await;
    assert_eq!(wrong.status(), 422);
    assert_eq!(error_code(wrong).await, "wrong_password");
    let weak = change_password(&app, resident, PASSWORD, "short").await;
    assert_eq!(weak.status(), 422);
    assert_eq!(error_code(weak).await, "weak_password");
    // Refused changes change nothing.
    assert_eq!(me_status(&app, &other_device.access_token).await, 200);
    assert!(session_works(&app, &mut browser).await);

    let changed = expect_json(
        change_password(&app, resident, PASSWORD, NEW_PASSWORD).await,
        200,
    );
    let fresh: Value = changed.await;
    assert_eq!(
        me_status(&app, &str_field(&fresh, "access_token")).await,
        200
    );
    assert_eq!(
        refresh_status(&app, &str_field(&fresh, "refresh_token")).await,
        200
    );
    for actor in [resident, &other_device] {
        assert_eq!(me_status(&app, &actor.access_token).await, 401);
        assert_eq!(refresh_status(&app, &actor.refresh_token).await, 401);
    }
    assert!(!session_works(&app, &mut browser).await);
    assert_eq!(app.login(&resident.login, PASSWORD).await.status(), 401);
    app.sign_in(&resident.login, NEW_PASSWORD).await;
    assert!(
        audit_actions(&app, &city, &resident.id)
            .await
            .contains(&"password_changed".into())
    );
}

#[tokio::test]
async fn an_officer_disables_a_member_at_once_and_enables_them_again() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let resident = &city.resident_h1;
    let mut browser = browser_session(&app, &resident.login, PASSWORD).await;
    let disable = format!("/api/v1/members/{}/disable", resident.id);

    // Not their neighbour, not another association's officer, not on the chair, not oneself.
    for by in [&city.resident_h2, &city.officer_b, &city.staff] {
        let refused = app.post_as(by, &disable, &json!({})).await;
        assert_eq!(refused.status(), 404, "{}", by.login);
    }
    let on_chair = format!("/api/v1/members/{}/disable", city.chair_a.id);
    assert_eq!(
        app.post_as(&city.officer_a, &on_chair, &json!({}))
            .await
            .status(),
        404
    );
    let on_self = format!("/api/v1/members/{}/disable", city.officer_a.id);
    assert_eq!(
        app.post_as(&city.officer_a, &on_self, &json!({}))
            .await
            .status(),
        404
    );
    assert_eq!(me_status(&app, &resident.access_token).await, 200);

    let disabled = expect_json(
        app.post_as(&city.officer_a, &disable, &json!({})).await,
        200,
    );
    assert_eq!(disabled.await["disabled"], true);
    assert_eq!(me_status(&app, &resident.access_token).await, 401);
    assert_eq!(refresh_status(&app, &resident.refresh_token).await, 401);
    assert!(!session_works(&app, &mut browser).await);
    let signed_in = app.login(&resident.login, PASSWORD).await;
    assert_eq!(signed_in.status(), 401);
    assert_eq!(error_code(signed_in).await, "invalid_credentials");

    let enable = format!("/api/v1/members/{}/enable", resident.id);
    let enabled = expect_json(app.post_as(&city.chair_a, &enable, &json!({})).await, 200);
    assert_eq!(enabled.await["disabled"], false);
    let back = app.sign_in(&resident.login, PASSWORD).await;
    assert_eq!(me_status(&app, &back.access_token).await, 200);
    let actions = audit_actions(&app, &city, &resident.id).await;
    assert!(
        actions.contains(&"member_disabled".into()) && actions.contains(&"member_enabled".into())
    );
}

#[tokio::test]
async fn removing_a_member_who_moved_away_ends_membership_and_sign_ins_but_keeps_history() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let leader = &city.han_leader_h1;
    let remove = format!("/api/v1/members/{}", leader.id);
    assert_eq!(
        app.delete_as(&city.resident_h2, &remove).await.status(),
        404
    );
    assert_eq!(app.delete_as(&city.officer_b, &remove).await.status(), 404);
    // Only who may end their 班長 role may remove them.
    assert_eq!(app.delete_as(&city.officer_a, &remove).await.status(), 404);

    assert_eq!(app.delete_as(&city.chair_a, &remove).await.status(), 204);
    assert_eq!(me_status(&app, &leader.access_token).await, 401);
    assert_eq!(refresh_status(&app, &leader.refresh_token).await, 401);
    let members = format!("/api/v1/associations/{}/members", city.association_a);
    let listed = expect_json(app.get_as(&city.officer_a, &members).await, 200).await;
    assert!(
        !listed.to_string().contains(&leader.id),
        "no longer on the roster"
    );

    // The account stays, without a household or roles; the history stays too.
    let again = app.sign_in(&leader.login, PASSWORD).await;
    let me = app.me(&again).await;
    assert_eq!(me["household_id"], Value::Null);
    assert_eq!(me["roles"], json!([]));
    let actions = audit_actions(&app, &city, &leader.id).await;
    assert!(actions.contains(&"member_removed".into()), "{actions:?}");
    assert!(
        actions.len() > 1,
        "earlier entries about them are kept: {actions:?}"
    );
}

#[tokio::test]
async fn the_settings_page_changes_the_password_and_signs_out_everywhere() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let resident = &city.resident_h1;
    let mut browser = browser_session(&app, &resident.login, PASSWORD).await;
    let mut other_browser = browser_session(&app, &resident.login, PASSWORD).await;

    let (_, body) = browser.get(&app, "/settings").await;
    let csrf = csrf_of(&body);
    let wrong = [
        ("csrf", csrf.as_str()),
        ("current_password", "nope-nope-1"),
        ("new_password", NEW_PASSWORD),
    ];
    let refused = browser.post(&app, "/settings/password", &wrong).await;
    assert_eq!(refused.status(), 422);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("current-password-error")
    );
    let form = [
        ("csrf", csrf.as_str()),
        ("current_password", PASSWORD),
        ("new_password", NEW_PASSWORD),
    ];
    let changed = browser.post(&app, "/settings/password", &form).await;
    assert_eq!(changed.status(), 303);
    assert!(
        session_works(&app, &mut browser).await,
        "this browser stays signed in"
    );
    assert!(
        !session_works(&app, &mut other_browser).await,
        "the other one is signed out"
    );
    assert_eq!(me_status(&app, &resident.access_token).await, 401);

    let out = browser
        .post(&app, "/settings/sign-out-everywhere", &[("csrf", &csrf)])
        .await;
    assert_eq!(out.status(), 303);
    assert_eq!(out.headers()[LOCATION], "/login");
    assert!(!session_works(&app, &mut browser).await);
}

#[tokio::test]
async fn an_officer_disables_and_removes_from_the_roster_page_after_a_confirmation() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let resident = &city.resident_h2;
    let mut officer = browser_session(&app, &city.officer_a.login, PASSWORD).await;
    let (_, roster) = officer.get(&app, "/officer/roster").await;
    let link = format!("/officer/members/{}", resident.id);
    assert!(roster.contains(&link), "a link per member");
    assert!(
        !roster.contains(&format!("/officer/members/{}", city.chair_a.id)),
        "not the chair"
    );

    let (page, body) = officer.get(&app, &link).await;
    assert_eq!(page.status, 200);
    assert!(body.contains(&resident.display_name));
    assert_eq!(
        me_status(&app, &resident.access_token).await,
        200,
        "showing changes nothing"
    );
    let csrf = csrf_of(&body);
    let disabled = officer
        .post(&app, &format!("{link}/disable"), &[("csrf", &csrf)])
        .await;
    assert_eq!(disabled.status(), 303);
    assert_eq!(me_status(&app, &resident.access_token).await, 401);
    let (_, body) = officer.get(&app, &link).await;
    assert!(body.contains(&format!("{link}/enable")));
    let removed = officer
        .post(&app, &format!("{link}/remove"), &[("csrf", &csrf)])
        .await;
    assert_eq!(removed.status(), 303);
    let (_, roster) = officer.get(&app, "/officer/roster").await;
    assert!(!roster.contains(&link), "gone from the roster");
}
