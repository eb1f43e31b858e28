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
        .configure(crate::startup::routes)
        .split_for_parts();
    api
}
