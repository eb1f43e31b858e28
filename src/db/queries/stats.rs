//! The adoption dashboard's figures: computed per JST month from posts, reads, receipts and
//! the roster, and stored as snapshots. Finished months are frozen once their last circulars'
//! 72 hours have passed; the current month is a provisional snapshot, refreshed in the
//! background, so the dashboard itself only reads stored rows.

use std::collections::HashSet;

use chrono::NaiveDateTime;
use diesel::dsl::min;
use diesel::prelude::*;
use serde::Serialize;

use crate::configuration::StatsSettings;
use crate::db::models::{
    StatsAssociationMonth, StatsAssociationSafetyMonth, StatsDistrictMonth,
    StatsDistrictSafetyMonth, StatsMonth,
};
use crate::db::schema::{
    associations, districts, posts, stats_association_months, stats_association_safety_months,
    stats_district_months, stats_district_safety_months, stats_months,
};
use crate::db::{AnyConnection, Json, now, write_transaction};
use crate::domain::{
    AssociationTally, Channel, Counts, DistrictId, DistrictTally, Month, PostStatus, Rule,
    SafetyCounts, freezes_at, tally_month,
};

impl From<&StatsSettings> for Rule {
    fn from(s: &StatsSettings) -> Self {
        Self {
            months_with_posts: s.months_with_posts,
            min_registered_share: s.min_registered_share,
            count_city_posts: s.count_city_posts,
        }
    }
}

impl From<&StatsAssociationMonth> for Counts {
    fn from(r: &StatsAssociationMonth) -> Self {
        Self {
            member_households: r.member_households,
            registered_households: r.registered_households,
            active_households: r.active_households,
            posts_city: r.posts_city,
            posts_district: r.posts_district,
            posts_association: r.posts_association,
            expected_receipts: r.expected_receipts,
            reads_72h: r.reads_72h,
            expected_confirmations: r.expected_confirmations,
            confirmations_72h: r.confirmations_72h,
            paper_households_served: r.paper_households_served,
        }
    }
}

impl From<&StatsDistrictMonth> for Counts {
    fn from(r: &StatsDistrictMonth) -> Self {
        Self {
            member_households: r.member_households,
            registered_households: r.registered_households,
            active_households: r.active_households,
            posts_city: r.posts_city,
            posts_district: r.posts_district,
            posts_association: r.posts_association,
            expected_receipts: r.expected_receipts,
            reads_72h: r.reads_72h,
            expected_confirmations: r.expected_confirmations,
            confirmations_72h: r.confirmations_72h,
            paper_households_served: r.paper_households_served,
        }
    }
}

impl From<&StatsDistrictSafetyMonth> for SafetyCounts {
    fn from(r: &StatsDistrictSafetyMonth) -> Self {
        Self {
            checks: r.checks,
            households_targeted: r.households_targeted,
            households_answered_72h: r.households_answered_72h,
        }
    }
}

impl From<&StatsAssociationSafetyMonth> for SafetyCounts {
    fn from(r: &StatsAssociationSafetyMonth) -> Self {
        Self {
            checks: r.checks,
            households_targeted: r.households_targeted,
            households_answered_72h: r.households_answered_72h,
        }
    }
}

/// A month's figures, ready to store.
pub struct MonthFigures {
    pub month: StatsMonth,
    pub districts: Vec<StatsDistrictMonth>,
    pub associations: Vec<StatsAssociationMonth>,
    pub district_safety: Vec<StatsDistrictSafetyMonth>,
    pub association_safety: Vec<StatsAssociationSafetyMonth>,
    /// Members each channel reaches as of the snapshot (city-wide counts, D72).
    pub reachable: Vec<(Channel, i32)>,
}

/// Computes one month's figures from the live data, as of `at`: small queries load the
/// facts, `domain::tally_month` counts them.
pub fn compute_month(
    conn: &mut AnyConnection,
    month: Month,
    rule: Rule,
    at: NaiveDateTime,
) -> QueryResult<MonthFigures> {
    let facts = super::tally::month_facts(conn, month, rule, at)?;
    let tally = tally_month(&facts);
    let label = month.to_string();
    let reachable = super::reach::reachable_by_channel(conn)?;
    Ok(MonthFigures {
        month: StatsMonth {
            month: label.clone(),
            finalized: tally.finalized,
            rule: Json(rule),
            active_districts: tally.active_districts(),
            districts: i32::try_from(tally.districts.len()).unwrap_or(i32::MAX),
            member_households: tally.member_households(),
            registered_households: tally.registered_households(),
            computed_at: at,
        },
        districts: tally
            .districts
            .iter()
            .map(|d| district_row(&label, d))
            .collect(),
        associations: tally
            .associations
            .iter()
            .map(|a| association_row(&label, a))
            .collect(),
        district_safety: tally
            .districts
            .iter()
            .map(|d| StatsDistrictSafetyMonth {
                month: label.clone(),
                district_id: d.id.clone(),
                checks: d.safety.checks,
                households_targeted: d.safety.households_targeted,
                households_answered_72h: d.safety.households_answered_72h,
            })
            .collect(),
        association_safety: tally
            .associations
            .iter()
            .map(|a| StatsAssociationSafetyMonth {
                month: label.clone(),
                association_id: a.id.clone(),
                district_id: a.district.clone(),
                checks: a.safety.checks,
                households_targeted: a.safety.households_targeted,
                households_answered_72h: a.safety.households_answered_72h,
            })
            .collect(),
        reachable,
    })
}

fn district_row(month: &str, d: &DistrictTally) -> StatsDistrictMonth {
    let c = &d.counts;
    StatsDistrictMonth {
        month: month.to_string(),
        district_id: d.id.clone(),
        active: d.active,
        months_with_posts: d.months_with_posts,
        associations: d.associations,
        member_households: c.member_households,
        registered_households: c.registered_households,
        active_households: c.active_households,
        posts_city: c.posts_city,
        posts_district: c.posts_district,
        posts_association: c.posts_association,
        expected_receipts: c.expected_receipts,
        reads_72h: c.reads_72h,
        expected_confirmations: c.expected_confirmations,
        confirmations_72h: c.confirmations_72h,
        paper_households_served: c.paper_households_served,
    }
}

fn association_row(month: &str, a: &AssociationTally) -> StatsAssociationMonth {
    let c = &a.counts;
    StatsAssociationMonth {
        month: month.to_string(),
        association_id: a.id.clone(),
        district_id: a.district.clone(),
        member_households: c.member_households,
        registered_households: c.registered_households,
        active_households: c.active_households,
        posts_city: c.posts_city,
        posts_district: c.posts_district,
        posts_association: c.posts_association,
        expected_receipts: c.expected_receipts,
        reads_72h: c.reads_72h,
        expected_confirmations: c.expected_confirmations,
        confirmations_72h: c.confirmations_72h,
        paper_households_served: c.paper_households_served,
    }
}

/// What taking a month's snapshot did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotOutcome {
    /// Computed and frozen: it will not change again.
    Frozen,
    /// Computed, and will be recomputed until the month is frozen.
    Provisional,
    /// Already frozen; left as it was.
    Kept,
}

pub fn find_month(conn: &mut AnyConnection, month: Month) -> QueryResult<Option<StatsMonth>> {
    stats_months::table
        .find(month.to_string())
        .select(StatsMonth::as_select())
        .first(conn)
        .optional()
}

/// Computes and stores `month` unless it is already frozen. One write transaction, so a
/// reader sees the old month or the new one, never half of each.
pub fn snapshot_month(
    conn: &mut AnyConnection,
    month: Month,
    rule: Rule,
    at: NaiveDateTime,
) -> QueryResult<SnapshotOutcome> {
    if find_month(conn, month)?.is_some_and(|m| m.finalized) {
        return Ok(SnapshotOutcome::Kept);
    }
    let figures = compute_month(conn, month, rule, at)?;
    let frozen = figures.month.finalized;
    write_transaction(conn, |conn| {
        // Processes sharing a PostgreSQL database take snapshots one at a time (SQLite's
        // write transaction is exclusive already), so replacing a month never collides.
        crate::with_backend!(&mut *conn,
            pg(c) => diesel::sql_query("SELECT pg_advisory_xact_lock(7007)").execute(c).map(drop),
            sqlite(_c) => Ok(()),
        )?;
        let label = month.to_string();
        let stored = stats_months::table
            .find(&label)
            .select(stats_months::finalized)
            .first::<bool>(conn)
            .optional()?;
        if stored == Some(true) {
            return Ok(SnapshotOutcome::Kept);
        }
        diesel::delete(
            stats_association_safety_months::table
                .filter(stats_association_safety_months::month.eq(&label)),
        )
        .execute(conn)?;
        diesel::delete(
            stats_district_safety_months::table
                .filter(stats_district_safety_months::month.eq(&label)),
        )
        .execute(conn)?;
        diesel::delete(
            stats_association_months::table.filter(stats_association_months::month.eq(&label)),
        )
        .execute(conn)?;
        diesel::delete(
            stats_district_months::table.filter(stats_district_months::month.eq(&label)),
        )
        .execute(conn)?;
        diesel::delete(stats_months::table.find(&label)).execute(conn)?;
        diesel::insert_into(stats_months::table)
            .values(&figures.month)
            .execute(conn)?;
        for row in &figures.districts {
            diesel::insert_into(stats_district_months::table)
                .values(row)
                .execute(conn)?;
        }
        for row in &figures.associations {
            diesel::insert_into(stats_association_months::table)
                .values(row)
                .execute(conn)?;
        }
        for row in &figures.district_safety {
            diesel::insert_into(stats_district_safety_months::table)
                .values(row)
                .execute(conn)?;
        }
        for row in &figures.association_safety {
            diesel::insert_into(stats_association_safety_months::table)
                .values(row)
                .execute(conn)?;
        }
        super::reach::store_month(conn, &label, &figures.reachable)?;
        Ok(if frozen {
            SnapshotOutcome::Frozen
        } else {
            SnapshotOutcome::Provisional
        })
    })
}

/// Drops every month not frozen yet (the district list changed): the dashboard and the
/// month-end task compute them again over the list as it is now.
pub fn drop_provisional_months(conn: &mut AnyConnection) -> QueryResult<()> {
    let open: Vec<String> = stats_months::table
        .filter(stats_months::finalized.eq(false))
        .select(stats_months::month)
        .load(conn)?;
    diesel::delete(
        stats_association_safety_months::table
            .filter(stats_association_safety_months::month.eq_any(&open)),
    )
    .execute(conn)?;
    diesel::delete(
        stats_district_safety_months::table
            .filter(stats_district_safety_months::month.eq_any(&open)),
    )
    .execute(conn)?;
    diesel::delete(
        stats_association_months::table.filter(stats_association_months::month.eq_any(&open)),
    )
    .execute(conn)?;
    diesel::delete(stats_district_months::table.filter(stats_district_months::month.eq_any(&open)))
        .execute(conn)?;
    diesel::delete(stats_months::table.filter(stats_months::month.eq_any(&open)))
        .execute(conn)
        .map(drop)
}

/// The first month with anything to count: the earliest published circular or association.
pub fn first_month_with_data(conn: &mut AnyConnection) -> QueryResult<Option<Month>> {
    let first_post: Option<NaiveDateTime> = posts::table
        .filter(posts::status.eq(PostStatus::Published))
        .select(min(posts::published_at))
        .first(conn)?;
    let first_association: Option<NaiveDateTime> = associations::table
        .select(min(associations::created_at))
        .first(conn)?;
    Ok(first_post
        .into_iter()
        .chain(first_association)
        .min()
        .map(Month::containing))
}

/// The month-end task: freezes every finished month with data that is not frozen yet
/// (backfill included) and refreshes the months still open, up to the current one.
pub fn take_snapshots(
    conn: &mut AnyConnection,
    rule: Rule,
    at: NaiveDateTime,
) -> QueryResult<Vec<(Month, SnapshotOutcome)>> {
    let current = Month::containing(at);
    let first = first_month_with_data(conn)?.unwrap_or(current).min(current);
    let frozen: HashSet<String> = stats_months::table
        .filter(stats_months::finalized.eq(true))
        .select(stats_months::month)
        .load::<String>(conn)?
        .into_iter()
        .collect();
    let mut outcomes = Vec::new();
    let mut month = first;
    while month <= current {
        if !frozen.contains(&month.to_string()) {
            outcomes.push((month, snapshot_month(conn, month, rule, at)?));
        }
        month = month.plus(1);
    }
    Ok(outcomes)
}

/// Every stored month, oldest first (a few hundred rows at most).
pub fn series(conn: &mut AnyConnection, up_to: Month) -> QueryResult<Vec<StatsMonth>> {
    stats_months::table
        .filter(stats_months::month.le(up_to.to_string()))
        .order(stats_months::month.asc())
        .select(StatsMonth::as_select())
        .load(conn)
}

/// A district's stored month, its safety checks (none for a month frozen before those were
/// kept), code and name.
pub type DistrictMonthRow = (
    StatsDistrictMonth,
    Option<StatsDistrictSafetyMonth>,
    String,
    String,
);

/// A month's districts, by code.
pub fn district_months(
    conn: &mut AnyConnection,
    month: Month,
) -> QueryResult<Vec<DistrictMonthRow>> {
    stats_district_months::table
        .inner_join(districts::table)
        .left_join(
            stats_district_safety_months::table.on(stats_district_safety_months::month
                .eq(stats_district_months::month)
                .and(
                    stats_district_safety_months::district_id
                        .eq(stats_district_months::district_id),
                )),
        )
        .filter(stats_district_months::month.eq(month.to_string()))
        .order(districts::code.asc())
        .select((
            StatsDistrictMonth::as_select(),
            Option::<StatsDistrictSafetyMonth>::as_select(),
            districts::code,
            districts::name,
        ))
        .load(conn)
}

/// One district's stored months with their safety checks, oldest first.
pub fn district_series(
    conn: &mut AnyConnection,
    district: &DistrictId,
    up_to: Month,
) -> QueryResult<Vec<(StatsDistrictMonth, Option<StatsDistrictSafetyMonth>)>> {
    stats_district_months::table
        .left_join(
            stats_district_safety_months::table.on(stats_district_safety_months::month
                .eq(stats_district_months::month)
                .and(
                    stats_district_safety_months::district_id
                        .eq(stats_district_months::district_id),
                )),
        )
        .filter(stats_district_months::district_id.eq(district))
        .filter(stats_district_months::month.le(up_to.to_string()))
        .order(stats_district_months::month.asc())
        .select((
            StatsDistrictMonth::as_select(),
            Option::<StatsDistrictSafetyMonth>::as_select(),
        ))
        .load(conn)
}

/// A district's associations in a month, with their safety checks and names.
pub fn association_months(
    conn: &mut AnyConnection,
    district: &DistrictId,
    month: Month,
) -> QueryResult<
    Vec<(
        StatsAssociationMonth,
        Option<StatsAssociationSafetyMonth>,
        String,
    )>,
> {
    stats_association_months::table
        .inner_join(associations::table)
        .left_join(
            stats_association_safety_months::table.on(stats_association_safety_months::month
                .eq(stats_association_months::month)
                .and(
                    stats_association_safety_months::association_id
                        .eq(stats_association_months::association_id),
                )),
        )
        .filter(stats_association_months::district_id.eq(district))
        .filter(stats_association_months::month.eq(month.to_string()))
        .order(associations::name.asc())
        .select((
            StatsAssociationMonth::as_select(),
            Option::<StatsAssociationSafetyMonth>::as_select(),
            associations::name,
        ))
        .load(conn)
}

/// Target 1 as reported now: the sum of open associations' member households.
pub fn reported_member_households(conn: &mut AnyConnection) -> QueryResult<i64> {
    let total: Option<i64> = associations::table
        .filter(associations::archived.eq(false))
        .select(diesel::dsl::sum(associations::member_households))
        .first(conn)?;
    Ok(total.unwrap_or(0))
}

/// Stored snapshots are current enough for the dashboard, except a provisional one whose
/// month is due to be frozen (the task is off or behind): that month, like one never
/// computed, is computed on the spot. Months before the first with data have none.
pub fn ensure_month(
    conn: &mut AnyConnection,
    month: Month,
    rule: Rule,
) -> QueryResult<Option<StatsMonth>> {
    let at = now();
    if let Some(stored) = find_month(conn, month)?
        && (stored.finalized || at < freezes_at(month))
    {
        return Ok(Some(stored));
    }
    let first = first_month_with_data(conn)?.unwrap_or(Month::containing(at));
    if month < first {
        return Ok(None);
    }
    snapshot_month(conn, month, rule, at)?;
    find_month(conn, month)
}
