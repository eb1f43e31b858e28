//! `kairan demo` as a newcomer runs it: fill, start the server, sign in, read the inbox.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use diesel::prelude::*;
use kairan::configuration::{AppEnvironment, load};
use kairan::db::schema::{
    associations, household_receipts, members, post_reads, posts, safety_answer_history,
    safety_answers, safety_checks, stats_months,
};
use kairan::db::{AnyConnection, AnyConnectionManager, DatabaseUrl};

use crate::cli::{kairan, stderr, stdout};
use crate::helpers::TestDatabase;

/// `kairan serve` in a child process, stopped when dropped.
struct Server {
    child: Child,
    address: String,
}

impl Server {
    fn start(database: &TestDatabase) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kairan"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("KAIRAN_ENVIRONMENT", "test")
            .env("KAIRAN_SERVER__DATA_DIR", database.data_dir.path())
            .env("KAIRAN_DATABASE__URL", &database.url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("kairan serve starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let address = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|line| {
                line.split_once("listening on ")
                    .map(|(_, rest)| rest.split_whitespace().next().unwrap().to_string())
            })
            .expect("the server prints its address");
        // Keep reading so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self { child, address }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn connect(database: &TestDatabase) -> AnyConnection {
    let settings = load(AppEnvironment::Test, Path::new("config"), false).unwrap();
    AnyConnectionManager::new(
        DatabaseUrl::parse(&database.url).unwrap(),
        &settings.database,
    )
    .establish()
    .unwrap()
}

async fn sign_in(client: &reqwest::Client, address: &str, login: &str, password: &str) -> String {
    let response = client
        .post(format!("{address}/api/v1/auth/login"))
        .json(&serde_json::json!({"login": login, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{login} signs in");
    let body: serde_json::Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_printed_logins_sign_in_and_see_their_circulars() {
    let database = TestDatabase::fresh();
    let filled = kairan(&database, &["demo"], &[]);
    assert!(filled.status.success(), "{}", stderr(&filled));
    let printed = stdout(&filled);
    assert!(printed.contains("\"kairan-demo\""), "{printed}");
    for login in [
        "resident", "chair", "officer", "hanchou", "district", "city", "admin",
    ] {
        assert!(
            printed.contains(&format!("{login}@demo.kairan.example")),
            "{login} is printed: {printed}"
        );
    }
    // Its finished months' adoption figures are frozen before any server runs (D107).
    let frozen: i64 = stats_months::table
        .filter(stats_months::finalized.eq(true))
        .count()
        .get_result(&mut connect(&database))
        .unwrap();
    assert!(
        frozen >= 11,
        "a year of finished months is frozen: {frozen}"
    );

    let server = Server::start(&database);
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let token = sign_in(
        &client,
        &server.address,
        "resident@demo.kairan.example",
        "kairan-demo",
    )
    .await;
    let inbox: serde_json::Value = client
        .get(format!("{}/api/v1/me/inbox?limit=100", server.address))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = inbox["items"].as_array().unwrap();
    assert!(items.len() >= 40, "a year of circulars: {inbox}");
    for tier in ["city", "district", "association"] {
        assert!(
            items.iter().any(|i| i["tier"] == tier),
            "the inbox has {tier} circulars"
        );
    }
    assert!(items.iter().any(|i| i["read"] == true));
    assert!(items.iter().any(|i| i["read"] == false));
    assert!(items.iter().any(|i| i["confirmed"] == true));
    let survey = items
        .iter()
        .find(|i| i["category"] == "survey")
        .expect("this month's survey is in the inbox");

    // The chair sees how far the survey has gone round and who has not confirmed it.
    let chair = sign_in(
        &client,
        &server.address,
        "chair@demo.kairan.example",
        "kairan-demo",
    )
    .await;
    let receipts: serde_json::Value = client
        .get(format!(
            "{}/api/v1/posts/{}/receipts",
            server.address,
            survey["id"].as_str().unwrap()
        ))
        .bearer_auth(&chair)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let households = receipts["households"].as_i64().unwrap();
    let read = receipts["read"].as_i64().unwrap();
    assert!(
        households >= 8 && read > 0 && read < households,
        "{receipts}"
    );
    assert!(receipts["confirmed"].as_i64().unwrap() > 0, "{receipts}");
    assert!(
        !receipts["unconfirmed"].as_array().unwrap().is_empty(),
        "{receipts}"
    );

    // The district's 防災訓練 is over; the officer sees who answered in their association.
    let officer = sign_in(
        &client,
        &server.address,
        "officer@demo.kairan.example",
        "kairan-demo",
    )
    .await;
    let get = |path: String, token: &str| {
        let request = client
            .get(format!("{}{path}", server.address))
            .bearer_auth(token);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200, "{path}");
            response.json::<serde_json::Value>().await.unwrap()
        }
    };
    let checks = get("/api/v1/safety-checks".into(), &officer).await;
    let drill = checks["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["status"] == "closed")
        .unwrap_or_else(|| panic!("a past safety check: {checks}"));
    assert!(drill["message"].as_str().unwrap().contains("防災訓練"));
    let id = drill["id"].as_str().unwrap();
    let status = get(format!("/api/v1/safety-checks/{id}/status"), &officer).await;
    assert_eq!(status["status"], "closed");
    assert_eq!(status["grouped_by"], "han");
    let households = status["households"].as_i64().unwrap();
    let answered = status["answered"].as_i64().unwrap();
    assert!(
        households >= 8 && answered * 2 > households && answered <= households,
        "most households answered: {status}"
    );
    assert_eq!(
        answered,
        status["safe"].as_i64().unwrap() + status["needs_help"].as_i64().unwrap()
    );
    let conn = &mut connect(&database);
    let on_behalf: i64 = safety_answers::table
        .filter(safety_answers::on_behalf.eq(true))
        .count()
        .get_result(conn)
        .unwrap();
    assert!(on_behalf > 0, "paper households are answered for");

    // The city's dashboard counts it in its month.
    let city = sign_in(
        &client,
        &server.address,
        "city@demo.kairan.example",
        "kairan-demo",
    )
    .await;
    let started: chrono::DateTime<chrono::Utc> =
        drill["started_at"].as_str().unwrap().parse().unwrap();
    let month = kairan::domain::Month::containing(started.naive_utc());
    let dashboard = get(format!("/api/v1/stats/adoption?month={month}"), &city).await;
    let safety = &dashboard["districts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["figures"]["safety"]["checks"] == 1)
        .unwrap_or_else(|| panic!("the drill's district: {dashboard}"))["figures"]["safety"];
    assert!(
        safety["households_answered_72h"].as_i64().unwrap() > 0,
        "{safety}"
    );
}

#[test]
fn a_database_with_associations_is_refused_and_left_alone() {
    let database = TestDatabase::fresh();
    let first = kairan(&database, &["demo"], &[]);
    assert!(first.status.success(), "{}", stderr(&first));
    let count = |database: &TestDatabase| -> (i64, i64) {
        let conn = &mut connect(database);
        (
            associations::table.count().get_result(conn).unwrap(),
            members::table.count().get_result(conn).unwrap(),
        )
    };
    let before = count(&database);

    let again = kairan(&database, &["demo"], &[]);
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("already holds 4 associations"),
        "{}",
        stderr(&again)
    );
    assert!(stderr(&again).contains("--add-to-existing"));

    // Even when asked to add, a second demo city is never mixed into the first.
    let added = kairan(&database, &["demo", "--add-to-existing"], &[]);
    assert_eq!(added.status.code(), Some(2));
    assert!(stderr(&added).contains("already holds a demo city"));
    assert_eq!(count(&database), before);
}

#[test]
fn bad_demo_options_exit_2_and_write_nothing() {
    let database = TestDatabase::fresh();
    let cases: [(&[&str], &str); 3] = [
        (
            &["demo", "--password", "short"],
            "--password: the password must have at least 8 characters",
        ),
        (
            &["demo", "--push-endpoint", "https://push.example.com"],
            "--push-endpoint must be an http(s) URL on loopback",
        ),
        (&["demo", "--scale", "tokyo"], "invalid value 'tokyo'"),
    ];
    for (args, expected) in cases {
        let output = kairan(&database, args, &[]);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&output).contains(expected),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    let filled = kairan(&database, &["demo"], &[]);
    assert!(filled.status.success(), "{}", stderr(&filled));
}

#[tokio::test]
async fn a_seed_makes_the_same_city_and_another_seed_another() {
    let snapshot = |seed: &str| {
        let database = TestDatabase::fresh();
        let output = kairan(
            &database,
            &[
                "demo",
                "--seed",
                seed,
                "--password",
                "another demo password",
            ],
            &[],
        );
        assert!(output.status.success(), "{}", stderr(&output));
        let conn = &mut connect(&database);
        let circulars: Vec<(String, String, Option<chrono::NaiveDateTime>)> = posts::table
            .select((posts::id, posts::title, posts::published_at))
            .order(posts::id)
            .load(conn)
            .unwrap();
        let reads: i64 = post_reads::table.count().get_result(conn).unwrap();
        let receipts: i64 = household_receipts::table.count().get_result(conn).unwrap();
        let checks: Vec<(String, chrono::NaiveDateTime)> = safety_checks::table
            .select((safety_checks::id, safety_checks::started_at))
            .order(safety_checks::id)
            .load(conn)
            .unwrap();
        let answers: Vec<(String, String, chrono::NaiveDateTime)> = safety_answer_history::table
            .select((
                safety_answer_history::household_id,
                safety_answer_history::status,
                safety_answer_history::answered_at,
            ))
            .order(safety_answer_history::id)
            .load(conn)
            .unwrap();
        (database, circulars, (reads, receipts), (checks, answers))
    };
    let (database, first, counts, safety) = snapshot("7");
    let (_, same, same_counts, same_safety) = snapshot("7");
    let (_, other, _, _) = snapshot("8");
    assert_eq!(first, same);
    assert_eq!(counts, same_counts);
    assert_eq!(safety, same_safety);
    let (reads, receipts) = counts;
    assert!(reads > 0 && receipts >= reads);
    assert_eq!(safety.0.len(), 1, "one drill in the small city");
    assert!(!safety.1.is_empty());
    assert_ne!(first, other);

    // The password given is the one that works.
    let server = Server::start(&database);
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    sign_in(
        &client,
        &server.address,
        "officer@demo.kairan.example",
        "another demo password",
    )
    .await;
}

#[derive(QueryableByName)]
struct IndexName {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

fn index_names(conn: &mut AnyConnection) -> Vec<String> {
    let mut names: Vec<String> = diesel::sql_query(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL \
         AND tbl_name IN ('post_reads', 'household_receipts')",
    )
    .load::<IndexName>(conn)
    .unwrap()
    .into_iter()
    .map(|i| i.name)
    .collect();
    names.sort();
    names
}

/// Ctrl-C in the middle of the Kanazawa-size fill: the command says how to start again, the
/// next command rebuilds the dropped indexes, and the next demo repeats the way back.
#[test]
fn an_interrupted_demo_leaves_a_state_the_next_command_handles() {
    let database = TestDatabase::fresh();
    if !database.url.starts_with("sqlite") {
        return; // The index catalog read here is SQLite's; the repair itself is shared.
    }
    let migrated = kairan(&database, &["migrate"], &[]);
    assert!(migrated.status.success(), "{}", stderr(&migrated));
    let complete = index_names(&mut connect(&database));
    assert!(!complete.is_empty());

    let child = Command::new(env!("CARGO_BIN_EXE_kairan"))
        .args(["demo", "--scale", "kanazawa"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("KAIRAN_ENVIRONMENT", "test")
        .env("KAIRAN_SERVER__DATA_DIR", database.data_dir.path())
        .env("KAIRAN_DATABASE__URL", &database.url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let marker = database.data_dir.path().join("demo-unfinished.json");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !marker.exists() {
        assert!(std::time::Instant::now() < deadline, "the fill never began");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // Interrupt once part of the city is committed (the loader writes in large batches).
    let mut conn = connect(&database);
    while associations::table
        .count()
        .get_result::<i64>(&mut conn)
        .unwrap()
        == 0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing was ever written"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(index_names(&mut conn).len() < complete.len());
    drop(conn);
    crate::process::signal(child.id(), "INT");
    let interrupted = child.wait_with_output().unwrap();
    assert_eq!(
        interrupted.status.code(),
        Some(130),
        "{}",
        stderr(&interrupted)
    );
    let file = database.data_dir.path().join("kairan.sqlite3");
    let start_again = format!("rm -f {0} {0}-wal {0}-shm && ", file.display());
    assert!(
        stderr(&interrupted).contains("interrupted"),
        "{}",
        stderr(&interrupted)
    );
    assert!(
        stderr(&interrupted).contains(&start_again),
        "{}",
        stderr(&interrupted)
    );

    let repaired = kairan(&database, &["migrate"], &[]);
    assert!(repaired.status.success(), "{}", stderr(&repaired));
    assert_eq!(index_names(&mut connect(&database)), complete);

    let again = kairan(&database, &["demo"], &[]);
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("was interrupted"),
        "{}",
        stderr(&again)
    );
    assert!(stderr(&again).contains(&start_again), "{}", stderr(&again));
}
