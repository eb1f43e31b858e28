//! `/join/{code}`: the invitation's association, a field `お名前` and button `参加する`; a
//! login and password are optional (without them this phone stays signed in, and later
//! sign-ins use QR codes an officer prints).

use actix_web::http::StatusCode;
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::actions::sessions::{self, NewAccount};
use crate::auth::limiter::RegistrationLimiter;
use crate::auth::{PasswordService, client_address};
use crate::configuration::AuthSettings;
use crate::db::Db;
use crate::domain::{Login, OneLine};
use crate::error::{ApiError, ErrorCode};
use crate::web::CsrfForm;
use crate::web::form_errors::{FieldErrors, problem_text};
use crate::web::page::{Page, redirect};
use crate::web::session;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.route("/join/{code}", web::get().to(show))
        .route("/join/{code}", web::post().to(submit));
}

#[derive(Template)]
#[template(path = "join.html")]
struct JoinPage<'a> {
    page: &'a Page,
    association: &'a str,
    form: &'a JoinForm,
    errors: FieldErrors,
}

/// The form's fields by element id, with the key of their label.
const LOGIN: (&str, &str) = ("login", "join.login_label");
const PASSWORD: (&str, &str) = ("password", "join.password_label");

/// A mistake of the login or password field, in the page's words.
fn refuse(errors: &mut FieldErrors, page: &Page, (id, label): (&str, &str), key: &str) {
    errors.add(id, page.t(label), page.t(key));
}

#[derive(Deserialize, Default)]
struct JoinForm {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    login: String,
    #[serde(default, skip_serializing)]
    password: Option<SecretString>,
}

async fn association_of(db: &Db, code: String) -> Result<String, ApiError> {
    db.run(move |conn| sessions::invitation_association(conn, &code))
        .await
}

async fn show(
    page: Page,
    code: web::Path<String>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let association = association_of(&db, code.into_inner()).await?;
    page.render(&JoinPage {
        page: &page,
        association: &association,
        form: &JoinForm::default(),
        errors: FieldErrors::default(),
    })
}

async fn submit(
    form: CsrfForm<JoinForm>,
    req: HttpRequest,
    page: Page,
    code: web::Path<String>,
    db: web::Data<Db>,
    passwords: web::Data<PasswordService>,
    limiter: web::Data<RegistrationLimiter>,
) -> Result<HttpResponse, ApiError> {
    let (code, form) = (code.into_inner(), form.0);
    let association = association_of(&db, code.clone()).await?;
    let proxies = req.app_data::<web::Data<AuthSettings>>();
    let address = client_address(&req, proxies.map_or(&[], |s| &s.trusted_proxies));
    let (account, mut errors) = parse(&page, &form, code, address);
    if let Some(account) = account.filter(|_| errors.is_empty()) {
        match sessions::register(&db, &passwords, &limiter, account).await {
            Ok(member) => {
                let cookies = session::start(&req, member).await?;
                return Ok(redirect("/", cookies));
            }
            Err(e) if e.code() == ErrorCode::LoginTaken => {
                refuse(&mut errors, &page, LOGIN, "join.login_taken");
            }
            Err(e) if e.code() == ErrorCode::WeakPassword => {
                refuse(&mut errors, &page, PASSWORD, "join.weak_password");
            }
            Err(e) => return Err(e),
        }
    }
    let view = JoinPage {
        page: &page,
        association: &association,
        form: &form,
        errors,
    };
    page.render_with(StatusCode::UNPROCESSABLE_ENTITY, &view)
}

/// The account the form asks for, with an error per field that does not parse.
fn parse(
    page: &Page,
    form: &JoinForm,
    code: String,
    client_address: String,
) -> (Option<NewAccount>, FieldErrors) {
    let mut errors = FieldErrors::default();
    let name = OneLine::<100>::parse("display_name", &form.display_name)
        .map_err(|e| {
            let label = page.t("join.name_label");
            errors.add("display_name", label, problem_text(page, label, &e));
        })
        .ok();
    let password = form
        .password
        .clone()
        .filter(|p| !p.expose_secret().is_empty());
    let credentials = match (form.login.trim(), password) {
        ("", None) => None,
        ("", Some(_)) => {
            refuse(&mut errors, page, LOGIN, "join.both_required");
            None
        }
        (_, None) => {
            refuse(&mut errors, page, PASSWORD, "join.both_required");
            None
        }
        (login, Some(password)) => match Login::parse(login) {
            Ok(login) => Some((login, password)),
            Err(_) => {
                refuse(&mut errors, page, LOGIN, "join.login_invalid");
                None
            }
        },
    };
    let account = name.map(|name| NewAccount {
        invitation_code: Some(code),
        display_name: name.into_inner(),
        credentials,
        client_address,
    });
    (account, errors)
}
