//! Sign-in, tokens, registration with invitations, and sign-in throttling.

use chrono::{Duration, Utc};
use diesel::{ExpressionMethods, QueryDsl, RunQueryDsl};
use serde_json::{Value, json};

use crate::fixtures::{
    ADMIN_LOGIN, ADMIN_PASSWORD, City, PASSWORD, create_admin_directly, expect_json, str_field,
};
use crate::helpers::{TestApp, error_code, spawn_app, spawn_app_with};

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json("/api/v1/auth/refresh", &json!({"refresh_token": token}))
        .await
}

async fn members_of(app: &TestApp, city: &City, association: &str) -> Vec<Value> {
    let body = expect_json(
        app.get_as(
            &city.officer_a,
            &format!("/api/v1/associations/{association}/members"),
        )
        .await,
        200,
    )
    .await;
    body["items"].as_array().unwrap().clone()
}

async fn invitation_uses(app: &TestApp, city: &City, invitation_id: &str) -> i64 {
    let body = expect_json(
        app.get_as(
            &city.officer_a,
            &format!("/api/v1/associations/{}/invitations", city.association_a),
        )
        .await,
        200,
    )
    .await;
    let item = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == invitation_id)
        .unwrap_or_else(|| panic!("invitation {invitation_id} listed: {body}"));
    item["uses"].as_i64().unwrap()
}

#[tokio::test]
async fn sign_in_returns_a_bearer_token_pair() {
    let app = spawn_app().await;
    create_admin_directly(&app, ADMIN_LOGIN, ADMIN_PASSWORD);
    let body = expect_json(app.login(ADMIN_LOGIN, ADMIN_PASSWORD).await, 200).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(body["access_token"].as_str().unwrap().split('.').count() == 3);
    assert!(body["refresh_token"].as_str().unwrap().len() >= 20);
    let me = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let me = expect_json(me, 200).await;
    assert_eq!(me["login"], ADMIN_LOGIN);
    assert_eq!(me["roles"][0]["role"], "admin");
}

#[tokio::test]
async fn sign_in_matches_the_login_after_nfkc_and_lower_case() {
    let app = spawn_app().await;
    create_admin_directly(&app, ADMIN_LOGIN, ADMIN_PASSWORD);
    let response = app.login("ＡＤＭＩＮ@Kairan.Test", ADMIN_PASSWORD).await;
    expect_json(response, 200).await;
}

#[tokio::test]
async fn wrong_password_and_unknown_login_get_the_same_401() {
    let app = spawn_app().await;
    create_admin_directly(&app, ADMIN_LOGIN, ADMIN_PASSWORD);
    for (login, password) in [
        (ADMIN_LOGIN, "Not-The-Password-1"),
        ("nobody@kairan.test", ADMIN_PASSWORD),
        (ADMIN_LOGIN, ""),
    ] {
        let response = app.login(login, password).await;
        assert_eq!(response.status(), 401, "{login}/{password}");
        assert_eq!(error_code(response).await, "invalid_credentials");
    }
}

#[tokio::test]
async fn refresh_rotates_the_pair_and_spends_the_old_token() {
    let app = spawn_app().await;
    create_admin_directly(&app, ADMIN_LOGIN, ADMIN_PASSWORD);
    let first = expect_json(app.login(ADMIN_LOGIN, ADMIN_PASSWORD).await, 200).await;
    let first_refresh = str_field(&first, "refresh_token");

    let second = expect_json(refresh(&app, &first_refresh).await, 200).await;
    let second_refresh = str_field(&second, "refresh_token");
    assert_ne!(second_refresh, first_refresh);
    assert_eq!(second["token_type"], "Bearer");
    let me = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(str_field(&second, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);

    // The new one works once more and rotates again.
    let third = expect_json(refresh(&app, &second_refresh).await, 200).await;
    assert_ne!(str_field(&third, "refresh_token"), second_refresh);
}

#[tokio::test]
async fn reusing_a_spent_refresh_token_revokes_the_whole_family() {
    let app = spawn_app().await;
    create_admin_directly(&app, ADMIN_LOGIN, ADMIN_PASSWORD);
    let first = expect_json(app.login(ADMIN_LOGIN, ADMIN_PASSWORD).await, 200).await;
    let first_refresh = str_field(&first, "refresh_token");
    let second = expect_json(refresh(&app, &first_refresh).await, 200).await;
    let newest = str_field(&second, "refresh_token");

    // Another sign-in is another family, untouched by the reuse.
    let other = expect_json(app.login(ADMIN_LOGIN, ADMIN_PASSWORD).await, 200).await;

    let reuse = refresh(&app, &first_refresh).await;
    assert_eq!(reuse.status(), 401);
    assert_eq!(error_code(reuse).await, "refresh_token_reused");

    let newest_after = refresh(&app, &newest).await;
    assert_eq!(
        newest_after.status(),
        401,
        "the newest token of the family is revoked too"
    );
    let code = error_code(newest_after).await;
    assert!(
        code == "invalid_refresh_token" || code == "refresh_token_reused",
        "{code}"
    );

    expect_json(
        refresh(&app, &str_field(&other, "refresh_token")).await,
        200,
    )
    .await;
}

#[tokio::test]
async fn unknown_refresh_tokens_are_refused() {
    let app = spawn_app().await;
    for token in ["", "nonsense", &"A".repeat(43)] {
        let response = refresh(&app, token).await;
        assert_eq!(response.status(), 401, "{token:?}");
        assert_eq!(error_code(response).await, "invalid_refresh_token");
    }
}

#[tokio::test]
async fn logout_revokes_the_refresh_token_family() {
    let app = spawn_app().await;
    create_admin_directly(&app, ADMIN_LOGIN, ADMIN_PASSWORD);
    let admin = app.sign_in(ADMIN_LOGIN, ADMIN_PASSWORD).await;
    let response = app
        .post_as(
            &admin,
            "/api/v1/auth/logout",
            &json!({"refresh_token": admin.refresh_token}),
        )
        .await;
    assert_eq!(response.status(), 204);
    let after = refresh(&app, &admin.refresh_token).await;
    assert_eq!(after.status(), 401);
}

#[tokio::test]
async fn logout_with_a_rotated_token_revokes_its_family_only() {
    let app = spawn_app().await;
    create_admin_directly(&app, ADMIN_LOGIN, ADMIN_PASSWORD);
    let phone = app.sign_in(ADMIN_LOGIN, ADMIN_PASSWORD).await;
    let laptop = app.sign_in(ADMIN_LOGIN, ADMIN_PASSWORD).await;
    let rotated = expect_json(refresh(&app, &phone.refresh_token).await, 200).await;
    let rotated = str_field(&rotated, "refresh_token");

    let response = app
        .post_as(
            &phone,
            "/api/v1/auth/logout",
            &json!({"refresh_token": rotated}),
        )
        .await;
    assert_eq!(response.status(), 204);
    assert_eq!(refresh(&app, &rotated).await.status(), 401);
    // The other sign-in is another family and keeps working.
    expect_json(refresh(&app, &laptop.refresh_token).await, 200).await;
}

#[tokio::test]
async fn an_empty_display_name_is_invalid_input() {
    let app = spawn_app().await;
    for name in ["", "   ", "\u{3000}"] {
        let response = app
            .register(None, "noname@kairan.test", PASSWORD, name)
            .await;
        assert_eq!(response.status(), 422, "{name:?}");
        assert_eq!(error_code(response).await, "invalid_input");
    }
    assert_eq!(
        app.login("noname@kairan.test", PASSWORD).await.status(),
        401
    );
}

#[tokio::test]
async fn invitations_default_to_one_use_for_fourteen_days() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let created = expect_json(
        app.post_as(
            &city.officer_a,
            &format!("/api/v1/associations/{}/invitations", city.association_a),
            &json!({"household_id": city.household_h1_resident}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(created["max_uses"], 1);
    assert_eq!(created["uses"], 0);
    assert_eq!(created["household_id"], city.household_h1_resident.as_str());
    assert_eq!(created["role"], Value::Null);
    assert!(created["code"].as_str().unwrap().len() >= 8, "{created}");
    let expires = chrono::DateTime::parse_from_rfc3339(created["expires_at"].as_str().unwrap())
        .expect("RFC 3339");
    let days = (expires.with_timezone(&Utc) - Utc::now()).num_hours();
    assert!((14 * 24 - 1..=14 * 24).contains(&days), "{created}");

    let most = expect_json(
        app.post_as(
            &city.officer_a,
            &format!("/api/v1/associations/{}/invitations", city.association_a),
            &json!({"max_uses": 1000}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(most["max_uses"], 1000);
}

#[tokio::test]
async fn logout_needs_a_bearer_token() {
    let app = spawn_app().await;
    create_admin_directly(&app, ADMIN_LOGIN, ADMIN_PASSWORD);
    let admin = app.sign_in(ADMIN_LOGIN, ADMIN_PASSWORD).await;
    let response = app
        .post_json(
            "/api/v1/auth/logout",
            &json!({"refresh_token": admin.refresh_token}),
        )
        .await;
    assert_eq!(response.status(), 401);
    assert_eq!(error_code(response).await, "unauthorized");
    // Nothing was revoked.
    expect_json(refresh(&app, &admin.refresh_token).await, 200).await;
}

#[tokio::test]
async fn register_without_an_invitation_makes_a_member_without_household() {
    let app = spawn_app().await;
    let response = app
        .register(None, "hitori@kairan.test", PASSWORD, "一人さん")
        .await;
    let tokens = expect_json(response, 201).await;
    assert_eq!(tokens["token_type"], "Bearer");
    let me = app
        .actor_from_tokens(&tokens, "hitori@kairan.test", PASSWORD)
        .await;
    let me = app.me(&me).await;
    assert_eq!(me["login"], "hitori@kairan.test");
    assert_eq!(me["household_id"], Value::Null);
    assert_eq!(me["han_id"], Value::Null);
    assert_eq!(me["association_id"], Value::Null);
    assert_eq!(me["district_id"], Value::Null);
    assert_eq!(me["roles"], json!([]));
}

#[tokio::test]
async fn logins_are_the_same_after_nfkc_and_lower_case() {
    let app = spawn_app().await;
    expect_json(
        app.register(None, "ＴＡＲＯ@Example.JP", PASSWORD, "太郎")
            .await,
        201,
    )
    .await;
    let duplicate = app
        .register(None, "taro@example.jp", "Another-Pass-4321", "別の太郎")
        .await;
    assert_eq!(duplicate.status(), 409);
    assert_eq!(error_code(duplicate).await, "login_taken");
    // The first account signs in with the plain spelling and keeps its name.
    let actor = app.sign_in("taro@example.jp", PASSWORD).await;
    assert_eq!(actor.display_name, "太郎");
    assert_eq!(app.me(&actor).await["login"], "taro@example.jp");
}

#[tokio::test]
async fn display_names_are_stored_nfc_and_trimmed() {
    let app = spawn_app().await;
    let actor = app
        .register_actor(None, "ga@kairan.test", "  か\u{3099}  ")
        .await;
    assert_eq!(app.me(&actor).await["display_name"], "が");
}

#[tokio::test]
async fn weak_passwords_are_refused() {
    let app = spawn_app().await;
    let login = "weak@kairan.test";
    for password in [
        "Abc-123".to_string(),  // 7 characters
        "x".repeat(1025),       // 1025 bytes
        "ab".repeat(512) + "c", // 1025 bytes, not one repeated letter
        "あ".repeat(342),       // 342 characters but 1026 bytes
        login.to_string(),      // equal to the login
        "password".to_string(), // too common
        "12345678".to_string(), // too common
    ] {
        let response = app.register(None, login, &password, "弱い人").await;
        assert_eq!(response.status(), 422, "{} bytes", password.len());
        assert_eq!(error_code(response).await, "weak_password");
    }
    // None of them made the account.
    let response = app.login(login, "Abc-123").await;
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn long_passwords_up_to_1024_bytes_are_accepted() {
    let app = spawn_app().await;
    let password: String = (0..1024)
        .map(|i| char::from(b'a' + (i * 7 % 26) as u8))
        .collect();
    assert_eq!(password.len(), 1024);
    expect_json(
        app.register(None, "long@kairan.test", &password, "長い人")
            .await,
        201,
    )
    .await;
    app.sign_in("long@kairan.test", &password).await;
}

#[tokio::test]
async fn logins_that_are_neither_email_nor_phone_are_invalid_input() {
    let app = spawn_app().await;
    for login in ["taro", "taro@", "12345", ""] {
        let response = app.register(None, login, PASSWORD, "名前").await;
        assert_eq!(response.status(), 422, "{login}");
        assert_eq!(error_code(response).await, "invalid_input");
    }
}

#[tokio::test]
async fn register_with_an_invitation_joins_its_household() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let (_, code) = app
        .invite(
            &city.officer_a,
            &city.association_a,
            json!({"household_id": city.household_h2_resident}),
        )
        .await;
    let member = app
        .register_actor(Some(&code), "kazoku@kairan.test", "家族さん")
        .await;
    let me = app.me(&member).await;
    assert_eq!(me["household_id"], city.household_h2_resident.as_str());
    assert_eq!(me["han_id"], city.han_h2.as_str());
    assert_eq!(me["association_id"], city.association_a.as_str());
    assert_eq!(me["district_id"], city.district_1.as_str());
    let roles = me["roles"].as_array().unwrap();
    assert_eq!(roles.len(), 1, "{me}");
    assert_eq!(roles[0]["role"], "resident");
    assert_eq!(roles[0]["scope_id"], city.association_a.as_str());
    assert!(me["roles"][0]["term_year"].as_i64().unwrap() >= 2025);
}

#[tokio::test]
async fn an_invitation_without_household_starts_a_new_one_in_its_association() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let (_, code) = app
        .invite(&city.officer_a, &city.association_a, json!({}))
        .await;
    let member = app
        .register_actor(Some(&code), "shinki@kairan.test", "新規世帯さん")
        .await;
    let me = app.me(&member).await;
    let household = me["household_id"].as_str().unwrap();
    assert!(
        !city.households_a().contains(&household),
        "a new household, not an existing one"
    );
    assert_eq!(me["association_id"], city.association_a.as_str());
    let listed = expect_json(
        app.get_as(
            &city.officer_a,
            &format!("/api/v1/associations/{}/households", city.association_a),
        )
        .await,
        200,
    )
    .await;
    let row = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["id"] == household)
        .unwrap_or_else(|| panic!("new household listed: {listed}"))
        .clone();
    assert_eq!(row["label"], "新規世帯さん");
}

#[tokio::test]
async fn get_me_shows_a_resident_their_own_household_and_roles() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let me = app.me(&city.resident_h1).await;
    assert_eq!(me["id"], city.resident_h1.id.as_str());
    assert_eq!(me["login"], "resident.h1@kairan.test");
    assert_eq!(me["display_name"], "住民四郎");
    assert_eq!(me["household_id"], city.household_h1_resident.as_str());
    assert_eq!(me["han_id"], city.han_h1.as_str());
    assert_eq!(me["association_id"], city.association_a.as_str());
    assert_eq!(me["district_id"], city.district_1.as_str());
    let roles = me["roles"].as_array().unwrap();
    assert_eq!(roles.len(), 1, "{me}");
    assert_eq!(roles[0]["role"], "resident");
    assert_eq!(roles[0]["scope_id"], city.association_a.as_str());

    let leader = app.me(&city.han_leader_h1).await;
    let mut leader_roles: Vec<(String, String)> = leader["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (str_field(r, "role"), str_field(r, "scope_id")))
        .collect();
    leader_roles.sort();
    assert_eq!(
        leader_roles,
        vec![
            ("han_leader".to_string(), city.han_h1.clone()),
            ("resident".to_string(), city.association_a.clone()),
        ]
    );

    // Signing in again gives a token for the same member.
    let again = app
        .sign_in(&city.resident_h1.login, &city.resident_h1.password)
        .await;
    assert_eq!(again.id, city.resident_h1.id);

    let anonymous = app.get("/api/v1/me").await;
    assert_eq!(anonymous.status(), 401);
    assert_eq!(error_code(anonymous).await, "unauthorized");
}

#[tokio::test]
async fn unknown_and_revoked_invitation_codes_are_invalid() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let response = app
        .register(Some("NO-SUCH-CODE-123"), "x1@kairan.test", PASSWORD, "x")
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(error_code(response).await, "invitation_invalid");

    let (id, code) = app
        .invite(&city.officer_a, &city.association_a, json!({}))
        .await;
    let deleted = app
        .delete_as(&city.officer_a, &format!("/api/v1/invitations/{id}"))
        .await;
    assert_eq!(deleted.status(), 204);
    let response = app
        .register(Some(&code), "x2@kairan.test", PASSWORD, "x")
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(error_code(response).await, "invitation_invalid");
}

#[tokio::test]
async fn expired_invitations_are_refused() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let (id, code) = app
        .invite(&city.officer_a, &city.association_a, json!({}))
        .await;
    {
        use kairan::db::schema::invitations;
        let past = (Utc::now() - Duration::hours(1)).naive_utc();
        let changed = diesel::update(invitations::table.filter(invitations::id.eq(id.as_str())))
            .set(invitations::expires_at.eq(past))
            .execute(&mut *app.db.get().unwrap())
            .unwrap();
        assert_eq!(changed, 1);
    }
    let before = members_of(&app, &city, &city.association_a).await.len();
    let response = app
        .register(Some(&code), "late@kairan.test", PASSWORD, "遅刻さん")
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(error_code(response).await, "invitation_expired");
    assert_eq!(
        members_of(&app, &city, &city.association_a).await.len(),
        before
    );
    assert_eq!(app.login("late@kairan.test", PASSWORD).await.status(), 401);
}

#[tokio::test]
async fn used_up_invitations_are_refused() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let (id, code) = app
        .invite(
            &city.officer_a,
            &city.association_a,
            json!({"household_id": city.household_h2_resident, "max_uses": 2}),
        )
        .await;
    app.register_actor(Some(&code), "first@kairan.test", "一人目")
        .await;
    app.register_actor(Some(&code), "second@kairan.test", "二人目")
        .await;
    assert_eq!(invitation_uses(&app, &city, &id).await, 2);
    let response = app
        .register(Some(&code), "third@kairan.test", PASSWORD, "三人目")
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(error_code(response).await, "invitation_used_up");
    assert_eq!(app.login("third@kairan.test", PASSWORD).await.status(), 401);
}

#[tokio::test]
async fn a_failed_registration_writes_nothing() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let (id, code) = app
        .invite(
            &city.officer_a,
            &city.association_a,
            json!({"household_id": city.household_h1_resident}),
        )
        .await;
    let before = members_of(&app, &city, &city.association_a).await;

    // A taken login, a weak password, a bad login: each with a good single-use invitation.
    let taken = app
        .register(Some(&code), &city.resident_h2.login, PASSWORD, "重複さん")
        .await;
    assert_eq!(taken.status(), 409);
    assert_eq!(error_code(taken).await, "login_taken");
    let weak = app
        .register(Some(&code), "weakling@kairan.test", "short", "弱い人")
        .await;
    assert_eq!(weak.status(), 422);
    assert_eq!(error_code(weak).await, "weak_password");
    let bad = app
        .register(Some(&code), "not a login", PASSWORD, "変な人")
        .await;
    assert_eq!(bad.status(), 422);
    assert_eq!(error_code(bad).await, "invalid_input");

    assert_eq!(invitation_uses(&app, &city, &id).await, 0);
    let after = members_of(&app, &city, &city.association_a).await;
    assert_eq!(after.len(), before.len(), "no member was created");
    assert!(!after.iter().any(|m| m["display_name"] == "弱い人"));

    // The invitation (max_uses 1) is still good.
    let member = app
        .register_actor(Some(&code), "finally@kairan.test", "やっと入れた")
        .await;
    assert_eq!(
        app.me(&member).await["household_id"],
        city.household_h1_resident.as_str()
    );
    assert_eq!(invitation_uses(&app, &city, &id).await, 1);
}

#[tokio::test]
async fn repeated_failures_lock_the_account_but_not_others() {
    let app = spawn_app_with(|s| s.auth.max_failures_per_account_hour = 3).await;
    create_admin_directly(&app, ADMIN_LOGIN, ADMIN_PASSWORD);
    app.register_actor(None, "other@kairan.test", "他の人")
        .await;

    for attempt in 1..=3 {
        let response = app.login(ADMIN_LOGIN, "Wrong-Password-9").await;
        assert_eq!(response.status(), 401, "attempt {attempt}");
        assert_eq!(error_code(response).await, "invalid_credentials");
    }
    let locked = app.login(ADMIN_LOGIN, ADMIN_PASSWORD).await;
    assert_eq!(locked.status(), 429, "even the right password waits");
    let retry_after: u64 = locked
        .headers()
        .get("retry-after")
        .expect("Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 0 && retry_after <= 3600, "{retry_after}");
    assert_eq!(error_code(locked).await, "too_many_requests");

    // Spelled differently, it is still the same account.
    let locked = app.login("ADMIN@kairan.test", ADMIN_PASSWORD).await;
    assert_eq!(locked.status(), 429);

    app.sign_in("other@kairan.test", PASSWORD).await;
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_let_exactly_one_through() {
    let app = spawn_app().await;
    create_admin_directly(&app, ADMIN_LOGIN, ADMIN_PASSWORD);
    let pair = expect_json(app.login(ADMIN_LOGIN, ADMIN_PASSWORD).await, 200).await;
    let token = str_field(&pair, "refresh_token");
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let client = app.client.clone();
            let url = app.url("/api/v1/auth/refresh");
            let body = json!({"refresh_token": token});
            tokio::spawn(async move {
                let response = client.post(url).json(&body).send().await.unwrap();
                response.status().as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for handle in handles {
        statuses.push(handle.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "one rotation wins: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 401),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn a_single_use_invitation_admits_one_of_several_concurrent_registrations() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let (id, code) = app
        .invite(
            &city.officer_a,
            &city.association_a,
            json!({"household_id": city.household_h2_resident}),
        )
        .await;
    let before = members_of(&app, &city, &city.association_a).await.len();
    let mut handles = Vec::new();
    for i in 0..5 {
        let client = app.client.clone();
        let url = app.url("/api/v1/auth/register");
        let body = json!({"invitation_code": code, "login": format!("race{i}@kairan.test"),
                          "password": PASSWORD, "display_name": format!("競争{i}")});
        handles.push(tokio::spawn(async move {
            let response = client.post(url).json(&body).send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or_default();
            (
                status,
                body["error"].as_str().unwrap_or_default().to_string(),
            )
        }));
    }
    let mut outcomes = Vec::new();
    for handle in handles {
        outcomes.push(handle.await.unwrap());
    }
    assert_eq!(
        outcomes.iter().filter(|(s, _)| *s == 201).count(),
        1,
        "{outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .all(|(s, code)| *s == 201 || (*s == 422 && code == "invitation_used_up")),
        "{outcomes:?}"
    );
    assert_eq!(invitation_uses(&app, &city, &id).await, 1);
    assert_eq!(
        members_of(&app, &city, &city.association_a).await.len(),
        before + 1
    );
}

#[tokio::test]
async fn an_expired_refresh_token_is_refused() {
    let app = spawn_app().await;
    create_admin_directly(&app, ADMIN_LOGIN, ADMIN_PASSWORD);
    let pair = expect_json(app.login(ADMIN_LOGIN, ADMIN_PASSWORD).await, 200).await;
    {
        use kairan::db::schema::refresh_tokens;
        let past = (Utc::now() - Duration::minutes(1)).naive_utc();
        let changed = diesel::update(refresh_tokens::table)
            .set(refresh_tokens::expires_at.eq(past))
            .execute(&mut *app.db.get().unwrap())
            .unwrap();
        assert_eq!(changed, 1);
    }
    let response = refresh(&app, &str_field(&pair, "refresh_token")).await;
    assert_eq!(response.status(), 401);
    assert_eq!(error_code(response).await, "invalid_refresh_token");
}

#[tokio::test]
async fn failures_from_one_address_are_limited_across_accounts_and_forwarded_headers() {
    let app = spawn_app_with(|s| s.auth.max_failures_per_address_hour = 3).await;
    create_admin_directly(&app, ADMIN_LOGIN, ADMIN_PASSWORD);
    for i in 0..3 {
        // Not behind a proxy: a forged X-Forwarded-For must not make a new address.
        let response = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .header("x-forwarded-for", format!("203.0.113.{i}"))
            .header("forwarded", format!("for=198.51.100.{i}"))
            .json(&json!({"login": format!("nobody{i}@kairan.test"), "password": "Wrong-Pass-123"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "attempt {i}");
        assert_eq!(error_code(response).await, "invalid_credentials");
    }
    let blocked = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", "203.0.113.99")
        .json(&json!({"login": ADMIN_LOGIN, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(blocked.status(), 429);
    assert!(blocked.headers().contains_key("retry-after"));
    assert_eq!(error_code(blocked).await, "too_many_requests");
}

#[tokio::test]
async fn a_successful_sign_in_does_not_count_as_a_failure() {
    let app = spawn_app_with(|s| s.auth.max_failures_per_account_hour = 3).await;
    create_admin_directly(&app, ADMIN_LOGIN, ADMIN_PASSWORD);
    for _ in 0..5 {
        expect_json(app.login(ADMIN_LOGIN, ADMIN_PASSWORD).await, 200).await;
    }
    for _ in 0..2 {
        assert_eq!(app.login(ADMIN_LOGIN, "Wrong-Pass-123").await.status(), 401);
    }
    expect_json(app.login(ADMIN_LOGIN, ADMIN_PASSWORD).await, 200).await;
}

#[tokio::test]
async fn each_role_shows_in_get_me_with_its_scope() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let roles = |me: &Value| -> Vec<(String, Value)> {
        let mut roles: Vec<(String, Value)> = me["roles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (str_field(r, "role"), r["scope_id"].clone()))
            .collect();
        roles.sort_by(|a, b| a.0.cmp(&b.0));
        roles
    };
    let a = json!(city.association_a);

    let officer = app.me(&city.officer_a).await;
    assert_eq!(
        roles(&officer),
        vec![
            ("officer".into(), a.clone()),
            ("resident".into(), a.clone())
        ]
    );
    let chair = app.me(&city.chair_a).await;
    assert_eq!(
        roles(&chair),
        vec![("chair".into(), a.clone()), ("resident".into(), a.clone())]
    );
    let district = app.me(&city.district_officer).await;
    assert_eq!(
        roles(&district),
        vec![
            ("district_officer".into(), json!(city.district_1)),
            ("resident".into(), json!(city.association_b)),
        ]
    );
    assert_eq!(district["association_id"], city.association_b.as_str());
    let staff = app.me(&city.staff).await;
    assert_eq!(roles(&staff), vec![("city_staff".into(), Value::Null)]);
    assert_eq!(staff["household_id"], Value::Null);
    let admin = app.me(&city.admin).await;
    assert_eq!(roles(&admin), vec![("admin".into(), Value::Null)]);

    // A han leader invitation into H2 makes a han leader of H2.
    let (_, code) = app
        .invite(
            &city.officer_a,
            &city.association_a,
            json!({"household_id": city.household_h2_resident, "role": "han_leader"}),
        )
        .await;
    let leader = app
        .register_actor(Some(&code), "hancho.h2@kairan.test", "班長二")
        .await;
    assert_eq!(
        roles(&app.me(&leader).await),
        vec![
            ("han_leader".into(), json!(city.han_h2)),
            ("resident".into(), a.clone()),
        ]
    );
}

#[tokio::test]
async fn invitations_cannot_grant_city_roles() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let path = format!("/api/v1/associations/{}/invitations", city.association_a);
    for by in [&city.chair_a, &city.admin] {
        for role in ["admin", "city_staff", "district_officer", "superuser"] {
            let response = app.post_as(by, &path, &json!({"role": role})).await;
            assert_eq!(response.status(), 422, "{role} by {}", by.login);
            error_code(response).await;
        }
    }
}

#[tokio::test]
async fn login_refresh_and_register_ignore_a_stale_bearer_token() {
    let app = spawn_app().await;
    create_admin_directly(&app, ADMIN_LOGIN, ADMIN_PASSWORD);
    let login = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .bearer_auth("stale.garbage.token")
        .json(&json!({"login": ADMIN_LOGIN, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    let pair = expect_json(login, 200).await;
    let refreshed = app
        .client
        .post(app.url("/api/v1/auth/refresh"))
        .bearer_auth("stale.garbage.token")
        .json(&json!({"refresh_token": str_field(&pair, "refresh_token")}))
        .send()
        .await
        .unwrap();
    expect_json(refreshed, 200).await;
    let registered = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .bearer_auth("stale.garbage.token")
        .json(
            &json!({"login": "newcomer@kairan.test", "password": PASSWORD, "display_name": "新顔"}),
        )
        .send()
        .await
        .unwrap();
    expect_json(registered, 201).await;
}
