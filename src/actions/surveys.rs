//! Surveys and attendance (アンケート, 出欠) on circulars: each household of the audience
//! answers once and may change its answer until the deadline; those who follow the post see
//! live tallies and export the answers as CSV (audited).

use std::collections::HashSet;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::actions::Services;
use crate::actions::receipts::{Followed, followed_post, sent};
use crate::authz::Principal;
use crate::db::models::{Post, SurveyQuestion, SurveyResponse};
use crate::db::queries::posts::{find_post, post_hans_of};
use crate::db::queries::receipts::household_in_audience;
use crate::db::queries::{audit, surveys as queries};
use crate::db::{AnyConnection, Json, now, write_transaction};
use crate::domain::{
    Answer, Answers, AuditAction, Csv, HouseholdId, MemberId, OneLine, PostId, PostStatus,
    QuestionId, QuestionKind,
};
use crate::error::{ApiError, ErrorCode, FieldError, Problem};

/// The largest number a number question takes (a head count).
const MAX_NUMBER: i64 = 10_000;
const MAX_TEXT_CHARS: usize = 200;

/// The answer to one question: set only the field that matches its kind.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerItem {
    pub question_id: QuestionId,
    /// single_choice: the index of the chosen option, from 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choice: Option<i64>,
    /// multiple_choice: the indexes of the chosen options, each once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<i64>>,
    /// number: 0 to 10000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<i64>,
    /// short_text: at most 200 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AnswersResponse {
    pub household_id: HouseholdId,
    /// The member who answered last for the household.
    pub answered_by: MemberId,
    pub answered_at: DateTime<Utc>,
    /// In the order of the questions; unanswered optional questions are left out.
    pub answers: Vec<AnswerItem>,
}

/// The field a question's answer is named by in a refusal: `answers.<question id>`, so a
/// page can show the message beside that question.
pub fn answer_field(question: &QuestionId) -> String {
    format!("answers.{question}")
}

/// A refused answer to question `id`.
fn refused(code: ErrorCode, id: &QuestionId, problem: Problem, message: String) -> ApiError {
    let error = FieldError::new(answer_field(id), problem, message);
    ApiError::Field(code, Box::new(error))
}

fn invalid(id: &QuestionId, message: String) -> ApiError {
    refused(ErrorCode::InvalidAnswer, id, Problem::Invalid, message)
}

impl AnswerItem {
    /// The answer, when exactly one of its fields is set.
    fn into_answer(self) -> Option<Answer> {
        match (self.choice, self.choices, self.number, self.text) {
            (Some(c), None, None, None) => Some(Answer::Choice(c)),
            (None, Some(c), None, None) => Some(Answer::Choices(c)),
            (None, None, Some(n), None) => Some(Answer::Number(n)),
            (None, None, None, Some(t)) => Some(Answer::Text(t)),
            _ => None,
        }
    }

    fn from_answer(question_id: QuestionId, answer: Answer) -> Self {
        let mut item = Self {
            question_id,
            choice: None,
            choices: None,
            number: None,
            text: None,
        };
        match answer {
            Answer::Choice(c) => item.choice = Some(c),
            Answer::Choices(c) => item.choices = Some(c),
            Answer::Number(n) => item.number = Some(n),
            Answer::Text(t) => item.text = Some(t),
        }
        item
    }
}

/// Checks one answer against its question. None: left empty, as if not answered.
fn check_answer(q: &SurveyQuestion, item: AnswerItem) -> Result<Option<Answer>, ApiError> {
    let options = q.options.0.len();
    let in_options = |i: i64| usize::try_from(i).is_ok_and(|i| i < options);
    let id = &q.id;
    match (q.kind, item.into_answer()) {
        (QuestionKind::SingleChoice, Some(Answer::Choice(choice))) => {
            if !in_options(choice) {
                return Err(invalid(id, format!("question {id}: no option {choice}")));
            }
            Ok(Some(Answer::Choice(choice)))
        }
        (QuestionKind::MultipleChoice, Some(Answer::Choices(mut choices))) => {
            if let Some(bad) = choices.iter().find(|&&c| !in_options(c)) {
                return Err(invalid(id, format!("question {id}: no option {bad}")));
            }
            choices.sort_unstable();
            if choices.windows(2).any(|w| w[0] == w[1]) {
                return Err(invalid(
                    id,
                    format!("question {id}: an option is chosen twice"),
                ));
            }
            Ok((!choices.is_empty()).then_some(Answer::Choices(choices)))
        }
        (QuestionKind::Number, Some(Answer::Number(number))) => {
            if !(0..=MAX_NUMBER).contains(&number) {
                let range = Problem::Range {
                    min: 0,
                    max: MAX_NUMBER,
                };
                let message = format!("question {id}: the number must be from 0 to {MAX_NUMBER}");
                return Err(refused(ErrorCode::InvalidAnswer, id, range, message));
            }
            Ok(Some(Answer::Number(number)))
        }
        (QuestionKind::ShortText, Some(Answer::Text(text))) => {
            let field = format!("question {id}: the text");
            let text = OneLine::<MAX_TEXT_CHARS>::optional(&field, &text)
                .map_err(|e| refused(ErrorCode::InvalidAnswer, id, e.problem, e.message))?;
            Ok(text.map(|t| Answer::Text(t.into_inner())))
        }
        (kind, _) => {
            let field = match kind {
                QuestionKind::SingleChoice => "choice",
                QuestionKind::MultipleChoice => "choices",
                QuestionKind::Number => "number",
                QuestionKind::ShortText => "text",
            };
            Err(invalid(
                id,
                format!(
                    "question {id} is {}: answer it with `{field}` only",
                    kind.as_str()
                ),
            ))
        }
    }
}

/// Validates a household's whole response against the post's questions.
fn check_answers(
    questions: &[SurveyQuestion],
    items: Vec<AnswerItem>,
) -> Result<Answers, ApiError> {
    let mut seen = HashSet::new();
    let mut answers = Answers::new();
    for item in items {
        let q = questions
            .iter()
            .find(|q| q.id == item.question_id)
            .ok_or_else(|| {
                ApiError::Validation(
                    ErrorCode::UnknownQuestion,
                    format!("question {} is not part of this post", item.question_id),
                )
            })?;
        if !seen.insert(q.id.clone()) {
            return Err(invalid(
                &q.id,
                format!("question {} is answered twice", q.id),
            ));
        }
        if let Some(answer) = check_answer(q, item)? {
            answers.insert(q.id.clone(), answer);
        }
    }
    if let Some(q) = questions
        .iter()
        .find(|q| q.required && !answers.contains_key(&q.id))
    {
        let message = format!("question {} needs an answer", q.id);
        return Err(refused(
            ErrorCode::AnswerRequired,
            &q.id,
            Problem::Unanswered,
            message,
        ));
    }
    if answers.is_empty() {
        // Named at the first question, where the form begins.
        let message = "answer at least one question".to_string();
        return Err(match questions.first() {
            Some(q) => refused(
                ErrorCode::AnswerRequired,
                &q.id,
                Problem::Unanswered,
                message,
            ),
            None => ApiError::Validation(ErrorCode::AnswerRequired, message),
        });
    }
    Ok(answers)
}

fn answers_response(
    questions: &[SurveyQuestion],
    response: SurveyResponse,
) -> Result<AnswersResponse, ApiError> {
    let mut stored = response.answers.0;
    let answers = questions
        .iter()
        .filter_map(|q| {
            let answer = stored.remove(&q.id)?;
            Some(AnswerItem::from_answer(q.id.clone(), answer))
        })
        .collect();
    Ok(AnswersResponse {
        household_id: response.household_id,
        answered_by: response.member_id,
        answered_at: response.answered_at.and_utc(),
        answers,
    })
}

/// A survey seen by a household of its audience.
struct HouseholdSurvey {
    member: MemberId,
    household: HouseholdId,
    post: Post,
    questions: Vec<SurveyQuestion>,
}

/// Loads a published (or since withdrawn) post's survey for the caller's household. The
/// audience is the post's scope rather than its inbox entry, so a household whose answers
/// have closed (expired or withdrawn post) hears why; anyone else gets 404.
fn household_survey(
    conn: &mut AnyConnection,
    caller: &MemberId,
    id: &PostId,
) -> Result<HouseholdSurvey, ApiError> {
    let p = Principal::load(conn, caller)?;
    let not_found = || ApiError::NotFound("post");
    let household = p.place.household_id.ok_or_else(not_found)?;
    let at = now();
    let post = find_post(conn, id)?
        .filter(|post| matches!(post.status, PostStatus::Published | PostStatus::Withdrawn))
        // Withdrawn before it was ever published: nobody has seen it.
        .filter(|post| post.published_at.is_some_and(|t| t <= at))
        .ok_or_else(not_found)?;
    let hans = post_hans_of(conn, id)?;
    match household_in_audience(conn, &post, &hans, &household) {
        Ok(_) => {}
        Err(ApiError::Validation(..)) => return Err(not_found()),
        Err(e) => return Err(e),
    }
    let questions = queries::questions_of(conn, id)?;
    if questions.is_empty() {
        return Err(ApiError::NotFound("survey"));
    }
    Ok(HouseholdSurvey {
        member: p.place.member_id,
        household,
        post,
        questions,
    })
}

/// Whether a post's survey still takes answers: not withdrawn and before its deadline
/// (answers_until, else the expiry).
pub fn answers_open(post: &Post, at: NaiveDateTime) -> bool {
    let deadline = post.answers_until.or(post.expires_at);
    post.status != PostStatus::Withdrawn && deadline.is_none_or(|d| d > at)
}

/// Answers a circular's questions for the caller's household. A later answer, by them or
/// another member of the household, replaces it until the deadline (answers_until, else the
/// expiry).
pub async fn submit(
    services: &Services,
    caller: &MemberId,
    id: PostId,
    items: Vec<AnswerItem>,
) -> Result<AnswersResponse, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            let survey = household_survey(conn, &caller, &id)?;
            let at = now();
            if !answers_open(&survey.post, at) {
                return Err(ApiError::Conflict(
                    ErrorCode::AnswersClosed,
                    "this survey no longer takes answers".into(),
                ));
            }
            let answers = check_answers(&survey.questions, items)?;
            let response = SurveyResponse {
                post_id: id,
                household_id: survey.household,
                member_id: survey.member,
                answers: Json(answers),
                answered_at: at,
            };
            queries::save_response(conn, &response)?;
            answers_response(&survey.questions, response)
        })
        .await
}

/// The caller's household's answer to a circular's questions.
pub async fn mine(
    services: &Services,
    caller: &MemberId,
    id: PostId,
) -> Result<AnswersResponse, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            let survey = household_survey(conn, &caller, &id)?;
            let response = queries::find_response(conn, &id, &survey.household)?
                .ok_or(ApiError::NotFound("answer"))?;
            answers_response(&survey.questions, response)
        })
        .await
}

/// A survey seen by someone who follows its answers: the receipts' rule.
fn followed_survey(
    conn: &mut AnyConnection,
    caller: &MemberId,
    id: &PostId,
) -> Result<(Followed, Vec<SurveyQuestion>), ApiError> {
    let followed = followed_post(conn, caller, id, sent)?;
    let questions = queries::questions_of(conn, id)?;
    if questions.is_empty() {
        return Err(ApiError::NotFound("survey"));
    }
    Ok((followed, questions))
}

#[derive(Serialize, ToSchema)]
pub struct QuestionTally {
    pub id: QuestionId,
    pub kind: QuestionKind,
    pub prompt: String,
    pub options: Vec<String>,
    pub required: bool,
    /// Households that answered this question.
    pub count: i64,
    /// Choice questions: households per option, in the order of `options`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<Vec<i64>>,
    /// Number questions: the total (a head count).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sum: Option<i64>,
    /// Short-text questions, for officers and 班長; left out for counts-only viewers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub texts: Option<Vec<String>>,
}

#[derive(Serialize, ToSchema)]
pub struct TallyResponse {
    /// Households that answered (within what you may see).
    pub responses: i64,
    /// Households the post reaches (within what you may see).
    pub households: i64,
    pub questions: Vec<QuestionTally>,
}

/// Live tallies of a circular's answers: its officers and 班長 over their own households,
/// with the short texts; city staff and district officers who manage it, counts only.
pub async fn tally(
    services: &Services,
    caller: &MemberId,
    id: PostId,
) -> Result<TallyResponse, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            let (f, questions) = followed_survey(conn, &caller, &id)?;
            let households = queries::audience_size(conn, &f.post, &f.hans, &f.scope)?;
            let rows = queries::responses(conn, &f.post, &f.hans, &f.scope)?;
            let responses = i64::try_from(rows.len()).unwrap_or(i64::MAX);
            let questions = tally_questions(questions, rows, f.personal);
            let texts: usize = questions
                .iter()
                .filter_map(|q| q.texts.as_ref())
                .map(Vec::len)
                .sum();
            if texts > 0 {
                // Residents' own words were shown: a read of personal data.
                let detail = serde_json::json!({"post_id": id.as_str(), "texts": texts});
                write_transaction(conn, |conn| {
                    audit::record(
                        conn,
                        &f.principal,
                        AuditAction::SurveyTallyRead,
                        "post",
                        Some(id.as_str()),
                        f.principal.association_id.as_ref(),
                        detail,
                    )
                })?;
            }
            Ok(TallyResponse {
                responses,
                households,
                questions,
            })
        })
        .await
}

/// Counts per option, sums and (for those who may see them) texts over the responses.
fn tally_questions(
    questions: Vec<SurveyQuestion>,
    rows: Vec<queries::ResponseRow>,
    personal: bool,
) -> Vec<QuestionTally> {
    let mut questions = questions
        .into_iter()
        .map(|q| {
            let options = q.options.0;
            let choices = matches!(
                q.kind,
                QuestionKind::SingleChoice | QuestionKind::MultipleChoice
            );
            QuestionTally {
                counts: choices.then(|| vec![0; options.len()]),
                sum: (q.kind == QuestionKind::Number).then_some(0),
                texts: (q.kind == QuestionKind::ShortText && personal).then(Vec::new),
                id: q.id,
                kind: q.kind,
                prompt: q.prompt,
                options,
                required: q.required,
                count: 0,
            }
        })
        .collect::<Vec<_>>();
    for row in rows {
        let mut answers = row.answers.0;
        for q in &mut questions {
            let Some(answer) = answers.remove(&q.id) else {
                continue;
            };
            q.count += 1;
            let mut add = |i: i64| {
                let slot = usize::try_from(i)
                    .ok()
                    .and_then(|i| q.counts.as_mut()?.get_mut(i));
                if let Some(slot) = slot {
                    *slot += 1;
                }
            };
            match answer {
                Answer::Choice(c) => add(c),
                Answer::Choices(cs) => cs.into_iter().for_each(add),
                Answer::Number(n) => q.sum = q.sum.map(|sum| sum + n),
                Answer::Text(t) => {
                    if let Some(texts) = q.texts.as_mut() {
                        texts.push(t);
                    }
                }
            }
        }
    }
    questions
}

/// The answers as a table, one line per household that answered: household, han, label,
/// then one column per question (officers and 班長, over their own households). Audited.
pub async fn export(services: &Services, caller: &MemberId, id: PostId) -> Result<Csv, ApiError> {
    let caller = caller.clone();
    services
        .db
        .write(move |conn| {
            let (f, questions) = followed_survey(conn, &caller, &id)?;
            if !f.personal {
                return Err(ApiError::NotFound("post"));
            }
            let rows = queries::responses(conn, &f.post, &f.hans, &f.scope)?;
            let detail = serde_json::json!({"post_id": id.as_str(), "rows": rows.len()});
            audit::record(
                conn,
                &f.principal,
                AuditAction::SurveyAnswersExported,
                "post",
                Some(id.as_str()),
                f.principal.association_id.as_ref(),
                detail,
            )?;
            let lines = csv_lines(&questions, rows);
            let mut header = vec!["household_id".to_string(), "han".into(), "label".into()];
            header.extend(questions.into_iter().map(|q| q.prompt));
            Ok(Csv::new("answers.csv", header, lines))
        })
        .await
}

/// One line per response: household, han, label, then the answers, choices as option text.
fn csv_lines(questions: &[SurveyQuestion], rows: Vec<queries::ResponseRow>) -> Vec<Vec<String>> {
    let option_text = |options: &[String], i: i64| {
        usize::try_from(i)
            .ok()
            .and_then(|i| options.get(i))
            .cloned()
            .unwrap_or_default()
    };
    rows.into_iter()
        .map(|row| {
            let mut answers = row.answers.0;
            let mut line = vec![
                row.household_id.to_string(),
                row.han.unwrap_or_default(),
                row.label,
            ];
            for q in questions {
                let options = &q.options.0;
                line.push(match answers.remove(&q.id) {
                    None => String::new(),
                    Some(Answer::Choice(c)) => option_text(options, c),
                    Some(Answer::Choices(cs)) => cs
                        .into_iter()
                        .map(|c| option_text(options, c))
                        .collect::<Vec<_>>()
                        .join(" / "),
                    Some(Answer::Number(n)) => n.to_string(),
                    Some(Answer::Text(t)) => t,
                });
            }
            line
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question(id: &str, kind: QuestionKind, options: &[&str], required: bool) -> SurveyQuestion {
        SurveyQuestion {
            id: QuestionId(id.into()),
            post_id: PostId("p".into()),
            position: 0,
            kind,
            prompt: id.into(),
            options: Json(options.iter().map(|o| o.to_string()).collect()),
            required,
        }
    }

    fn item(id: &str) -> AnswerItem {
        AnswerItem {
            question_id: QuestionId(id.into()),
            choice: None,
            choices: None,
            number: None,
            text: None,
        }
    }

    fn survey() -> Vec<SurveyQuestion> {
        vec![
            question(
                "attend",
                QuestionKind::SingleChoice,
                &["出席", "欠席"],
                true,
            ),
            question("days", QuestionKind::MultipleChoice, &["土", "日"], false),
            question("people", QuestionKind::Number, &[], false),
            question("note", QuestionKind::ShortText, &[], false),
        ]
    }

    fn code(e: ApiError) -> ErrorCode {
        match e {
            ApiError::Validation(code, _) | ApiError::Field(code, _) => code,
            other => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn a_full_answer_is_kept_with_choices_sorted_and_text_trimmed() {
        let answers = check_answers(
            &survey(),
            vec![
                AnswerItem {
                    choice: Some(1),
                    ..item("attend")
                },
                AnswerItem {
                    choices: Some(vec![1, 0]),
                    ..item("days")
                },
                AnswerItem {
                    number: Some(3),
                    ..item("people")
                },
                AnswerItem {
                    text: Some("  よろしく ".into()),
                    ..item("note")
                },
            ],
        )
        .unwrap();
        let stored = serde_json::to_string(&answers).unwrap();
        assert_eq!(
            stored,
            r#"{"attend":{"choice":1},"days":{"choices":[0,1]},"note":{"text":"よろしく"},"people":{"number":3}}"#
        );
    }

    #[test]
    fn a_required_question_left_out_or_an_unknown_one_is_refused() {
        let missing = check_answers(
            &survey(),
            vec![AnswerItem {
                number: Some(2),
                ..item("people")
            }],
        );
        assert!(matches!(
            code(missing.unwrap_err()),
            ErrorCode::AnswerRequired
        ));
        let unknown = check_answers(
            &survey(),
            vec![AnswerItem {
                choice: Some(0),
                ..item("nope")
            }],
        );
        assert!(matches!(
            code(unknown.unwrap_err()),
            ErrorCode::UnknownQuestion
        ));
    }

    #[test]
    fn answers_outside_their_question_are_invalid() {
        let cases = [
            AnswerItem {
                choice: Some(2),
                ..item("attend")
            },
            AnswerItem {
                number: Some(1),
                ..item("attend")
            },
            AnswerItem {
                choices: Some(vec![0, 0]),
                ..item("days")
            },
            AnswerItem {
                number: Some(10_001),
                ..item("people")
            },
            AnswerItem {
                text: Some("一行目\n二行目".into()),
                ..item("note")
            },
        ];
        for case in cases {
            let attend = AnswerItem {
                choice: Some(0),
                ..item("attend")
            };
            let items = if case.question_id.as_str() == "attend" {
                vec![case]
            } else {
                vec![attend, case]
            };
            let refused = check_answers(&survey(), items).unwrap_err();
            assert!(matches!(code(refused), ErrorCode::InvalidAnswer));
        }
    }
}
