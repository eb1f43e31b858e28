//! Associations (町会): the city's list, registering one, its name and reported figures.

use actix_web::{HttpResponse, get, patch, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::actions::{Services, associations};
use crate::auth::AuthMember;
use crate::db::models::Association;
use crate::db::queries::associations::{AssociationChangeset, NewAssociation};
use crate::domain::{AssociationId, DistrictId, OneLine, household_count, optional_name};
use crate::error::ApiError;
use crate::routes::double_option;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(list_associations)
        .service(create_association)
        .service(get_association)
        .service(update_association);
}

#[derive(Serialize, ToSchema)]
pub struct AssociationResponse {
    pub id: AssociationId,
    pub district_id: DistrictId,
    #[schema(example = "本町一丁目町会")]
    pub name: String,
    pub name_kana: Option<String>,
    /// 加入世帯数 as reported by the association.
    pub member_households: i32,
    /// All households in its area, when reported.
    pub area_households: Option<i32>,
}

impl From<Association> for AssociationResponse {
    fn from(a: Association) -> Self {
        Self {
            id: a.id,
            district_id: a.district_id,
            name: a.name,
            name_kana: a.name_kana,
            member_households: a.member_households,
            area_households: a.area_households,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AssociationList {
    pub items: Vec<AssociationResponse>,
}

#[derive(Deserialize, IntoParams)]
pub struct AssociationFilter {
    /// Only the associations of this district.
    pub district_id: Option<String>,
}

/// Associations, by district and name. Names and counts only: no personal data.
#[utoipa::path(tag = "associations", params(AssociationFilter), responses((status = 200, body = AssociationList), (status = 401, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/associations")]
pub async fn list_associations(
    auth: AuthMember,
    query: web::Query<AssociationFilter>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let district = query.into_inner().district_id.map(DistrictId);
    let items = associations::list(&services, &auth.0, district).await?;
    Ok(HttpResponse::Ok().json(AssociationList {
        items: items.into_iter().map(Into::into).collect(),
    }))
}

fn count(field: &str, value: i64) -> Result<i32, ApiError> {
    household_count(field, value).map_err(ApiError::validation)
}

fn name(value: &str) -> Result<String, ApiError> {
    OneLine::<100>::parse("name", value)
        .map(OneLine::into_inner)
        .map_err(ApiError::validation)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAssociationRequest {
    pub district_id: String,
    pub name: String,
    pub name_kana: Option<String>,
    /// 加入世帯数.
    pub member_households: i64,
    pub area_households: Option<i64>,
}

impl CreateAssociationRequest {
    fn parse(self) -> Result<NewAssociation, ApiError> {
        Ok(NewAssociation {
            district_id: DistrictId(self.district_id),
            name: name(&self.name)?,
            name_kana: optional_name("name_kana", self.name_kana).map_err(ApiError::validation)?,
            member_households: count("member_households", self.member_households)?,
            area_households: self
                .area_households
                .map(|n| count("area_households", n))
                .transpose()?,
        })
    }
}

/// Register an association (city staff).
#[utoipa::path(tag = "associations", responses((status = 201, body = AssociationResponse), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/associations")]
pub async fn create_association(
    auth: AuthMember,
    body: web::Json<CreateAssociationRequest>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let new = body.into_inner().parse()?;
    let association = associations::create(&services, &auth.0, new).await?;
    Ok(HttpResponse::Created().json(AssociationResponse::from(association)))
}

/// One association.
#[utoipa::path(tag = "associations", params(("id" = String, Path)), responses((status = 200, body = AssociationResponse), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/associations/{id}")]
pub async fn get_association(
    auth: AuthMember,
    path: web::Path<AssociationId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let association = associations::get(&services, &auth.0, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(AssociationResponse::from(association)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAssociationRequest {
    pub name: Option<String>,
    pub member_households: Option<i64>,
    /// null clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub area_households: Option<Option<i64>>,
}

impl UpdateAssociationRequest {
    fn parse(self) -> Result<AssociationChangeset, ApiError> {
        Ok(AssociationChangeset {
            name: self.name.as_deref().map(name).transpose()?,
            member_households: self
                .member_households
                .map(|n| count("member_households", n))
                .transpose()?,
            area_households: self
                .area_households
                .map(|n| n.map(|n| count("area_households", n)).transpose())
                .transpose()?,
            updated_at: None,
        })
    }
}

/// Rename an association or update its reported household counts (city staff).
#[utoipa::path(tag = "associations", params(("id" = String, Path)), responses((status = 200, body = AssociationResponse), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[patch("/associations/{id}")]
pub async fn update_association(
    auth: AuthMember,
    path: web::Path<AssociationId>,
    body: web::Json<UpdateAssociationRequest>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let changes = body.into_inner().parse()?;
    let association = associations::update(&services, &auth.0, path.into_inner(), changes).await?;
    Ok(HttpResponse::Ok().json(AssociationResponse::from(association)))
}
