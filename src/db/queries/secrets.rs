//! Secrets kept in the database so every instance sharing it uses the same ones: named
//! secrets (the VAPID key) and the access-token key ring.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::models::JwtKeyRow;
use crate::db::schema::{jwt_keys, server_secrets};

pub fn find_secret(conn: &mut AnyConnection, name: &str) -> QueryResult<Option<String>> {
    server_secrets::table
        .find(name)
        .select(server_secrets::value)
        .first(conn)
        .optional()
}

/// Stores `value` unless the name is taken, and returns what is stored: the first writer wins.
pub fn insert_secret_if_absent(
    conn: &mut AnyConnection,
    name: &str,
    value: &str,
    at: NaiveDateTime,
) -> QueryResult<String> {
    let row = (
        server_secrets::name.eq(name),
        server_secrets::value.eq(value),
        server_secrets::created_at.eq(at),
    );
    crate::with_backend!(&mut *conn,
        pg(c) => diesel::insert_into(server_secrets::table).values(row).on_conflict_do_nothing().execute(c),
        sqlite(c) => diesel::insert_into(server_secrets::table).values(row).on_conflict_do_nothing().execute(c),
    )?;
    server_secrets::table
        .find(name)
        .select(server_secrets::value)
        .first(conn)
}

/// The key ring, oldest signer first.
pub fn jwt_keys(conn: &mut AnyConnection) -> QueryResult<Vec<JwtKeyRow>> {
    jwt_keys::table
        .order((jwt_keys::signs_from.asc(), jwt_keys::kid.asc()))
        .select(JwtKeyRow::as_select())
        .load(conn)
}

pub fn insert_jwt_keys(conn: &mut AnyConnection, rows: &[JwtKeyRow]) -> QueryResult<()> {
    for row in rows {
        diesel::insert_into(jwt_keys::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

/// Adds `new` to the ring; every key still without an end verifies until `old_until`, and
/// keys past their end are dropped.
pub fn rotate_jwt_key(
    conn: &mut AnyConnection,
    new: &JwtKeyRow,
    old_until: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<()> {
    conn.transaction(|conn| {
        diesel::delete(jwt_keys::table.filter(jwt_keys::verifies_until.lt(now))).execute(conn)?;
        diesel::update(jwt_keys::table.filter(jwt_keys::verifies_until.is_null()))
            .set(jwt_keys::verifies_until.eq(old_until))
            .execute(conn)?;
        diesel::insert_into(jwt_keys::table)
            .values(new)
            .execute(conn)?;
        Ok(())
    })
}
