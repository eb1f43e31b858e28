//! The officer's desk (`/officer`): the association a caller serves as officer, chair or
//! 班長, what waits for them there, and the sign-in QR sheet of a 班.

use crate::actions::Services;
use crate::actions::access::{caller_and_association, record_roster_read};
use crate::actions::sessions::{self, IssuedSignInCode};
use crate::authz::{self, Principal, require};
use crate::db::AnyConnection;
use crate::db::models::{Association, Han};
use crate::db::queries::associations::{self as roster, find_association};
use crate::db::queries::invitations::count_pending_join_requests;
use crate::domain::{AssociationId, AuditAction, HanId, MemberId, Role};
use crate::error::{ApiError, ErrorCode};

/// What an officer or 班長 sees first.
pub struct Desk {
    pub association: Association,
    /// Officers and the chair keep the roster; a 班長 only sees their 班.
    pub keeps_roster: bool,
    /// The hans the caller may list: all for officers, their own for a 班長.
    pub hans: Vec<Han>,
    /// Join requests waiting for a decision (0 for a 班長, who does not decide them).
    pub pending_join_requests: i64,
}

/// The association whose desk the caller opens: the one they are an officer or chair of,
/// else their own when they lead a 班 (whether the 班 is there, `authz` decides).
fn served_association(p: &Principal) -> Option<AssociationId> {
    p.roles
        .iter()
        .find(|g| matches!(g.role, Role::Officer | Role::Chair))
        .and_then(|g| g.scope_id.clone().map(AssociationId))
        .or_else(|| {
            (!p.led_hans().is_empty())
                .then(|| p.association_id.clone())
                .flatten()
        })
}

fn load_desk(conn: &mut AnyConnection, caller: &MemberId) -> Result<Desk, ApiError> {
    let p = Principal::load(conn, caller)?;
    let id = served_association(&p).ok_or(ApiError::Forbidden)?;
    let association = find_association(conn, &id)?;
    let all = roster::list_hans(conn, &id)?;
    let ids: Vec<HanId> = all.iter().map(|h| h.id.clone()).collect();
    let only = authz::listable_hans(&p, &id, &ids)?;
    let hans = all
        .into_iter()
        .filter(|h| only.as_ref().is_none_or(|only| only.contains(&h.id)))
        .collect();
    let keeps_roster = authz::may_manage_roster(&p, &id);
    let pending_join_requests = if keeps_roster {
        count_pending_join_requests(conn, &id)?
    } else {
        0
    };
    Ok(Desk {
        association,
        keeps_roster,
        hans,
        pending_join_requests,
    })
}

/// The caller's desk: 403 for anyone who is not an officer, chair or 班長.
pub async fn desk(services: &Services, caller: &MemberId) -> Result<Desk, ApiError> {
    let caller = caller.clone();
    services.db.run(move |conn| load_desk(conn, &caller)).await
}

/// A member of a 班 as the sign-in sheet lists them.
pub struct SheetMember {
    pub id: MemberId,
    pub display_name: String,
    pub household: String,
}

/// The members of a 班's households, by household: for those who may print their sign-in
/// codes (404 for a 班 of another association, 403 for anyone else).
fn han_members(
    conn: &mut AnyConnection,
    p: &Principal,
    association: &AssociationId,
    han: &HanId,
) -> Result<(Han, Vec<SheetMember>), ApiError> {
    require(authz::may_issue_sign_in_codes(p, association))?;
    // The 班 is named by the path here, not by a form: another association's is not found.
    let han = roster::han_of(conn, association, han).map_err(|e| match e.code() {
        ErrorCode::UnknownHan => ApiError::NotFound("han"),
        _ => e,
    })?;
    let households =
        roster::list_households(conn, association, Some(std::slice::from_ref(&han.id)))?;
    let mut members = Vec::new();
    for row in roster::list_members(conn, association)? {
        let Some(household) = households
            .iter()
            .find(|h| row.household_id.as_ref() == Some(&h.household.id))
        else {
            continue;
        };
        members.push(SheetMember {
            id: row.id,
            display_name: row.display_name,
            household: household.household.label.clone(),
        });
    }
    members.sort_by(|a, b| (&a.household, &a.display_name).cmp(&(&b.household, &b.display_name)));
    Ok((han, members))
}

/// The members of a 班, to choose whose sign-in QR codes to print (officers). Audited as a
/// read of the roster.
pub async fn han_sheet(
    services: &Services,
    caller: &MemberId,
    association: AssociationId,
    han: HanId,
) -> Result<(Han, Vec<SheetMember>), ApiError> {
    let caller = caller.clone();
    services
        .db
        .write(move |conn| {
            let (p, association) = caller_and_association(conn, &caller, &association)?;
            let sheet = han_members(conn, &p, &association.id, &han)?;
            let action = AuditAction::RosterMembersRead;
            record_roster_read(conn, &p, action, &association.id, sheet.1.len())?;
            Ok(sheet)
        })
        .await
}

/// Issues a one-time sign-in code for each chosen member of a 班, to print on one sheet.
/// Every chosen member must be in the 班 (404 otherwise, before any code is issued); each
/// code ends that member's other sign-ins and is audited, as `issue_sign_in_code` does.
pub async fn issue_han_sign_in_codes(
    services: &Services,
    caller: &MemberId,
    association: AssociationId,
    han: HanId,
    chosen: Vec<MemberId>,
    ttl_secs: u64,
) -> Result<(Han, Vec<(SheetMember, IssuedSignInCode)>), ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            let (p, association) = caller_and_association(conn, &caller, &association)?;
            let (han, members) = han_members(conn, &p, &association.id, &han)?;
            if chosen.iter().any(|id| !members.iter().any(|m| &m.id == id)) {
                return Err(ApiError::NotFound("member"));
            }
            let mut issued = Vec::new();
            for member in members.into_iter().filter(|m| chosen.contains(&m.id)) {
                let code = sessions::issue_sign_in_code(conn, &p, &member.id, ttl_secs)?;
                issued.push((member, code));
            }
            Ok((han, issued))
        })
        .await
}
