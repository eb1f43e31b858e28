//! Admission: at most `places` requests are at work at once. A request waits at most `wait`
//! for a place, then is answered 503 with Retry-After (a JSON error, or the busy page for a
//! browser), so overload is answered within `wait` instead of queueing requests for seconds
//! (docs/decisions.md D99).
//!
//! A request takes its place once its body has arrived: a small declared body is read first,
//! so a slow sender holds no place. Uploads and bodies of unknown length take none (their
//! database work is still bounded by the database's own queues). Health checks and static
//! files are never refused.

use std::sync::Arc;
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

use crate::error::ApiError;

pub struct Admission {
    places: Arc<Semaphore>,
    wait: Duration,
    /// Bodies up to this size are read before a place is taken (the JSON limit).
    read_first: usize,
}

impl Admission {
    pub fn new(places: usize, wait: Duration, read_first: usize) -> Self {
        Self {
            places: Arc::new(Semaphore::new(places)),
            wait,
            read_first,
        }
    }

    /// A free place at once (no timer on the usual path), else one within `wait`.
    async fn place(&self) -> Option<OwnedSemaphorePermit> {
        match self.places.clone().try_acquire_owned() {
            Ok(place) => Some(place),
            Err(TryAcquireError::Closed) => None,
            Err(TryAcquireError::NoPermits) => {
                tokio::time::timeout(self.wait, self.places.clone().acquire_owned())
                    .await
                    .ok()?
                    .ok()
            }
        }
    }
}

/// For `/api/` requests (the App wraps every path; pages have their own, below).
pub async fn api(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let is_api = req.path().starts_with("/api/");
    admit_if(is_api, req, next).await
}

/// For pages: inside the pages' own middleware, which turns a refusal into the busy page.
pub async fn pages(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let is_page = !req.path().starts_with("/api/");
    admit_if(is_page, req, next).await
}

async fn admit_if(
    wanted: bool,
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let admission = req.app_data::<web::Data<Admission>>().filter(|_| wanted);
    let Some(admission) = admission.cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    match declared_body(&req) {
        Body::None => {}
        Body::Known(length) if length <= admission.read_first => {
            let body = match crate::idempotency::read_body(&mut req.take_payload(), length).await {
                Ok(body) => body,
                Err(e) => return Ok(req.error_response(e).map_into_boxed_body()),
            };
            req.set_payload(Payload::from(body));
        }
        Body::Known(_) | Body::Unknown => {
            return Ok(next.call(req).await?.map_into_boxed_body());
        }
    }
    let Some(_place) = admission.place().await else {
        return Ok(req
            .error_response(ApiError::overloaded())
            .map_into_boxed_body());
    };
    Ok(next.call(req).await?.map_into_boxed_body())
}

enum Body {
    None,
    Known(usize),
    Unknown,
}

fn declared_body(req: &ServiceRequest) -> Body {
    if req.headers().contains_key(header::TRANSFER_ENCODING) {
        return Body::Unknown;
    }
    let length = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    match length {
        None | Some(0) => Body::None,
        Some(length) => Body::Known(length),
    }
}
