//! Districts (校下): the list members see, and the city's list as loaded at start-up.

use diesel::prelude::*;

use crate::db::models::District;
use crate::db::schema::districts;
use crate::db::{AnyConnection, now, write_transaction};
use crate::domain::{DistrictId, DistrictRecord, new_id};

pub fn list_districts(conn: &mut AnyConnection) -> QueryResult<Vec<District>> {
    districts::table
        .filter(districts::archived.eq(false))
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
