//! Finding 5: registration must not tell which logins exist, and is rate-limited.

use crate::fixtures::{City, PASSWORD};
use crate::helpers::{error_code, spawn_app, spawn_app_with};

#[tokio::test]
async fn a_bogus_invitation_is_refused_before_the_login_is_looked_at() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    for login in [city.resident_h1.login.as_str(), "nobody.here@kairan.test"] {
        let response = app
            .register(Some("BOGUS-CODE-1234"), login, PASSWORD, "だれか")
            .await;
        assert_eq!(response.status(), 422, "{login}");
        assert_eq!(error_code(response).await, "invitation_invalid", "{login}");
    }
}

#[tokio::test]
async fn registrations_from_one_address_are_limited() {
    let app = spawn_app_with(|s| s.auth.max_registrations_per_address_hour = 3).await;
    for n in 0..3 {
        let login = format!("bulk{n}@kairan.test");
        let response = app
            .register(Some("BOGUS-CODE-1234"), &login, PASSWORD, "だれか")
            .await;
        assert_eq!(response.status(), 422, "attempt {n}");
    }
    let response = app
        .register(None, "one.more@kairan.test", PASSWORD, "だれか")
        .await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(error_code(response).await, "too_many_requests");
}
