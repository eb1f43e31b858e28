//! What the server logs while it answers (`src/web/log.rs`): a server error's lines carry
//! the route it failed on and one request id; an ordinary answer writes nothing at the
//! default level; no token reaches the log.

use diesel::Connection;
use diesel::connection::SimpleConnection;
use reqwest::Method;
use serde_json::Value;

use crate::helpers::TestDatabase;
use crate::process::{ADMIN_LOGIN, Remote, Served, ServerEnv, Town};

/// Takes a table away under the running server, so a request that reads it fails.
fn rename_table(database: &TestDatabase, from: &str, to: &str) {
    let sql = format!("ALTER TABLE {from} RENAME TO {to}");
    match database.url.strip_prefix("sqlite://") {
        Some(path) => diesel::SqliteConnection::establish(path)
            .unwrap()
            .batch_execute(&sql)
            .unwrap(),
        None => diesel::PgConnection::establish(&database.url)
            .unwrap()
            .batch_execute(&sql)
            .unwrap(),
    }
}

fn log_lines(env: &ServerEnv) -> Vec<Value> {
    std::fs::read_to_string(&env.log)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

#[tokio::test]
async fn a_server_error_is_logged_with_its_route_and_request_id_and_no_token() {
    let database = TestDatabase::fresh();
    let mut env = ServerEnv::new(database.data_dir.path(), &database.url);
    env.set("KAIRAN_LOG__FORMAT", "json");
    // The production level: request spans, with their ids, are kept.
    env.set("KAIRAN_LOG__FILTER", "info");
    env.create_admin(ADMIN_LOGIN);
    let served = Served::start(&env).await;
    let remote = Remote::new(env.address());
    let town = Town::build(&remote, 1).await;
    let invitations = format!("/api/v1/associations/{}/invitations", town.association);

    remote
        .call(Method::GET, Some(&town.officer), &invitations, None, 200)
        .await;
    let quiet = log_lines(&env);
    assert!(!quiet.is_empty(), "the start is logged as JSON lines");
    assert!(
        quiet.iter().all(|line| line["span"].is_null()),
        "answered requests write no line: {quiet:?}"
    );

    rename_table(&database, "invitations", "invitations_gone");
    let failed = remote
        .call(Method::GET, Some(&town.officer), &invitations, None, 500)
        .await;
    assert_eq!(failed["error"], "internal_error", "{failed}");

    let lines = log_lines(&env);
    let answered = lines
        .iter()
        .find(|line| line["fields"]["message"] == "answered with a server error")
        .unwrap_or_else(|| panic!("no line for the server error: {lines:?}"));
    assert_eq!(answered["level"], "ERROR");
    let fields = &answered["fields"];
    assert_eq!(
        fields["http.route"], "/api/v1/associations/{id}/invitations",
        "{answered}"
    );
    assert_eq!(fields["http.status_code"], 500, "{answered}");
    let span = &answered["span"];
    assert_eq!(span["http.method"], "GET", "{answered}");
    assert_eq!(span["http.target"], invitations.as_str(), "{answered}");
    let request_id = span["request_id"].as_str().unwrap_or_default();
    assert!(!request_id.is_empty(), "{answered}");
    let cause = lines
        .iter()
        .find(|line| line["fields"]["message"] == "request failed")
        .unwrap_or_else(|| panic!("no line with the error's cause: {lines:?}"));
    assert_eq!(cause["span"]["request_id"], request_id, "{cause}");
    assert!(
        cause["fields"]["error"]
            .as_str()
            .is_some_and(|error| error.contains("invitations")),
        "the cause names what failed: {cause}"
    );

    let log = std::fs::read_to_string(&env.log).unwrap_or_default();
    for (_, token) in &town.residents {
        assert!(
            !log.contains(token.as_str()),
            "a resident's token was logged"
        );
    }
    assert!(
        !log.contains(town.officer.as_str()),
        "the officer's token was logged"
    );
    assert!(served.terminate().await.success());
}
