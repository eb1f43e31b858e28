//! Associations (町会), their hans (班) and households (世帯), and the member roster.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;

use crate::db::changes::{Change, announce};
use crate::db::models::{Association, Han, Household};
use crate::db::queries::districts::find_district;
use crate::db::schema::{associations, districts, hans, households, members, role_assignments};
use crate::db::{AnyConnection, now, write_transaction};
use crate::domain::{
    AssociationId, DistrictId, HanId, HouseholdId, MemberId, Role, RosterRecord, Scope,
};
use crate::error::{ApiError, ErrorCode};
use crate::places::Moved;

pub fn find_association(
    conn: &mut AnyConnection,
    id: &AssociationId,
) -> Result<Association, ApiError> {
    associations::table
        .find(id)
        .filter(associations::archived.eq(false))
        .select(Association::as_select())
        .first(conn)
        .optional()?
        .ok_or(ApiError::NotFound("association"))
}

pub fn list_associations(
    conn: &mut AnyConnection,
    district: Option<&DistrictId>,
) -> QueryResult<Vec<Association>> {
    let mut query = associations::table
        .filter(associations::archived.eq(false))
        .select(Association::as_select())
        .order((associations::district_id.asc(), associations::name.asc()))
        .into_boxed();
    if let Some(district) = district {
        query = query.filter(associations::district_id.eq(district.clone()));
    }
    query.load(conn)
}

pub struct NewAssociation {
    pub district_id: DistrictId,
    pub name: String,
    pub name_kana: Option<String>,
    pub member_households: i32,
    pub area_households: Option<i32>,
}

pub fn create_association(
    conn: &mut AnyConnection,
    new: NewAssociation,
) -> Result<Association, ApiError> {
    write_transaction(conn, |conn| {
        let open_districts = districts::table
            .find(&new.district_id)
            .filter(districts::archived.eq(false))
            .count()
            .get_result::<i64>(conn)?;
        if open_districts == 0 {
            return Err(ApiError::Validation(
                ErrorCode::UnknownDistrict,
                "no such district".into(),
            ));
        }
        let timestamp = now();
        let association = Association {
            id: AssociationId::generate(),
            district_id: new.district_id,
            name: new.name,
            name_kana: new.name_kana,
            member_households: new.member_households,
            area_households: new.area_households,
            archived: false,
            created_at: timestamp,
            updated_at: timestamp,
        };
        diesel::insert_into(associations::table)
            .values(&association)
            .execute(conn)
            .map_err(|e| {
                conflict_as(
                    e,
                    ErrorCode::AssociationExists,
                    "the district already has an association of that name",
                )
            })?;
        Ok(association)
    })
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = associations)]
pub struct AssociationChangeset {
    pub name: Option<String>,
    pub member_households: Option<i32>,
    pub area_households: Option<Option<i32>>,
    pub updated_at: Option<chrono::NaiveDateTime>,
}

pub fn update_association(
    conn: &mut AnyConnection,
    id: &AssociationId,
    mut changes: AssociationChangeset,
) -> Result<Association, ApiError> {
    changes.updated_at = Some(now());
    diesel::update(associations::table.find(id))
        .set(&changes)
        .execute(conn)
        .map_err(|e| {
            conflict_as(
                e,
                ErrorCode::AssociationExists,
                "the district already has an association of that name",
            )
        })?;
    find_association(conn, id)
}

/// Checks that a scope exists and that the hans belong to it.
pub fn check_scope(
    conn: &mut AnyConnection,
    scope: &Scope,
    hans: &[HanId],
) -> Result<(), ApiError> {
    let unknown =
        |what: &str| ApiError::Validation(ErrorCode::UnknownScope, format!("no such {what}"));
    match scope {
        Scope::Association(association) => {
            find_association(conn, association).map_err(|_| unknown("association"))?;
            for han in hans {
                han_of(conn, association, han)?;
            }
            return Ok(());
        }
        _ if !hans.is_empty() => {
            return Err(ApiError::validation(
                "han_ids are only for association posts",
            ));
        }
        Scope::City => {}
        Scope::District(district) => match find_district(conn, district)? {
            None => return Err(unknown("district")),
            // Merged away or archived: its members read on where they are now.
            Some(found) if found.archived => {
                return Err(ApiError::Conflict(
                    ErrorCode::DistrictArchived,
                    "the district is archived".into(),
                ));
            }
            Some(_) => {}
        },
    }
    Ok(())
}

pub fn conflict_as(e: diesel::result::Error, code: ErrorCode, message: &str) -> ApiError {
    match ApiError::from(e) {
        ApiError::Conflict(..) => ApiError::Conflict(code, message.to_string()),
        other => other,
    }
}

pub fn list_hans(conn: &mut AnyConnection, association: &AssociationId) -> QueryResult<Vec<Han>> {
    hans::table
        .filter(hans::association_id.eq(association))
        .select(Han::as_select())
        .order(hans::name.asc())
        .load(conn)
}

pub fn create_han(
    conn: &mut AnyConnection,
    association: &AssociationId,
    name: String,
) -> Result<Han, ApiError> {
    let han = Han {
        id: HanId::generate(),
        association_id: association.clone(),
        name,
        created_at: now(),
    };
    diesel::insert_into(hans::table)
        .values(&han)
        .execute(conn)
        .map_err(|e| {
            conflict_as(
                e,
                ErrorCode::HanExists,
                "the association already has a han of that name",
            )
        })?;
    Ok(han)
}

/// A han id from a request, checked to belong to the association.
pub fn han_of(
    conn: &mut AnyConnection,
    association: &AssociationId,
    han: &HanId,
) -> Result<Han, ApiError> {
    hans::table
        .find(han)
        .filter(hans::association_id.eq(association))
        .select(Han::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| {
            ApiError::Validation(
                ErrorCode::UnknownHan,
                "no such han in this association".into(),
            )
        })
}

/// A household id from a request, checked to belong to the association.
pub fn household_of(
    conn: &mut AnyConnection,
    association: &AssociationId,
    household: &HouseholdId,
) -> Result<Household, ApiError> {
    households::table
        .find(household)
        .filter(households::association_id.eq(association))
        .select(Household::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| {
            ApiError::Validation(
                ErrorCode::UnknownHousehold,
                "no such household in this association".into(),
            )
        })
}

pub fn find_household(
    conn: &mut AnyConnection,
    id: &HouseholdId,
) -> QueryResult<Option<Household>> {
    households::table
        .find(id)
        .select(Household::as_select())
        .first(conn)
        .optional()
}

pub struct HouseholdRow {
    pub household: Household,
    pub han: Option<String>,
    pub members: i64,
}

/// Households of an association, optionally only those of some hans, with member counts.
pub fn list_households(
    conn: &mut AnyConnection,
    association: &AssociationId,
    only_hans: Option<&[HanId]>,
) -> QueryResult<Vec<HouseholdRow>> {
    let mut query = households::table
        .left_join(hans::table)
        .filter(households::association_id.eq(association))
        .select((Household::as_select(), hans::name.nullable()))
        .order((
            // Households without a han last, on both backends (NULLs sort differently).
            hans::name.is_null().asc(),
            hans::name.asc(),
            households::label.asc(),
            households::id.asc(),
        ))
        .into_boxed();
    if let Some(only) = only_hans {
        query = query.filter(households::han_id.eq_any(only.to_vec()));
    }
    let rows: Vec<(Household, Option<String>)> = query.load(conn)?;
    let counts: HashMap<HouseholdId, i64> = members::table
        .inner_join(households::table)
        .filter(households::association_id.eq(association))
        .group_by(members::household_id)
        .select((
            members::household_id.assume_not_null(),
            diesel::dsl::count_star(),
        ))
        .load::<(HouseholdId, i64)>(conn)?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(|(household, han)| HouseholdRow {
            members: counts.get(&household.id).copied().unwrap_or(0),
            household,
            han,
        })
        .collect())
}

pub fn create_household(
    conn: &mut AnyConnection,
    association: &AssociationId,
    label: String,
    han: Option<HanId>,
    paper: bool,
) -> Result<Household, ApiError> {
    write_transaction(conn, |conn| {
        if let Some(han) = &han {
            han_of(conn, association, han)?;
        }
        let timestamp = now();
        let household = Household {
            id: HouseholdId::generate(),
            association_id: association.clone(),
            han_id: han,
            label,
            paper,
            created_at: timestamp,
            updated_at: timestamp,
        };
        diesel::insert_into(households::table)
            .values(&household)
            .execute(conn)?;
        Ok(household)
    })
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = households)]
pub struct HouseholdChangeset {
    pub label: Option<String>,
    pub han_id: Option<Option<HanId>>,
    pub paper: Option<bool>,
    pub updated_at: Option<chrono::NaiveDateTime>,
}

pub fn update_household(
    conn: &mut AnyConnection,
    household: &Household,
    mut changes: HouseholdChangeset,
) -> Result<Household, ApiError> {
    write_transaction(conn, |conn| {
        announce(
            conn,
            &[Change::Roster(Moved::Household(household.id.clone()))],
        )?;
        if let Some(Some(han)) = &changes.han_id {
            han_of(conn, &household.association_id, han)?;
        }
        changes.updated_at = Some(now());
        diesel::update(households::table.find(&household.id))
            .set(&changes)
            .execute(conn)?;
        find_household(conn, &household.id)?.ok_or(ApiError::NotFound("household"))
    })
}

pub struct MemberRow {
    pub id: MemberId,
    pub display_name: String,
    pub household_id: Option<HouseholdId>,
    pub roles: Vec<(Role, Option<String>)>,
}

/// Members of an association's households with their current roles.
pub fn list_members(
    conn: &mut AnyConnection,
    association: &AssociationId,
) -> QueryResult<Vec<MemberRow>> {
    let rows: Vec<(MemberId, String, Option<HouseholdId>)> = members::table
        .inner_join(households::table)
        .filter(households::association_id.eq(association))
        .select((members::id, members::display_name, members::household_id))
        .order((members::display_name.asc(), members::id.asc()))
        .load(conn)?;
    let ids: Vec<MemberId> = rows.iter().map(|r| r.0.clone()).collect();
    let mut roles: HashMap<MemberId, Vec<(Role, Option<String>)>> = HashMap::new();
    for (member, role, scope) in role_assignments::table
        .filter(role_assignments::member_id.eq_any(ids))
        .filter(role_assignments::ended_at.is_null())
        .select((
            role_assignments::member_id,
            role_assignments::role,
            role_assignments::scope_id,
        ))
        .load::<(MemberId, Role, Option<String>)>(conn)?
    {
        roles.entry(member).or_default().push((role, scope));
    }
    Ok(rows
        .into_iter()
        .map(|(id, display_name, household_id)| MemberRow {
            roles: roles.remove(&id).unwrap_or_default(),
            id,
            display_name,
            household_id,
        })
        .collect())
}

/// The association a member belongs to through their household.
pub fn association_of_member(
    conn: &mut AnyConnection,
    member: &MemberId,
) -> QueryResult<Option<AssociationId>> {
    members::table
        .inner_join(households::table)
        .filter(members::id.eq(member))
        .select(households::association_id)
        .first(conn)
        .optional()
}

/// Which of these members live in a household of the association.
pub fn members_of(
    conn: &mut AnyConnection,
    association: &AssociationId,
    ids: &[MemberId],
) -> QueryResult<HashSet<MemberId>> {
    Ok(members::table
        .inner_join(households::table)
        .filter(members::id.eq_any(ids.to_vec()))
        .filter(households::association_id.eq(association))
        .select(members::id)
        .load::<MemberId>(conn)?
        .into_iter()
        .collect())
}

#[derive(Debug, Default, serde::Serialize, utoipa::ToSchema)]
pub struct RosterImportReport {
    pub hans_added: usize,
    pub households_added: usize,
    pub households_updated: usize,
    pub unchanged: usize,
}

/// Adds the hans and households of a roster file, matching existing households by han and
/// label, in one transaction: importing the same file twice changes nothing.
pub fn import_roster(
    conn: &mut AnyConnection,
    association: &AssociationId,
    records: &[RosterRecord],
) -> Result<RosterImportReport, ApiError> {
    write_transaction(conn, |conn| {
        let mut report = RosterImportReport::default();
        let mut han_ids: HashMap<String, HanId> = list_hans(conn, association)?
            .into_iter()
            .map(|h| (h.name, h.id))
            .collect();
        let existing = list_households(conn, association, None)?;
        let mut by_key: HashMap<(Option<HanId>, String), Household> = existing
            .into_iter()
            .map(|row| {
                (
                    (row.household.han_id.clone(), row.household.label.clone()),
                    row.household,
                )
            })
            .collect();
        for record in records {
            let han_id = match &record.han {
                None => None,
                Some(name) => Some(match han_ids.get(name) {
                    Some(id) => id.clone(),
                    None => {
                        let han = create_han(conn, association, name.clone())?;
                        report.hans_added += 1;
                        han_ids.insert(name.clone(), han.id.clone());
                        han.id
                    }
                }),
            };
            let key = (han_id.clone(), record.label.clone());
            match by_key.get(&key) {
                Some(household) if household.paper == record.paper => report.unchanged += 1,
                Some(household) => {
                    let changes = HouseholdChangeset {
                        paper: Some(record.paper),
                        ..Default::default()
                    };
                    update_household(conn, household, changes)?;
                    report.households_updated += 1;
                }
                None => {
                    let household = create_household(
                        conn,
                        association,
                        record.label.clone(),
                        han_id,
                        record.paper,
                    )?;
                    by_key.insert(key, household);
                    report.households_added += 1;
                }
            }
        }
        Ok(report)
    })
}

/// Moves a member to another household of the same association (a family moving within the
/// town, or a correction). Their resident role follows the association, so it stays.
pub fn move_member(
    conn: &mut AnyConnection,
    member: &MemberId,
    household: &HouseholdId,
) -> QueryResult<()> {
    announce(conn, &[Change::Roster(Moved::Member(member.clone()))])?;
    diesel::update(members::table.find(member))
        .set((
            members::household_id.eq(household),
            members::updated_at.eq(now()),
        ))
        .execute(conn)
        .map(drop)
}
