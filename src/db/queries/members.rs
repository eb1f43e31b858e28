use chrono::Datelike;
use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::role_assignments;
use crate::domain::Role;

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
