//! The system text of the pages in six languages, from `src/web/i18n/<area>/<language>.toml`
//! (files a translator edits; compiled in). Circulars are never translated.

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::domain::Language;

/// The translation files: one folder per area of the site (`common`, `inbox`, …), one file
/// per language in each, so a new page brings its own texts. A test checks each language has
/// every key of Japanese.
macro_rules! translation_files {
    ($($area:literal),+ $(,)?) => {
        &[
            (Language::Ja, &[$(include_str!(concat!("i18n/", $area, "/ja.toml"))),+]),
            (Language::JaEasy, &[$(include_str!(concat!("i18n/", $area, "/ja-easy.toml"))),+]),
            (Language::En, &[$(include_str!(concat!("i18n/", $area, "/en.toml"))),+]),
            (Language::Vi, &[$(include_str!(concat!("i18n/", $area, "/vi.toml"))),+]),
            (Language::ZhHans, &[$(include_str!(concat!("i18n/", $area, "/zh-Hans.toml"))),+]),
            (Language::Ko, &[$(include_str!(concat!("i18n/", $area, "/ko.toml"))),+]),
        ]
    };
}

pub const FILES: &[(Language, &[&str])] = translation_files![
    "common",
    "officer",
    "safety",
    "city",
    "inbox",
    "compose",
    "officer_tools",
    "calendar",
    "channels",
    "post_edit",
    "account",
    "event_reminder",
    "city_districts",
    "deliveries",
    "field",
    "line",
    "line_account"
];

type Catalog = HashMap<String, String>;

static CATALOGS: LazyLock<HashMap<Language, Catalog>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(language, texts)| (*language, parse_all(texts).unwrap_or_default()))
        .collect()
});

/// The catalog of one language from its files; a key given twice is an error.
pub fn parse_all(texts: &[&str]) -> Result<Catalog, String> {
    let mut catalog = Catalog::new();
    for text in texts {
        for (key, value) in parse(text)? {
            if catalog.insert(key.clone(), value).is_some() {
                return Err(format!("{key} is given twice"));
            }
        }
    }
    Ok(catalog)
}

/// `[section] key = "text"` becomes `section.key`.
pub fn parse(text: &str) -> Result<Catalog, String> {
    let table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut catalog = Catalog::new();
    for (section, entries) in table {
        let toml::Value::Table(entries) = entries else {
            return Err(format!("{section} is not a [section]"));
        };
        for (key, value) in entries {
            let toml::Value::String(value) = value else {
                return Err(format!("{section}.{key} is not text"));
            };
            catalog.insert(format!("{section}.{key}"), value);
        }
    }
    Ok(catalog)
}

/// The text of `key`: in `language`, else Japanese, else the key itself (so a missing
/// translation shows, and the completeness test names it).
pub fn text(language: Language, key: &str) -> &'static str {
    let catalogs = &*CATALOGS;
    catalogs
        .get(&language)
        .and_then(|c| c.get(key))
        .or_else(|| catalogs.get(&Language::Ja).and_then(|c| c.get(key)))
        .map_or_else(
            || {
                tracing::warn!(key, "no translation");
                "?"
            },
            String::as_str,
        )
}

/// Whether `key` exists (error pages fall back to a general message).
pub fn has(key: &str) -> bool {
    CATALOGS
        .get(&Language::Ja)
        .is_some_and(|c| c.contains_key(key))
}

/// The text of `key` with `{name}` replaced by `value`.
pub fn format(language: Language, key: &str, name: &str, value: &str) -> String {
    text(language, key).replace(&format!("{{{name}}}"), value)
}

/// Each language's name in itself, for the language chooser.
pub fn endonym(language: Language) -> &'static str {
    match language {
        Language::Ja => "日本語",
        Language::JaEasy => "やさしい日本語",
        Language::En => "English",
        Language::Vi => "Tiếng Việt",
        Language::ZhHans => "中文（简体）",
        Language::Ko => "한국어",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_every_key_and_no_other() {
        let reference = parse_all(FILES[0].1).unwrap();
        assert!(reference.len() > 50, "the Japanese files have the keys");
        for (language, texts) in FILES {
            let catalog = parse_all(texts).unwrap_or_else(|e| panic!("{language:?}: {e}"));
            let mut missing: Vec<_> = reference
                .keys()
                .filter(|k| !catalog.contains_key(*k))
                .collect();
            let mut extra: Vec<_> = catalog
                .keys()
                .filter(|k| !reference.contains_key(*k))
                .collect();
            missing.sort();
            extra.sort();
            assert!(missing.is_empty(), "{language:?} lacks {missing:?}");
            assert!(extra.is_empty(), "{language:?} has unknown keys {extra:?}");
            for (key, value) in &catalog {
                assert!(!value.trim().is_empty(), "{language:?} {key} is empty");
                assert_eq!(
                    placeholders(&reference[key]),
                    placeholders(value),
                    "{language:?} {key}: the same {{placeholders}} as Japanese"
                );
            }
        }
        assert_eq!(Language::ALL.len(), FILES.len());
    }

    /// The `{name}`s a text has, which the server fills in.
    fn placeholders(text: &str) -> std::collections::BTreeSet<&str> {
        text.split('{')
            .skip(1)
            .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
            .collect()
    }

    /// Every `t("…")` and `tf("…"` key written in the templates and the page code.
    fn keys_used(dir: &std::path::Path, found: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                keys_used(&path, found);
                continue;
            }
            if !matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("rs" | "html")
            ) {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for opening in [".t(\"", ".tf(\""] {
                for (at, _) in text.match_indices(opening) {
                    let rest = &text[at + opening.len()..];
                    let key = &rest[..rest.find('"').unwrap_or(0)];
                    let is_key = key.contains('.')
                        && key.chars().all(|c| {
                            c.is_ascii_lowercase() || c.is_ascii_digit() || "._".contains(c)
                        });
                    if is_key {
                        found.push((path.display().to_string(), key.to_string()));
                    }
                }
            }
        }
    }

    #[test]
    fn every_key_the_pages_use_is_translated() {
        let reference = parse_all(FILES[0].1).unwrap();
        let mut used = Vec::new();
        keys_used(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut used,
        );
        assert!(
            used.len() > 100,
            "the pages' keys are found: {}",
            used.len()
        );
        let missing: Vec<_> = used
            .iter()
            .filter(|(_, key)| !reference.contains_key(key))
            .collect();
        assert!(
            missing.is_empty(),
            "keys without a translation: {missing:?}"
        );
    }

    #[test]
    fn every_area_folder_is_registered() {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web/i18n");
        let areas = std::fs::read_dir(folder).unwrap().count();
        assert_eq!(
            FILES[0].1.len(),
            areas,
            "an area folder in src/web/i18n is not in translation_files!"
        );
    }

    #[test]
    fn text_falls_back_to_the_key_marker_and_formats() {
        assert_eq!(text(Language::En, "no.such_key"), "?");
        assert_eq!(text(Language::Ja, "login.submit"), "ログイン");
        assert!(format(Language::Ja, "join.heading", "association", "本町").contains("本町"));
    }
}
