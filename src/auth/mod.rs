//! Who is asking: passwords, access tokens, refresh tokens, and the request extractor.

pub mod jwt;
pub mod limiter;
pub mod password;

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};

use crate::domain::MemberId;
use crate::error::ApiError;

pub use jwt::JwtKeys;
pub use password::PasswordService;

/// A request carrying a valid access token. Checking it is cheap and synchronous; what the
/// member may do is decided by `authz` against the database.
#[derive(Debug, Clone)]
pub struct AuthMember(pub MemberId);

impl FromRequest for AuthMember {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

fn authenticate(req: &HttpRequest) -> Result<AuthMember, ApiError> {
    let keys = req
        .app_data::<web::Data<JwtKeys>>()
        .ok_or_else(|| ApiError::Unexpected(anyhow::anyhow!("JWT keys are not configured")))?;
    let token = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(ApiError::invalid_token)?;
    keys.verify(token).map(AuthMember)
}

/// The client's address for rate limiting: the peer, or the proxy's word for it when
/// configured to trust one.
pub fn client_address(req: &HttpRequest, behind_proxy: bool) -> String {
    let info = req.connection_info();
    let address = if behind_proxy {
        info.realip_remote_addr()
    } else {
        info.peer_addr()
    };
    address.unwrap_or("unknown").to_string()
}
