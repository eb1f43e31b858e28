//! The `kairan` binary as an operator runs it.

use std::process::{Command, Output, Stdio};

use crate::helpers::TestDatabase;

pub fn kairan(database: &TestDatabase, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kairan"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("KAIRAN_ENVIRONMENT", "test")
        .env("KAIRAN_SERVER__DATA_DIR", database.data_dir.path())
        .env("KAIRAN_DATABASE__URL", &database.url)
        .stdin(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("kairan runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn importing_the_same_file_twice_changes_nothing() {
    let database = TestDatabase::fresh();
    let file = database.data_dir.path().join("districts.csv");
    std::fs::write(
        &file,
        "code,name,name_kana,checked\nX1,一,いち,yes\nX2,二,,no\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let env = [("KAIRAN_DATABASE__SEED_KANAZAWA_DISTRICTS", "false")];

    let first = kairan(&database, &["import", "districts", path], &env);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        stdout(&first).contains("2 added, 0 updated, 0 unchanged"),
        "{}",
        stdout(&first)
    );

    let second = kairan(&database, &["import", "districts", path], &env);
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(
        stdout(&second).contains("0 added, 0 updated, 2 unchanged"),
        "{}",
        stdout(&second)
    );

    std::fs::write(
        &file,
        "code,name,name_kana,checked\nX1,一,いち,yes\nX2,二,に,no\n",
    )
    .unwrap();
    let corrected = kairan(&database, &["import", "districts", path], &env);
    assert!(
        stdout(&corrected).contains("0 added, 1 updated, 1 unchanged"),
        "{} {}",
        stdout(&corrected),
        stderr(&corrected)
    );
}

#[test]
fn a_malformed_row_names_its_line_and_imports_nothing() {
    let database = TestDatabase::fresh();
    let file = database.data_dir.path().join("districts.csv");
    std::fs::write(&file, "code,name\nY1,一\nY2,二\nY3,\n").unwrap();
    let env = [("KAIRAN_DATABASE__SEED_KANAZAWA_DISTRICTS", "false")];

    let output = kairan(
        &database,
        &["import", "districts", file.to_str().unwrap()],
        &env,
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("line 4: name is empty"),
        "{}",
        stderr(&output)
    );
    assert!(stderr(&output).contains("nothing was imported"));

    // The rows before the bad one were not written either.
    std::fs::write(&file, "code,name\nY1,一\n").unwrap();
    let output = kairan(
        &database,
        &["import", "districts", file.to_str().unwrap()],
        &env,
    );
    assert!(stdout(&output).contains("1 added"), "{}", stdout(&output));
}

#[test]
fn admin_create_takes_the_password_from_the_environment() {
    let database = TestDatabase::fresh();
    let password = [("KAIRAN_ADMIN_PASSWORD", "a long enough password")];

    let created = kairan(
        &database,
        &["admin", "create", "--login", "Admin@City.Kanazawa.jp"],
        &password,
    );
    assert!(created.status.success(), "{}", stderr(&created));
    assert!(stdout(&created).contains("created city admin admin@city.kanazawa.jp"));
    assert!(!stdout(&created).contains("a long enough password"));

    let again = kairan(
        &database,
        &["admin", "create", "--login", "admin@city.kanazawa.jp"],
        &password,
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("already registered"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn admin_create_refuses_weak_or_missing_passwords_and_bad_logins() {
    let database = TestDatabase::fresh();
    let no_password = kairan(&database, &["admin", "create", "--login", "a@b.jp"], &[]);
    assert_eq!(no_password.status.code(), Some(1));
    assert!(stderr(&no_password).contains("KAIRAN_ADMIN_PASSWORD"));

    let short = kairan(
        &database,
        &["admin", "create", "--login", "a@b.jp"],
        &[("KAIRAN_ADMIN_PASSWORD", "short")],
    );
    assert_eq!(short.status.code(), Some(1));
    assert!(stderr(&short).contains("at least 8 characters"));

    let bad_login = kairan(
        &database,
        &["admin", "create", "--login", "admin"],
        &[("KAIRAN_ADMIN_PASSWORD", "long enough pw")],
    );
    assert_eq!(bad_login.status.code(), Some(1));
    assert!(stderr(&bad_login).contains("email address or a phone number"));
}

#[test]
fn bad_configuration_exits_2_with_a_clear_message() {
    let database = TestDatabase::fresh();
    let cases: [(&[(&str, &str)], &str); 4] = [
        (
            &[("KAIRAN_DATABASE__URL", "mysql://root@localhost/kairan")],
            "unsupported database URL scheme 'mysql'",
        ),
        (
            &[("KAIRAN_SERVER__BIND", "everywhere")],
            "server.bind (KAIRAN_SERVER__BIND) is 'everywhere'",
        ),
        (
            &[
                ("KAIRAN_ENVIRONMENT", "production"),
                ("KAIRAN_DATABASE__URL", ""),
            ],
            "database.url is required in production",
        ),
        (
            &[("KAIRAN_DATABASE__MAX_CONNECTIONS", "many")],
            "max_connections",
        ),
    ];
    for (env, expected) in cases {
        let output = kairan(&database, &["migrate"], env);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{env:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(expected),
            "{env:?}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn migrate_brings_a_new_database_up_to_date() {
    let database = TestDatabase::fresh();
    let output = kairan(&database, &["migrate"], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("up to date"));
}

#[test]
fn unknown_subcommand_is_a_usage_error() {
    let database = TestDatabase::fresh();
    let output = kairan(&database, &["frobnicate"], &[]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn stats_snapshot_stores_the_current_month_and_refuses_a_bad_month() {
    let database = TestDatabase::fresh();
    let month = kairan::domain::Month::containing(kairan::db::now()).to_string();

    let taken = kairan(&database, &["stats", "snapshot"], &[]);
    assert!(taken.status.success(), "{}", stderr(&taken));
    assert!(
        stdout(&taken).contains(&format!("{month}: stored (provisional")),
        "{}",
        stdout(&taken)
    );

    let by_month = kairan(&database, &["stats", "snapshot", "--month", &month], &[]);
    assert!(by_month.status.success(), "{}", stderr(&by_month));
    assert!(stdout(&by_month).contains(&format!("{month}: stored")));

    let bad = kairan(&database, &["stats", "snapshot", "--month", "2026-13"], &[]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("use YYYY-MM"), "{}", stderr(&bad));
}
