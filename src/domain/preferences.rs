//! How a member's pages look and speak: the language of the system text and the text size.

crate::string_enum!(
    /// The languages of the system text (docs/design.md 7b); circulars stay as written.
    Language {
        Ja => "ja",
        JaEasy => "ja-easy",
        En => "en",
        Vi => "vi",
        ZhHans => "zh-Hans",
        Ko => "ko",
    }
);

crate::string_enum!(
    /// 標準 / 大きい / 特大.
    TextSize {
        Standard => "standard",
        Large => "large",
        ExtraLarge => "x_large",
    }
);

impl Language {
    /// The `lang` attribute: やさしい日本語 is Japanese to a screen reader.
    pub fn html_lang(self) -> &'static str {
        match self {
            Language::JaEasy => "ja",
            other => other.as_str(),
        }
    }

    /// The best match for an `Accept-Language` header, if any is offered.
    pub fn from_accept_language(header: &str) -> Option<Language> {
        header
            .split(',')
            .filter_map(|part| {
                let mut fields = part.split(';');
                let tag = fields.next()?.trim().to_ascii_lowercase();
                let quality = fields
                    .find_map(|f| f.trim().strip_prefix("q=")?.parse::<f32>().ok())
                    .unwrap_or(1.0);
                let language = match tag.as_str() {
                    t if t.starts_with("ja") => Language::Ja,
                    t if t.starts_with("en") => Language::En,
                    t if t.starts_with("vi") => Language::Vi,
                    t if t.starts_with("ko") => Language::Ko,
                    "zh" | "zh-cn" | "zh-sg" | "zh-hans" => Language::ZhHans,
                    t if t.starts_with("zh-hans") => Language::ZhHans,
                    _ => return None,
                };
                (quality > 0.0).then_some((language, quality))
            })
            .fold(
                None,
                |best: Option<(Language, f32)>, (language, quality)| match best {
                    Some((_, q)) if q >= quality => best,
                    _ => Some((language, quality)),
                },
            )
            .map(|(language, _)| language)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_supported_language() {
        assert_eq!(
            Language::from_accept_language("vi-VN,vi;q=0.9,en;q=0.8"),
            Some(Language::Vi)
        );
        assert_eq!(
            Language::from_accept_language("fr;q=1, zh-CN;q=0.7, en;q=0.5"),
            Some(Language::ZhHans)
        );
        assert_eq!(Language::from_accept_language("fr, de"), None);
        assert_eq!(Language::from_accept_language("zh-TW"), None);
        assert_eq!("zh-Hans".parse::<Language>(), Ok(Language::ZhHans));
        assert_eq!(Language::JaEasy.html_lang(), "ja");
    }
}
