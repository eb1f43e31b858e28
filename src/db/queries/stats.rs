//! The adoption dashboard's figures: computed per JST month from posts, reads, receipts and
//! the roster, and stored as snapshots. Finished months are frozen once their last circulars'
//! 72 hours have passed; the current month is a provisional snapshot, refreshed in the
//! background, so the dashboard itself only reads stored rows.

use std::collections::{HashMap, HashSet};

use chrono::{Duration, NaiveDateTime};
use diesel::dsl::{count_star, min};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::configuration::StatsSettings;
use crate::db::models::{
    StatsAssociationMonth, StatsAssociationSafetyMonth, StatsDistrictMonth,
    StatsDistrictSafetyMonth, StatsMonth,
};
use crate::db::schema::{
    associations, districts, hans, household_receipts, households, members, post_hans, post_reads,
    posts, safety_answer_history, safety_check_hans, safety_checks, stats_association_months,
    stats_association_safety_months, stats_district_months, stats_district_safety_months,
    stats_months,
};
use crate::db::{AnyConnection, now, write_transaction};
use crate::domain::{
    AssociationId, DistrictId, HanId, HouseholdId, Month, PostId, PostStatus, SafetyCheckId, Tier,
};

/// Reads and confirmations count when they come within this long of publication.
pub const RECEIPT_WINDOW_HOURS: i64 = 72;
/// A household is active when a member opened a circular within this many days.
pub const ACTIVE_DAYS: i64 = 30;
/// A household answered a safety check when its first answer came within this long of the
/// start. No longer than the receipt window: a month freezes with every check's hours past.
pub const SAFETY_ANSWER_WINDOW_HOURS: i64 = RECEIPT_WINDOW_HOURS;

/// The active-district rule, stored with every month it judged.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Rule {
    /// A district needs at least one circular in each of this many months, ending with the
    /// month judged.
    pub months_with_posts: u32,
    /// Registered households ÷ reported member households must be at least this.
    pub min_registered_share: f64,
    /// Whether city-wide circulars count as the district's own.
    pub count_city_posts: bool,
}

impl From<&StatsSettings> for Rule {
    fn from(s: &StatsSettings) -> Self {
        Self {
            months_with_posts: s.months_with_posts,
            min_registered_share: s.min_registered_share,
            count_city_posts: s.count_city_posts,
        }
    }
}

impl Rule {
    /// Compared in basis points, so 12 of 120 is exactly 10 %.
    fn registered_enough(&self, registered: i32, member_households: i32) -> bool {
        // The share is validated to 0..=1, so the basis points fit easily.
        #[allow(clippy::as_conversions)]
        let basis_points = (self.min_registered_share * 10_000.0).round() as i64;
        member_households > 0
            && i64::from(registered) * 10_000 >= basis_points * i64::from(member_households)
    }
}

/// The counts behind every figure of an association or a district in one month.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counts {
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

impl Counts {
    /// Adds an association's households and receipts into its district's. Posts are not
    /// added: a district counts each circular once, not once per association it reached.
    fn add(&mut self, other: &Counts) {
        self.member_households = self
            .member_households
            .saturating_add(other.member_households);
        self.registered_households =
            (self.registered_households).saturating_add(other.registered_households);
        self.active_households = self
            .active_households
            .saturating_add(other.active_households);
        self.expected_receipts = self
            .expected_receipts
            .saturating_add(other.expected_receipts);
        self.reads_72h = self.reads_72h.saturating_add(other.reads_72h);
        self.expected_confirmations = self
            .expected_confirmations
            .saturating_add(other.expected_confirmations);
        self.confirmations_72h = self
            .confirmations_72h
            .saturating_add(other.confirmations_72h);
        self.paper_households_served = self
            .paper_households_served
            .saturating_add(other.paper_households_served);
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

/// The safety checks of an association or a district in one month.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SafetyCounts {
    /// Checks started in the month whose audience includes the association (for a district:
    /// at least one of its associations), counted once each.
    pub checks: i32,
    /// Households in those audiences when each check started, summed over the checks.
    pub households_targeted: i32,
    /// Of those, households whose first answer came within the window.
    pub households_answered_72h: i32,
}

impl SafetyCounts {
    fn add_households(&mut self, other: &SafetyCounts) {
        bump(&mut self.households_targeted, other.households_targeted);
        bump(
            &mut self.households_answered_72h,
            other.households_answered_72h,
        );
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
}

/// A month is frozen once the 72 hours of its last circulars have passed.
pub fn freezes_at(month: Month) -> NaiveDateTime {
    month.end_utc() + Duration::hours(RECEIPT_WINDOW_HOURS)
}

fn count(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn bump(value: &mut i32, by: i32) {
    *value = value.saturating_add(by);
}

/// A published circular: id, tier, scope, whether it asks for confirmation, when.
type MonthPost = (PostId, Tier, Option<String>, bool, Option<NaiveDateTime>);

#[derive(Default, Clone, Copy)]
struct HouseholdCount {
    all: i32,
    paper: i32,
}

/// Computes one month's figures from the live data, as of `at`.
pub fn compute_month(
    conn: &mut AnyConnection,
    month: Month,
    rule: Rule,
    at: NaiveDateTime,
) -> QueryResult<MonthFigures> {
    let (start, end) = (month.start_utc(), month.end_utc());
    let as_of = at.min(end);
    let label = month.to_string();

    let district_ids: Vec<DistrictId> = districts::table
        .filter(districts::archived.eq(false))
        .order(districts::code.asc())
        .select(districts::id)
        .load(conn)?;
    let open_districts: HashSet<&DistrictId> = district_ids.iter().collect();
    let mut association_rows: Vec<(AssociationId, DistrictId, i32)> = associations::table
        .filter(associations::archived.eq(false))
        .filter(associations::created_at.lt(end))
        .order(associations::id.asc())
        .select((
            associations::id,
            associations::district_id,
            associations::member_households,
        ))
        .load(conn)?;
    association_rows.retain(|(_, district, _)| open_districts.contains(district));
    let district_of: HashMap<AssociationId, DistrictId> = associations::table
        .select((associations::id, associations::district_id))
        .load::<(AssociationId, DistrictId)>(conn)?
        .into_iter()
        .collect();

    let mut by_association: HashMap<AssociationId, HouseholdCount> = HashMap::new();
    let mut by_han: HashMap<HanId, HouseholdCount> = HashMap::new();
    let household_counts: Vec<(AssociationId, Option<HanId>, bool, i64)> = households::table
        .filter(households::created_at.lt(end))
        .group_by((
            households::association_id,
            households::han_id,
            households::paper,
        ))
        .select((
            households::association_id,
            households::han_id,
            households::paper,
            count_star(),
        ))
        .load(conn)?;
    for (association, han, paper, n) in household_counts {
        let n = count(n);
        let mut slots = vec![by_association.entry(association).or_default()];
        if let Some(han) = han {
            slots.push(by_han.entry(han).or_default());
        }
        for slot in slots {
            bump(&mut slot.all, n);
            if paper {
                bump(&mut slot.paper, n);
            }
        }
    }

    let registered: HashMap<AssociationId, i32> = members::table
        .inner_join(households::table)
        .filter(members::disabled.eq(false))
        .filter(members::created_at.lt(as_of))
        .group_by(households::association_id)
        .select((
            households::association_id,
            diesel::dsl::count(households::id).aggregate_distinct(),
        ))
        .load::<(AssociationId, i64)>(conn)?
        .into_iter()
        .map(|(a, n)| (a, count(n)))
        .collect();

    let active: HashMap<AssociationId, i32> = post_reads::table
        .inner_join(households::table.on(households::id.eq(post_reads::household_id)))
        .filter(post_reads::read_at.ge(as_of - Duration::days(ACTIVE_DAYS)))
        .filter(post_reads::read_at.lt(as_of))
        .group_by(households::association_id)
        .select((
            households::association_id,
            diesel::dsl::count(post_reads::household_id).aggregate_distinct(),
        ))
        .load::<(AssociationId, i64)>(conn)?
        .into_iter()
        .map(|(a, n)| (a, count(n)))
        .collect();

    let mut counts: HashMap<AssociationId, Counts> = association_rows
        .iter()
        .map(|(id, _, member_households)| {
            let c = Counts {
                member_households: *member_households,
                registered_households: registered.get(id).copied().unwrap_or(0),
                active_households: active.get(id).copied().unwrap_or(0),
                ..Counts::default()
            };
            (id.clone(), c)
        })
        .collect();
    let mut associations_in: HashMap<DistrictId, Vec<AssociationId>> = HashMap::new();
    for (id, district, _) in &association_rows {
        associations_in
            .entry(district.clone())
            .or_default()
            .push(id.clone());
    }

    // The month's circulars and whom they reached.
    let month_posts: Vec<MonthPost> = posts::table
        .filter(posts::status.eq(PostStatus::Published))
        .filter(posts::published_at.ge(start))
        .filter(posts::published_at.lt(end))
        .select((
            posts::id,
            posts::tier,
            posts::scope_id,
            posts::requires_confirmation,
            posts::published_at,
        ))
        .load(conn)?;
    let mut hans_of_post: HashMap<PostId, Vec<(HanId, AssociationId)>> = HashMap::new();
    let post_ids: Vec<&PostId> = month_posts.iter().map(|p| &p.0).collect();
    for chunk in post_ids.chunks(500) {
        let rows: Vec<(PostId, HanId, AssociationId)> = post_hans::table
            .inner_join(hans::table.on(hans::id.eq(post_hans::han_id)))
            .filter(post_hans::post_id.eq_any(chunk.iter().copied()))
            .select((post_hans::post_id, post_hans::han_id, hans::association_id))
            .load(conn)?;
        for (post, han, association) in rows {
            hans_of_post
                .entry(post)
                .or_default()
                .push((han, association));
        }
    }
    // Which association each household belongs to, by index, for counting receipts.
    let mut association_index: HashMap<AssociationId, usize> = HashMap::new();
    let mut association_of_household: HashMap<HouseholdId, usize> = HashMap::new();
    if !month_posts.is_empty() {
        let pairs: Vec<(HouseholdId, AssociationId)> = households::table
            .select((households::id, households::association_id))
            .load(conn)?;
        for (household, association) in pairs {
            let next = association_index.len();
            let index = *association_index.entry(association).or_insert(next);
            association_of_household.insert(household, index);
        }
    }
    let mut posts_district: HashMap<DistrictId, i32> = HashMap::new();
    let mut posts_association_in: HashMap<DistrictId, i32> = HashMap::new();
    let mut posts_city = 0;
    let mut fully_reached: HashSet<AssociationId> = HashSet::new();
    let mut hans_reached: HashMap<AssociationId, HashSet<HanId>> = HashMap::new();
    for (id, tier, scope, requires_confirmation, published_at) in &month_posts {
        // Households this post expected a receipt from, per association.
        let mut audience: Vec<(AssociationId, i32)> = Vec::new();
        match (tier, scope) {
            (Tier::City, _) => {
                posts_city += 1;
                for (association, _, _) in &association_rows {
                    audience.push((association.clone(), 0));
                }
            }
            (Tier::District, Some(district)) => {
                bump(
                    posts_district
                        .entry(DistrictId(district.clone()))
                        .or_default(),
                    1,
                );
                for association in associations_in
                    .get(&DistrictId(district.clone()))
                    .into_iter()
                    .flatten()
                {
                    audience.push((association.clone(), 0));
                }
            }
            (Tier::Association, Some(association)) => {
                let association = AssociationId(association.clone());
                if let Some(district) = district_of.get(&association) {
                    bump(posts_association_in.entry(district.clone()).or_default(), 1);
                }
                match hans_of_post.get(id) {
                    Some(hans) => {
                        let reached = hans_reached.entry(association.clone()).or_default();
                        let mut households = 0;
                        for (han, _) in hans {
                            reached.insert(han.clone());
                            bump(&mut households, by_han.get(han).map_or(0, |c| c.all));
                        }
                        audience.push((association, households));
                    }
                    None => audience.push((association, 0)),
                }
            }
            _ => {}
        }
        let Some(published_at) = published_at else {
            continue;
        };
        let deadline = *published_at + Duration::hours(RECEIPT_WINDOW_HOURS);
        // By primary-key prefix, without a join: the plan cannot turn into a scan of every
        // household per circular.
        let receipts: Vec<(HouseholdId, Option<NaiveDateTime>, Option<NaiveDateTime>)> =
            household_receipts::table
                .filter(household_receipts::post_id.eq(id))
                .select((
                    household_receipts::household_id,
                    household_receipts::read_at,
                    household_receipts::confirmed_at,
                ))
                .load(conn)?;
        let mut reads: HashMap<usize, (i32, i32)> = HashMap::new();
        for (household, read_at, confirmed_at) in receipts {
            let Some(association) = association_of_household.get(&household) else {
                continue;
            };
            let slot = reads.entry(*association).or_default();
            if read_at.is_some_and(|t| t <= deadline) {
                bump(&mut slot.0, 1);
            }
            if *requires_confirmation && confirmed_at.is_some_and(|t| t <= deadline) {
                bump(&mut slot.1, 1);
            }
        }
        let partial = matches!(tier, Tier::Association) && hans_of_post.contains_key(id);
        for (association, han_households) in audience {
            let Some(c) = counts.get_mut(&association) else {
                continue;
            };
            let expected = if partial {
                han_households
            } else {
                fully_reached.insert(association.clone());
                by_association.get(&association).map_or(0, |h| h.all)
            };
            match tier {
                Tier::City => bump(&mut c.posts_city, 1),
                Tier::District => bump(&mut c.posts_district, 1),
                Tier::Association => bump(&mut c.posts_association, 1),
            }
            bump(&mut c.expected_receipts, expected);
            let (read, confirmed) = association_index
                .get(&association)
                .and_then(|i| reads.get(i))
                .copied()
                .unwrap_or_default();
            bump(&mut c.reads_72h, read);
            if *requires_confirmation {
                bump(&mut c.expected_confirmations, expected);
                bump(&mut c.confirmations_72h, confirmed);
            }
        }
    }
    for (association, c) in counts.iter_mut() {
        c.paper_households_served = if fully_reached.contains(association) {
            by_association.get(association).map_or(0, |h| h.paper)
        } else {
            hans_reached
                .get(association)
                .into_iter()
                .flatten()
                .map(|han| by_han.get(han).map_or(0, |h| h.paper))
                .sum()
        };
    }

    let (safety_of_association, safety_of_district) =
        month_safety(conn, month, at, &association_rows, &associations_in)?;
    let with_posts = months_with_own_posts(conn, month, rule, &district_of)?;
    let in_progress = at < end;
    let window: Vec<Month> = (0..i64::from(rule.months_with_posts))
        .map(|back| month.plus(-back))
        .collect();

    let mut district_rows = Vec::with_capacity(district_ids.len());
    for district in &district_ids {
        let mut total = Counts::default();
        let members_of = associations_in.get(district).map_or(&[][..], Vec::as_slice);
        for association in members_of {
            if let Some(c) = counts.get(association) {
                total.add(c);
            }
        }
        total.posts_city = posts_city;
        total.posts_district = posts_district.get(district).copied().unwrap_or(0);
        total.posts_association = posts_association_in.get(district).copied().unwrap_or(0);
        let months = with_posts.get(district);
        let has = |m: &Month| months.is_some_and(|set| set.contains(m));
        let months_with_posts =
            i32::try_from(window.iter().filter(|m| has(m)).count()).unwrap_or(i32::MAX);
        // The month under way has not failed yet: a district is not dropped on the 1st.
        let posted_enough = window
            .iter()
            .all(|m| has(m) || (*m == month && in_progress));
        let active = posted_enough
            && rule.registered_enough(total.registered_households, total.member_households);
        district_rows.push(StatsDistrictMonth {
            month: label.clone(),
            district_id: district.clone(),
            active,
            months_with_posts,
            associations: i32::try_from(members_of.len()).unwrap_or(i32::MAX),
            member_households: total.member_households,
            registered_households: total.registered_households,
            active_households: total.active_households,
            posts_city: total.posts_city,
            posts_district: total.posts_district,
            posts_association: total.posts_association,
            expected_receipts: total.expected_receipts,
            reads_72h: total.reads_72h,
            expected_confirmations: total.expected_confirmations,
            confirmations_72h: total.confirmations_72h,
            paper_households_served: total.paper_households_served,
        });
    }

    let district_safety = district_ids
        .iter()
        .map(|district| {
            let c = safety_of_district
                .get(district)
                .copied()
                .unwrap_or_default();
            StatsDistrictSafetyMonth {
                month: label.clone(),
                district_id: district.clone(),
                checks: c.checks,
                households_targeted: c.households_targeted,
                households_answered_72h: c.households_answered_72h,
            }
        })
        .collect();
    let association_safety = association_rows
        .iter()
        .map(|(id, district, _)| {
            let c = safety_of_association.get(id).copied().unwrap_or_default();
            StatsAssociationSafetyMonth {
                month: label.clone(),
                association_id: id.clone(),
                district_id: district.clone(),
                checks: c.checks,
                households_targeted: c.households_targeted,
                households_answered_72h: c.households_answered_72h,
            }
        })
        .collect();
    let association_rows: Vec<StatsAssociationMonth> = association_rows
        .into_iter()
        .map(|(id, district, _)| {
            let c = counts.get(&id).copied().unwrap_or_default();
            StatsAssociationMonth {
                month: label.clone(),
                association_id: id,
                district_id: district,
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
        })
        .collect();
    let sum = |f: fn(&StatsDistrictMonth) -> i32| {
        district_rows.iter().map(f).fold(0i32, i32::saturating_add)
    };
    let rule_json = serde_json::to_string(&rule)
        .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    Ok(MonthFigures {
        month: StatsMonth {
            month: label,
            finalized: at >= freezes_at(month),
            rule: rule_json,
            active_districts: sum(|d| i32::from(d.active)),
            districts: i32::try_from(district_rows.len()).unwrap_or(i32::MAX),
            member_households: sum(|d| d.member_households),
            registered_households: sum(|d| d.registered_households),
            computed_at: at,
        },
        districts: district_rows,
        associations: association_rows,
        district_safety,
        association_safety,
    })
}

/// A safety check of the month: id, tier, scope, start, close.
type MonthCheck = (
    SafetyCheckId,
    Tier,
    Option<String>,
    NaiveDateTime,
    Option<NaiveDateTime>,
);

/// The month's safety checks per open association and district: checks started in the
/// month, the households each reached when it started (today's roster, as for circulars),
/// and those whose first answer, by a member or on their behalf, came within the window
/// and while the check was open (decisions.md record 32).
fn month_safety(
    conn: &mut AnyConnection,
    month: Month,
    at: NaiveDateTime,
    towns: &[(AssociationId, DistrictId, i32)],
    associations_in: &HashMap<DistrictId, Vec<AssociationId>>,
) -> QueryResult<(
    HashMap<AssociationId, SafetyCounts>,
    HashMap<DistrictId, SafetyCounts>,
)> {
    let checks: Vec<MonthCheck> = safety_checks::table
        .filter(safety_checks::started_at.ge(month.start_utc()))
        .filter(safety_checks::started_at.lt(month.end_utc().min(at)))
        .order(safety_checks::id.asc())
        .select((
            safety_checks::id,
            safety_checks::tier,
            safety_checks::scope_id,
            safety_checks::started_at,
            safety_checks::closed_at,
        ))
        .load(conn)?;
    let mut by_association: HashMap<AssociationId, SafetyCounts> = HashMap::new();
    let mut by_district: HashMap<DistrictId, SafetyCounts> = HashMap::new();
    if checks.is_empty() {
        return Ok((by_association, by_district));
    }
    let mut hans_of: HashMap<SafetyCheckId, HashSet<HanId>> = HashMap::new();
    let mut first_answers: HashMap<SafetyCheckId, HashMap<HouseholdId, NaiveDateTime>> =
        HashMap::new();
    let ids: Vec<&SafetyCheckId> = checks.iter().map(|c| &c.0).collect();
    for chunk in ids.chunks(500) {
        let rows: Vec<(SafetyCheckId, HanId)> = safety_check_hans::table
            .filter(safety_check_hans::safety_check_id.eq_any(chunk.iter().copied()))
            .select((
                safety_check_hans::safety_check_id,
                safety_check_hans::han_id,
            ))
            .load(conn)?;
        for (check, han) in rows {
            hans_of.entry(check).or_default().insert(han);
        }
        // The first answer of each household: a later change does not move it.
        let rows: Vec<(SafetyCheckId, HouseholdId, Option<NaiveDateTime>)> =
            safety_answer_history::table
                .filter(safety_answer_history::safety_check_id.eq_any(chunk.iter().copied()))
                .group_by((
                    safety_answer_history::safety_check_id,
                    safety_answer_history::household_id,
                ))
                .select((
                    safety_answer_history::safety_check_id,
                    safety_answer_history::household_id,
                    min(safety_answer_history::answered_at),
                ))
                .load(conn)?;
        for (check, household, first) in rows {
            if let Some(first) = first {
                first_answers
                    .entry(check)
                    .or_default()
                    .insert(household, first);
            }
        }
    }
    let open: HashSet<&AssociationId> = towns.iter().map(|(id, _, _)| id).collect();
    let district_of: HashMap<&AssociationId, &DistrictId> =
        towns.iter().map(|(id, d, _)| (id, d)).collect();
    let mut homes: HashMap<AssociationId, Vec<(HouseholdId, Option<HanId>, NaiveDateTime)>> =
        HashMap::new();
    // Only households made by the last check's start can be in any check's audience.
    let last_start = checks
        .iter()
        .map(|c| c.3)
        .max()
        .unwrap_or(month.start_utc());
    let rows: Vec<(HouseholdId, AssociationId, Option<HanId>, NaiveDateTime)> = households::table
        .filter(households::created_at.le(last_start))
        .select((
            households::id,
            households::association_id,
            households::han_id,
            households::created_at,
        ))
        .load(conn)?;
    for (id, association, han, created_at) in rows {
        if open.contains(&association) {
            homes
                .entry(association)
                .or_default()
                .push((id, han, created_at));
        }
    }

    let no_answers = HashMap::new();
    for (id, tier, scope, started_at, closed_at) in &checks {
        let reached: Vec<&AssociationId> = match (tier, scope) {
            (Tier::City, _) => towns.iter().map(|(a, _, _)| a).collect(),
            (Tier::District, Some(district)) => associations_in
                .get(&DistrictId(district.clone()))
                .into_iter()
                .flatten()
                .collect(),
            (Tier::Association, Some(association)) => towns
                .iter()
                .map(|(a, _, _)| a)
                .filter(|a| a.as_str() == association)
                .collect(),
            _ => Vec::new(),
        };
        let hans = hans_of.get(id);
        let answers = first_answers.get(id).unwrap_or(&no_answers);
        let deadline = (*started_at + Duration::hours(SAFETY_ANSWER_WINDOW_HOURS))
            .min(closed_at.unwrap_or(at))
            .min(at);
        let mut districts_reached: HashSet<&DistrictId> = HashSet::new();
        for association in reached {
            let mut c = SafetyCounts::default();
            for (household, han, created_at) in homes.get(association).into_iter().flatten() {
                let in_hans =
                    hans.is_none_or(|hans| han.as_ref().is_some_and(|h| hans.contains(h)));
                if *created_at > *started_at || !in_hans {
                    continue;
                }
                bump(&mut c.households_targeted, 1);
                if answers.get(household).is_some_and(|t| *t <= deadline) {
                    bump(&mut c.households_answered_72h, 1);
                }
            }
            let slot = by_association.entry(association.clone()).or_default();
            bump(&mut slot.checks, 1);
            slot.add_households(&c);
            if let Some(district) = district_of.get(association) {
                let slot = by_district.entry((*district).clone()).or_default();
                if districts_reached.insert(district) {
                    bump(&mut slot.checks, 1);
                }
                slot.add_households(&c);
            }
        }
    }
    Ok((by_association, by_district))
}

/// For each district, the months of the rule's window in which a circular of its own was
/// published (district or association tier; the city's too when the rule counts them).
fn months_with_own_posts(
    conn: &mut AnyConnection,
    month: Month,
    rule: Rule,
    district_of: &HashMap<AssociationId, DistrictId>,
) -> QueryResult<HashMap<DistrictId, HashSet<Month>>> {
    let first = month.plus(1 - i64::from(rule.months_with_posts));
    let rows: Vec<(Tier, Option<String>, Option<NaiveDateTime>)> = posts::table
        .filter(posts::status.eq(PostStatus::Published))
        .filter(posts::published_at.ge(first.start_utc()))
        .filter(posts::published_at.lt(month.end_utc()))
        .select((posts::tier, posts::scope_id, posts::published_at))
        .load(conn)?;
    let all_districts: Vec<DistrictId> = if rule.count_city_posts {
        districts::table.select(districts::id).load(conn)?
    } else {
        Vec::new()
    };
    let mut months: HashMap<DistrictId, HashSet<Month>> = HashMap::new();
    for (tier, scope, published_at) in rows {
        let Some(published_at) = published_at else {
            continue;
        };
        let when = Month::containing(published_at);
        match (tier, scope) {
            (Tier::City, _) => {
                for district in &all_districts {
                    months.entry(district.clone()).or_default().insert(when);
                }
            }
            (Tier::District, Some(district)) => {
                months.entry(DistrictId(district)).or_default().insert(when);
            }
            (Tier::Association, Some(association)) => {
                if let Some(district) = district_of.get(&AssociationId(association)) {
                    months.entry(district.clone()).or_default().insert(when);
                }
            }
            _ => {}
        }
    }
    Ok(months)
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
        Ok(if frozen {
            SnapshotOutcome::Frozen
        } else {
            SnapshotOutcome::Provisional
        })
    })
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
