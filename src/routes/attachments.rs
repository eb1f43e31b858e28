//! A circular's attachments (PDF, JPEG, PNG): uploaded by its managers, served to its
//! audience. Outsiders get 404, as for the post itself.

use actix_web::body::SizedStream;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::actions::Services;
use crate::actions::attachments::{self, Upload};
use crate::attachments::{AttachmentStore, AttachmentType, clean_file_name};
use crate::auth::AuthMember;
use crate::configuration::PostSettings;
use crate::db::models::Attachment;
use crate::domain::{AttachmentId, PostId};
use crate::error::ApiError;
use crate::routes::read_body;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(upload_attachment)
        .service(list_attachments)
        .service(download_attachment)
        .service(delete_attachment);
}

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
    services: web::Data<Services>,
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
        .ok_or_else(attachments::unsupported_type)?;
    attachments::check_room(&services, &auth.0, id.clone()).await?;
    let body = read_body(payload, settings.attachment_max_bytes).await?;
    let upload = Upload {
        file_name,
        declared,
        body,
    };
    let row = attachments::upload(&services, &store, &auth.0, id, upload).await?;
    Ok(HttpResponse::Created().json(AttachmentResponse::from(row)))
}

/// A circular's attachments, oldest first (its audience and managers).
#[utoipa::path(tag = "posts", params(("id" = String, Path)), responses((status = 200, body = AttachmentList), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/posts/{id}/attachments")]
pub async fn list_attachments(
    auth: AuthMember,
    path: web::Path<PostId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let items = attachments::list(&services, &auth.0, path.into_inner()).await?;
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
    services: web::Data<Services>,
    store: web::Data<AttachmentStore>,
) -> Result<HttpResponse, ApiError> {
    let (id, attachment_id) = path.into_inner();
    let attachment = attachments::find(&services, &auth.0, id, attachment_id).await?;
    file_response(&store, attachment).await
}

/// An attachment's file, with its content type and file name, for the API and the pages.
pub async fn file_response(
    store: &AttachmentStore,
    attachment: Attachment,
) -> Result<HttpResponse, ApiError> {
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
    services: web::Data<Services>,
    store: web::Data<AttachmentStore>,
) -> Result<HttpResponse, ApiError> {
    let (id, attachment_id) = path.into_inner();
    attachments::delete(&services, &store, &auth.0, id, attachment_id).await?;
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
