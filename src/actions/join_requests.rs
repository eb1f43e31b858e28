//! Join requests (町会加入申請): a member without a household asks an association to take
//! them in, and its officers approve or decline.

use crate::actions::Services;
use crate::actions::access::{audited_roster_read, caller_and_association};
use crate::authz::{self, Principal, require};
use crate::db::AnyConnection;
use crate::db::models::JoinRequest;
use crate::db::queries::audit;
use crate::db::queries::invitations::{self as queries, JoinRequestRow};
use crate::domain::{AssociationId, AuditAction, HanId, HouseholdId, JoinRequestId, MemberId};
use crate::error::{ApiError, ErrorCode};
use crate::places::Moved;

/// Where an approved applicant will live: a household of the association, or a new one
/// (in a han if given).
pub struct Approval {
    pub household: Option<HouseholdId>,
    pub han: Option<HanId>,
}

/// Asks to join an association, with a note for its officers (a member not yet in a
/// household; never city staff or admins).
pub async fn ask(
    services: &Services,
    caller: &MemberId,
    association: AssociationId,
    message: String,
) -> Result<JoinRequestRow, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            let (p, association) = caller_and_association(conn, &caller, &association)?;
            require(authz::may_request_to_join(&p))?;
            if p.household_id.is_some() {
                return Err(ApiError::Conflict(
                    ErrorCode::AlreadyMember,
                    "you already belong to a household".into(),
                ));
            }
            let request =
                queries::create_join_request(conn, &association.id, &p.member_id, message)?;
            Ok(JoinRequestRow {
                request,
                display_name: p.display_name,
            })
        })
        .await
}

/// Join requests to an association, newest first, decided ones too (its officers).
/// Audited.
pub async fn list(
    services: &Services,
    caller: &MemberId,
    association: AssociationId,
) -> Result<Vec<JoinRequestRow>, ApiError> {
    let action = AuditAction::JoinRequestsRead;
    audited_roster_read(
        services,
        caller,
        association,
        action,
        queries::list_join_requests,
    )
    .await
}

/// Loads a join request the caller may decide on (404 otherwise).
fn decidable_request(
    conn: &mut AnyConnection,
    caller: &MemberId,
    id: &JoinRequestId,
) -> Result<(Principal, JoinRequest), ApiError> {
    let p = Principal::load(conn, caller)?;
    let request = queries::find_join_request(conn, id)?
        .filter(|r| authz::may_manage_roster(&p, &r.association_id))
        .ok_or(ApiError::NotFound("join request"))?;
    Ok((p, request))
}

/// Approves a pending join request: the applicant joins a household as a resident. Audited.
/// Answers the household.
pub async fn approve(
    services: &Services,
    caller: &MemberId,
    id: JoinRequestId,
    approval: Approval,
) -> Result<HouseholdId, ApiError> {
    let caller = caller.clone();
    let household = services
        .db
        .write(move |conn| {
            let (p, request) = decidable_request(conn, &caller, &id)?;
            let household = queries::approve_join_request(
                conn,
                &request,
                &p.member_id,
                approval.household,
                approval.han,
            )?;
            record_decision(conn, &p, AuditAction::JoinRequestApproved, &request)?;
            Ok((household, request.member_id))
        })
        .await?;
    let (household, applicant) = household;
    services
        .inbox_cache
        .roster_changed(&[Moved::Member(applicant)]);
    Ok(household)
}

/// Declines a pending join request; the applicant stays without a household. Audited.
pub async fn decline(
    services: &Services,
    caller: &MemberId,
    id: JoinRequestId,
) -> Result<(), ApiError> {
    let caller = caller.clone();
    services
        .db
        .write(move |conn| {
            let (p, request) = decidable_request(conn, &caller, &id)?;
            queries::decline_join_request(conn, &request, &p.member_id)?;
            record_decision(conn, &p, AuditAction::JoinRequestDeclined, &request)
        })
        .await
}

fn record_decision(
    conn: &mut AnyConnection,
    p: &Principal,
    action: AuditAction,
    request: &JoinRequest,
) -> Result<(), ApiError> {
    audit::record(
        conn,
        p,
        action,
        "join_request",
        Some(request.id.as_str()),
        Some(&request.association_id),
        serde_json::json!({}),
    )?;
    Ok(())
}
