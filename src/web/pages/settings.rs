//! `/settings`: text size, language, high contrast, notifications (`通知を受け取る`, a
//! script), the calendar feed (made and revoked in `calendar.rs`), the home-screen guide,
//! the account forms (`パスワードの変更`, `すべての端末からログアウト`, in `account.rs`) and
//! sign-out (`ログアウト`).

use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::actions::Services;
use crate::actions::calendar;
use crate::actions::preferences::{self, Preferences};
use crate::db::Db;
use crate::domain::{Language, TextSize};
use crate::error::ApiError;
use crate::web::CsrfForm;
use crate::web::page::{Page, redirect};
use crate::web::pages::account::{self, PasswordSection};
use crate::web::pages::channels::{self, ChannelSection};
use crate::web::session::{self, PageMember};

pub fn config(cfg: &mut ServiceConfig) {
    cfg.route("/settings", web::get().to(show))
        .route("/settings", web::post().to(save));
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
}

#[derive(Deserialize)]
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
    let channels = channels::section(&services, &member, &page).await?;
    let calendar_feed = calendar::has_feed(&services, &member.0.principal.member_id).await?;
    let current = page.preferences.text_size;
    let sizes = [
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
    .collect();
    page.render(&SettingsPage {
        page: &page,
        sizes,
        saved: query.saved.is_some(),
        channels,
        channels_saved: query.channels.is_some(),
        email_sent: query.email.is_some(),
        line_unlinked: query.line_unlinked.is_some(),
        calendar_feed,
        feed_revoked: query.feed_revoked.is_some(),
        account: account::settings_section(&member, query.password_changed.is_some()),
    })
}

#[derive(Deserialize)]
struct SettingsForm {
    language: String,
    text_size: String,
    high_contrast: Option<String>,
}

async fn save(
    form: CsrfForm<SettingsForm>,
    req: HttpRequest,
    member: PageMember,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let form = form.0;
    let prefs = Preferences {
        language: form
            .language
            .parse::<Language>()
            .map_err(ApiError::validation)?,
        text_size: form
            .text_size
            .parse::<TextSize>()
            .map_err(ApiError::validation)?,
        high_contrast: form.high_contrast.is_some(),
    };
    let principal = member.0.principal.clone();
    db.run(move |conn| preferences::save(conn, &principal, prefs))
        .await?;
    let cookie = session::language_cookie(&req, prefs.language);
    Ok(redirect("/settings?saved=1", vec![cookie]))
}
