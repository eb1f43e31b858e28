//! Districts (校下): the list members see, the city's list as loaded at start-up, and city
//! staff's corrections of it (rename, merge, archive, restore) with their history.

use std::collections::HashMap;

use diesel::prelude::*;

use crate::db::changes::{Change, announce};
use crate::db::models::{District, DistrictChange};
use chrono::NaiveDateTime;
use diesel::sql_types::Timestamp;

use crate::db::schema::{
    association_former_districts, associations, district_changes, districts, role_assignments,
};
use crate::db::{AnyConnection, Json, now, write_transaction};
use crate::domain::{AssociationId, DistrictId, DistrictRecord, MemberId, Role, new_id};
use crate::places::Moved;

pub fn list_districts(conn: &mut AnyConnection) -> QueryResult<Vec<District>> {
    districts::table
        .filter(districts::archived.eq(false))
        .order(districts::code.asc())
        .select(District::as_select())
        .load(conn)
}

/// Every district, archived ones too, by code.
pub fn all_districts(conn: &mut AnyConnection) -> QueryResult<Vec<District>> {
    districts::table
        .order(districts::code.asc())
        .select(District::as_select())
        .load(conn)
}

/// Whether a district of that id was ever registered (archived ones included).
pub fn district_exists(conn: &mut AnyConnection, id: &DistrictId) -> QueryResult<bool> {
    let found: i64 = districts::table.find(id).count().get_result(conn)?;
    Ok(found > 0)
}

pub fn count_districts(conn: &mut AnyConnection) -> QueryResult<i64> {
    districts::table.count().get_result(conn)
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    pub inserted: usize,
    pub updated: usize,
    pub unchanged: usize,
}

/// Adds new codes and updates changed ones, all in one transaction; a row already equal to
/// the file is left alone, so importing the same file twice changes nothing.
pub fn import_districts(
    conn: &mut AnyConnection,
    records: &[DistrictRecord],
) -> QueryResult<ImportReport> {
    write_transaction(conn, |conn| {
        let mut report = ImportReport::default();
        for record in records {
            let existing = districts::table
                .filter(districts::code.eq(&record.code))
                .select(District::as_select())
                .first(conn)
                .optional()?;
            let timestamp = now();
            match existing {
                None => {
                    diesel::insert_into(districts::table)
                        .values(District {
                            id: DistrictId(new_id()),
                            code: record.code.clone(),
                            name: record.name.clone(),
                            name_kana: record.name_kana.clone(),
                            kominkan: record.kominkan.clone(),
                            reported_associations: record.reported_associations,
                            reported_households: record.reported_households,
                            checked: record.checked,
                            archived: false,
                            merged_into_id: None,
                            created_at: timestamp,
                            updated_at: timestamp,
                        })
                        .execute(conn)?;
                    report.inserted += 1;
                }
                Some(d)
                    if d.name == record.name
                        && d.name_kana == record.name_kana
                        && d.kominkan == record.kominkan
                        && d.reported_associations == record.reported_associations
                        && d.reported_households == record.reported_households
                        && d.checked == record.checked =>
                {
                    report.unchanged += 1;
                }
                Some(d) => {
                    diesel::update(districts::table.find(&d.id))
                        .set((
                            districts::name.eq(&record.name),
                            districts::name_kana.eq(&record.name_kana),
                            districts::kominkan.eq(&record.kominkan),
                            districts::reported_associations.eq(record.reported_associations),
                            districts::reported_households.eq(record.reported_households),
                            districts::checked.eq(record.checked),
                            districts::updated_at.eq(timestamp),
                        ))
                        .execute(conn)?;
                    report.updated += 1;
                }
            }
        }
        Ok(report)
    })
}

/// An open district's code and name.
pub fn open_district_name(
    conn: &mut AnyConnection,
    id: &DistrictId,
) -> QueryResult<Option<(String, String)>> {
    districts::table
        .find(id)
        .filter(districts::archived.eq(false))
        .select((districts::code, districts::name))
        .first(conn)
        .optional()
}

pub fn find_district(conn: &mut AnyConnection, id: &DistrictId) -> QueryResult<Option<District>> {
    districts::table
        .find(id)
        .select(District::as_select())
        .first(conn)
        .optional()
}

/// Open associations still in a district.
pub fn open_associations_in(conn: &mut AnyConnection, id: &DistrictId) -> QueryResult<i64> {
    associations::table
        .filter(associations::district_id.eq(id))
        .filter(associations::archived.eq(false))
        .count()
        .get_result(conn)
}

/// A correction of the list, as kept in its history.
pub enum Correction {
    Rename {
        name: Option<String>,
        /// `Some(None)` clears the reading.
        name_kana: Option<Option<String>>,
    },
    /// Into another district: the associations move there, this one is archived.
    Merge(DistrictId),
    Archive,
    Restore,
}

impl Correction {
    pub fn kind(&self) -> &'static str {
        match self {
            Correction::Rename { .. } => "renamed",
            Correction::Merge(_) => "merged",
            Correction::Archive => "archived",
            Correction::Restore => "restored",
        }
    }
}

/// A role that ended because its district was merged away or archived.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct EndedRole {
    #[schema(value_type = String)]
    pub member_id: MemberId,
    pub role: Role,
}

/// What a correction did: the district as it is now, the associations a merge moved and
/// the roles that ended with the district.
pub struct Applied {
    pub district: District,
    pub moved_associations: Vec<AssociationId>,
    pub ended_roles: Vec<EndedRole>,
}

/// Applies a correction (checked by the caller) with its history row, in the caller's
/// transaction. Months not yet frozen are dropped from the figures, so the dashboard
/// computes them again over the new list; frozen months keep what they said.
pub fn correct(
    conn: &mut AnyConnection,
    district: &District,
    correction: &Correction,
    by: &MemberId,
) -> QueryResult<Applied> {
    let at = now();
    let target = districts::table.find(&district.id);
    let mut moved: Vec<AssociationId> = Vec::new();
    // A power ends with the role that gave it: a district that is gone has no officers.
    let ended_roles = match correction {
        Correction::Merge(_) | Correction::Archive => end_district_roles(conn, &district.id, at)?,
        Correction::Rename { .. } | Correction::Restore => Vec::new(),
    };
    let detail = match correction {
        Correction::Rename { name, name_kana } => {
            let name = name.clone().unwrap_or_else(|| district.name.clone());
            let name_kana = name_kana
                .clone()
                .unwrap_or_else(|| district.name_kana.clone());
            diesel::update(target)
                .set((
                    districts::name.eq(&name),
                    districts::name_kana.eq(&name_kana),
                    districts::updated_at.eq(at),
                ))
                .execute(conn)?;
            serde_json::json!({
                "before": {"name": district.name, "name_kana": district.name_kana},
                "after": {"name": name, "name_kana": name_kana},
            })
        }
        Correction::Merge(into) => {
            moved = associations::table
                .filter(associations::district_id.eq(&district.id))
                .select(associations::id)
                .load(conn)?;
            // Their members keep reading what was addressed to the district they leave.
            diesel::insert_into(association_former_districts::table)
                .values(
                    associations::table
                        .filter(associations::district_id.eq(&district.id))
                        .select((
                            associations::id,
                            associations::district_id,
                            at.into_sql::<Timestamp>(),
                        )),
                )
                .into_columns((
                    association_former_districts::association_id,
                    association_former_districts::district_id,
                    association_former_districts::moved_at,
                ))
                .execute(conn)?;
            diesel::update(associations::table.filter(associations::district_id.eq(&district.id)))
                .set((
                    associations::district_id.eq(into),
                    associations::updated_at.eq(at),
                ))
                .execute(conn)?;
            diesel::update(target)
                .set((
                    districts::archived.eq(true),
                    districts::merged_into_id.eq(Some(into)),
                    districts::updated_at.eq(at),
                ))
                .execute(conn)?;
            serde_json::json!({"into": into, "moved_associations": moved.len(), "ended_roles": ended_roles})
        }
        Correction::Archive | Correction::Restore => {
            let archived = matches!(correction, Correction::Archive);
            diesel::update(target)
                .set((
                    districts::archived.eq(archived),
                    districts::merged_into_id.eq(None::<DistrictId>),
                    districts::updated_at.eq(at),
                ))
                .execute(conn)?;
            serde_json::json!({"merged_into": district.merged_into_id, "ended_roles": ended_roles})
        }
    };
    diesel::insert_into(district_changes::table)
        .values(DistrictChange {
            id: new_id(),
            district_id: district.id.clone(),
            kind: correction.kind().to_string(),
            detail: Json(detail),
            changed_by: Some(by.clone()),
            changed_at: at,
        })
        .execute(conn)?;
    super::stats::drop_provisional_months(conn)?;
    let moved_places: Vec<Change> = moved
        .iter()
        .map(|a| Change::Roster(Moved::Association(a.clone())))
        .collect();
    announce(conn, &moved_places)?;
    let now_stored = districts::table
        .find(&district.id)
        .select(District::as_select())
        .first(conn)?;
    Ok(Applied {
        district: now_stored,
        moved_associations: moved,
        ended_roles,
    })
}

/// Ends the roles held for the district (its officers), returning whom they were.
fn end_district_roles(
    conn: &mut AnyConnection,
    district: &DistrictId,
    at: NaiveDateTime,
) -> QueryResult<Vec<EndedRole>> {
    let held = role_assignments::table
        .filter(role_assignments::scope_id.eq(district.as_str()))
        .filter(role_assignments::role.eq(Role::DistrictOfficer))
        .filter(role_assignments::ended_at.is_null());
    let ended = held
        .select((role_assignments::member_id, role_assignments::role))
        .order((
            role_assignments::started_at.asc(),
            role_assignments::id.asc(),
        ))
        .load::<(MemberId, Role)>(conn)?
        .into_iter()
        .map(|(member_id, role)| EndedRole { member_id, role })
        .collect();
    diesel::update(held)
        .set(role_assignments::ended_at.eq(Some(at)))
        .execute(conn)?;
    Ok(ended)
}

/// A district's corrections, oldest first.
pub fn history(conn: &mut AnyConnection, id: &DistrictId) -> QueryResult<Vec<DistrictChange>> {
    district_changes::table
        .filter(district_changes::district_id.eq(id))
        .order((
            district_changes::changed_at.asc(),
            district_changes::id.asc(),
        ))
        .select(DistrictChange::as_select())
        .load(conn)
}

/// Where each merged-away district's circulars count now: the district it was merged into,
/// followed to the end of a chain of merges.
pub fn merged_into(conn: &mut AnyConnection) -> QueryResult<HashMap<DistrictId, DistrictId>> {
    let direct: HashMap<DistrictId, DistrictId> = districts::table
        .filter(districts::merged_into_id.is_not_null())
        .select((districts::id, districts::merged_into_id.assume_not_null()))
        .load::<(DistrictId, DistrictId)>(conn)?
        .into_iter()
        .collect();
    Ok(direct
        .iter()
        .map(|(from, first)| {
            let mut to = first;
            // A chain is at most as long as the list; a loop (never written) stops there.
            for _ in 0..direct.len() {
                match direct.get(to) {
                    Some(next) if next != from => to = next,
                    _ => break,
                }
            }
            (from.clone(), to.clone())
        })
        .collect())
}
