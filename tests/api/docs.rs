//! The docs and the program name the same things: every setting, command, migration and
//! error code the docs name exists, and every one that exists is documented.

use std::collections::BTreeSet;
use std::path::Path;

use clap::CommandFactory;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// README.md and every Markdown file in docs/.
fn all_docs() -> Vec<(String, String)> {
    let mut docs = vec![("README.md".to_string(), read("README.md"))];
    for entry in std::fs::read_dir(Path::new(ROOT).join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            let name = format!("docs/{}", path.file_name().unwrap().to_string_lossy());
            docs.push((name.clone(), without_history(&read(&name))));
        }
    }
    docs
}

/// Leaves out sections headed "## Earlier…": records of past runs name what existed then.
fn without_history(text: &str) -> String {
    let mut kept = String::new();
    let mut history = false;
    for line in text.lines() {
        if line.starts_with("## ") {
            history = line.starts_with("## Earlier");
        }
        if !history {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    kept
}

/// The words in backticks of a text's prose (fenced code blocks left out), such as
/// `server.bind`.
fn quoted(text: &str) -> Vec<String> {
    let mut prose = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            prose.push_str(line);
            prose.push('\n');
        }
    }
    prose
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// Every run of the text matching `prefix` followed by characters allowed by `more`.
/// Words starting with `prefix` at a word's start (`170000_x` holds no `0000_x`).
fn words<'a>(text: &'a str, prefix: &str, more: fn(char) -> bool) -> Vec<&'a str> {
    text.match_indices(prefix)
        .filter(|(at, _)| !text[..*at].chars().next_back().is_some_and(more))
        .map(|(at, _)| {
            let rest = &text[at + prefix.len()..];
            let len = rest.find(|c: char| !more(c)).unwrap_or(rest.len());
            &text[at..at + prefix.len() + len]
        })
        .collect()
}

#[test]
fn every_setting_is_documented_and_every_documented_setting_exists() {
    let keys = kairan::configuration::setting_keys().unwrap();
    let reference = read("docs/configuration.md");
    let rows: BTreeSet<&str> = reference
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .filter(|k| k.contains('.'))
        .collect();
    for key in &keys {
        if key != "auth.keys" {
            assert!(
                rows.contains(key.as_str()),
                "docs/configuration.md misses `{key}`"
            );
            let variable = kairan::configuration::variable_name(key);
            assert!(
                reference.contains(&format!("`{variable}`")),
                "docs/configuration.md misses {variable}"
            );
        }
    }
    for row in rows {
        assert!(
            keys.contains(row),
            "docs/configuration.md documents `{row}`, which is no setting"
        );
    }
    assert!(read("config/default.toml").contains("docs/configuration.md"));
    assert!(read("README.md").contains("docs/configuration.md"));
}

#[test]
fn every_variable_the_docs_name_is_read_by_the_program() {
    let keys = kairan::configuration::setting_keys().unwrap();
    let settings: BTreeSet<String> = keys
        .iter()
        .map(|k| kairan::configuration::variable_name(k))
        .collect();
    let mut sources = String::new();
    for folder in ["src", "tests", "benches"] {
        collect_sources(&Path::new(ROOT).join(folder), &mut sources);
    }
    for (name, text) in all_docs() {
        for variable in words(&text, "KAIRAN_", |c| {
            c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'
        }) {
            if variable.ends_with('_') {
                continue; // KAIRAN_<SECTION>__<KEY>
            }
            let known = settings.contains(variable)
                || kairan::configuration::OTHER_VARIABLES.contains(&variable)
                || sources.contains(&format!("\"{variable}\""));
            assert!(known, "{name} names {variable}, which kairan does not read");
        }
    }
}

fn collect_sources(dir: &Path, into: &mut String) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_sources(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
}

#[test]
fn every_command_is_documented_and_every_documented_command_exists() {
    let cli = kairan::cli::Cli::command();
    let mut commands = BTreeSet::new();
    for command in cli.get_subcommands() {
        let name = command.get_name().to_string();
        let nested: Vec<String> = command
            .get_subcommands()
            .map(|c| format!("{name} {}", c.get_name()))
            .collect();
        if nested.is_empty() {
            commands.insert(name);
        } else {
            commands.extend(nested);
        }
    }
    let reference = read("docs/commands.md");
    for command in &commands {
        assert!(
            reference.contains(&format!("`kairan {command}")),
            "docs/commands.md misses `kairan {command}`"
        );
    }
    let first_words: BTreeSet<&str> = commands
        .iter()
        .map(|c| c.split(' ').next().unwrap())
        .collect();
    for (name, text) in all_docs() {
        for quote in quoted(&text) {
            let Some(rest) = quote.strip_prefix("kairan ") else {
                continue;
            };
            let word = rest.split_whitespace().next().unwrap_or_default();
            assert!(
                first_words.contains(word) || word.starts_with('-'),
                "{name} names `{quote}`, but kairan has no command `{word}`"
            );
        }
    }
}

#[test]
fn every_migration_is_documented_and_every_documented_migration_exists() {
    let names = |backend: &str| -> BTreeSet<String> {
        std::fs::read_dir(Path::new(ROOT).join("migrations").join(backend))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .map(|n| {
                n.split_once('-')
                    .map(|_| n[n.rfind('-').unwrap() + 1..].to_string())
                    .unwrap()
            })
            .collect()
    };
    let migrations = names("sqlite");
    assert_eq!(
        migrations,
        names("postgres"),
        "both backends have the same migrations"
    );
    let deploy = read("docs/deploy.md");
    for migration in &migrations {
        assert!(
            deploy.contains(&format!("`{migration}`")),
            "docs/deploy.md misses migration {migration}"
        );
    }
    for (name, text) in all_docs() {
        for mention in words(&text, "0000", |c| {
            c.is_ascii_digit() || c.is_ascii_lowercase() || c == '_'
        }) {
            if mention.contains('_') {
                assert!(
                    migrations.contains(mention),
                    "{name} names migration {mention}, which does not exist"
                );
            }
        }
    }
}

#[test]
fn every_error_code_is_documented_and_every_documented_code_exists() {
    let codes: BTreeSet<&str> = kairan::error::ErrorCode::ALL
        .iter()
        .map(|c| c.as_str())
        .collect();
    let api = read("docs/api.md");
    let table = api
        .split("## Errors")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("docs/api.md has an Errors section");
    let documented: BTreeSet<String> = table
        .lines()
        .filter(|l| l.starts_with("| "))
        .flat_map(quoted)
        .filter(|q| q.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .collect();
    for code in &codes {
        assert!(
            documented.contains(*code),
            "docs/api.md's Errors table misses `{code}`"
        );
    }
    for code in documented {
        assert!(
            codes.contains(code.as_str()),
            "docs/api.md documents `{code}`, which is no error code"
        );
    }
}

#[test]
fn the_docs_stand_alone() {
    for (name, text) in all_docs() {
        assert!(
            !text.contains("DESIGN.md"),
            "{name} cites DESIGN.md, which is not in this repository"
        );
        for quote in words(&text, "](", |c| c != ')') {
            let target = &quote[2..];
            if target.starts_with("http")
                || target.starts_with('#')
                || target.starts_with("mailto:")
            {
                continue;
            }
            let file = target.split('#').next().unwrap();
            let base = if name == "README.md" {
                Path::new(ROOT).to_path_buf()
            } else {
                Path::new(ROOT).join("docs")
            };
            assert!(
                base.join(file).exists() || is_screenshot(file),
                "{name} links to {file}, which does not exist"
            );
        }
    }
    let readme = read("README.md");
    assert!(readme.lines().count() < 150, "the README stays short");
    assert!(Path::new(ROOT).join("LICENSE").exists());
    assert!(
        read("Cargo.toml").contains("license = \"MIT\"")
            && read("LICENSE").starts_with("MIT License")
    );
}

/// Made by the browser tests (KAIRAN_SCREENSHOTS=1), so they may be missing in a fresh checkout.
fn is_screenshot(file: &str) -> bool {
    file.starts_with("docs/screenshots/") || file.starts_with("screenshots/")
}
