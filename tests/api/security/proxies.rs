//! Finding 3: the client address behind a reverse proxy, and sign-in limits that cannot lock
//! an account's owner out.

use crate::fixtures::{ADMIN_LOGIN, ADMIN_PASSWORD, create_admin_directly};
use crate::helpers::{TestApp, spawn_app_with};

async fn login_from(app: &TestApp, forwarded_for: &str, login: &str, password: &str) -> u16 {
    app.client
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", forwarded_for)
        .json(&serde_json::json!({"login": login, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn wrong_guesses_from_elsewhere_do_not_lock_the_owner_out() {
    let app = spawn_app_with(|s| {
        s.auth.trusted_proxies = vec!["127.0.0.1".into()];
        s.auth.max_failures_per_account_hour = 3;
    })
    .await;
    create_admin_directly(&app, ADMIN_LOGIN, ADMIN_PASSWORD);
    for _ in 0..3 {
        assert_eq!(
            login_from(&app, "203.0.113.9", ADMIN_LOGIN, "wrong-guess-1").await,
            401
        );
    }
    assert_eq!(
        login_from(&app, "203.0.113.9", ADMIN_LOGIN, ADMIN_PASSWORD).await,
        429
    );
    assert_eq!(
        login_from(&app, "198.51.100.7", ADMIN_LOGIN, ADMIN_PASSWORD).await,
        200
    );
}

#[tokio::test]
async fn a_client_cannot_escape_the_address_limit_by_rotating_its_own_header() {
    let app = spawn_app_with(|s| {
        s.auth.trusted_proxies = vec!["127.0.0.0/8".into()];
        s.auth.max_failures_per_address_hour = 3;
    })
    .await;
    for n in 0..3 {
        let chain = format!("10.9.9.{n}, 203.0.113.9");
        assert_eq!(
            login_from(&app, &chain, &format!("u{n}@kairan.test"), "x").await,
            401
        );
    }
    let status = login_from(&app, "10.9.9.77, 203.0.113.9", "u9@kairan.test", "x").await;
    assert_eq!(status, 429, "the proxy-appended address is the client");
    // Another client behind the same proxy is not blocked.
    assert_eq!(
        login_from(&app, "198.51.100.7", "u9@kairan.test", "x").await,
        401
    );
}

#[tokio::test]
async fn forwarded_headers_from_an_untrusted_peer_are_ignored() {
    let app = spawn_app_with(|s| s.auth.max_failures_per_address_hour = 3).await;
    for n in 0..3 {
        let spoofed = format!("203.0.113.{n}");
        assert_eq!(
            login_from(&app, &spoofed, &format!("u{n}@kairan.test"), "x").await,
            401
        );
    }
    assert_eq!(
        login_from(&app, "198.51.100.7", "u9@kairan.test", "x").await,
        429
    );
}
