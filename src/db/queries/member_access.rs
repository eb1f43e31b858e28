//! A member's access to their account: the token generation, the password, disabling, and
//! leaving an association. Ending sign-ins is `web::end_member_sign_ins`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::changes::{Change, announce};
use crate::db::schema::{members, refresh_tokens, role_assignments, web_sessions};
use crate::domain::{HouseholdId, MemberId, Role};
use crate::places::Moved;

/// The generation access tokens of the member must carry; None for an unknown member.
pub fn token_generation(conn: &mut AnyConnection, member: &MemberId) -> QueryResult<Option<i64>> {
    members::table
        .find(member)
        .select(members::token_generation)
        .first(conn)
        .optional()
}

/// The generations of those of `ids` who still exist.
pub fn token_generations(
    conn: &mut AnyConnection,
    ids: &[MemberId],
) -> QueryResult<std::collections::HashMap<MemberId, i64>> {
    let rows: Vec<(MemberId, i64)> = members::table
        .filter(members::id.eq_any(ids))
        .select((members::id, members::token_generation))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

/// Moves the member's generation on, so every access token issued before stops; the new one.
/// Other instances hear of it at commit (`Change::Tokens`).
pub fn raise_token_generation(conn: &mut AnyConnection, member: &MemberId) -> QueryResult<i64> {
    announce(conn, &[Change::Tokens(member.clone())])?;
    diesel::update(members::table.find(member))
        .set(members::token_generation.eq(members::token_generation + 1))
        .execute(conn)?;
    members::table
        .find(member)
        .select(members::token_generation)
        .first(conn)
}

/// The stored password hash (empty for a member who signs in by QR codes only).
pub fn password_hash(conn: &mut AnyConnection, member: &MemberId) -> QueryResult<String> {
    members::table
        .find(member)
        .select(members::password_hash)
        .first(conn)
}

pub fn set_password_hash(
    conn: &mut AnyConnection,
    member: &MemberId,
    hash: &str,
    at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(members::table.find(member))
        .set((members::password_hash.eq(hash), members::updated_at.eq(at)))
        .execute(conn)
        .map(drop)
}

/// Revokes the member's refresh tokens and browser sessions, except the browser session
/// whose token hash is `keep` (the one that asked).
pub fn end_sign_ins_except(
    conn: &mut AnyConnection,
    member: &MemberId,
    keep: Option<&str>,
    at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::member_id.eq(member))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(at))
    .execute(conn)?;
    let sessions = web_sessions::table
        .filter(web_sessions::member_id.eq(member))
        .filter(web_sessions::revoked_at.is_null())
        .filter(web_sessions::token_hash.ne(keep.unwrap_or_default()));
    diesel::update(sessions)
        .set(web_sessions::revoked_at.eq(at))
        .execute(conn)
        .map(drop)
}

/// Revokes a live browser session by its token hash; its member, if it was live.
pub fn revoke_session(
    conn: &mut AnyConnection,
    token_hash: &str,
    at: NaiveDateTime,
) -> QueryResult<Option<MemberId>> {
    let live = web_sessions::table
        .filter(web_sessions::token_hash.eq(token_hash))
        .filter(web_sessions::revoked_at.is_null());
    let member = live
        .select(web_sessions::member_id)
        .first::<MemberId>(conn)
        .optional()?;
    diesel::update(live)
        .set(web_sessions::revoked_at.eq(at))
        .execute(conn)?;
    Ok(member)
}

/// A member as an officer sees them before changing their access.
pub struct MemberStanding {
    pub display_name: String,
    pub household_id: Option<HouseholdId>,
    pub disabled: bool,
    /// Roles held now, resident included.
    pub roles: Vec<Role>,
}

pub fn standing(
    conn: &mut AnyConnection,
    member: &MemberId,
) -> QueryResult<Option<MemberStanding>> {
    let Some((display_name, household_id, disabled)) = members::table
        .find(member)
        .select((
            members::display_name,
            members::household_id,
            members::disabled,
        ))
        .first::<(String, Option<HouseholdId>, bool)>(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let roles = role_assignments::table
        .filter(role_assignments::member_id.eq(member))
        .filter(role_assignments::ended_at.is_null())
        .select(role_assignments::role)
        .load(conn)?;
    Ok(Some(MemberStanding {
        display_name,
        household_id,
        disabled,
        roles,
    }))
}

pub fn set_disabled(
    conn: &mut AnyConnection,
    member: &MemberId,
    disabled: bool,
    at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(members::table.find(member))
        .set((members::disabled.eq(disabled), members::updated_at.eq(at)))
        .execute(conn)?;
    announce(conn, &[Change::Roster(Moved::Member(member.clone()))])
}

/// Takes the member out of their household and ends the roles they hold; the rows of what
/// they did (receipts, answers, posts, the audit log) stay.
pub fn leave_association(
    conn: &mut AnyConnection,
    member: &MemberId,
    at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(members::table.find(member))
        .set((
            members::household_id.eq(None::<HouseholdId>),
            members::updated_at.eq(at),
        ))
        .execute(conn)?;
    diesel::update(
        role_assignments::table
            .filter(role_assignments::member_id.eq(member))
            .filter(role_assignments::ended_at.is_null()),
    )
    .set(role_assignments::ended_at.eq(at))
    .execute(conn)?;
    announce(conn, &[Change::Roster(Moved::Member(member.clone()))])
}
