//! Districts (校下): the city's list.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::actions::{Services, districts};
use crate::auth::AuthMember;
use crate::db::models::District;
use crate::domain::DistrictId;
use crate::error::ApiError;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(get_districts);
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DistrictResponse {
    pub id: DistrictId,
    #[schema(example = "KZ05")]
    pub code: String,
    #[schema(example = "医王山")]
    pub name: String,
    #[schema(example = "いおうぜん")]
    pub name_kana: Option<String>,
    pub kominkan: Option<String>,
}

impl From<District> for DistrictResponse {
    fn from(d: District) -> Self {
        Self {
            id: d.id,
            code: d.code,
            name: d.name,
            name_kana: d.name_kana,
            kominkan: d.kominkan,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DistrictList {
    pub items: Vec<DistrictResponse>,
}

/// The city's districts (校下), by code; archived ones are left out.
#[utoipa::path(tag = "districts", responses((status = 200, body = DistrictList), (status = 401, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/districts")]
pub async fn get_districts(
    auth: AuthMember,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let districts = districts::list(&services, &auth.0).await?;
    Ok(HttpResponse::Ok().json(DistrictList {
        items: districts.into_iter().map(DistrictResponse::from).collect(),
    }))
}
