//! How a JST month is tallied for the adoption dashboard (DESIGN.md section 6): each open
//! association's households, registrations, readers and receipts, each open district's sums
//! and whether it is active under the rule. Pure: `db::queries::stats` loads the facts with
//! small queries and stores what comes out.

use std::collections::{HashMap, HashSet};

use chrono::{Duration, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::domain::{
    AssociationId, DistrictId, HanId, HouseholdId, Month, PostId, SafetyCheckId, Tier,
};

/// Reads and confirmations count when they come within this long of publication.
pub const RECEIPT_WINDOW_HOURS: i64 = 72;
/// A household is active when a member opened a circular within this many days.
pub const ACTIVE_DAYS: i64 = 30;

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

impl Rule {
    /// Compared in basis points, so 12 of 120 is exactly 10 %.
    pub fn registered_enough(&self, registered: i32, member_households: i32) -> bool {
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
        bump(&mut self.member_households, other.member_households);
        bump(&mut self.registered_households, other.registered_households);
        bump(&mut self.active_households, other.active_households);
        bump(&mut self.expected_receipts, other.expected_receipts);
        bump(&mut self.reads_72h, other.reads_72h);
        bump(
            &mut self.expected_confirmations,
            other.expected_confirmations,
        );
        bump(&mut self.confirmations_72h, other.confirmations_72h);
        bump(
            &mut self.paper_households_served,
            other.paper_households_served,
        );
    }
}

/// A month is frozen once the 72 hours of its last circulars have passed.
pub fn freezes_at(month: Month) -> NaiveDateTime {
    month.end_utc() + Duration::hours(RECEIPT_WINDOW_HOURS)
}

/// A count from the database, saturated.
pub fn count(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn bump(value: &mut i32, by: i32) {
    *value = value.saturating_add(by);
}

/// A published circular: id, tier, scope, whether it asks for confirmation, when.
pub type MonthPost = (PostId, Tier, Option<String>, bool, Option<NaiveDateTime>);

/// A household's receipt of a circular: whose (an association, say), read, confirmed.
pub type Receipt<K> = (K, Option<NaiveDateTime>, Option<NaiveDateTime>);

/// Reads and confirmations of one circular that came within the window, per key.
pub fn receipts_in_window<K: std::hash::Hash + Eq>(
    published_at: NaiveDateTime,
    requires_confirmation: bool,
    receipts: impl IntoIterator<Item = Receipt<K>>,
) -> HashMap<K, (i32, i32)> {
    let deadline = published_at + Duration::hours(RECEIPT_WINDOW_HOURS);
    let mut counted: HashMap<K, (i32, i32)> = HashMap::new();
    for (key, read_at, confirmed_at) in receipts {
        let slot = counted.entry(key).or_default();
        if read_at.is_some_and(|t| t <= deadline) {
            bump(&mut slot.0, 1);
        }
        if requires_confirmation && confirmed_at.is_some_and(|t| t <= deadline) {
            bump(&mut slot.1, 1);
        }
    }
    counted
}

/// Per circular, its reads and confirmations within the window per association.
pub type ReceiptCounts = HashMap<PostId, HashMap<AssociationId, (i32, i32)>>;

/// Everything a month's tally is computed from, as loaded at `at`.
pub struct MonthFacts {
    pub month: Month,
    pub rule: Rule,
    pub at: NaiveDateTime,
    /// Open districts, by code.
    pub districts: Vec<DistrictId>,
    /// Open associations made before the month's end: id, district, reported member
    /// households (those of an archived district are left out here).
    pub associations: Vec<(AssociationId, DistrictId, i32)>,
    /// The district of every association, archived ones too.
    pub district_of: HashMap<AssociationId, DistrictId>,
    /// Households made before the month's end: association, han, paper, how many.
    pub households: Vec<(AssociationId, Option<HanId>, bool, i64)>,
    /// Households with a member account made before the month's end (or now).
    pub registered: HashMap<AssociationId, i32>,
    /// Households where a member opened a circular in the 30 days up to then.
    pub active: HashMap<AssociationId, i32>,
    /// The circulars published in the month.
    pub posts: Vec<MonthPost>,
    /// The hans a circular was limited to.
    pub hans_of_post: HashMap<PostId, Vec<HanId>>,
    /// Per circular, `receipts_in_window` per association.
    pub receipts: ReceiptCounts,
    /// The circulars of the rule's window of months: tier, scope, published.
    pub window_posts: Vec<(Tier, Option<String>, Option<NaiveDateTime>)>,
    /// Every district, archived too: a city circular counts for each when the rule says so.
    pub all_districts: Vec<DistrictId>,
    pub safety: SafetyFacts,
}

/// An open district's month.
#[derive(Debug, Clone, PartialEq)]
pub struct DistrictTally {
    pub id: DistrictId,
    /// Whether the rule held.
    pub active: bool,
    /// Months of the rule's window with a circular of the district's own.
    pub months_with_posts: i32,
    pub associations: i32,
    pub counts: Counts,
    pub safety: SafetyCounts,
}

/// An open association's month.
#[derive(Debug, Clone, PartialEq)]
pub struct AssociationTally {
    pub id: AssociationId,
    pub district: DistrictId,
    pub counts: Counts,
    pub safety: SafetyCounts,
}

/// A month's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct MonthTally {
    /// Frozen: the 72 hours of the month's last circulars have passed.
    pub finalized: bool,
    pub districts: Vec<DistrictTally>,
    pub associations: Vec<AssociationTally>,
}

impl MonthTally {
    fn sum(&self, f: fn(&DistrictTally) -> i32) -> i32 {
        self.districts.iter().map(f).fold(0, i32::saturating_add)
    }

    /// Target 2: the districts using the app.
    pub fn active_districts(&self) -> i32 {
        self.sum(|d| i32::from(d.active))
    }

    pub fn member_households(&self) -> i32 {
        self.sum(|d| d.counts.member_households)
    }

    pub fn registered_households(&self) -> i32 {
        self.sum(|d| d.counts.registered_households)
    }
}

#[derive(Default, Clone, Copy)]
struct HouseholdCount {
    all: i32,
    paper: i32,
}

/// Tallies one month.
pub fn tally_month(facts: &MonthFacts) -> MonthTally {
    let (month, rule, at) = (facts.month, facts.rule, facts.at);
    let open_districts: HashSet<&DistrictId> = facts.districts.iter().collect();
    let association_rows: Vec<&(AssociationId, DistrictId, i32)> = facts
        .associations
        .iter()
        .filter(|(_, district, _)| open_districts.contains(district))
        .collect();

    let mut by_association: HashMap<&AssociationId, HouseholdCount> = HashMap::new();
    let mut by_han: HashMap<&HanId, HouseholdCount> = HashMap::new();
    for (association, han, paper, n) in &facts.households {
        let n = count(*n);
        let mut slots = vec![by_association.entry(association).or_default()];
        if let Some(han) = han {
            slots.push(by_han.entry(han).or_default());
        }
        for slot in slots {
            bump(&mut slot.all, n);
            if *paper {
                bump(&mut slot.paper, n);
            }
        }
    }

    let mut counts: HashMap<&AssociationId, Counts> = association_rows
        .iter()
        .map(|(id, _, member_households)| {
            let c = Counts {
                member_households: *member_households,
                registered_households: facts.registered.get(id).copied().unwrap_or(0),
                active_households: facts.active.get(id).copied().unwrap_or(0),
                ..Counts::default()
            };
            (id, c)
        })
        .collect();
    let mut associations_in: HashMap<&DistrictId, Vec<&AssociationId>> = HashMap::new();
    for (id, district, _) in &association_rows {
        associations_in.entry(district).or_default().push(id);
    }

    let mut posts_district: HashMap<DistrictId, i32> = HashMap::new();
    let mut posts_association_in: HashMap<&DistrictId, i32> = HashMap::new();
    let mut posts_city = 0;
    let mut fully_reached: HashSet<AssociationId> = HashSet::new();
    let mut hans_reached: HashMap<AssociationId, HashSet<&HanId>> = HashMap::new();
    let no_receipts = HashMap::new();
    for (id, tier, scope, requires_confirmation, published_at) in &facts.posts {
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
                let district = DistrictId(district.clone());
                for association in associations_in.get(&district).into_iter().flatten() {
                    audience.push(((*association).clone(), 0));
                }
                bump(posts_district.entry(district).or_default(), 1);
            }
            (Tier::Association, Some(association)) => {
                let association = AssociationId(association.clone());
                if let Some(district) = facts.district_of.get(&association) {
                    bump(posts_association_in.entry(district).or_default(), 1);
                }
                match facts.hans_of_post.get(id) {
                    Some(hans) => {
                        let reached = hans_reached.entry(association.clone()).or_default();
                        let mut households = 0;
                        for han in hans {
                            reached.insert(han);
                            bump(&mut households, by_han.get(han).map_or(0, |c| c.all));
                        }
                        audience.push((association, households));
                    }
                    None => audience.push((association, 0)),
                }
            }
            _ => {}
        }
        if published_at.is_none() {
            continue;
        }
        let reads = facts.receipts.get(id).unwrap_or(&no_receipts);
        let partial = matches!(tier, Tier::Association) && facts.hans_of_post.contains_key(id);
        for (association, han_households) in audience {
            let Some(c) = counts.get_mut(&association) else {
                continue;
            };
            let expected = if partial {
                han_households
            } else {
                let all = by_association.get(&association).map_or(0, |h| h.all);
                fully_reached.insert(association.clone());
                all
            };
            match tier {
                Tier::City => bump(&mut c.posts_city, 1),
                Tier::District => bump(&mut c.posts_district, 1),
                Tier::Association => bump(&mut c.posts_association, 1),
            }
            bump(&mut c.expected_receipts, expected);
            let (read, confirmed) = reads.get(&association).copied().unwrap_or_default();
            bump(&mut c.reads_72h, read);
            if *requires_confirmation {
                bump(&mut c.expected_confirmations, expected);
                bump(&mut c.confirmations_72h, confirmed);
            }
        }
    }
    for (association, c) in counts.iter_mut() {
        c.paper_households_served = if fully_reached.contains(*association) {
            by_association.get(association).map_or(0, |h| h.paper)
        } else {
            hans_reached
                .get(*association)
                .into_iter()
                .flatten()
                .map(|han| by_han.get(han).map_or(0, |h| h.paper))
                .sum()
        };
    }

    let (safety_of_association, safety_of_district) =
        tally_safety(&facts.safety, at, &association_rows);
    let with_posts = months_with_own_posts(facts);
    let in_progress = at < month.end_utc();
    let window: Vec<Month> = (0..i64::from(rule.months_with_posts))
        .map(|back| month.plus(-back))
        .collect();

    let districts = facts
        .districts
        .iter()
        .map(|district| {
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
            DistrictTally {
                id: district.clone(),
                active,
                months_with_posts,
                associations: i32::try_from(members_of.len()).unwrap_or(i32::MAX),
                counts: total,
                safety: safety_of_district
                    .get(district)
                    .copied()
                    .unwrap_or_default(),
            }
        })
        .collect();
    let associations = association_rows
        .iter()
        .map(|(id, district, _)| AssociationTally {
            id: id.clone(),
            district: district.clone(),
            counts: counts.get(id).copied().unwrap_or_default(),
            safety: safety_of_association.get(id).copied().unwrap_or_default(),
        })
        .collect();
    MonthTally {
        finalized: at >= freezes_at(month),
        districts,
        associations,
    }
}

/// For each district, the months of the rule's window in which a circular of its own was
/// published (district or association tier; the city's too when the rule counts them).
fn months_with_own_posts(facts: &MonthFacts) -> HashMap<DistrictId, HashSet<Month>> {
    let mut months: HashMap<DistrictId, HashSet<Month>> = HashMap::new();
    for (tier, scope, published_at) in &facts.window_posts {
        let Some(published_at) = published_at else {
            continue;
        };
        let when = Month::containing(*published_at);
        match (tier, scope) {
            (Tier::City, _) if facts.rule.count_city_posts => {
                for district in &facts.all_districts {
                    months.entry(district.clone()).or_default().insert(when);
                }
            }
            (Tier::District, Some(district)) => {
                months
                    .entry(DistrictId(district.clone()))
                    .or_default()
                    .insert(when);
            }
            (Tier::Association, Some(association)) => {
                if let Some(district) = facts.district_of.get(&AssociationId(association.clone())) {
                    months.entry(district.clone()).or_default().insert(when);
                }
            }
            _ => {}
        }
    }
    months
}

// The month's safety checks: checks started in the month, the households each reached when
// it started (today's roster, as for circulars), and those whose first answer, by a member or
// on their behalf, came within the window while the check was open (decisions.md record 32).

/// A household answered a safety check when its first answer came within this long of the
/// start. No longer than the receipt window: a month freezes with every check's hours past.
pub const SAFETY_ANSWER_WINDOW_HOURS: i64 = RECEIPT_WINDOW_HOURS;

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

/// A safety check of the month: id, tier, scope, start, close.
pub type MonthCheck = (
    SafetyCheckId,
    Tier,
    Option<String>,
    NaiveDateTime,
    Option<NaiveDateTime>,
);

/// What the month's safety figures are computed from.
#[derive(Debug, Default)]
pub struct SafetyFacts {
    /// Checks started in the month (and before the tally's time).
    pub checks: Vec<MonthCheck>,
    /// The hans a check was limited to.
    pub hans_of: HashMap<SafetyCheckId, HashSet<HanId>>,
    /// The first answer of each household: a later change does not move it.
    pub first_answers: HashMap<SafetyCheckId, HashMap<HouseholdId, NaiveDateTime>>,
    /// Households made by the last check's start: id, association, han, made.
    pub households: Vec<(HouseholdId, AssociationId, Option<HanId>, NaiveDateTime)>,
}

/// Per open association (`towns`: id, district, member households) and per district.
#[allow(clippy::type_complexity)]
fn tally_safety(
    facts: &SafetyFacts,
    at: NaiveDateTime,
    towns: &[&(AssociationId, DistrictId, i32)],
) -> (
    HashMap<AssociationId, SafetyCounts>,
    HashMap<DistrictId, SafetyCounts>,
) {
    let mut by_association: HashMap<AssociationId, SafetyCounts> = HashMap::new();
    let mut by_district: HashMap<DistrictId, SafetyCounts> = HashMap::new();
    let district_of: HashMap<&AssociationId, &DistrictId> =
        towns.iter().map(|(id, d, _)| (id, d)).collect();
    let mut associations_in: HashMap<&DistrictId, Vec<&AssociationId>> = HashMap::new();
    for (id, district, _) in towns {
        associations_in.entry(district).or_default().push(id);
    }
    let mut homes: HashMap<&AssociationId, Vec<(&HouseholdId, Option<&HanId>, NaiveDateTime)>> =
        HashMap::new();
    for (id, association, han, created_at) in &facts.households {
        if district_of.contains_key(association) {
            homes
                .entry(association)
                .or_default()
                .push((id, han.as_ref(), *created_at));
        }
    }

    let no_answers = HashMap::new();
    for (id, tier, scope, started_at, closed_at) in &facts.checks {
        let reached: Vec<&AssociationId> = match (tier, scope) {
            (Tier::City, _) => towns.iter().map(|(a, _, _)| a).collect(),
            (Tier::District, Some(district)) => associations_in
                .get(&DistrictId(district.clone()))
                .into_iter()
                .flatten()
                .copied()
                .collect(),
            (Tier::Association, Some(association)) => towns
                .iter()
                .map(|(a, _, _)| a)
                .filter(|a| a.as_str() == association)
                .collect(),
            _ => Vec::new(),
        };
        let hans = facts.hans_of.get(id);
        let answers = facts.first_answers.get(id).unwrap_or(&no_answers);
        let deadline = (*started_at + Duration::hours(SAFETY_ANSWER_WINDOW_HOURS))
            .min(closed_at.unwrap_or(at))
            .min(at);
        let mut districts_reached: HashSet<&DistrictId> = HashSet::new();
        for association in reached {
            let mut c = SafetyCounts::default();
            for (household, han, created_at) in homes.get(association).into_iter().flatten() {
                let in_hans = hans.is_none_or(|hans| han.is_some_and(|h| hans.contains(h)));
                if *created_at > *started_at || !in_hans {
                    continue;
                }
                bump(&mut c.households_targeted, 1);
                if answers.get(*household).is_some_and(|t| *t <= deadline) {
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
    (by_association, by_district)
}

#[cfg(test)]
#[path = "tally_tests.rs"]
mod tests;
