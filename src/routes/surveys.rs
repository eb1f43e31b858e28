//! Surveys and attendance (アンケート, 出欠) on circulars: each household of the audience
//! answers once and may change its answer until the deadline; those who follow the post see
//! live tallies and export the answers as CSV.

use crate::domain::AuditAction;
use std::collections::{BTreeMap, HashSet};

use actix_web::{HttpResponse, get, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::AuthMember;
use crate::authz::{self, Principal};
use crate::db::models::{Post, SurveyQuestion, SurveyResponse};
use crate::db::queries::posts;
use crate::db::queries::surveys as queries;
use crate::db::{AnyConnection, Db, now};
use crate::domain::ReceiptScope;
use crate::domain::{
    HanId, HouseholdId, MemberId, PostId, PostStatus, QuestionId, QuestionKind, normalize,
};
use crate::error::{ApiError, ErrorCode};

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(submit_answers)
        .service(get_my_answers)
        .service(get_tally)
        .service(export_answers);
}

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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitAnswersRequest {
    pub answers: Vec<AnswerItem>,
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

/// One stored answer, as kept in `survey_responses.answers` (keyed by question id).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Answer {
    Choice(i64),
    Choices(Vec<i64>),
    Number(i64),
    Text(String),
}

type Answers = BTreeMap<QuestionId, Answer>;

fn options_of(q: &SurveyQuestion) -> Result<Vec<String>, ApiError> {
    serde_json::from_str(&q.options).map_err(|e| ApiError::Unexpected(e.into()))
}

fn parse_answers(raw: &str) -> Result<Answers, ApiError> {
    serde_json::from_str(raw).map_err(|e| ApiError::Unexpected(e.into()))
}

fn invalid(message: String) -> ApiError {
    ApiError::Validation(ErrorCode::InvalidAnswer, message)
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
    let options = options_of(q)?.len();
    let in_options = |i: i64| usize::try_from(i).is_ok_and(|i| i < options);
    let id = &q.id;
    match (q.kind, item.into_answer()) {
        (QuestionKind::SingleChoice, Some(Answer::Choice(choice))) => {
            if !in_options(choice) {
                return Err(invalid(format!("question {id}: no option {choice}")));
            }
            Ok(Some(Answer::Choice(choice)))
        }
        (QuestionKind::MultipleChoice, Some(Answer::Choices(mut choices))) => {
            if let Some(bad) = choices.iter().find(|&&c| !in_options(c)) {
                return Err(invalid(format!("question {id}: no option {bad}")));
            }
            choices.sort_unstable();
            if choices.windows(2).any(|w| w[0] == w[1]) {
                return Err(invalid(format!("question {id}: an option is chosen twice")));
            }
            Ok((!choices.is_empty()).then_some(Answer::Choices(choices)))
        }
        (QuestionKind::Number, Some(Answer::Number(number))) => {
            if !(0..=MAX_NUMBER).contains(&number) {
                return Err(invalid(format!(
                    "question {id}: the number must be from 0 to {MAX_NUMBER}"
                )));
            }
            Ok(Some(Answer::Number(number)))
        }
        (QuestionKind::ShortText, Some(Answer::Text(text))) => {
            let text = normalize(&text);
            if text.chars().count() > MAX_TEXT_CHARS {
                return Err(invalid(format!(
                    "question {id}: the text must be at most {MAX_TEXT_CHARS} characters"
                )));
            }
            // One line: control characters would also break the CSV export in a spreadsheet.
            if text.chars().any(char::is_control) {
                return Err(invalid(format!(
                    "question {id}: the text must not contain control characters"
                )));
            }
            Ok((!text.is_empty()).then_some(Answer::Text(text)))
        }
        (kind, _) => {
            let field = match kind {
                QuestionKind::SingleChoice => "choice",
                QuestionKind::MultipleChoice => "choices",
                QuestionKind::Number => "number",
                QuestionKind::ShortText => "text",
            };
            Err(invalid(format!(
                "question {id} is {}: answer it with `{field}` only",
                kind.as_str()
            )))
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
            return Err(invalid(format!("question {} is answered twice", q.id)));
        }
        if let Some(answer) = check_answer(q, item)? {
            answers.insert(q.id.clone(), answer);
        }
    }
    if let Some(q) = questions
        .iter()
        .find(|q| q.required && !answers.contains_key(&q.id))
    {
        return Err(ApiError::Validation(
            ErrorCode::AnswerRequired,
            format!("question {} needs an answer", q.id),
        ));
    }
    if answers.is_empty() {
        return Err(ApiError::Validation(
            ErrorCode::AnswerRequired,
            "answer at least one question".into(),
        ));
    }
    Ok(answers)
}

fn answers_response(
    questions: &[SurveyQuestion],
    response: SurveyResponse,
) -> Result<AnswersResponse, ApiError> {
    let mut stored = parse_answers(&response.answers)?;
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
    auth: &AuthMember,
    id: &PostId,
) -> Result<HouseholdSurvey, ApiError> {
    let p = Principal::load(conn, &auth.0)?;
    let not_found = || ApiError::NotFound("post");
    let household = p.household_id.ok_or_else(not_found)?;
    let at = now();
    let post = posts::find_post(conn, id)?
        .filter(|post| matches!(post.status, PostStatus::Published | PostStatus::Withdrawn))
        // Withdrawn before it was ever published: nobody has seen it.
        .filter(|post| post.published_at.is_some_and(|t| t <= at))
        .ok_or_else(not_found)?;
    let hans = posts::post_hans_of(conn, id)?;
    match posts::household_in_audience(conn, &post, &hans, &household) {
        Ok(_) => {}
        Err(ApiError::Validation(..)) => return Err(not_found()),
        Err(e) => return Err(e),
    }
    let questions = queries::questions_of(conn, id)?;
    if questions.is_empty() {
        return Err(ApiError::NotFound("survey"));
    }
    Ok(HouseholdSurvey {
        member: p.member_id,
        household,
        post,
        questions,
    })
}

/// Answer a circular's questions for your household. A later answer, by you or another
/// member of your household, replaces it until the deadline (answers_until, else the expiry).
#[utoipa::path(tag = "posts", params(("id" = String, Path)), responses((status = 200, body = AnswersResponse), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[put("/posts/{id}/answers")]
pub async fn submit_answers(
    auth: AuthMember,
    path: web::Path<PostId>,
    body: web::Json<SubmitAnswersRequest>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let items = body.into_inner().answers;
    let answers = db
        .run(move |conn| {
            let survey = household_survey(conn, &auth, &id)?;
            let at = now();
            let deadline = survey.post.answers_until.or(survey.post.expires_at);
            if survey.post.status == PostStatus::Withdrawn || deadline.is_some_and(|d| d <= at) {
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
                answers: serde_json::to_string(&answers)
                    .map_err(|e| ApiError::Unexpected(e.into()))?,
                answered_at: at,
            };
            queries::save_response(conn, &response)?;
            answers_response(&survey.questions, response)
        })
        .await?;
    Ok(HttpResponse::Ok().json(answers))
}

/// Your household's answer to a circular's questions.
#[utoipa::path(tag = "posts", params(("id" = String, Path)), responses((status = 200, body = AnswersResponse), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/posts/{id}/answers/mine")]
pub async fn get_my_answers(
    auth: AuthMember,
    path: web::Path<PostId>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let answers = db
        .run(move |conn| {
            let survey = household_survey(conn, &auth, &id)?;
            let response = queries::find_response(conn, &id, &survey.household)?
                .ok_or(ApiError::NotFound("answer"))?;
            answers_response(&survey.questions, response)
        })
        .await?;
    Ok(HttpResponse::Ok().json(answers))
}

/// A survey seen by someone who follows its answers.
struct FollowedSurvey {
    principal: Principal,
    post: Post,
    hans: Vec<HanId>,
    questions: Vec<SurveyQuestion>,
    scope: ReceiptScope,
    /// May see household-level answers (texts, the CSV): officers and 班長 for their own
    /// households. Managers without that scope (city staff, district officers) see counts.
    personal: bool,
}

/// The receipts' rule: officers and 班長 in the audience for their households, the post's
/// other managers for counts over the audience; anyone else gets 404.
fn followed_survey(
    conn: &mut AnyConnection,
    auth: &AuthMember,
    id: &PostId,
) -> Result<FollowedSurvey, ApiError> {
    let principal = Principal::load(conn, &auth.0)?;
    let post = posts::find_post(conn, id)?
        .filter(|post| post.status != PostStatus::Draft)
        .ok_or(ApiError::NotFound("post"))?;
    let hans = posts::post_hans_of(conn, id)?;
    let (scope, personal) = match authz::receipt_scope(&principal, post.audience(&hans)) {
        Some(scope) => (scope, true),
        None if authz::may_manage_post(&principal, &post.author_id, post.audience(&[])) => {
            (ReceiptScope::Audience, false)
        }
        None => return Err(ApiError::NotFound("post")),
    };
    let questions = queries::questions_of(conn, id)?;
    if questions.is_empty() {
        return Err(ApiError::NotFound("survey"));
    }
    Ok(FollowedSurvey {
        principal,
        post,
        hans,
        questions,
        scope,
        personal,
    })
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
#[utoipa::path(tag = "posts", params(("id" = String, Path)), responses((status = 200, body = TallyResponse), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/posts/{id}/tally")]
pub async fn get_tally(
    auth: AuthMember,
    path: web::Path<PostId>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let tally = db
        .run(move |conn| {
            let s = followed_survey(conn, &auth, &id)?;
            let households = queries::audience_size(conn, &s.post, &s.hans, &s.scope)?;
            let rows = queries::responses(conn, &s.post, &s.hans, &s.scope)?;
            Ok(TallyResponse {
                responses: i64::try_from(rows.len()).unwrap_or(i64::MAX),
                households,
                questions: tally_questions(s.questions, &rows, s.personal)?,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(tally))
}

/// Counts per option, sums and (for those who may see them) texts over the responses.
fn tally_questions(
    questions: Vec<SurveyQuestion>,
    rows: &[queries::ResponseRow],
    personal: bool,
) -> Result<Vec<QuestionTally>, ApiError> {
    let mut questions = questions
        .into_iter()
        .map(|q| {
            let options = options_of(&q)?;
            let choices = matches!(
                q.kind,
                QuestionKind::SingleChoice | QuestionKind::MultipleChoice
            );
            Ok(QuestionTally {
                counts: choices.then(|| vec![0; options.len()]),
                sum: (q.kind == QuestionKind::Number).then_some(0),
                texts: (q.kind == QuestionKind::ShortText && personal).then(Vec::new),
                id: q.id,
                kind: q.kind,
                prompt: q.prompt,
                options,
                required: q.required,
                count: 0,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    for row in rows {
        let mut answers = parse_answers(&row.answers)?;
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
    Ok(questions)
}

/// The answers as CSV for Excel (UTF-8 with BOM), one line per household that answered:
/// household, han, label, then one column per question. For officers and 班長, over their
/// own households.
#[utoipa::path(tag = "posts", params(("id" = String, Path)), responses((status = 200, content_type = "text/csv", body = String), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/posts/{id}/answers.csv")]
pub async fn export_answers(
    auth: AuthMember,
    path: web::Path<PostId>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let (header, lines) = db
        .write(move |conn| {
            let s = followed_survey(conn, &auth, &id)?;
            if !s.personal {
                return Err(ApiError::NotFound("post"));
            }
            let rows = queries::responses(conn, &s.post, &s.hans, &s.scope)?;
            let detail = serde_json::json!({"post_id": id.as_str(), "rows": rows.len()});
            crate::db::queries::audit::record(
                conn,
                &s.principal,
                AuditAction::SurveyAnswersExported,
                "post",
                Some(id.as_str()),
                s.principal.association_id.as_ref(),
                detail,
            )?;
            let lines = csv_lines(&s.questions, rows)?;
            let mut header = vec!["household_id".to_string(), "han".into(), "label".into()];
            header.extend(s.questions.into_iter().map(|q| q.prompt));
            Ok((header, lines))
        })
        .await?;
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    crate::routes::csv_response("answers.csv", &header, lines)
}

/// One line per response: household, han, label, then the answers, choices as option text.
fn csv_lines(
    questions: &[SurveyQuestion],
    rows: Vec<queries::ResponseRow>,
) -> Result<Vec<Vec<String>>, ApiError> {
    let options = questions
        .iter()
        .map(options_of)
        .collect::<Result<Vec<_>, _>>()?;
    let option_text = |options: &[String], i: i64| {
        usize::try_from(i)
            .ok()
            .and_then(|i| options.get(i))
            .cloned()
            .unwrap_or_default()
    };
    rows.into_iter()
        .map(|row| {
            let mut answers = parse_answers(&row.answers)?;
            let mut line = vec![
                row.household_id.to_string(),
                row.han.unwrap_or_default(),
                row.label,
            ];
            for (q, options) in questions.iter().zip(&options) {
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
            Ok(line)
        })
        .collect()
}
