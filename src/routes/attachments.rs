//! A circular's attachments (PDF, JPEG, PNG): uploaded by its managers, served to its
//! audience. Outsiders get 404, as for the post itself.

use actix_web::body::SizedStream;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::attachments::{AttachmentStore, AttachmentType, clean_file_name};
use crate::auth::AuthMember;
use crate::configuration::PostSettings;
use crate::db::models::Attachment;
use crate::db::queries::attachments as queries;

use crate::actions::access::{accessible_post, managed_post};
use crate::db::{AnyConnection, Db, now, write_transaction};
use crate::domain::{AttachmentId, PostId, PostStatus};
use crate::error::{ApiError, ErrorCode};
use crate::routes::read_body;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(upload_attachment)
        .service(list_attachments)
        .service(download_attachment)
        .service(delete_attachment);
}

const MAX_ATTACHMENTS_PER_POST: i64 = 10;

#[derive(Deserialize, IntoParams)]
pub struct UploadParams {
    /// The name readers see and save as; path separators and control characters are removed.
    pub file_name: String,
}

#[derive(Serialize, ToSchema)]
pub struct AttachmentResponse {
    pub id: AttachmentId,
    pub post_id: PostId,
    pub file_name: String,
    /// application/pdf, image/jpeg or image/png, as found in the content.
    pub content_type: String,
    pub size_bytes: i64,
    /// SHA-256 of the content, in hex.
    pub sha256: String,
    pub created_at: DateTime<Utc>,
}

impl From<Attachment> for AttachmentResponse {
    fn from(a: Attachment) -> Self {
        Self {
            id: a.id,
            post_id: a.post_id,
            file_name: a.file_name,
            content_type: a.content_type,
            size_bytes: a.size_bytes,
            sha256: a.sha256,
            created_at: a.created_at.and_utc(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AttachmentList {
    pub items: Vec<AttachmentResponse>,
}

/// The caller manages the post and it can take one more attachment.
fn check_room(conn: &mut AnyConnection, auth: &AuthMember, id: &PostId) -> Result<(), ApiError> {
    let (_, post) = managed_post(conn, &auth.0, id)?;
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
    Ok(())
}

/// Removes a stored file once no row refers to it. Callers hold `lock_writes`.
async fn remove_if_unreferenced(
    db: &Db,
    store: &AttachmentStore,
    sha256: String,
) -> Result<(), ApiError> {
    let lookup = sha256.clone();
    let referenced = db
        .run(move |conn| Ok(queries::sha256_referenced(conn, &lookup)?))
        .await?;
    if !referenced {
        store.remove(&sha256).await?;
    }
    Ok(())
}

/// Attach a PDF, JPEG or PNG to a circular (its managers). The body is the file itself; its
/// type is read from its content and must match the Content-Type.
#[utoipa::path(
    tag = "posts",
    params(UploadParams, ("id" = String, Path)),
    request_body(content(("application/pdf"), ("image/jpeg"), ("image/png"))),
    responses(
        (status = 201, body = AttachmentResponse),
        (status = 400, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody),
        (status = 413, body = crate::error::ErrorBody),
        (status = 415, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)
    ),
    security(("bearer" = []))
)]
#[post("/posts/{id}/attachments")]
#[allow(clippy::too_many_arguments)]
pub async fn upload_attachment(
    auth: AuthMember,
    path: web::Path<PostId>,
    params: web::Query<UploadParams>,
    req: HttpRequest,
    payload: web::Payload,
    db: web::Data<Db>,
    store: web::Data<AttachmentStore>,
    settings: web::Data<PostSettings>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let file_name = clean_file_name(&params.file_name)?;
    let declared = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(AttachmentType::from_content_type)
        .ok_or_else(unsupported_type)?;
    // Before reading the body, so outsiders learn nothing from how the upload is judged.
    let (check_auth, check_id) = (auth.clone(), id.clone());
    db.run(move |conn| check_room(conn, &check_auth, &check_id))
        .await?;

    let body = read_body(payload, settings.attachment_max_bytes).await?;
    if body.is_empty() {
        return Err(ApiError::Validation(
            ErrorCode::EmptyAttachment,
            "the attachment is empty".into(),
        ));
    }
    let detected = AttachmentType::detect(&body).ok_or_else(unsupported_type)?;
    if detected != declared {
        return Err(ApiError::Validation(
            ErrorCode::AttachmentTypeMismatch,
            format!(
                "the content is {} but Content-Type says {}",
                detected.content_type(),
                declared.content_type()
            ),
        ));
    }
    let size_bytes = i64::try_from(body.len())
        .map_err(|_| ApiError::Unexpected(anyhow::anyhow!("attachment size overflows i64")))?;

    let _writes = store.lock_writes().await;
    let sha256 = store.put(body).await?;
    let row = Attachment {
        id: AttachmentId::generate(),
        post_id: id,
        sha256: sha256.clone(),
        content_type: detected.content_type().to_string(),
        file_name,
        size_bytes,
        created_at: now(),
    };
    // Checked again: the post may have been withdrawn or filled while the body arrived.
    let inserted = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                check_room(conn, &auth, &row.post_id)?;
                queries::insert_attachment(conn, &row)?;
                Ok(row)
            })
        })
        .await;
    match inserted {
        Ok(row) => Ok(HttpResponse::Created().json(AttachmentResponse::from(row))),
        Err(e) => {
            if let Err(cleanup) = remove_if_unreferenced(&db, &store, sha256).await {
                tracing::warn!(error = ?cleanup, "an unused attachment file was left behind");
            }
            Err(e)
        }
    }
}

fn unsupported_type() -> ApiError {
    ApiError::UnsupportedMediaType(
        ErrorCode::UnsupportedAttachmentType,
        "attachments must be PDF, JPEG or PNG, sent as application/pdf, image/jpeg or image/png"
            .into(),
    )
}

/// A circular's attachments, oldest first (its audience and managers).
#[utoipa::path(tag = "posts", params(("id" = String, Path)), responses((status = 200, body = AttachmentList), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/posts/{id}/attachments")]
pub async fn list_attachments(
    auth: AuthMember,
    path: web::Path<PostId>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let items = db
        .run(move |conn| {
            accessible_post(conn, &auth.0, &id)?;
            Ok(queries::list_attachments(conn, &id)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(AttachmentList {
        items: items.into_iter().map(Into::into).collect(),
    }))
}

/// Download an attachment, with its content type and file name (its audience and managers).
#[utoipa::path(
    tag = "posts", params(("id" = String, Path), ("attachment_id" = String, Path)),
    responses(
        (status = 200, content(("application/pdf"), ("image/jpeg"), ("image/png"))),
        (status = 404, body = crate::error::ErrorBody)
    ),
    security(("bearer" = []))
)]
#[get("/posts/{id}/attachments/{attachment_id}")]
pub async fn download_attachment(
    auth: AuthMember,
    path: web::Path<(PostId, AttachmentId)>,
    db: web::Data<Db>,
    store: web::Data<AttachmentStore>,
) -> Result<HttpResponse, ApiError> {
    let (id, attachment_id) = path.into_inner();
    let attachment = db
        .run(move |conn| {
            accessible_post(conn, &auth.0, &id)?;
            queries::find_attachment(conn, &id, &attachment_id)?
                .ok_or(ApiError::NotFound("attachment"))
        })
        .await?;
    let (len, chunks) = store.read(&attachment.sha256).await?;
    Ok(HttpResponse::Ok()
        .content_type(attachment.content_type)
        .insert_header((
            header::CONTENT_DISPOSITION,
            content_disposition(&attachment.file_name),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "private, max-age=3600"))
        .body(SizedStream::new(len, chunks)))
}

/// Remove an attachment (its managers). The file goes once no attachment shares it.
#[utoipa::path(tag = "posts", params(("id" = String, Path), ("attachment_id" = String, Path)), responses((status = 204), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[delete("/posts/{id}/attachments/{attachment_id}")]
pub async fn delete_attachment(
    auth: AuthMember,
    path: web::Path<(PostId, AttachmentId)>,
    db: web::Data<Db>,
    store: web::Data<AttachmentStore>,
) -> Result<HttpResponse, ApiError> {
    let (id, attachment_id) = path.into_inner();
    let _writes = store.lock_writes().await;
    let sha256 = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                managed_post(conn, &auth.0, &id)?;
                let attachment = queries::find_attachment(conn, &id, &attachment_id)?
                    .ok_or(ApiError::NotFound("attachment"))?;
                queries::delete_attachment(conn, &attachment.id)?;
                Ok(attachment.sha256)
            })
        })
        .await?;
    remove_if_unreferenced(&db, &store, sha256).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// RFC 6266: an ASCII `filename` for old clients and the exact name in `filename*`
/// (RFC 5987: UTF-8, percent-encoded outside attr-char).
fn content_disposition(file_name: &str) -> String {
    let fallback: String = file_name
        .chars()
        .map(|c| {
            if c == ' ' || (c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '%')) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::with_capacity(file_name.len() * 3);
    for &b in file_name.as_bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::content_disposition;

    #[test]
    fn content_disposition_has_an_ascii_fallback_and_the_exact_name() {
        assert_eq!(
            content_disposition("回覧 \"5月\".pdf"),
            "attachment; filename=\"__ _5__.pdf\"; filename*=UTF-8''%E5%9B%9E%E8%A6%A7%20%225%E6%9C%88%22.pdf"
        );
        assert_eq!(
            content_disposition("a%b;c=d.png"),
            "attachment; filename=\"a_b;c=d.png\"; filename*=UTF-8''a%25b%3Bc%3Dd.png"
        );
    }
}
