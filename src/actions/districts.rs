//! Districts (校下): the city's list, for every signed-in member; its corrections by city
//! staff and admins (rename, merge, archive, restore), each audited and kept as history.

use crate::actions::Services;
use crate::authz::{self, Principal, require};
use crate::db::AnyConnection;
use crate::db::models::{District, DistrictChange};
use crate::db::queries::audit;
use crate::db::queries::districts as queries;
pub use crate::db::queries::districts::{Correction, EndedRole};
use crate::domain::{AuditAction, DistrictId, MemberId, OneLine, optional_name};
use crate::error::{ApiError, ErrorCode, FieldError, Problem};
use crate::places::Moved;

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

/// Every district, archived ones too, by code: what city staff may correct (city staff,
/// admin).
pub async fn correctable(
    services: &Services,
    caller: &MemberId,
) -> Result<Vec<District>, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            let p = Principal::load(conn, &caller)?;
            require(authz::may_correct_districts(&p))?;
            Ok(queries::all_districts(conn)?)
        })
        .await
}

/// A correction's outcome: the district as it is now, for a merge where it went and how
/// many associations moved, and the district roles a merge or archive ended.
pub struct Corrected {
    pub district: District,
    pub into: Option<District>,
    pub moved_associations: usize,
    pub ended_roles: Vec<EndedRole>,
}

/// A rename as asked: a new name (1 to 100 characters), a new reading (at most 100; empty
/// removes it), or both; none is refused at `name`.
pub fn rename(name: Option<String>, name_kana: Option<String>) -> Result<Correction, ApiError> {
    if name.is_none() && name_kana.is_none() {
        let message = "give name, name_kana or both";
        return Err(FieldError::new("name", Problem::Empty, message).into());
    }
    let name = name
        .map(|n| OneLine::<100>::parse("name", &n).map(OneLine::into_inner))
        .transpose()?;
    let name_kana = name_kana
        .map(|k| optional_name("name_kana", Some(k)))
        .transpose()?;
    Ok(Correction::Rename { name, name_kana })
}

/// Applies one correction (city staff, admin): checked against the list as it is, written
/// with its history row and audit entry in one transaction. Bad input changes nothing.
pub async fn correct(
    services: &Services,
    caller: &MemberId,
    id: DistrictId,
    correction: Correction,
) -> Result<Corrected, ApiError> {
    let caller = caller.clone();
    let corrected = services
        .db
        .write(move |conn| {
            let p = Principal::load(conn, &caller)?;
            require(authz::may_correct_districts(&p))?;
            let district = found(conn, &id)?;
            let into = check(conn, &district, &correction)?;
            let applied = queries::correct(conn, &district, &correction, &p.member_id)?;
            let district = applied.district;
            audit::record(
                conn,
                &p,
                audit_action(&correction),
                "district",
                Some(district.id.as_str()),
                None,
                serde_json::json!({
                    "name": district.name,
                    "into": into.as_ref().map(|d| d.id.clone()),
                    "moved_associations": applied.moved_associations.len(),
                    "ended_roles": applied.ended_roles,
                }),
            )?;
            let corrected = Corrected {
                district,
                into,
                moved_associations: applied.moved_associations.len(),
                ended_roles: applied.ended_roles,
            };
            Ok((corrected, applied.moved_associations))
        })
        .await?;
    let (corrected, moved) = corrected;
    // Members of the moved associations now live in another district (and read its
    // circulars besides their former district's).
    let moved: Vec<Moved> = moved.into_iter().map(Moved::Association).collect();
    services.inbox_cache.roster_changed(&moved);
    Ok(corrected)
}

fn found(conn: &mut AnyConnection, id: &DistrictId) -> Result<District, ApiError> {
    queries::find_district(conn, id)?.ok_or(ApiError::NotFound("district"))
}

/// Whether the correction fits the district as it is; for a merge, the district it goes into.
fn check(
    conn: &mut AnyConnection,
    district: &District,
    correction: &Correction,
) -> Result<Option<District>, ApiError> {
    let archived =
        |what: &str| ApiError::Conflict(ErrorCode::DistrictArchived, format!("{what} is archived"));
    match correction {
        Correction::Rename { .. } => Ok(None),
        Correction::Merge(into) => {
            let refused = |code, message: &str| {
                let error = FieldError::new("into", Problem::Invalid, message);
                ApiError::Field(code, Box::new(error))
            };
            if *into == district.id {
                let message = "a district cannot be merged into itself";
                return Err(refused(ErrorCode::MergeIntoItself, message));
            }
            let into = queries::find_district(conn, into)?
                .ok_or_else(|| refused(ErrorCode::UnknownDistrict, "into names no district"))?;
            if district.archived {
                return Err(archived("the district"));
            }
            if into.archived {
                return Err(archived("the district to merge into"));
            }
            Ok(Some(into))
        }
        Correction::Archive if district.archived => Err(archived("the district")),
        Correction::Archive if queries::open_associations_in(conn, &district.id)? > 0 => {
            Err(ApiError::Conflict(
                ErrorCode::DistrictNotEmpty,
                "the district still has associations; merge it into another instead".into(),
            ))
        }
        Correction::Archive => Ok(None),
        Correction::Restore if !district.archived => Err(ApiError::Conflict(
            ErrorCode::DistrictNotArchived,
            "the district is not archived".into(),
        )),
        Correction::Restore => Ok(None),
    }
}

fn audit_action(correction: &Correction) -> AuditAction {
    match correction {
        Correction::Rename { .. } => AuditAction::DistrictRenamed,
        Correction::Merge(_) => AuditAction::DistrictMerged,
        Correction::Archive => AuditAction::DistrictArchived,
        Correction::Restore => AuditAction::DistrictRestored,
    }
}

/// A district's corrections, oldest first (city staff, admin).
pub async fn history(
    services: &Services,
    caller: &MemberId,
    id: DistrictId,
) -> Result<Vec<DistrictChange>, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            let p = Principal::load(conn, &caller)?;
            require(authz::may_correct_districts(&p))?;
            found(conn, &id)?;
            Ok(queries::history(conn, &id)?)
        })
        .await
}
