//! The house rules of docs/architecture.md, checked on the source: no file in `src/` over
//! 700 lines, handlers of at most 40 lines and no query building in the front doors, and no
//! import circle between files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 700;
const MAX_HANDLER_LINES: usize = 40;

fn source_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    files.sort();
    files
}

/// `src/db/queries/posts.rs` → `db::queries::posts`; `src/web/mod.rs` → `web`.
fn module_of(file: &Path) -> String {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let relative = file.strip_prefix(&src).unwrap().with_extension("");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts.join("::")
}

/// The code without comments and without its `#[cfg(test)] mod tests`.
fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::…` path a file names, with `use crate::a::{b, c::{d}}` groups expanded.
fn crate_paths(code: &str) -> Vec<String> {
    fn expand(prefix: &str, group: &str, out: &mut Vec<String>) {
        let mut depth = 0;
        let mut start = 0;
        let bytes: Vec<char> = group.chars().collect();
        let mut items = Vec::new();
        for (i, c) in bytes.iter().enumerate() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    items.push(bytes[start..i].iter().collect::<String>());
                    start = i + 1;
                }
                _ => {}
            }
        }
        items.push(bytes[start..].iter().collect::<String>());
        for item in items {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            match item.split_once("::{") {
                Some((head, rest)) => {
                    let inner = rest.strip_suffix('}').unwrap_or(rest);
                    expand(&format!("{prefix}::{head}"), inner, out);
                }
                None => {
                    let name = item.split(" as ").next().unwrap_or(item).trim();
                    out.push(format!("{prefix}::{name}"));
                }
            }
        }
    }
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        let path: String = after
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let path = path.trim_end_matches(':').to_string();
        let tail = &after[path.len()..];
        if let Some(group) = tail.strip_prefix("::{") {
            let mut depth = 1;
            let end = group
                .char_indices()
                .find(|(_, c)| {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map_or(group.len(), |(i, _)| i);
            expand(&format!("crate::{path}"), &group[..end], &mut out);
        } else if let Some(group) = tail.strip_prefix('{') {
            let end = group.rfind('}').unwrap_or(group.len());
            expand("crate", &group[..end], &mut out);
        } else {
            out.push(format!("crate::{path}"));
        }
        rest = &after[path.len()..];
    }
    out
}

/// The longest known module a path names (`crate::db::queries::posts::Row` → `db::queries::posts`).
fn resolve(path: &str, modules: &BTreeSet<String>) -> Option<String> {
    let mut parts: Vec<&str> = path.trim_start_matches("crate::").split("::").collect();
    while !parts.is_empty() {
        let candidate = parts.join("::");
        if modules.contains(&candidate) {
            return Some(candidate);
        }
        parts.pop();
    }
    None
}

#[test]
fn no_file_in_src_is_over_700_lines() {
    let long: Vec<String> = source_files()
        .iter()
        .filter_map(|file| {
            let lines = std::fs::read_to_string(file).unwrap().lines().count();
            (lines > MAX_LINES).then(|| format!("{} ({lines} lines)", file.display()))
        })
        .collect();
    assert!(long.is_empty(), "files over {MAX_LINES} lines: {long:#?}");
}

fn is_front_door(file: &Path) -> bool {
    let module = module_of(file);
    module.starts_with("routes") || module.starts_with("web")
}

#[test]
fn handlers_are_at_most_40_lines() {
    let mut long = Vec::new();
    for file in source_files().iter().filter(|f| is_front_door(f)) {
        let text = std::fs::read_to_string(file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (start, line) in lines.iter().enumerate() {
            if !(line.starts_with("async fn ") || line.starts_with("pub async fn ")) {
                continue;
            }
            let length = lines[start..]
                .iter()
                .position(|l| *l == "}")
                .map_or(lines.len() - start, |end| end + 1);
            if length > MAX_HANDLER_LINES {
                long.push(format!("{}: {line} ({length} lines)", file.display()));
            }
        }
    }
    assert!(
        long.is_empty(),
        "handlers over {MAX_HANDLER_LINES} lines: {long:#?}"
    );
}

#[test]
fn front_doors_build_no_queries() {
    let offenders: Vec<String> = source_files()
        .iter()
        .filter(|file| is_front_door(file))
        .filter(|file| {
            let code = code_of(&std::fs::read_to_string(file).unwrap());
            code.contains("diesel::") || code.contains("db::schema")
        })
        .map(|file| file.display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "query building in a front door: {offenders:#?}"
    );
}

#[test]
fn no_import_circle_between_files_in_src() {
    let files = source_files();
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(f)).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let from = module_of(file);
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        let targets = edges.entry(from.clone()).or_default();
        for path in crate_paths(&code) {
            if let Some(to) = resolve(&path, &modules)
                && to != from
                && !to.is_empty()
            {
                targets.insert(to);
            }
        }
    }
    // A circle is a module that reaches itself; report each once, as its members.
    let reach = |start: &String| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<&String> = edges[start].iter().collect();
        while let Some(next) = stack.pop() {
            if seen.insert(next.clone()) {
                stack.extend(edges.get(next).into_iter().flatten());
            }
        }
        seen
    };
    let reachable: BTreeMap<&String, BTreeSet<String>> =
        edges.keys().map(|m| (m, reach(m))).collect();
    let mut circles: BTreeSet<Vec<String>> = BTreeSet::new();
    for (module, reached) in &reachable {
        if reached.contains(*module) {
            let members: Vec<String> = reached
                .iter()
                .filter(|other| reachable[other].contains(*module))
                .cloned()
                .collect();
            circles.insert(members);
        }
    }
    assert!(circles.is_empty(), "import circles: {circles:#?}");
}

#[test]
fn the_import_graph_sees_known_arrows() {
    // The checks above are only as good as this reading of the source.
    let paths = crate_paths(
        "use crate::db::{Db, queries::{posts, audit}};\nlet x = crate::authz::may_post(p);",
    );
    assert_eq!(
        paths,
        [
            "crate::db::Db",
            "crate::db::queries::posts",
            "crate::db::queries::audit",
            "crate::authz::may_post",
        ]
    );
}
