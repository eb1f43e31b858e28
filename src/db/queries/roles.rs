//! Role assignments: appointing, ending, the yearly handover, and their history.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::models::RoleAssignment;
use crate::db::queries::accounts::grant_for_term;
use crate::db::schema::{hans, members, role_assignments};
use crate::db::{AnyConnection, now, write_transaction};
use crate::domain::{
    ASSOCIATION_ROLES, AssociationId, HanId, HandoverPlan, MemberId, Role, RoleAssignmentId,
    ScopedAppointment, association_scopes, fiscal_year,
};
use crate::error::{ApiError, ErrorCode};

/// Starts a checked appointment, unless the member holds that role there already.
pub fn appoint(
    conn: &mut AnyConnection,
    appointment: &ScopedAppointment,
    granted_by: &MemberId,
) -> Result<RoleAssignment, ApiError> {
    write_transaction(conn, |conn| {
        let timestamp = now();
        let held = role_assignments::table
            .filter(role_assignments::member_id.eq(&appointment.member_id))
            .filter(role_assignments::role.eq(appointment.role))
            .filter(role_assignments::scope_id.eq(&appointment.scope_id))
            .filter(role_assignments::ended_at.is_null())
            .count()
            .get_result::<i64>(conn)?;
        if held > 0 {
            return Err(ApiError::Conflict(
                ErrorCode::RoleHeld,
                "the member already holds this role".into(),
            ));
        }
        Ok(grant_for_term(
            conn,
            &appointment.member_id,
            appointment.role,
            Some(appointment.scope_id.clone()),
            Some(granted_by.clone()),
            timestamp,
            fiscal_year(timestamp),
        )?)
    })
}

pub struct RoleHistoryRow {
    pub assignment: RoleAssignment,
    pub display_name: String,
}

/// Every officer, chair and 班長 role of the association, current and past.
pub fn role_history(
    conn: &mut AnyConnection,
    association: &AssociationId,
) -> QueryResult<Vec<RoleHistoryRow>> {
    let hans: Vec<HanId> = hans::table
        .filter(hans::association_id.eq(association))
        .select(hans::id)
        .load(conn)?;
    let scopes = association_scopes(association, &hans);
    Ok(role_assignments::table
        .inner_join(members::table.on(members::id.eq(role_assignments::member_id)))
        .filter(role_assignments::scope_id.eq_any(scopes))
        .filter(role_assignments::role.eq_any(ASSOCIATION_ROLES))
        .select((RoleAssignment::as_select(), members::display_name))
        .order((
            role_assignments::started_at.desc(),
            role_assignments::id.asc(),
        ))
        .load::<(RoleAssignment, String)>(conn)?
        .into_iter()
        .map(|(assignment, display_name)| RoleHistoryRow {
            assignment,
            display_name,
        })
        .collect())
}

pub fn find_assignment(
    conn: &mut AnyConnection,
    id: &RoleAssignmentId,
) -> QueryResult<Option<RoleAssignment>> {
    role_assignments::table
        .find(id)
        .select(RoleAssignment::as_select())
        .first(conn)
        .optional()
}

/// The association a role's scope lies in (itself, or its han's), if any.
pub fn association_of_scope(
    conn: &mut AnyConnection,
    assignment: &RoleAssignment,
) -> QueryResult<Option<AssociationId>> {
    let Some(scope) = assignment.scope_id.clone() else {
        return Ok(None);
    };
    match assignment.role {
        Role::Officer | Role::Chair | Role::Resident => Ok(Some(AssociationId(scope))),
        Role::HanLeader => hans::table
            .find(HanId(scope))
            .select(hans::association_id)
            .first(conn)
            .optional(),
        _ => Ok(None),
    }
}

pub fn end_assignment(
    conn: &mut AnyConnection,
    id: &RoleAssignmentId,
    at: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        role_assignments::table
            .find(id)
            .filter(role_assignments::ended_at.is_null()),
    )
    .set(role_assignments::ended_at.eq(at))
    .execute(conn)
}

/// Carries out a handover in one transaction: the current roles of its scopes end, the new
/// ones start; the old rows stay as history. Answers how many ended and what started.
pub fn hand_over(
    conn: &mut AnyConnection,
    plan: &HandoverPlan,
    granted_by: &MemberId,
) -> QueryResult<(usize, Vec<RoleAssignment>)> {
    write_transaction(conn, |conn| {
        let timestamp = now();
        let ended = diesel::update(
            role_assignments::table
                .filter(role_assignments::scope_id.eq_any(plan.ending_scopes.clone()))
                .filter(role_assignments::role.eq_any(ASSOCIATION_ROLES))
                .filter(role_assignments::ended_at.is_null()),
        )
        .set(role_assignments::ended_at.eq(timestamp))
        .execute(conn)?;
        let mut started = Vec::with_capacity(plan.starting.len());
        for appointment in &plan.starting {
            started.push(grant_for_term(
                conn,
                &appointment.member_id,
                appointment.role,
                Some(appointment.scope_id.clone()),
                Some(granted_by.clone()),
                timestamp,
                plan.term_year,
            )?);
        }
        Ok((ended, started))
    })
}
