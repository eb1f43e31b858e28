//! One error type for the whole API. Every failure leaves as
//! `{"error": "<snake_case_code>", "message": "<text>"}` with the right status.

use actix_web::dev::ResourceDef;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Serialize;

const DATABASE_UNAVAILABLE: &str = "database_unavailable";

#[derive(thiserror::Error)]
pub enum ApiError {
    /// The request cannot be read (syntax, encoding, query string).
    #[error("{1}")]
    BadRequest(&'static str, String),
    /// The request was read but a value is not acceptable.
    #[error("{1}")]
    Validation(&'static str, String),
    /// Code and message: who is asking is not established.
    #[error("{1}")]
    Unauthorized(&'static str, &'static str),
    #[error("you are not allowed to do this")]
    Forbidden,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{1}")]
    Conflict(&'static str, String),
    /// The path exists, with other methods (listed for the `Allow` header).
    #[error("this path does not take {0}; it takes {1}")]
    MethodNotAllowed(String, String),
    #[error("request body is larger than the limit of {0} bytes")]
    PayloadTooLarge(usize),
    /// Code and message.
    #[error("{1}")]
    UnsupportedMediaType(&'static str, String),
    #[error("too many requests; try again in {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("{message}")]
    Unavailable {
        code: &'static str,
        message: &'static str,
        retry_after_secs: u64,
    },
    #[error("internal error")]
    Unexpected(#[from] anyhow::Error),
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable snake_case code for programs.
    #[schema(example = "not_found")]
    pub error: &'static str,
    /// Text for people.
    #[schema(example = "district not found")]
    pub message: String,
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(code, _)
            | ApiError::Validation(code, _)
            | ApiError::Conflict(code, _)
            | ApiError::UnsupportedMediaType(code, _) => code,
            ApiError::Unauthorized(code, _) => code,
            ApiError::Forbidden => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed(..) => "method_not_allowed",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::TooManyRequests { .. } => "too_many_requests",
            ApiError::Unavailable { code, .. } => code,
            ApiError::Unexpected(_) => "internal_error",
        }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        ApiError::Validation("invalid_input", message.into())
    }

    /// The one answer for a missing, malformed, expired or forged access token.
    pub fn invalid_token() -> Self {
        ApiError::Unauthorized(
            "unauthorized",
            "the access token is missing, invalid or expired",
        )
    }

    /// A failure that says the database is gone (unreachable, closed, locked), not that
    /// this request was wrong.
    pub fn is_database_unavailable(&self) -> bool {
        matches!(self, ApiError::Unavailable { code, .. } if *code == DATABASE_UNAVAILABLE)
    }

    pub fn database_unavailable(e: impl std::fmt::Display) -> Self {
        tracing::warn!(error = %e, "database unavailable");
        Self::database_down()
    }

    /// Every pooled connection is busy serving other requests: load, not an outage.
    pub fn overloaded() -> Self {
        ApiError::Unavailable {
            code: "service_unavailable",
            message: "the server is busy; try again shortly",
            retry_after_secs: 1,
        }
    }

    /// Without a log line: the outage was logged when it began.
    pub fn database_down() -> Self {
        ApiError::Unavailable {
            code: DATABASE_UNAVAILABLE,
            message: "the database is not available; try again shortly",
            retry_after_secs: 1,
        }
    }
}

impl std::fmt::Debug for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{self}")?;
        if let ApiError::Unexpected(e) = self {
            for cause in e.chain().skip(1) {
                writeln!(f, "Caused by: {cause}")?;
            }
            write!(f, "{e:?}")?;
        }
        Ok(())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(..) => StatusCode::BAD_REQUEST,
            ApiError::Validation(..) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthorized(..) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(..) => StatusCode::CONFLICT,
            ApiError::MethodNotAllowed(..) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(..) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if let ApiError::Unexpected(_) = self {
            tracing::error!(error = ?self, "request failed");
        } else {
            tracing::debug!(error = %self, code = self.code(), "request refused");
        }
        let mut response = HttpResponse::build(status);
        match self {
            ApiError::TooManyRequests { retry_after_secs }
            | ApiError::Unavailable {
                retry_after_secs, ..
            } => {
                response.insert_header((header::RETRY_AFTER, HeaderValue::from(*retry_after_secs)));
            }
            ApiError::MethodNotAllowed(_, allow) => {
                if let Ok(allow) = HeaderValue::from_str(allow) {
                    response.insert_header((header::ALLOW, allow));
                }
            }
            ApiError::Unauthorized(..) => {
                response
                    .insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
            }
            _ => {}
        }
        response.json(ErrorBody {
            error: self.code(),
            message: self.to_string(),
        })
    }
}

impl From<DieselError> for ApiError {
    fn from(e: DieselError) -> Self {
        match e {
            DieselError::NotFound => ApiError::NotFound("record"),
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                ApiError::Conflict(
                    "already_exists",
                    "a record with these values already exists".into(),
                )
            }
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
                ApiError::Validation(
                    "invalid_reference",
                    "a referenced record does not exist".into(),
                )
            }
            DieselError::DatabaseError(DatabaseErrorKind::CheckViolation, _) => {
                ApiError::validation("a value is out of its allowed range")
            }
            DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => {
                ApiError::database_unavailable("connection closed")
            }
            // SQLite reports lock time-outs only by message.
            DieselError::DatabaseError(_, ref info)
                if info.message().contains("database is locked")
                    || info.message().contains("database is busy") =>
            {
                ApiError::database_unavailable(info.message())
            }
            other => ApiError::Unexpected(anyhow::Error::new(other)),
        }
    }
}

pub fn json_error_handler(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let api_error = match &err {
        JsonPayloadError::Overflow { limit } => ApiError::PayloadTooLarge(*limit),
        JsonPayloadError::OverflowKnownLength { limit, .. } => ApiError::PayloadTooLarge(*limit),
        JsonPayloadError::ContentType => ApiError::UnsupportedMediaType(
            "unsupported_media_type",
            "the body must be JSON with Content-Type: application/json".into(),
        ),
        JsonPayloadError::Deserialize(e) if e.is_data() => {
            ApiError::Validation("invalid_field", e.to_string())
        }
        JsonPayloadError::Deserialize(e) => {
            ApiError::BadRequest("malformed_json", format!("the body is not valid JSON: {e}"))
        }
        other => ApiError::BadRequest("bad_request", other.to_string()),
    };
    api_error.into()
}

pub fn query_error_handler(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::BadRequest("invalid_query", err.to_string()).into()
}

pub fn path_error_handler(err: PathError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::BadRequest("invalid_path", err.to_string()).into()
}

/// The paths of the API and the methods each takes, from the OpenAPI document, so a
/// request with the wrong method gets 405 and `Allow` instead of 404.
pub struct KnownRoutes(Vec<(ResourceDef, String)>);

impl KnownRoutes {
    pub fn from_document(api: &utoipa::openapi::OpenApi) -> Self {
        let routes = api
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods = [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ];
                let allow: Vec<&str> = methods
                    .iter()
                    .filter(|(_, present)| *present)
                    .map(|(method, _)| *method)
                    .collect();
                (ResourceDef::new(path.as_str()), allow.join(", "))
            })
            .collect();
        Self(routes)
    }
}

/// For requests that match no handler: 405 on a known path, 404 otherwise.
pub async fn no_route(
    req: HttpRequest,
    routes: Option<actix_web::web::Data<KnownRoutes>>,
) -> Result<HttpResponse, ApiError> {
    let allow = routes.and_then(|routes| {
        routes
            .0
            .iter()
            .find(|(def, _)| def.is_match(req.path()))
            .map(|(_, allow)| allow.clone())
    });
    match allow {
        Some(allow) => Err(ApiError::MethodNotAllowed(req.method().to_string(), allow)),
        None => Err(ApiError::NotFound("route")),
    }
}
