//! Forms that carry a file (`enctype="multipart/form-data"`): the CSRF token, the form's first
//! field, is checked before any file is read; text fields are held to the same limit as
//! `CsrfForm`, the file to `posts.attachment_max_bytes`. A file over the limit is read to its
//! end and dropped, so the page can answer with the form and a message instead of a broken
//! connection.

use std::future::Future;
use std::pin::Pin;

use actix_multipart::Multipart;
use actix_web::dev::Payload;
use actix_web::web::{Bytes, BytesMut, Data};
use actix_web::{FromRequest, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::configuration::PostSettings;
use crate::error::{ApiError, ErrorCode};
use crate::web::csrf::{FIELD, FORM_LIMIT, verify};

/// Past this many times the file limit, an upload is not drained any longer but refused.
const DRAIN_FACTOR: usize = 4;

/// A file the browser sent, as it named and typed it (neither is trusted).
pub struct FilePart {
    pub file_name: String,
    pub content_type: String,
    pub body: Bytes,
}

/// The form's file field.
pub enum Attached {
    /// No file chosen.
    Nothing,
    File(FilePart),
    /// Larger than the limit; dropped.
    TooLarge,
}

/// A multipart form whose CSRF token was checked before its file was read, with its text
/// fields deserialized into `T` (as `CsrfForm` does) and its one file.
pub struct CsrfMultipart<T> {
    pub form: T,
    pub file: Attached,
}

fn bad_form(what: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest(
        ErrorCode::InvalidInput,
        format!("the form is not valid: {what}"),
    )
}

/// Reads one part up to `limit` bytes; past it, reads on (up to `drain` bytes) and answers
/// None.
async fn read_part(
    field: &mut actix_multipart::Field,
    limit: usize,
    drain: usize,
) -> Result<Option<Bytes>, ApiError> {
    let (mut body, mut seen) = (BytesMut::new(), 0usize);
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(bad_form)?;
        seen = seen.saturating_add(chunk.len());
        if seen > drain {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        if seen <= limit {
            body.extend_from_slice(&chunk);
        }
    }
    Ok((seen <= limit).then(|| body.freeze()))
}

/// The file part: an empty one with no name is no file chosen.
async fn read_file(
    part: &mut actix_multipart::Field,
    file_name: String,
    limit: usize,
) -> Result<Attached, ApiError> {
    let content_type = part.content_type().map(|m| m.essence_str().to_string());
    let drain = limit.saturating_mul(DRAIN_FACTOR);
    Ok(match read_part(part, limit, drain).await? {
        None => Attached::TooLarge,
        Some(body) if body.is_empty() && file_name.is_empty() => Attached::Nothing,
        Some(body) => Attached::File(FilePart {
            file_name,
            content_type: content_type.unwrap_or_default(),
            body,
        }),
    })
}

async fn read_form(
    req: HttpRequest,
    mut parts: Multipart,
    file_limit: usize,
) -> Result<(Vec<(String, String)>, Attached), ApiError> {
    let (mut fields, mut file, mut checked) = (Vec::new(), Attached::Nothing, false);
    let mut text_bytes = 0usize;
    while let Some(part) = parts.next().await {
        let mut part = part.map_err(bad_form)?;
        let name = part.name().unwrap_or_default().to_string();
        let file_name = part
            .content_disposition()
            .and_then(|d| d.get_filename())
            .map(str::to_string);
        if !checked && name != FIELD {
            // A form without its token first changes nothing, and its file is never read.
            verify(&req, None).await?;
        }
        if let Some(file_name) = file_name {
            file = read_file(&mut part, file_name, file_limit).await?;
            continue;
        }
        let room = FORM_LIMIT.saturating_sub(text_bytes);
        let value = read_part(&mut part, room, room)
            .await?
            .ok_or(ApiError::PayloadTooLarge(FORM_LIMIT))?;
        text_bytes += value.len();
        let value = String::from_utf8(value.to_vec()).map_err(bad_form)?;
        if name == FIELD && !checked {
            verify(&req, Some(&value)).await?;
            checked = true;
        } else {
            fields.push((name, value));
        }
    }
    if !checked {
        verify(&req, None).await?;
    }
    Ok((fields, file))
}

type LocalFuture<T> = Pin<Box<dyn Future<Output = T>>>;

impl<T: DeserializeOwned + 'static> FromRequest for CsrfMultipart<T> {
    type Error = actix_web::Error;
    type Future = LocalFuture<Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let parts = Multipart::new(req.headers(), payload.take());
        Box::pin(async move {
            let file_limit = req
                .app_data::<Data<PostSettings>>()
                .map(|s| s.attachment_max_bytes)
                .ok_or_else(|| ApiError::Unexpected(anyhow::anyhow!("no post settings")))?;
            let (fields, file) = read_form(req, parts, file_limit).await?;
            let encoded = serde_urlencoded::to_string(&fields).map_err(bad_form)?;
            let form = serde_urlencoded::from_str::<T>(&encoded).map_err(bad_form)?;
            Ok(CsrfMultipart { form, file })
        })
    }
}
