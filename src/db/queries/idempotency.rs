//! Idempotency-Key records (see `crate::idempotency` for how requests use them).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::models::IdempotencyKey;
use crate::db::schema::idempotency_keys;
use crate::domain::MemberId;

/// The member's live record for `key`. An expired one is deleted, so the key is free again.
pub fn find_live(
    conn: &mut AnyConnection,
    member: &MemberId,
    key: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<IdempotencyKey>> {
    let found = idempotency_keys::table
        .find((member, key))
        .select(IdempotencyKey::as_select())
        .first(conn)
        .optional()?;
    match found {
        Some(record) if record.expires_at <= now => {
            diesel::delete(
                idempotency_keys::table
                    .find((member, key))
                    .filter(idempotency_keys::expires_at.le(now)),
            )
            .execute(conn)?;
            Ok(None)
        }
        other => Ok(other),
    }
}

/// Claims the key; fails with a unique violation when another request holds it.
pub fn insert_claim(conn: &mut AnyConnection, record: &IdempotencyKey) -> QueryResult<()> {
    diesel::insert_into(idempotency_keys::table)
        .values(record)
        .execute(conn)
        .map(drop)
}

pub fn save_response(
    conn: &mut AnyConnection,
    member: &MemberId,
    key: &str,
    status: i32,
    content_type: Option<String>,
    body: Option<Vec<u8>>,
) -> QueryResult<()> {
    diesel::update(idempotency_keys::table.find((member, key)))
        .set((
            idempotency_keys::response_status.eq(status),
            idempotency_keys::response_content_type.eq(content_type),
            idempotency_keys::response_body.eq(body),
        ))
        .execute(conn)
        .map(drop)
}

/// Deletes expired records; returns how many.
pub fn prune(conn: &mut AnyConnection, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(idempotency_keys::table.filter(idempotency_keys::expires_at.le(now)))
        .execute(conn)
}
