//! Role assignments: appointing, ending, the yearly handover, and their history.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::models::RoleAssignment;
use crate::db::queries::accounts::grant_for_term;
use crate::db::queries::associations::{association_of_member, han_of};
use crate::db::schema::{hans, members, role_assignments};
use crate::db::{AnyConnection, now, write_transaction};
use crate::domain::{AssociationId, HanId, MemberId, Role, RoleAssignmentId, fiscal_year};
use crate::error::{ApiError, ErrorCode};

/// Roles an association hands over at the new term.
pub const ASSOCIATION_ROLES: [Role; 3] = [Role::Officer, Role::Chair, Role::HanLeader];

pub struct Appointment {
    pub member_id: MemberId,
    pub role: Role,
    /// The han, for a 班長.
    pub scope_id: Option<String>,
}

/// Checks an appointment fits the association and gives its scope.
fn scope_for(
    conn: &mut AnyConnection,
    association: &AssociationId,
    appointment: &Appointment,
) -> Result<String, ApiError> {
    if association_of_member(conn, &appointment.member_id)?.as_ref() != Some(association) {
        return Err(ApiError::Validation(
            ErrorCode::NotAMember,
            "that member does not belong to this association".into(),
        ));
    }
    match appointment.role {
        Role::Officer | Role::Chair => Ok(association.to_string()),
        Role::HanLeader => {
            let han = appointment.scope_id.clone().ok_or_else(|| {
                ApiError::validation("a han_leader needs scope_id: the han they lead")
            })?;
            Ok(han_of(conn, association, &HanId(han))?.id.to_string())
        }
        other => Err(ApiError::validation(format!(
            "an association can appoint officer, chair or han_leader, not {}",
            other.as_str()
        ))),
    }
}

pub fn appoint(
    conn: &mut AnyConnection,
    association: &AssociationId,
    appointment: Appointment,
    granted_by: &MemberId,
) -> Result<RoleAssignment, ApiError> {
    write_transaction(conn, |conn| {
        let scope = scope_for(conn, association, &appointment)?;
        let timestamp = now();
        let held = role_assignments::table
            .filter(role_assignments::member_id.eq(&appointment.member_id))
            .filter(role_assignments::role.eq(appointment.role))
            .filter(role_assignments::scope_id.eq(&scope))
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
            Some(scope),
            Some(granted_by.clone()),
            timestamp,
            fiscal_year(timestamp),
        )?)
    })
}

/// Scopes (the association and its hans) whose roles belong to an association.
fn association_scopes(
    conn: &mut AnyConnection,
    association: &AssociationId,
) -> QueryResult<Vec<String>> {
    let mut scopes: Vec<String> = hans::table
        .filter(hans::association_id.eq(association))
        .select(hans::id)
        .load::<HanId>(conn)?
        .into_iter()
        .map(|h| h.0)
        .collect();
    scopes.push(association.to_string());
    Ok(scopes)
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
    let scopes = association_scopes(conn, association)?;
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

/// The yearly handover: every current officer, chair and 班長 role of the association ends
/// and the new ones start, in one transaction; the old rows stay as history.
pub fn hand_over(
    conn: &mut AnyConnection,
    association: &AssociationId,
    term_year: i32,
    appointments: Vec<Appointment>,
    granted_by: &MemberId,
) -> Result<(usize, Vec<RoleAssignment>), ApiError> {
    write_transaction(conn, |conn| {
        let timestamp = now();
        let mut scoped = Vec::with_capacity(appointments.len());
        for appointment in appointments {
            let scope = scope_for(conn, association, &appointment)?;
            scoped.push((appointment, scope));
        }
        let scopes = association_scopes(conn, association)?;
        let ended = diesel::update(
            role_assignments::table
                .filter(role_assignments::scope_id.eq_any(scopes))
                .filter(role_assignments::role.eq_any(ASSOCIATION_ROLES))
                .filter(role_assignments::ended_at.is_null()),
        )
        .set(role_assignments::ended_at.eq(timestamp))
        .execute(conn)?;
        let mut started = Vec::with_capacity(scoped.len());
        for (appointment, scope) in scoped {
            started.push(grant_for_term(
                conn,
                &appointment.member_id,
                appointment.role,
                Some(scope),
                Some(granted_by.clone()),
                timestamp,
                term_year,
            )?);
        }
        Ok((ended, started))
    })
}
