//! Sign-in, refresh tokens, rate-limit counters and registration.

use crate::domain::new_id;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::db::models::{
    Household, Invitation, LoginFailure, Member, RefreshToken, RoleAssignment,
};
use crate::db::schema::{
    associations, households, invitations, login_failures, members, refresh_tokens,
    role_assignments,
};
use crate::db::{AnyConnection, now, write_transaction};
use crate::domain::{
    AssociationId, HouseholdId, InvitationId, Login, MemberId, Role, RoleAssignmentId, fiscal_year,
};
use crate::error::{ApiError, ErrorCode};

pub fn find_login(
    conn: &mut AnyConnection,
    login: &Login,
) -> QueryResult<Option<(MemberId, String, bool)>> {
    members::table
        .filter(members::login.eq(login.as_str()))
        .select((members::id, members::password_hash, members::disabled))
        .first(conn)
        .optional()
}

/// Seconds until the caller may try again, when this account from this address, or the
/// address over all accounts, is over its limit.
pub fn sign_in_blocked_for(
    conn: &mut AnyConnection,
    login: &str,
    address: &str,
    per_account: u32,
    per_address: u32,
) -> QueryResult<Option<u64>> {
    let window_start = now() - Duration::hours(1);
    let oldest_blocking = |conn: &mut AnyConnection,
                           by_login: bool,
                           limit: u32|
     -> QueryResult<Option<NaiveDateTime>> {
        let mut query = login_failures::table
            .filter(login_failures::created_at.gt(window_start))
            .select(login_failures::created_at)
            .order(login_failures::created_at.desc())
            .offset(i64::from(limit) - 1)
            .limit(1)
            .into_boxed();
        query = if by_login {
            // Per account from this address: a guesser elsewhere cannot lock the owner out.
            query
                .filter(login_failures::login.eq(login.to_string()))
                .filter(login_failures::client_address.eq(address.to_string()))
        } else {
            query.filter(login_failures::client_address.eq(address.to_string()))
        };
        // The limit-th newest failure inside the window: while it is there, the caller waits.
        query.first(conn).optional()
    };
    let account = oldest_blocking(conn, true, per_account)?;
    let address_block = oldest_blocking(conn, false, per_address)?;
    let until = account
        .into_iter()
        .chain(address_block)
        .min()
        .map(|t| t + Duration::hours(1));
    Ok(until.map(|t| u64::try_from((t - now()).num_seconds().max(1)).unwrap_or(1)))
}

pub fn record_failure(conn: &mut AnyConnection, login: &str, address: &str) -> QueryResult<()> {
    // Failures older than the window no longer count; drop this login's and address's.
    let window_start = now() - Duration::hours(1);
    diesel::delete(
        login_failures::table
            .filter(
                login_failures::login
                    .eq(login)
                    .or(login_failures::client_address.eq(address)),
            )
            .filter(login_failures::created_at.lt(window_start)),
    )
    .execute(conn)?;
    diesel::insert_into(login_failures::table)
        .values(LoginFailure {
            id: new_id(),
            login: login.to_string(),
            client_address: address.to_string(),
            created_at: now(),
        })
        .execute(conn)
        .map(drop)
}

pub fn clear_failures(conn: &mut AnyConnection, login: &str) -> QueryResult<()> {
    diesel::delete(login_failures::table.filter(login_failures::login.eq(login)))
        .execute(conn)
        .map(drop)
}

/// Stores a refresh token (its hash) for a family; a new family on sign-in.
pub fn store_refresh_token(
    conn: &mut AnyConnection,
    member: &MemberId,
    family_id: &str,
    token_hash: String,
    ttl_secs: u64,
) -> QueryResult<()> {
    let created_at = now();
    diesel::insert_into(refresh_tokens::table)
        .values(RefreshToken {
            id: new_id(),
            member_id: member.clone(),
            family_id: family_id.to_string(),
            token_hash,
            expires_at: created_at
                + Duration::seconds(i64::try_from(ttl_secs).unwrap_or(i64::MAX / 2)),
            created_at,
            spent_at: None,
            revoked_at: None,
        })
        .execute(conn)
        .map(drop)
}

pub enum RefreshOutcome {
    Rotated(MemberId),
    Invalid,
    /// A spent or revoked token came back: its family is now revoked.
    Reused,
}

/// Spends a refresh token and stores its successor, in one transaction. A second use of the
/// same token (a thief's or a replay) revokes the whole family.
pub fn rotate_refresh_token(
    conn: &mut AnyConnection,
    presented_hash: &str,
    successor_hash: String,
    ttl_secs: u64,
) -> QueryResult<RefreshOutcome> {
    write_transaction(conn, |conn| {
        let Some(token) = refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(presented_hash))
            .select(RefreshToken::as_select())
            .first(conn)
            .optional()?
        else {
            return Ok(RefreshOutcome::Invalid);
        };
        let timestamp = now();
        if token.spent_at.is_some() || token.revoked_at.is_some() {
            revoke_family(conn, &token.family_id)?;
            return Ok(RefreshOutcome::Reused);
        }
        if token.expires_at <= timestamp {
            return Ok(RefreshOutcome::Invalid);
        }
        let spent = diesel::update(
            refresh_tokens::table
                .filter(refresh_tokens::id.eq(&token.id))
                .filter(refresh_tokens::spent_at.is_null())
                .filter(refresh_tokens::revoked_at.is_null()),
        )
        .set(refresh_tokens::spent_at.eq(timestamp))
        .execute(conn)?;
        if spent != 1 {
            // Spent by a concurrent request a moment ago: the same replay.
            revoke_family(conn, &token.family_id)?;
            return Ok(RefreshOutcome::Reused);
        }
        let active = members::table
            .filter(members::id.eq(&token.member_id))
            .filter(members::disabled.eq(false))
            .count()
            .get_result::<i64>(conn)?;
        if active == 0 {
            return Ok(RefreshOutcome::Invalid);
        }
        store_refresh_token(
            conn,
            &token.member_id,
            &token.family_id,
            successor_hash,
            ttl_secs,
        )?;
        Ok(RefreshOutcome::Rotated(token.member_id))
    })
}

fn revoke_family(conn: &mut AnyConnection, family_id: &str) -> QueryResult<()> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now()))
    .execute(conn)
    .map(drop)
}

/// Logout: revokes the family of the member's own token; anything else changes nothing.
pub fn revoke_own_token(
    conn: &mut AnyConnection,
    member: &MemberId,
    token_hash: &str,
) -> QueryResult<()> {
    let family = refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .filter(refresh_tokens::member_id.eq(member))
        .select(refresh_tokens::family_id)
        .first::<String>(conn)
        .optional()?;
    match family {
        Some(family) => revoke_family(conn, &family),
        None => Ok(()),
    }
}

pub struct Registration {
    /// None: a member without a password, who signs in by sign-in QR codes.
    pub credentials: Option<(Login, String)>,
    pub display_name: String,
    pub invitation_code_hash: Option<String>,
}

/// A role beyond resident that an invitation gave on registration: what its audit entry
/// names.
pub struct InvitedRole {
    pub role: Role,
    pub invitation_id: InvitationId,
    /// The officer who issued the invitation.
    pub issued_by: Option<MemberId>,
    pub association_id: AssociationId,
}

pub struct Registered {
    pub member_id: MemberId,
    pub invited_role: Option<InvitedRole>,
}

/// The stored login of a member without one: unique, and never a valid `Login`, so no
/// password sign-in can reach it.
fn login_placeholder(member: &MemberId) -> String {
    format!("qr:{member}")
}

/// Creates the member, and with an invitation their household and roles, in one
/// transaction: a refused registration leaves no trace and uses up nothing.
pub fn register(
    conn: &mut AnyConnection,
    registration: Registration,
) -> Result<Registered, ApiError> {
    write_transaction(conn, |conn| {
        // The invitation first: a bad code must not tell whether a login exists.
        let timestamp = now();
        let invitation = match &registration.invitation_code_hash {
            Some(code_hash) => Some(use_invitation(conn, code_hash, timestamp)?),
            None => None,
        };
        if let Some((login, _)) = &registration.credentials {
            let taken = members::table
                .filter(members::login.eq(login.as_str()))
                .count()
                .get_result::<i64>(conn)?;
            if taken > 0 {
                return Err(login_taken());
            }
        }
        let member_id = MemberId::generate();
        let (login, password_hash) = match registration.credentials {
            Some((login, hash)) => (Some(login.into_inner()), Some(hash)),
            None => (None, None),
        };
        let household_id = match &invitation {
            Some(invitation) => Some(match &invitation.household_id {
                Some(household) => household.clone(),
                None => create_household(
                    conn,
                    &invitation.association_id,
                    &registration.display_name,
                    timestamp,
                )?,
            }),
            None => None,
        };
        diesel::insert_into(members::table)
            .values(Member {
                id: member_id.clone(),
                household_id: household_id.clone(),
                login: login.unwrap_or_else(|| login_placeholder(&member_id)),
                // An empty hash verifies no password.
                password_hash: password_hash.unwrap_or_default(),
                display_name: registration.display_name,
                disabled: false,
                created_at: timestamp,
                updated_at: timestamp,
            })
            .execute(conn)
            .map_err(|e| match ApiError::from(e) {
                ApiError::Conflict(..) => login_taken(),
                other => other,
            })?;
        let invited_role = invitation.as_ref().and_then(|invitation| {
            invitation.role.map(|role| InvitedRole {
                role,
                invitation_id: invitation.id.clone(),
                issued_by: invitation.created_by.clone(),
                association_id: invitation.association_id.clone(),
            })
        });
        if let (Some(invitation), Some(household_id)) = (invitation, household_id) {
            grant(
                conn,
                &member_id,
                Role::Resident,
                Some(invitation.association_id.to_string()),
                None,
                timestamp,
            )?;
            match invitation.role {
                Some(Role::HanLeader) => {
                    let han = households::table
                        .find(&household_id)
                        .select(households::han_id)
                        .first::<Option<crate::domain::HanId>>(conn)?
                        .ok_or_else(|| {
                            ApiError::Validation(
                                ErrorCode::InvitationInvalid,
                                "this invitation names a household without a han".into(),
                            )
                        })?;
                    grant(
                        conn,
                        &member_id,
                        Role::HanLeader,
                        Some(han.to_string()),
                        invitation.created_by.clone(),
                        timestamp,
                    )?;
                }
                Some(role @ (Role::Officer | Role::Chair)) => {
                    grant(
                        conn,
                        &member_id,
                        role,
                        Some(invitation.association_id.to_string()),
                        invitation.created_by.clone(),
                        timestamp,
                    )?;
                }
                _ => {}
            }
        }
        Ok(Registered {
            member_id,
            invited_role,
        })
    })
}

fn login_taken() -> ApiError {
    ApiError::Conflict(
        ErrorCode::LoginTaken,
        "this login is already registered".into(),
    )
}

/// Counts one use of a valid invitation, or says why it cannot be used.
fn use_invitation(
    conn: &mut AnyConnection,
    code_hash: &str,
    timestamp: NaiveDateTime,
) -> Result<Invitation, ApiError> {
    let invitation = invitations::table
        .filter(invitations::code_hash.eq(code_hash))
        .filter(invitations::revoked_at.is_null())
        .select(Invitation::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(invitation_invalid)?;
    check_invitation(&invitation, timestamp)?;
    let used = diesel::update(
        invitations::table
            .filter(invitations::id.eq(&invitation.id))
            .filter(invitations::uses.lt(invitations::max_uses)),
    )
    .set(invitations::uses.eq(invitations::uses + 1))
    .execute(conn)?;
    if used != 1 {
        return Err(invitation_used_up());
    }
    Ok(invitation)
}

fn invitation_invalid() -> ApiError {
    ApiError::Validation(
        ErrorCode::InvitationInvalid,
        "this invitation code is not valid".into(),
    )
}

fn invitation_used_up() -> ApiError {
    ApiError::Validation(
        ErrorCode::InvitationUsedUp,
        "this invitation has been used as often as allowed".into(),
    )
}

/// Whether an invitation can still be used at `timestamp`: not revoked, not expired, not
/// used up.
fn check_invitation(invitation: &Invitation, timestamp: NaiveDateTime) -> Result<(), ApiError> {
    if invitation.revoked_at.is_some() {
        return Err(invitation_invalid());
    }
    if invitation.expires_at <= timestamp {
        return Err(ApiError::Validation(
            ErrorCode::InvitationExpired,
            "this invitation has expired; ask your 町会 for a new one".into(),
        ));
    }
    if invitation.uses >= invitation.max_uses {
        return Err(invitation_used_up());
    }
    Ok(())
}

/// The association an invitation code would join, or why it cannot be used; uses nothing.
pub fn invitation_association(
    conn: &mut AnyConnection,
    code_hash: &str,
) -> Result<String, ApiError> {
    let (invitation, association_name) = invitations::table
        .inner_join(associations::table)
        .filter(invitations::code_hash.eq(code_hash))
        .filter(associations::archived.eq(false))
        .select((Invitation::as_select(), associations::name))
        .first::<(Invitation, String)>(conn)
        .optional()?
        .ok_or_else(invitation_invalid)?;
    check_invitation(&invitation, now())?;
    Ok(association_name)
}

pub fn create_household(
    conn: &mut AnyConnection,
    association: &AssociationId,
    label: &str,
    timestamp: NaiveDateTime,
) -> QueryResult<HouseholdId> {
    let id = HouseholdId::generate();
    diesel::insert_into(households::table)
        .values(Household {
            id: id.clone(),
            association_id: association.clone(),
            han_id: None,
            label: label.to_string(),
            paper: false,
            created_at: timestamp,
            updated_at: timestamp,
        })
        .execute(conn)?;
    Ok(id)
}

pub fn grant(
    conn: &mut AnyConnection,
    member: &MemberId,
    role: Role,
    scope_id: Option<String>,
    granted_by: Option<MemberId>,
    timestamp: NaiveDateTime,
) -> QueryResult<RoleAssignment> {
    grant_for_term(
        conn,
        member,
        role,
        scope_id,
        granted_by,
        timestamp,
        fiscal_year(timestamp),
    )
}

pub fn grant_for_term(
    conn: &mut AnyConnection,
    member: &MemberId,
    role: Role,
    scope_id: Option<String>,
    granted_by: Option<MemberId>,
    timestamp: NaiveDateTime,
    term_year: i32,
) -> QueryResult<RoleAssignment> {
    let assignment = RoleAssignment {
        id: RoleAssignmentId::generate(),
        member_id: member.clone(),
        role,
        scope_id,
        term_year,
        granted_by,
        started_at: timestamp,
        ended_at: None,
    };
    diesel::insert_into(role_assignments::table)
        .values(&assignment)
        .execute(conn)?;
    Ok(assignment)
}

/// A city staff member or admin: no household.
pub fn create_staff(
    conn: &mut AnyConnection,
    login: &Login,
    display_name: &str,
    password_hash: &str,
    role: Role,
    granted_by: Option<&MemberId>,
) -> Result<Member, ApiError> {
    write_transaction(conn, |conn| {
        let timestamp = now();
        let member = Member {
            id: MemberId::generate(),
            household_id: None,
            login: login.as_str().to_string(),
            password_hash: password_hash.to_string(),
            display_name: display_name.to_string(),
            disabled: false,
            created_at: timestamp,
            updated_at: timestamp,
        };
        diesel::insert_into(members::table)
            .values(&member)
            .execute(conn)
            .map_err(|e| match ApiError::from(e) {
                ApiError::Conflict(..) => login_taken(),
                other => other,
            })?;
        grant(conn, &member.id, role, None, granted_by.cloned(), timestamp)?;
        Ok(member)
    })
}
