//! Refuses keys nobody reads: a typo in a TOML file or a `KAIRAN_…` variable would otherwise
//! start a second, empty city somewhere else without a word.

use std::collections::BTreeSet;
use std::path::Path;

use config::{Config, File, FileFormat, Map, Value, ValueKind};

/// Variables kairan reads itself, besides `KAIRAN_<SECTION>__<KEY>` settings (the test
/// harness's own are here so a developer's shell with them set still starts the server).
pub const OTHER_VARIABLES: &[&str] = &[
    "KAIRAN_ENVIRONMENT",
    "KAIRAN_CONFIG_DIR",
    "KAIRAN_ADMIN_PASSWORD",
    "KAIRAN_TEST_DATABASE_URL",
    "KAIRAN_SCREENSHOTS",
    "KAIRAN_AXE_JS",
    "KAIRAN_CRASH_KILLS",
    "KAIRAN_CRASH_SEED",
    "KAIRAN_CRASH_WORKERS",
];

/// Keys whose values are tables of their own (`[[auth.keys]]`), not listed in the defaults.
const TABLE_KEYS: &[&str] = &["auth.keys"];

/// Every `section.key` the built-in defaults name: the settings that exist.
pub fn known_keys(default_toml: &str) -> Result<BTreeSet<String>, String> {
    let table = Config::builder()
        .add_source(File::from_str(default_toml, FileFormat::Toml))
        .build()
        .and_then(|c| c.try_deserialize::<Map<String, Value>>())
        .map_err(|e| format!("the built-in defaults: {e}"))?;
    let mut keys = BTreeSet::new();
    flatten("", table, &mut keys);
    keys.extend(TABLE_KEYS.iter().map(|k| k.to_string()));
    Ok(keys)
}

/// Problems with one TOML file's keys, worded with the file's name.
pub fn file_problems(path: &Path, known: &BTreeSet<String>) -> Vec<String> {
    let table = match Config::builder()
        .add_source(File::from(path).format(FileFormat::Toml))
        .build()
        .and_then(|c| c.try_deserialize::<Map<String, Value>>())
    {
        Ok(table) => table,
        Err(e) => return vec![format!("{}: {e}", path.display())],
    };
    let mut found = BTreeSet::new();
    flatten("", table, &mut found);
    found
        .into_iter()
        .filter(|key| !is_known(key, known))
        .map(|key| {
            let mut problem = format!("{}: unknown key `{key}`", path.display());
            if let Some(near) = nearest(&key, known.iter().map(String::as_str)) {
                problem.push_str(&format!("; did you mean `{near}`?"));
            }
            problem
        })
        .collect()
}

/// Problems with `KAIRAN_…` variables that name no setting.
pub fn variable_problems<I: IntoIterator<Item = String>>(
    names: I,
    known: &BTreeSet<String>,
) -> Vec<String> {
    let variables: Vec<String> = known.iter().map(|k| variable_name(k)).collect();
    names
        .into_iter()
        .filter(|name| name.starts_with("KAIRAN_") && !OTHER_VARIABLES.contains(&name.as_str()))
        .filter(|name| !variables.contains(name))
        .map(|name| {
            let candidates = variables
                .iter()
                .map(String::as_str)
                .chain(OTHER_VARIABLES.iter().copied());
            let mut problem = format!("unknown environment variable {name}");
            if let Some(near) = nearest(&name, candidates) {
                problem.push_str(&format!("; did you mean `{near}`?"));
            }
            problem
        })
        .collect()
}

/// `server.data_dir` → `KAIRAN_SERVER__DATA_DIR`.
pub fn variable_name(key: &str) -> String {
    format!("KAIRAN_{}", key.replace('.', "__").to_uppercase())
}

fn is_known(key: &str, known: &BTreeSet<String>) -> bool {
    known.contains(key)
        || TABLE_KEYS.iter().any(|table| {
            key.strip_prefix(table)
                .is_some_and(|rest| rest.starts_with(['.', '[']))
        })
}

fn flatten(prefix: &str, table: Map<String, Value>, keys: &mut BTreeSet<String>) {
    for (name, value) in table {
        let key = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}.{name}")
        };
        match value.kind {
            ValueKind::Table(inner) if !TABLE_KEYS.contains(&key.as_str()) => {
                flatten(&key, inner, keys)
            }
            _ => {
                keys.insert(key);
            }
        }
    }
}

/// The closest candidate, if it is close enough to be what was meant.
fn nearest<'a>(typed: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let typed = typed.to_lowercase();
    candidates
        .map(|c| (edit_distance(&typed, &c.to_lowercase()), c))
        .filter(|(distance, c)| *distance <= (c.len() / 3).max(2))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULTS: &str = "[server]\nbind = \"x\"\ndata_dir = \"data\"\n[auth]\nissuer = \"k\"\n";

    #[test]
    fn a_mistyped_variable_is_refused_with_the_nearest_name() {
        let known = known_keys(DEFAULTS).unwrap();
        let problems = variable_problems(
            [
                "KAIRAN_SERVER__DATADIR".to_string(),
                "KAIRAN_SERVR__BIND".to_string(),
                "KAIRAN_SERVER__BIND".to_string(),
                "KAIRAN_ENVIRONMENT".to_string(),
                "PATH".to_string(),
                "KAIRAN_COMPLETELY_OTHER".to_string(),
            ],
            &known,
        );
        assert_eq!(
            problems,
            [
                "unknown environment variable KAIRAN_SERVER__DATADIR; did you mean `KAIRAN_SERVER__DATA_DIR`?",
                "unknown environment variable KAIRAN_SERVR__BIND; did you mean `KAIRAN_SERVER__BIND`?",
                "unknown environment variable KAIRAN_COMPLETELY_OTHER",
            ]
        );
    }

    #[test]
    fn a_mistyped_file_key_is_refused_and_key_tables_are_allowed() {
        let known = known_keys(DEFAULTS).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("local.toml");
        std::fs::write(
            &path,
            "[server]\nbnd = \"1\"\n[auth]\n[[auth.keys]]\nkid = \"a\"\nsecret = \"b\"\n",
        )
        .unwrap();
        let problems = file_problems(&path, &known);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].ends_with("unknown key `server.bnd`; did you mean `server.bind`?"),
            "{problems:?}"
        );
    }

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("bind", "bind"), 0);
        assert_eq!(edit_distance("bnd", "bind"), 1);
        assert_eq!(edit_distance("datadir", "data_dir"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
