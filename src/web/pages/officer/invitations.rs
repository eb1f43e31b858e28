//! `/officer/invitations`: invitations of the association (role, uses, expiry), a form
//! to issue one, and a button to revoke each. A new invitation's join link and QR code are
//! shown once, on a page to print (only the code's hash is kept).

use actix_web::http::StatusCode;
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use chrono::Duration;
use serde::Deserialize;

use super::{desk_of, jst};
use crate::actions::{Services, invitations};
use crate::configuration::WebSettings;
use crate::db::models::Invitation;
use crate::db::now;
use crate::domain::{InvitationId, InvitationTerms, Role};
use crate::error::ApiError;
use crate::web::page::{Page, redirect};
use crate::web::session::PageMember;
use crate::web::{CsrfForm, public_base_url, qr};

pub fn config(cfg: &mut ServiceConfig) {
    cfg.route("/officer/invitations", web::get().to(show))
        .route("/officer/invitations", web::post().to(create))
        .route("/officer/invitations/{id}/revoke", web::post().to(revoke));
}

/// An invitation as the list shows it.
struct Row {
    id: String,
    role: &'static str,
    uses: String,
    expires: String,
    state: &'static str,
    active: bool,
}

fn row(page: &Page, invitation: &Invitation) -> Row {
    let state = if invitation.revoked_at.is_some() {
        "officer.invitation_revoked"
    } else if invitation.expires_at <= now() {
        "officer.invitation_expired"
    } else if invitation.uses >= invitation.max_uses {
        "officer.invitation_used_up"
    } else {
        "officer.invitation_active"
    };
    Row {
        id: invitation.id.to_string(),
        role: page.t(role_key(invitation.role.unwrap_or(Role::Resident))),
        uses: format!("{} / {}", invitation.uses, invitation.max_uses),
        expires: jst(&invitation.expires_at),
        state: page.t(state),
        active: state == "officer.invitation_active",
    }
}

fn role_key(role: Role) -> &'static str {
    match role {
        Role::HanLeader => "officer.role_han_leader",
        Role::Officer => "officer.role_officer",
        Role::Chair => "officer.role_chair",
        _ => "officer.role_resident",
    }
}

#[derive(Template)]
#[template(path = "officer/invitations.html")]
struct InvitationsPage<'a> {
    page: &'a Page,
    rows: Vec<Row>,
    error: Option<&'static str>,
    revoked: bool,
}

#[derive(Deserialize)]
struct Revoked {
    revoked: Option<String>,
}

async fn render(
    services: &Services,
    member: &PageMember,
    page: &Page,
    status: StatusCode,
    error: Option<&'static str>,
    revoked: bool,
) -> Result<HttpResponse, ApiError> {
    let desk = desk_of(services, member).await?;
    let caller = &member.0.principal.member_id;
    let list = invitations::list(services, caller, desk.association.id).await?;
    let rows = list.iter().map(|i| row(page, i)).collect();
    page.render_with(
        status,
        &InvitationsPage {
            page,
            rows,
            error,
            revoked,
        },
    )
}

async fn show(
    member: PageMember,
    page: Page,
    query: web::Query<Revoked>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let revoked = query.revoked.is_some();
    render(&services, &member, &page, StatusCode::OK, None, revoked).await
}

#[derive(Deserialize)]
struct InvitationForm {
    #[serde(default)]
    role: String,
    #[serde(default)]
    uses: String,
    #[serde(default)]
    days: String,
}

#[derive(Template)]
#[template(path = "officer/invitation_card.html")]
struct CardPage<'a> {
    page: &'a Page,
    association: &'a str,
    role: &'static str,
    link: &'a str,
    code: &'a str,
    qr: &'a str,
    expires: String,
}

/// The terms the form asks for; the limits are the domain's (`InvitationTerms::parse`).
fn terms(form: &InvitationForm) -> Option<InvitationTerms> {
    let role = form.role.parse::<Role>().ok()?;
    let uses = form.uses.trim().parse::<i64>().ok()?;
    let days = Duration::try_days(form.days.trim().parse::<i64>().ok()?)?;
    let expires = now().checked_add_signed(days)?;
    InvitationTerms::parse(Some(role), Some(uses), Some(expires), now()).ok()
}

async fn create(
    form: CsrfForm<InvitationForm>,
    req: HttpRequest,
    member: PageMember,
    page: Page,
    services: web::Data<Services>,
    settings: web::Data<WebSettings>,
) -> Result<HttpResponse, ApiError> {
    let desk = desk_of(&services, &member).await?;
    let Some(terms) = terms(&form.0) else {
        let error = Some(page.t("officer.invitation_invalid"));
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return render(&services, &member, &page, status, error, false).await;
    };
    let caller = &member.0.principal.member_id;
    let association = desk.association.id.clone();
    let issued = invitations::create(&services, caller, association, terms, None).await?;
    let link = format!("{}/join/{}", public_base_url(&req, &settings), issued.code);
    page.render(&CardPage {
        page: &page,
        association: &desk.association.name,
        role: page.t(role_key(terms.role)),
        qr: &qr::svg(&link)?,
        link: &link,
        code: &issued.code,
        expires: jst(&issued.invitation.expires_at),
    })
}

async fn revoke(
    _form: CsrfForm<NoFields>,
    member: PageMember,
    id: web::Path<InvitationId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    invitations::revoke(&services, &member.0.principal.member_id, id.into_inner()).await?;
    Ok(redirect("/officer/invitations?revoked=1", Vec::new()))
}

#[derive(Deserialize)]
pub(super) struct NoFields {}
