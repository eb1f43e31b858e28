//! Finding 14: `kairan demo --add-to-existing` never puts a known password into a real city,
//! and never runs in production.

use crate::cli::{kairan, stderr};
use crate::fixtures::City;
use crate::helpers::spawn_app;

#[tokio::test]
async fn the_demo_adds_no_known_password_to_a_real_city() {
    let app = spawn_app().await;
    City::build(&app).await;
    let output = kairan(&app.database, &["demo", "--add-to-existing"], &[]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("--password"),
        "{}",
        stderr(&output)
    );
    let login = app
        .login("admin@demo.kairan.example", kairan::demo::DEFAULT_PASSWORD)
        .await;
    assert_eq!(login.status(), 401);
}

#[tokio::test]
async fn the_demo_never_adds_to_a_production_database() {
    let app = spawn_app().await;
    City::build(&app).await;
    let output = kairan(
        &app.database,
        &[
            "demo",
            "--add-to-existing",
            "--password",
            "Jibun-No-Pass-2026",
        ],
        &[("KAIRAN_ENVIRONMENT", "production")],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("production"),
        "{}",
        stderr(&output)
    );
}
