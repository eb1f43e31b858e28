//! Backups: `kairan backup FILE`, the scheduled backups, and a restore drill that follows
//! docs/deploy.md step by step.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::Text;
use kairan::backup::scheduled_backups;
use reqwest::Method;
use serde_json::json;

use crate::fixtures::PASSWORD;
use crate::helpers::{TestDatabase, spawn_app_with};
use crate::process::{ADMIN_LOGIN, Remote, Served, ServerEnv, Town};

#[derive(QueryableByName)]
struct IntegrityRow {
    #[diesel(sql_type = Text)]
    integrity_check: String,
}

/// Opens a copy and checks it: intact, and holding the districts every database has.
fn assert_good_copy(path: &Path) {
    let mut conn = diesel::SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    let rows: Vec<IntegrityRow> = diesel::sql_query("PRAGMA integrity_check")
        .load(&mut conn)
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].integrity_check, "ok");
    let districts: i64 = kairan::db::schema::districts::table
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert!(districts > 0, "{} holds the data", path.display());
}

#[test]
fn kairan_backup_copies_sqlite_and_sends_postgres_users_to_pg_dump() {
    let database = TestDatabase::fresh();
    let env = ServerEnv::new(database.data_dir.path(), &database.url);
    let migrated = env.command(&["migrate"], &[]);
    assert!(migrated.status.success());
    let target = database.data_dir.path().join("copy.sqlite3");
    let target_arg = target.to_str().unwrap();

    let backed_up = env.command(&["backup", target_arg], &[]);
    let stderr = String::from_utf8_lossy(&backed_up.stderr);
    if database.is_postgres() {
        assert_eq!(backed_up.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("pg_dump"), "{stderr}");
        assert!(!target.exists());
        return;
    }
    assert!(backed_up.status.success(), "{stderr}");
    assert_good_copy(&target);
    // Again over the first copy: replaced whole, no partial file left behind.
    let again = env.command(&["backup", target_arg], &[]);
    assert!(again.status.success());
    assert_good_copy(&target);
    let leftovers: Vec<_> = std::fs::read_dir(database.data_dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn kairan_backup_refuses_a_missing_database() {
    let database = TestDatabase::fresh();
    if database.is_postgres() {
        // There is no file to miss; the PostgreSQL answer is checked above.
        return;
    }
    let env = ServerEnv::new(database.data_dir.path(), &database.url);
    let target = database.data_dir.path().join("copy.sqlite3");
    let output = env.command(&["backup", target.to_str().unwrap()], &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no database"));
    assert!(!target.exists());
    assert!(
        !database.data_dir.path().join("kairan.sqlite3").exists(),
        "none was made"
    );
}

#[tokio::test]
async fn scheduled_backups_rotate_and_keep_the_newest() {
    let app = spawn_app_with(|s| {
        s.backup.interval_secs = 1;
        s.backup.keep = 2;
    })
    .await;
    let dir = app.database.data_dir.path().join("backups");
    if app.database.is_postgres() {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(!dir.exists(), "no SQLite backups of a PostgreSQL database");
        return;
    }
    // Wait until the first backup seen has been rotated out.
    let mut first = None;
    let mut rotated = false;
    for _ in 0..300 {
        let found = if dir.exists() {
            scheduled_backups(&dir).unwrap()
        } else {
            Vec::new()
        };
        assert!(found.len() <= 2, "keeps at most 2: {found:?}");
        match (&first, found.first()) {
            (None, Some(oldest)) => first = Some(oldest.clone()),
            (Some(seen), _) if !found.contains(seen) && found.len() == 2 => {
                rotated = true;
                break;
            }
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(rotated, "older backups are deleted");
    for backup in scheduled_backups(&dir).unwrap() {
        assert_good_copy(&backup);
    }
}

/// Back up a live database under write load, restore it into a new data folder as
/// docs/deploy.md says, start on it, sign in, and read the inbox. On PostgreSQL the
/// backup is pg_dump and the restore pg_restore into a new database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_drill() {
    let database = TestDatabase::fresh();
    let env = ServerEnv::new(database.data_dir.path(), &database.url);
    env.create_admin(ADMIN_LOGIN);
    let remote = Remote::new(env.address());
    let served = Served::start(&env).await;
    let town = Arc::new(Town::build(&remote, 3).await);
    let resident_login = town.residents[0].0.clone();
    let resident = town.residents[0].1.clone();

    // Acknowledged before the backup: these must be in it.
    let mut before = Vec::new();
    for n in 0..3 {
        let post = town.publish(&remote, &format!("バックアップ前{n}")).await;
        let confirm = format!("/api/v1/posts/{post}/confirm");
        remote
            .call(Method::POST, Some(&resident), &confirm, None, 204)
            .await;
        before.push(post);
    }

    // Write load while the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicUsize::new(0));
    let load = {
        let (remote, town, stop, written) =
            (remote.clone(), town.clone(), stop.clone(), written.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let post = town.publish(&remote, &format!("負荷{n}")).await;
                for (_, token) in &town.residents {
                    let confirm = format!("/api/v1/posts/{post}/confirm");
                    remote
                        .call(Method::POST, Some(token), &confirm, None, 204)
                        .await;
                }
                written.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    while written.load(Ordering::Relaxed) < 2 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // SQLite: `kairan backup`; PostgreSQL: pg_dump, as docs/deploy.md says.
    let backup_file = database.data_dir.path().join("drill-backup");
    let (backup_env, backup_arg, url) = (
        env.clone(),
        backup_file.to_str().unwrap().to_string(),
        database.url.clone(),
    );
    let postgres = database.is_postgres();
    let output = tokio::task::spawn_blocking(move || {
        if postgres {
            Command::new("pg_dump")
                .args(["--format=custom", "--file", &backup_arg, &url])
                .output()
                .expect("pg_dump runs")
        } else {
            backup_env.command(&["backup", &backup_arg], &[])
        }
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    assert!(served.terminate().await.success());

    // Restore into a new data folder (and, on PostgreSQL, a new empty database): the
    // database and the key files, as the docs say.
    let restored = TestDatabase::fresh();
    if postgres {
        let output = Command::new("pg_restore")
            .args(["--no-owner", "--dbname", &restored.url])
            .arg(&backup_file)
            .output()
            .expect("pg_restore runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    } else {
        std::fs::copy(
            &backup_file,
            restored.data_dir.path().join("kairan.sqlite3"),
        )
        .unwrap();
    }
    // On PostgreSQL the keys came back with the dump (D46); on SQLite they are files.
    let key_files: &[&str] = if postgres {
        &[]
    } else {
        &["jwt-keys.json", "vapid-private-key", "link-key"]
    };
    for file in key_files {
        std::fs::copy(
            database.data_dir.path().join(file),
            restored.data_dir.path().join(file),
        )
        .unwrap();
    }
    // On SQLite an empty URL means the default: kairan.sqlite3 in the data folder.
    let restored_url = if postgres { restored.url.as_str() } else { "" };
    let restored_env = ServerEnv::new(restored.data_dir.path(), restored_url);
    let remote = Remote::new(restored_env.address());
    let served = Served::start(&restored_env).await;

    // Access tokens issued before still work: the signing keys came along.
    remote
        .call(Method::GET, Some(&resident), "/api/v1/me", None, 200)
        .await;
    let token = remote.sign_in(&resident_login, PASSWORD).await;
    let inbox = remote
        .call(
            Method::GET,
            Some(&token),
            "/api/v1/me/inbox?limit=100",
            None,
            200,
        )
        .await;
    let items = inbox["items"].as_array().unwrap();
    for post in &before {
        let item = items
            .iter()
            .find(|i| i["id"] == json!(post))
            .unwrap_or_else(|| panic!("post {post} from before the backup is restored"));
        assert_eq!(item["read"], true);
        assert_eq!(item["confirmed"], true);
    }
    assert!(served.terminate().await.success());
}
