//! Who is asking: passwords, access tokens, refresh tokens, and the request extractor.

pub mod generations;
pub mod jwt;
pub mod limiter;
pub mod password;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::{Either, LocalBoxFuture, Ready, ready};

use crate::domain::MemberId;
use crate::domain::network::{IpBlock, client_of_chain, forwarded_chain};
use crate::error::ApiError;
use generations::TokenGenerations;

pub use jwt::JwtKeys;
pub use password::PasswordService;

/// A request carrying a valid access token of the member's current generation. Checking
/// it is cheap (the generation is in memory once read); what the member may do is decided
/// by `authz` against the database.
#[derive(Debug, Clone)]
pub struct AuthMember(pub MemberId);

impl FromRequest for AuthMember {
    type Error = ApiError;
    type Future =
        Either<Ready<Result<Self, ApiError>>, LocalBoxFuture<'static, Result<Self, ApiError>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let (member, generation, generations) = match verify(req) {
            Ok(verified) => verified,
            Err(e) => return Either::Left(ready(Err(e))),
        };
        // Answered at once when the generation is in memory (nearly always).
        if let Some(current) = generations.cached(&member) {
            return Either::Left(ready(same_generation(member, generation, current)));
        }
        Either::Right(Box::pin(async move {
            let current = generations.current(&member).await?;
            same_generation(member, generation, current)
        }))
    }
}

/// A token is refused once its member's generation moved past it.
fn same_generation(member: MemberId, token: i64, current: i64) -> Result<AuthMember, ApiError> {
    if token == current {
        Ok(AuthMember(member))
    } else {
        Err(ApiError::invalid_token())
    }
}

/// The token's member and generation, checked without the database.
fn verify(req: &HttpRequest) -> Result<(MemberId, i64, web::Data<TokenGenerations>), ApiError> {
    let keys = req
        .app_data::<web::Data<JwtKeys>>()
        .ok_or_else(|| ApiError::Unexpected(anyhow::anyhow!("JWT keys are not configured")))?;
    let generations = req
        .app_data::<web::Data<TokenGenerations>>()
        .cloned()
        .ok_or_else(|| ApiError::Unexpected(anyhow::anyhow!("token generations are not kept")))?;
    let token = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(ApiError::invalid_token)?;
    let (member, generation) = keys.verify(token)?;
    Ok((member, generation, generations))
}

/// The client's address for rate limiting: the TCP peer, or, when the peer is one of the
/// configured trusted proxies, the right-most address of its forwarded chain that is not
/// one of them (what the outermost trusted proxy saw). Anyone else's headers are ignored.
pub fn client_address(req: &HttpRequest, trusted_proxies: &[String]) -> String {
    let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
        return "unknown".into();
    };
    if trusted_proxies.is_empty() {
        return peer.to_string();
    }
    let trusted: Vec<IpBlock> = trusted_proxies
        .iter()
        .filter_map(|b| IpBlock::parse(b).ok())
        .collect();
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let chain = forwarded_chain(header("x-forwarded-for"), header("forwarded"));
    client_of_chain(peer, &chain, &trusted).map_or_else(|| "unknown".into(), |ip| ip.to_string())
}
