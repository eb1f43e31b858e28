//! Target 3: the projects the city runs with partners (city staff, admin). The rules are in
//! `actions::projects`.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::actions::Services;
use crate::actions::projects::{
    self, ProjectChanges, parse_description, parse_name, parse_partners, parse_year,
};
use crate::auth::AuthMember;
use crate::db::models::Project;
use crate::db::now;
use crate::domain::{Partner, ProjectId};
use crate::error::ApiError;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(list_projects)
        .service(create_project)
        .service(update_project)
        .service(delete_project);
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectRequest {
    pub name: String,
    /// The 年度 the project ran in (April to March).
    pub fiscal_year: i64,
    pub partners: Vec<Partner>,
    pub description: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProjectRequest {
    pub name: Option<String>,
    pub fiscal_year: Option<i64>,
    pub partners: Option<Vec<Partner>>,
    pub description: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ProjectResponse {
    pub id: ProjectId,
    pub name: String,
    pub fiscal_year: i32,
    pub partners: Vec<Partner>,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Project> for ProjectResponse {
    fn from(p: Project) -> Self {
        Self {
            id: p.id,
            name: p.name,
            fiscal_year: p.fiscal_year,
            partners: p.partners.0,
            description: p.description,
            created_at: p.created_at.and_utc(),
            updated_at: p.updated_at.and_utc(),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ProjectList {
    pub items: Vec<ProjectResponse>,
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ProjectQuery {
    /// Only projects of this 年度.
    pub fiscal_year: Option<i32>,
}

/// Projects with partners (city staff, admin), newest 年度 first.
#[utoipa::path(tag = "stats", params(ProjectQuery), responses((status = 200, body = ProjectList), (status = 403, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/projects")]
pub async fn list_projects(
    auth: AuthMember,
    query: web::Query<ProjectQuery>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let projects = projects::list(&services, &auth.0, query.fiscal_year).await?;
    Ok(HttpResponse::Ok().json(ProjectList {
        items: projects.into_iter().map(ProjectResponse::from).collect(),
    }))
}

/// Record a project with partners (city staff, admin).
#[utoipa::path(tag = "stats", request_body = ProjectRequest, responses((status = 201, body = ProjectResponse), (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/projects")]
pub async fn create_project(
    auth: AuthMember,
    body: web::Json<ProjectRequest>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let at = now();
    let project = Project {
        id: ProjectId::generate(),
        name: parse_name(&body.name)?,
        fiscal_year: parse_year(body.fiscal_year)?,
        partners: parse_partners(&body.partners)?,
        description: parse_description(body.description)?,
        created_by: Some(auth.0.clone()),
        created_at: at,
        updated_at: at,
    };
    let project = projects::create(&services, &auth.0, project).await?;
    Ok(HttpResponse::Created().json(ProjectResponse::from(project)))
}

/// Correct a project (city staff, admin).
#[utoipa::path(tag = "stats", request_body = UpdateProjectRequest, params(("id" = String, Path, description = "project id")), responses((status = 200, body = ProjectResponse), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[patch("/projects/{id}")]
pub async fn update_project(
    auth: AuthMember,
    path: web::Path<ProjectId>,
    body: web::Json<UpdateProjectRequest>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let changes = ProjectChanges {
        name: body.name.as_deref().map(parse_name).transpose()?,
        fiscal_year: body.fiscal_year.map(parse_year).transpose()?,
        partners: body.partners.as_deref().map(parse_partners).transpose()?,
        description: body
            .description
            .map(|d| parse_description(Some(d)))
            .transpose()?,
    };
    let project = projects::update(&services, &auth.0, path.into_inner(), changes).await?;
    Ok(HttpResponse::Ok().json(ProjectResponse::from(project)))
}

/// Remove a project recorded by mistake (city staff, admin).
#[utoipa::path(tag = "stats", params(("id" = String, Path, description = "project id")), responses((status = 204), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[delete("/projects/{id}")]
pub async fn delete_project(
    auth: AuthMember,
    path: web::Path<ProjectId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    projects::delete(&services, &auth.0, path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
