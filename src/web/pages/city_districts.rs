//! `/city/districts` for city staff and admins (heading `校下の一覧の訂正`): forms to rename a
//! district, merge one into another, archive one and restore it, through the same use case
//! as the API (`actions::districts::correct`). A refused correction redraws the page with the
//! reason beside its field and in a summary at the top of its form, what was typed and
//! chosen kept; anyone else gets the 403 page.

use actix_web::http::StatusCode;
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;
use serde::Deserialize;

use crate::actions::Services;
use crate::actions::districts::{self, Correction};
use crate::db::models::District;
use crate::domain::DistrictId;
use crate::error::{ApiError, ErrorCode};
use crate::web::CsrfForm;
use crate::web::form_errors::FieldErrors;
use crate::web::page::{Page, redirect};
use crate::web::session::PageMember;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.route("/city/districts", web::get().to(show))
        .route("/city/districts/rename", web::post().to(rename))
        .route("/city/districts/merge", web::post().to(merge))
        .route("/city/districts/archive", web::post().to(archive))
        .route("/city/districts/restore", web::post().to(restore));
}

/// A refused form: which one, its mistakes, and what was typed and chosen in it.
#[derive(Default)]
struct Refused {
    form: &'static str,
    errors: FieldErrors,
    district: String,
    into: String,
    name: String,
    name_kana: String,
}

#[derive(Template)]
#[template(path = "city_districts.html")]
struct DistrictsPage<'a> {
    page: &'a Page,
    open: Vec<District>,
    archived: Vec<District>,
    done: bool,
    refused: Refused,
}

impl DistrictsPage<'_> {
    /// The district chosen in the form `form` when it was refused.
    fn chosen(&self, form: &str, district: &District) -> bool {
        self.refused.form == form && self.refused.district == district.id.as_str()
    }

    fn chosen_into(&self, district: &District) -> bool {
        self.refused.form == "merge" && self.refused.into == district.id.as_str()
    }

    /// What was typed in the rename form's field.
    fn typed(&self, field: &str) -> &str {
        match (self.refused.form, field) {
            ("rename", "name") => &self.refused.name,
            ("rename", _) => &self.refused.name_kana,
            _ => "",
        }
    }
}

async fn render(
    services: &Services,
    member: &PageMember,
    page: &Page,
    done: bool,
    (status, refused): (StatusCode, Refused),
) -> Result<HttpResponse, ApiError> {
    let caller = &member.0.principal.member_id;
    let (archived, open) = districts::correctable(services, caller)
        .await?
        .into_iter()
        .partition(|d| d.archived);
    let view = DistrictsPage {
        page,
        open,
        archived,
        done,
        refused,
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
    let fresh = (StatusCode::OK, Refused::default());
    render(&services, &member, &page, query.done.is_some(), fresh).await
}

/// Applies a correction, then back to the page; a refusal the form can explain is shown
/// beside its field and in the form's summary (its status kept: 422, 409), anything else is
/// the usual error page.
async fn apply(
    services: &Services,
    member: &PageMember,
    page: &Page,
    typed: Refused,
    correction: Result<Correction, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let caller = &member.0.principal.member_id;
    let district = DistrictId(typed.district.clone());
    let done = match correction {
        Ok(c) => districts::correct(services, caller, district, c)
            .await
            .map(drop),
        Err(e) => Err(e),
    };
    let error = match done {
        Ok(()) => return Ok(redirect("/city/districts?done=1", Vec::new())),
        Err(e) => e,
    };
    let Some(errors) = refusal(page, typed.form, &error) else {
        return Err(error);
    };
    let refused = Refused { errors, ..typed };
    render(
        services,
        member,
        page,
        false,
        (error.status_code(), refused),
    )
    .await
}

/// A refusal of the form `form` beside its field, when the form can explain it.
fn refusal(page: &Page, form: &str, error: &ApiError) -> Option<FieldErrors> {
    let place = |field: &str| match (form, field) {
        ("rename", "name") => ("rename-name", "city_districts.name_label"),
        ("rename", "name_kana") => ("rename-kana", "city_districts.kana_label"),
        ("rename", _) => ("rename-district", "city_districts.rename_district_label"),
        ("merge", "into") => ("merge-into", "city_districts.merge_into_label"),
        ("merge", _) => ("merge-district", "city_districts.merge_from_label"),
        ("archive", _) => ("archive-district", "city_districts.archive_district_label"),
        _ => ("restore-district", "city_districts.restore_label"),
    };
    let mut errors = FieldErrors::default();
    match (error, reason(error)) {
        // A name or reading the rule refuses: worded with its label.
        (ApiError::Field(ErrorCode::InvalidInput, e), _) => {
            errors.refused(page, place(&e.field), e)
        }
        (ApiError::Field(_, e), Some(key)) => {
            let (id, label_key) = place(&e.field);
            errors.add(id, page.t(label_key), page.t(key));
        }
        (_, Some(key)) => {
            let (id, label_key) = place("district");
            errors.add(id, page.t(label_key), page.t(key));
        }
        (_, None) => return None,
    }
    Some(errors)
}

fn reason(e: &ApiError) -> Option<&'static str> {
    Some(match e.code() {
        ErrorCode::MergeIntoItself => "city_districts.merge_into_itself",
        ErrorCode::DistrictArchived => "city_districts.archived",
        ErrorCode::DistrictNotEmpty => "city_districts.not_empty",
        ErrorCode::DistrictNotArchived => "city_districts.not_archived",
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
    let kana = (!f.name_kana.trim().is_empty()).then(|| f.name_kana.clone());
    let correction = districts::rename(Some(f.name.clone()), kana);
    let typed = Refused {
        form: "rename",
        district: f.district,
        name: f.name,
        name_kana: f.name_kana,
        ..Refused::default()
    };
    apply(&services, &member, &page, typed, correction).await
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
    let correction = Ok(Correction::Merge(DistrictId(f.into.clone())));
    let typed = Refused {
        form: "merge",
        district: f.district,
        into: f.into,
        ..Refused::default()
    };
    apply(&services, &member, &page, typed, correction).await
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
    let typed = Refused {
        form: "archive",
        district: form.0.district,
        ..Refused::default()
    };
    apply(&services, &member, &page, typed, Ok(Correction::Archive)).await
}

async fn restore(
    form: CsrfForm<DistrictForm>,
    member: PageMember,
    page: Page,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let typed = Refused {
        form: "restore",
        district: form.0.district,
        ..Refused::default()
    };
    apply(&services, &member, &page, typed, Ok(Correction::Restore)).await
}
