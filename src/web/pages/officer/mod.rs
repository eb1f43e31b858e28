//! `/officer`: what an officer, chair or 班長 does for their association — the roster,
//! invitations, join requests and the sign-in QR sheets per 班. Every page asks
//! `actions::officer::desk` first, so a resident gets the 403 page; ids of another
//! association's things give the 404 page, as the actions decide.

mod invitations;
mod join_requests;
mod receipts;
mod roster;
mod sign_in_sheet;

use actix_web::HttpResponse;
use actix_web::web::{self, ServiceConfig};
use askama::Template;
use chrono::{Duration, NaiveDateTime};

use crate::actions::Services;
use crate::actions::officer::{self, Desk};
use crate::actions::safety;
use crate::db::models::SafetyCheck;
use crate::error::ApiError;
use crate::web::page::Page;
use crate::web::session::PageMember;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.route("/officer", web::get().to(hub));
    roster::config(cfg);
    invitations::config(cfg);
    join_requests::config(cfg);
    receipts::config(cfg);
    sign_in_sheet::config(cfg);
}

/// The caller's desk (403 for anyone who is not an officer, chair or 班長).
async fn desk_of(services: &Services, member: &PageMember) -> Result<Desk, ApiError> {
    officer::desk(services, &member.0.principal.member_id).await
}

/// A moment as people in Kanazawa read it (JST, no daylight saving time).
fn jst(at: &NaiveDateTime) -> String {
    (*at + Duration::hours(9))
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

#[derive(Template)]
#[template(path = "officer/hub.html")]
struct HubPage<'a> {
    page: &'a Page,
    desk: &'a Desk,
    /// Circulars in the caller's inbox that ask for confirmation.
    asking: usize,
    /// Open safety checks whose status the caller may follow.
    checks: Vec<SafetyCheck>,
}

impl HubPage<'_> {
    fn first_line<'b>(&self, check: &'b SafetyCheck) -> &'b str {
        check.message.lines().next().unwrap_or_default()
    }

    fn started(&self, check: &SafetyCheck) -> String {
        self.page
            .tf("safety_start.started_at", "time", &jst(&check.started_at))
    }
}

async fn hub(
    member: PageMember,
    page: Page,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let desk = desk_of(&services, &member).await?;
    let asking = receipts::asking(&services, &member).await?.len();
    let caller = &member.0.principal.member_id;
    let checks = safety::open_followed(&services, caller, desk.association.id.clone()).await?;
    page.render(&HubPage {
        page: &page,
        desk: &desk,
        asking,
        checks,
    })
}
