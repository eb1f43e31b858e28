//! `/setup/{token}`: the first start's page that creates the first city admin, open only
//! with the one-time link printed at start and while no admin exists.

use actix_web::http::StatusCode;
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use secrecy::SecretString;
use serde::Deserialize;

use crate::actions::sessions::{self, AdminOrigin};
use crate::auth::PasswordService;
use crate::auth::password::check_new_password;
use crate::db::Db;
use crate::domain::{Login, OneLine};
use crate::error::{ApiError, ErrorCode};
use crate::web::CsrfForm;
use crate::web::page::{Page, redirect};
use crate::web::session;
use crate::web::setup::SetupLink;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.route("/setup/{token}", web::get().to(show))
        .route("/setup/{token}", web::post().to(submit));
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage<'a> {
    page: &'a Page,
    action: &'a str,
    form: &'a SetupForm,
    errors: SetupErrors,
}

#[derive(Default)]
struct SetupErrors {
    login: Option<&'static str>,
    name: Option<&'static str>,
    password: Option<&'static str>,
}

#[derive(Deserialize, Default)]
struct SetupForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    display_name: String,
    password: Option<SecretString>,
}

fn check_link(link: &SetupLink, token: &str) -> Result<(), ApiError> {
    if link.accepts(token) {
        Ok(())
    } else {
        Err(ApiError::NotFound("page"))
    }
}

async fn show(
    req: HttpRequest,
    page: Page,
    token: web::Path<String>,
    link: web::Data<SetupLink>,
) -> Result<HttpResponse, ApiError> {
    check_link(&link, &token)?;
    page.render(&SetupPage {
        page: &page,
        action: req.path(),
        form: &SetupForm::default(),
        errors: SetupErrors::default(),
    })
}

#[allow(clippy::too_many_arguments)]
async fn submit(
    form: CsrfForm<SetupForm>,
    req: HttpRequest,
    page: Page,
    token: web::Path<String>,
    link: web::Data<SetupLink>,
    db: web::Data<Db>,
    passwords: web::Data<PasswordService>,
) -> Result<HttpResponse, ApiError> {
    check_link(&link, &token)?;
    let form = form.0;
    let (admin, errors) = parse(&page, &form);
    let Some((login, name, password)) = admin else {
        let view = SetupPage {
            page: &page,
            action: req.path(),
            form: &form,
            errors,
        };
        return page.render_with(StatusCode::UNPROCESSABLE_ENTITY, &view);
    };
    let hash = passwords.hash(password).await?;
    let member = db
        .run(move |conn| sessions::create_admin(conn, &login, &name, &hash, AdminOrigin::SetUpPage))
        .await
        .inspect_err(|e| {
            if e.code() == ErrorCode::SetupClosed {
                link.close();
            }
        })?;
    link.close();
    let cookies = session::start(&req, member.id).await?;
    Ok(redirect("/", cookies))
}

/// The admin the form asks for, or an error per field.
fn parse(page: &Page, form: &SetupForm) -> (Option<(Login, String, SecretString)>, SetupErrors) {
    let mut errors = SetupErrors::default();
    let login = Login::parse(&form.login)
        .map_err(|_| errors.login = Some(page.t("setup.login_invalid")))
        .ok();
    let name = OneLine::<100>::parse("display_name", &form.display_name)
        .map_err(|_| errors.name = Some(page.t("setup.name_required")))
        .ok();
    let password = form
        .password
        .clone()
        .unwrap_or_else(|| SecretString::from(""));
    if check_new_password(&password, login.as_ref().map(Login::as_str)).is_err() {
        errors.password = Some(page.t("setup.weak_password"));
    }
    let admin = match (login, name, errors.password) {
        (Some(login), Some(name), None) => Some((login, name.into_inner(), password)),
        _ => None,
    };
    (admin, errors)
}
