//! `/officer/roster`: the 班 and their households (paper households marked, member counts,
//! and for officers who keep the roster the members' names); a 班長 sees only their 班,
//! counts without names, as `actions::roster::list_members` allows. Officers add a 班 or a
//! household here.

use std::collections::HashMap;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{self, ServiceConfig};
use askama::Template;
use serde::Deserialize;

use super::desk_of;
use crate::actions::Services;
use crate::actions::officer::Desk;
use crate::actions::roster::{self, NewHousehold};
use crate::authz;
use crate::db::queries::associations::{HouseholdChangeset, HouseholdRow};
use crate::domain::{HanId, HouseholdId, MemberId, OneLine, Role};
use crate::error::{ApiError, FieldError};
use crate::web::CsrfForm;
use crate::web::form_errors::FieldErrors;
use crate::web::page::{Page, redirect};
use crate::web::session::PageMember;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.route("/officer/roster", web::get().to(show))
        .route("/officer/roster/hans", web::post().to(add_han))
        .route("/officer/roster/households", web::post().to(add_household))
        .route(
            "/officer/roster/households/{id}/paper",
            web::post().to(set_paper),
        );
}

/// A 班 (or the households in none) with its households.
struct HanGroup<'a> {
    name: Option<&'a str>,
    households: Vec<&'a HouseholdRow>,
}

/// The households under their 班, in the 班's order; those in none last.
fn by_han<'a>(desk: &'a Desk, rows: &'a [HouseholdRow]) -> Vec<HanGroup<'a>> {
    let mut groups: Vec<HanGroup<'a>> = desk
        .hans
        .iter()
        .map(|han| HanGroup {
            name: Some(&han.name),
            households: rows
                .iter()
                .filter(|r| r.household.han_id.as_ref() == Some(&han.id))
                .collect(),
        })
        .collect();
    let without: Vec<&HouseholdRow> = rows
        .iter()
        .filter(|r| r.household.han_id.is_none())
        .collect();
    if !without.is_empty() {
        groups.push(HanGroup {
            name: None,
            households: without,
        });
    }
    groups
}

/// What was typed in the page's forms, kept when one is refused.
#[derive(Default)]
struct Typed {
    han_name: String,
    label: String,
}

/// A refused form of the page: its mistakes and what was typed.
#[derive(Default)]
struct RosterErrors {
    errors: FieldErrors,
    typed: Typed,
}

impl RosterErrors {
    /// The text rule's refusal of `value`, typed in the field `id` labelled `label_key`.
    fn refused(page: &Page, id: &str, label_key: &str, error: &FieldError) -> Self {
        Self {
            errors: FieldErrors::one_refused(page, (id, label_key), error),
            ..Self::default()
        }
    }
}

#[derive(Template)]
#[template(path = "officer/roster.html")]
struct RosterPage<'a> {
    page: &'a Page,
    desk: &'a Desk,
    groups: Vec<HanGroup<'a>>,
    /// Registered members per household (only for those who keep the roster).
    names: HashMap<HouseholdId, Vec<RosterName>>,
    errors: FieldErrors,
    /// What was typed in a refused form.
    typed: Typed,
    added: bool,
}

impl RosterPage<'_> {
    fn names_of(&self, household: &HouseholdId) -> &[RosterName] {
        self.names
            .get(household)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
}

/// A registered member of a household, and whether the caller may disable or remove them
/// (the link to `/officer/members/{id}`).
struct RosterName {
    id: MemberId,
    name: String,
    manageable: bool,
}

/// Who belongs to each household, for officers who keep the roster (an audited read).
async fn names_by_household(
    services: &Services,
    member: &PageMember,
    desk: &Desk,
) -> Result<HashMap<HouseholdId, Vec<RosterName>>, ApiError> {
    let mut names: HashMap<HouseholdId, Vec<RosterName>> = HashMap::new();
    if !desk.keeps_roster {
        return Ok(names);
    }
    let caller = &member.0.principal.member_id;
    let association = desk.association.id.clone();
    for row in roster::list_members(services, caller, association).await? {
        if let Some(household) = row.household_id {
            let roles: Vec<Role> = row.roles.iter().map(|(role, _)| *role).collect();
            let (p, association) = (&member.0.principal, &desk.association.id);
            let manageable = authz::may_manage_member_access(p, &row.id, association, &roles);
            names.entry(household).or_default().push(RosterName {
                id: row.id,
                name: row.display_name,
                manageable,
            });
        }
    }
    Ok(names)
}

#[derive(Deserialize)]
struct Added {
    added: Option<String>,
    changed: Option<String>,
}

/// The roster again with the form's complaint beside its field (422).
async fn refused(
    services: &Services,
    member: &PageMember,
    page: &Page,
    errors: RosterErrors,
) -> Result<HttpResponse, ApiError> {
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    render(services, member, page, status, errors, false).await
}

async fn render(
    services: &Services,
    member: &PageMember,
    page: &Page,
    status: StatusCode,
    errors: RosterErrors,
    added: bool,
) -> Result<HttpResponse, ApiError> {
    let desk = desk_of(services, member).await?;
    let caller = &member.0.principal.member_id;
    let rows = roster::list_households(services, caller, desk.association.id.clone()).await?;
    let groups = by_han(&desk, &rows);
    let names = names_by_household(services, member, &desk).await?;
    let view = RosterPage {
        page,
        desk: &desk,
        groups,
        names,
        errors: errors.errors,
        typed: errors.typed,
        added,
    };
    page.render_with(status, &view)
}

async fn show(
    member: PageMember,
    page: Page,
    query: web::Query<Added>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let added = query.added.is_some() || query.changed.is_some();
    render(
        &services,
        &member,
        &page,
        StatusCode::OK,
        RosterErrors::default(),
        added,
    )
    .await
}

#[derive(Deserialize)]
struct HanForm {
    #[serde(default)]
    name: String,
}

async fn add_han(
    form: CsrfForm<HanForm>,
    member: PageMember,
    page: Page,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let desk = desk_of(&services, &member).await?;
    let name = match OneLine::<50>::parse("name", &form.0.name) {
        Ok(name) => name,
        Err(e) => {
            let errors = RosterErrors {
                typed: Typed {
                    han_name: form.0.name,
                    ..Typed::default()
                },
                ..RosterErrors::refused(&page, "han-name", "officer.han_name_label", &e)
            };
            return refused(&services, &member, &page, errors).await;
        }
    };
    let caller = &member.0.principal.member_id;
    roster::create_han(&services, caller, desk.association.id, name).await?;
    Ok(redirect("/officer/roster?added=1", Vec::new()))
}

#[derive(Deserialize)]
struct HouseholdForm {
    #[serde(default)]
    label: String,
    #[serde(default)]
    han: String,
    paper: Option<String>,
}

async fn add_household(
    form: CsrfForm<HouseholdForm>,
    member: PageMember,
    page: Page,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let desk = desk_of(&services, &member).await?;
    let form = form.0;
    let label = match OneLine::<100>::parse("label", &form.label) {
        Ok(label) => label,
        Err(e) => {
            let errors = RosterErrors {
                typed: Typed {
                    label: form.label,
                    ..Typed::default()
                },
                ..RosterErrors::refused(&page, "household-label", "officer.household_name", &e)
            };
            return refused(&services, &member, &page, errors).await;
        }
    };
    let new = NewHousehold {
        label,
        han: (!form.han.is_empty()).then_some(HanId(form.han)),
        paper: form.paper.is_some(),
    };
    let caller = &member.0.principal.member_id;
    roster::create_household(&services, caller, desk.association.id, new).await?;
    Ok(redirect("/officer/roster?added=1", Vec::new()))
}

#[derive(Deserialize)]
struct PaperForm {
    paper: bool,
}

/// Marks a household as one that gets circulars on paper, or not (officers; 404 for a
/// household of another association).
async fn set_paper(
    form: CsrfForm<PaperForm>,
    member: PageMember,
    id: web::Path<HouseholdId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let changes = HouseholdChangeset {
        paper: Some(form.0.paper),
        ..HouseholdChangeset::default()
    };
    let caller = &member.0.principal.member_id;
    roster::update_household(&services, caller, id.into_inner(), changes).await?;
    Ok(redirect("/officer/roster?changed=1", Vec::new()))
}
