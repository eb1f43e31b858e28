//! The roster an association's officers keep: hans (班), households (世帯), members, and
//! the roster as a CSV file, out and in. Every read of it is audited.

use crate::actions::Services;
use crate::actions::access::{
    audited_roster_read, caller_and_association, record_roster_read, roster_keeper,
};
use crate::authz::{self, Principal, require};
use crate::db::AnyConnection;
use crate::db::models::{Han, Household};
use crate::db::queries::associations::{
    self as queries, HouseholdChangeset, HouseholdRow, MemberRow, RosterImportReport,
};
use crate::db::queries::audit;
use crate::domain::{AssociationId, AuditAction, Csv, HanId, HouseholdId, MemberId, OneLine};
use crate::error::{ApiError, ErrorCode};
use crate::import::parse_roster;
use crate::places::Moved;

/// A household with the name of its han.
pub struct HouseholdView {
    pub household: Household,
    pub han: Option<String>,
}

/// A household to add.
pub struct NewHousehold {
    pub label: OneLine<100>,
    pub han: Option<HanId>,
    /// Gets printed circulars.
    pub paper: bool,
}

/// The columns of the roster file, as exported; an import reads `han,label,paper`.
pub const ROSTER_CSV_COLUMNS: [&str; 5] = ["household_id", "han", "label", "paper", "members"];

/// The hans of an association, by name: for its officers and its 班長.
pub async fn list_hans(
    services: &Services,
    caller: &MemberId,
    association: AssociationId,
) -> Result<Vec<Han>, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            let (p, association) = caller_and_association(conn, &caller, &association)?;
            let hans = queries::list_hans(conn, &association.id)?;
            let han_ids: Vec<HanId> = hans.iter().map(|h| h.id.clone()).collect();
            require(authz::may_see_hans(&p, &association.id, &han_ids))?;
            Ok(hans)
        })
        .await
}

/// Adds a han (officers). Audited.
pub async fn create_han(
    services: &Services,
    caller: &MemberId,
    association: AssociationId,
    name: OneLine<50>,
) -> Result<Han, ApiError> {
    let caller = caller.clone();
    services
        .db
        .write(move |conn| {
            let (p, association) = roster_keeper(conn, &caller, &association)?;
            let han = queries::create_han(conn, &association.id, name.into_inner())?;
            audit::record(
                conn,
                &p,
                AuditAction::HanCreated,
                "han",
                Some(han.id.as_str()),
                Some(&association.id),
                serde_json::json!({}),
            )?;
            Ok(han)
        })
        .await
}

/// The households of an association with their member counts: all of them for its
/// officers, those of their own hans for 班長. Audited.
pub async fn list_households(
    services: &Services,
    caller: &MemberId,
    association: AssociationId,
) -> Result<Vec<HouseholdRow>, ApiError> {
    let caller = caller.clone();
    services
        .db
        .write(move |conn| {
            let (p, association) = caller_and_association(conn, &caller, &association)?;
            let hans: Vec<HanId> = queries::list_hans(conn, &association.id)?
                .into_iter()
                .map(|h| h.id)
                .collect();
            let only = authz::listable_hans(&p, &association.id, &hans)?;
            let rows = queries::list_households(conn, &association.id, only.as_deref())?;
            let action = AuditAction::RosterHouseholdsRead;
            record_roster_read(conn, &p, action, &association.id, rows.len())?;
            Ok(rows)
        })
        .await
}

fn with_han_name(
    conn: &mut AnyConnection,
    household: Household,
) -> Result<HouseholdView, ApiError> {
    let han = match &household.han_id {
        Some(han) => Some(queries::han_of(conn, &household.association_id, han)?.name),
        None => None,
    };
    Ok(HouseholdView { household, han })
}

/// Adds a household, in a han of the association or in none (officers). Audited.
pub async fn create_household(
    services: &Services,
    caller: &MemberId,
    association: AssociationId,
    new: NewHousehold,
) -> Result<HouseholdView, ApiError> {
    let caller = caller.clone();
    services
        .db
        .write(move |conn| {
            let (p, association) = roster_keeper(conn, &caller, &association)?;
            let label = new.label.into_inner();
            let household =
                queries::create_household(conn, &association.id, label, new.han, new.paper)?;
            audit::record(
                conn,
                &p,
                AuditAction::HouseholdCreated,
                "household",
                Some(household.id.as_str()),
                Some(&association.id),
                serde_json::json!({"paper": household.paper}),
            )?;
            with_han_name(conn, household)
        })
        .await
}

/// Renames a household, moves it to another han (or out of any), or marks it paper: its
/// association's officers; 404 for anyone else. Audited.
pub async fn update_household(
    services: &Services,
    caller: &MemberId,
    id: HouseholdId,
    changes: HouseholdChangeset,
) -> Result<HouseholdView, ApiError> {
    let caller = caller.clone();
    let household = services
        .db
        .write(move |conn| {
            let p = Principal::load(conn, &caller)?;
            let household = queries::find_household(conn, &id)?
                .filter(|h| authz::may_manage_roster(&p, &h.association_id))
                .ok_or(ApiError::NotFound("household"))?;
            let updated = queries::update_household(conn, &household, changes)?;
            audit::record(
                conn,
                &p,
                AuditAction::HouseholdUpdated,
                "household",
                Some(updated.id.as_str()),
                Some(&updated.association_id),
                serde_json::json!({"paper": updated.paper}),
            )?;
            with_han_name(conn, updated)
        })
        .await?;
    let moved = Moved::Household(household.household.id.clone());
    services.inbox_cache.roster_changed(&[moved]);
    Ok(household)
}

/// The registered members of an association with their current roles (officers). Audited.
pub async fn list_members(
    services: &Services,
    caller: &MemberId,
    association: AssociationId,
) -> Result<Vec<MemberRow>, ApiError> {
    let action = AuditAction::RosterMembersRead;
    audited_roster_read(services, caller, association, action, queries::list_members).await
}

/// Moves a member to another household of their association (its officers; 404 for anyone
/// else). Receipts they gave stay with the household they were in. Audited. Answers the
/// household they are in now.
pub async fn move_member(
    services: &Services,
    caller: &MemberId,
    member: MemberId,
    household: HouseholdId,
) -> Result<HouseholdId, ApiError> {
    let caller = caller.clone();
    let moved = Moved::Member(member.clone());
    let moved_to = services
        .db
        .write(move |conn| {
            let p = Principal::load(conn, &caller)?;
            let association = queries::association_of_member(conn, &member)?
                .filter(|a| authz::may_manage_roster(&p, a))
                .ok_or(ApiError::NotFound("member"))?;
            let target = queries::household_of(conn, &association, &household)?;
            queries::move_member(conn, &member, &target.id)?;
            audit::record(
                conn,
                &p,
                AuditAction::MemberMoved,
                "member",
                Some(member.as_str()),
                Some(&association),
                serde_json::json!({"household_id": target.id.as_str()}),
            )?;
            Ok(target.id)
        })
        .await?;
    services.inbox_cache.roster_changed(&[moved]);
    Ok(moved_to)
}

/// The roster file, one row per household in `ROSTER_CSV_COLUMNS` order (officers).
/// Audited as an export.
pub async fn export_roster(
    services: &Services,
    caller: &MemberId,
    association: AssociationId,
) -> Result<Csv, ApiError> {
    let rows = audited_roster_read(
        services,
        caller,
        association,
        AuditAction::RosterExported,
        |conn, a| queries::list_households(conn, a, None),
    )
    .await?;
    let rows = rows.into_iter().map(roster_csv_row).collect();
    Ok(Csv::new("roster.csv", ROSTER_CSV_COLUMNS, rows))
}

fn roster_csv_row(row: HouseholdRow) -> Vec<String> {
    vec![
        row.household.id.to_string(),
        row.han.unwrap_or_default(),
        row.household.label,
        if row.household.paper { "yes" } else { "no" }.to_string(),
        row.members.to_string(),
    ]
}

/// Loads hans and households from a roster file (`han,label,paper`; UTF-8 or Shift_JIS),
/// all or nothing: a bad line is refused before anything is read from storage (officers).
/// Importing the same file twice changes nothing. Audited.
pub async fn import_roster(
    services: &Services,
    caller: &MemberId,
    association: AssociationId,
    file: &[u8],
) -> Result<RosterImportReport, ApiError> {
    // Who may import first: a resident's file is refused unread (403, not 422).
    let (who, id) = (caller.clone(), association.clone());
    (services.db)
        .run(move |conn| roster_keeper(conn, &who, &id).map(drop))
        .await?;
    let records = parse_roster(file).map_err(|e| {
        ApiError::Validation(ErrorCode::InvalidCsv, format!("{e}; nothing was imported"))
    })?;
    let caller = caller.clone();
    services
        .db
        .write(move |conn| {
            let (p, association) = roster_keeper(conn, &caller, &association)?;
            let report = queries::import_roster(conn, &association.id, &records)?;
            audit::record(
                conn,
                &p,
                AuditAction::RosterImported,
                "association",
                Some(association.id.as_str()),
                Some(&association.id),
                serde_json::json!({"households_added": report.households_added}),
            )?;
            Ok(report)
        })
        .await
}
