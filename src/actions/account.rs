//! A member's access to their account: signing out (one sign-in, a browser, everywhere), a
//! new password, and an officer disabling, enabling or removing a member who moved away.
//! Each raises the member's token generation in its transaction, so their access tokens stop
//! at once (`auth::generations`); all but a plain sign-out are audited.

use secrecy::{ExposeSecret, SecretString};

use crate::actions::Services;
use crate::actions::sessions::{self, Credentials};
use crate::auth::PasswordService;
use crate::auth::password::{MIN_PASSWORD_CHARS, check_new_password};
use crate::authz::{self, Principal, require_visible};
use crate::configuration::AuthSettings;
use crate::db::queries::associations::association_of_member;
use crate::db::queries::{accounts, audit, member_access, web as web_queries};
use crate::db::{AnyConnection, now};
use crate::domain::{AssociationId, AuditAction, MemberId};
use crate::error::{ApiError, ErrorCode, FieldError, Problem};
use crate::places::Moved;

/// Raises the member's generation in the caller's transaction; the new value, for
/// `remember_generation` after the commit.
fn end_access_tokens(conn: &mut AnyConnection, member: &MemberId) -> Result<i64, ApiError> {
    Ok(member_access::raise_token_generation(conn, member)?)
}

fn remember_generation(services: &Services, member: &MemberId, generation: i64) {
    services.token_generations.raised(member, generation);
}

/// Sign out of one sign-in: its refresh token's family is revoked and the member's access
/// tokens stop (other devices refresh theirs).
pub async fn sign_out(
    services: &Services,
    caller: &MemberId,
    refresh_token_hash: String,
) -> Result<(), ApiError> {
    let member = caller.clone();
    let generation = services
        .db
        .write(move |conn| {
            accounts::revoke_own_token(conn, &member, &refresh_token_hash)?;
            end_access_tokens(conn, &member)
        })
        .await?;
    remember_generation(services, caller, generation);
    Ok(())
}

/// Signs a browser out: its session ends, and so do the access tokens its scripts were
/// given (`/session/api-token`), with every other access token of the member.
pub async fn sign_out_browser(services: &Services, session_hash: String) -> Result<(), ApiError> {
    let ended = services
        .db
        .write(move |conn| {
            let Some(member) = member_access::revoke_session(conn, &session_hash, now())? else {
                return Ok(None);
            };
            Ok(Some((end_access_tokens(conn, &member)?, member)))
        })
        .await?;
    if let Some((generation, member)) = ended {
        remember_generation(services, &member, generation);
    }
    Ok(())
}

/// Ends every sign-in of the caller: refresh tokens, browser sessions (this one too),
/// unused sign-in codes and access tokens. Audited.
pub async fn sign_out_everywhere(services: &Services, caller: &MemberId) -> Result<(), ApiError> {
    let member = caller.clone();
    let generation = services
        .db
        .write(move |conn| {
            let p = Principal::load(conn, &member)?;
            let generation = web_queries::end_member_sign_ins(conn, &member, now())?;
            record_own(conn, &p, AuditAction::SignedOutEverywhere)?;
            Ok(generation)
        })
        .await?;
    remember_generation(services, caller, generation);
    Ok(())
}

fn record_own(
    conn: &mut AnyConnection,
    p: &Principal,
    action: AuditAction,
) -> Result<(), ApiError> {
    let (target, association) = (Some(p.member_id.as_str()), p.association_id.as_ref());
    let detail = serde_json::json!({});
    audit::record(conn, p, action, "member", target, association, detail)?;
    Ok(())
}

/// A password change, as asked.
pub struct PasswordChange {
    pub current: SecretString,
    pub new: SecretString,
    /// Counts toward the sign-in failure limits, as a sign-in would.
    pub client_address: String,
    /// The browser session that asked (its token hash), which stays signed in.
    pub keep_session: Option<String>,
}

/// Refused: the current password given is not the member's (the field `current_password`).
pub fn wrong_password() -> ApiError {
    let message = "the current password is not right";
    let error = FieldError::new("current_password", Problem::Wrong, message);
    ApiError::Field(ErrorCode::WrongPassword, Box::new(error))
}

/// Sets a new password after checking the current one (under the sign-in failure limits,
/// hashed and verified off the request threads). Every other sign-in ends: refresh tokens,
/// browser sessions but the one that asked, access tokens. Audited. Answers the new token
/// generation, for a fresh pair.
pub async fn change_password(
    services: &Services,
    passwords: &PasswordService,
    settings: &AuthSettings,
    caller: &MemberId,
    change: PasswordChange,
) -> Result<i64, ApiError> {
    let member = caller.clone();
    let login = services
        .db
        .run(move |conn| Ok(Principal::load(conn, &member)?.login.clone()))
        .await?;
    if change.current.expose_secret().is_empty() {
        let error = FieldError::new(
            "current_password",
            Problem::Empty,
            "give the current password",
        );
        return Err(ApiError::Field(ErrorCode::WrongPassword, Box::new(error)));
    }
    check_new_password(&change.new, Some(&login)).map_err(|m| {
        let weak = Problem::Weak {
            min: MIN_PASSWORD_CHARS,
        };
        ApiError::Field(
            ErrorCode::WeakPassword,
            Box::new(FieldError::new("new_password", weak, m)),
        )
    })?;
    let credentials = Credentials {
        login,
        password: change.current,
        client_address: change.client_address,
    };
    let verified = match sessions::sign_in(&services.db, passwords, settings, credentials).await {
        Ok(verified) => verified,
        Err(ApiError::Unauthorized(ErrorCode::InvalidCredentials, _)) => {
            return Err(wrong_password());
        }
        Err(other) => return Err(other),
    };
    if &verified != caller {
        return Err(wrong_password());
    }
    let hash = passwords.hash(change.new).await?;
    let (member, keep) = (caller.clone(), change.keep_session);
    let generation = services
        .db
        .write(move |conn| {
            let p = Principal::load(conn, &member)?;
            let at = now();
            member_access::set_password_hash(conn, &member, &hash, at)?;
            member_access::end_sign_ins_except(conn, &member, keep.as_deref(), at)?;
            let generation = end_access_tokens(conn, &member)?;
            record_own(conn, &p, AuditAction::PasswordChanged)?;
            Ok(generation)
        })
        .await?;
    remember_generation(services, caller, generation);
    Ok(generation)
}

/// Whether the member has a password to change (members who sign in by QR codes have none).
pub fn has_password(p: &Principal) -> bool {
    !p.login.starts_with("qr:")
}

/// A member of the caller's association as the access page shows them.
pub struct MemberAccess {
    pub member_id: MemberId,
    pub display_name: String,
    pub association_id: AssociationId,
    pub disabled: bool,
}

/// Loads a member whose access the caller may change: 404 for anyone else (someone in no
/// association, or not in one whose roster the caller keeps, or the caller).
fn managed_member(
    conn: &mut AnyConnection,
    caller: &MemberId,
    member: &MemberId,
) -> Result<(Principal, MemberAccess), ApiError> {
    let p = Principal::load(conn, caller)?;
    let not_found = || ApiError::NotFound("member");
    let standing = member_access::standing(conn, member)?.ok_or_else(not_found)?;
    let association = association_of_member(conn, member)?.ok_or_else(not_found)?;
    let allowed = authz::may_manage_member_access(&p, member, &association, &standing.roles);
    require_visible(allowed, "member")?;
    let access = MemberAccess {
        member_id: member.clone(),
        display_name: standing.display_name,
        association_id: association,
        disabled: standing.disabled,
    };
    Ok((p, access))
}

/// The member as the confirmation page shows them (whoever may change their access).
pub async fn member_access(
    services: &Services,
    caller: &MemberId,
    member: MemberId,
) -> Result<MemberAccess, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| Ok(managed_member(conn, &caller, &member)?.1))
        .await
}

/// Disables a member (no sign-in, every session and token ends at once) or enables them
/// again. Audited.
pub async fn set_disabled(
    services: &Services,
    caller: &MemberId,
    member: MemberId,
    disabled: bool,
) -> Result<MemberAccess, ApiError> {
    let caller = caller.clone();
    let (access, generation) = services
        .db
        .write(move |conn| {
            let (p, mut access) = managed_member(conn, &caller, &member)?;
            let at = now();
            member_access::set_disabled(conn, &member, disabled, at)?;
            let generation = if disabled {
                web_queries::end_member_sign_ins(conn, &member, at)?
            } else {
                member_access::token_generation(conn, &member)?.unwrap_or(0)
            };
            let action = if disabled {
                AuditAction::MemberDisabled
            } else {
                AuditAction::MemberEnabled
            };
            record_member(conn, &p, action, &access)?;
            access.disabled = disabled;
            Ok((access, generation))
        })
        .await?;
    remember_generation(services, &access.member_id, generation);
    let moved = Moved::Member(access.member_id.clone());
    services.inbox_cache.roster_changed(&[moved]);
    Ok(access)
}

/// Removes a member who moved away: out of their household, their roles ended, every
/// sign-in and token ended. Their account, what they did and the audit log stay (they may
/// join another association). Audited.
pub async fn remove(
    services: &Services,
    caller: &MemberId,
    member: MemberId,
) -> Result<(), ApiError> {
    let caller = caller.clone();
    let (member, generation) = services
        .db
        .write(move |conn| {
            let (p, access) = managed_member(conn, &caller, &member)?;
            let at = now();
            member_access::leave_association(conn, &member, at)?;
            let generation = web_queries::end_member_sign_ins(conn, &member, at)?;
            record_member(conn, &p, AuditAction::MemberRemoved, &access)?;
            Ok((member, generation))
        })
        .await?;
    remember_generation(services, &member, generation);
    services
        .inbox_cache
        .roster_changed(&[Moved::Member(member)]);
    Ok(())
}

fn record_member(
    conn: &mut AnyConnection,
    p: &Principal,
    action: AuditAction,
    access: &MemberAccess,
) -> Result<(), ApiError> {
    let target = Some(access.member_id.as_str());
    let association = Some(&access.association_id);
    let detail = serde_json::json!({"display_name": access.display_name});
    audit::record(conn, p, action, "member", target, association, detail)?;
    Ok(())
}
