//! Invitations (codes that let a resident join) and join requests (町会加入申請).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::changes::{Change, announce};
use crate::db::models::{Invitation, JoinRequest};
use crate::db::queries::accounts::{create_household, grant};
use crate::db::queries::associations::{han_of, household_of};
use crate::db::schema::{invitations, join_requests, members};
use crate::db::{AnyConnection, now, write_transaction};
use crate::domain::{
    AssociationId, HanId, HouseholdId, InvitationId, JoinRequestId, JoinRequestStatus, MemberId,
    Role,
};
use crate::error::{ApiError, ErrorCode};
use crate::places::Moved;

pub fn insert_invitation(conn: &mut AnyConnection, invitation: &Invitation) -> QueryResult<()> {
    diesel::insert_into(invitations::table)
        .values(invitation)
        .execute(conn)
        .map(drop)
}

pub fn list_invitations(
    conn: &mut AnyConnection,
    association: &AssociationId,
) -> QueryResult<Vec<Invitation>> {
    invitations::table
        .filter(invitations::association_id.eq(association))
        .select(Invitation::as_select())
        .order(invitations::created_at.desc())
        .load(conn)
}

pub fn find_invitation(
    conn: &mut AnyConnection,
    id: &InvitationId,
) -> QueryResult<Option<Invitation>> {
    invitations::table
        .find(id)
        .select(Invitation::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_code_hash(
    conn: &mut AnyConnection,
    code_hash: &str,
) -> QueryResult<Option<Invitation>> {
    invitations::table
        .filter(invitations::code_hash.eq(code_hash))
        .select(Invitation::as_select())
        .first(conn)
        .optional()
}

/// An association's role-granting invitations that could still be used.
pub fn open_role_invitations(
    conn: &mut AnyConnection,
    association: &AssociationId,
) -> QueryResult<Vec<Invitation>> {
    invitations::table
        .filter(invitations::association_id.eq(association))
        .filter(invitations::role.is_not_null())
        .filter(invitations::revoked_at.is_null())
        .filter(invitations::expires_at.gt(now()))
        .filter(invitations::uses.lt(invitations::max_uses))
        .select(Invitation::as_select())
        .order(invitations::created_at.asc())
        .load(conn)
}

pub fn revoke_invitation(conn: &mut AnyConnection, id: &InvitationId) -> QueryResult<()> {
    diesel::update(
        invitations::table
            .find(id)
            .filter(invitations::revoked_at.is_null()),
    )
    .set(invitations::revoked_at.eq(now()))
    .execute(conn)
    .map(drop)
}

pub fn create_join_request(
    conn: &mut AnyConnection,
    association: &AssociationId,
    member: &MemberId,
    message: String,
) -> Result<JoinRequest, ApiError> {
    write_transaction(conn, |conn| {
        let pending = join_requests::table
            .filter(join_requests::member_id.eq(member))
            .filter(join_requests::status.eq(JoinRequestStatus::Pending))
            .count()
            .get_result::<i64>(conn)?;
        if pending > 0 {
            return Err(ApiError::Conflict(
                ErrorCode::AlreadyRequested,
                "you already have a pending join request".into(),
            ));
        }
        let request = JoinRequest {
            id: JoinRequestId::generate(),
            association_id: association.clone(),
            member_id: member.clone(),
            message,
            status: JoinRequestStatus::Pending,
            household_id: None,
            decided_by: None,
            decided_at: None,
            created_at: now(),
        };
        diesel::insert_into(join_requests::table)
            .values(&request)
            .execute(conn)?;
        Ok(request)
    })
}

/// A join request with the applicant's name.
pub struct JoinRequestRow {
    pub request: JoinRequest,
    pub display_name: String,
}

pub fn list_join_requests(
    conn: &mut AnyConnection,
    association: &AssociationId,
) -> QueryResult<Vec<JoinRequestRow>> {
    Ok(join_requests::table
        .inner_join(members::table)
        .filter(join_requests::association_id.eq(association))
        .select((JoinRequest::as_select(), members::display_name))
        .order(join_requests::created_at.desc())
        .load::<(JoinRequest, String)>(conn)?
        .into_iter()
        .map(|(request, display_name)| JoinRequestRow {
            request,
            display_name,
        })
        .collect())
}

pub fn find_join_request(
    conn: &mut AnyConnection,
    id: &JoinRequestId,
) -> QueryResult<Option<JoinRequest>> {
    join_requests::table
        .find(id)
        .select(JoinRequest::as_select())
        .first(conn)
        .optional()
}

/// Approves: the member joins a given household, or a new one (in a han if given).
pub fn approve_join_request(
    conn: &mut AnyConnection,
    request: &JoinRequest,
    decided_by: &MemberId,
    household: Option<HouseholdId>,
    han: Option<HanId>,
) -> Result<HouseholdId, ApiError> {
    write_transaction(conn, |conn| {
        announce(
            conn,
            &[Change::Roster(Moved::Member(request.member_id.clone()))],
        )?;
        let timestamp = now();
        let association = &request.association_id;
        let applicant = members::table
            .find(&request.member_id)
            .select(members::display_name)
            .first::<String>(conn)?;
        let household_id = match (household, han) {
            (Some(household), _) => household_of(conn, association, &household)?.id,
            (None, han) => {
                let id = create_household(conn, association, &applicant, timestamp)?;
                if let Some(han) = han {
                    han_of(conn, association, &han)?;
                    diesel::update(crate::db::schema::households::table.find(&id))
                        .set(crate::db::schema::households::han_id.eq(han))
                        .execute(conn)?;
                }
                id
            }
        };
        decide(
            conn,
            request,
            JoinRequestStatus::Approved,
            decided_by,
            Some(&household_id),
            timestamp,
        )?;
        // The applicant may have joined elsewhere meanwhile: only a member without a
        // household is placed.
        let placed = diesel::update(
            members::table
                .find(&request.member_id)
                .filter(members::household_id.is_null()),
        )
        .set((
            members::household_id.eq(&household_id),
            members::updated_at.eq(timestamp),
        ))
        .execute(conn)?;
        if placed != 1 {
            return Err(ApiError::Conflict(
                ErrorCode::AlreadyMember,
                "the applicant already belongs to a household".into(),
            ));
        }
        grant(
            conn,
            &request.member_id,
            Role::Resident,
            Some(association.to_string()),
            Some(decided_by.clone()),
            timestamp,
        )?;
        Ok(household_id)
    })
}

pub fn decline_join_request(
    conn: &mut AnyConnection,
    request: &JoinRequest,
    decided_by: &MemberId,
) -> Result<(), ApiError> {
    decide(
        conn,
        request,
        JoinRequestStatus::Declined,
        decided_by,
        None,
        now(),
    )
}

fn decide(
    conn: &mut AnyConnection,
    request: &JoinRequest,
    status: JoinRequestStatus,
    decided_by: &MemberId,
    household: Option<&HouseholdId>,
    timestamp: NaiveDateTime,
) -> Result<(), ApiError> {
    let updated = diesel::update(
        join_requests::table
            .find(&request.id)
            .filter(join_requests::status.eq(JoinRequestStatus::Pending)),
    )
    .set((
        join_requests::status.eq(status),
        join_requests::decided_by.eq(decided_by),
        join_requests::decided_at.eq(timestamp),
        join_requests::household_id.eq(household),
    ))
    .execute(conn)?;
    if updated == 1 {
        Ok(())
    } else {
        Err(ApiError::Conflict(
            ErrorCode::AlreadyDecided,
            "this join request has already been decided".into(),
        ))
    }
}

/// How many join requests to an association wait for a decision.
pub fn count_pending_join_requests(
    conn: &mut AnyConnection,
    association: &AssociationId,
) -> QueryResult<i64> {
    join_requests::table
        .filter(join_requests::association_id.eq(association))
        .filter(join_requests::status.eq(JoinRequestStatus::Pending))
        .count()
        .get_result(conn)
}
