//! Reading and confirming circulars, paper confirmations, and the receipts: who has
//! confirmed and the visit list of those who have not, as JSON or CSV.

use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::actions::Services;
use crate::actions::push;
use crate::actions::receipts::{self, Receipt};
use crate::auth::AuthMember;
use crate::db::queries::receipts::Receipts;
use crate::domain::{Csv, HanId, HouseholdId, PostId};
use crate::error::ApiError;
use crate::routes::push::PostDeliveries;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(mark_read)
        .service(confirm_post)
        .service(record_paper_confirmation)
        .service(get_receipts)
        .service(export_receipts);
}

/// Mark a circular opened. Repeating it changes nothing.
#[utoipa::path(tag = "posts", params(("id" = String, Path)), responses((status = 204), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/posts/{id}/read")]
pub async fn mark_read(
    auth: AuthMember,
    path: web::Path<PostId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    receipts::record(&services, &auth.0, path.into_inner(), Receipt::Read).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Confirm a circular (確認) for your household. Repeating it changes nothing.
#[utoipa::path(tag = "posts", params(("id" = String, Path)), responses((status = 204), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/posts/{id}/confirm")]
pub async fn confirm_post(
    auth: AuthMember,
    path: web::Path<PostId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    receipts::record(&services, &auth.0, path.into_inner(), Receipt::Confirm).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaperConfirmationRequest {
    pub household_id: String,
}

/// Record a paper household's confirmation after handing over the printed circular
/// (officers, or the 班長 of that household's han).
#[utoipa::path(tag = "posts", params(("id" = String, Path)), responses((status = 204), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/posts/{id}/paper-confirmations")]
pub async fn record_paper_confirmation(
    auth: AuthMember,
    path: web::Path<PostId>,
    body: web::Json<PaperConfirmationRequest>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let household = HouseholdId(body.into_inner().household_id);
    receipts::record_paper_confirmations(&services, &auth.0, path.into_inner(), vec![household])
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize, ToSchema)]
pub struct UnconfirmedHousehold {
    pub household_id: HouseholdId,
    pub label: String,
    pub han_id: Option<HanId>,
    pub han: Option<String>,
    pub paper: bool,
    pub read: bool,
}

#[derive(Serialize, ToSchema)]
pub struct ReceiptsResponse {
    /// Households the post reaches (within what you may see).
    pub households: i64,
    pub read: i64,
    pub confirmed: i64,
    /// Not yet confirmed, by han then label: the 班長's visit list. Empty for city staff and
    /// district officers, who see counts only.
    pub unconfirmed: Vec<UnconfirmedHousehold>,
    /// The notifications' figures per channel and why any failed, as
    /// `GET /posts/{id}/deliveries` gives them; null for those who follow the receipts
    /// without managing the circular.
    pub deliveries: Option<PostDeliveries>,
}

impl From<Receipts> for ReceiptsResponse {
    fn from(r: Receipts) -> Self {
        Self {
            households: r.households,
            read: r.read,
            confirmed: r.confirmed,
            unconfirmed: r
                .unconfirmed
                .into_iter()
                .map(|u| UnconfirmedHousehold {
                    household_id: u.household_id,
                    label: u.label,
                    han_id: u.han_id,
                    han: u.han,
                    paper: u.paper,
                    read: u.read,
                })
                .collect(),
            deliveries: None,
        }
    }
}

/// Read and confirmation counts by household, and the households not yet confirmed.
#[utoipa::path(tag = "posts", params(("id" = String, Path)), responses((status = 200, body = ReceiptsResponse), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/posts/{id}/receipts")]
pub async fn get_receipts(
    auth: AuthMember,
    path: web::Path<PostId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let receipts = receipts::list(&services, &auth.0, id.clone()).await?;
    let deliveries = match push::deliveries(&services, &auth.0, id).await {
        Ok(figures) => Some(PostDeliveries::from(figures)),
        Err(ApiError::NotFound(_)) => None,
        Err(e) => return Err(e),
    };
    Ok(HttpResponse::Ok().json(ReceiptsResponse {
        deliveries,
        ..ReceiptsResponse::from(receipts)
    }))
}

/// The visit list as CSV for Excel (UTF-8 with BOM): han, household, paper, read.
#[utoipa::path(tag = "posts", params(("id" = String, Path)), responses((status = 200, content_type = "text/csv", body = String), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/posts/{id}/receipts.csv")]
pub async fn export_receipts(
    auth: AuthMember,
    path: web::Path<PostId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let receipts = receipts::list(&services, &auth.0, path.into_inner()).await?;
    let rows = receipts.unconfirmed.into_iter().map(|u| {
        vec![
            u.household_id.to_string(),
            u.han.unwrap_or_default(),
            u.label,
            if u.paper { "yes" } else { "no" }.to_string(),
            if u.read { "yes" } else { "no" }.to_string(),
        ]
    });
    crate::routes::csv_response(Csv::new(
        "unconfirmed.csv",
        ["household_id", "han", "label", "paper", "read"],
        rows.collect(),
    ))
}
