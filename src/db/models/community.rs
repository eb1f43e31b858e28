use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::Json;
use crate::db::schema::{associations, district_changes, districts, hans, households};
use crate::domain::{AssociationId, DistrictId, HanId, HouseholdId, MemberId};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = districts, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct District {
    pub id: DistrictId,
    pub code: String,
    pub name: String,
    pub name_kana: Option<String>,
    pub kominkan: Option<String>,
    pub reported_associations: Option<i32>,
    pub reported_households: Option<i32>,
    pub checked: bool,
    pub archived: bool,
    pub merged_into_id: Option<DistrictId>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// One correction of the district list: `kind` is renamed, merged, archived or restored;
/// `detail` says what the district was and became.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = district_changes, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct DistrictChange {
    pub id: String,
    pub district_id: DistrictId,
    pub kind: String,
    pub detail: Json<serde_json::Value>,
    pub changed_by: Option<MemberId>,
    pub changed_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = associations, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct Association {
    pub id: AssociationId,
    pub district_id: DistrictId,
    pub name: String,
    pub name_kana: Option<String>,
    pub member_households: i32,
    pub area_households: Option<i32>,
    pub archived: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = hans, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct Han {
    pub id: HanId,
    pub association_id: AssociationId,
    pub name: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = households, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct Household {
    pub id: HouseholdId,
    pub association_id: AssociationId,
    pub han_id: Option<HanId>,
    pub label: String,
    pub paper: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}
