//! `/officer/join-requests`: requests to join the association (町会加入申請); officers
//! approve one (into a new household, in a 班 if chosen) or decline it.

use actix_web::HttpResponse;
use actix_web::web::{self, ServiceConfig};
use askama::Template;
use serde::Deserialize;

use super::invitations::NoFields;
use super::{desk_of, jst};
use crate::actions::Services;
use crate::actions::join_requests::{self, Approval};
use crate::actions::officer::Desk;
use crate::domain::{HanId, JoinRequestId, JoinRequestStatus};
use crate::error::ApiError;
use crate::web::CsrfForm;
use crate::web::page::{Page, redirect};
use crate::web::session::PageMember;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.route("/officer/join-requests", web::get().to(show))
        .route(
            "/officer/join-requests/{id}/approve",
            web::post().to(approve),
        )
        .route(
            "/officer/join-requests/{id}/decline",
            web::post().to(decline),
        );
}

struct Row {
    id: String,
    name: String,
    message: String,
    asked: String,
    decision: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "officer/join_requests.html")]
struct JoinRequestsPage<'a> {
    page: &'a Page,
    desk: &'a Desk,
    pending: Vec<Row>,
    decided: Vec<Row>,
    done: Option<&'static str>,
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
    let desk = desk_of(&services, &member).await?;
    let caller = &member.0.principal.member_id;
    let rows = join_requests::list(&services, caller, desk.association.id.clone()).await?;
    let (pending, decided): (Vec<Row>, Vec<Row>) = rows
        .into_iter()
        .map(|r| Row {
            id: r.request.id.to_string(),
            name: r.display_name,
            message: r.request.message,
            asked: jst(&r.request.created_at),
            decision: match r.request.status {
                JoinRequestStatus::Pending => None,
                JoinRequestStatus::Approved => Some(page.t("officer.approved")),
                JoinRequestStatus::Declined => Some(page.t("officer.declined")),
            },
        })
        .partition(|r| r.decision.is_none());
    let done = match query.done.as_deref() {
        Some("approved") => Some(page.t("officer.approved_notice")),
        Some("declined") => Some(page.t("officer.declined_notice")),
        _ => None,
    };
    page.render(&JoinRequestsPage {
        page: &page,
        desk: &desk,
        pending,
        decided,
        done,
    })
}

#[derive(Deserialize)]
struct ApproveForm {
    #[serde(default)]
    han: String,
}

async fn approve(
    form: CsrfForm<ApproveForm>,
    member: PageMember,
    id: web::Path<JoinRequestId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let han = form.0.han;
    let approval = Approval {
        household: None,
        han: (!han.is_empty()).then_some(HanId(han)),
    };
    let caller = &member.0.principal.member_id;
    join_requests::approve(&services, caller, id.into_inner(), approval).await?;
    Ok(redirect("/officer/join-requests?done=approved", Vec::new()))
}

async fn decline(
    _form: CsrfForm<NoFields>,
    member: PageMember,
    id: web::Path<JoinRequestId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    join_requests::decline(&services, &member.0.principal.member_id, id.into_inner()).await?;
    Ok(redirect("/officer/join-requests?done=declined", Vec::new()))
}
