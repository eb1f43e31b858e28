//! Liveness and readiness, for load balancers and the benchmarks' yardstick.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;

use crate::db::{Backend, Db};
use crate::error::ApiError;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Liveness {
    #[schema(example = "ok")]
    status: &'static str,
}

/// The process is up. Touches nothing, so it is also the benchmarks' plain-JSON yardstick.
#[utoipa::path(tag = "operations", responses((status = 200, body = Liveness)))]
#[get("/livez")]
pub async fn livez() -> HttpResponse {
    HttpResponse::Ok().json(Liveness { status: "ok" })
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Readiness {
    #[schema(example = "ready")]
    status: &'static str,
    #[schema(example = "sqlite")]
    database: &'static str,
}

/// The database answers and takes writes (on SQLite, the write lock is free).
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, body = Readiness),
        (status = 503, description = "The database does not answer", body = crate::error::ErrorBody),
    )
)]
#[get("/readyz")]
pub async fn readyz(db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    db.ready().await?;
    let database = match db.backend() {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    Ok(HttpResponse::Ok().json(Readiness {
        status: "ready",
        database,
    }))
}
