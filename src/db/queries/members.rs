//! Whether the service has an administrator yet (checked before the first one is made).

use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::role_assignments;
use crate::domain::Role;

pub fn admin_exists(conn: &mut AnyConnection) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        role_assignments::table
            .filter(role_assignments::role.eq(Role::Admin))
            .filter(role_assignments::ended_at.is_null()),
    ))
    .get_result(conn)
}
