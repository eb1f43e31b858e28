//! `/officer/invitations`: invitations of the association (role, uses, expiry), a form
//! to issue one, and a button to revoke each. A new invitation's join link and QR code are
//! shown once, on a page to print (only the code's hash is kept).

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
use crate::error::{ApiError, FieldError, Problem};
use crate::web::form_errors::FieldErrors;
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
    form: InvitationForm,
    errors: FieldErrors,
    revoked: bool,
}

#[derive(Deserialize)]
struct Revoked {
    revoked: Option<String>,
}

/// The page; with mistakes, the form drawn again as it was typed (422).
async fn render(
    services: &Services,
    member: &PageMember,
    page: &Page,
    (form, errors): (InvitationForm, FieldErrors),
    revoked: bool,
) -> Result<HttpResponse, ApiError> {
    let desk = desk_of(services, member).await?;
    let caller = &member.0.principal.member_id;
    let list = invitations::list(services, caller, desk.association.id).await?;
    let rows = list.iter().map(|i| row(page, i)).collect();
    let status = errors.status();
    let view = InvitationsPage {
        page,
        rows,
        form,
        errors,
        revoked,
    };
    page.render_with(status, &view)
}

async fn show(
    member: PageMember,
    page: Page,
    query: web::Query<Revoked>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let revoked = query.revoked.is_some();
    let fresh = (InvitationForm::default(), FieldErrors::default());
    render(&services, &member, &page, fresh, revoked).await
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

impl Default for InvitationForm {
    /// A resident, once, for 14 days.
    fn default() -> Self {
        Self {
            role: "resident".into(),
            uses: "1".into(),
            days: "14".into(),
        }
    }
}

/// Where each field of the terms is drawn: element id and label.
fn place(field: &str) -> (&'static str, &'static str) {
    match field {
        "max_uses" => ("invitation-uses", "officer.uses_label"),
        "expires_at" => ("invitation-days", "officer.days_label"),
        _ => ("invitation-role", "officer.role_label"),
    }
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

/// The terms the form asks for, by the domain's rule (`InvitationTerms::parse`); a field
/// that is not a number is refused as it is.
fn terms(form: &InvitationForm) -> Result<InvitationTerms, FieldError> {
    let unreadable = |field: &str| FieldError::new(field, Problem::Invalid, "not a number");
    let role = form.role.parse::<Role>().map_err(|_| unreadable("role"))?;
    let uses = form.uses.trim().parse::<i64>();
    let uses = uses.map_err(|_| unreadable("max_uses"))?;
    let days = form.days.trim().parse::<i64>().ok();
    let expires = days
        .and_then(Duration::try_days)
        .and_then(|days| now().checked_add_signed(days))
        .ok_or_else(|| unreadable("expires_at"))?;
    InvitationTerms::parse(Some(role), Some(uses), Some(expires), now())
}

/// A refused invitation beside its field; any other failure stays one.
fn refusal(page: &Page, error: ApiError) -> Result<FieldErrors, ApiError> {
    match error {
        ApiError::Field(_, e) => Ok(FieldErrors::one_refused(page, place(&e.field), &e)),
        // Officers and chairs are invited by the chair (`authz::may_issue_invitation`).
        ApiError::Forbidden => {
            let (id, label_key) = place("role");
            let message = page.t("officer.invitation_chair_only");
            Ok(FieldErrors::one(id, page.t(label_key), message))
        }
        e => Err(e),
    }
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
    let (form, caller) = (form.0, &member.0.principal.member_id);
    let association = desk.association.id.clone();
    let created = match terms(&form) {
        Ok(terms) => invitations::create(&services, caller, association, terms, None)
            .await
            .map(|issued| (terms, issued)),
        Err(e) => Err(e.into()),
    };
    let (terms, issued) = match created {
        Ok(created) => created,
        Err(e) => {
            let errors = refusal(&page, e)?;
            return render(&services, &member, &page, (form, errors), false).await;
        }
    };
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
