//! The page handlers, one module per page of docs/design.md 7b's table. Each: extract (Page,
//! PageMember, CsrfForm) → parse → the same action as the JSON route → a template or a
//! redirect.

mod account;
mod api_token;
mod calendar;
mod channels;
mod circular;
mod city;
mod city_districts;
mod compose;
mod district;
mod draft;
mod event_form;
mod first_admin;
mod inbox;
mod join;
mod line_account;
mod links;
mod login;
mod officer;
mod safety;
mod safety_start;
mod settings;
mod signin;

use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};

use crate::authz;
use crate::domain::Role;
use crate::web::page::redirect;
use crate::web::session::MaybeMember;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.route("/", web::get().to(home));
    login::config(cfg);
    officer::config(cfg);
    join::config(cfg);
    settings::config(cfg);
    account::config(cfg);
    signin::config(cfg);
    links::config(cfg);
    channels::config(cfg);
    first_admin::config(cfg);
    api_token::config(cfg);
    safety::config(cfg);
    safety_start::config(cfg);
    city::config(cfg);
    city_districts::config(cfg);
    line_account::config(cfg);
    district::config(cfg);
    inbox::config(cfg);
    calendar::config(cfg);
    circular::config(cfg);
    compose::config(cfg);
    draft::config(cfg);
}

/// `/`: a member's first section, by role; visitors sign in.
async fn home(_req: HttpRequest, member: MaybeMember) -> HttpResponse {
    let Some(member) = member.0 else {
        return redirect("/login", Vec::new());
    };
    let p = &member.principal;
    let to = if p.household_id.is_some() {
        "/inbox"
    } else if authz::may_see_city_stats(p) {
        "/city"
    } else if p.roles.iter().any(|g| g.role == Role::DistrictOfficer) {
        "/district"
    } else {
        "/settings"
    };
    redirect(to, Vec::new())
}

/// Where to go after signing in: `next` when it is a path on this site.
fn after_sign_in(next: Option<&str>) -> String {
    next.and_then(crate::web::local_path)
        .filter(|path| !path.starts_with("/login"))
        .unwrap_or("/")
        .to_string()
}
