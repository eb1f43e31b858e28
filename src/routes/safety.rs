//! Safety checks (安否確認): start one for a scope, answer for a household, follow the live
//! status, remind the unanswered, close. The rules are in `actions::safety`.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::actions::Services;
use crate::actions::safety::{self, CheckView, NewAnswer, NewCheck};
use crate::auth::AuthMember;
use crate::db::models::SafetyAnswer;
use crate::domain::{
    HanId, HouseholdId, MemberId, SafetyCheckId, SafetyStatus, SafetyStatusResponse, Tier,
};
use crate::error::{ApiError, ErrorCode};
use crate::routes::ScopeRequest;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(start_check)
        .service(list_checks)
        .service(get_check)
        .service(answer_check)
        .service(get_status)
        .service(get_history)
        .service(remind_unanswered)
        .service(close_check);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartSafetyCheckRequest {
    pub scope: ScopeRequest,
    /// Only these hans of the association.
    #[serde(default)]
    pub han_ids: Vec<String>,
    /// What residents read, e.g. 「地震がありました。ご無事ですか。」
    pub message: String,
}

#[derive(Serialize, ToSchema)]
pub struct Starter {
    pub id: MemberId,
    /// Null for district officers and city staff outside the audience, who see no names.
    pub display_name: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AnswerView {
    pub status: SafetyStatus,
    pub note: Option<String>,
    pub answered_at: DateTime<Utc>,
    /// Given by an officer or 班長 for the household.
    pub on_behalf: bool,
}

impl From<SafetyAnswer> for AnswerView {
    fn from(a: SafetyAnswer) -> Self {
        Self {
            status: a.status,
            note: a.note,
            answered_at: a.answered_at.and_utc(),
            on_behalf: a.on_behalf,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SafetyCheckResponse {
    pub id: SafetyCheckId,
    /// open or closed.
    pub status: &'static str,
    pub tier: Tier,
    pub scope_id: Option<String>,
    pub han_ids: Vec<HanId>,
    pub message: String,
    pub started_by: Starter,
    pub started_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Your household's answer; null before it answers (or without a household).
    pub answer: Option<AnswerView>,
}

impl From<CheckView> for SafetyCheckResponse {
    fn from(v: CheckView) -> Self {
        let check = v.check;
        Self {
            status: if check.closed_at.is_some() {
                "closed"
            } else {
                "open"
            },
            id: check.id,
            tier: check.tier,
            scope_id: check.scope_id,
            han_ids: v.hans,
            message: check.message,
            started_by: Starter {
                id: check.started_by,
                display_name: v.starter_name,
            },
            started_at: check.started_at.and_utc(),
            closed_at: check.closed_at.map(|t| t.and_utc()),
            answer: v.answer.map(Into::into),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct StartedSafetyCheck {
    #[serde(flatten)]
    pub check: SafetyCheckResponse,
    /// Notifications queued to the audience's devices.
    pub deliveries: usize,
}

/// Start a safety check for the city, a district, an association or some of its hans (same
/// rules as posting). It goes out at once as an urgent push, whatever categories members
/// muted.
#[utoipa::path(tag = "safety", request_body = StartSafetyCheckRequest, responses((status = 201, body = StartedSafetyCheck), (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/safety-checks")]
pub async fn start_check(
    auth: AuthMember,
    body: web::Json<StartSafetyCheckRequest>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let r = body.into_inner();
    let message = safety::parse_message(&r.message)?;
    let scope = r.scope.parse()?;
    let mut hans: Vec<HanId> = r.han_ids.into_iter().map(HanId).collect();
    hans.sort();
    hans.dedup();
    let new = NewCheck {
        scope,
        hans,
        message,
    };
    let (view, deliveries) = safety::start(&services, &auth.0, new).await?;
    Ok(HttpResponse::Created().json(StartedSafetyCheck {
        check: view.into(),
        deliveries,
    }))
}

#[derive(Deserialize, IntoParams)]
pub struct ListParams {
    /// 1 to 100; default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct SafetyCheckList {
    pub items: Vec<SafetyCheckResponse>,
}

/// The safety checks that reach your household and those you started: open ones first,
/// then newest first, each with your household's answer.
#[utoipa::path(tag = "safety", params(ListParams), responses((status = 200, body = SafetyCheckList), (status = 401, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/safety-checks")]
pub async fn list_checks(
    auth: AuthMember,
    params: web::Query<ListParams>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let limit = params.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::BadRequest(
            ErrorCode::InvalidQuery,
            "limit must be from 1 to 100".into(),
        ));
    }
    let items = safety::list(&services, &auth.0, limit).await?;
    Ok(HttpResponse::Ok().json(SafetyCheckList {
        items: items.into_iter().map(Into::into).collect(),
    }))
}

/// One safety check, with your household's answer.
#[utoipa::path(tag = "safety", params(("id" = String, Path)), responses((status = 200, body = SafetyCheckResponse), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/safety-checks/{id}")]
pub async fn get_check(
    auth: AuthMember,
    path: web::Path<SafetyCheckId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let view = safety::get(&services, &auth.0, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(SafetyCheckResponse::from(view)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerRequest {
    /// safe (無事) or needs_help (要支援). Read as text so a number is refused as clearly
    /// as an unknown word.
    #[schema(value_type = SafetyStatus)]
    pub status: String,
    /// At most 500 characters, e.g. what help is needed.
    pub note: Option<String>,
    /// Answer for this household (officers, or the 班長 of its han); your own by default.
    pub household_id: Option<String>,
}

/// Answer a safety check for your household, or as an officer or 班長 for a household you
/// visited. A later answer replaces the earlier one; every answer is kept in the history.
/// Answered with 204 only once the answer is durably stored.
#[utoipa::path(tag = "safety", params(("id" = String, Path)), request_body = AnswerRequest, responses((status = 204), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/safety-checks/{id}/answers")]
pub async fn answer_check(
    auth: AuthMember,
    path: web::Path<SafetyCheckId>,
    body: web::Json<AnswerRequest>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let r = body.into_inner();
    let note = safety::parse_note(r.note.as_deref())?;
    let status = safety::parse_status(&r.status)?;
    let new = NewAnswer {
        status,
        note,
        household: r.household_id.map(HouseholdId),
    };
    safety::answer(&services, &auth.0, path.into_inner(), new).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Live status of a safety check. Officers and 班長 see their households per han, with
/// those needing help and those not yet answered listed; district officers counts per
/// association; city staff counts per district, never a household.
#[utoipa::path(tag = "safety", params(("id" = String, Path)), responses((status = 200, body = SafetyStatusResponse), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/safety-checks/{id}/status")]
pub async fn get_status(
    auth: AuthMember,
    path: web::Path<SafetyCheckId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let status: SafetyStatusResponse =
        safety::status(&services, &auth.0, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(status))
}

#[derive(Serialize, ToSchema)]
pub struct HistoryEntry {
    pub status: SafetyStatus,
    pub note: Option<String>,
    pub answered_at: DateTime<Utc>,
    pub answered_by: String,
    pub on_behalf: bool,
}

#[derive(Serialize, ToSchema)]
pub struct HistoryResponse {
    pub household_id: HouseholdId,
    /// Every answer the household gave or was given, oldest first.
    pub items: Vec<HistoryEntry>,
}

/// Every answer of one household (its officers and 班長).
#[utoipa::path(tag = "safety", params(("id" = String, Path), ("household_id" = String, Path)), responses((status = 200, body = HistoryResponse), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/safety-checks/{id}/households/{household_id}/answers")]
pub async fn get_history(
    auth: AuthMember,
    path: web::Path<(SafetyCheckId, HouseholdId)>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let (id, household) = path.into_inner();
    let items = safety::history(&services, &auth.0, id, household.clone()).await?;
    Ok(HttpResponse::Ok().json(HistoryResponse {
        household_id: household,
        items: items
            .into_iter()
            .map(|e| HistoryEntry {
                status: e.answer.status,
                note: e.answer.note,
                answered_at: e.answer.answered_at.and_utc(),
                answered_by: e.answered_by,
                on_behalf: e.answer.on_behalf,
            })
            .collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct SafetyReminderResponse {
    /// Households not yet answered that were reminded.
    pub households: usize,
    /// Notifications queued to their members' devices.
    pub deliveries: usize,
}

/// Remind the households that have not answered, within what you may follow (an urgent
/// push to their members only).
#[utoipa::path(tag = "safety", params(("id" = String, Path)), responses((status = 202, body = SafetyReminderResponse), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/safety-checks/{id}/reminders")]
pub async fn remind_unanswered(
    auth: AuthMember,
    path: web::Path<SafetyCheckId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let (households, deliveries) = safety::remind(&services, &auth.0, path.into_inner()).await?;
    Ok(HttpResponse::Accepted().json(SafetyReminderResponse {
        households,
        deliveries,
    }))
}

/// Close a safety check (whoever started it, or an admin). Its record and answers stay;
/// later answers are refused.
#[utoipa::path(tag = "safety", params(("id" = String, Path)), responses((status = 204), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/safety-checks/{id}/close")]
pub async fn close_check(
    auth: AuthMember,
    path: web::Path<SafetyCheckId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    safety::close(&services, &auth.0, path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
