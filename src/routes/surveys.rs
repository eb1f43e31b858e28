//! Surveys and attendance (アンケート, 出欠) on circulars: answering for a household, its
//! current answer, live tallies and the CSV export.

use actix_web::{HttpResponse, get, put, web};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::actions::Services;
use crate::actions::surveys::{self, AnswerItem, AnswersResponse, TallyResponse};
use crate::auth::AuthMember;
use crate::domain::PostId;
use crate::error::ApiError;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(submit_answers)
        .service(get_my_answers)
        .service(get_tally)
        .service(export_answers);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitAnswersRequest {
    pub answers: Vec<AnswerItem>,
}

/// Answer a circular's questions for your household. A later answer, by you or another
/// member of your household, replaces it until the deadline (answers_until, else the expiry).
#[utoipa::path(tag = "posts", params(("id" = String, Path)), responses((status = 200, body = AnswersResponse), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[put("/posts/{id}/answers")]
pub async fn submit_answers(
    auth: AuthMember,
    path: web::Path<PostId>,
    body: web::Json<SubmitAnswersRequest>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let items = body.into_inner().answers;
    let answers = surveys::submit(&services, &auth.0, path.into_inner(), items).await?;
    Ok(HttpResponse::Ok().json(answers))
}

/// Your household's answer to a circular's questions.
#[utoipa::path(tag = "posts", params(("id" = String, Path)), responses((status = 200, body = AnswersResponse), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/posts/{id}/answers/mine")]
pub async fn get_my_answers(
    auth: AuthMember,
    path: web::Path<PostId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let answers = surveys::mine(&services, &auth.0, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(answers))
}

/// Live tallies of a circular's answers: its officers and 班長 over their own households,
/// with the short texts; city staff and district officers who manage it, counts only.
#[utoipa::path(tag = "posts", params(("id" = String, Path)), responses((status = 200, body = TallyResponse), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/posts/{id}/tally")]
pub async fn get_tally(
    auth: AuthMember,
    path: web::Path<PostId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let tally = surveys::tally(&services, &auth.0, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(tally))
}

/// The answers as CSV for Excel (UTF-8 with BOM), one line per household that answered:
/// household, han, label, then one column per question. For officers and 班長, over their
/// own households.
#[utoipa::path(tag = "posts", params(("id" = String, Path)), responses((status = 200, content_type = "text/csv", body = String), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/posts/{id}/answers.csv")]
pub async fn export_answers(
    auth: AuthMember,
    path: web::Path<PostId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    crate::routes::csv_response(surveys::export(&services, &auth.0, path.into_inner()).await?)
}
