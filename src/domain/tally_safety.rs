//! The safety checks of a month's tally: checks started in the month, the households each
//! reached when it started (today's roster, as for circulars), and those whose first answer,
//! by a member or on their behalf, came within the window while the check was open
//! (decisions.md record 32). Pure, like the rest of the tally.

use std::collections::{HashMap, HashSet};

use chrono::{Duration, NaiveDateTime};

use crate::domain::tally::{RECEIPT_WINDOW_HOURS, bump};
use crate::domain::{AssociationId, DistrictId, HanId, HouseholdId, SafetyCheckId, Tier};

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
pub fn tally_safety(
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
