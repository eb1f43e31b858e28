//! `/settings`: text size, language, high contrast, notifications (`通知を受け取る`, a
//! script), the channels and email address (their section drawn by `channels.rs`, their
//! forms saved here), the calendar feed (made and revoked in `calendar.rs`), the home-screen
//! guide, the account forms (`パスワードの変更`, `すべての端末からログアウト`, in `account.rs`)
//! and sign-out (`ログアウト`). A refused form draws the page again (422) with its mistakes
//! beside its fields and in a summary at its top, and what was typed kept.

use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::actions::calendar;
use crate::actions::preferences::{self, Preferences};
use crate::actions::{Services, channels as channel_actions};
use crate::db::Db;
use crate::domain::{Channel, EmailFrequency, TextSize};
use crate::error::{ApiError, FieldError};
use crate::web::CsrfForm;
use crate::web::form_errors::FieldErrors;
use crate::web::page::{Page, redirect};
use crate::web::pages::account::{self, PasswordSection};
use crate::web::pages::channels::{self, ChannelSection};
use crate::web::session::{self, PageMember};

pub fn config(cfg: &mut ServiceConfig) {
    cfg.route("/settings", web::get().to(show))
        .route("/settings", web::post().to(save))
        .route("/settings/channels", web::post().to(save_channels))
        .route("/settings/email", web::post().to(save_email));
}

pub struct SizeOption {
    pub value: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage<'a> {
    page: &'a Page,
    sizes: Vec<SizeOption>,
    saved: bool,
    channels: ChannelSection,
    channels_saved: bool,
    email_sent: bool,
    line_unlinked: bool,
    /// The member has a calendar feed that can be revoked.
    calendar_feed: bool,
    feed_revoked: bool,
    account: PasswordSection,
    /// The form refused (`preferences`, `channels`, `email`), its summary drawn at its top.
    refused: &'static str,
    errors: FieldErrors,
}

/// A refused form of the page: which one, its mistakes, and what was typed in it.
#[derive(Default)]
struct Refused {
    form: &'static str,
    errors: FieldErrors,
    /// The channels ticked.
    channels: Option<Vec<Channel>>,
    email: Option<String>,
}

impl Refused {
    /// The use case's refusal of `form`, beside the field it names.
    fn by(page: &Page, form: &'static str, error: &FieldError) -> Self {
        let place = match error.field.as_str() {
            "language" => ("language", "settings.language"),
            "text_size" => ("size-standard", "settings.text_size"),
            "email" => ("email", "channels.email_label"),
            _ => ("channel-push", "channels.legend"),
        };
        Self {
            form,
            errors: FieldErrors::one_refused(page, place, error),
            ..Self::default()
        }
    }
}

#[derive(Default, Deserialize)]
struct SavedQuery {
    saved: Option<String>,
    channels: Option<String>,
    email: Option<String>,
    line_unlinked: Option<String>,
    feed_revoked: Option<String>,
    password_changed: Option<String>,
}

async fn show(
    member: PageMember,
    page: Page,
    query: web::Query<SavedQuery>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    render(&page, &services, &member, &query, Refused::default()).await
}

/// The text sizes, the member's checked.
fn sizes(page: &Page) -> Vec<SizeOption> {
    let current = page.preferences.text_size;
    [
        (TextSize::Standard, "settings.size_standard"),
        (TextSize::Large, "settings.size_large"),
        (TextSize::ExtraLarge, "settings.size_x_large"),
    ]
    .into_iter()
    .map(|(size, key)| SizeOption {
        value: size.as_str(),
        label: page.t(key),
        checked: size == current,
    })
    .collect()
}

async fn render(
    page: &Page,
    services: &Services,
    member: &PageMember,
    query: &SavedQuery,
    refused: Refused,
) -> Result<HttpResponse, ApiError> {
    let mut channels = channels::section(services, member, page).await?;
    if let Some(ticked) = &refused.channels {
        for option in &mut channels.options {
            option.checked = ticked.iter().any(|c| c.as_str() == option.value);
        }
    }
    if let Some(email) = refused.email {
        channels.email = email;
    }
    let calendar_feed = calendar::has_feed(services, &member.0.principal.member_id).await?;
    let sizes = sizes(page);
    let status = refused.errors.status();
    let view = SettingsPage {
        page,
        sizes,
        saved: query.saved.is_some(),
        channels,
        channels_saved: query.channels.is_some(),
        email_sent: query.email.is_some(),
        line_unlinked: query.line_unlinked.is_some(),
        calendar_feed,
        feed_revoked: query.feed_revoked.is_some(),
        account: account::settings_section(member, query.password_changed.is_some()),
        refused: refused.form,
        errors: refused.errors,
    };
    page.render_with(status, &view)
}

/// The page drawn again for a refused form.
async fn redraw(
    page: &Page,
    services: &Services,
    member: &PageMember,
    refused: Refused,
) -> Result<HttpResponse, ApiError> {
    let query = SavedQuery::default();
    render(page, services, member, &query, refused).await
}

#[derive(Deserialize)]
struct SettingsForm {
    #[serde(default)]
    language: String,
    #[serde(default)]
    text_size: String,
    high_contrast: Option<String>,
}

async fn save(
    form: CsrfForm<SettingsForm>,
    req: HttpRequest,
    member: PageMember,
    page: Page,
    db: web::Data<Db>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let form = form.0;
    let high_contrast = form.high_contrast.is_some();
    let prefs = match Preferences::parse(&form.language, &form.text_size, high_contrast) {
        Ok(prefs) => prefs,
        Err(e) => {
            let refused = Refused::by(&page, "preferences", &e);
            return redraw(&page, &services, &member, refused).await;
        }
    };
    let principal = member.0.principal.clone();
    db.run(move |conn| preferences::save(conn, &principal, prefs))
        .await?;
    let cookie = session::language_cookie(&req, prefs.language);
    Ok(redirect("/settings?saved=1", vec![cookie]))
}

#[derive(Deserialize)]
struct ChannelsForm {
    push: Option<String>,
    email: Option<String>,
    line: Option<String>,
    /// Shown only when the server sends mail.
    email_frequency: Option<EmailFrequency>,
}

async fn save_channels(
    form: CsrfForm<ChannelsForm>,
    member: PageMember,
    page: Page,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let form = form.0;
    let chosen: Vec<Channel> = [
        (Channel::Push, form.push),
        (Channel::Email, form.email),
        (Channel::Line, form.line),
    ]
    .into_iter()
    .filter_map(|(channel, ticked)| ticked.map(|_| channel))
    .collect();
    let caller = &member.0.principal.member_id;
    match channel_actions::set_channels(&services, caller, chosen.clone()).await {
        Ok(_) => {}
        Err(ApiError::Field(_, e)) => {
            let refused = Refused {
                channels: Some(chosen),
                ..Refused::by(&page, "channels", &e)
            };
            return redraw(&page, &services, &member, refused).await;
        }
        Err(e) => return Err(e),
    }
    if let Some(frequency) = form.email_frequency {
        channel_actions::set_email_frequency(&services, caller, frequency).await?;
    }
    Ok(redirect(
        "/settings?channels=1#channels-heading",
        Vec::new(),
    ))
}

#[derive(Deserialize)]
struct EmailForm {
    #[serde(default)]
    email: String,
}

async fn save_email(
    form: CsrfForm<EmailForm>,
    member: PageMember,
    page: Page,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let caller = &member.0.principal.member_id;
    match channel_actions::set_email(&services, caller, &form.0.email).await {
        Ok(_) => Ok(redirect("/settings?email=1#channels-heading", Vec::new())),
        Err(ApiError::Field(_, e)) => {
            let refused = Refused {
                email: Some(form.0.email),
                ..Refused::by(&page, "email", &e)
            };
            redraw(&page, &services, &member, refused).await
        }
        Err(e) => Err(e),
    }
}
