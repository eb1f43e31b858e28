//! `/district` for 校下 (district) officers: their district's associations and adoption
//! figures, the status of the safety checks under way there (counts only), its recent
//! circulars and a link to write one to the whole district (the compose page with the
//! district chosen). City staff may open any district with `?district=<id>`. Anyone else
//! gets the 403 page.

use actix_web::HttpResponse;
use actix_web::web::{self, ServiceConfig};
use askama::Template;
use serde::Deserialize;

use crate::actions::Services;
use crate::actions::stats;
use crate::actions::stats_view::DistrictStatsResponse;
use crate::actions::{posts, safety};
use crate::configuration::StatsSettings;
use crate::db::models::{Post, SafetyCheck};
use crate::db::now;
use crate::domain::{DistrictId, PostStatus, Rule, SafetyStatusResponse, Scope};
use crate::error::ApiError;
use crate::web::page::Page;
use crate::web::pages::city::percent;
use crate::web::pages::safety::jst;
use crate::web::session::{PageMember, SignedIn};

pub fn config(cfg: &mut ServiceConfig) {
    cfg.route("/district", web::get().to(show))
        .route("/district.csv", web::get().to(csv));
}

#[derive(Deserialize)]
struct DistrictQuery {
    district: Option<String>,
    month: Option<String>,
}

impl DistrictQuery {
    /// The district asked for, else the caller's own (the first they are an officer of).
    /// Whether they may see it is the action's rule.
    fn district(&self, member: &SignedIn) -> Result<DistrictId, ApiError> {
        self.district
            .clone()
            .filter(|d| !d.is_empty())
            .map(DistrictId)
            .or_else(|| member.principal.officer_districts().into_iter().next())
            .ok_or(ApiError::Forbidden)
    }
}

#[derive(Template)]
#[template(path = "district.html")]
struct DistrictPage<'a> {
    page: &'a Page,
    d: &'a DistrictStatsResponse,
    checks: &'a [(SafetyCheck, SafetyStatusResponse)],
    /// The newest circulars sent to the district.
    circulars: Vec<Post>,
    /// Other districts this officer may switch to.
    others: Vec<DistrictId>,
}

/// How many of the district's circulars the page lists.
const RECENT_CIRCULARS: i64 = 10;

impl DistrictPage<'_> {
    fn rate(&self, v: &Option<f64>) -> String {
        percent(*v)
    }

    fn heading(&self) -> String {
        self.page
            .tf("district.heading", "name", &self.d.district.name)
    }

    fn first_line<'b>(&self, check: &'b SafetyCheck) -> &'b str {
        check.message.lines().next().unwrap_or_default()
    }

    fn post_status(&self, post: &Post) -> &'static str {
        self.page.t(match post.status {
            PostStatus::Draft => "district_post.status_draft",
            PostStatus::Scheduled => "district_post.status_scheduled",
            PostStatus::Published => "district_post.status_published",
            PostStatus::Withdrawn => "district_post.status_withdrawn",
        })
    }

    fn when(&self, post: &Post) -> String {
        jst(post.published_at.unwrap_or(post.created_at))
    }

    fn receipts_label(&self, post: &Post) -> String {
        self.page.tf("district_post.receipts", "name", &post.title)
    }
}

async fn dashboard(
    member: &SignedIn,
    query: &DistrictQuery,
    settings: &StatsSettings,
    services: &Services,
) -> Result<DistrictStatsResponse, ApiError> {
    let district = query.district(member)?;
    let month = query.month.as_deref().filter(|m| !m.is_empty());
    let month = stats::requested_month(month, now())?;
    let (caller, rule) = (&member.principal.member_id, Rule::from(settings));
    stats::district_dashboard(services, caller, district, month, rule).await
}

async fn show(
    member: PageMember,
    page: Page,
    query: web::Query<DistrictQuery>,
    settings: web::Data<StatsSettings>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let d = dashboard(&member.0, &query, &settings, &services).await?;
    let caller = &member.0.principal.member_id;
    let checks = safety::open_in_district(&services, caller, d.district.id.clone()).await?;
    let scope = Scope::District(d.district.id.clone());
    let circulars = posts::sent_to(&services, caller, scope, RECENT_CIRCULARS).await?;
    let mut others = member.0.principal.officer_districts();
    others.retain(|o| *o != d.district.id);
    page.render(&DistrictPage {
        page: &page,
        d: &d,
        checks: &checks,
        circulars,
        others,
    })
}

/// The API's district CSV (`/api/v1/districts/{id}/stats.csv`) for a signed-in browser.
async fn csv(
    member: PageMember,
    query: web::Query<DistrictQuery>,
    settings: web::Data<StatsSettings>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let d = dashboard(&member.0, &query, &settings, &services).await?;
    crate::routes::csv_response(stats::district_csv(&d))
}
