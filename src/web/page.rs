//! What every page shares: the `Page` context (language, text size, CSRF token, navigation)
//! that templates draw the layout from, rendering with the pages' headers, and error pages
//! in the member's language.

use std::rc::Rc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::cookie::Cookie;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use askama::Template;

use crate::actions::preferences::Preferences;
use crate::authz;
use crate::domain::{Language, Role, TextSize};
use crate::error::{ApiError, ErrorCode};
use crate::web::session::{self, SignedIn};
use crate::web::{assets, csrf, i18n};

/// Scripts, styles, images and connections from this site only; no inline code, no frames.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
    manifest-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// The context of one page view; every template has it as `page`.
pub struct Page {
    pub language: Language,
    pub preferences: Preferences,
    /// The token every form on the page carries (`{% include "csrf.html" %}`).
    pub csrf: String,
    pub member: Option<Rc<SignedIn>>,
    /// This page's path and query, to come back to (the language chooser).
    pub here: String,
    path: String,
    cookies: Vec<Cookie<'static>>,
}

pub struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
    /// `aria-current`: `page` on the section's own page, `true` on a page within it.
    pub current: Option<&'static str>,
}

pub struct LanguageOption {
    pub code: &'static str,
    pub html_lang: &'static str,
    pub name: &'static str,
    pub selected: bool,
}

impl Page {
    /// For a request whose session (if any) is already read.
    pub fn build(req: &HttpRequest, member: Option<Rc<SignedIn>>) -> Page {
        let preferences = match &member {
            Some(m) => m.preferences.unwrap_or(Preferences {
                language: visitor_language(req),
                ..Preferences::default()
            }),
            None => Preferences {
                language: visitor_language(req),
                ..Preferences::default()
            },
        };
        let (csrf, visitor_cookie) = csrf::token_for_page(req, member.as_deref());
        Page {
            language: preferences.language,
            preferences,
            csrf,
            member,
            here: req
                .uri()
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_string(),
            path: req.path().to_string(),
            cookies: visitor_cookie.into_iter().collect(),
        }
    }

    /// A translated text of the system (`src/web/i18n/<area>/<language>.toml`).
    pub fn t(&self, key: &str) -> &'static str {
        i18n::text(self.language, key)
    }

    /// A translated text with `{name}` filled in.
    pub fn tf(&self, key: &str, name: &str, value: &str) -> String {
        i18n::format(self.language, key, name, value)
    }

    /// The hashed URL of a static file.
    pub fn asset(&self, name: &str) -> &'static str {
        assets::asset_url(name)
    }

    pub fn html_lang(&self) -> &'static str {
        self.language.html_lang()
    }

    /// Classes on `<html>` for the text size and contrast.
    pub fn html_class(&self) -> String {
        let size = match self.preferences.text_size {
            TextSize::Standard => "text-standard",
            TextSize::Large => "text-large",
            TextSize::ExtraLarge => "text-x-large",
        };
        if self.preferences.high_contrast {
            format!("{size} contrast-high")
        } else {
            size.to_string()
        }
    }

    pub fn display_name(&self) -> Option<&str> {
        self.member
            .as_ref()
            .map(|m| m.principal.display_name.as_str())
    }

    pub fn signed_in(&self) -> bool {
        self.member.is_some()
    }

    /// Whether the member lives in a household, so has an inbox and a calendar.
    pub fn has_household(&self) -> bool {
        self.member
            .as_ref()
            .is_some_and(|m| m.principal.household_id.is_some())
    }

    /// The sections this member has, by their roles; each page still checks its own rule.
    pub fn nav(&self) -> Vec<NavLink> {
        let Some(member) = &self.member else {
            return Vec::new();
        };
        let p = &member.principal;
        let holds = |roles: &[Role]| p.roles.iter().any(|g| roles.contains(&g.role));
        let mut links = Vec::new();
        let mut add = |href: &'static str, key: &str| {
            links.push(NavLink {
                href,
                label: self.t(key),
                current: current_mark(&self.path, href),
            });
        };
        if p.household_id.is_some() {
            add("/inbox", "nav.inbox");
            add("/calendar", "nav.calendar");
        }
        if holds(&[Role::Officer, Role::Chair, Role::HanLeader]) {
            add("/officer", "nav.officer");
        }
        if holds(&[Role::DistrictOfficer]) {
            add("/district", "nav.district");
        }
        if authz::may_see_city_stats(p) {
            add("/city", "nav.city");
        }
        add("/settings", "nav.settings");
        if links.iter().all(|l| l.current.is_none())
            && let Some(home) = section_home(&self.path, &links)
            && let Some(link) = links.iter_mut().find(|l| l.href == home)
        {
            link.current = Some("true");
        }
        links
    }

    /// The section of the navigation this page lies within (not the section's own page),
    /// as the page's way back.
    pub fn section(&self) -> Option<NavLink> {
        self.nav()
            .into_iter()
            .find(|link| link.current == Some("true"))
    }

    pub fn languages(&self) -> Vec<LanguageOption> {
        Language::ALL
            .iter()
            .map(|&language| LanguageOption {
                code: language.as_str(),
                html_lang: language.html_lang(),
                name: i18n::endonym(language),
                selected: language == self.language,
            })
            .collect()
    }

    /// The texts page scripts show, as JSON for `<script type="application/json">`.
    pub fn script_text(&self) -> String {
        let keys = [
            "js.notifications_on",
            "js.notifications_denied",
            "js.notifications_unsupported",
            "js.notifications_failed",
            "js.queued_sync",
            "js.queued_retry",
            "js.queue_sent",
            "js.offline",
            "js.read_aloud",
            "js.read_aloud_stop",
        ];
        let texts: serde_json::Map<String, serde_json::Value> = keys
            .iter()
            .map(|k| (k.trim_start_matches("js.").to_string(), self.t(k).into()))
            .collect();
        // `<` escaped so the text cannot close the script element.
        serde_json::Value::Object(texts)
            .to_string()
            .replace('<', "\\u003c")
    }

    /// Renders a template with 200.
    pub fn render(&self, template: &impl Template) -> Result<HttpResponse, ApiError> {
        self.render_with(StatusCode::OK, template)
    }

    /// Renders a template with a status (a form with errors: 422, 401).
    pub fn render_with(
        &self,
        status: StatusCode,
        template: &impl Template,
    ) -> Result<HttpResponse, ApiError> {
        let body = template
            .render()
            .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("rendering a page: {e}")))?;
        let mut response = HttpResponse::build(status);
        response
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CONTENT_LANGUAGE, self.html_lang()));
        for cookie in &self.cookies {
            response.cookie(cookie.clone());
        }
        Ok(response.body(body))
    }
}

impl FromRequest for Page {
    type Error = actix_web::Error;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let member = session::current(&req).await?;
            Ok(Page::build(&req, member))
        })
    }
}

/// How a navigation link to `href` is marked on the page at `path`: the page itself, a page
/// within its section, or neither.
fn current_mark(path: &str, href: &str) -> Option<&'static str> {
    if path == href {
        Some("page")
    } else if path.starts_with(&format!("{href}/")) {
        Some("true")
    } else {
        None
    }
}

/// For a page outside every section of this member's navigation (a circular, the compose
/// page, a district opened from `/city`), the section it was most likely reached from: the
/// first of those the member has.
fn section_home(path: &str, links: &[NavLink]) -> Option<&'static str> {
    let candidates: &[&'static str] = if path.starts_with("/posts/")
        || (path.starts_with("/safety/") && !path.ends_with("/status"))
    {
        &["/inbox", "/officer", "/district", "/city"]
    } else if path.starts_with("/officer/") || path.starts_with("/safety/") {
        &["/officer", "/district", "/city"]
    } else if path.starts_with("/district") {
        &["/city"]
    } else {
        &[]
    };
    candidates
        .iter()
        .copied()
        .find(|c| links.iter().any(|l| l.href == *c))
}

/// A visitor's language: the one they chose here, else their browser's, else Japanese.
pub fn visitor_language(req: &HttpRequest) -> Language {
    session::chosen_language(req)
        .or_else(|| {
            req.headers()
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Language::from_accept_language)
        })
        .unwrap_or(Language::Ja)
}

/// 303 See Other: where a form's POST sends the browser (POST → redirect → GET).
pub fn redirect(to: &str, cookies: Vec<Cookie<'static>>) -> HttpResponse {
    let mut response = HttpResponse::SeeOther();
    response.insert_header((header::LOCATION, to));
    for cookie in cookies {
        response.cookie(cookie);
    }
    response.finish()
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    page: &'a Page,
    title: &'static str,
    message: &'static str,
}

/// The error page for a status and (when known) an error code, in the page's language.
fn error_page(req: &HttpRequest, status: StatusCode, code: Option<ErrorCode>) -> HttpResponse {
    let page = Page::build(req, session::already_read(req));
    let title = page.t(match status.as_u16() {
        404 => "error.title_not_found",
        403 => "error.title_forbidden",
        429 | 503 => "error.title_busy",
        _ => "error.title_other",
    });
    let message_key = code
        .map(|c| format!("error.{}", c.as_str()))
        .filter(|key| i18n::has(key))
        .unwrap_or_else(|| "error.generic".to_string());
    let template = ErrorPage {
        page: &page,
        title,
        message: page.t(&message_key),
    };
    page.render_with(status, &template)
        .unwrap_or_else(|_| HttpResponse::build(status).finish())
}

/// Whether errors answer with a page: browsers ask for HTML; the API and its clients
/// keep their JSON errors.
fn wants_page(req: &HttpRequest) -> bool {
    !req.path().starts_with("/api/")
        && req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"))
}

/// Unknown paths: a page in the visitor's language for a browser, else the API's JSON 404.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    if !wants_page(&req) {
        let routes = req
            .app_data::<actix_web::web::Data<crate::error::KnownRoutes>>()
            .cloned();
        return crate::error::no_route(req, routes).await;
    }
    Err(ApiError::NotFound("page"))
}

/// Wraps every page: errors become pages in the member's language (for browsers, which
/// ask for HTML); the security policy,
/// no caching of personal pages, and a slid session's cookie are added.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if req.path().starts_with("/api/") {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let response = next.call(req).await?.map_into_boxed_body();
    let failed = response.status().is_client_error() || response.status().is_server_error();
    let mut response = match response.response().error() {
        Some(error) if failed && wants_page(response.request()) => {
            let code = error.as_error::<ApiError>().map(ApiError::code);
            let status = response.status();
            let retry_after = response.headers().get(header::RETRY_AFTER).cloned();
            let mut page = error_page(response.request(), status, code);
            if let Some(retry_after) = retry_after {
                page.headers_mut().insert(header::RETRY_AFTER, retry_after);
            }
            response.into_response(page)
        }
        _ => response,
    };
    let renewed = session::renewed_cookie(response.request());
    add_page_headers(response.headers_mut(), renewed);
    Ok(response)
}

/// The security policy, no caching unless the handler chose, and a slid session's cookie
/// (unless a sign-in or sign-out on this request set the session cookie itself).
fn add_page_headers(headers: &mut header::HeaderMap, renewed: Option<Cookie<'static>>) {
    let sets_session = headers.get_all(header::SET_COOKIE).any(|v| {
        v.as_bytes()
            .starts_with(format!("{}=", session::SESSION_COOKIE).as_bytes())
    });
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    headers.insert(
        header::VARY,
        HeaderValue::from_static("Cookie, Accept-Language"),
    );
    if let Some(cookie) = renewed.filter(|_| !sets_session)
        && let Ok(value) = HeaderValue::from_str(&cookie.to_string())
    {
        headers.append(header::SET_COOKIE, value);
    }
}
