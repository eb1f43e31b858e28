//! Officers, chairs and 班長: appointing them, ending a role, the yearly handover and the
//! history; and district (校下) officers, whom the city appoints. Every change is audited.

use crate::actions::Services;
use crate::actions::access::{audited_roster_read, caller_and_association};
use crate::actions::invitations::revoke_orphaned;
use crate::authz::{self, Principal, require, require_visible};
use crate::db::models::{Association, Invitation, RoleAssignment};
use crate::db::queries::associations::{association_of_member, list_hans, members_of};
use crate::db::queries::districts::district_exists;
use crate::db::queries::roles::{self as queries, RoleHistoryRow};
use crate::db::queries::{accounts, audit};
use crate::db::{AnyConnection, now};
use crate::domain::{
    Appointment, AppointmentRefusal, AssociationId, AuditAction, DistrictId, HanId, Handover,
    MemberId, Role, RoleAssignmentId,
};
use crate::error::{ApiError, ErrorCode};

/// What a handover did.
pub struct HandoverOutcome {
    /// Roles that ended.
    pub ended: usize,
    pub started: Vec<RoleAssignment>,
    /// Role-granting invitations whose issuers lost the right to issue them.
    pub revoked_invitations: Vec<Invitation>,
}

fn refused(refusal: AppointmentRefusal) -> ApiError {
    match refusal {
        AppointmentRefusal::NotAMember => ApiError::Validation(
            ErrorCode::NotAMember,
            "that member does not belong to this association".into(),
        ),
        AppointmentRefusal::NotAnAssociationRole(role) => ApiError::validation(format!(
            "an association can appoint officer, chair or han_leader, not {}",
            role.as_str()
        )),
        AppointmentRefusal::HanMissing => {
            ApiError::validation("a han_leader needs scope_id: the han they lead")
        }
        AppointmentRefusal::UnknownHan => ApiError::Validation(
            ErrorCode::UnknownHan,
            "no such han in this association".into(),
        ),
    }
}

/// Loads the caller and an association whose roles they may assign (404, then 403).
fn role_assigner(
    conn: &mut AnyConnection,
    caller: &MemberId,
    id: &AssociationId,
) -> Result<(Principal, Association), ApiError> {
    let (p, association) = caller_and_association(conn, caller, id)?;
    require(authz::may_assign_roles(&p, &association.id))?;
    Ok((p, association))
}

fn han_ids(conn: &mut AnyConnection, association: &AssociationId) -> Result<Vec<HanId>, ApiError> {
    Ok(list_hans(conn, association)?
        .into_iter()
        .map(|h| h.id)
        .collect())
}

/// Appoints a member of the association as officer, chair or 班長 of one of its hans (its
/// chair, city staff, admins).
pub async fn appoint(
    services: &Services,
    caller: &MemberId,
    association: AssociationId,
    appointment: Appointment,
) -> Result<RoleAssignment, ApiError> {
    let caller = caller.clone();
    services
        .db
        .write(move |conn| {
            let (p, association) = role_assigner(conn, &caller, &association)?;
            let one = std::slice::from_ref(&appointment.member_id);
            let members = members_of(conn, &association.id, one)?;
            let is_member = members.contains(&appointment.member_id);
            let hans = han_ids(conn, &association.id)?;
            let scoped = appointment
                .scope(&association.id, is_member, &hans)
                .map_err(refused)?;
            let assignment = queries::appoint(conn, &scoped, &p.member_id)?;
            let detail = serde_json::json!({
                "role": assignment.role.as_str(),
                "scope_id": assignment.scope_id,
            });
            audit::record(
                conn,
                &p,
                AuditAction::RoleGranted,
                "member",
                Some(assignment.member_id.as_str()),
                Some(&association.id),
                detail,
            )?;
            Ok(assignment)
        })
        .await
}

/// Officers, chairs and 班長 of an association, current and past (its officers). Audited.
pub async fn list(
    services: &Services,
    caller: &MemberId,
    association: AssociationId,
) -> Result<Vec<RoleHistoryRow>, ApiError> {
    let action = AuditAction::RosterRolesRead;
    audited_roster_read(services, caller, association, action, queries::role_history).await
}

/// Ends a role now; the row stays as history. 404 for whoever may not end it.
pub async fn end(
    services: &Services,
    caller: &MemberId,
    id: RoleAssignmentId,
) -> Result<(), ApiError> {
    let caller = caller.clone();
    services
        .db
        .write(move |conn| {
            let p = Principal::load(conn, &caller)?;
            let assignment = queries::find_assignment(conn, &id)?
                .ok_or(ApiError::NotFound("role assignment"))?;
            let association = queries::association_of_scope(conn, &assignment)?;
            let allowed = authz::may_end_role(&p, assignment.role, association.as_ref());
            require_visible(allowed, "role assignment")?;
            queries::end_assignment(conn, &id, now())?;
            audit::record(
                conn,
                &p,
                AuditAction::RoleEnded,
                "member",
                Some(assignment.member_id.as_str()),
                association.as_ref(),
                serde_json::json!({"role": assignment.role.as_str()}),
            )?;
            if let Some(association) = &association {
                revoke_orphaned(conn, &p, association)?;
            }
            Ok(())
        })
        .await
}

/// The yearly handover: every officer, chair and 班長 role of the association ends and the
/// listed ones start for the new term, in one step; one appointment that cannot be made
/// changes nothing.
pub async fn hand_over(
    services: &Services,
    caller: &MemberId,
    association: AssociationId,
    handover: Handover,
) -> Result<HandoverOutcome, ApiError> {
    let caller = caller.clone();
    services
        .db
        .write(move |conn| {
            let (p, association) = role_assigner(conn, &caller, &association)?;
            let named: Vec<MemberId> = handover
                .appointments
                .iter()
                .map(|a| a.member_id.clone())
                .collect();
            let members = members_of(conn, &association.id, &named)?;
            let hans = han_ids(conn, &association.id)?;
            let plan = handover
                .plan(&association.id, &members, &hans)
                .map_err(refused)?;
            let (ended, started) = queries::hand_over(conn, &plan, &p.member_id)?;
            let detail = serde_json::json!({
                "ended": ended,
                "started": started.len(),
                "term_year": plan.term_year,
            });
            audit::record(
                conn,
                &p,
                AuditAction::RolesHandedOver,
                "association",
                Some(association.id.as_str()),
                Some(&association.id),
                detail,
            )?;
            let revoked_invitations = revoke_orphaned(conn, &p, &association.id)?;
            Ok(HandoverOutcome {
                ended,
                started,
                revoked_invitations,
            })
        })
        .await
}

/// Appoints a registered resident as an officer of a district (city staff, admins).
pub async fn appoint_district_officer(
    services: &Services,
    caller: &MemberId,
    district: DistrictId,
    member: MemberId,
) -> Result<RoleAssignment, ApiError> {
    let caller = caller.clone();
    services
        .db
        .write(move |conn| {
            let p = Principal::load(conn, &caller)?;
            require(authz::may_appoint_district_officers(&p))?;
            if !district_exists(conn, &district)? {
                return Err(ApiError::NotFound("district"));
            }
            if association_of_member(conn, &member)?.is_none() {
                return Err(ApiError::Validation(
                    ErrorCode::NotAMember,
                    "a district officer must be a registered resident".into(),
                ));
            }
            let scope = Some(district.to_string());
            let appointed_by = Some(p.member_id.clone());
            let role = Role::DistrictOfficer;
            let assignment = accounts::grant(conn, &member, role, scope, appointed_by, now())?;
            audit::record(
                conn,
                &p,
                AuditAction::RoleGranted,
                "member",
                Some(member.as_str()),
                None,
                serde_json::json!({"role": "district_officer", "scope_id": district.as_str()}),
            )?;
            Ok(assignment)
        })
        .await
}
