use chrono::Datelike;
use diesel::prelude::*;

use crate::db::models::{Member, RoleAssignment};
use crate::db::schema::{members, role_assignments};
use crate::db::{AnyConnection, now};
use crate::domain::{Login, MemberId, Role, RoleAssignmentId};

/// The Japanese fiscal year (年度) a moment falls in: it starts on 1 April.
pub fn fiscal_year(at: chrono::NaiveDateTime) -> i32 {
    if at.month() >= 4 {
        at.year()
    } else {
        at.year() - 1
    }
}

pub fn admin_exists(conn: &mut AnyConnection) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        role_assignments::table
            .filter(role_assignments::role.eq(Role::Admin))
            .filter(role_assignments::ended_at.is_null()),
    ))
    .get_result(conn)
}

/// A city admin: a member with no household and the `admin` role.
pub fn create_admin(
    conn: &mut AnyConnection,
    login: &Login,
    display_name: &str,
    password_hash: &str,
) -> QueryResult<Member> {
    conn.transaction(|conn| {
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
            .execute(conn)?;
        diesel::insert_into(role_assignments::table)
            .values(RoleAssignment {
                id: RoleAssignmentId::generate(),
                member_id: member.id.clone(),
                role: Role::Admin,
                scope_id: None,
                term_year: fiscal_year(timestamp),
                granted_by: None,
                started_at: timestamp,
                ended_at: None,
            })
            .execute(conn)?;
        Ok(member)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fiscal_year_starts_in_april() {
        let d = |y, m, day| {
            chrono::NaiveDate::from_ymd_opt(y, m, day)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
        };
        assert_eq!(fiscal_year(d(2027, 3, 31)), 2026);
        assert_eq!(fiscal_year(d(2027, 4, 1)), 2027);
    }
}
