//! Access-token forgery: tokens made with the server's own key ring, wrong in one way each,
//! are refused; the same token made right is accepted (so these tests can fail).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use diesel::{ExpressionMethods, QueryDsl, RunQueryDsl};
use jsonwebtoken::{Algorithm, EncodingKey, Header, Validation};
use serde_json::{Value, json};

use crate::fixtures::{ADMIN_LOGIN, ADMIN_PASSWORD, create_admin_directly};
use crate::helpers::{TestApp, error_code, spawn_app};

struct KeyRing {
    active_kid: String,
    secret: Vec<u8>,
    all_kids: Vec<String>,
}

/// The server's ring: `jwt-keys.json` on SQLite, the `jwt_keys` rows on PostgreSQL (D46).
fn key_ring(app: &TestApp) -> KeyRing {
    let (active_kid, secret, all_kids) = if app.database.is_postgres() {
        let rows = app.database.pg_values(
            "SELECT kid || ' ' || secret AS value FROM jwt_keys \
             WHERE signs_from <= (now() AT TIME ZONE 'utc') ORDER BY signs_from",
        );
        let pairs: Vec<(String, String)> = rows
            .iter()
            .map(|row| {
                let (kid, secret) = row.split_once(' ').unwrap();
                (kid.to_string(), secret.to_string())
            })
            .collect();
        let (kid, secret) = pairs.last().expect("a key signs").clone();
        (kid, secret, pairs.into_iter().map(|(kid, _)| kid).collect())
    } else {
        let path = app.database.data_dir.path().join("jwt-keys.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{} readable: {e}", path.display()));
        let file: Value = serde_json::from_str(&text).unwrap();
        let active_kid = file["active_kid"].as_str().unwrap().to_string();
        let keys = file["keys"].as_array().unwrap();
        let active = keys
            .iter()
            .find(|k| k["kid"] == active_kid.as_str())
            .expect("the active key is in the ring");
        let secret = active["secret"].as_str().unwrap().to_string();
        let kids = keys
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect();
        (active_kid, secret, kids)
    };
    KeyRing {
        active_kid,
        secret: URL_SAFE_NO_PAD
            .decode(secret)
            .expect("secret is base64url without padding"),
        all_kids,
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn claims(sub: &str) -> Value {
    let now = now();
    json!({"sub": sub, "iss": "kairan", "aud": "kairan-api", "iat": now, "nbf": now, "exp": now + 900})
}

fn hs256(kid: &str, claims: &Value, secret: &[u8]) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret).unwrap()).unwrap()
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

async fn me_with_header(app: &TestApp, authorization: &str) -> reqwest::Response {
    app.client
        .get(app.url("/api/v1/me"))
        .header("authorization", authorization)
        .send()
        .await
        .unwrap()
}

async fn assert_refused(app: &TestApp, case: &str, token: &str) {
    let response = me_with_header(app, &format!("Bearer {token}")).await;
    assert_eq!(response.status(), 401, "{case} must be refused");
    assert_eq!(error_code(response).await, "unauthorized", "{case}");
}

async fn assert_accepted(app: &TestApp, case: &str, token: &str, sub: &str) {
    let response = me_with_header(app, &format!("Bearer {token}")).await;
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 200, "{case} must be accepted: {body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["id"], sub, "{case}");
}

async fn app_with_admin() -> (TestApp, String) {
    let app = spawn_app().await;
    let id = create_admin_directly(&app, ADMIN_LOGIN, ADMIN_PASSWORD);
    (app, id)
}

#[tokio::test]
async fn a_token_made_with_the_real_key_and_valid_claims_is_accepted() {
    let (app, admin) = app_with_admin().await;
    let ring = key_ring(&app);
    assert!(
        ring.secret.len() >= 32,
        "secret has {} bytes",
        ring.secret.len()
    );
    let token = hs256(&ring.active_kid, &claims(&admin), &ring.secret);
    assert_accepted(&app, "a well-made token", &token, &admin).await;
}

#[tokio::test]
async fn signed_in_tokens_carry_the_documented_header_and_claims() {
    let (app, admin) = app_with_admin().await;
    let ring = key_ring(&app);
    let tokens: Value = app
        .login(ADMIN_LOGIN, ADMIN_PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap();

    let header = jsonwebtoken::decode_header(access).unwrap();
    assert_eq!(header.alg, Algorithm::HS256);
    assert_eq!(header.kid.as_deref(), Some(ring.active_kid.as_str()));

    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&["kairan-api"]);
    validation.set_issuer(&["kairan"]);
    validation.set_required_spec_claims(&["exp", "nbf", "iat", "sub", "iss", "aud"]);
    let data = jsonwebtoken::decode::<Value>(
        access,
        &jsonwebtoken::DecodingKey::from_secret(&ring.secret).unwrap(),
        &validation,
    )
    .expect("the server signs with the active key of its ring");
    let claims = data.claims;
    assert_eq!(claims["sub"], admin.as_str());
    let iat = claims["iat"].as_i64().unwrap();
    assert_eq!(claims["exp"].as_i64().unwrap() - iat, 900);
    assert!((iat - now()).abs() < 60);
}

#[tokio::test]
async fn the_key_ring_survives_a_restart_of_the_same_data_folder() {
    let (app, admin) = app_with_admin().await;
    let ring = key_ring(&app);
    assert!(ring.all_kids.contains(&ring.active_kid));
    let token = hs256(&ring.active_kid, &claims(&admin), &ring.secret);

    // A second server on the same data folder and database reads the same ring.
    let mut settings = kairan::configuration::load(
        kairan::configuration::AppEnvironment::Test,
        std::path::Path::new("config"),
        false,
    )
    .unwrap();
    settings.server.data_dir = app.database.data_dir.path().to_path_buf();
    settings.database.url = app.database.url.clone();
    let second = kairan::startup::Application::build(settings).await.unwrap();
    let address = format!("http://127.0.0.1:{}", second.port());
    tokio::spawn(second.run_until_stopped());
    let after = key_ring(&app);
    assert_eq!(
        (&ring.active_kid, &ring.secret, &ring.all_kids),
        (&after.active_kid, &after.secret, &after.all_kids)
    );
    let response = app
        .client
        .get(format!("{address}/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn tokens_outside_their_validity_window_are_refused() {
    let (app, admin) = app_with_admin().await;
    let ring = key_ring(&app);
    let now = now();

    let mut expired = claims(&admin);
    expired["iat"] = json!(now - 4500);
    expired["nbf"] = json!(now - 4500);
    expired["exp"] = json!(now - 3600);
    assert_refused(
        &app,
        "expired an hour ago",
        &hs256(&ring.active_kid, &expired, &ring.secret),
    )
    .await;

    let mut not_yet = claims(&admin);
    not_yet["nbf"] = json!(now + 3600);
    not_yet["exp"] = json!(now + 4500);
    assert_refused(
        &app,
        "valid only in an hour",
        &hs256(&ring.active_kid, &not_yet, &ring.secret),
    )
    .await;

    let mut no_exp = claims(&admin);
    no_exp.as_object_mut().unwrap().remove("exp");
    assert_refused(
        &app,
        "without exp",
        &hs256(&ring.active_kid, &no_exp, &ring.secret),
    )
    .await;
}

#[tokio::test]
async fn tokens_for_another_audience_or_issuer_are_refused() {
    let (app, admin) = app_with_admin().await;
    let ring = key_ring(&app);

    let mut audience = claims(&admin);
    audience["aud"] = json!("some-other-api");
    assert_refused(
        &app,
        "wrong audience",
        &hs256(&ring.active_kid, &audience, &ring.secret),
    )
    .await;

    let mut no_audience = claims(&admin);
    no_audience.as_object_mut().unwrap().remove("aud");
    assert_refused(
        &app,
        "no audience",
        &hs256(&ring.active_kid, &no_audience, &ring.secret),
    )
    .await;

    let mut issuer = claims(&admin);
    issuer["iss"] = json!("evil");
    assert_refused(
        &app,
        "wrong issuer",
        &hs256(&ring.active_kid, &issuer, &ring.secret),
    )
    .await;

    let mut no_issuer = claims(&admin);
    no_issuer.as_object_mut().unwrap().remove("iss");
    assert_refused(
        &app,
        "no issuer",
        &hs256(&ring.active_kid, &no_issuer, &ring.secret),
    )
    .await;
}

#[tokio::test]
async fn algorithm_substitutions_are_refused() {
    let (app, admin) = app_with_admin().await;
    let ring = key_ring(&app);
    let claims = claims(&admin);

    for alg in ["none", "None", "NONE"] {
        let header = json!({"alg": alg, "typ": "JWT", "kid": ring.active_kid});
        let unsigned = format!("{}.{}.", b64(&header), b64(&claims));
        assert_refused(
            &app,
            &format!("alg {alg} with an empty signature"),
            &unsigned,
        )
        .await;
    }

    // RS256 in the header, signed with the HMAC secret (key confusion).
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": ring.active_kid});
    let message = format!("{}.{}", b64(&header), b64(&claims));
    let signature = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &EncodingKey::from_secret(&ring.secret).unwrap(),
        Algorithm::HS256,
    )
    .unwrap();
    assert_refused(
        &app,
        "RS256 header with an HMAC signature",
        &format!("{message}.{signature}"),
    )
    .await;

    // Another HMAC strength than the one documented.
    let mut header = Header::new(Algorithm::HS512);
    header.kid = Some(ring.active_kid.clone());
    let hs512 = jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_secret(&ring.secret).unwrap(),
    )
    .unwrap();
    assert_refused(&app, "HS512", &hs512).await;

    // The valid token with its signature stripped.
    let valid = hs256(&ring.active_kid, &claims, &ring.secret);
    let (unsigned, _) = valid.rsplit_once('.').unwrap();
    assert_refused(
        &app,
        "HS256 with an empty signature",
        &format!("{unsigned}."),
    )
    .await;
}

#[tokio::test]
async fn tokens_with_an_unknown_kid_or_another_secret_are_refused() {
    let (app, admin) = app_with_admin().await;
    let ring = key_ring(&app);
    let claims = claims(&admin);

    assert_refused(
        &app,
        "unknown kid",
        &hs256("no-such-kid", &claims, &ring.secret),
    )
    .await;
    assert_refused(&app, "empty kid", &hs256("", &claims, &ring.secret)).await;
    assert_refused(
        &app,
        "kid as a path",
        &hs256("../../etc/passwd", &claims, &ring.secret),
    )
    .await;

    let other_secret = [7u8; 32];
    assert_refused(
        &app,
        "another secret, right kid",
        &hs256(&ring.active_kid, &claims, &other_secret),
    )
    .await;
    let mut encoded_secret = ring.secret.clone();
    encoded_secret.reverse();
    assert_refused(
        &app,
        "the secret reversed",
        &hs256(&ring.active_kid, &claims, &encoded_secret),
    )
    .await;
}

#[tokio::test]
async fn tampered_tokens_are_refused() {
    let (app, admin) = app_with_admin().await;
    let ring = key_ring(&app);
    let valid = hs256(&ring.active_kid, &claims(&admin), &ring.secret);
    assert_accepted(&app, "the untouched token", &valid, &admin).await;

    let parts: Vec<&str> = valid.split('.').collect();
    // One character of the payload changed.
    let mut payload: Vec<char> = parts[1].chars().collect();
    let middle = payload.len() / 2;
    payload[middle] = if payload[middle] == 'A' { 'B' } else { 'A' };
    let payload: String = payload.into_iter().collect();
    assert_refused(
        &app,
        "payload changed",
        &format!("{}.{payload}.{}", parts[0], parts[2]),
    )
    .await;

    // Claims swapped for a stranger's (a valid-looking payload with the old signature).
    let mut other = claims(&admin);
    other["sub"] = json!(kairan::domain::new_id());
    assert_refused(
        &app,
        "payload replaced",
        &format!("{}.{}.{}", parts[0], b64(&other), parts[2]),
    )
    .await;

    // One character of the signature changed.
    let mut signature: Vec<char> = parts[2].chars().collect();
    signature[3] = if signature[3] == 'A' { 'B' } else { 'A' };
    let signature: String = signature.into_iter().collect();
    assert_refused(
        &app,
        "signature changed",
        &format!("{}.{}.{signature}", parts[0], parts[1]),
    )
    .await;

    assert_refused(&app, "a token with a fourth part", &format!("{valid}.AAAA")).await;
}

#[tokio::test]
async fn garbage_and_malformed_authorization_headers_are_refused() {
    let (app, admin) = app_with_admin().await;
    let ring = key_ring(&app);
    let valid = hs256(&ring.active_kid, &claims(&admin), &ring.secret);

    for header in [
        "Bearer".to_string(),
        "Bearer ".to_string(),
        "Bearer garbage".to_string(),
        "Bearer a.b.c".to_string(),
        "Bearer ...".to_string(),
        "Bearer eyJhbGciOiJIUzI1NiJ9".to_string(),
        format!("Bearer {}", "A".repeat(10_000)),
        "Basic YWRtaW5Aa2FpcmFuLnRlc3Q6S2FucmktU2hhLVBhc3MtMjAyNg==".to_string(),
        valid.clone(),
        format!("Token {valid}"),
    ] {
        let response = me_with_header(&app, &header).await;
        let shown: String = header.chars().take(40).collect();
        assert_eq!(response.status(), 401, "{shown}");
        assert_eq!(error_code(response).await, "unauthorized", "{shown}");
    }
    let none = app.get("/api/v1/me").await;
    assert_eq!(none.status(), 401);
    assert_eq!(error_code(none).await, "unauthorized");
}

#[tokio::test]
async fn tokens_for_unknown_or_deleted_members_are_refused() {
    let (app, _) = app_with_admin().await;
    let ring = key_ring(&app);

    let stranger = kairan::domain::new_id();
    assert_refused(
        &app,
        "sub of no member",
        &hs256(&ring.active_kid, &claims(&stranger), &ring.secret),
    )
    .await;
    assert_refused(
        &app,
        "empty sub",
        &hs256(&ring.active_kid, &claims(""), &ring.secret),
    )
    .await;

    let gone = create_admin_directly(&app, "gone@kairan.test", ADMIN_PASSWORD);
    let token = hs256(&ring.active_kid, &claims(&gone), &ring.secret);
    assert_accepted(&app, "before deletion", &token, &gone).await;
    {
        use kairan::db::schema::{members, role_assignments};
        let mut conn = app.db.get().unwrap();
        diesel::delete(
            role_assignments::table.filter(role_assignments::member_id.eq(gone.as_str())),
        )
        .execute(&mut *conn)
        .unwrap();
        let deleted = diesel::delete(members::table.filter(members::id.eq(gone.as_str())))
            .execute(&mut *conn)
            .unwrap();
        assert_eq!(deleted, 1);
    }
    assert_refused(&app, "sub of a deleted member", &token).await;
}

#[tokio::test]
async fn tokens_of_disabled_members_are_refused() {
    let (app, _) = app_with_admin().await;
    let ring = key_ring(&app);
    let member = create_admin_directly(&app, "disabled@kairan.test", ADMIN_PASSWORD);
    let token = hs256(&ring.active_kid, &claims(&member), &ring.secret);
    assert_accepted(&app, "before disabling", &token, &member).await;
    {
        use kairan::db::schema::members;
        diesel::update(members::table.filter(members::id.eq(member.as_str())))
            .set(members::disabled.eq(true))
            .execute(&mut *app.db.get().unwrap())
            .unwrap();
    }
    assert_refused(&app, "sub of a disabled member", &token).await;
}

#[tokio::test]
async fn every_protected_endpoint_refuses_missing_garbage_and_expired_tokens() {
    let (app, admin) = app_with_admin().await;
    let ring = key_ring(&app);
    let mut expired = claims(&admin);
    expired["iat"] = json!(now() - 2000);
    expired["nbf"] = json!(now() - 2000);
    expired["exp"] = json!(now() - 1000);
    let expired = hs256(&ring.active_kid, &expired, &ring.secret);
    let id = kairan::domain::new_id();
    let endpoints = [
        ("GET", "/api/v1/me".to_string()),
        ("POST", "/api/v1/auth/logout".to_string()),
        ("GET", "/api/v1/districts".to_string()),
        ("GET", "/api/v1/associations".to_string()),
        ("POST", "/api/v1/associations".to_string()),
        ("GET", format!("/api/v1/associations/{id}")),
        ("PATCH", format!("/api/v1/associations/{id}")),
        ("GET", format!("/api/v1/associations/{id}/hans")),
        ("POST", format!("/api/v1/associations/{id}/hans")),
        ("GET", format!("/api/v1/associations/{id}/households")),
        ("POST", format!("/api/v1/associations/{id}/households")),
        ("PATCH", format!("/api/v1/households/{id}")),
        ("GET", format!("/api/v1/associations/{id}/members")),
        ("POST", format!("/api/v1/associations/{id}/invitations")),
        ("GET", format!("/api/v1/associations/{id}/invitations")),
        ("DELETE", format!("/api/v1/invitations/{id}")),
        ("POST", format!("/api/v1/associations/{id}/join-requests")),
        ("GET", format!("/api/v1/associations/{id}/join-requests")),
        ("POST", format!("/api/v1/join-requests/{id}/approve")),
        ("POST", format!("/api/v1/join-requests/{id}/decline")),
        ("POST", format!("/api/v1/associations/{id}/officers")),
        ("GET", format!("/api/v1/associations/{id}/roles")),
        ("DELETE", format!("/api/v1/role-assignments/{id}")),
        ("POST", format!("/api/v1/associations/{id}/handover")),
        ("GET", format!("/api/v1/associations/{id}/roster.csv")),
        ("POST", format!("/api/v1/associations/{id}/roster.csv")),
        ("POST", format!("/api/v1/districts/{id}/officers")),
        ("POST", "/api/v1/staff".to_string()),
        ("GET", format!("/api/v1/audit-log?association_id={id}")),
    ];
    for (method, path) in &endpoints {
        for (case, authorization) in [
            ("no token", None),
            ("garbage", Some("Bearer garbage".to_string())),
            ("expired", Some(format!("Bearer {expired}"))),
        ] {
            let mut request = app
                .client
                .request(method.parse().unwrap(), app.url(path))
                .json(&json!({}));
            if let Some(value) = authorization {
                request = request.header("authorization", value);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 401, "{method} {path} with {case}");
            assert_eq!(
                error_code(response).await,
                "unauthorized",
                "{method} {path} with {case}"
            );
        }
    }
}
