//! `/city` for city staff and admins (heading `校下の利用状況`): `N / 62` districts active,
//! a chart of active districts per month with the projection to the deadline (inline SVG,
//! with the same numbers as a table), the table of districts, and the CSV (`/city.csv`, the
//! same file as the API's). Counts and rates only. Anyone else gets the 403 page.

use actix_web::HttpResponse;
use actix_web::web::{self, ServiceConfig};
use askama::Template;
use serde::Deserialize;

use crate::actions::Services;
use crate::actions::stats;
use crate::actions::stats_view::AdoptionResponse;
use crate::configuration::StatsSettings;
use crate::db::now;
use crate::domain::Month;
use crate::error::ApiError;
use crate::web::chart::{self, Chart};
use crate::web::page::Page;
use crate::web::pages::safety::jst;
use crate::web::session::PageMember;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.route("/city", web::get().to(show))
        .route("/city.csv", web::get().to(csv));
}

#[derive(Deserialize)]
pub struct MonthQuery {
    pub month: Option<String>,
}

impl MonthQuery {
    /// Blank (the form's empty field) is the current month.
    pub fn month(&self) -> Result<Month, ApiError> {
        let text = self.month.as_deref().filter(|m| !m.is_empty());
        stats::requested_month(text, now())
    }
}

/// A month of the chart's table.
pub struct Row {
    pub month: String,
    pub active: Option<i32>,
    pub projection: Option<String>,
}

#[derive(Template)]
#[template(path = "city.html")]
struct CityPage<'a> {
    page: &'a Page,
    d: &'a AdoptionResponse,
    chart: Chart,
    rows: Vec<Row>,
    width: i64,
    height: i64,
}

impl CityPage<'_> {
    fn rate(&self, v: &Option<f64>) -> String {
        percent(*v)
    }

    fn target_text(&self) -> String {
        self.page.tf("city.target", "target", &self.d.deadline)
    }

    fn projection_text(&self) -> String {
        match &self.d.projection {
            Some(p) => {
                let count = format!("{:.1}", p.projected_at_deadline);
                self.page.tf("city.projection_text", "count", &count)
            }
            None => self.page.t("city.no_projection").to_string(),
        }
    }

    fn rule_text(&self) -> String {
        let months = self.d.rule.months_with_posts.to_string();
        self.page.tf("city.rule", "count", &months)
    }

    fn computed_at(&self) -> String {
        let at = jst(self.d.computed_at.naive_utc());
        self.page.tf("city.computed_at", "time", &at)
    }
}

/// A rate as people read it: 12.5%, or – when there is none.
pub fn percent(v: Option<f64>) -> String {
    v.map_or("–".to_string(), |v| format!("{:.1}%", v * 100.0))
}

fn rows(d: &AdoptionResponse, deadline: Month) -> Vec<Row> {
    let mut rows: Vec<Row> = d
        .series
        .iter()
        .map(|p| Row {
            month: p.month.clone(),
            active: Some(p.active_districts),
            projection: None,
        })
        .collect();
    if let Some(p) = &d.projection {
        rows.push(Row {
            month: deadline.to_string(),
            active: None,
            projection: Some(format!("{:.1}", p.projected_at_deadline)),
        });
    }
    rows
}

async fn show(
    member: PageMember,
    page: Page,
    query: web::Query<MonthQuery>,
    settings: web::Data<StatsSettings>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let caller = &member.0.principal.member_id;
    let d = stats::city_dashboard(&services, caller, query.month()?, &settings).await?;
    let deadline = Month::parse(&d.deadline).map_err(|e| anyhow::anyhow!(e))?;
    let series: Vec<(Month, i32)> = d
        .series
        .iter()
        .filter_map(|p| Some((Month::parse(&p.month).ok()?, p.active_districts)))
        .collect();
    let chart = chart::layout(&series, d.projection.as_ref(), deadline, d.target);
    page.render(&CityPage {
        page: &page,
        rows: rows(&d, deadline),
        d: &d,
        chart,
        width: chart::WIDTH,
        height: chart::HEIGHT,
    })
}

/// The API's CSV file (`/api/v1/stats/adoption.csv`) for a signed-in browser.
async fn csv(
    member: PageMember,
    query: web::Query<MonthQuery>,
    settings: web::Data<StatsSettings>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let caller = &member.0.principal.member_id;
    let d = stats::city_dashboard(&services, caller, query.month()?, &settings).await?;
    crate::routes::csv_response(stats::adoption_csv(&d))
}
