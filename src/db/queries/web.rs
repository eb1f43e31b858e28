//! The web pages' storage: browser sessions, one-time sign-in codes and members' display
//! preferences.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::db::models::{MemberPreferences, SignInCode, WebSession};
use crate::db::schema::{households, member_preferences, members, sign_in_codes, web_sessions};
use crate::db::{AnyConnection, write_transaction};
use crate::domain::{AssociationId, MemberId, new_id};

fn after(start: NaiveDateTime, secs: u64) -> NaiveDateTime {
    start + Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 2))
}

pub fn insert_session(
    conn: &mut AnyConnection,
    member: &MemberId,
    token_hash: String,
    csrf_token: String,
    ttl_secs: u64,
    at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(web_sessions::table)
        .values(WebSession {
            id: new_id(),
            member_id: member.clone(),
            token_hash,
            csrf_token,
            created_at: at,
            last_seen_at: at,
            expires_at: after(at, ttl_secs),
            revoked_at: None,
        })
        .execute(conn)
        .map(drop)
}

/// A session that is neither expired nor revoked, of a member who is not disabled.
pub fn find_live_session(
    conn: &mut AnyConnection,
    token_hash: &str,
    at: NaiveDateTime,
) -> QueryResult<Option<WebSession>> {
    web_sessions::table
        .inner_join(members::table)
        .filter(web_sessions::token_hash.eq(token_hash))
        .filter(web_sessions::revoked_at.is_null())
        .filter(web_sessions::expires_at.gt(at))
        .filter(members::disabled.eq(false))
        .select(WebSession::as_select())
        .first(conn)
        .optional()
}

/// Slides a session's expiry forward from `at`.
pub fn touch_session(
    conn: &mut AnyConnection,
    id: &str,
    ttl_secs: u64,
    at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(web_sessions::table.find(id))
        .set((
            web_sessions::last_seen_at.eq(at),
            web_sessions::expires_at.eq(after(at, ttl_secs)),
        ))
        .execute(conn)
        .map(drop)
}

/// Ends every sign-in of a member: browser sessions, API refresh tokens, unused sign-in
/// codes (a lost phone) and access tokens (the token generation moves on; the new one).
pub fn end_member_sign_ins(
    conn: &mut AnyConnection,
    member: &MemberId,
    at: NaiveDateTime,
) -> QueryResult<i64> {
    super::member_access::end_sign_ins_except(conn, member, None, at)?;
    diesel::update(
        sign_in_codes::table
            .filter(sign_in_codes::member_id.eq(member))
            .filter(sign_in_codes::used_at.is_null())
            .filter(sign_in_codes::revoked_at.is_null()),
    )
    .set(sign_in_codes::revoked_at.eq(at))
    .execute(conn)?;
    super::member_access::raise_token_generation(conn, member)
}

pub fn insert_sign_in_code(conn: &mut AnyConnection, code: &SignInCode) -> QueryResult<()> {
    diesel::insert_into(sign_in_codes::table)
        .values(code)
        .execute(conn)
        .map(drop)
}

/// The member a code would sign in, while it is unused, unrevoked and unexpired.
pub fn usable_sign_in_code(
    conn: &mut AnyConnection,
    token_hash: &str,
    at: NaiveDateTime,
) -> QueryResult<Option<SignInCode>> {
    sign_in_codes::table
        .inner_join(members::table.on(members::id.eq(sign_in_codes::member_id)))
        .filter(sign_in_codes::token_hash.eq(token_hash))
        .filter(sign_in_codes::used_at.is_null())
        .filter(sign_in_codes::revoked_at.is_null())
        .filter(sign_in_codes::expires_at.gt(at))
        .filter(members::disabled.eq(false))
        .select(SignInCode::as_select())
        .first(conn)
        .optional()
}

/// Marks a code used; false when another request spent it first.
pub fn spend_sign_in_code(
    conn: &mut AnyConnection,
    id: &str,
    at: NaiveDateTime,
) -> QueryResult<bool> {
    let spent = diesel::update(
        sign_in_codes::table
            .find(id)
            .filter(sign_in_codes::used_at.is_null())
            .filter(sign_in_codes::revoked_at.is_null()),
    )
    .set(sign_in_codes::used_at.eq(at))
    .execute(conn)?;
    Ok(spent == 1)
}

/// The association of a member's household, if they have one.
pub fn association_of_household_member(
    conn: &mut AnyConnection,
    member: &MemberId,
) -> QueryResult<Option<AssociationId>> {
    members::table
        .inner_join(households::table)
        .filter(members::id.eq(member))
        .filter(members::disabled.eq(false))
        .select(households::association_id)
        .first(conn)
        .optional()
}

pub fn preferences(
    conn: &mut AnyConnection,
    member: &MemberId,
) -> QueryResult<Option<MemberPreferences>> {
    member_preferences::table
        .find(member)
        .select(MemberPreferences::as_select())
        .first(conn)
        .optional()
}

/// Insert or replace a member's preferences.
pub fn save_preferences(conn: &mut AnyConnection, prefs: &MemberPreferences) -> QueryResult<()> {
    write_transaction(conn, |conn| {
        let updated = diesel::update(member_preferences::table.find(&prefs.member_id))
            .set(prefs)
            .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(member_preferences::table)
                .values(prefs)
                .execute(conn)?;
        }
        Ok(())
    })
}
