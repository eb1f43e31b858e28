//! The facts a month's tally counts (`domain::tally_month`), loaded with small queries: the
//! roster as it stood, registrations, readers, the month's circulars with their receipts, the
//! rule's window of circulars, the month's safety checks with their first answers.

use std::collections::HashMap;

use chrono::{Duration, NaiveDateTime};
use diesel::dsl::{count_star, min};
use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::{
    associations, districts, hans, household_receipts, households, members, post_hans, post_reads,
    posts, safety_answer_history, safety_check_hans, safety_checks,
};
use crate::domain::{
    ACTIVE_DAYS, AssociationId, DistrictId, HanId, HouseholdId, Month, MonthCheck, MonthFacts,
    MonthPost, PostId, PostStatus, ReceiptCounts, Rule, SafetyCheckId, SafetyFacts, Tier, count,
    receipts_in_window,
};

/// Everything the month's tally counts, as of `at`.
pub fn month_facts(
    conn: &mut AnyConnection,
    month: Month,
    rule: Rule,
    at: NaiveDateTime,
) -> QueryResult<MonthFacts> {
    let (start, end) = (month.start_utc(), month.end_utc());
    let as_of = at.min(end);
    let districts: Vec<DistrictId> = districts::table
        .filter(districts::archived.eq(false))
        .order(districts::code.asc())
        .select(districts::id)
        .load(conn)?;
    let associations: Vec<(AssociationId, DistrictId, i32)> = associations::table
        .filter(associations::archived.eq(false))
        .filter(associations::created_at.lt(end))
        .order(associations::id.asc())
        .select((
            associations::id,
            associations::district_id,
            associations::member_households,
        ))
        .load(conn)?;
    let district_of: HashMap<AssociationId, DistrictId> = associations::table
        .select((associations::id, associations::district_id))
        .load::<(AssociationId, DistrictId)>(conn)?
        .into_iter()
        .collect();
    let households = households::table
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
    let registered = members::table
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
    let active = post_reads::table
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
    let posts: Vec<MonthPost> = posts::table
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
    // A merged-away district's circulars count for the district it was merged into.
    let merged_into = super::districts::merged_into(conn)?;
    let posts: Vec<MonthPost> = posts
        .into_iter()
        .map(|(id, tier, scope, confirm, at)| {
            (id, tier, survivor(&merged_into, tier, scope), confirm, at)
        })
        .collect();
    let hans_of_post = hans_of_posts(conn, &posts)?;
    let receipts = month_receipts(conn, &posts)?;
    let first = month.plus(1 - i64::from(rule.months_with_posts));
    let window_posts = posts::table
        .filter(posts::status.eq(PostStatus::Published))
        .filter(posts::published_at.ge(first.start_utc()))
        .filter(posts::published_at.lt(end))
        .select((posts::tier, posts::scope_id, posts::published_at))
        .load::<(Tier, Option<String>, Option<NaiveDateTime>)>(conn)?
        .into_iter()
        .map(|(tier, scope, at)| (tier, survivor(&merged_into, tier, scope), at))
        .collect();
    let all_districts = if rule.count_city_posts {
        districts::table.select(districts::id).load(conn)?
    } else {
        Vec::new()
    };
    Ok(MonthFacts {
        month,
        rule,
        at,
        districts,
        associations,
        district_of,
        households,
        registered,
        active,
        posts,
        hans_of_post,
        receipts,
        window_posts,
        all_districts,
        safety: safety_facts(conn, month, at)?,
    })
}

/// A district circular's district, or the one it was merged into.
fn survivor(
    merged_into: &HashMap<DistrictId, DistrictId>,
    tier: Tier,
    scope: Option<String>,
) -> Option<String> {
    match (tier, scope) {
        (Tier::District, Some(district)) => Some(
            merged_into
                .get(&DistrictId(district.clone()))
                .map_or(district, |to| to.as_str().to_string()),
        ),
        (_, scope) => scope,
    }
}

fn hans_of_posts(
    conn: &mut AnyConnection,
    posts: &[MonthPost],
) -> QueryResult<HashMap<PostId, Vec<HanId>>> {
    let mut hans_of_post: HashMap<PostId, Vec<HanId>> = HashMap::new();
    let post_ids: Vec<&PostId> = posts.iter().map(|p| &p.0).collect();
    for chunk in post_ids.chunks(500) {
        let rows: Vec<(PostId, HanId)> = post_hans::table
            .inner_join(hans::table.on(hans::id.eq(post_hans::han_id)))
            .filter(post_hans::post_id.eq_any(chunk.iter().copied()))
            .select((post_hans::post_id, post_hans::han_id))
            .load(conn)?;
        for (post, han) in rows {
            hans_of_post.entry(post).or_default().push(han);
        }
    }
    Ok(hans_of_post)
}

/// Each circular's reads and confirmations within the window, per association. Receipts
/// are read one circular at a time by primary-key prefix, without a join: the plan cannot
/// turn into a scan of every household per circular, and only the counts stay in memory.
fn month_receipts(conn: &mut AnyConnection, posts: &[MonthPost]) -> QueryResult<ReceiptCounts> {
    let mut counted = HashMap::new();
    if posts.is_empty() {
        return Ok(counted);
    }
    // Which association each household belongs to, by index.
    let mut associations: Vec<AssociationId> = Vec::new();
    let mut association_index: HashMap<AssociationId, usize> = HashMap::new();
    let mut association_of_household: HashMap<HouseholdId, usize> = HashMap::new();
    let pairs: Vec<(HouseholdId, AssociationId)> = households::table
        .select((households::id, households::association_id))
        .load(conn)?;
    for (household, association) in pairs {
        let index = *association_index
            .entry(association.clone())
            .or_insert_with(|| {
                associations.push(association);
                associations.len() - 1
            });
        association_of_household.insert(household, index);
    }
    for (id, _, _, requires_confirmation, published_at) in posts {
        let Some(published_at) = published_at else {
            continue;
        };
        let receipts: Vec<(HouseholdId, Option<NaiveDateTime>, Option<NaiveDateTime>)> =
            household_receipts::table
                .filter(household_receipts::post_id.eq(id))
                .select((
                    household_receipts::household_id,
                    household_receipts::read_at,
                    household_receipts::confirmed_at,
                ))
                .load(conn)?;
        let known = receipts
            .into_iter()
            .filter_map(|(household, read, confirmed)| {
                let index = association_of_household.get(&household)?;
                Some((*index, read, confirmed))
            });
        let by_index = receipts_in_window(*published_at, *requires_confirmation, known);
        let by_association = by_index
            .into_iter()
            .filter_map(|(i, n)| Some((associations.get(i)?.clone(), n)))
            .collect();
        counted.insert(id.clone(), by_association);
    }
    Ok(counted)
}

/// The month's safety checks with their hans, first answers and the households they could
/// have reached.
fn safety_facts(
    conn: &mut AnyConnection,
    month: Month,
    at: NaiveDateTime,
) -> QueryResult<SafetyFacts> {
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
    let mut facts = SafetyFacts::default();
    if checks.is_empty() {
        return Ok(facts);
    }
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
            facts.hans_of.entry(check).or_default().insert(han);
        }
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
                facts
                    .first_answers
                    .entry(check)
                    .or_default()
                    .insert(household, first);
            }
        }
    }
    // Only households made by the last check's start can be in any check's audience.
    let last_start = checks
        .iter()
        .map(|c| c.3)
        .max()
        .unwrap_or(month.start_utc());
    facts.households = households::table
        .filter(households::created_at.le(last_start))
        .select((
            households::id,
            households::association_id,
            households::han_id,
            households::created_at,
        ))
        .load(conn)?;
    facts.checks = checks;
    Ok(facts)
}
