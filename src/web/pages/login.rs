//! `/login`: fields `ログインID` and `パスワード`, button `ログイン`; sign-out at `/logout`;
//! the language chooser every page's footer posts to `/language`.

use actix_web::http::StatusCode;
use actix_web::http::header::HeaderValue;
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::actions::preferences;
use crate::actions::sessions::{self, Credentials};
use crate::auth::{PasswordService, client_address};
use crate::configuration::AuthSettings;
use crate::db::Db;
use crate::domain::Language;
use crate::error::{ApiError, ErrorCode};
use crate::web::page::{Page, redirect};
use crate::web::session::{self, MaybeMember};
use crate::web::{CsrfForm, local_path};

pub fn config(cfg: &mut ServiceConfig) {
    cfg.route("/login", web::get().to(show))
        .route("/login", web::post().to(submit))
        .route("/logout", web::post().to(sign_out))
        .route("/language", web::post().to(choose_language));
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    page: &'a Page,
    login: &'a str,
    next: &'a str,
    login_error: Option<&'static str>,
    password_error: Option<&'static str>,
    form_error: Option<&'static str>,
}

impl<'a> LoginPage<'a> {
    /// The form as posted, with a message by each empty field.
    fn filled(page: &'a Page, login: &'a str, has_password: bool, next: Option<&'a str>) -> Self {
        LoginPage {
            page,
            login,
            next: next.unwrap_or_default(),
            login_error: login
                .trim()
                .is_empty()
                .then(|| page.t("login.login_required")),
            password_error: (!has_password).then(|| page.t("login.password_required")),
            form_error: None,
        }
    }
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn show(page: Page, query: web::Query<NextQuery>) -> Result<HttpResponse, ApiError> {
    let next = query.next.as_deref().unwrap_or_default();
    if page.signed_in() {
        return Ok(redirect(&super::after_sign_in(Some(next)), Vec::new()));
    }
    page.render(&LoginPage {
        page: &page,
        login: "",
        next,
        login_error: None,
        password_error: None,
        form_error: None,
    })
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    login: String,
    password: Option<SecretString>,
    next: Option<String>,
}

async fn submit(
    form: CsrfForm<LoginForm>,
    req: HttpRequest,
    page: Page,
    db: web::Data<Db>,
    passwords: web::Data<PasswordService>,
    settings: web::Data<AuthSettings>,
) -> Result<HttpResponse, ApiError> {
    let LoginForm {
        login,
        password,
        next,
    } = form.0;
    let password = password.filter(|p| !p.expose_secret().is_empty());
    let view = LoginPage::filled(&page, &login, password.is_some(), next.as_deref());
    let Some(password) = password.filter(|_| view.login_error.is_none()) else {
        return page.render_with(StatusCode::UNPROCESSABLE_ENTITY, &view);
    };
    let credentials = Credentials {
        login: login.clone(),
        password,
        client_address: client_address(&req, &settings.trusted_proxies),
    };
    match sessions::sign_in(&db, &passwords, &settings, credentials).await {
        Ok(member) => {
            let cookies = session::start(&req, member).await?;
            Ok(redirect(&super::after_sign_in(next.as_deref()), cookies))
        }
        Err(e) => refused(view, e),
    }
}

/// The form again with why the sign-in was refused: a wrong password next to its field, too
/// many failures above the form; anything else becomes an error page.
fn refused(mut view: LoginPage<'_>, error: ApiError) -> Result<HttpResponse, ApiError> {
    let page = view.page;
    match error {
        e if e.code() == ErrorCode::InvalidCredentials => {
            view.password_error = Some(page.t("login.wrong"));
            page.render_with(StatusCode::UNAUTHORIZED, &view)
        }
        ApiError::TooManyRequests { retry_after_secs } => {
            view.form_error = Some(page.t("login.too_many"));
            let mut response = page.render_with(StatusCode::TOO_MANY_REQUESTS, &view)?;
            response.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                retry_after_secs.into(),
            );
            Ok(response)
        }
        other => Err(other),
    }
}

#[derive(Deserialize)]
struct NoFields {}

/// Ends the session on the server, and has the browser drop this site's caches and
/// storage (the service worker's offline copies and queue).
async fn sign_out(_form: CsrfForm<NoFields>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let removal = session::end(&req).await?;
    let mut response = redirect("/login", vec![removal]);
    response.headers_mut().insert(
        actix_web::http::header::HeaderName::from_static("clear-site-data"),
        HeaderValue::from_static("\"cache\", \"storage\""),
    );
    Ok(response)
}

#[derive(Deserialize)]
struct LanguageForm {
    language: String,
    next: Option<String>,
}

/// A visitor's choice is kept in a cookie; a member's is also saved with their settings.
async fn choose_language(
    form: CsrfForm<LanguageForm>,
    req: HttpRequest,
    member: MaybeMember,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let language: Language = form.0.language.parse().map_err(ApiError::validation)?;
    if let Some(member) = member.0 {
        let prefs = preferences::Preferences {
            language,
            ..member.preferences()
        };
        let principal = member.principal.clone();
        db.run(move |conn| preferences::save(conn, &principal, prefs))
            .await?;
    }
    let back = form.0.next.as_deref().and_then(local_path).unwrap_or("/");
    Ok(redirect(
        back,
        vec![session::language_cookie(&req, language)],
    ))
}
