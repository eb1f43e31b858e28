//! One error type for the whole API. Every failure leaves as
//! `{"error": "<snake_case_code>", "message": "<text>"}` with the right status.

use actix_web::dev::ResourceDef;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Serialize;

/// Defines `ErrorCode` with its wire strings, so each code is written once.
macro_rules! error_codes {
    ($($variant:ident = $wire:literal,)*) => {
        /// The stable snake_case codes programs match on (`"error"` in every error body).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode { $($variant,)* }

        impl ErrorCode {
            pub const ALL: &[ErrorCode] = &[$(Self::$variant,)*];

            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $wire,)* }
            }
        }
    };
}

error_codes! {
    AlreadyDecided = "already_decided",
    AlreadyExists = "already_exists",
    AlreadyMember = "already_member",
    AlreadyRequested = "already_requested",
    AnswerRequired = "answer_required",
    AnswersClosed = "answers_closed",
    AssociationExists = "association_exists",
    AttachmentTypeMismatch = "attachment_type_mismatch",
    AudienceFixed = "audience_fixed",
    BadRequest = "bad_request",
    ConfirmationNotRequested = "confirmation_not_requested",
    CorsRefused = "cors_refused",
    CsrfTokenInvalid = "csrf_token_invalid",
    DatabaseUnavailable = "database_unavailable",
    DistrictArchived = "district_archived",
    DistrictNotArchived = "district_not_archived",
    DistrictNotEmpty = "district_not_empty",
    EmailNotConfigured = "email_not_configured",
    EmptyAttachment = "empty_attachment",
    Forbidden = "forbidden",
    HanExists = "han_exists",
    HouseholdNotInAudience = "household_not_in_audience",
    IdempotencyAnswerWithheld = "idempotency_answer_withheld",
    IdempotencyKeyInUse = "idempotency_key_in_use",
    IdempotencyKeyMismatch = "idempotency_key_mismatch",
    InternalError = "internal_error",
    InvalidAnswer = "invalid_answer",
    InvalidCredentials = "invalid_credentials",
    InvalidCsv = "invalid_csv",
    InvalidEmail = "invalid_email",
    InvalidCursor = "invalid_cursor",
    InvalidField = "invalid_field",
    InvalidIdempotencyKey = "invalid_idempotency_key",
    InvalidInput = "invalid_input",
    InvalidLineSignature = "invalid_line_signature",
    InvalidMonth = "invalid_month",
    InvalidPath = "invalid_path",
    InvalidQuery = "invalid_query",
    InvalidReference = "invalid_reference",
    InvalidRefreshToken = "invalid_refresh_token",
    InvitationExpired = "invitation_expired",
    InvitationInvalid = "invitation_invalid",
    InvitationUsedUp = "invitation_used_up",
    LineNotAvailable = "line_not_available",
    LineNotLinked = "line_not_linked",
    LoginTaken = "login_taken",
    MalformedJson = "malformed_json",
    MergeIntoItself = "merge_into_itself",
    MethodNotAllowed = "method_not_allowed",
    NotAMember = "not_a_member",
    NotFound = "not_found",
    NotPublishable = "not_publishable",
    PayloadTooLarge = "payload_too_large",
    PostWithdrawn = "post_withdrawn",
    RefreshTokenReused = "refresh_token_reused",
    ReminderTooSoon = "reminder_too_soon",
    RoleHeld = "role_held",
    SafetyCheckClosed = "safety_check_closed",
    ServiceUnavailable = "service_unavailable",
    SetupClosed = "setup_closed",
    SignInCodeInvalid = "sign_in_code_invalid",
    TooManyAttachments = "too_many_attachments",
    TooManyRequests = "too_many_requests",
    Unauthorized = "unauthorized",
    UnknownDistrict = "unknown_district",
    UnknownHan = "unknown_han",
    UnknownHousehold = "unknown_household",
    UnknownQuestion = "unknown_question",
    UnknownScope = "unknown_scope",
    UnsupportedAttachmentType = "unsupported_attachment_type",
    UnsupportedMediaType = "unsupported_media_type",
    WeakPassword = "weak_password",
    WrongPassword = "wrong_password",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is wrong with a value, in words a page can translate (`field.<key>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// Nothing (or only spaces) was typed.
    Empty,
    /// Longer than `max` characters.
    TooLong { max: usize },
    /// A control, invisible or direction-changing character.
    Characters,
    /// A list of choices shorter or longer than allowed.
    OptionCount { min: usize, max: usize },
    /// A number outside `min..=max`.
    Range { min: i64, max: i64 },
    /// A question that must be answered was left blank.
    Unanswered,
    /// Not the right value (the current password).
    Wrong,
    /// A password shorter than `min` characters or too easy to guess.
    Weak { min: usize },
    /// Anything else; the English message says what.
    Invalid,
}

impl Problem {
    /// The translation key of its sentence (`field.empty`, …).
    pub const fn key(self) -> &'static str {
        match self {
            Problem::Empty => "field.empty",
            Problem::TooLong { .. } => "field.too_long",
            Problem::Characters => "field.characters",
            Problem::OptionCount { .. } => "field.option_count",
            Problem::Range { .. } => "field.range",
            Problem::Unanswered => "field.unanswered",
            Problem::Wrong => "field.wrong",
            Problem::Weak { .. } => "field.weak",
            Problem::Invalid => "field.invalid",
        }
    }
}

/// A refused value and the field it was given in (its name on the wire: `title`, `body`,
/// `questions`, …), so the API can name the field and a page can show the message beside
/// it. The one home of each rule builds it; front doors only place it (D63).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub problem: Problem,
    /// The English sentence the API answers with.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, problem: Problem, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            problem,
            message: message.into(),
        }
    }

    /// The same problem, named as the field `field` of the request.
    pub fn at(self, field: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            ..self
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<FieldError> for String {
    fn from(e: FieldError) -> Self {
        e.message
    }
}

impl PartialEq<&str> for FieldError {
    fn eq(&self, other: &&str) -> bool {
        self.message == *other
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::Field(ErrorCode::InvalidInput, Box::new(e))
    }
}

#[derive(thiserror::Error)]
pub enum ApiError {
    /// A value of one field is not acceptable (422, with `"field"` in the body).
    #[error("{}", .1.message)]
    Field(ErrorCode, Box<FieldError>),
    /// The request cannot be read (syntax, encoding, query string).
    #[error("{1}")]
    BadRequest(ErrorCode, String),
    /// The request was read but a value is not acceptable.
    #[error("{1}")]
    Validation(ErrorCode, String),
    /// Code and message: who is asking is not established.
    #[error("{1}")]
    Unauthorized(ErrorCode, &'static str),
    #[error("you are not allowed to do this")]
    Forbidden,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{1}")]
    Conflict(ErrorCode, String),
    /// The path exists, with other methods (listed for the `Allow` header).
    #[error("this path does not take {0}; it takes {1}")]
    MethodNotAllowed(String, String),
    #[error("request body is larger than the limit of {0} bytes")]
    PayloadTooLarge(usize),
    /// Code and message.
    #[error("{1}")]
    UnsupportedMediaType(ErrorCode, String),
    #[error("too many requests; try again in {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    /// Code and message: the same thing was done too recently; 429 with Retry-After.
    #[error("{message}")]
    TooSoon {
        code: ErrorCode,
        message: String,
        retry_after_secs: u64,
    },
    #[error("{message}")]
    Unavailable {
        code: ErrorCode,
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
    /// The request's field the error is about, when it is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "title")]
    pub field: Option<String>,
}

impl ApiError {
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::BadRequest(code, _)
            | ApiError::Field(code, _)
            | ApiError::Validation(code, _)
            | ApiError::Conflict(code, _)
            | ApiError::UnsupportedMediaType(code, _)
            | ApiError::Unauthorized(code, _)
            | ApiError::Unavailable { code, .. }
            | ApiError::TooSoon { code, .. } => *code,
            ApiError::Forbidden => ErrorCode::Forbidden,
            ApiError::NotFound(_) => ErrorCode::NotFound,
            ApiError::MethodNotAllowed(..) => ErrorCode::MethodNotAllowed,
            ApiError::PayloadTooLarge(_) => ErrorCode::PayloadTooLarge,
            ApiError::TooManyRequests { .. } => ErrorCode::TooManyRequests,
            ApiError::Unexpected(_) => ErrorCode::InternalError,
        }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        ApiError::Validation(ErrorCode::InvalidInput, message.into())
    }

    /// The one answer for a missing, malformed, expired or forged access token.
    pub fn invalid_token() -> Self {
        ApiError::Unauthorized(
            ErrorCode::Unauthorized,
            "the access token is missing, invalid or expired",
        )
    }

    /// A failure that says the database is gone (unreachable, closed, locked), not that
    /// this request was wrong.
    pub fn is_database_unavailable(&self) -> bool {
        matches!(
            self,
            ApiError::Unavailable {
                code: ErrorCode::DatabaseUnavailable,
                ..
            }
        )
    }

    pub fn database_unavailable(e: impl std::fmt::Display) -> Self {
        tracing::warn!(error = %e, "database unavailable");
        Self::database_down()
    }

    /// Every pooled connection is busy serving other requests: load, not an outage.
    pub fn overloaded() -> Self {
        ApiError::Unavailable {
            code: ErrorCode::ServiceUnavailable,
            message: "the server is busy; try again shortly",
            retry_after_secs: 1,
        }
    }

    /// Without a log line: the outage was logged when it began.
    pub fn database_down() -> Self {
        ApiError::Unavailable {
            code: ErrorCode::DatabaseUnavailable,
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
            ApiError::Validation(..) | ApiError::Field(..) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthorized(..) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(..) => StatusCode::CONFLICT,
            ApiError::MethodNotAllowed(..) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(..) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyRequests { .. } | ApiError::TooSoon { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if let ApiError::Unexpected(_) = self {
            tracing::error!(error = ?self, "request failed");
        } else {
            tracing::debug!(error = %self, code = self.code().as_str(), "request refused");
        }
        let mut response = HttpResponse::build(status);
        match self {
            ApiError::TooManyRequests { retry_after_secs }
            | ApiError::TooSoon {
                retry_after_secs, ..
            }
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
            error: self.code().as_str(),
            message: self.to_string(),
            field: match self {
                ApiError::Field(_, e) => Some(e.field.clone()),
                _ => None,
            },
        })
    }
}

impl From<DieselError> for ApiError {
    fn from(e: DieselError) -> Self {
        match e {
            DieselError::NotFound => ApiError::NotFound("record"),
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                ApiError::Conflict(
                    ErrorCode::AlreadyExists,
                    "a record with these values already exists".into(),
                )
            }
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
                ApiError::Validation(
                    ErrorCode::InvalidReference,
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
            ErrorCode::UnsupportedMediaType,
            "the body must be JSON with Content-Type: application/json".into(),
        ),
        JsonPayloadError::Deserialize(e) if e.is_data() => {
            ApiError::Validation(ErrorCode::InvalidField, e.to_string())
        }
        JsonPayloadError::Deserialize(e) => ApiError::BadRequest(
            ErrorCode::MalformedJson,
            format!("the body is not valid JSON: {e}"),
        ),
        other => ApiError::BadRequest(ErrorCode::BadRequest, other.to_string()),
    };
    api_error.into()
}

pub fn query_error_handler(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::BadRequest(ErrorCode::InvalidQuery, err.to_string()).into()
}

pub fn path_error_handler(err: PathError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::BadRequest(ErrorCode::InvalidPath, err.to_string()).into()
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
