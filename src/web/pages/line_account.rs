//! `/officer/line` and `/city/line`: an association's (its officers') or the city's (city
//! staff's) LINE official account — register it, replace its token and secret, remove it —
//! with its state (working, or refused by LINE and why), this month's quota used and the
//! webhook address to give LINE. The token and secret are never shown back. The same use
//! cases as `/api/v1/associations/{id}/line-account` and `/api/v1/city/line-account`
//! (`actions::line`); a refused field is drawn beside its input (D63).

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{self, ServiceConfig};
use askama::Template;
use serde::Deserialize;

use crate::actions::line::{self, AccountInput, AccountView, LineOwner};
use crate::actions::{Services, officer};
use crate::error::{ApiError, ErrorCode, FieldError, Problem};
use crate::outbox::line::TOKEN_REFUSED;
use crate::web::CsrfForm;
use crate::web::form_errors::{FieldErrors, problem_text};
use crate::web::page::{Page, redirect};
use crate::web::pages::safety::jst;
use crate::web::session::PageMember;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.route("/officer/line", web::get().to(show_association))
        .route("/officer/line", web::post().to(save_association))
        .route("/officer/line/remove", web::post().to(remove_association))
        .route("/city/line", web::get().to(show_city))
        .route("/city/line", web::post().to(save_city))
        .route("/city/line/remove", web::post().to(remove_city));
}

/// Whose account the page is about, and where its forms and its way back are.
struct Desk {
    owner: LineOwner,
    /// The association's name; none for the city.
    name: Option<String>,
    base: &'static str,
    back: &'static str,
    back_key: &'static str,
}

impl Desk {
    fn city() -> Self {
        Self {
            owner: LineOwner::City,
            name: None,
            base: "/city/line",
            back: "/city",
            back_key: "city.title",
        }
    }

    /// The caller's association (403 for anyone without an officer's desk).
    async fn association(services: &Services, member: &PageMember) -> Result<Self, ApiError> {
        let desk = officer::desk(services, &member.0.principal.member_id).await?;
        Ok(Self {
            owner: LineOwner::Association(desk.association.id),
            name: Some(desk.association.name),
            base: "/officer/line",
            back: "/officer",
            back_key: "officer.title",
        })
    }
}

/// The form's fields: request name, element id and label key, in the form's order.
const FIELDS: [(&str, &str, &str); 5] = [
    ("channel_id", "line-channel-id", "line_account.channel_id"),
    (
        "channel_access_token",
        "line-token",
        "line_account.access_token",
    ),
    ("channel_secret", "line-secret", "line_account.secret"),
    ("monthly_quota", "line-quota", "line_account.quota"),
    ("friend_url", "line-friend-url", "line_account.friend_url"),
];

/// What was typed in a refused form, drawn again (never the token or the secret).
#[derive(Default)]
struct Typed {
    channel_id: String,
    monthly_quota: String,
    friend_url: String,
}

#[derive(Template)]
#[template(path = "line_account.html")]
struct AccountPage<'a> {
    page: &'a Page,
    desk: &'a Desk,
    account: Option<AccountView>,
    webhook_url: Option<String>,
    errors: FieldErrors,
    typed: Typed,
    saved: bool,
    removed: bool,
}

impl AccountPage<'_> {
    fn heading(&self) -> String {
        match &self.desk.name {
            Some(name) => self.page.tf("line_account.title", "owner", name),
            None => self.page.t("line_account.title_city").to_string(),
        }
    }

    fn quota_text(&self, a: &AccountView) -> String {
        self.page
            .t("line_account.quota_used")
            .replace("{used}", &a.used_this_month.to_string())
            .replace("{quota}", &a.monthly_quota.to_string())
            .replace("{month}", &a.month)
    }

    fn refused_text(&self, a: &AccountView) -> String {
        let at = a.refused_at.map(jst).unwrap_or_default();
        self.page.tf("line_account.refused", "at", &at)
    }

    /// Why LINE refused, in the officer's language when it is the known refusal.
    fn refusal_text(&self, a: &AccountView) -> String {
        match a.refusal.as_deref() {
            Some(TOKEN_REFUSED) | None => self.page.t("line_account.token_refused").to_string(),
            Some(other) => other.to_string(),
        }
    }

    fn linked_text(&self, a: &AccountView) -> String {
        let count = a.linked_members.to_string();
        self.page.tf("line_account.linked_count", "count", &count)
    }

    fn updated_text(&self, a: &AccountView) -> String {
        self.page
            .tf("line_account.updated_at", "at", &jst(a.updated_at))
    }
}

#[derive(Deserialize, Default)]
struct Done {
    saved: Option<String>,
    removed: Option<String>,
}

async fn render(
    services: &Services,
    member: &PageMember,
    page: &Page,
    desk: &Desk,
    status: StatusCode,
    (errors, typed): (FieldErrors, Typed),
    done: &Done,
) -> Result<HttpResponse, ApiError> {
    let caller = &member.0.principal.member_id;
    let account = match line::account(services, caller, desk.owner.clone()).await {
        Ok(view) => Some(view),
        Err(ApiError::NotFound(_)) => None,
        Err(e) => return Err(e),
    };
    let webhook_url = account
        .as_ref()
        .map(|a| services.links.url(&a.webhook_path));
    page.render_with(
        status,
        &AccountPage {
            page,
            desk,
            account,
            webhook_url,
            errors,
            typed,
            saved: done.saved.is_some(),
            removed: done.removed.is_some(),
        },
    )
}

async fn show(
    services: &Services,
    member: &PageMember,
    page: &Page,
    desk: Desk,
    done: Done,
) -> Result<HttpResponse, ApiError> {
    let empty = (FieldErrors::default(), Typed::default());
    render(services, member, page, &desk, StatusCode::OK, empty, &done).await
}

async fn show_association(
    member: PageMember,
    page: Page,
    done: web::Query<Done>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let desk = Desk::association(&services, &member).await?;
    show(&services, &member, &page, desk, done.into_inner()).await
}

async fn show_city(
    member: PageMember,
    page: Page,
    done: web::Query<Done>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    show(&services, &member, &page, Desk::city(), done.into_inner()).await
}

#[derive(Deserialize)]
struct AccountForm {
    #[serde(default)]
    channel_id: String,
    #[serde(default)]
    channel_access_token: String,
    #[serde(default)]
    channel_secret: String,
    #[serde(default)]
    monthly_quota: String,
    #[serde(default)]
    friend_url: String,
}

/// The refused field beside its input, in the officer's language.
fn field_errors(page: &Page, error: &FieldError) -> FieldErrors {
    let (_, id, label_key) = FIELDS
        .iter()
        .find(|(field, _, _)| *field == error.field)
        .copied()
        .unwrap_or(FIELDS[0]);
    let label = page.t(label_key);
    FieldErrors::one(id, label, problem_text(page, label, error))
}

/// The form as the use case takes it; a quota that is no number is refused here.
fn input_of(page: &Page, form: AccountForm) -> Result<AccountInput, FieldErrors> {
    let monthly_quota = match form.monthly_quota.trim() {
        "" => None,
        text => Some(text.parse::<i32>().map_err(|_| {
            let e = FieldError::new("monthly_quota", Problem::Invalid, "not a number");
            field_errors(page, &e)
        })?),
    };
    let friend_url = form.friend_url.trim();
    Ok(AccountInput {
        channel_id: form.channel_id,
        channel_access_token: form.channel_access_token,
        channel_secret: form.channel_secret,
        monthly_quota,
        friend_url: (!friend_url.is_empty()).then(|| friend_url.to_string()),
    })
}

/// A refusal the page explains beside its field; None for any other error.
fn refusal(page: &Page, e: &ApiError) -> Option<FieldErrors> {
    match e {
        ApiError::Field(_, e) => Some(field_errors(page, e)),
        ApiError::Conflict(ErrorCode::AlreadyExists, _) => {
            let label = page.t("line_account.channel_id");
            let taken = page.t("line_account.taken");
            Some(FieldErrors::one("line-channel-id", label, taken))
        }
        _ => None,
    }
}

async fn save(
    services: &Services,
    member: &PageMember,
    page: &Page,
    desk: Desk,
    form: AccountForm,
) -> Result<HttpResponse, ApiError> {
    let typed = Typed {
        channel_id: form.channel_id.clone(),
        monthly_quota: form.monthly_quota.clone(),
        friend_url: form.friend_url.clone(),
    };
    let caller = &member.0.principal.member_id;
    let errors = match input_of(page, form) {
        Err(errors) => errors,
        Ok(input) => match line::save_account(services, caller, desk.owner.clone(), input).await {
            Ok(_) => return Ok(redirect(&format!("{}?saved=1", desk.base), Vec::new())),
            Err(e) => refusal(page, &e).ok_or(e)?,
        },
    };
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    let drawn = (errors, typed);
    render(
        services,
        member,
        page,
        &desk,
        status,
        drawn,
        &Done::default(),
    )
    .await
}

async fn save_association(
    form: CsrfForm<AccountForm>,
    member: PageMember,
    page: Page,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let desk = Desk::association(&services, &member).await?;
    save(&services, &member, &page, desk, form.0).await
}

async fn save_city(
    form: CsrfForm<AccountForm>,
    member: PageMember,
    page: Page,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    save(&services, &member, &page, Desk::city(), form.0).await
}

#[derive(Deserialize)]
struct RemoveForm {}

async fn remove(
    services: &Services,
    member: &PageMember,
    desk: Desk,
) -> Result<HttpResponse, ApiError> {
    let caller = &member.0.principal.member_id;
    line::remove_account(services, caller, desk.owner).await?;
    Ok(redirect(&format!("{}?removed=1", desk.base), Vec::new()))
}

async fn remove_association(
    _form: CsrfForm<RemoveForm>,
    member: PageMember,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let desk = Desk::association(&services, &member).await?;
    remove(&services, &member, desk).await
}

async fn remove_city(
    _form: CsrfForm<RemoveForm>,
    member: PageMember,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    remove(&services, &member, Desk::city()).await
}
