//! Files on disk, worded for the operator: which file, who owns it, and what to do.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Held while a server uses a SQLite database; the operating system releases it when the
/// process ends, however it ends, so a stale file never blocks a restart.
#[derive(Debug)]
pub struct DatabaseLock {
    _file: File,
    pub path: PathBuf,
}

/// A second server on the same SQLite file would fight the first over writes and caches.
pub fn lock_database(database: &Path) -> anyhow::Result<DatabaseLock> {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    let path = PathBuf::from(name);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| anyhow::anyhow!(explain(parent, "create the folder", &e)))?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| anyhow::anyhow!(explain(&path, "open the lock file", &e)))?;
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = match holder.trim() {
                "" => "another process".to_string(),
                pid => format!("process {pid}"),
            };
            anyhow::bail!(
                "another kairan server ({holder}) already uses the database {}; stop it first \
                 (the lock file {} is released when that process ends)",
                database.display(),
                path.display()
            );
        }
        Err(e) => {
            anyhow::bail!(explain(&path, "lock", &std::io::Error::from(e)));
        }
    }
    file.set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{}", std::process::id()))
        .map_err(|e| anyhow::anyhow!(explain(&path, "write to", &e)))?;
    Ok(DatabaseLock { _file: file, path })
}

/// Before SQLite opens a database: the file and its journals must be writable by this user
/// (after a first run as root they are not, and SQLite would only say "readonly database").
pub fn check_sqlite_files(database: &Path) -> Result<(), String> {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = database.as_os_str().to_owned();
        name.push(suffix);
        let file = PathBuf::from(name);
        // Asked with access(2), never by opening it: closing any descriptor of a database
        // file drops every SQLite lock this process holds on it (POSIX advisory locks).
        if file.exists()
            && let Err(e) = rustix::fs::access(&file, rustix::fs::Access::WRITE_OK)
        {
            return Err(explain(&file, "write to the database file", &e.into()));
        }
    }
    Ok(())
}

/// SQLite's own words ("unable to open database file") plus the file and what to do.
pub fn sqlite_error(database: &Path, error: impl std::fmt::Display) -> String {
    let mut text = format!(
        "cannot open the SQLite database {}: {error}",
        database.display()
    );
    text.push_str(&permission_hint(database));
    text
}

/// "cannot <action> <path>: <error>", and for a permission problem who owns the file, its
/// mode, who kairan runs as, and the command that fixes it.
pub fn explain(path: &Path, action: &str, error: &std::io::Error) -> String {
    let mut text = format!("cannot {action} {}: {error}", path.display());
    match error.kind() {
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
            text.push_str(&permission_hint(path));
        }
        std::io::ErrorKind::NotFound => {
            let missing = first_missing_ancestor(path);
            text.push_str(&format!(
                ". {} does not exist: create it, or point KAIRAN_SERVER__DATA_DIR at the right folder",
                missing.display()
            ));
        }
        _ => {}
    }
    text
}

/// Ownership and mode of the path (or its nearest existing folder), and the fix.
pub fn permission_hint(path: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let user = current_uid();
    let existing = std::iter::successors(Some(path), |p| p.parent())
        .find(|p| p.exists())
        .unwrap_or(path);
    match existing.metadata() {
        Ok(meta) => format!(
            ". {} is owned by uid {} with mode {:o}, and kairan runs as uid {user}: give the \
             service user the folder and its files (`sudo chown -R {user} {}`) or run kairan \
             as uid {}",
            existing.display(),
            meta.uid(),
            meta.mode() & 0o7777,
            data_root(existing).display(),
            meta.uid()
        ),
        Err(_) => format!(
            ". kairan runs as uid {user}: check the owner and mode of every folder on the path"
        ),
    }
}

/// The folder to hand over: a file's own folder, or the folder itself.
fn data_root(path: &Path) -> &Path {
    if path.is_dir() {
        path
    } else {
        path.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(path)
    }
}

fn first_missing_ancestor(path: &Path) -> &Path {
    let mut missing = path;
    for ancestor in path.ancestors().skip(1) {
        if ancestor.as_os_str().is_empty() || ancestor.exists() {
            break;
        }
        missing = ancestor;
    }
    missing
}

fn current_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    // The owner of /proc/self is the process's user; no unsafe call needed.
    std::fs::metadata("/proc/self").map_or(0, |m| m.uid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_database_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("kairan.sqlite3");
        let first = lock_database(&database).unwrap();
        let held = std::fs::read_to_string(&first.path).unwrap();
        assert_eq!(held.trim(), std::process::id().to_string());
        let second = lock_database(&database).unwrap_err().to_string();
        assert!(
            second.contains(&format!("process {}", std::process::id())),
            "{second}"
        );
        drop(first);
        lock_database(&database).unwrap();
    }

    #[test]
    fn a_missing_folder_is_named() {
        let error = std::io::Error::from(std::io::ErrorKind::NotFound);
        let text = explain(Path::new("/nonexistent-kairan/a/b.sqlite3"), "open", &error);
        assert!(
            text.contains("/nonexistent-kairan does not exist"),
            "{text}"
        );
    }
}
