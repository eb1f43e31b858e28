//! Rows of the secrets instances sharing a PostgreSQL database agree on.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::jwt_keys;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = jwt_keys, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct JwtKeyRow {
    pub kid: String,
    pub secret: String,
    pub signs_from: NaiveDateTime,
    pub verifies_until: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}
