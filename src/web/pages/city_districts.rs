//! `/city/districts` for city staff and admins (heading `校下の一覧の訂正`): forms to rename a
//! district, merge one into another, archive one and restore it, through the same use case
//! as the API (`actions::districts::correct`). A refused correction redraws the page with the
//! reason beside its form; anyone else gets the 403 page.

use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;
use serde::Deserialize;

use crate::actions::Services;
use crate::actions::districts::{self, Correction};
use crate::db::models::District;
use crate::domain::{DistrictId, OneLine, optional_name};
use crate::error::{ApiError, ErrorCode};
use crate::web::CsrfForm;
use crate::web::page::{Page, redirect};
use crate::web::session::PageMember;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.route("/city/districts", web::get().to(show))
        .route("/city/districts/rename", web::post().to(rename))
        .route("/city/districts/merge", web::post().to(merge))
        .route("/city/districts/archive", web::post().to(archive))
        .route("/city/districts/restore", web::post().to(restore));
}

/// Which form a refusal belongs to, and its text's key.
type Refusal = (&'static str, &'static str);

#[derive(Template)]
#[template(path = "city_districts.html")]
struct DistrictsPage<'a> {
    page: &'a Page,
    open: Vec<District>,
    archived: Vec<District>,
    done: bool,
    refusal: Option<Refusal>,
}

impl DistrictsPage<'_> {
    fn refusal_of(&self, form: &str) -> Option<&'static str> {
        self.refusal
            .filter(|(f, _)| *f == form)
            .map(|(_, key)| self.page.t(key))
    }
}

async fn render(
    services: &Services,
    member: &PageMember,
    page: &Page,
    done: bool,
    refused: Option<(ApiError, Refusal)>,
) -> Result<HttpResponse, ApiError> {
    let caller = &member.0.principal.member_id;
    let (archived, open) = districts::correctable(services, caller)
        .await?
        .into_iter()
        .partition(|d| d.archived);
    let status = refused
        .as_ref()
        .map_or(actix_web::http::StatusCode::OK, |(e, _)| e.status_code());
    let view = DistrictsPage {
        page,
        open,
        archived,
        done,
        refusal: refused.map(|(_, r)| r),
    };
    page.render_with(status, &view)
}

#[derive(Deserialize)]
struct Done {
    done: Option<String>,
}

async fn show(
    member: PageMember,
    page: Page,
    query: web::Query<Done>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    render(&services, &member, &page, query.done.is_some(), None).await
}

/// Applies a correction, then back to the page; a refusal the form can explain is shown
/// beside it, anything else is the usual error page.
async fn apply(
    services: &Services,
    member: &PageMember,
    page: &Page,
    form: &'static str,
    district: String,
    correction: Result<Correction, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let caller = &member.0.principal.member_id;
    let done = match correction {
        Ok(c) => districts::correct(services, caller, DistrictId(district), c)
            .await
            .map(drop),
        Err(e) => Err(e),
    };
    match done {
        Ok(()) => Ok(redirect("/city/districts?done=1", Vec::new())),
        Err(e) => match reason(&e) {
            Some(key) => render(services, member, page, false, Some((e, (form, key)))).await,
            None => Err(e),
        },
    }
}

fn reason(e: &ApiError) -> Option<&'static str> {
    Some(match e.code() {
        ErrorCode::MergeIntoItself => "city_districts.merge_into_itself",
        ErrorCode::DistrictArchived => "city_districts.archived",
        ErrorCode::DistrictNotEmpty => "city_districts.not_empty",
        ErrorCode::DistrictNotArchived => "city_districts.not_archived",
        ErrorCode::InvalidInput => "city_districts.name_required",
        ErrorCode::UnknownDistrict | ErrorCode::NotFound => "city_districts.choose",
        _ => return None,
    })
}

#[derive(Deserialize)]
struct RenameForm {
    #[serde(default)]
    district: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    name_kana: String,
}

/// A blank reading leaves the reading as it is.
async fn rename(
    form: CsrfForm<RenameForm>,
    member: PageMember,
    page: Page,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let f = form.0;
    let correction = OneLine::<100>::parse("name", &f.name)
        .and_then(|name| {
            let kana = optional_name("name_kana", Some(f.name_kana))?;
            Ok(Correction::Rename {
                name: Some(name.into_inner()),
                name_kana: kana.map(Some),
            })
        })
        .map_err(ApiError::validation);
    apply(&services, &member, &page, "rename", f.district, correction).await
}

#[derive(Deserialize)]
struct MergeForm {
    #[serde(default)]
    district: String,
    #[serde(default)]
    into: String,
}

async fn merge(
    form: CsrfForm<MergeForm>,
    member: PageMember,
    page: Page,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let f = form.0;
    let correction = Ok(Correction::Merge(DistrictId(f.into)));
    apply(&services, &member, &page, "merge", f.district, correction).await
}

#[derive(Deserialize)]
struct DistrictForm {
    #[serde(default)]
    district: String,
}

async fn archive(
    form: CsrfForm<DistrictForm>,
    member: PageMember,
    page: Page,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let district = form.0.district;
    apply(
        &services,
        &member,
        &page,
        "archive",
        district,
        Ok(Correction::Archive),
    )
    .await
}

async fn restore(
    form: CsrfForm<DistrictForm>,
    member: PageMember,
    page: Page,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let district = form.0.district;
    apply(
        &services,
        &member,
        &page,
        "restore",
        district,
        Ok(Correction::Restore),
    )
    .await
}
