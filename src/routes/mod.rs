//! HTTP handlers, thin: parse, authorise, one `Db::run`, map to a response.

pub mod districts;
pub mod health;

use utoipa_actix_web::service_config::ServiceConfig;

/// Everything under `/api/v1`.
pub fn api_v1(cfg: &mut ServiceConfig) {
    districts::config(cfg);
}
