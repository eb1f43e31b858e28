//! Signing in and joining: the password sign-in with its rate limits, registration with an
//! invitation, one-time sign-in QR codes, and the first admin.

use chrono::{Duration, NaiveDateTime};
use secrecy::{ExposeSecret, SecretString};

use crate::auth::PasswordService;
use crate::auth::jwt::{random_token, sha256_hex};
use crate::auth::limiter::RegistrationLimiter;
use crate::auth::password::check_new_password;
use crate::authz::{self, Principal};
use crate::configuration::AuthSettings;
use crate::db::models::{Member, SignInCode};
use crate::db::queries::audit::{record, record_for};
use crate::db::queries::{accounts, members, web as web_queries};
use crate::db::{AnyConnection, Db, now, write_transaction};
use crate::domain::{AuditAction, Login, MemberId, Role, new_id, normalize_invitation_code};
use crate::error::{ApiError, ErrorCode};

/// Who is signing in and from where: the address counts toward the per-address limit.
pub struct Credentials {
    pub login: String,
    pub password: SecretString,
    pub client_address: String,
}

pub fn invalid_credentials() -> ApiError {
    ApiError::Unauthorized(
        ErrorCode::InvalidCredentials,
        "the login or the password is wrong",
    )
}

/// Checks a login and password under the failure limits per account from one address and
/// per address over all accounts (429 while over them); each failure counts, a success
/// clears the account's failures.
pub async fn sign_in(
    db: &Db,
    passwords: &PasswordService,
    settings: &AuthSettings,
    credentials: Credentials,
) -> Result<MemberId, ApiError> {
    let Credentials {
        login,
        password,
        client_address,
    } = credentials;
    let login_key = Login::parse(&login)
        .map(Login::into_inner)
        .unwrap_or_else(|_| normalize_failed_login(&login));
    let (per_account, per_address) = (
        settings.max_failures_per_account_hour,
        settings.max_failures_per_address_hour,
    );
    let found = {
        let (login_key, address) = (login_key.clone(), client_address.clone());
        db.run(move |conn| {
            if let Some(retry_after_secs) =
                accounts::sign_in_blocked_for(conn, &login_key, &address, per_account, per_address)?
            {
                return Err(ApiError::TooManyRequests { retry_after_secs });
            }
            match Login::parse(&login_key) {
                Ok(login) => Ok(accounts::find_login(conn, &login)?),
                Err(_) => Ok(None),
            }
        })
        .await?
    };
    let (member, stored_hash) = match found {
        Some((member, hash, false)) => (Some(member), Some(hash)),
        _ => (None, None),
    };
    let verified = passwords.verify(stored_hash, password).await?;
    match member {
        Some(member) if verified => {
            db.run(move |conn| Ok(accounts::clear_failures(conn, &login_key)?))
                .await?;
            Ok(member)
        }
        _ => {
            db.run(move |conn| Ok(accounts::record_failure(conn, &login_key, &client_address)?))
                .await?;
            Err(invalid_credentials())
        }
    }
}

/// Keys failures of unparseable logins too, capped so the table cannot be fed huge strings.
fn normalize_failed_login(raw: &str) -> String {
    raw.trim().to_lowercase().chars().take(254).collect()
}

/// A new account, parsed at the edge. Without credentials the member signs in by this
/// browser's session and later by sign-in QR codes an officer prints.
pub struct NewAccount {
    pub invitation_code: Option<String>,
    /// Normalized, 1 to 100 characters (`OneLine<100>`).
    pub display_name: String,
    pub credentials: Option<(Login, SecretString)>,
    /// Counts toward the per-address registration limit.
    pub client_address: String,
}

/// Creates the member (with an invitation: in its association's household), after the
/// per-address limit (429) and the password rules, hashing off the request threads. The
/// invitation is checked before the login, so a bad code tells nothing about logins.
pub async fn register(
    db: &Db,
    passwords: &PasswordService,
    limiter: &RegistrationLimiter,
    account: NewAccount,
) -> Result<MemberId, ApiError> {
    limiter
        .0
        .attempt(&account.client_address)
        .map_err(|retry_after_secs| ApiError::TooManyRequests { retry_after_secs })?;
    let credentials = match account.credentials {
        Some((login, password)) => {
            check_new_password(&password, Some(login.as_str()))
                .map_err(|m| ApiError::Validation(ErrorCode::WeakPassword, m))?;
            Some((login, passwords.hash(password).await?))
        }
        None => None,
    };
    let invitation_code_hash = account
        .invitation_code
        .filter(|c| !c.trim().is_empty())
        .map(|c| invitation_code_hash(&c));
    let registration = accounts::Registration {
        credentials,
        display_name: account.display_name,
        invitation_code_hash,
    };
    db.write(move |conn| {
        if let Some(code_hash) = &registration.invitation_code_hash {
            crate::actions::invitations::check_issuer(conn, code_hash)?;
        }
        let registered = accounts::register(conn, registration)?;
        record_invited_role(conn, &registered)?;
        Ok(registered.member_id)
    })
    .await
}

/// The audit entry for a role an invitation gave, in the registration's transaction; its
/// actor is the officer who issued the invitation.
fn record_invited_role(
    conn: &mut AnyConnection,
    registered: &accounts::Registered,
) -> Result<(), ApiError> {
    let Some(invited) = &registered.invited_role else {
        return Ok(());
    };
    let detail = serde_json::json!({
        "role": invited.role.as_str(),
        "invitation_id": invited.invitation_id.as_str(),
    });
    record_for(
        conn,
        invited.issued_by.as_ref(),
        AuditAction::RoleGrantedByInvitation,
        "member",
        Some(registered.member_id.as_str()),
        Some(&invited.association_id),
        detail,
    )?;
    Ok(())
}

fn invitation_code_hash(code: &str) -> String {
    sha256_hex(&normalize_invitation_code(code))
}

/// The name of the association an invitation code joins, or why it cannot be used.
pub fn invitation_association(conn: &mut AnyConnection, code: &str) -> Result<String, ApiError> {
    accounts::invitation_association(conn, &invitation_code_hash(code))
}

/// A sign-in QR code's secret and when it stops working.
pub struct IssuedSignInCode {
    pub token: SecretString,
    pub expires_at: NaiveDateTime,
}

/// An officer issues a one-time sign-in code for a member of their association. The
/// member's other sign-ins end (a lost phone), and so do their unused codes. Audited.
pub fn issue_sign_in_code(
    conn: &mut AnyConnection,
    p: &Principal,
    member: &MemberId,
    ttl_secs: u64,
) -> Result<IssuedSignInCode, ApiError> {
    let association = web_queries::association_of_household_member(conn, member)?
        .ok_or(ApiError::NotFound("member"))?;
    authz::require_visible(authz::may_issue_sign_in_codes(p, &association), "member")?;
    let token = random_token();
    let at = now();
    let expires_at = at + Duration::seconds(i64::try_from(ttl_secs).unwrap_or(i64::MAX / 2));
    let code = SignInCode {
        id: new_id(),
        member_id: member.clone(),
        token_hash: sha256_hex(token.expose_secret()),
        created_by: Some(p.member_id.clone()),
        created_at: at,
        expires_at,
        used_at: None,
        revoked_at: None,
    };
    write_transaction(conn, |conn| {
        web_queries::end_member_sign_ins(conn, member, at)?;
        web_queries::insert_sign_in_code(conn, &code)?;
        let detail =
            serde_json::json!({"sign_in_code_id": code.id, "expires_at": expires_at.and_utc()});
        record(
            conn,
            p,
            AuditAction::SignInCodeIssued,
            "member",
            Some(member.as_str()),
            Some(&association),
            detail,
        )?;
        Ok::<_, ApiError>(())
    })?;
    Ok(IssuedSignInCode { token, expires_at })
}

fn sign_in_code_invalid() -> ApiError {
    ApiError::Validation(
        ErrorCode::SignInCodeInvalid,
        "this sign-in code is used, expired or unknown; ask your 町会 for a new one".into(),
    )
}

/// Whether a sign-in code would still work; spends nothing (a link preview must not).
pub fn check_sign_in_code(conn: &mut AnyConnection, token: &str) -> Result<(), ApiError> {
    web_queries::usable_sign_in_code(conn, &sha256_hex(token), now())?
        .map(drop)
        .ok_or_else(sign_in_code_invalid)
}

/// Spends a sign-in code once and names its member; a second use is refused. Audited.
pub fn redeem_sign_in_code(conn: &mut AnyConnection, token: &str) -> Result<MemberId, ApiError> {
    let hash = sha256_hex(token);
    write_transaction(conn, |conn| {
        let at = now();
        let code =
            web_queries::usable_sign_in_code(conn, &hash, at)?.ok_or_else(sign_in_code_invalid)?;
        if !web_queries::spend_sign_in_code(conn, &code.id, at)? {
            return Err(sign_in_code_invalid());
        }
        let association = web_queries::association_of_household_member(conn, &code.member_id)?;
        record_for(
            conn,
            Some(&code.member_id),
            AuditAction::SignInCodeUsed,
            "member",
            Some(code.member_id.as_str()),
            association.as_ref(),
            serde_json::json!({"sign_in_code_id": code.id}),
        )?;
        Ok(code.member_id)
    })
}

/// How a city admin came to be, for the audit log.
#[derive(Debug, Clone, Copy)]
pub enum AdminOrigin {
    CommandLine,
    /// The one-time set-up page, which only works while there is no admin.
    SetUpPage,
}

/// Creates a city admin, audited. From the set-up page only while no admin exists.
pub fn create_admin(
    conn: &mut AnyConnection,
    login: &Login,
    display_name: &str,
    password_hash: &str,
    origin: AdminOrigin,
) -> Result<Member, ApiError> {
    write_transaction(conn, |conn| {
        if matches!(origin, AdminOrigin::SetUpPage) && members::admin_exists(conn)? {
            return Err(ApiError::Conflict(
                ErrorCode::SetupClosed,
                "a city admin exists already; sign in instead".into(),
            ));
        }
        let member =
            accounts::create_staff(conn, login, display_name, password_hash, Role::Admin, None)?;
        let via = match origin {
            AdminOrigin::CommandLine => "command line",
            AdminOrigin::SetUpPage => "set-up page",
        };
        record_for(
            conn,
            None,
            AuditAction::RoleGranted,
            "member",
            Some(member.id.as_str()),
            None,
            serde_json::json!({"role": "admin", "via": via}),
        )?;
        Ok(member)
    })
}
