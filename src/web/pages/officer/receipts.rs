//! Circulars on the officer's desk: those asking for confirmation, the receipts of one with
//! the visit list per 班 and a button `紙で確認済み` per paper household, and two print
//! views: the circular in large print, and a 班's checklist of paper households, whose
//! ticked boxes the 班長 then records as paper confirmations.

use actix_web::HttpResponse;
use actix_web::web::{self, ServiceConfig};
use askama::Template;
use serde::Deserialize;

use crate::actions::inbox::{self, InboxRequest};
use crate::actions::{Services, posts, push, receipts};
use crate::db::queries::inbox::InboxRow;
use crate::db::queries::receipts::{ReceiptRow, Receipts};
use crate::domain::{Channel, HanId, HouseholdId, PostId};
use crate::error::ApiError;
use crate::web::CsrfForm;
use crate::web::page::{Page, redirect};
use crate::web::session::PageMember;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.route("/officer/posts", web::get().to(list))
        .route("/officer/posts/{id}/receipts", web::get().to(show))
        .route(
            "/officer/posts/{id}/paper-confirmations",
            web::post().to(record),
        )
        .route("/officer/posts/{id}/print", web::get().to(print))
        .route("/officer/posts/{id}/hans/{han}/sheet", web::get().to(sheet))
        .route(
            "/officer/posts/{id}/hans/{han}/sheet",
            web::post().to(record_sheet),
        );
}

/// The circulars in the caller's inbox that ask for confirmation, newest first.
pub(super) async fn asking(
    services: &Services,
    member: &PageMember,
) -> Result<Vec<InboxRow>, ApiError> {
    let request = InboxRequest {
        limit: Some(100),
        ..InboxRequest::default()
    };
    let page = inbox::page(services, &member.0.principal.member_id, request).await?;
    Ok(page
        .rows
        .into_iter()
        .filter(|r| r.post.requires_confirmation)
        .collect())
}

struct Circular {
    id: PostId,
    title: String,
    published: String,
}

#[derive(Template)]
#[template(path = "officer/posts.html")]
struct ListPage<'a> {
    page: &'a Page,
    rows: Vec<Circular>,
}

async fn list(
    member: PageMember,
    page: Page,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    super::desk_of(&services, &member).await?;
    let rows = asking(&services, &member)
        .await?
        .into_iter()
        .map(|r| Circular {
            published: super::jst(&r.published_at),
            id: r.post.id,
            title: r.post.title,
        })
        .collect();
    page.render(&ListPage { page: &page, rows })
}

/// The unconfirmed households of one 班 (or of none) on the visit list.
struct VisitGroup<'a> {
    han_id: Option<&'a HanId>,
    han: Option<&'a str>,
    rows: Vec<&'a ReceiptRow>,
    /// Some of them get paper circulars: the 班 has a checklist to print.
    has_paper: bool,
}

fn by_han(receipts: &Receipts) -> Vec<VisitGroup<'_>> {
    let mut groups: Vec<VisitGroup<'_>> = Vec::new();
    for row in &receipts.unconfirmed {
        match groups.last_mut() {
            Some(group) if group.han_id == row.han_id.as_ref() => {
                group.has_paper |= row.paper;
                group.rows.push(row);
            }
            _ => groups.push(VisitGroup {
                han_id: row.han_id.as_ref(),
                han: row.han.as_deref(),
                rows: vec![row],
                has_paper: row.paper,
            }),
        }
    }
    groups
}

/// One channel's line of the delivery figures.
struct ChannelRow {
    name: &'static str,
    sent: i64,
    failed: i64,
    pending: i64,
}

/// The delivery figures of a circular its caller manages: a line per channel that sent
/// anything, and each failure as a sentence with its reason.
struct DeliveryView {
    rows: Vec<ChannelRow>,
    failures: Vec<String>,
    /// Members whose mail waits for their daily digest, as a sentence.
    digest: Option<String>,
}

fn delivery_view(page: &Page, figures: &push::Deliveries) -> DeliveryView {
    let rows = figures
        .per_channel
        .iter()
        .filter(|(_, c)| c.sent + c.failed + c.pending + c.gone + c.cancelled > 0)
        .map(|(channel, c)| ChannelRow {
            name: page.t(&format!("deliveries.{}", channel.as_str())),
            sent: c.sent,
            failed: c.failed + c.gone,
            pending: c.pending,
        })
        .collect();
    let failures = figures
        .failures
        .iter()
        .map(|(channel, reason, count)| {
            let server = if *channel == Channel::Email {
                "email"
            } else {
                "service"
            };
            let reason = page.t(&format!("deliveries.{server}_{}", reason.as_str()));
            page.tf(
                &format!("deliveries.failed_{}", channel.as_str()),
                "count",
                &count.to_string(),
            )
            .replace("{reason}", reason)
        })
        .collect();
    let digest = (figures.digest_waiting > 0).then(|| {
        page.tf(
            "deliveries.digest_waiting",
            "count",
            &figures.digest_waiting.to_string(),
        )
    });
    DeliveryView {
        rows,
        failures,
        digest,
    }
}

#[derive(Template)]
#[template(path = "officer/receipts.html")]
struct ReceiptsPage<'a> {
    page: &'a Page,
    id: &'a PostId,
    title: &'a str,
    receipts: &'a Receipts,
    groups: Vec<VisitGroup<'a>>,
    recorded: bool,
    /// The caller keeps an association's desk (its list of circulars, its 班 sheets);
    /// district officers and city staff follow receipts without one.
    has_desk: bool,
    /// For those who manage the circular.
    deliveries: Option<DeliveryView>,
}

#[derive(Deserialize)]
struct Recorded {
    recorded: Option<String>,
}

async fn show(
    member: PageMember,
    page: Page,
    id: web::Path<PostId>,
    query: web::Query<Recorded>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let (caller, id) = (&member.0.principal.member_id, id.into_inner());
    let receipts = receipts::list(&services, caller, id.clone()).await?;
    let post = posts::get(&services, caller, id.clone()).await?;
    let has_desk = match super::desk_of(&services, &member).await {
        Ok(_) => true,
        Err(ApiError::Forbidden) => false,
        Err(e) => return Err(e),
    };
    let deliveries = match push::deliveries(&services, caller, id.clone()).await {
        Ok(figures) => Some(delivery_view(&page, &figures)),
        Err(ApiError::NotFound(_)) => None,
        Err(e) => return Err(e),
    };
    page.render(&ReceiptsPage {
        page: &page,
        id: &id,
        title: &post.detail.post.title,
        receipts: &receipts,
        groups: by_han(&receipts),
        recorded: query.recorded.is_some(),
        has_desk,
        deliveries,
    })
}

#[derive(Deserialize)]
struct PaperForm {
    household: HouseholdId,
}

async fn record(
    form: CsrfForm<PaperForm>,
    member: PageMember,
    id: web::Path<PostId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let caller = &member.0.principal.member_id;
    receipts::record_paper_confirmations(&services, caller, id.clone(), vec![form.0.household])
        .await?;
    Ok(redirect(
        &format!("/officer/posts/{id}/receipts?recorded=1"),
        Vec::new(),
    ))
}

#[derive(Template)]
#[template(path = "officer/print_post.html")]
struct PrintPage<'a> {
    page: &'a Page,
    title: &'a str,
    body: &'a str,
    asks: bool,
}

async fn print(
    member: PageMember,
    page: Page,
    id: web::Path<PostId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let caller = &member.0.principal.member_id;
    let post = &receipts::printable(&services, caller, id.into_inner()).await?;
    page.render(&PrintPage {
        page: &page,
        title: &post.title,
        body: &post.body,
        asks: post.requires_confirmation,
    })
}

#[derive(Template)]
#[template(path = "officer/han_sheet.html")]
struct SheetPage<'a> {
    page: &'a Page,
    id: &'a PostId,
    han_id: &'a HanId,
    han: &'a str,
    title: &'a str,
    rows: Vec<&'a ReceiptRow>,
    /// The sheet came back with no box ticked: nothing was recorded.
    nothing_ticked: bool,
}

#[derive(Deserialize)]
struct SheetQuery {
    nothing: Option<String>,
}

/// A 班's unconfirmed paper households, as the checklist lists them.
fn paper_of<'a>(receipts: &'a Receipts, han: &HanId) -> Vec<&'a ReceiptRow> {
    receipts
        .unconfirmed
        .iter()
        .filter(|r| r.paper && r.han_id.as_ref() == Some(han))
        .collect()
}

async fn sheet(
    member: PageMember,
    page: Page,
    path: web::Path<(PostId, HanId)>,
    query: web::Query<SheetQuery>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let (id, han_id) = path.into_inner();
    let caller = &member.0.principal.member_id;
    let receipts = receipts::list(&services, caller, id.clone()).await?;
    let post = posts::get(&services, caller, id.clone()).await?;
    let desk = super::desk_of(&services, &member).await?;
    let han = desk
        .hans
        .iter()
        .find(|h| h.id == han_id)
        .ok_or(ApiError::NotFound("han"))?;
    page.render(&SheetPage {
        page: &page,
        id: &id,
        han_id: &han_id,
        han: &han.name,
        title: &post.detail.post.title,
        rows: paper_of(&receipts, &han_id),
        nothing_ticked: query.nothing.is_some(),
    })
}

/// The ticked households: every `household` field (checkboxes share the name).
fn ticked(fields: Vec<(String, String)>) -> Vec<HouseholdId> {
    fields
        .into_iter()
        .filter(|(key, _)| key == "household")
        .map(|(_, value)| HouseholdId(value))
        .collect()
}

async fn record_sheet(
    form: CsrfForm<Vec<(String, String)>>,
    member: PageMember,
    path: web::Path<(PostId, HanId)>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let (id, han) = path.into_inner();
    let caller = &member.0.principal.member_id;
    let households = ticked(form.0);
    if households.is_empty() {
        // The sheet again, saying so, rather than "recorded" for nothing.
        return Ok(redirect(
            &format!("/officer/posts/{id}/hans/{han}/sheet?nothing=1"),
            Vec::new(),
        ));
    }
    receipts::record_paper_confirmations(&services, caller, id.clone(), households).await?;
    Ok(redirect(
        &format!("/officer/posts/{id}/receipts?recorded=1"),
        Vec::new(),
    ))
}
