//! The system text of the pages in six languages, from `src/web/i18n/<language>.toml`
//! (files a translator edits; compiled in). Circulars are never translated.

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::domain::Language;

/// The translation files, by language. A test checks each has every key of `ja.toml`.
pub const FILES: &[(Language, &str)] = &[
    (Language::Ja, include_str!("i18n/ja.toml")),
    (Language::JaEasy, include_str!("i18n/ja-easy.toml")),
    (Language::En, include_str!("i18n/en.toml")),
    (Language::Vi, include_str!("i18n/vi.toml")),
    (Language::ZhHans, include_str!("i18n/zh-Hans.toml")),
    (Language::Ko, include_str!("i18n/ko.toml")),
];

type Catalog = HashMap<String, String>;

static CATALOGS: LazyLock<HashMap<Language, Catalog>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(language, text)| (*language, parse(text).unwrap_or_default()))
        .collect()
});

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
        let reference = parse(FILES[0].1).unwrap();
        assert!(reference.len() > 50, "ja.toml has the keys");
        for (language, text) in FILES {
            let catalog = parse(text).unwrap_or_else(|e| panic!("{language:?}: {e}"));
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
                for placeholder in ["{name}", "{association}"] {
                    assert_eq!(
                        reference[key].contains(placeholder),
                        value.contains(placeholder),
                        "{language:?} {key}: {placeholder}"
                    );
                }
            }
        }
        assert_eq!(Language::ALL.len(), FILES.len());
    }

    #[test]
    fn text_falls_back_to_the_key_marker_and_formats() {
        assert_eq!(text(Language::En, "no.such_key"), "?");
        assert_eq!(text(Language::Ja, "login.submit"), "ログイン");
        assert!(format(Language::Ja, "join.heading", "association", "本町").contains("本町"));
    }
}
