//! Attachment rows, and on PostgreSQL their content (on SQLite the files of
//! `crate::attachments::AttachmentStore` hold it).

use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::models::Attachment;
use crate::db::schema::{attachment_blobs, attachments};
use crate::domain::{AttachmentId, PostId};

pub fn list_attachments(conn: &mut AnyConnection, post: &PostId) -> QueryResult<Vec<Attachment>> {
    attachments::table
        .filter(attachments::post_id.eq(post))
        .select(Attachment::as_select())
        .order(attachments::id.asc())
        .load(conn)
}

/// An attachment of this post; one of another post is not found.
pub fn find_attachment(
    conn: &mut AnyConnection,
    post: &PostId,
    id: &AttachmentId,
) -> QueryResult<Option<Attachment>> {
    attachments::table
        .find(id)
        .filter(attachments::post_id.eq(post))
        .select(Attachment::as_select())
        .first(conn)
        .optional()
}

pub fn count_attachments(conn: &mut AnyConnection, post: &PostId) -> QueryResult<i64> {
    attachments::table
        .filter(attachments::post_id.eq(post))
        .count()
        .get_result(conn)
}

pub fn insert_attachment(conn: &mut AnyConnection, row: &Attachment) -> QueryResult<()> {
    diesel::insert_into(attachments::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

pub fn delete_attachment(conn: &mut AnyConnection, id: &AttachmentId) -> QueryResult<()> {
    diesel::delete(attachments::table.find(id))
        .execute(conn)
        .map(drop)
}

/// Whether any row still refers to this stored file.
pub fn sha256_referenced(conn: &mut AnyConnection, sha256: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        attachments::table.filter(attachments::sha256.eq(sha256)),
    ))
    .get_result(conn)
}

/// Holds the content's lock until the transaction ends, so an upload reusing it and a
/// deletion removing it (perhaps on other instances) take turns.
fn lock_content(conn: &mut diesel::pg::PgConnection, sha256: &str) -> QueryResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext($1))")
        .bind::<diesel::sql_types::Text, _>(sha256)
        .execute(conn)
        .map(drop)
}

/// Stores the content in the database (PostgreSQL), in the transaction that inserts the row
/// referring to it; content stored already is kept. On SQLite the files hold it.
pub fn keep_content(conn: &mut AnyConnection, sha256: &str, content: &[u8]) -> QueryResult<()> {
    let AnyConnection::Postgresql(pg) = conn else {
        return Ok(());
    };
    lock_content(pg, sha256)?;
    diesel::insert_into(attachment_blobs::table)
        .values((
            attachment_blobs::sha256.eq(sha256),
            attachment_blobs::content.eq(content),
            attachment_blobs::created_at.eq(crate::db::now()),
        ))
        .on_conflict_do_nothing()
        .execute(pg)
        .map(drop)
}

/// Deletes stored content no row refers to any more (PostgreSQL), in the transaction that
/// deleted the row.
pub fn drop_unreferenced_content(conn: &mut AnyConnection, sha256: &str) -> QueryResult<()> {
    let AnyConnection::Postgresql(pg) = conn else {
        return Ok(());
    };
    lock_content(pg, sha256)?;
    let referenced: bool = diesel::select(diesel::dsl::exists(
        attachments::table.filter(attachments::sha256.eq(sha256)),
    ))
    .get_result(pg)?;
    if !referenced {
        diesel::delete(attachment_blobs::table.find(sha256)).execute(pg)?;
    }
    Ok(())
}

/// Stored content, when the database holds it.
pub fn find_content(conn: &mut AnyConnection, sha256: &str) -> QueryResult<Option<Vec<u8>>> {
    attachment_blobs::table
        .find(sha256)
        .select(attachment_blobs::content)
        .first(conn)
        .optional()
}
