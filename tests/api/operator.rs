//! The operator's first hour: typos refused, the database named, one server per SQLite file.

use std::process::{Command, Stdio};

use crate::cli::{kairan, stderr, stdout};
use crate::helpers::TestDatabase;
use crate::process::{Served, ServerEnv};

#[test]
fn a_mistyped_variable_stops_start_up_with_a_suggestion() {
    let database = TestDatabase::fresh();
    for (variable, suggestion) in [
        (
            "KAIRAN_SERVER__DATADIR",
            "did you mean `KAIRAN_SERVER__DATA_DIR`?",
        ),
        ("KAIRAN_SERVR__BIND", "did you mean `KAIRAN_SERVER__BIND`?"),
    ] {
        let output = kairan(&database, &["serve"], &[(variable, "/srv/kairan")]);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{variable}: {}",
            stderr(&output)
        );
        let message = stderr(&output);
        assert!(
            message.contains(&format!("unknown environment variable {variable}")),
            "{message}"
        );
        assert!(message.contains(suggestion), "{message}");
    }
}

#[test]
fn a_mistyped_key_in_a_configuration_file_stops_start_up_with_a_suggestion() {
    let database = TestDatabase::fresh();
    let config = tempfile::tempdir().unwrap();
    std::fs::write(
        config.path().join("test.toml"),
        "[server]\nbnd = \"0.0.0.0:8080\"\n",
    )
    .unwrap();
    let output = kairan(
        &database,
        &["migrate"],
        &[("KAIRAN_CONFIG_DIR", config.path().to_str().unwrap())],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("test.toml: unknown key `server.bnd`"),
        "{message}"
    );
    assert!(message.contains("did you mean `server.bind`?"), "{message}");
}

#[test]
fn commands_say_which_database_they_opened_and_whether_it_is_new() {
    let database = TestDatabase::fresh();
    let first = kairan(&database, &["migrate"], &[]);
    assert!(first.status.success(), "{}", stderr(&first));
    let printed = stdout(&first);
    let shown = database
        .url
        .split('@')
        .next_back()
        .unwrap_or_default()
        .to_string();
    assert!(printed.contains("database: "), "{printed}");
    assert!(printed.contains(&shown), "{printed}");
    if database.url.starts_with("sqlite") {
        assert!(printed.contains("(new: it did not exist"), "{printed}");
        let again = kairan(&database, &["migrate"], &[]);
        assert!(!stdout(&again).contains("(new"), "{}", stdout(&again));
    }
}

#[tokio::test]
async fn a_second_server_on_the_same_sqlite_database_refuses_to_start() {
    let database = TestDatabase::fresh();
    if !database.url.starts_with("sqlite") {
        return; // PostgreSQL serves several processes by design.
    }
    let env = ServerEnv::new(database.data_dir.path(), &database.url);
    let first = Served::start(&env).await;
    let mut second_env = env.clone();
    second_env.set(
        "KAIRAN_SERVER__BIND",
        &format!("127.0.0.1:{}", crate::process::free_port()),
    );
    let second = Command::new(env!("CARGO_BIN_EXE_kairan"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(
            second_env
                .vars
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        )
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!second.status.success());
    let message = stderr(&second);
    assert!(
        message.contains(&format!("another kairan server (process {})", first.pid())),
        "{message}"
    );
    assert!(message.contains("kairan.sqlite3.lock"), "{message}");

    // The lock goes with the process: a restart after kill -9 is not blocked.
    first.kill9();
    let restarted = Served::start(&env).await;
    drop(restarted);
}

/// After a first run as root, the service user cannot write the database: the message names
/// the file, its owner and mode, the user kairan runs as, and the command that fixes it.
#[test]
fn a_database_left_by_root_is_named_with_its_owner_and_the_fix() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let database = TestDatabase::fresh();
    let as_root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if !database.url.starts_with("sqlite") || !as_root {
        return; // Needs root to play both users, and a database file.
    }
    let made = kairan(&database, &["migrate"], &[]);
    assert!(made.status.success(), "{}", stderr(&made));
    let folder = database.data_dir.path();
    std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o755)).unwrap();
    let output = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_kairan"))
        .arg("migrate")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("KAIRAN_ENVIRONMENT", "test")
        .env("KAIRAN_SERVER__DATA_DIR", folder)
        .env("KAIRAN_DATABASE__URL", &database.url)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let message = stderr(&output);
    let file = folder.join("kairan.sqlite3");
    assert!(
        message.contains(&format!(
            "cannot write to the database file {}",
            file.display()
        )),
        "{message}"
    );
    assert!(message.contains("owned by uid 0 with mode "), "{message}");
    assert!(message.contains("kairan runs as uid 65534"), "{message}");
    assert!(
        message.contains(&format!("sudo chown -R 65534 {}", folder.display())),
        "{message}"
    );
}

/// The unit in docs/deploy.md, as systemd would run it: its environment (with the data
/// folder and port moved into the test's), its umask, from `/` with no `config/` folder.
#[tokio::test]
async fn the_systemd_unit_starts_with_json_logs_and_private_files() {
    use std::os::unix::fs::PermissionsExt;
    let deploy =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/deploy.md")).unwrap();
    let unit = deploy
        .split("```ini\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("docs/deploy.md has a systemd unit");
    let umask = unit
        .lines()
        .find_map(|l| l.strip_prefix("UMask="))
        .expect("the unit sets a umask");
    assert_eq!(umask, "0077");
    let data = tempfile::tempdir().unwrap();
    let folder = data.path().join("kairan");
    let port = crate::process::free_port();
    let mut vars: Vec<(String, String)> = unit
        .lines()
        .filter_map(|l| l.strip_prefix("Environment="))
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let v = v
                .replace("/var/lib/kairan", &folder.display().to_string())
                .replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"));
            (k.to_string(), v)
        })
        .collect();
    assert!(vars.contains(&("KAIRAN_ENVIRONMENT".into(), "production".into())));
    // The unit's own database is SQLite in its data folder; the PostgreSQL suite swaps it.
    let database = TestDatabase::fresh();
    if database.url.starts_with("postgres") {
        vars.retain(|(k, _)| k != "KAIRAN_DATABASE__URL");
        vars.push(("KAIRAN_DATABASE__URL".into(), database.url.clone()));
    }
    let log = data.path().join("stderr.log");
    let mut child = Command::new("sh")
        .args(["-c", &format!("umask {umask} && exec \"$0\" serve")])
        .arg(env!("CARGO_BIN_EXE_kairan"))
        .current_dir("/")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let ready = client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{status}: {}", std::fs::read_to_string(&log).unwrap());
        }
        assert!(std::time::Instant::now() < deadline, "did not come up");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    crate::process::signal(child.id(), "TERM");
    assert!(child.wait().unwrap().success());

    let logged = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = logged.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "the server logs its start");
    for line in lines {
        let entry: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(entry["level"].is_string(), "{line}");
    }
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o077;
    assert_eq!(mode(&folder), 0, "the data folder is private");
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0, "{} is private", path.display());
    }
}
