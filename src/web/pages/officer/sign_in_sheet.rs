//! `/officer/hans/{id}/sign-in-codes`: the members of a 班 to choose from, then a sheet to
//! print with a one-time sign-in QR code for each chosen member. The GET changes nothing;
//! the POST issues the codes (each ends that member's other sign-ins, audited) and shows
//! them once, since only their hashes are kept.

use actix_web::http::StatusCode;
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use secrecy::ExposeSecret;

use super::{desk_of, jst};
use crate::actions::Services;
use crate::actions::officer::{self, SheetMember};
use crate::actions::sessions::IssuedSignInCode;
use crate::configuration::WebSettings;
use crate::db::models::Han;
use crate::domain::{HanId, MemberId};
use crate::error::ApiError;
use crate::web::page::Page;
use crate::web::session::PageMember;
use crate::web::{CsrfForm, public_base_url, qr};

pub fn config(cfg: &mut ServiceConfig) {
    cfg.route("/officer/hans/{id}/sign-in-codes", web::get().to(choose))
        .route("/officer/hans/{id}/sign-in-codes", web::post().to(issue));
}

#[derive(Template)]
#[template(path = "officer/sign_in_choose.html")]
struct ChoosePage<'a> {
    page: &'a Page,
    han: &'a Han,
    members: &'a [SheetMember],
    error: Option<&'static str>,
}

async fn show_choice(
    services: &Services,
    member: &PageMember,
    page: &Page,
    han: HanId,
    error: Option<&'static str>,
) -> Result<HttpResponse, ApiError> {
    let desk = desk_of(services, member).await?;
    let caller = &member.0.principal.member_id;
    let (han, members) = officer::han_sheet(services, caller, desk.association.id, han).await?;
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    page.render_with(
        status,
        &ChoosePage {
            page,
            han: &han,
            members: &members,
            error,
        },
    )
}

async fn choose(
    member: PageMember,
    page: Page,
    han: web::Path<HanId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    show_choice(&services, &member, &page, han.into_inner(), None).await
}

/// One member's card on the printed sheet.
struct Card {
    name: String,
    household: String,
    url: String,
    qr: String,
}

#[derive(Template)]
#[template(path = "officer/sign_in_sheet.html")]
struct SheetPage<'a> {
    page: &'a Page,
    han: &'a Han,
    cards: Vec<Card>,
    expires: String,
}

fn card(base: &str, member: SheetMember, code: &IssuedSignInCode) -> Result<Card, ApiError> {
    let url = format!("{base}/signin/{}", code.token.expose_secret());
    Ok(Card {
        qr: qr::svg(&url)?,
        name: member.display_name,
        household: member.household,
        url,
    })
}

/// The chosen members: every `member` field of the form (checkboxes share the name).
fn chosen(fields: Vec<(String, String)>) -> Vec<MemberId> {
    fields
        .into_iter()
        .filter(|(key, _)| key == "member")
        .map(|(_, value)| MemberId(value))
        .collect()
}

async fn issue(
    form: CsrfForm<Vec<(String, String)>>,
    req: HttpRequest,
    member: PageMember,
    page: Page,
    han: web::Path<HanId>,
    services: web::Data<Services>,
    settings: web::Data<WebSettings>,
) -> Result<HttpResponse, ApiError> {
    let chosen = chosen(form.0);
    if chosen.is_empty() {
        let error = Some(page.t("officer.choose_someone"));
        return show_choice(&services, &member, &page, han.into_inner(), error).await;
    }
    let desk = desk_of(&services, &member).await?;
    let (caller, ttl) = (
        &member.0.principal.member_id,
        settings.sign_in_code_ttl_secs(),
    );
    let (association, han) = (desk.association.id, han.into_inner());
    let (han, issued) =
        officer::issue_han_sign_in_codes(&services, caller, association, han, chosen, ttl).await?;
    let base = public_base_url(&req, &settings);
    let expires = issued.first().map(|(_, code)| jst(&code.expires_at));
    let cards = issued
        .into_iter()
        .map(|(member, code)| card(&base, member, &code))
        .collect::<Result<_, _>>()?;
    page.render(&SheetPage {
        page: &page,
        han: &han,
        cards,
        expires: expires.unwrap_or_default(),
    })
}
