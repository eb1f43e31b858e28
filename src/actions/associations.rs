//! Associations (町会): the city's list of them, registering one, and its reported figures.

use crate::actions::Services;
use crate::actions::access::caller_and_association;
use crate::authz::{self, Principal, require};
use crate::db::models::Association;
use crate::db::queries::associations::{self as queries, AssociationChangeset, NewAssociation};
use crate::db::queries::audit;
use crate::domain::{AssociationId, AuditAction, DistrictId, MemberId};
use crate::error::ApiError;

/// Associations, by district and name, of one district or all: names and counts only, for
/// any signed-in member.
pub async fn list(
    services: &Services,
    caller: &MemberId,
    district: Option<DistrictId>,
) -> Result<Vec<Association>, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            Principal::load(conn, &caller)?;
            Ok(queries::list_associations(conn, district.as_ref())?)
        })
        .await
}

/// Registers an association in a district (city staff). Audited.
pub async fn create(
    services: &Services,
    caller: &MemberId,
    new: NewAssociation,
) -> Result<Association, ApiError> {
    let caller = caller.clone();
    services
        .db
        .write(move |conn| {
            let p = Principal::load(conn, &caller)?;
            require(authz::may_administer_associations(&p))?;
            let association = queries::create_association(conn, new)?;
            audit::record(
                conn,
                &p,
                AuditAction::AssociationCreated,
                "association",
                Some(association.id.as_str()),
                Some(&association.id),
                serde_json::json!({"member_households": association.member_households}),
            )?;
            Ok(association)
        })
        .await
}

/// One association, for any signed-in member.
pub async fn get(
    services: &Services,
    caller: &MemberId,
    id: AssociationId,
) -> Result<Association, ApiError> {
    let caller = caller.clone();
    let (_, association) = services
        .db
        .run(move |conn| caller_and_association(conn, &caller, &id))
        .await?;
    Ok(association)
}

/// Renames an association or updates its reported household counts (city staff). Audited.
pub async fn update(
    services: &Services,
    caller: &MemberId,
    id: AssociationId,
    changes: AssociationChangeset,
) -> Result<Association, ApiError> {
    let caller = caller.clone();
    services
        .db
        .write(move |conn| {
            let (p, association) = caller_and_association(conn, &caller, &id)?;
            require(authz::may_administer_associations(&p))?;
            let updated = queries::update_association(conn, &association.id, changes)?;
            audit::record(
                conn,
                &p,
                AuditAction::AssociationUpdated,
                "association",
                Some(updated.id.as_str()),
                Some(&updated.id),
                serde_json::json!({"member_households": updated.member_households}),
            )?;
            Ok(updated)
        })
        .await
}
