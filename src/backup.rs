//! Consistent copies of a live SQLite database: `kairan backup FILE` and the scheduled
//! backups into `<data_dir>/backups/`. `VACUUM INTO` reads one snapshot, so writers carry on
//! meanwhile (WAL); the copy is checked, synced and only then renamed into place, so a backup
//! file is never half-written. PostgreSQL is backed up with its own tools (docs/deploy.md).

use std::path::{Path, PathBuf};

use anyhow::Context;
use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::db::AnyConnection;

const SCHEDULED_PREFIX: &str = "kairan-";
const SCHEDULED_SUFFIX: &str = ".sqlite3";
const PARTIAL_SUFFIX: &str = ".partial";

#[derive(QueryableByName)]
struct CheckRow {
    #[diesel(sql_type = Text)]
    integrity_check: String,
}

/// Copies the database behind `conn` to `target`, replacing it atomically if it exists.
pub fn backup_to(conn: &mut AnyConnection, target: &Path) -> anyhow::Result<()> {
    let AnyConnection::Sqlite(conn) = conn else {
        anyhow::bail!("backups with VACUUM INTO are for SQLite; back up PostgreSQL with pg_dump");
    };
    if target.file_name().is_none() {
        anyhow::bail!("{} is not a file path", target.display());
    }
    let partial = partial_backup_path(target);
    // Left over from an interrupted backup: VACUUM INTO refuses an existing file.
    remove_if_present(&partial)?;
    let written = copy_and_check(conn, &partial);
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written?;
    std::fs::rename(&partial, target)
        .with_context(|| format!("cannot move the backup into {}", target.display()))?;
    sync_parent(target);
    Ok(())
}

/// Where a backup is written before it is checked and renamed into place.
pub fn partial_backup_path(target: &Path) -> PathBuf {
    let mut name = target.as_os_str().to_os_string();
    name.push(PARTIAL_SUFFIX);
    PathBuf::from(name)
}

fn copy_and_check(conn: &mut diesel::SqliteConnection, partial: &Path) -> anyhow::Result<()> {
    let path = partial
        .to_str()
        .with_context(|| format!("{} is not valid UTF-8", partial.display()))?;
    diesel::sql_query("VACUUM INTO ?")
        .bind::<Text, _>(path)
        .execute(conn)
        .with_context(|| format!("VACUUM INTO {} failed", partial.display()))?;
    let mut copy = diesel::SqliteConnection::establish(path)
        .with_context(|| format!("cannot open the copy {}", partial.display()))?;
    let rows: Vec<CheckRow> = diesel::sql_query("PRAGMA integrity_check").load(&mut copy)?;
    if rows.len() != 1 || rows[0].integrity_check != "ok" {
        let found: Vec<_> = rows.into_iter().map(|r| r.integrity_check).collect();
        anyhow::bail!("the copy failed its integrity check: {}", found.join("; "));
    }
    drop(copy);
    std::fs::File::open(partial)
        .and_then(|file| file.sync_all())
        .with_context(|| format!("cannot sync {}", partial.display()))?;
    Ok(())
}

fn remove_if_present(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// Makes the rename durable; a failure only weakens durability, so it is not an error.
fn sync_parent(path: &Path) {
    #[cfg(unix)]
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && let Ok(dir) = std::fs::File::open(parent)
    {
        let _ = dir.sync_all();
    }
}

/// One scheduled backup into `dir`, named by its UTC time, then only the newest `keep` stay.
pub fn scheduled_backup(
    conn: &mut AnyConnection,
    dir: &Path,
    keep: usize,
) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!(crate::files::explain(dir, "create the folder", &e)))?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ");
    let target = dir.join(format!("{SCHEDULED_PREFIX}{stamp}{SCHEDULED_SUFFIX}"));
    backup_to(conn, &target)?;
    for old in scheduled_backups(dir)?.into_iter().rev().skip(keep) {
        remove_if_present(&old)?;
    }
    Ok(target)
}

/// The scheduled backups in `dir`, oldest first (their names sort by time).
pub fn scheduled_backups(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        let is_backup = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(SCHEDULED_PREFIX) && n.ends_with(SCHEDULED_SUFFIX));
        if is_backup {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}
