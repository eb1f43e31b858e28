//! A circular as its author writes it, checked before anything is stored: text limits, the
//! schedule (publish, expiry, answer deadline), the 班 list and the survey questions.

use chrono::{Duration, NaiveDateTime};

use crate::domain::event::{CheckedEvent, EventDraft};
use crate::domain::{HanId, MultiLine, OneLine, PostStatus, QuestionKind};
use crate::error::{FieldError, Problem};

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_BODY_CHARS: usize = 20_000;
const MAX_SCHEDULE_DAYS: i64 = 400;
const MAX_QUESTIONS: usize = 20;
/// Far more 班 than any association has; bounds the audience query.
const MAX_HAN_IDS: usize = 100;
const MAX_OPTIONS: usize = 20;

/// One survey question as written.
pub struct QuestionDraft {
    pub kind: QuestionKind,
    pub prompt: String,
    pub options: Vec<String>,
    pub required: bool,
}

/// A new circular as written, before checking.
pub struct PostDraft {
    pub han_ids: Vec<String>,
    pub title: String,
    pub body: String,
    pub requires_confirmation: bool,
    pub publish_at: Option<NaiveDateTime>,
    pub expires_at: Option<NaiveDateTime>,
    /// Keep as a draft.
    pub draft: bool,
    pub questions: Vec<QuestionDraft>,
    pub answers_until: Option<NaiveDateTime>,
    /// The event (行事) it announces, if any.
    pub event: Option<EventDraft>,
}

/// A checked circular: clean texts, its status and times, sorted 班 and checked questions.
#[derive(Debug)]
pub struct CheckedDraft {
    pub title: String,
    pub body: String,
    pub requires_confirmation: bool,
    pub status: PostStatus,
    pub published_at: Option<NaiveDateTime>,
    pub expires_at: Option<NaiveDateTime>,
    pub answers_until: Option<NaiveDateTime>,
    pub hans: Vec<HanId>,
    pub questions: Vec<CheckedQuestion>,
    pub event: Option<CheckedEvent>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct CheckedQuestion {
    pub kind: QuestionKind,
    pub prompt: String,
    pub options: Vec<String>,
    pub required: bool,
}

/// A title: one line of 1 to 200 characters.
pub fn title(value: &str) -> Result<String, FieldError> {
    OneLine::<MAX_TITLE_CHARS>::parse("title", value).map(OneLine::into_inner)
}

/// A body: lines of 1 to 20,000 characters.
pub fn body(value: &str) -> Result<String, FieldError> {
    MultiLine::<MAX_BODY_CHARS>::parse("body", value).map(MultiLine::into_inner)
}

/// A mistake about a post as a whole, named by the request field it concerns.
fn invalid(field: &str, message: impl Into<String>) -> FieldError {
    FieldError::new(field, Problem::Invalid, message)
}

fn question(q: QuestionDraft) -> Result<CheckedQuestion, FieldError> {
    let prompt = OneLine::<200>::parse("question prompt", &q.prompt)
        .map_err(|e| e.at("questions.prompt"))?
        .into_inner();
    let options = q
        .options
        .iter()
        .map(|o| OneLine::<100>::parse("option", o).map(OneLine::into_inner))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.at("questions.options"))?;
    let choices = matches!(
        q.kind,
        QuestionKind::SingleChoice | QuestionKind::MultipleChoice
    );
    if choices && !(2..=MAX_OPTIONS).contains(&options.len()) {
        let problem = Problem::OptionCount {
            min: 2,
            max: MAX_OPTIONS,
        };
        let message = format!("a choice question needs 2 to {MAX_OPTIONS} options");
        return Err(FieldError::new("questions.options", problem, message));
    }
    if !choices && !options.is_empty() {
        return Err(invalid(
            "questions.options",
            "only choice questions have options",
        ));
    }
    Ok(CheckedQuestion {
        kind: q.kind,
        prompt,
        options,
        required: q.required,
    })
}

impl PostDraft {
    /// Checks the draft as of `at`; the first problem found is the message.
    pub fn check(self, at: NaiveDateTime) -> Result<CheckedDraft, FieldError> {
        let title = title(&self.title)?;
        let body = body(&self.body)?;
        let publish_at = self.publish_at;
        if publish_at.is_some_and(|t| t < at - Duration::minutes(1)) {
            return Err(invalid("publish_at", "publish_at is in the past"));
        }
        // A circular is scheduled for this fiscal year or the next, not for a typo's year 9999.
        if publish_at.is_some_and(|t| t > at + Duration::days(MAX_SCHEDULE_DAYS)) {
            return Err(invalid(
                "publish_at",
                format!("publish_at must be within {MAX_SCHEDULE_DAYS} days"),
            ));
        }
        let (status, published_at) = match (self.draft, publish_at) {
            (true, publish_at) => (PostStatus::Draft, publish_at),
            (false, Some(t)) if t > at => (PostStatus::Scheduled, Some(t)),
            (false, _) => (PostStatus::Published, Some(at)),
        };
        let starts = published_at.unwrap_or(at);
        if self.expires_at.is_some_and(|e| e <= starts) {
            return Err(invalid(
                "expires_at",
                "expires_at must be after the post is published",
            ));
        }
        if self.answers_until.is_some() && self.questions.is_empty() {
            return Err(invalid("answers_until", "answers_until needs questions"));
        }
        if self.answers_until.is_some_and(|t| t <= starts) {
            return Err(invalid(
                "answers_until",
                "answers_until must be after the post is published",
            ));
        }
        let event = self
            .event
            .map(EventDraft::check)
            .transpose()
            .map_err(|p| invalid("event", p))?;
        Ok(CheckedDraft {
            event,
            title,
            body,
            requires_confirmation: self.requires_confirmation,
            status,
            published_at,
            expires_at: self.expires_at,
            answers_until: self.answers_until,
            hans: hans(self.han_ids)?,
            questions: questions(self.questions)?,
        })
    }
}

/// The 班 a post is for: at most 100, sorted, each once.
pub fn hans(han_ids: Vec<String>) -> Result<Vec<HanId>, FieldError> {
    if han_ids.len() > MAX_HAN_IDS {
        let message = format!("han_ids may name at most {MAX_HAN_IDS} hans");
        return Err(invalid("han_ids", message));
    }
    let mut hans: Vec<HanId> = han_ids.into_iter().map(HanId).collect();
    hans.sort();
    hans.dedup();
    Ok(hans)
}

/// A survey's questions: at most `MAX_QUESTIONS`, each by its own rule.
pub fn questions(drafts: Vec<QuestionDraft>) -> Result<Vec<CheckedQuestion>, FieldError> {
    if drafts.len() > MAX_QUESTIONS {
        let message = format!("a post may have at most {MAX_QUESTIONS} questions");
        return Err(invalid("questions", message));
    }
    drafts.into_iter().map(question).collect()
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::*;

    fn at() -> NaiveDateTime {
        DateTime::from_timestamp(1_780_000_000, 0)
            .map(|t| t.naive_utc())
            .unwrap_or_default()
    }

    fn draft() -> PostDraft {
        PostDraft {
            han_ids: Vec::new(),
            title: " 清掃のお知らせ ".into(),
            body: "日曜 8時\r\n公園に集合".into(),
            requires_confirmation: false,
            publish_at: None,
            expires_at: None,
            draft: false,
            questions: Vec::new(),
            answers_until: None,
            event: None,
        }
    }

    fn choice(options: &[&str]) -> QuestionDraft {
        QuestionDraft {
            kind: QuestionKind::SingleChoice,
            prompt: "出欠".into(),
            options: options.iter().map(|o| o.to_string()).collect(),
            required: true,
        }
    }

    #[test]
    fn a_plain_draft_is_published_now_with_clean_text() {
        let checked = draft().check(at()).unwrap();
        assert_eq!(checked.title, "清掃のお知らせ");
        assert_eq!(checked.body, "日曜 8時\n公園に集合");
        assert_eq!(checked.status, PostStatus::Published);
        assert_eq!(checked.published_at, Some(at()));
    }

    #[test]
    fn a_future_publish_time_schedules_and_a_draft_flag_keeps_it_a_draft() {
        let later = at() + Duration::hours(2);
        let scheduled = PostDraft {
            publish_at: Some(later),
            ..draft()
        };
        let checked = scheduled.check(at()).unwrap();
        assert_eq!(checked.status, PostStatus::Scheduled);
        assert_eq!(checked.published_at, Some(later));
        let kept = PostDraft {
            draft: true,
            ..draft()
        };
        let checked = kept.check(at()).unwrap();
        assert_eq!(checked.status, PostStatus::Draft);
        assert_eq!(checked.published_at, None);
    }

    #[test]
    fn schedules_in_the_past_or_too_far_ahead_are_refused() {
        let past = PostDraft {
            publish_at: Some(at() - Duration::minutes(2)),
            ..draft()
        };
        assert_eq!(past.check(at()).unwrap_err(), "publish_at is in the past");
        let far = PostDraft {
            publish_at: Some(at() + Duration::days(401)),
            ..draft()
        };
        assert!(
            far.check(at())
                .unwrap_err()
                .message
                .contains("within 400 days")
        );
        let expired = PostDraft {
            expires_at: Some(at()),
            ..draft()
        };
        assert!(
            expired
                .check(at())
                .unwrap_err()
                .message
                .starts_with("expires_at")
        );
    }

    #[test]
    fn an_answer_deadline_needs_questions_and_must_follow_publication() {
        let no_questions = PostDraft {
            answers_until: Some(at() + Duration::days(1)),
            ..draft()
        };
        assert_eq!(
            no_questions.check(at()).unwrap_err(),
            "answers_until needs questions"
        );
        let early = PostDraft {
            answers_until: Some(at()),
            questions: vec![choice(&["出席", "欠席"])],
            ..draft()
        };
        assert!(
            early
                .check(at())
                .unwrap_err()
                .message
                .starts_with("answers_until")
        );
    }

    #[test]
    fn questions_need_fitting_options_and_hans_are_sorted_once() {
        let one_option = PostDraft {
            questions: vec![choice(&["出席"])],
            ..draft()
        };
        assert!(
            one_option
                .check(at())
                .unwrap_err()
                .message
                .contains("2 to 20")
        );
        let text_with_options = PostDraft {
            questions: vec![QuestionDraft {
                kind: QuestionKind::ShortText,
                ..choice(&["a", "b"])
            }],
            ..draft()
        };
        assert_eq!(
            text_with_options.check(at()).unwrap_err(),
            "only choice questions have options"
        );
        let hans = PostDraft {
            han_ids: vec!["b".into(), "a".into(), "b".into()],
            ..draft()
        };
        let checked = hans.check(at()).unwrap();
        assert_eq!(checked.hans, vec![HanId("a".into()), HanId("b".into())]);
    }

    #[test]
    fn control_and_direction_characters_are_refused_in_every_text() {
        let bell = PostDraft {
            body: "集合\u{7}".into(),
            ..draft()
        };
        assert!(
            bell.check(at())
                .unwrap_err()
                .message
                .contains("control characters")
        );
        let escape = PostDraft {
            title: "\u{1b}[2J清掃".into(),
            ..draft()
        };
        assert!(
            escape
                .check(at())
                .unwrap_err()
                .message
                .contains("control characters")
        );
        let reversed = PostDraft {
            questions: vec![choice(&["出席", "\u{202E}席欠"])],
            ..draft()
        };
        assert!(
            reversed
                .check(at())
                .unwrap_err()
                .message
                .starts_with("option")
        );
    }

    #[test]
    fn empty_and_overlong_titles_are_refused() {
        assert_eq!(title("  ").unwrap_err(), "title must not be empty");
        assert!(title(&"あ".repeat(201)).is_err());
        assert!(title(&"あ".repeat(200)).is_ok());
    }
}
