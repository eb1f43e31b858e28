//! The rules of the month tally, on facts made by hand.

use std::collections::{HashMap, HashSet};

use chrono::{Duration, NaiveDateTime};

use super::*;
use crate::domain::{HouseholdId, SafetyCheckId, SafetyFacts};

const RULE: Rule = Rule {
    months_with_posts: 2,
    min_registered_share: 0.1,
    count_city_posts: false,
};

fn month(text: &str) -> Month {
    Month::parse(text).unwrap()
}

fn d(id: &str) -> DistrictId {
    DistrictId(id.into())
}

fn a(id: &str) -> AssociationId {
    AssociationId(id.into())
}

/// Two districts, one association each of 100 member households with 100 households on the
/// roster, 10 registered: exactly the 10 % the rule asks.
fn facts(judged: &str, at: NaiveDateTime) -> MonthFacts {
    MonthFacts {
        month: month(judged),
        rule: RULE,
        at,
        districts: vec![d("d1"), d("d2")],
        associations: vec![(a("a1"), d("d1"), 100), (a("a2"), d("d2"), 100)],
        district_of: HashMap::from([(a("a1"), d("d1")), (a("a2"), d("d2"))]),
        households: vec![
            (a("a1"), Some(HanId("h1".into())), false, 60),
            (a("a1"), Some(HanId("h2".into())), true, 40),
            (a("a2"), None, false, 100),
        ],
        registered: HashMap::from([(a("a1"), 10), (a("a2"), 10)]),
        active: HashMap::new(),
        posts: Vec::new(),
        hans_of_post: HashMap::new(),
        receipts: HashMap::new(),
        window_posts: Vec::new(),
        all_districts: vec![d("d1"), d("d2")],
        safety: SafetyFacts::default(),
    }
}

fn in_month(text: &str) -> NaiveDateTime {
    month(text).start_utc() + Duration::days(3)
}

fn own_post(district: &str, when: &str) -> (Tier, Option<String>, Option<NaiveDateTime>) {
    (Tier::District, Some(district.into()), Some(in_month(when)))
}

fn district<'t>(t: &'t MonthTally, id: &str) -> &'t DistrictTally {
    t.districts.iter().find(|x| x.id.as_str() == id).unwrap()
}

#[test]
fn a_district_is_active_with_a_circular_in_each_month_of_the_window_and_enough_registered() {
    let mut f = facts("2026-05", month("2026-06").start_utc() + Duration::days(10));
    f.window_posts = vec![
        own_post("d1", "2026-04"),
        own_post("d1", "2026-05"),
        own_post("d2", "2026-05"),
    ];
    let t = tally_month(&f);
    assert!(district(&t, "d1").active);
    assert_eq!(district(&t, "d1").months_with_posts, 2);
    // d2 missed April.
    assert!(!district(&t, "d2").active);
    assert_eq!(district(&t, "d2").months_with_posts, 1);
    assert_eq!(t.active_districts(), 1);
    assert!(t.finalized);
}

#[test]
fn one_registration_short_of_the_share_is_not_active() {
    let mut f = facts("2026-05", month("2026-06").start_utc());
    f.window_posts = vec![own_post("d1", "2026-04"), own_post("d1", "2026-05")];
    f.registered.insert(a("a1"), 9);
    assert!(!district(&tally_month(&f), "d1").active);
    assert!(RULE.registered_enough(12, 120));
    assert!(!RULE.registered_enough(11, 120));
    assert!(!RULE.registered_enough(0, 0));
}

#[test]
fn the_month_under_way_has_not_failed_yet() {
    // On the 2nd of May, with April's circular only.
    let mut f = facts("2026-05", in_month("2026-05") - Duration::days(1));
    f.window_posts = vec![own_post("d1", "2026-04")];
    let t = tally_month(&f);
    assert!(district(&t, "d1").active);
    assert!(!t.finalized);
    // Once May is over without one, it has.
    f.at = month("2026-06").start_utc();
    assert!(!district(&tally_month(&f), "d1").active);
}

#[test]
fn city_circulars_count_for_every_district_only_when_the_rule_says_so() {
    let mut f = facts("2026-05", month("2026-06").start_utc());
    f.window_posts = vec![
        (Tier::City, None, Some(in_month("2026-04"))),
        (Tier::City, None, Some(in_month("2026-05"))),
    ];
    assert_eq!(tally_month(&f).active_districts(), 0);
    f.rule.count_city_posts = true;
    assert_eq!(tally_month(&f).active_districts(), 2);
}

#[test]
fn an_archived_district_and_its_associations_are_left_out() {
    let mut f = facts("2026-05", month("2026-06").start_utc());
    f.districts = vec![d("d1")];
    let t = tally_month(&f);
    assert_eq!(t.districts.len(), 1);
    assert_eq!(t.associations.len(), 1);
    assert_eq!(t.member_households(), 100);
    assert_eq!(t.registered_households(), 10);
}

#[test]
fn receipts_count_within_72_hours_and_confirmations_only_when_asked() {
    let published = in_month("2026-05");
    let on_time = Some(published + Duration::hours(72));
    let late = Some(published + Duration::hours(72) + Duration::seconds(1));
    let receipts = [
        ("a1", on_time, on_time),
        ("a1", late, late),
        ("a2", None, on_time),
    ];
    let asked = receipts_in_window(published, true, receipts);
    assert_eq!(asked["a1"], (1, 1));
    assert_eq!(asked["a2"], (0, 1));
    let not_asked = receipts_in_window(published, false, receipts);
    assert_eq!(not_asked["a1"], (1, 0));
}

#[test]
fn a_circular_for_some_hans_expects_receipts_and_serves_paper_only_there() {
    let mut f = facts("2026-05", month("2026-06").start_utc());
    let post = PostId("p1".into());
    f.posts = vec![(
        post.clone(),
        Tier::Association,
        Some("a1".into()),
        true,
        Some(in_month("2026-05")),
    )];
    f.hans_of_post = HashMap::from([(post.clone(), vec![HanId("h2".into())])]);
    f.receipts = HashMap::from([(post, HashMap::from([(a("a1"), (30, 20))]))]);
    let t = tally_month(&f);
    let c = t.associations[0].counts;
    assert_eq!(c.posts_association, 1);
    assert_eq!((c.expected_receipts, c.reads_72h), (40, 30));
    assert_eq!((c.expected_confirmations, c.confirmations_72h), (40, 20));
    assert_eq!(c.paper_households_served, 40);
    assert_eq!(district(&t, "d1").counts.posts_association, 1);
    assert_eq!(district(&t, "d2").counts.expected_receipts, 0);
}

#[test]
fn a_city_circular_counts_once_per_district_and_expects_every_household() {
    let mut f = facts("2026-05", month("2026-06").start_utc());
    f.posts = vec![(
        PostId("p1".into()),
        Tier::City,
        None,
        false,
        Some(in_month("2026-05")),
    )];
    let t = tally_month(&f);
    for id in ["d1", "d2"] {
        let c = district(&t, id).counts;
        assert_eq!((c.posts_city, c.expected_receipts), (1, 100));
        assert_eq!(c.expected_confirmations, 0);
    }
    assert_eq!(district(&t, "d1").counts.paper_households_served, 40);
}

#[test]
fn safety_checks_count_households_there_at_the_start_and_first_answers_while_open() {
    let mut f = facts("2026-05", month("2026-06").start_utc());
    let started = in_month("2026-05");
    let check = SafetyCheckId("c1".into());
    let closed = started + Duration::hours(10);
    let home = |id: &str, made: NaiveDateTime| (HouseholdId(id.into()), a("a1"), None, made);
    f.safety = SafetyFacts {
        checks: vec![(
            check.clone(),
            Tier::District,
            Some("d1".into()),
            started,
            Some(closed),
        )],
        hans_of: HashMap::new(),
        first_answers: HashMap::from([(
            check,
            HashMap::from([
                (HouseholdId("x".into()), started + Duration::hours(1)),
                (HouseholdId("y".into()), started + Duration::hours(11)),
            ]),
        )]),
        households: vec![
            home("x", started - Duration::days(1)),
            home("y", started - Duration::days(1)),
            home("z", started + Duration::hours(1)),
        ],
    };
    let t = tally_month(&f);
    let s = district(&t, "d1").safety;
    assert_eq!(s.checks, 1);
    // z came after the start; y answered after the close.
    assert_eq!((s.households_targeted, s.households_answered_72h), (2, 1));
    assert_eq!(district(&t, "d2").safety, SafetyCounts::default());
    let hans: HashSet<HanId> = HashSet::from([HanId("h9".into())]);
    f.safety.hans_of.insert(SafetyCheckId("c1".into()), hans);
    assert_eq!(
        district(&tally_month(&f), "d1").safety.households_targeted,
        0
    );
}
