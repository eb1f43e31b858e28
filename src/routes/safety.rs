//! Safety checks (安否確認): start one for a scope, answer for a household, follow the live
//! status, remind the unanswered, close.

use crate::domain::AuditAction;
use std::collections::BTreeMap;
use std::sync::Arc;

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::AuthMember;
use crate::authz::{self, Membership, Principal, require, require_visible};
use crate::db::group_commit::GroupCommit;
use crate::db::models::{SafetyAnswer, SafetyCheck};
use crate::db::queries::associations::check_scope;
use crate::db::queries::posts::audience_household;
use crate::db::queries::push::{self as push_queries, Recipients};
use crate::db::queries::safety::{self as queries, StatusRow};
use crate::db::schema::{associations, districts, members};
use crate::db::{AnyConnection, Db, now, write_transaction};
use crate::domain::{
    AssociationId, DistrictId, HanId, HouseholdId, MemberId, SafetyCheckId, SafetyStatus, Tier,
    normalize,
};
use crate::domain::{Audience, AudienceKey, ReceiptScope};
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

pub const MAX_MESSAGE_CHARS: usize = 1000;
pub const MAX_NOTE_CHARS: usize = 500;

/// Trimmed NFC text without control characters other than line breaks.
fn clean_text(raw: &str) -> String {
    let kept: String = raw
        .replace("\r\n", "\n")
        .chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .collect();
    normalize(&kept)
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

fn check_response(
    check: SafetyCheck,
    hans: Vec<HanId>,
    starter_name: Option<String>,
    answer: Option<SafetyAnswer>,
) -> SafetyCheckResponse {
    SafetyCheckResponse {
        status: if check.closed_at.is_some() {
            "closed"
        } else {
            "open"
        },
        id: check.id,
        tier: check.tier,
        scope_id: check.scope_id,
        han_ids: hans,
        message: check.message,
        started_by: Starter {
            id: check.started_by,
            display_name: starter_name,
        },
        started_at: check.started_at.and_utc(),
        closed_at: check.closed_at.map(|t| t.and_utc()),
        answer: answer.map(Into::into),
    }
}

fn starter_name(conn: &mut AnyConnection, member: &MemberId) -> Result<String, ApiError> {
    Ok(members::table
        .find(member)
        .select(members::display_name)
        .first::<String>(conn)?)
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
    db: web::Data<Db>,
    wake: web::Data<Arc<Notify>>,
) -> Result<HttpResponse, ApiError> {
    let r = body.into_inner();
    let message = clean_text(&r.message);
    if message.is_empty() {
        return Err(ApiError::validation("message must not be empty"));
    }
    if message.chars().count() > MAX_MESSAGE_CHARS {
        return Err(ApiError::validation(format!(
            "message must be at most {MAX_MESSAGE_CHARS} characters"
        )));
    }
    let scope = r.scope.parse()?;
    let mut hans: Vec<HanId> = r.han_ids.into_iter().map(HanId).collect();
    hans.sort();
    hans.dedup();
    let (response, deliveries) = db
        .run(move |conn| {
            let p = Principal::load(conn, &auth.0)?;
            check_scope(conn, &scope, &hans)?;
            require(authz::may_post(&p, &scope, &hans))?;
            let check = SafetyCheck {
                id: SafetyCheckId::generate(),
                started_by: p.member_id.clone(),
                tier: scope.tier(),
                scope_id: scope.id().map(str::to_string),
                message,
                started_at: now(),
                closed_at: None,
                closed_by: None,
            };
            let deliveries = queries::create_check(conn, &check, &hans)?;
            let answer = match &p.household_id {
                Some(h) => queries::answer_of(conn, &check.id, h)?,
                None => None,
            };
            Ok((
                check_response(check, hans, Some(p.display_name.clone()), answer),
                deliveries,
            ))
        })
        .await?;
    wake.notify_one();
    Ok(HttpResponse::Created().json(StartedSafetyCheck {
        check: response,
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
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let limit = params.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::BadRequest(
            ErrorCode::InvalidQuery,
            "limit must be from 1 to 100".into(),
        ));
    }
    let items = db
        .run(move |conn| {
            let m = Membership::load(conn, &auth.0)?;
            let keys = m.audience_keys();
            let rows =
                queries::list_checks(conn, &keys, &m.member_id, m.household_id.as_ref(), limit)?;
            rows.into_iter()
                .map(|(check, answer)| {
                    let hans = queries::hans_of(conn, &check.id)?;
                    let name = starter_name(conn, &check.started_by)?;
                    Ok(check_response(check, hans, Some(name), answer))
                })
                .collect::<Result<Vec<_>, ApiError>>()
        })
        .await?;
    Ok(HttpResponse::Ok().json(SafetyCheckList { items }))
}

/// Whether the check reaches a household with these keys.
fn reaches(check: &SafetyCheck, hans: &[HanId], household_keys: &[AudienceKey]) -> bool {
    check
        .audience(hans)
        .keys()
        .iter()
        .any(|k| household_keys.contains(k))
}

/// The part of a check's status a caller may follow, most detailed first.
enum View {
    /// 班長: their hans' households.
    Hans(Vec<HanId>),
    /// Officers: their association's households, per han.
    Association(AssociationId),
    /// District officers: counts per association of their district.
    District(DistrictId),
    /// City staff and admins: counts per district.
    City,
}

fn view_of(
    conn: &mut AnyConnection,
    p: &Principal,
    check: &SafetyCheck,
    hans: &[HanId],
) -> Result<Option<View>, ApiError> {
    match authz::household_view(p, check.audience(hans)) {
        Some(ReceiptScope::Hans(led)) => return Ok(Some(View::Hans(led))),
        Some(ReceiptScope::Association(a)) => return Ok(Some(View::Association(a))),
        Some(ReceiptScope::Audience) | None => {}
    }
    let scope = check.scope_id.as_deref();
    let check_district = match (check.tier, scope) {
        (Tier::District, Some(d)) => Some(DistrictId(d.to_string())),
        (Tier::Association, Some(a)) => associations::table
            .find(AssociationId(a.to_string()))
            .select(associations::district_id)
            .first::<DistrictId>(conn)
            .optional()?,
        _ => None,
    };
    if let Some(d) = p
        .officer_districts()
        .into_iter()
        .find(|d| check.tier == Tier::City || check_district.as_ref() == Some(d))
    {
        return Ok(Some(View::District(d)));
    }
    if p.is_city_staff() || p.is_admin() {
        return Ok(Some(View::City));
    }
    Ok(None)
}

/// A check the caller may see: its audience, whoever follows its status, its starter.
/// Anyone else gets 404.
struct Seen {
    principal: Principal,
    check: SafetyCheck,
    hans: Vec<HanId>,
    view: Option<View>,
    in_audience: bool,
}

fn seen_check(
    conn: &mut AnyConnection,
    auth: &AuthMember,
    id: &SafetyCheckId,
) -> Result<Seen, ApiError> {
    let principal = Principal::load(conn, &auth.0)?;
    let check = queries::find_check(conn, id)?.ok_or(ApiError::NotFound("safety check"))?;
    let hans = queries::hans_of(conn, id)?;
    let keys = principal.audience_keys();
    let in_audience = reaches(&check, &hans, &keys);
    let view = view_of(conn, &principal, &check, &hans)?;
    let started = principal.member_id == check.started_by;
    require_visible(in_audience || view.is_some() || started, "safety check")?;
    Ok(Seen {
        principal,
        check,
        hans,
        view,
        in_audience,
    })
}

/// One safety check, with your household's answer.
#[utoipa::path(tag = "safety", params(("id" = String, Path)), responses((status = 200, body = SafetyCheckResponse), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/safety-checks/{id}")]
pub async fn get_check(
    auth: AuthMember,
    path: web::Path<SafetyCheckId>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let response = db
        .run(move |conn| {
            let seen = seen_check(conn, &auth, &id)?;
            let answer = match (&seen.principal.household_id, seen.in_audience) {
                (Some(h), true) => queries::answer_of(conn, &id, h)?,
                _ => None,
            };
            let names_shown = seen.in_audience
                || seen.principal.member_id == seen.check.started_by
                || matches!(seen.view, Some(View::Hans(_) | View::Association(_)));
            let name = if names_shown {
                Some(starter_name(conn, &seen.check.started_by)?)
            } else {
                None
            };
            Ok(check_response(seen.check, seen.hans, name, answer))
        })
        .await?;
    Ok(HttpResponse::Ok().json(response))
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
    db: web::Data<Db>,
    writer: web::Data<GroupCommit>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let r = body.into_inner();
    let note = r.note.as_deref().map(clean_text).filter(|n| !n.is_empty());
    if note
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS)
    {
        return Err(ApiError::validation(format!(
            "note must be at most {MAX_NOTE_CHARS} characters"
        )));
    }
    let status: SafetyStatus = r.status.parse().map_err(|_| {
        ApiError::Validation(
            ErrorCode::InvalidField,
            "status must be \"safe\" or \"needs_help\"".into(),
        )
    })?;
    let asked_for = r.household_id.map(HouseholdId);
    // Reads and checks on the pool, concurrently; only the write goes to the group commit.
    let answer = db
        .run(move |conn| {
            let m = Membership::load(conn, &auth.0)?;
            let check =
                queries::find_check(conn, &id)?.ok_or(ApiError::NotFound("safety check"))?;
            let hans = match check.tier {
                Tier::Association => queries::hans_of(conn, &id)?,
                _ => Vec::new(),
            };
            let own = asked_for.is_none() || asked_for == m.household_id;
            let household = if own && reaches(&check, &hans, &m.audience_keys()) {
                m.household_id
                    .clone()
                    .ok_or(ApiError::NotFound("safety check"))?
            } else {
                household_answered_for(conn, &auth, &check, &hans, asked_for.as_ref())?
            };
            if check.closed_at.is_some() {
                return Err(queries::closed());
            }
            Ok(SafetyAnswer {
                safety_check_id: id,
                household_id: household,
                status,
                note,
                answered_by: m.member_id,
                on_behalf: !own,
                answered_at: now(),
            })
        })
        .await?;
    writer
        .write(move |conn| queries::record_answer(conn, &answer))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The household an officer or 班長 answers for. A check the caller may not see, a
/// household they may not act for: 404. Their own association's household outside the
/// check's audience: 422.
fn household_answered_for(
    conn: &mut AnyConnection,
    auth: &AuthMember,
    check: &SafetyCheck,
    hans: &[HanId],
    household: Option<&HouseholdId>,
) -> Result<HouseholdId, ApiError> {
    let p = Principal::load(conn, &auth.0)?;
    let visible = view_of(conn, &p, check, hans)?.is_some() || p.member_id == check.started_by;
    require_visible(visible, "safety check")?;
    let household = household.ok_or(ApiError::NotFound("safety check"))?;
    let (found, reached) = audience_household(conn, check.audience(hans), household)?
        .ok_or(ApiError::NotFound("household"))?;
    require_visible(
        authz::may_answer_for(&p, &found.association_id, found.han_id.as_ref()),
        "household",
    )?;
    if !reached {
        return Err(ApiError::Validation(
            ErrorCode::HouseholdNotInAudience,
            "this safety check does not reach that household".into(),
        ));
    }
    Ok(found.id)
}

#[derive(Serialize, ToSchema)]
pub struct GroupCounts {
    /// The han, association or district.
    pub id: Option<String>,
    /// Its name (null for households without a han).
    pub name: Option<String>,
    pub households: i64,
    pub answered: i64,
    pub safe: i64,
    pub needs_help: i64,
    pub unanswered: i64,
}

#[derive(Serialize, ToSchema)]
pub struct UnansweredHousehold {
    pub household_id: HouseholdId,
    pub label: String,
    pub han_id: Option<HanId>,
    pub han: Option<String>,
    pub paper: bool,
}

#[derive(Serialize, ToSchema)]
pub struct HelpHousehold {
    pub household_id: HouseholdId,
    pub label: String,
    pub han_id: Option<HanId>,
    pub han: Option<String>,
    pub paper: bool,
    pub note: Option<String>,
    pub answered_at: DateTime<Utc>,
    /// Who answered (a member, or the officer or 班長 who visited).
    pub answered_by: Option<String>,
    pub on_behalf: bool,
}

#[derive(Serialize, ToSchema)]
pub struct SafetyStatusResponse {
    /// open or closed.
    pub status: &'static str,
    /// han (officers, 班長), association (district officers) or district (city staff).
    pub grouped_by: &'static str,
    /// Households the check reaches, within what you may see.
    pub households: i64,
    pub answered: i64,
    pub safe: i64,
    pub needs_help: i64,
    /// Per han, association or district; those with households needing help first.
    pub groups: Vec<GroupCounts>,
    /// Not yet answered, by han then label: the visit list. Empty for district officers and
    /// city staff, who see counts only.
    pub unanswered: Vec<UnansweredHousehold>,
    /// Needing help, by han then label. Empty for counts-only viewers.
    pub help: Vec<HelpHousehold>,
    /// Once answered needs_help but safe now: worth a visit before the help is struck off.
    /// Empty for counts-only viewers.
    pub help_withdrawn: Vec<HelpHousehold>,
}

fn help_row(row: &StatusRow) -> HelpHousehold {
    HelpHousehold {
        household_id: row.household_id.clone(),
        label: row.label.clone(),
        han_id: row.han_id.clone(),
        han: row.han.clone(),
        paper: row.paper,
        note: row.note.clone(),
        answered_at: row.answered_at.unwrap_or_default().and_utc(),
        answered_by: row.answered_by.clone(),
        on_behalf: row.on_behalf,
    }
}

/// The households a view covers, as a query scope over the check's audience.
fn scoped<'a>(
    view: &'a View,
    check: &'a SafetyCheck,
    hans: &'a [HanId],
) -> (Audience<'a>, ReceiptScope, bool) {
    let audience = check.audience(hans);
    match view {
        View::Hans(led) => (audience, ReceiptScope::Hans(led.clone()), true),
        View::Association(a) => (audience, ReceiptScope::Association(a.clone()), true),
        // A city-wide check narrowed to the officer's district; narrower checks are in it.
        View::District(_) if check.tier != Tier::City => (audience, ReceiptScope::Audience, false),
        View::District(d) => (
            Audience {
                tier: Tier::District,
                scope_id: Some(d.as_str()),
                hans: &[],
            },
            ReceiptScope::Audience,
            false,
        ),
        View::City => (audience, ReceiptScope::Audience, false),
    }
}

fn build_status(
    conn: &mut AnyConnection,
    check: &SafetyCheck,
    view: &View,
    rows: Vec<StatusRow>,
) -> Result<SafetyStatusResponse, ApiError> {
    let (grouped_by, lists) = match view {
        View::Hans(_) | View::Association(_) => ("han", true),
        View::District(_) => ("association", false),
        View::City => ("district", false),
    };
    let mut groups: BTreeMap<Option<String>, GroupCounts> = BTreeMap::new();
    let mut response = SafetyStatusResponse {
        status: if check.closed_at.is_some() {
            "closed"
        } else {
            "open"
        },
        grouped_by,
        households: 0,
        answered: 0,
        safe: 0,
        needs_help: 0,
        groups: Vec::new(),
        unanswered: Vec::new(),
        help: Vec::new(),
        help_withdrawn: Vec::new(),
    };
    for row in &rows {
        let (key, name) = match view {
            View::Hans(_) | View::Association(_) => {
                (row.han_id.as_ref().map(|h| h.to_string()), row.han.clone())
            }
            View::District(_) => (
                Some(row.association_id.to_string()),
                Some(row.association.clone()),
            ),
            View::City => (Some(row.district_id.to_string()), None),
        };
        let group = groups.entry(key.clone()).or_insert_with(|| GroupCounts {
            id: key,
            name,
            households: 0,
            answered: 0,
            safe: 0,
            needs_help: 0,
            unanswered: 0,
        });
        let safe = row.status == Some(SafetyStatus::Safe);
        let help = row.status == Some(SafetyStatus::NeedsHelp);
        group.households += 1;
        group.answered += i64::from(row.status.is_some());
        group.safe += i64::from(safe);
        group.needs_help += i64::from(help);
        group.unanswered += i64::from(row.status.is_none());
        response.households += 1;
        response.answered += i64::from(row.status.is_some());
        response.safe += i64::from(safe);
        response.needs_help += i64::from(help);
        if lists {
            match row.status {
                None => response.unanswered.push(UnansweredHousehold {
                    household_id: row.household_id.clone(),
                    label: row.label.clone(),
                    han_id: row.han_id.clone(),
                    han: row.han.clone(),
                    paper: row.paper,
                }),
                Some(SafetyStatus::NeedsHelp) => response.help.push(help_row(row)),
                Some(SafetyStatus::Safe) if row.asked_for_help => {
                    response.help_withdrawn.push(help_row(row));
                }
                Some(SafetyStatus::Safe) => {}
            }
        }
    }
    let mut groups: Vec<GroupCounts> = groups.into_values().collect();
    if let View::City = view {
        // District names are public; households, labels and notes never leave for staff.
        let ids: Vec<DistrictId> = groups
            .iter()
            .filter_map(|g| g.id.clone().map(DistrictId))
            .collect();
        let names: BTreeMap<DistrictId, String> = districts::table
            .filter(districts::id.eq_any(ids))
            .select((districts::id, districts::name))
            .load::<(DistrictId, String)>(conn)?
            .into_iter()
            .collect();
        for g in &mut groups {
            g.name =
                g.id.clone()
                    .and_then(|d| names.get(&DistrictId(d)).cloned());
        }
    }
    // Help first, then by name (households without a han last).
    groups.sort_by(|a, b| {
        b.needs_help
            .cmp(&a.needs_help)
            .then(a.name.is_none().cmp(&b.name.is_none()))
            .then(a.name.cmp(&b.name))
    });
    response.groups = groups;
    Ok(response)
}

/// Live status of a safety check. Officers and 班長 see their households per han, with
/// those needing help and those not yet answered listed; district officers counts per
/// association; city staff counts per district, never a household.
#[utoipa::path(tag = "safety", params(("id" = String, Path)), responses((status = 200, body = SafetyStatusResponse), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/safety-checks/{id}/status")]
pub async fn get_status(
    auth: AuthMember,
    path: web::Path<SafetyCheckId>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let response = db
        .run(move |conn| {
            let seen = seen_check(conn, &auth, &id)?;
            let view = seen.view.ok_or(ApiError::NotFound("safety check"))?;
            let (audience, scope, lists) = scoped(&view, &seen.check, &seen.hans);
            let rows = queries::status_rows(conn, &id, audience, &scope)?;
            let response = build_status(conn, &seen.check, &view, rows)?;
            if lists {
                let detail = serde_json::json!({
                    "safety_check_id": id.as_str(),
                    "rows": response.unanswered.len() + response.help.len() + response.help_withdrawn.len(),
                });
                write_transaction(conn, |conn| {
                    crate::db::queries::audit::record(
                        conn,
                        &seen.principal,
                        AuditAction::SafetyStatusRead,
                        "safety_check",
                        Some(id.as_str()),
                        seen.principal.association_id.as_ref(),
                        detail,
                    )
                })?;
            }
            Ok(response)
        })
        .await?;
    Ok(HttpResponse::Ok().json(response))
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
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let (id, household) = path.into_inner();
    let response = db
        .run(move |conn| {
            let seen = seen_check(conn, &auth, &id)?;
            let (found, reached) =
                audience_household(conn, seen.check.audience(&seen.hans), &household)?
                    .ok_or(ApiError::NotFound("household"))?;
            require_visible(
                reached
                    && authz::may_answer_for(
                        &seen.principal,
                        &found.association_id,
                        found.han_id.as_ref(),
                    ),
                "household",
            )?;
            let items = queries::history(conn, &id, &household)?
                .into_iter()
                .map(|(record, name)| HistoryEntry {
                    status: record.status,
                    note: record.note,
                    answered_at: record.answered_at.and_utc(),
                    answered_by: name,
                    on_behalf: record.on_behalf,
                })
                .collect();
            let detail = serde_json::json!({"safety_check_id": id.as_str()});
            write_transaction(conn, |conn| {
                crate::db::queries::audit::record(
                    conn,
                    &seen.principal,
                    AuditAction::SafetyHistoryRead,
                    "household",
                    Some(household.as_str()),
                    Some(&found.association_id),
                    detail,
                )
            })?;
            Ok(HistoryResponse {
                household_id: household,
                items,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(response))
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
    db: web::Data<Db>,
    wake: web::Data<Arc<Notify>>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let response = db
        .run(move |conn| {
            let seen = seen_check(conn, &auth, &id)?;
            let view = seen.view.ok_or(ApiError::NotFound("safety check"))?;
            if seen.check.closed_at.is_some() {
                return Err(queries::closed());
            }
            let (audience, scope, _) = scoped(&view, &seen.check, &seen.hans);
            let households: Vec<HouseholdId> = queries::status_rows(conn, &id, audience, &scope)?
                .into_iter()
                .filter(|row| row.status.is_none())
                .map(|row| row.household_id)
                .collect();
            let job = queries::check_job(&seen.check, "safety_reminder");
            let deliveries = write_transaction(conn, |conn| {
                let deliveries =
                    push_queries::enqueue(conn, &job, Recipients::Households(&households), None)?;
                let detail = serde_json::json!({
                    "safety_check_id": id.as_str(),
                    "households": households.len(),
                });
                crate::db::queries::audit::record(
                    conn,
                    &seen.principal,
                    AuditAction::SafetyReminderSent,
                    "safety_check",
                    Some(id.as_str()),
                    seen.principal.association_id.as_ref(),
                    detail,
                )?;
                Ok::<_, diesel::result::Error>(deliveries)
            })?;
            Ok(SafetyReminderResponse {
                households: households.len(),
                deliveries,
            })
        })
        .await?;
    wake.notify_one();
    Ok(HttpResponse::Accepted().json(response))
}

/// Close a safety check (whoever started it, or an admin). Its record and answers stay;
/// later answers are refused.
#[utoipa::path(tag = "safety", params(("id" = String, Path)), responses((status = 204), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/safety-checks/{id}/close")]
pub async fn close_check(
    auth: AuthMember,
    path: web::Path<SafetyCheckId>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    db.run(move |conn| {
        let seen = seen_check(conn, &auth, &id)?;
        require(authz::may_close_safety_check(
            &seen.principal,
            &seen.check.started_by,
        ))?;
        write_transaction(conn, |conn| {
            if !queries::close_check(conn, &id, &seen.principal.member_id)? {
                return Err(queries::closed());
            }
            let detail = serde_json::json!({"safety_check_id": id.as_str()});
            crate::db::queries::audit::record(
                conn,
                &seen.principal,
                AuditAction::SafetyCheckClosed,
                "safety_check",
                Some(id.as_str()),
                seen.principal.association_id.as_ref(),
                detail,
            )?;
            Ok(())
        })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
