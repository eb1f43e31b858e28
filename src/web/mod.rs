//! The pages: server-rendered HTML for residents, officers and city staff (docs/design.md 7b),
//! on the same use cases as the JSON API. docs/web.md explains how a page is built.

pub mod assets;
pub mod chart;
pub mod csrf;
pub mod form_errors;
pub mod i18n;
pub mod log;
pub mod page;
mod pages;
pub mod qr;
pub mod session;
pub mod setup;
pub mod upload;

use actix_web::HttpRequest;
use actix_web::web::ServiceConfig;

use crate::configuration::WebSettings;

pub use csrf::{CsrfForm, CsrfHeader};
pub use page::Page;
pub use session::{MaybeMember, PageMember};

/// Every page and asset. Mount after the API so `/api/…` keeps its JSON answers.
pub fn config(cfg: &mut ServiceConfig) {
    assets::config(cfg);
    cfg.service(
        actix_web::web::scope("")
            .wrap(actix_web::middleware::from_fn(crate::admission::pages))
            .wrap(actix_web::middleware::from_fn(page::middleware))
            .configure(pages::config)
            .default_service(actix_web::web::to(page::not_found)),
    );
}

/// The address pages and printed QR codes point at: `web.public_url`, or the one the
/// request came to.
pub fn public_base_url(req: &HttpRequest, settings: &WebSettings) -> String {
    let configured = settings.public_url.trim_end_matches('/');
    if !configured.is_empty() {
        return configured.to_string();
    }
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

/// A path on this site to return to after signing in, or None for anything else (another
/// host, a scheme, a protocol-relative `//host`, control characters).
pub fn local_path(next: &str) -> Option<&str> {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.len() <= 2000
        && !next.chars().any(|c| c.is_control() || c == '\\');
    local.then_some(next)
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(local_path("/posts/1?x=2"), Some("/posts/1?x=2"));
        assert_eq!(local_path("//evil.example/"), None);
        assert_eq!(local_path("/\\evil.example/"), None);
        assert_eq!(local_path("https://evil.example/"), None);
        assert_eq!(local_path("javascript:alert(1)"), None);
        assert_eq!(local_path("/a\nb"), None);
        assert_eq!(local_path(""), None);
    }
}
