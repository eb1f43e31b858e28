use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::Json;
use crate::db::schema::{
    projects, stats_association_months, stats_association_safety_months, stats_district_months,
    stats_district_safety_months, stats_months,
};
use crate::domain::{AssociationId, DistrictId, MemberId, Partner, ProjectId, Rule};

/// One month of the dashboard: the headline figures and the rule they were judged by.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = stats_months, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct StatsMonth {
    pub month: String,
    pub finalized: bool,
    pub rule: Json<Rule>,
    pub active_districts: i32,
    pub districts: i32,
    pub member_households: i32,
    pub registered_households: i32,
    pub computed_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = stats_district_months, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct StatsDistrictMonth {
    pub month: String,
    pub district_id: DistrictId,
    pub active: bool,
    pub months_with_posts: i32,
    pub associations: i32,
    pub member_households: i32,
    pub registered_households: i32,
    pub active_households: i32,
    pub posts_city: i32,
    pub posts_district: i32,
    pub posts_association: i32,
    pub expected_receipts: i32,
    pub reads_72h: i32,
    pub expected_confirmations: i32,
    pub confirmations_72h: i32,
    pub paper_households_served: i32,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = stats_association_months, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct StatsAssociationMonth {
    pub month: String,
    pub association_id: AssociationId,
    pub district_id: DistrictId,
    pub member_households: i32,
    pub registered_households: i32,
    pub active_households: i32,
    pub posts_city: i32,
    pub posts_district: i32,
    pub posts_association: i32,
    pub expected_receipts: i32,
    pub reads_72h: i32,
    pub expected_confirmations: i32,
    pub confirmations_72h: i32,
    pub paper_households_served: i32,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = projects, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct Project {
    pub id: ProjectId,
    pub name: String,
    pub fiscal_year: i32,
    pub partners: Json<Vec<Partner>>,
    pub description: String,
    pub created_by: Option<MemberId>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A district's safety checks in one month (a separate table: the month row is at 16 columns).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = stats_district_safety_months, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct StatsDistrictSafetyMonth {
    pub month: String,
    pub district_id: DistrictId,
    pub checks: i32,
    pub households_targeted: i32,
    pub households_answered_72h: i32,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = stats_association_safety_months, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct StatsAssociationSafetyMonth {
    pub month: String,
    pub association_id: AssociationId,
    pub district_id: DistrictId,
    pub checks: i32,
    pub households_targeted: i32,
    pub households_answered_72h: i32,
}
