//! What only admins do: create city staff (市民協働推進課) and admin accounts, and read the
//! audit log.

use secrecy::SecretString;

use crate::actions::Services;
use crate::auth::PasswordService;
use crate::auth::password::check_new_password;
use crate::authz::{self, Principal, require};
use crate::db::models::{AuditEntry, Member};
pub use crate::db::queries::audit::AuditFilter;
use crate::db::queries::{accounts, audit};
use crate::domain::{AuditAction, AuditCursor, Login, MemberId, OneLine, Role};
use crate::error::{ApiError, ErrorCode};

const DEFAULT_AUDIT_ENTRIES: i64 = 100;
const MAX_AUDIT_ENTRIES: i64 = 500;

/// A staff account to create, checked.
pub struct NewStaff {
    login: Login,
    display_name: String,
    password: SecretString,
    role: Role,
}

impl NewStaff {
    /// City staff or admin only; a valid login, a display name and a strong password.
    pub fn parse(
        login: &str,
        password: SecretString,
        display_name: &str,
        role: Role,
    ) -> Result<Self, ApiError> {
        if !matches!(role, Role::CityStaff | Role::Admin) {
            return Err(ApiError::validation("role must be city_staff or admin"));
        }
        let login = Login::parse(login).map_err(ApiError::validation)?;
        let display_name = OneLine::<100>::parse("display_name", display_name)
            .map_err(ApiError::validation)?
            .into_inner();
        check_new_password(&password, Some(login.as_str()))
            .map_err(|m| ApiError::Validation(ErrorCode::WeakPassword, m))?;
        Ok(Self {
            login,
            display_name,
            password,
            role,
        })
    }
}

/// Creates a city staff or admin account, without a household (admins). Audited as the
/// role it grants. The password is hashed only once the caller is known to be an admin.
pub async fn create_staff(
    services: &Services,
    passwords: &PasswordService,
    caller: &MemberId,
    new: NewStaff,
) -> Result<Member, ApiError> {
    let admin = caller.clone();
    services
        .db
        .run(move |conn| require(authz::may_administer_city(&Principal::load(conn, &admin)?)))
        .await?;
    let hash = passwords.hash(new.password).await?;
    let caller = caller.clone();
    let (login, display_name, role) = (new.login, new.display_name, new.role);
    services
        .db
        .write(move |conn| {
            let p = Principal::load(conn, &caller)?;
            require(authz::may_administer_city(&p))?;
            let granted_by = Some(&p.member_id);
            let member =
                accounts::create_staff(conn, &login, &display_name, &hash, role, granted_by)?;
            audit::record(
                conn,
                &p,
                AuditAction::RoleGranted,
                "member",
                Some(member.id.as_str()),
                None,
                serde_json::json!({"role": role.as_str()}),
            )?;
            Ok(member)
        })
        .await
}

/// Which audit entries to read (filters, where the page starts) and how many (100 unless
/// asked, at most 500).
pub struct AuditQuery {
    pub filter: AuditFilter,
    pub limit: i64,
}

impl AuditQuery {
    pub fn new(filter: AuditFilter, limit: Option<i64>) -> Self {
        Self {
            filter,
            limit: limit
                .unwrap_or(DEFAULT_AUDIT_ENTRIES)
                .clamp(1, MAX_AUDIT_ENTRIES),
        }
    }
}

/// One page of the audit log.
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// Where the next page starts; None on the last page.
    pub next_cursor: Option<AuditCursor>,
}

/// The audit log, newest first, one page at a time (admins).
pub async fn audit_log(
    services: &Services,
    caller: &MemberId,
    query: AuditQuery,
) -> Result<AuditPage, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            let p = Principal::load(conn, &caller)?;
            require(authz::may_administer_city(&p))?;
            let mut entries = audit::list(conn, &query.filter, query.limit + 1)?;
            let more = entries.len() > usize::try_from(query.limit).unwrap_or(usize::MAX);
            entries.truncate(usize::try_from(query.limit).unwrap_or(usize::MAX));
            let next_cursor = entries.last().filter(|_| more).map(|last| AuditCursor {
                created_at: last.created_at,
                id: last.id.clone(),
            });
            Ok(AuditPage {
                entries,
                next_cursor,
            })
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audit_log_shows_a_hundred_entries_unless_asked_and_at_most_five_hundred() {
        let limit = |asked| AuditQuery::new(AuditFilter::default(), asked).limit;
        assert_eq!(limit(None), 100);
        assert_eq!(limit(Some(0)), 1);
        assert_eq!(limit(Some(1_000_000)), 500);
        assert_eq!(limit(Some(20)), 20);
    }

    #[test]
    fn only_city_wide_accounts_are_staff_accounts() {
        let password = || SecretString::from("a long enough passphrase 2026");
        let parse = |role| NewStaff::parse("staff@city.test", password(), "市 職員", role);
        assert!(parse(Role::CityStaff).is_ok());
        assert!(parse(Role::Admin).is_ok());
        for role in [Role::Resident, Role::HanLeader, Role::Officer, Role::Chair] {
            assert!(parse(role).is_err());
        }
        assert!(parse(Role::DistrictOfficer).is_err());
        let weak = NewStaff::parse("staff@city.test", "short".into(), "職員", Role::CityStaff);
        assert!(matches!(
            weak,
            Err(ApiError::Validation(ErrorCode::WeakPassword, _))
        ));
    }
}
