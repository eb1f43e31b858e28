//! The account forms of `/settings` (`パスワードの変更`, `すべての端末からログアウト`) and the
//! officer's member access page `/officer/members/{id}` (`利用を停止` / `再開`, `町会から削除`),
//! a confirmation step reached from the roster that needs no script.

use actix_web::http::StatusCode;
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use secrecy::SecretString;
use serde::Deserialize;

use crate::actions::Services;
use crate::actions::account::{self, MemberAccess, PasswordChange};
use crate::auth::jwt::sha256_hex;
use crate::auth::{PasswordService, client_address};
use crate::configuration::AuthSettings;
use crate::domain::MemberId;
use crate::error::{ApiError, FieldError};
use crate::web::CsrfForm;
use crate::web::form_errors::FieldErrors;
use crate::web::page::{Page, redirect};
use crate::web::session::{self, PageMember, SESSION_COOKIE};

pub fn config(cfg: &mut ServiceConfig) {
    cfg.route("/settings/password", web::get().to(show_password))
        .route("/settings/password", web::post().to(change_password))
        .route(
            "/settings/sign-out-everywhere",
            web::post().to(sign_out_everywhere),
        )
        .route("/officer/members/{id}", web::get().to(show_member))
        .route(
            "/officer/members/{id}/{change}",
            web::post().to(change_member),
        );
}

/// The password form's state, on `/settings` and on its own page when it is drawn again.
#[derive(Default)]
pub struct PasswordSection {
    /// Members who sign in by QR codes have no password to change.
    pub has_password: bool,
    pub changed: bool,
    /// A refused change's mistakes (passwords are never drawn again).
    pub errors: FieldErrors,
}

impl PasswordSection {
    /// The form drawn again, its messages to be set.
    fn refused() -> Self {
        Self {
            has_password: true,
            ..Self::default()
        }
    }
}

/// The section as `/settings` shows it.
pub fn settings_section(member: &PageMember, changed: bool) -> PasswordSection {
    PasswordSection {
        has_password: account::has_password(&member.0.principal),
        changed,
        ..PasswordSection::default()
    }
}

#[derive(Template)]
#[template(path = "account_password.html")]
struct PasswordPage<'a> {
    page: &'a Page,
    account: PasswordSection,
}

async fn show_password(_member: PageMember, page: Page) -> Result<HttpResponse, ApiError> {
    page.render(&PasswordPage {
        page: &page,
        account: PasswordSection::refused(),
    })
}

#[derive(Deserialize)]
struct PasswordForm {
    current_password: String,
    new_password: String,
}

/// Changes the password; this browser stays signed in, every other sign-in ends. A wrong
/// or weak password draws the form again with the message by its field (422).
async fn change_password(
    form: CsrfForm<PasswordForm>,
    req: HttpRequest,
    member: PageMember,
    page: Page,
    services: web::Data<Services>,
    passwords: web::Data<PasswordService>,
    settings: web::Data<AuthSettings>,
) -> Result<HttpResponse, ApiError> {
    let PasswordForm {
        current_password,
        new_password,
    } = form.0;
    let change = PasswordChange {
        current: SecretString::from(current_password),
        new: SecretString::from(new_password),
        client_address: client_address(&req, &settings.trusted_proxies),
        keep_session: req.cookie(SESSION_COOKIE).map(|c| sha256_hex(c.value())),
    };
    let caller = &member.0.principal.member_id;
    let error =
        match account::change_password(&services, &passwords, &settings, caller, change).await {
            Ok(_) => {
                return Ok(redirect(
                    "/settings?password_changed=1#password-heading",
                    vec![],
                ));
            }
            Err(ApiError::Field(_, error)) => error,
            Err(e) => return Err(e),
        };
    refused_page(&page, &error)
}

/// The form again (422) with the refusal beside its field; no password is drawn again.
fn refused_page(page: &Page, error: &FieldError) -> Result<HttpResponse, ApiError> {
    let mut refused = PasswordSection::refused();
    let place = match error.field.as_str() {
        "new_password" => ("new-password", "account.new_password"),
        _ => ("current-password", "account.current_password"),
    };
    refused.errors.refused(page, place, error);
    let drawn = PasswordPage {
        page,
        account: refused,
    };
    page.render_with(StatusCode::UNPROCESSABLE_ENTITY, &drawn)
}

/// Ends every sign-in of the member, this browser's too, and goes to the sign-in page.
async fn sign_out_everywhere(
    _form: CsrfForm<NoFields>,
    req: HttpRequest,
    member: PageMember,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    account::sign_out_everywhere(&services, &member.0.principal.member_id).await?;
    Ok(redirect(
        "/login",
        vec![session::removal(&req, SESSION_COOKIE)],
    ))
}

#[derive(Deserialize)]
struct NoFields {}

#[derive(Template)]
#[template(path = "officer/member_access.html")]
struct MemberAccessPage<'a> {
    page: &'a Page,
    member: MemberAccess,
}

/// What disabling and removing do, with a button for each (404 for a member whose access
/// the caller may not change).
async fn show_member(
    member: PageMember,
    page: Page,
    path: web::Path<MemberId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let caller = &member.0.principal.member_id;
    let shown = account::member_access(&services, caller, path.into_inner()).await?;
    page.render(&MemberAccessPage {
        page: &page,
        member: shown,
    })
}

/// Disables, enables or removes the member, then back to the roster.
async fn change_member(
    _form: CsrfForm<NoFields>,
    member: PageMember,
    path: web::Path<(MemberId, String)>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let caller = &member.0.principal.member_id;
    let (target, change) = path.into_inner();
    match change.as_str() {
        "disable" => drop(account::set_disabled(&services, caller, target, true).await?),
        "enable" => drop(account::set_disabled(&services, caller, target, false).await?),
        "remove" => account::remove(&services, caller, target).await?,
        _ => return Err(ApiError::NotFound("page")),
    }
    Ok(redirect("/officer/roster?changed=1", vec![]))
}
