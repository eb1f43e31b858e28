//! What a household answered to a circular's questions, as stored (keyed by question id).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::QuestionId;

/// One stored answer; which variant depends on the question's kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Choice(i64),
    Choices(Vec<i64>),
    Number(i64),
    Text(String),
}

pub type Answers = BTreeMap<QuestionId, Answer>;

/// Words that say "I will not come" in an 出欠 option, in the six languages: an option
/// containing one declines (欠席, 不参加, 参加しない, …).
const DECLINING_WORDS: &[&str] = &[
    "欠席",
    "不参加",
    "参加しない",
    "参加しません",
    "参加できない",
    "参加できません",
    "出席しない",
    "出席しません",
    "出席できない",
    "出席できません",
    "いけない",
    "行けない",
    "いかない",
    "行かない",
    "缺席",
    "不出席",
    "불참",
    "참석하지",
    "참석 안",
    "참석 못",
    "không tham gia",
    "vắng",
    "not attend",
    "not come",
    "not coming",
    "can't attend",
    "cannot attend",
    "can't come",
    "cannot come",
    "won't attend",
    "won't come",
    "decline",
    "absent",
];

/// Options that decline when they are the whole answer: a bare "no".
const DECLINING_OPTIONS: &[&str] = &["no", "いいえ", "不", "否", "아니요", "아니오", "không"];

/// Whether an option of an 出欠 question says its household will not come.
pub fn option_declines(option: &str) -> bool {
    let option = option.trim().to_lowercase();
    DECLINING_OPTIONS.contains(&option.as_str())
        || DECLINING_WORDS.iter().any(|word| option.contains(word))
}

/// Whether a household declined: one of its choices, on any choice question, is an option
/// that declines. `options_of` gives a question's options.
pub fn declines<'a>(
    answers: &Answers,
    options_of: impl Fn(&QuestionId) -> Option<&'a [String]>,
) -> bool {
    answers.iter().any(|(question, answer)| {
        let Some(options) = options_of(question) else {
            return false;
        };
        let chosen = |i: &i64| {
            usize::try_from(*i)
                .ok()
                .and_then(|i| options.get(i))
                .is_some_and(|o| option_declines(o))
        };
        match answer {
            Answer::Choice(i) => chosen(i),
            Answer::Choices(list) => list.iter().any(chosen),
            Answer::Number(_) | Answer::Text(_) => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_decline_and_other_options_do_not() {
        for option in [
            "欠席",
            "参加しない",
            "不参加です",
            "No",
            "Not attending",
            "불참",
            "缺席",
        ] {
            assert!(option_declines(option), "{option}");
        }
        for option in [
            "出席",
            "参加する",
            "未定",
            "Yes",
            "Not sure yet",
            "Northern gate",
            "参加",
        ] {
            assert!(!option_declines(option), "{option}");
        }
    }

    #[test]
    fn a_household_declines_by_its_choice_not_by_numbers_or_text() {
        let q = QuestionId("q".into());
        let options = vec!["出席".to_string(), "欠席".to_string()];
        let options_of = |id: &QuestionId| (*id == q).then_some(options.as_slice());
        let answer = |a: Answer| Answers::from([(q.clone(), a)]);
        assert!(declines(&answer(Answer::Choice(1)), options_of));
        assert!(!declines(&answer(Answer::Choice(0)), options_of));
        assert!(declines(&answer(Answer::Choices(vec![0, 1])), options_of));
        assert!(!declines(&answer(Answer::Choice(7)), options_of));
        assert!(!declines(&answer(Answer::Number(0)), options_of));
        assert!(!declines(&answer(Answer::Text("欠席".into())), options_of));
    }
}
