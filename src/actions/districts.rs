//! Districts (校下): the city's list, for every signed-in member.

use crate::actions::Services;
use crate::authz::Principal;
use crate::db::models::District;
use crate::db::queries::districts as queries;
use crate::domain::MemberId;
use crate::error::ApiError;

/// The city's districts by code; archived ones are left out.
pub async fn list(services: &Services, caller: &MemberId) -> Result<Vec<District>, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            Principal::load(conn, &caller)?;
            Ok(queries::list_districts(conn)?)
        })
        .await
}
