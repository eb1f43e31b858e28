//! A circular's attachments (PDF, JPEG, PNG): added and removed by its managers, listed and
//! read by its audience. Outsiders get 404, as for the post itself.

use actix_web::web::Bytes;

use crate::actions::Services;
use crate::actions::access::{accessible_post, managed_post};
use crate::actions::posts::record_post;
use crate::attachments::{AttachmentStore, AttachmentType};
use crate::authz::Principal;
use crate::db::models::{Attachment, Post};
use crate::db::queries::attachments as queries;
use crate::db::{AnyConnection, now, write_transaction};
use crate::domain::{AttachmentId, AuditAction, MemberId, PostId, PostStatus};
use crate::error::{ApiError, ErrorCode};

const MAX_ATTACHMENTS_PER_POST: i64 = 10;

/// A file as uploaded: its clean name, the type its sender declared, and its bytes.
pub struct Upload {
    pub file_name: String,
    pub declared: AttachmentType,
    pub body: Bytes,
}

/// The caller manages the post and it can take one more attachment.
fn room_for_one(
    conn: &mut AnyConnection,
    caller: &MemberId,
    id: &PostId,
) -> Result<(Principal, Post), ApiError> {
    let (p, post) = managed_post(conn, caller, id)?;
    if post.status == PostStatus::Withdrawn {
        return Err(ApiError::Conflict(
            ErrorCode::PostWithdrawn,
            "a withdrawn post cannot take attachments".into(),
        ));
    }
    if queries::count_attachments(conn, id)? >= MAX_ATTACHMENTS_PER_POST {
        return Err(ApiError::Validation(
            ErrorCode::TooManyAttachments,
            format!("a post may have at most {MAX_ATTACHMENTS_PER_POST} attachments"),
        ));
    }
    Ok((p, post))
}

/// Checks, before an upload's body is read, that the caller may add one to the post, so
/// outsiders learn nothing from how the upload is judged.
pub async fn check_room(
    services: &Services,
    caller: &MemberId,
    id: PostId,
) -> Result<(), ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| room_for_one(conn, &caller, &id).map(drop))
        .await
}

pub fn unsupported_type() -> ApiError {
    ApiError::UnsupportedMediaType(
        ErrorCode::UnsupportedAttachmentType,
        "attachments must be PDF, JPEG or PNG, sent as application/pdf, image/jpeg or image/png"
            .into(),
    )
}

/// Removes a stored file once no row refers to it. Callers hold `lock_writes`.
async fn remove_if_unreferenced(
    services: &Services,
    store: &AttachmentStore,
    sha256: String,
) -> Result<(), ApiError> {
    let lookup = sha256.clone();
    let referenced = services
        .db
        .run(move |conn| Ok(queries::sha256_referenced(conn, &lookup)?))
        .await?;
    if !referenced {
        store.remove(&sha256).await?;
    }
    Ok(())
}

/// The type of an upload's content: not empty, PDF, JPEG or PNG, and what its sender
/// declared. Pages ask this before creating the circular the file goes with.
pub fn check_content(upload: &Upload) -> Result<AttachmentType, ApiError> {
    if upload.body.is_empty() {
        return Err(ApiError::Validation(
            ErrorCode::EmptyAttachment,
            "the attachment is empty".into(),
        ));
    }
    let detected = AttachmentType::detect(&upload.body).ok_or_else(unsupported_type)?;
    if detected != upload.declared {
        return Err(ApiError::Validation(
            ErrorCode::AttachmentTypeMismatch,
            format!(
                "the content is {} but Content-Type says {}",
                detected.content_type(),
                upload.declared.content_type()
            ),
        ));
    }
    Ok(detected)
}

/// Attaches a file to a circular (its managers); its type is read from its content and must
/// match the declared one.
pub async fn upload(
    services: &Services,
    store: &AttachmentStore,
    caller: &MemberId,
    id: PostId,
    upload: Upload,
) -> Result<Attachment, ApiError> {
    let detected = check_content(&upload)?;
    let body = upload.body;
    let size_bytes = i64::try_from(body.len())
        .map_err(|_| ApiError::Unexpected(anyhow::anyhow!("attachment size overflows i64")))?;

    let _writes = store.lock_writes().await;
    let content = body.clone();
    let sha256 = store.put(body).await?;
    let row = Attachment {
        id: AttachmentId::generate(),
        post_id: id,
        sha256: sha256.clone(),
        content_type: detected.content_type().to_string(),
        file_name: detected.file_name_for(&upload.file_name),
        size_bytes,
        created_at: now(),
    };
    let caller = caller.clone();
    // Checked again: the post may have been withdrawn or filled while the body arrived.
    let inserted = services
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let (p, post) = room_for_one(conn, &caller, &row.post_id)?;
                queries::insert_attachment(conn, &row)?;
                queries::keep_content(conn, &row.sha256, &content)?;
                let detail = attachment_detail(&row);
                record_post(conn, &p, AuditAction::AttachmentAdded, &post, detail)?;
                Ok(row)
            })
        })
        .await;
    if inserted.is_err()
        && let Err(cleanup) = remove_if_unreferenced(services, store, sha256).await
    {
        tracing::warn!(error = ?cleanup, "an unused attachment file was left behind");
    }
    inserted
}

fn attachment_detail(attachment: &Attachment) -> serde_json::Value {
    serde_json::json!({
        "attachment_id": attachment.id,
        "file_name": attachment.file_name,
        "sha256": attachment.sha256,
    })
}

/// A circular's attachments, oldest first (its audience and managers).
pub async fn list(
    services: &Services,
    caller: &MemberId,
    id: PostId,
) -> Result<Vec<Attachment>, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            accessible_post(conn, &caller, &id)?;
            Ok(queries::list_attachments(conn, &id)?)
        })
        .await
}

/// One attachment of a circular the caller may see, to read its file from the store.
pub async fn find(
    services: &Services,
    caller: &MemberId,
    id: PostId,
    attachment: AttachmentId,
) -> Result<Attachment, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            accessible_post(conn, &caller, &id)?;
            queries::find_attachment(conn, &id, &attachment)?
                .ok_or(ApiError::NotFound("attachment"))
        })
        .await
}

/// Removes an attachment (its managers). The file goes once no attachment shares it.
pub async fn delete(
    services: &Services,
    store: &AttachmentStore,
    caller: &MemberId,
    id: PostId,
    attachment: AttachmentId,
) -> Result<(), ApiError> {
    let caller = caller.clone();
    let _writes = store.lock_writes().await;
    let sha256 = services
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let (p, post) = managed_post(conn, &caller, &id)?;
                let found = queries::find_attachment(conn, &id, &attachment)?
                    .ok_or(ApiError::NotFound("attachment"))?;
                queries::delete_attachment(conn, &found.id)?;
                queries::drop_unreferenced_content(conn, &found.sha256)?;
                let detail = attachment_detail(&found);
                record_post(conn, &p, AuditAction::AttachmentRemoved, &post, detail)?;
                Ok(found.sha256)
            })
        })
        .await?;
    remove_if_unreferenced(services, store, sha256).await
}
