//! Attachment rows. The files themselves live in `crate::attachments::AttachmentStore`.

use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::models::Attachment;
use crate::db::schema::attachments;
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
