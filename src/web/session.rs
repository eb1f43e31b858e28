//! Browser sessions: a cookie naming a server-side row by the hash of its token (HttpOnly,
//! SameSite=Lax, Secure behind TLS), revocable, sliding; and the extractors pages use to
//! know who is asking.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::web;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use chrono::Duration;
use secrecy::ExposeSecret;

use crate::actions::preferences::{self, Preferences};
use crate::actions::{Services, account};
use crate::auth::jwt::{random_token, sha256_hex};
use crate::authz::Principal;
use crate::configuration::{SecureCookies, WebSettings};
use crate::db::queries::web as web_queries;
use crate::db::{Db, now};
use crate::domain::{Language, MemberId};
use crate::error::ApiError;

pub const SESSION_COOKIE: &str = "kairan_session";
/// The language a visitor chose, and a mirror of a member's, for pages drawn before the
/// session is read (errors, unknown paths).
pub const LANGUAGE_COOKIE: &str = "kairan_lang";

/// A session's expiry moves forward at most this often (a write per visit, not per page).
const SLIDE_AFTER_MINUTES: i64 = 10;

/// The signed-in member behind a request: the same `Principal` the API uses.
pub struct SignedIn {
    pub principal: Principal,
    /// None until the member saves settings.
    pub preferences: Option<Preferences>,
    /// The CSRF token of this session's forms.
    pub csrf: String,
    /// The expiry moved forward on this request: the cookie is sent again.
    pub slid: bool,
}

impl SignedIn {
    pub fn preferences(&self) -> Preferences {
        self.preferences.unwrap_or_default()
    }
}

/// The request's session, read once per request (cached in its extensions).
struct CachedSession(Option<Rc<SignedIn>>);

/// The signed-in member, or None; a dead or unknown cookie counts as none.
pub async fn current(req: &HttpRequest) -> Result<Option<Rc<SignedIn>>, ApiError> {
    if let Some(CachedSession(cached)) = req.extensions().get::<CachedSession>() {
        return Ok(cached.clone());
    }
    let loaded = match req.cookie(SESSION_COOKIE) {
        Some(cookie) => load(req, sha256_hex(cookie.value())).await?.map(Rc::new),
        None => None,
    };
    req.extensions_mut().insert(CachedSession(loaded.clone()));
    Ok(loaded)
}

async fn load(req: &HttpRequest, token_hash: String) -> Result<Option<SignedIn>, ApiError> {
    let db = app_data::<Db>(req)?;
    let ttl = app_data::<WebSettings>(req)?.session_ttl_secs();
    db.run(move |conn| {
        let at = now();
        let Some(session) = web_queries::find_live_session(conn, &token_hash, at)? else {
            return Ok(None);
        };
        let slid = at - session.last_seen_at > Duration::minutes(SLIDE_AFTER_MINUTES);
        if slid {
            web_queries::touch_session(conn, &session.id, ttl, at)?;
        }
        let principal = Principal::load(conn, &session.member_id)?;
        let preferences = preferences::mine(conn, &principal)?;
        Ok(Some(SignedIn {
            principal,
            preferences,
            csrf: session.csrf_token,
            slid,
        }))
    })
    .await
}

pub(crate) fn app_data<T: 'static>(req: &HttpRequest) -> Result<web::Data<T>, ApiError> {
    req.app_data::<web::Data<T>>().cloned().ok_or_else(|| {
        ApiError::Unexpected(anyhow::anyhow!(
            "{} is not configured",
            std::any::type_name::<T>()
        ))
    })
}

type LocalFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// A page for signed-in members: without a session, the browser goes to
/// `/login?next=<this page>` and comes back after signing in.
pub struct PageMember(pub Rc<SignedIn>);

impl FromRequest for PageMember {
    type Error = actix_web::Error;
    type Future = LocalFuture<Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match current(&req).await? {
                Some(signed_in) => Ok(PageMember(signed_in)),
                None => Err(LoginRedirect::to_return_to(&req).into()),
            }
        })
    }
}

/// Whoever is asking, signed in or not.
pub struct MaybeMember(pub Option<Rc<SignedIn>>);

impl FromRequest for MaybeMember {
    type Error = actix_web::Error;
    type Future = LocalFuture<Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(MaybeMember(current(&req).await?)) })
    }
}

/// The answer to a signed-out request for a member's page: 303 to the sign-in page.
#[derive(Debug)]
pub struct LoginRedirect(String);

impl LoginRedirect {
    fn to_return_to(req: &HttpRequest) -> Self {
        let here = req
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        // A form posted after the session ended returns to its page, not to the POST.
        let next = if req.method() == actix_web::http::Method::GET {
            here
        } else {
            req.path().to_string()
        };
        let query = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
        Self(format!("/login?{query}"))
    }
}

impl std::fmt::Display for LoginRedirect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sign in first: {}", self.0)
    }
}

impl ResponseError for LoginRedirect {
    fn status_code(&self) -> StatusCode {
        StatusCode::SEE_OTHER
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::SeeOther()
            .insert_header((LOCATION, self.0.as_str()))
            .finish()
    }
}

/// Whether cookies set in answer to this request carry `Secure`.
pub fn secure_cookies(req: &HttpRequest) -> bool {
    let setting = req
        .app_data::<web::Data<WebSettings>>()
        .map_or(SecureCookies::Auto, |s| s.secure_cookies);
    match setting {
        SecureCookies::Always => true,
        SecureCookies::Never => false,
        SecureCookies::Auto => req.connection_info().scheme() == "https",
    }
}

/// An HttpOnly, SameSite=Lax cookie for the whole site.
pub fn cookie(req: &HttpRequest, name: &str, value: String, max_age_secs: i64) -> Cookie<'static> {
    Cookie::build(name.to_string(), value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure_cookies(req))
        .max_age(time::Duration::seconds(max_age_secs))
        .finish()
}

/// Removes a cookie set by `cookie`.
pub fn removal(req: &HttpRequest, name: &str) -> Cookie<'static> {
    cookie(req, name, String::new(), 0)
}

fn session_max_age(req: &HttpRequest) -> i64 {
    req.app_data::<web::Data<WebSettings>>().map_or(0, |s| {
        i64::try_from(s.session_ttl_secs()).unwrap_or(i64::MAX / 2)
    })
}

/// The language cookie mirrors the member's choice, a year long.
pub fn language_cookie(req: &HttpRequest, language: Language) -> Cookie<'static> {
    cookie(
        req,
        LANGUAGE_COOKIE,
        language.as_str().to_string(),
        365 * 86_400,
    )
}

/// The visitor's chosen language, if they chose one on this browser.
pub fn chosen_language(req: &HttpRequest) -> Option<Language> {
    req.cookie(LANGUAGE_COOKIE)
        .and_then(|c| c.value().parse().ok())
}

/// Signs this browser in as `member`: ends the browser's previous session, stores a new
/// one, and keeps a language the visitor chose as the member's if they had none. Returns
/// the cookies to set on the answer (a redirect, after POST).
pub async fn start(req: &HttpRequest, member: MemberId) -> Result<Vec<Cookie<'static>>, ApiError> {
    let db = app_data::<Db>(req)?;
    let ttl = app_data::<WebSettings>(req)?.session_ttl_secs();
    let token = random_token();
    let token_hash = sha256_hex(token.expose_secret());
    let csrf = random_token().expose_secret().to_string();
    let previous = req.cookie(SESSION_COOKIE).map(|c| sha256_hex(c.value()));
    let chosen = chosen_language(req);
    let language = db
        .run(move |conn| {
            let at = now();
            if let Some(previous) = previous {
                crate::db::queries::member_access::revoke_session(conn, &previous, at)?;
            }
            web_queries::insert_session(conn, &member, token_hash, csrf, ttl, at)?;
            let principal = Principal::load(conn, &member)?;
            match (preferences::mine(conn, &principal)?, chosen) {
                (Some(prefs), _) => Ok(Some(prefs.language)),
                (None, Some(language)) => {
                    let prefs = Preferences {
                        language,
                        ..Preferences::default()
                    };
                    preferences::save(conn, &principal, prefs)?;
                    Ok(Some(language))
                }
                (None, None) => Ok(None),
            }
        })
        .await?;
    let mut cookies = vec![cookie(
        req,
        SESSION_COOKIE,
        token.expose_secret().to_string(),
        session_max_age(req),
    )];
    cookies.extend(language.map(|l| language_cookie(req, l)));
    Ok(cookies)
}

/// Ends this browser's session on the server (and its member's access tokens) and removes
/// its cookie.
pub async fn end(req: &HttpRequest) -> Result<Cookie<'static>, ApiError> {
    if let Some(cookie) = req.cookie(SESSION_COOKIE) {
        let services = app_data::<Services>(req)?;
        account::sign_out_browser(&services, sha256_hex(cookie.value())).await?;
    }
    Ok(removal(req, SESSION_COOKIE))
}

/// The session cookie again with a fresh Max-Age, when the session slid on this request.
pub fn renewed_cookie(req: &HttpRequest) -> Option<Cookie<'static>> {
    let slid = req
        .extensions()
        .get::<CachedSession>()
        .and_then(|c| c.0.as_ref().map(|s| s.slid))
        .unwrap_or(false);
    let token = req.cookie(SESSION_COOKIE)?;
    slid.then(|| {
        cookie(
            req,
            SESSION_COOKIE,
            token.value().to_string(),
            session_max_age(req),
        )
    })
}

/// The session's member, if the page already read it (error pages use it).
pub fn already_read(req: &HttpRequest) -> Option<Rc<SignedIn>> {
    req.extensions()
        .get::<CachedSession>()
        .and_then(|c| c.0.clone())
}
