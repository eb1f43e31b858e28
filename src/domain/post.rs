//! The vocabulary of circulars.

crate::string_enum!(
    /// Who a post is for: the whole city, one district, or one association (or some of its hans).
    Tier { City => "city", District => "district", Association => "association" }
);

crate::string_enum!(
    /// A household's answer to a safety check (安否確認): 無事 or 要支援.
    SafetyStatus { Safe => "safe", NeedsHelp => "needs_help" }
);

crate::string_enum!(
    PostStatus { Draft => "draft", Scheduled => "scheduled", Published => "published", Withdrawn => "withdrawn" }
);

crate::string_enum!(
    /// Urgent posts (disaster, safety) always notify and are shown first by clients.
    Priority { Normal => "normal", Urgent => "urgent" }
);

crate::string_enum!(
    /// お知らせ, 行事, 防災, ごみ, 募集, アンケート, その他.
    Category {
        Notice => "notice",
        Event => "event",
        Disaster => "disaster",
        Garbage => "garbage",
        Recruitment => "recruitment",
        Survey => "survey",
        Other => "other",
    }
);

crate::string_enum!(
    /// Survey and attendance questions (アンケート, 出欠).
    QuestionKind {
        SingleChoice => "single_choice",
        MultipleChoice => "multiple_choice",
        Number => "number",
        ShortText => "short_text",
    }
);

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::PartialSchema;

    /// The OpenAPI document must name the values exactly as they are sent.
    fn schema_values<T: PartialSchema>() -> Vec<String> {
        let schema = serde_json::to_value(T::schema()).unwrap();
        serde_json::from_value(schema["enum"].clone()).unwrap()
    }

    fn sent_values<T: serde::Serialize>(all: &[T]) -> Vec<String> {
        all.iter()
            .map(|v| {
                serde_json::to_value(v)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn documented_enum_values_are_the_ones_sent() {
        assert_eq!(schema_values::<Tier>(), sent_values(Tier::ALL));
        assert_eq!(schema_values::<PostStatus>(), sent_values(PostStatus::ALL));
        assert_eq!(schema_values::<Priority>(), sent_values(Priority::ALL));
        assert_eq!(schema_values::<Category>(), sent_values(Category::ALL));
        assert_eq!(
            schema_values::<QuestionKind>(),
            sent_values(QuestionKind::ALL)
        );
        assert_eq!(sent_values(Category::ALL)[0], Category::Notice.as_str());
    }
}
