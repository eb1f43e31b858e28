//! The OpenAPI document: paths come from the handlers' `#[utoipa::path]`, collected as the
//! app is built; this adds the title, the bearer scheme and the shared error schema.

use actix_web::App;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

use crate::error::ErrorBody;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "kairan",
        description = "Electronic circular board (電子回覧板) for town associations. Errors are `{\"error\": code, \"message\": text}`.",
        license(name = "MIT")
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth),
    tags(
        (name = "operations", description = "Liveness and readiness"),
        (name = "auth", description = "Sign-in, tokens, registration, the signed-in member"),
        (name = "districts", description = "校下 (districts)"),
        (name = "associations", description = "町会 (associations)"),
        (name = "roster", description = "Hans, households and members: an association's roster (officers only; reads are audited)"),
        (name = "posts", description = "Circulars (回覧): posting, the inbox, reads, confirmations, receipts"),
        (name = "channels", description = "Email and LINE beside push: addresses, verification, the LINE webhook"),
        (name = "line", description = "LINE official accounts of associations and the city, members' links, the webhook"),
        (name = "calendar", description = "Events (行事) of circulars: the calendar by date and the iCalendar feed at a secret URL"),
        (name = "safety", description = "Safety checks (安否確認): start, answer, live status, reminders, close"),
        (name = "membership", description = "Invitations, join requests, roles and handover, staff, the audit log"),
        (name = "stats", description = "The adoption dashboard toward the city's targets, snapshots, projects with partners (counts and rates only)"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The full document, as served at `/api/v1/openapi.json`.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(crate::routes::all)
        .split_for_parts();
    let mut api = api;
    document_idempotency_key(&mut api);
    document_error_responses(&mut api);
    api
}

/// Every POST that needs a signed-in member accepts `Idempotency-Key` (crate::idempotency).
fn document_idempotency_key(api: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
    use utoipa::openapi::{ObjectBuilder, Required, Type};
    for item in api.paths.paths.values_mut() {
        let Some(operation) = item.post.as_mut().filter(|o| o.security.is_some()) else {
            continue;
        };
        let parameter = ParameterBuilder::new()
            .name("Idempotency-Key")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "Any unique string (1–255 visible ASCII characters, e.g. a UUID). A repeat with \
                 the same key and body by the same member returns the first answer \
                 (`Idempotent-Replayed: true`) and creates nothing; the same key with another \
                 request is refused (422 `idempotency_key_mismatch`); while the first is in \
                 flight, 409 `idempotency_key_in_use`; when the first answer held a secret shown once \
                 (an invitation code), 409 `idempotency_answer_withheld`. Keys are kept for a day.",
            ))
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(255))
                    .pattern(Some("^[!-~]+$")),
            ))
            .build();
        operation
            .parameters
            .get_or_insert_with(Vec::new)
            .push(parameter.into());
        for (status, description) in [
            ("400", "Bad request, e.g. a malformed Idempotency-Key"),
            (
                "409",
                "Conflict, e.g. a request with this Idempotency-Key is in flight",
            ),
        ] {
            operation
                .responses
                .responses
                .entry(status.to_string())
                .or_insert_with(|| error_response(description));
        }
    }
}

/// The refusals every handler can give through the shared extractors and `Db::run`,
/// added where a handler's own annotation leaves them out, so clients (and the API fuzzer)
/// find every status they can meet documented with the error schema.
fn document_error_responses(api: &mut utoipa::openapi::OpenApi) {
    for (path, item) in api.paths.paths.iter_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            // A file upload (any body that is not JSON) means nothing without its file.
            if let Some(utoipa::openapi::RefOr::T(body)) = operation.request_body.as_mut()
                && !body.content.contains_key("application/json")
            {
                body.required = Some(utoipa::openapi::Required::True);
            }
            let has_body = operation.request_body.is_some();
            let has_params = path.contains('{') || operation.parameters.is_some();
            let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
            let mut add = |status: &str, when: bool, description: &str| {
                if when {
                    operation
                        .responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| error_response(description));
                }
            };
            add(
                "400",
                has_body || has_params,
                "The request cannot be read: malformed JSON, query string or path",
            );
            add(
                "401",
                secured,
                "The access token is missing, invalid or expired",
            );
            add(
                "404",
                path.contains('{'),
                "Not found, or not visible to the caller",
            );
            add("413", has_body, "The body is larger than the limit");
            add(
                "415",
                has_body,
                "The body is not of the accepted content type",
            );
            add("422", has_body || has_params, "A value is not acceptable");
            add(
                "503",
                path != "/livez",
                "The database is unavailable; retry after Retry-After seconds",
            );
        }
    }
}

fn error_response(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
        .into()
}
