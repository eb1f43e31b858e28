//! `/signin/{token}`: a printed one-time sign-in QR code. The GET only shows a button (link
//! scanners and previews must not spend the code); the POST signs this phone in, once.

use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::actions::sessions;
use crate::db::Db;
use crate::error::ApiError;
use crate::web::CsrfForm;
use crate::web::page::{Page, redirect};
use crate::web::session;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.route("/signin/{token}", web::get().to(show))
        .route("/signin/{token}", web::post().to(submit));
}

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage<'a> {
    page: &'a Page,
    action: &'a str,
}

async fn show(
    req: HttpRequest,
    page: Page,
    token: web::Path<String>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let token = token.into_inner();
    db.run(move |conn| sessions::check_sign_in_code(conn, &token))
        .await?;
    page.render(&SignInPage {
        page: &page,
        action: req.path(),
    })
}

#[derive(Deserialize)]
struct NoFields {}

async fn submit(
    _form: CsrfForm<NoFields>,
    req: HttpRequest,
    token: web::Path<String>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let token = token.into_inner();
    let member = db
        .run(move |conn| sessions::redeem_sign_in_code(conn, &token))
        .await?;
    let cookies = session::start(&req, member).await?;
    Ok(redirect("/", cookies))
}
