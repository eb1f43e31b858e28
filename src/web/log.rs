//! The request span of the access log, with the secrets some page paths carry (sign-in
//! codes, invitation codes, the set-up token) left out.

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};

/// Paths whose last segment is a secret.
const SECRET_PATHS: &[&str] = &["/signin/", "/join/", "/setup/", "/api/v1/calendar-feeds/"];

/// The path as logged: `/signin/…` instead of the code; no query string.
pub fn loggable_path(path: &str) -> String {
    SECRET_PATHS
        .iter()
        .find(|prefix| path.starts_with(*prefix))
        .map_or_else(|| path.to_string(), |prefix| format!("{prefix}…"))
}

pub struct RedactedRootSpan;

impl RootSpanBuilder for RedactedRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        // No route template: finding it tries every route's pattern again (regular
        // expressions: 7 % of the server's CPU in an emergency); a server error's own line
        // names it (`on_request_end`).
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.target = %loggable_path(request.path()),
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
            request_id = %request_id,
        )
    }

    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        DefaultRootSpanBuilder::on_request_end(span.clone(), outcome);
        // A 503 is load shed, or an outage logged when it began: thousands of them in an
        // overload, each not worth a pattern match and a line.
        if let Ok(response) = outcome
            && response.status().is_server_error()
            && response.status() != StatusCode::SERVICE_UNAVAILABLE
        {
            // The handler's line (the error and its causes) was written before the route
            // was known; this one names it, under the same request id.
            let route = response.request().match_pattern().unwrap_or_default();
            let status = response.status().as_u16();
            span.in_scope(|| {
                tracing::error!(http.route = %route, http.status_code = status, "answered with a server error");
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::loggable_path;

    #[test]
    fn secrets_in_paths_are_not_logged() {
        assert_eq!(loggable_path("/signin/abc123"), "/signin/…");
        assert_eq!(loggable_path("/join/K7QM-2HX9"), "/join/…");
        assert_eq!(loggable_path("/setup/tok"), "/setup/…");
        assert_eq!(
            loggable_path("/api/v1/calendar-feeds/tok.ics"),
            "/api/v1/calendar-feeds/…"
        );
        assert_eq!(loggable_path("/api/v1/me"), "/api/v1/me");
    }
}
