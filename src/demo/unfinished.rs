//! A demo fill is long and may be interrupted (Ctrl-C, a crash). It drops the big tables'
//! secondary indexes for speed, so while it runs a marker file in the data folder keeps
//! their definitions: the next command rebuilds any that are missing (the migration state
//! never claims an index that is not there), and the next `kairan demo` says how to start
//! again instead of failing on a half-built city.

use std::path::{Path, PathBuf};

use diesel::connection::SimpleConnection;
use serde::{Deserialize, Serialize};

use crate::db::AnyConnection;

const MARKER: &str = "demo-unfinished.json";

#[derive(Debug, Serialize, Deserialize)]
pub struct Marker {
    pub started: String,
    pub indexes: Vec<String>,
}

pub fn marker_path(data_dir: &Path) -> PathBuf {
    data_dir.join(MARKER)
}

/// Written (and synced) before the first index is dropped.
pub fn begin(data_dir: &Path, indexes: &[String]) -> anyhow::Result<()> {
    let path = marker_path(data_dir);
    let marker = Marker {
        started: chrono::Utc::now().to_rfc3339(),
        indexes: indexes.to_vec(),
    };
    std::fs::create_dir_all(data_dir)
        .and_then(|()| std::fs::write(&path, serde_json::to_vec_pretty(&marker)?))
        .and_then(|()| std::fs::File::open(&path)?.sync_all())
        .map_err(|e| anyhow::anyhow!(crate::files::explain(&path, "write", &e)))
}

/// Removed once the city is complete and its indexes are back.
pub fn finish(data_dir: &Path) -> anyhow::Result<()> {
    let path = marker_path(data_dir);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(anyhow::anyhow!(crate::files::explain(&path, "remove", &e)))
        }
        _ => Ok(()),
    }
}

pub fn read(data_dir: &Path) -> Option<Marker> {
    let text = std::fs::read(marker_path(data_dir)).ok()?;
    serde_json::from_slice(&text).ok()
}

/// Rebuilds the indexes an interrupted fill dropped; returns the marker when there was one.
pub fn repair(conn: &mut AnyConnection, data_dir: &Path) -> anyhow::Result<Option<Marker>> {
    let Some(marker) = read(data_dir) else {
        return Ok(None);
    };
    for definition in &marker.indexes {
        conn.batch_execute(&if_not_exists(definition))?;
    }
    Ok(Some(marker))
}

/// `CREATE [UNIQUE] INDEX name …` → `CREATE [UNIQUE] INDEX IF NOT EXISTS name …` (both
/// backends accept it).
fn if_not_exists(definition: &str) -> String {
    match definition.find("INDEX ") {
        Some(at) if !definition[at..].starts_with("INDEX IF NOT EXISTS") => format!(
            "{}INDEX IF NOT EXISTS {}",
            &definition[..at],
            &definition[at + "INDEX ".len()..]
        ),
        _ => definition.to_string(),
    }
}

/// Exactly how to start again from an empty database.
pub fn how_to_start_again(database: &crate::db::DatabaseUrl) -> String {
    let again = format!("{} demo", crate::hints::command());
    match database {
        crate::db::DatabaseUrl::Sqlite(path) => {
            let p = path.display();
            format!("stop the server, then run: rm -f {p} {p}-wal {p}-shm && {again}")
        }
        crate::db::DatabaseUrl::Postgres(_) => format!(
            "stop the server, drop and create the database again (dropdb, createdb), then run: {again}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_definitions_become_idempotent() {
        assert_eq!(
            if_not_exists("CREATE INDEX post_reads_member ON post_reads (member_id)"),
            "CREATE INDEX IF NOT EXISTS post_reads_member ON post_reads (member_id)"
        );
        assert_eq!(
            if_not_exists("CREATE UNIQUE INDEX u ON t USING btree (a)"),
            "CREATE UNIQUE INDEX IF NOT EXISTS u ON t USING btree (a)"
        );
        let already = "CREATE INDEX IF NOT EXISTS x ON t (a)";
        assert_eq!(if_not_exists(already), already);
    }
}
