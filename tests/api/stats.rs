//! The adoption dashboard: figures from small cities with known, backdated activity, the
//! active-district rule at its edges, safety checks' answer rates, frozen snapshots, the
//! projection, targets 1 and 3, who may see what, and bad input.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use kairan::db::models::{
    Association, Han, Household, HouseholdReceipt, Member, Post, PostHan, PostRead, SafetyAnswer,
    SafetyCheck, SafetyCheckHan, StatsMonth,
};
use kairan::db::schema::{
    associations, hans, household_receipts, households, members, post_hans, post_reads, posts,
    safety_answer_history, safety_answers, safety_check_hans, safety_checks,
    stats_district_safety_months, stats_months,
};
use kairan::db::{AnyConnection, now};
use kairan::domain::new_id;
use kairan::domain::*;
use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures::{
    ADMIN_LOGIN, ADMIN_PASSWORD, Actor, City, PASSWORD, Who, create_admin_directly, expect_json,
    str_field,
};
use crate::helpers::{TestApp, error_code, spawn_app};

/// The 15th of a month, noon JST: well inside it.
pub fn mid(month: Month) -> NaiveDateTime {
    month.start_utc() + Duration::days(14) + Duration::hours(12)
}

pub fn current() -> Month {
    Month::containing(now())
}

/// Writes backdated history straight into the database.
pub struct History<'a> {
    app: &'a TestApp,
    author: MemberId,
    long_ago: NaiveDateTime,
}

impl<'a> History<'a> {
    pub fn new(app: &'a TestApp, author: &Actor) -> Self {
        Self {
            app,
            author: MemberId(author.id.clone()),
            long_ago: current().plus(-24).start_utc(),
        }
    }

    fn insert<T>(&self, f: impl FnOnce(&mut AnyConnection) -> QueryResult<T>) -> T {
        f(&mut self.app.db.get().unwrap()).unwrap()
    }

    pub fn association(&self, district: &str, name: &str, member_households: i32) -> AssociationId {
        let id = AssociationId::generate();
        self.insert(|c| {
            diesel::insert_into(associations::table)
                .values(Association {
                    id: id.clone(),
                    district_id: DistrictId(district.to_string()),
                    name: name.to_string(),
                    name_kana: None,
                    member_households,
                    area_households: None,
                    archived: false,
                    created_at: self.long_ago,
                    updated_at: self.long_ago,
                })
                .execute(c)
        });
        id
    }

    fn han(&self, association: &AssociationId) -> HanId {
        let id = HanId::generate();
        self.insert(|c| {
            diesel::insert_into(hans::table)
                .values(Han {
                    id: id.clone(),
                    association_id: association.clone(),
                    name: new_id(),
                    created_at: self.long_ago,
                })
                .execute(c)
        });
        id
    }

    fn household(
        &self,
        association: &AssociationId,
        han: Option<&HanId>,
        paper: bool,
    ) -> HouseholdId {
        self.household_since(association, han, paper, self.long_ago)
    }

    fn household_since(
        &self,
        association: &AssociationId,
        han: Option<&HanId>,
        paper: bool,
        created_at: NaiveDateTime,
    ) -> HouseholdId {
        let id = HouseholdId::generate();
        self.insert(|c| {
            diesel::insert_into(households::table)
                .values(Household {
                    id: id.clone(),
                    association_id: association.clone(),
                    han_id: han.cloned(),
                    label: format!("世帯{}", &id.0[24..]),
                    paper,
                    created_at,
                    updated_at: created_at,
                })
                .execute(c)
        });
        id
    }

    fn member(&self, household: &HouseholdId, created_at: NaiveDateTime) -> MemberId {
        let id = MemberId::generate();
        self.insert(|c| {
            diesel::insert_into(members::table)
                .values(Member {
                    id: id.clone(),
                    household_id: Some(household.clone()),
                    login: format!("{}@history.test", id.0),
                    password_hash: "not a hash".into(),
                    display_name: "住民".into(),
                    disabled: false,
                    created_at,
                    updated_at: created_at,
                })
                .execute(c)
        });
        id
    }

    /// A household with one member who joined long ago.
    pub fn registered(
        &self,
        association: &AssociationId,
        han: Option<&HanId>,
    ) -> (HouseholdId, MemberId) {
        let household = self.household(association, han, false);
        let member = self.member(&household, self.long_ago);
        (household, member)
    }

    pub fn post(
        &self,
        tier: Tier,
        scope: Option<&str>,
        hans_of_post: &[&HanId],
        published_at: NaiveDateTime,
        requires_confirmation: bool,
    ) -> PostId {
        let id = PostId::generate();
        self.insert(|c| {
            diesel::insert_into(posts::table)
                .values(Post {
                    id: id.clone(),
                    author_id: self.author.clone(),
                    tier,
                    scope_id: scope.map(String::from),
                    title: "お知らせ".into(),
                    body: "本文".into(),
                    category: Category::Notice,
                    priority: Priority::Normal,
                    requires_confirmation,
                    status: PostStatus::Published,
                    published_at: Some(published_at),
                    expires_at: None,
                    answers_until: None,
                    version: 1,
                    created_at: published_at,
                    updated_at: published_at,
                })
                .execute(c)
        });
        for han in hans_of_post {
            self.insert(|c| {
                diesel::insert_into(post_hans::table)
                    .values(PostHan {
                        post_id: id.clone(),
                        han_id: (*han).clone(),
                    })
                    .execute(c)
            });
        }
        id
    }

    /// A member opens the post (and confirms it) at the given times.
    fn read(
        &self,
        post: &PostId,
        (household, member): &(HouseholdId, MemberId),
        read_at: NaiveDateTime,
        confirmed_at: Option<NaiveDateTime>,
    ) {
        self.insert(|c| {
            diesel::insert_into(post_reads::table)
                .values(PostRead {
                    post_id: post.clone(),
                    member_id: member.clone(),
                    household_id: household.clone(),
                    read_at,
                    confirmed_at,
                })
                .execute(c)
        });
        self.receipt(post, household, read_at, confirmed_at, None);
    }

    /// A safety check started (and perhaps closed) at the given times, by the author.
    fn safety_check(
        &self,
        tier: Tier,
        scope: Option<&str>,
        hans_of_check: &[&HanId],
        started_at: NaiveDateTime,
        closed_at: Option<NaiveDateTime>,
    ) -> SafetyCheckId {
        let id = SafetyCheckId::generate();
        self.insert(|c| {
            diesel::insert_into(safety_checks::table)
                .values(SafetyCheck {
                    id: id.clone(),
                    started_by: self.author.clone(),
                    tier,
                    scope_id: scope.map(String::from),
                    message: "地震がありました。ご無事ですか。".into(),
                    started_at,
                    closed_at,
                    closed_by: closed_at.map(|_| self.author.clone()),
                })
                .execute(c)
        });
        for han in hans_of_check {
            self.insert(|c| {
                diesel::insert_into(safety_check_hans::table)
                    .values(SafetyCheckHan {
                        safety_check_id: id.clone(),
                        han_id: (*han).clone(),
                    })
                    .execute(c)
            });
        }
        id
    }

    /// A household's answer, given by `by` (on its behalf when `by` is the author), kept as
    /// the current answer and in the history, as `record_answer` does.
    fn safety_answer(
        &self,
        check: &SafetyCheckId,
        household: &HouseholdId,
        by: Option<&MemberId>,
        status: SafetyStatus,
        at: NaiveDateTime,
    ) {
        let answer = SafetyAnswer {
            safety_check_id: check.clone(),
            household_id: household.clone(),
            status,
            note: (status == SafetyStatus::NeedsHelp).then(|| "足を怪我しました".into()),
            answered_by: by.unwrap_or(&self.author).clone(),
            on_behalf: by.is_none(),
            answered_at: at,
        };
        self.insert(|c| {
            diesel::delete(safety_answers::table.find((check, household))).execute(c)?;
            diesel::insert_into(safety_answers::table)
                .values(&answer)
                .execute(c)?;
            diesel::insert_into(safety_answer_history::table)
                .values(answer.record(new_id()))
                .execute(c)
        });
    }

    fn paper_confirmation(&self, post: &PostId, household: &HouseholdId, at: NaiveDateTime) {
        self.receipt(post, household, at, Some(at), Some(self.author.clone()));
    }

    fn receipt(
        &self,
        post: &PostId,
        household: &HouseholdId,
        read_at: NaiveDateTime,
        confirmed_at: Option<NaiveDateTime>,
        paper_recorded_by: Option<MemberId>,
    ) {
        self.insert(|c| {
            diesel::insert_into(household_receipts::table)
                .values(HouseholdReceipt {
                    post_id: post.clone(),
                    household_id: household.clone(),
                    read_at: Some(read_at),
                    confirmed_at,
                    paper_recorded_by,
                })
                .execute(c)
        });
    }
}

/// An admin, a city staff member, and the first three district ids.
pub struct Staff {
    pub admin: Actor,
    pub staff: Actor,
    pub districts: Vec<String>,
}

pub async fn staff(app: &TestApp) -> Staff {
    create_admin_directly(app, ADMIN_LOGIN, ADMIN_PASSWORD);
    let admin = app.sign_in(ADMIN_LOGIN, ADMIN_PASSWORD).await;
    let login = "toukei@city.kanazawa.test";
    expect_json(
        app.post_as(
            &admin,
            "/api/v1/staff",
            &json!({"login": login, "password": PASSWORD, "display_name": "市民協働推進課",
                    "role": "city_staff"}),
        )
        .await,
        201,
    )
    .await;
    let staff = app.sign_in(login, PASSWORD).await;
    let list = expect_json(app.get_as(&admin, "/api/v1/districts").await, 200).await;
    let districts = list["items"].as_array().unwrap()[..3]
        .iter()
        .map(|d| str_field(d, "id"))
        .collect();
    Staff {
        admin,
        staff,
        districts,
    }
}

pub async fn adoption(app: &TestApp, by: &Actor, month: Month) -> Value {
    let path = format!("/api/v1/stats/adoption?month={month}");
    expect_json(app.get_as(by, &path).await, 200).await
}

pub async fn snapshot(app: &TestApp, by: &Actor, body: Value) -> Value {
    expect_json(app.post_as(by, "/api/v1/stats/snapshots", &body).await, 200).await
}

pub fn district<'v>(dashboard: &'v Value, id: &str) -> &'v Value {
    dashboard["districts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == id)
        .unwrap_or_else(|| panic!("district {id} in {dashboard}"))
}

#[tokio::test]
async fn a_past_month_counts_registrations_activity_posts_receipts_and_paper() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let h = History::new(&app, &s.admin);
    let d1 = &s.districts[0];
    let month = current().plus(-2);
    let t = mid(month);

    // X: 10 member households reported; 4 registered (two in 一班), 1 paper, 1 not yet.
    let x = h.association(d1, "エックス町会", 10);
    let han = h.han(&x);
    let x1 = h.registered(&x, Some(&han));
    let x2 = h.registered(&x, Some(&han));
    let x3 = h.registered(&x, None);
    let x4 = h.registered(&x, None);
    let paper = h.household(&x, None, true);
    h.household(&x, None, false);
    // Y: 20 reported, 2 registered.
    let y = h.association(d1, "ワイ町会", 20);
    let y1 = h.registered(&y, None);
    h.registered(&y, None);
    // A member who joins after the month is not counted in it.
    h.member(
        &h.household(&y, None, false),
        month.end_utc() + Duration::hours(1),
    );

    let to_x = h.post(Tier::Association, Some(&x.0), &[], t, true);
    h.read(
        &to_x,
        &x1,
        t + Duration::hours(1),
        Some(t + Duration::hours(2)),
    );
    h.read(&to_x, &x2, t + Duration::hours(80), None); // too late for the 72 hours
    h.paper_confirmation(&to_x, &paper, t + Duration::hours(10));
    let to_d1 = h.post(Tier::District, Some(d1), &[], t, false);
    h.read(&to_d1, &x1, t + Duration::hours(1), None);
    h.read(&to_d1, &y1, t + Duration::hours(5), None);
    h.post(Tier::City, None, &[], t, false);
    h.post(Tier::Association, Some(&x.0), &[&han], t, false);
    // Activity is the 30 days up to the month's end, whenever the circular was posted.
    let before = h.post(
        Tier::Association,
        Some(&x.0),
        &[],
        month.start_utc() - Duration::days(5),
        false,
    );
    h.read(&before, &x3, month.end_utc() - Duration::days(29), None);
    h.read(&before, &x4, month.end_utc() - Duration::days(31), None);
    // Outside the month: neither counted nor active.
    let later = h.post(
        Tier::Association,
        Some(&x.0),
        &[],
        mid(month.plus(1)),
        false,
    );
    h.read(&later, &x4, mid(month.plus(1)), None);

    let dashboard = adoption(&app, &s.staff, month).await;
    assert_eq!(dashboard["month"], month.to_string());
    assert_eq!(dashboard["provisional"], false);
    let d = district(&dashboard, d1);
    assert_eq!(d["associations"], 2);
    assert_eq!(d["active"], false, "posts in two months of three: {d}");
    assert_eq!(d["months_with_posts"], 2);
    let f = &d["figures"];
    assert_eq!(f["member_households"], 30);
    assert_eq!(f["registered_households"], 6);
    assert_eq!(f["registration_rate"], 0.2);
    assert_eq!(f["active_households"], 4);
    assert_eq!(
        f["posts"],
        json!({"city": 1, "district": 1, "association": 2})
    );
    // X: 6 + 6 + 6 + 2 (一班) expected, Y: 3 + 3; reads within 72 h: 2 + 1 + 1.
    assert_eq!(f["expected_receipts"], 26);
    assert_eq!(f["reads_72h"], 4);
    assert_eq!(f["read_rate_72h"], 0.1538);
    assert_eq!(f["expected_confirmations"], 6);
    assert_eq!(f["confirmations_72h"], 2);
    assert_eq!(f["confirmation_rate_72h"], 0.3333);
    assert_eq!(f["paper_households_served"], 1);
    assert_eq!(dashboard["member_households"]["current"], 30);
    assert_eq!(dashboard["member_households"]["baseline"], 143702);
    assert_eq!(dashboard["member_households"]["target"], 146000);

    let path = format!("/api/v1/districts/{d1}/stats?month={month}");
    let mine = expect_json(app.get_as(&s.staff, &path).await, 200).await;
    assert_eq!(mine["district"]["figures"], *f);
    let by_name = |name: &str| {
        mine["associations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .unwrap()["figures"]
            .clone()
    };
    let fx = by_name("エックス町会");
    assert_eq!(fx["registered_households"], 4);
    assert_eq!(fx["registration_rate"], 0.4);
    assert_eq!(
        fx["active_households"], 3,
        "x1, x2 and x3 (29 days), not x4 (31 days)"
    );
    assert_eq!(
        fx["posts"],
        json!({"city": 1, "district": 1, "association": 2})
    );
    assert_eq!(fx["expected_receipts"], 20);
    assert_eq!(fx["reads_72h"], 3);
    assert_eq!(fx["confirmations_72h"], 2);
    assert_eq!(fx["paper_households_served"], 1);
    let fy = by_name("ワイ町会");
    assert_eq!(fy["registered_households"], 2);
    assert_eq!(fy["active_households"], 1);
    assert_eq!(
        fy["posts"],
        json!({"city": 1, "district": 1, "association": 0})
    );
    assert_eq!(fy["expected_receipts"], 6);
    assert_eq!(fy["reads_72h"], 1);
    assert_eq!(fy["expected_confirmations"], 0);
    assert_eq!(fy["confirmation_rate_72h"], Value::Null);
    assert_eq!(fy["paper_households_served"], 0);

    // The next month: the later member counts; only X's later reader is active.
    let next = adoption(&app, &s.staff, month.plus(1)).await;
    let f = &district(&next, d1)["figures"];
    assert_eq!(f["registered_households"], 7);
    assert_eq!(f["posts"]["association"], 1);
}

#[tokio::test]
async fn the_active_rule_holds_at_its_edges() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let h = History::new(&app, &s.admin);
    let p = current().plus(-2);
    let [d1, d2, d3] = [&s.districts[0], &s.districts[1], &s.districts[2]];
    let registered = |association: &AssociationId, n: usize| {
        for _ in 0..n {
            h.registered(association, None);
        }
    };
    // d1: exactly 10 % registered, a post in each of three months, and last month too.
    let a1 = h.association(d1, "一", 100);
    registered(&a1, 10);
    // d2: the same posts, one registration short of 10 %.
    let a2 = h.association(d2, "二", 100);
    registered(&a2, 9);
    // d3: 10 % registered, but no post in the middle month.
    let a3 = h.association(d3, "三", 100);
    registered(&a3, 10);
    for month in [p.plus(-2), p.plus(-1), p, p.plus(1)] {
        h.post(Tier::Association, Some(&a1.0), &[], mid(month), false);
        h.post(Tier::District, Some(d2), &[], mid(month), false);
        if month != p.plus(-1) {
            h.post(Tier::Association, Some(&a3.0), &[], mid(month), false);
        }
    }
    // City-wide circulars do not make a district active by default.
    for month in [p.plus(-2), p.plus(-1), p] {
        h.post(Tier::City, None, &[], mid(month), false);
    }

    let dashboard = adoption(&app, &s.staff, p).await;
    assert_eq!(
        dashboard["rule"],
        json!({"months_with_posts": 3, "min_registered_share": 0.1, "count_city_posts": false})
    );
    assert_eq!(district(&dashboard, d1)["active"], true, "at the threshold");
    assert_eq!(district(&dashboard, d2)["active"], false, "just below it");
    assert_eq!(district(&dashboard, d2)["months_with_posts"], 3);
    assert_eq!(
        district(&dashboard, d3)["active"],
        false,
        "a month without a post"
    );
    assert_eq!(district(&dashboard, d3)["months_with_posts"], 2);
    assert_eq!(dashboard["active_districts"], 1);
    assert_eq!(
        dashboard["progress"], 0.0,
        "below the baseline: 0, never negative"
    );

    // The month before: its window starts with a month without posts.
    let before = adoption(&app, &s.staff, p.plus(-1)).await;
    assert_eq!(district(&before, d1)["active"], false);

    // Last month's window holds d3's gap; the month under way has not failed yet.
    let now_figures = adoption(&app, &s.staff, current()).await;
    assert_eq!(now_figures["provisional"], true);
    assert_eq!(district(&now_figures, d1)["active"], true);
    assert_eq!(district(&now_figures, d3)["active"], true);
    assert_eq!(district(&now_figures, d3)["months_with_posts"], 2);
    let last = adoption(&app, &s.staff, p.plus(1)).await;
    assert_eq!(district(&last, d1)["active"], true);
    assert_eq!(district(&last, d3)["active"], false);
}

#[tokio::test]
async fn the_month_under_way_counts_once_it_has_a_post_or_while_it_may_still_get_one() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let h = History::new(&app, &s.admin);
    let now_month = current();
    let [d1, d2] = [&s.districts[0], &s.districts[1]];
    let a1 = h.association(d1, "一", 10);
    let a2 = h.association(d2, "二", 10);
    for a in [&a1, &a2] {
        h.registered(a, None);
        for back in [1, 2] {
            h.post(
                Tier::Association,
                Some(&a.0),
                &[],
                mid(now_month.plus(-back)),
                false,
            );
        }
    }
    h.post(Tier::Association, Some(&a2.0), &[], now(), false);

    let dashboard = adoption(&app, &s.staff, now_month).await;
    assert_eq!(district(&dashboard, d1)["active"], true);
    assert_eq!(district(&dashboard, d1)["months_with_posts"], 2);
    assert_eq!(district(&dashboard, d2)["active"], true);
    assert_eq!(district(&dashboard, d2)["months_with_posts"], 3);
}

#[tokio::test]
async fn frozen_months_stay_fixed_when_the_data_changes() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let h = History::new(&app, &s.admin);
    let d1 = &s.districts[0];
    let p = current().plus(-2);
    let x = h.association(d1, "エックス町会", 40);
    for month in [p.plus(-2), p.plus(-1), p] {
        h.post(Tier::Association, Some(&x.0), &[], mid(month), false);
    }
    for _ in 0..4 {
        h.registered(&x, None);
    }

    let taken = snapshot(&app, &s.staff, json!({})).await;
    let outcome_of = |taken: &Value, month: Month| {
        taken["snapshots"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["month"] == month.to_string())
            .map(|t| t["outcome"].clone())
    };
    assert_eq!(outcome_of(&taken, p), Some(json!("frozen")), "{taken}");
    assert_eq!(outcome_of(&taken, current()), Some(json!("provisional")));
    let before = adoption(&app, &s.staff, p).await;
    assert_eq!(district(&before, d1)["active"], true);

    // Later corrections: fewer member households, more registrations and posts back then.
    let path = format!("/api/v1/associations/{}", x.0);
    expect_json(
        app.patch_as(&s.staff, &path, &json!({"member_households": 400}))
            .await,
        200,
    )
    .await;
    let household = h.household(&x, None, false);
    h.member(&household, mid(p));
    h.post(Tier::City, None, &[], mid(p), false);

    let again = snapshot(&app, &s.staff, json!({})).await;
    assert_eq!(
        outcome_of(&again, p),
        None,
        "frozen months are not taken again"
    );
    let by_hand = snapshot(&app, &s.admin, json!({"month": p.to_string()})).await;
    assert_eq!(
        by_hand["snapshots"],
        json!([{"month": p.to_string(), "outcome": "kept"}])
    );

    let after = adoption(&app, &s.staff, p).await;
    assert_eq!(after["districts"], before["districts"]);
    assert_eq!(after["active_districts"], before["active_districts"]);
    assert_eq!(after["computed_at"], before["computed_at"]);
    // The current month sees the correction: 5 of 400 is under 10 %.
    let now_figures = adoption(&app, &s.staff, current()).await;
    let f = &district(&now_figures, d1)["figures"];
    assert_eq!(f["member_households"], 400);
    assert_eq!(f["registered_households"], 5);
    assert_eq!(district(&now_figures, d1)["active"], false);
    let series = now_figures["series"].as_array().unwrap();
    let point = series.iter().find(|m| m["month"] == p.to_string()).unwrap();
    assert_eq!(point["member_households"], 40);
    assert_eq!(point["provisional"], false);
}

fn stored_month(month: Month, active: i32) -> StatsMonth {
    StatsMonth {
        month: month.to_string(),
        finalized: true,
        rule: kairan::db::Json(kairan::domain::Rule {
            months_with_posts: 3,
            min_registered_share: 0.1,
            count_city_posts: false,
        }),
        active_districts: active,
        districts: 64,
        member_households: 143_000,
        registered_households: 20_000,
        computed_at: month.end_utc(),
    }
}

#[tokio::test]
async fn the_projection_extends_the_last_twelve_months_to_the_deadline() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let now_month = current();
    // Only the current month stored: no trend yet.
    let alone = adoption(&app, &s.staff, now_month).await;
    assert_eq!(alone["projection"], Value::Null);
    assert_eq!(alone["on_track"], Value::Null);

    let mut conn = app.db.get().unwrap();
    diesel::delete(stats_months::table)
        .execute(&mut conn)
        .unwrap();
    // An older month off the trend, outside the twelve used.
    diesel::insert_into(stats_months::table)
        .values(stored_month(now_month.plus(-12), 60))
        .execute(&mut conn)
        .unwrap();
    // Two more districts a month over the last twelve: 20, 22, …, 42.
    for i in 0..12 {
        diesel::insert_into(stats_months::table)
            .values(stored_month(
                now_month.plus(i - 11),
                20 + 2 * i32::try_from(i).unwrap(),
            ))
            .execute(&mut conn)
            .unwrap();
    }
    let deadline = Month::parse("2028-03").unwrap();
    let months_left = f64::from(i32::try_from(deadline.ordinal() - now_month.ordinal()).unwrap());
    let dashboard = adoption(&app, &s.staff, now_month).await;
    let projection = &dashboard["projection"];
    assert_eq!(
        projection["method"],
        "least squares over the last 12 months"
    );
    assert_eq!(projection["months_used"], 12);
    assert_eq!(projection["slope_per_month"], 2.0);
    assert_eq!(
        projection["projected_at_deadline"],
        42.0 + 2.0 * months_left
    );
    assert_eq!(projection["on_track"], 42.0 + 2.0 * months_left >= 62.0);
    assert_eq!(dashboard["on_track"], projection["on_track"]);
    assert_eq!(dashboard["series"].as_array().unwrap().len(), 13);
    assert_eq!(dashboard["series"][12]["active_districts"], 42);
    assert_eq!(dashboard["series"][12]["rule"]["months_with_posts"], 3);

    // Flat at 30: short of 62.
    diesel::delete(stats_months::table)
        .execute(&mut conn)
        .unwrap();
    for i in 0..12 {
        diesel::insert_into(stats_months::table)
            .values(stored_month(now_month.plus(i - 11), 30))
            .execute(&mut conn)
            .unwrap();
    }
    let flat = adoption(&app, &s.staff, now_month).await;
    assert_eq!(flat["projection"]["slope_per_month"], 0.0);
    assert_eq!(flat["projection"]["projected_at_deadline"], 30.0);
    assert_eq!(flat["on_track"], false);
}

#[tokio::test]
async fn projects_count_toward_target_three_in_their_fiscal_year() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let year = current().fiscal_year();
    let mut ids = Vec::new();
    for (name, y) in [("防災訓練", year), ("子ども食堂", year), ("清掃", year - 1)] {
        let created = expect_json(
            app.post_as(
                &s.staff,
                "/api/v1/projects",
                &json!({"name": name, "fiscal_year": y, "partners": ["chokai", "npo", "npo"],
                        "description": "町会とNPOの協働"}),
            )
            .await,
            201,
        )
        .await;
        assert_eq!(created["partners"], json!(["chokai", "npo"]));
        ids.push(str_field(&created, "id"));
    }
    let dashboard = adoption(&app, &s.staff, current()).await;
    assert_eq!(
        dashboard["projects"],
        json!({"fiscal_year": year, "current": 2, "baseline": 27, "target": 40,
               "progress": 0.0})
    );

    let path = format!("/api/v1/projects/{}", ids[2]);
    let moved = expect_json(
        app.patch_as(
            &s.staff,
            &path,
            &json!({"fiscal_year": year, "partners": ["students"]}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(moved["partners"], json!(["students"]));
    let this_year = expect_json(
        app.get_as(&s.admin, &format!("/api/v1/projects?fiscal_year={year}"))
            .await,
        200,
    )
    .await;
    assert_eq!(this_year["items"].as_array().unwrap().len(), 3);
    expect_json(
        app.delete_as(&s.staff, &format!("/api/v1/projects/{}", ids[0]))
            .await,
        204,
    )
    .await;
    let dashboard = adoption(&app, &s.staff, current()).await;
    assert_eq!(dashboard["projects"]["current"], 2);
    let gone = app
        .delete_as(&s.staff, &format!("/api/v1/projects/{}", ids[0]))
        .await;
    assert_eq!(gone.status(), 404);
}

#[tokio::test]
async fn the_csv_export_has_a_row_per_district_with_its_figures() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let h = History::new(&app, &s.admin);
    let d1 = &s.districts[0];
    let x = h.association(d1, "エックス町会", 10);
    h.registered(&x, None);
    let month = current().plus(-1);
    h.post(Tier::Association, Some(&x.0), &[], mid(month), false);

    let response = app
        .get_as(
            &s.staff,
            &format!("/api/v1/stats/adoption.csv?month={month}"),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = response.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let header = reader.headers().unwrap().clone();
    assert_eq!(&header[0], "month");
    assert_eq!(&header[6], "member_households");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let listed = expect_json(app.get_as(&s.staff, "/api/v1/districts").await, 200).await;
    assert_eq!(rows.len(), listed["items"].as_array().unwrap().len());
    let code = str_field(&listed["items"][0], "code");
    let row = rows.iter().find(|r| r[1] == code).unwrap();
    assert_eq!(&row[0], month.to_string());
    assert_eq!(&row[3], "false");
    assert_eq!(&row[6], "10");
    assert_eq!(&row[7], "1");
    assert_eq!(&row[8], "0.1");
    assert_eq!(&row[12], "1");
    assert!(row[17].contains("3 months"));

    // One district: a row per association, then the district's own.
    let path = format!("/api/v1/districts/{d1}/stats.csv?month={month}");
    let response = app.get_as(&s.staff, &path).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    assert_eq!(&reader.headers().unwrap()[3], "member_households");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0].iter().take(5).collect::<Vec<_>>(),
        [
            month.to_string().as_str(),
            "association",
            "エックス町会",
            "10",
            "1"
        ]
    );
    assert_eq!(&rows[1][1], "district");
    assert_eq!(&rows[1][13], "false");
}

#[tokio::test]
async fn only_the_city_sees_the_dashboard_and_district_officers_their_own_district() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let personal = city.personal_data();
    let adoption = "/api/v1/stats/adoption".to_string();
    let csv = "/api/v1/stats/adoption.csv".to_string();
    let own = format!("/api/v1/districts/{}/stats", city.district_1);
    let own_csv = format!("/api/v1/districts/{}/stats.csv", city.district_1);
    let other = format!("/api/v1/districts/{}/stats", city.district_2);
    let projects = "/api/v1/projects".to_string();
    //             anon resH1 resH2 hanL1 offA chrA offB offC distO staff admin noHH
    let city_only = [401, 403, 403, 403, 403, 403, 403, 403, 403, 200, 200, 403];
    let district_1 = [401, 403, 403, 403, 403, 403, 403, 403, 200, 200, 200, 403];
    let district_2 = [401, 403, 403, 403, 403, 403, 403, 403, 403, 200, 200, 403];
    let mut failures = Vec::new();
    for (path, row) in [
        (&adoption, city_only),
        (&csv, city_only),
        (&projects, city_only),
        (&own, district_1),
        (&own_csv, district_1),
        (&other, district_2),
    ] {
        for (who, expected) in Who::ALL.iter().zip(row) {
            let response = app.send_as(Method::GET, city.actor(*who), path, None).await;
            let status = response.status().as_u16();
            let body = response.text().await.unwrap();
            if status != expected {
                failures.push(format!(
                    "{} GET {path}: {status}, expected {expected}",
                    who.tag()
                ));
            }
            for secret in &personal {
                if body.contains(secret.as_str()) {
                    failures.push(format!("{} GET {path} shows {secret}", who.tag()));
                }
            }
        }
    }
    for who in Who::ALL {
        let expected = if matches!(who, Who::CityStaff | Who::Admin) {
            200
        } else if who == Who::Anonymous {
            401
        } else {
            403
        };
        let status = app
            .send_as(
                Method::POST,
                city.actor(who),
                "/api/v1/stats/snapshots",
                Some(&json!({})),
            )
            .await
            .status()
            .as_u16();
        if status != expected {
            failures.push(format!(
                "{} POST snapshots: {status}, expected {expected}",
                who.tag()
            ));
        }
    }
    let created = app
        .post_as(
            &city.district_officer,
            "/api/v1/projects",
            &json!({"name": "x", "fiscal_year": 2026, "partners": ["npo"]}),
        )
        .await;
    assert_eq!(created.status(), 403);
    assert!(failures.is_empty(), "{failures:#?}");

    // The district officer sees the associations of their district, by name, and nothing of
    // another district's.
    let mine = expect_json(app.get_as(&city.district_officer, &own).await, 200).await;
    let names: Vec<&str> = mine["associations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["テスト一丁目町会", "テスト二丁目町会"]);
    assert_eq!(mine["district"]["figures"]["member_households"], 240);
    // Households with members: the chair's, the officer's, the 班長's and two residents' in
    // A; officer B's and the district officer's in B.
    assert_eq!(mine["district"]["figures"]["registered_households"], 7);
}

#[tokio::test]
async fn snapshots_need_no_body_and_refuse_a_broken_one() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let url = app.url("/api/v1/stats/snapshots");
    let bare = app
        .client
        .post(&url)
        .bearer_auth(&s.staff.access_token)
        .send()
        .await
        .unwrap();
    let months = |answer: &Value| -> Vec<Value> {
        answer["snapshots"]
            .as_array()
            .unwrap_or_else(|| panic!("{answer}"))
            .iter()
            .map(|m| m["month"].clone())
            .collect()
    };
    let bare = expect_json(bare, 200).await;
    let with_empty_object = snapshot(&app, &s.staff, json!({})).await;
    assert!(
        !months(&bare).is_empty(),
        "the month under way is taken: {bare}"
    );
    assert_eq!(months(&bare), months(&with_empty_object));
    let broken = app
        .client
        .post(&url)
        .bearer_auth(&s.staff.access_token)
        .header("content-type", "application/json")
        .body("{\"month\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), 400);
    assert_eq!(error_code(broken).await, "malformed_json");
    let unknown = app
        .client
        .post(&url)
        .bearer_auth(&s.staff.access_token)
        .header("content-type", "application/json")
        .body("{\"mnth\": \"2026-05\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 422);
    let text = app
        .client
        .post(&url)
        .bearer_auth(&s.staff.access_token)
        .header("content-type", "text/plain")
        .body("month=2026-05")
        .send()
        .await
        .unwrap();
    assert_eq!(text.status(), 415);
}

#[tokio::test]
async fn bad_input_gets_clear_errors_and_changes_nothing() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    for month in ["2026-13", "2026/05", "26-05", "2026-5", "soon"] {
        let response = app
            .get_as(&s.staff, &format!("/api/v1/stats/adoption?month={month}"))
            .await;
        assert_eq!(response.status(), 422, "{month}");
        assert_eq!(error_code(response).await, "invalid_month");
    }
    let future = current().plus(1);
    let response = app
        .get_as(&s.staff, &format!("/api/v1/stats/adoption?month={future}"))
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(error_code(response).await, "invalid_month");
    let response = app
        .post_as(
            &s.staff,
            "/api/v1/stats/snapshots",
            &json!({"month": "2026-00"}),
        )
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(error_code(response).await, "invalid_month");

    let response = app
        .get_as(&s.staff, &format!("/api/v1/districts/{}/stats", new_id()))
        .await;
    assert_eq!(response.status(), 404);
    assert_eq!(error_code(response).await, "not_found");
    let response = app
        .get_as(
            &s.staff,
            &format!("/api/v1/districts/{}/stats?month=2026-99", s.districts[0]),
        )
        .await;
    assert_eq!(response.status(), 422);

    let response = app
        .post_as(
            &s.staff,
            "/api/v1/associations",
            &json!({"district_id": s.districts[0], "name": "負の町会", "member_households": -1}),
        )
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(error_code(response).await, "invalid_input");

    for (body, code) in [
        (
            json!({"name": "x", "fiscal_year": 1999, "partners": ["npo"]}),
            "invalid_input",
        ),
        (
            json!({"name": "x", "fiscal_year": 2026, "partners": []}),
            "invalid_input",
        ),
        (
            json!({"name": " ", "fiscal_year": 2026, "partners": ["npo"]}),
            "invalid_input",
        ),
        (
            json!({"name": "x", "fiscal_year": 2026, "partners": ["bank"]}),
            "invalid_field",
        ),
    ] {
        let response = app.post_as(&s.staff, "/api/v1/projects", &body).await;
        assert_eq!(response.status(), 422, "{body}");
        assert_eq!(error_code(response).await, code, "{body}");
    }
    let response = app
        .patch_as(
            &s.staff,
            &format!("/api/v1/projects/{}", new_id()),
            &json!({"name": "y"}),
        )
        .await;
    assert_eq!(response.status(), 404);
    let listed = expect_json(app.get_as(&s.staff, "/api/v1/projects").await, 200).await;
    assert_eq!(listed["items"], json!([]));
    let associations = expect_json(app.get_as(&s.staff, "/api/v1/associations").await, 200).await;
    assert!(!associations.to_string().contains("負の町会"));
}

#[tokio::test]
async fn a_provisional_month_past_its_72_hours_is_frozen_when_shown() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let h = History::new(&app, &s.admin);
    let x = h.association(&s.districts[0], "エックス町会", 10);
    h.registered(&x, None);
    let p = current().plus(-2);
    // Left behind by a task that stopped while the month was still open.
    let mut stale = stored_month(p, 99);
    stale.finalized = false;
    diesel::insert_into(stats_months::table)
        .values(stale)
        .execute(&mut app.db.get().unwrap())
        .unwrap();

    let shown = adoption(&app, &s.staff, p).await;
    assert_eq!(shown["provisional"], false);
    assert_eq!(shown["active_districts"], 0);
    assert_eq!(
        district(&shown, &s.districts[0])["figures"]["registered_households"],
        1
    );
}

fn safety_of(figures: &Value) -> Value {
    figures["safety"].clone()
}

fn safety(checks: i32, targeted: i32, answered: i32, rate: Option<f64>) -> Value {
    json!({"checks": checks, "households_targeted": targeted,
           "households_answered_72h": answered, "answer_rate_72h": rate})
}

/// The cells of a CSV row under the safety columns.
fn safety_cells(header: &csv::StringRecord, row: &csv::StringRecord) -> Vec<String> {
    [
        "safety_checks",
        "safety_households_targeted",
        "safety_households_answered_72h",
        "safety_answer_rate_72h",
    ]
    .iter()
    .map(|name| {
        let i = header.iter().position(|h| h == *name).unwrap();
        row[i].to_string()
    })
    .collect()
}

fn read_csv(text: &str) -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let mut reader = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let header = reader.headers().unwrap().clone();
    (header, reader.records().map(Result::unwrap).collect())
}

#[tokio::test]
async fn safety_checks_count_households_reached_and_those_answering_within_72_hours() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let h = History::new(&app, &s.admin);
    let [d1, d2] = [&s.districts[0], &s.districts[1]];
    let month = current().plus(-2);
    let t = mid(month);
    let hours = Duration::hours;

    // X: two households in 一班, one without a han, one on paper; Y: two; Z (d2): one.
    let x = h.association(d1, "エックス町会", 10);
    let han = h.han(&x);
    let x1 = h.registered(&x, Some(&han));
    let x2 = h.registered(&x, Some(&han));
    let x3 = h.registered(&x, None);
    let paper = h.household(&x, None, true);
    let y = h.association(d1, "ワイ町会", 5);
    let y1 = h.registered(&y, None);
    let y2 = h.registered(&y, None);
    let z = h.association(d2, "ゼット町会", 5);
    let z1 = h.registered(&z, None);

    // A reaches X's 4 households; 3 answer within 72 hours, the paper one through an officer.
    let a = h.safety_check(Tier::Association, Some(&x.0), &[], t, Some(t + hours(100)));
    h.safety_answer(&a, &x1.0, Some(&x1.1), SafetyStatus::Safe, t + hours(1));
    h.safety_answer(
        &a,
        &x2.0,
        Some(&x2.1),
        SafetyStatus::NeedsHelp,
        t + hours(2),
    );
    // A changed answer keeps the time of the first.
    h.safety_answer(&a, &x2.0, Some(&x2.1), SafetyStatus::Safe, t + hours(80));
    h.safety_answer(&a, &paper, None, SafetyStatus::Safe, t + hours(30));
    h.safety_answer(&a, &x3.0, Some(&x3.1), SafetyStatus::Safe, t + hours(73));
    // A household made after the start is not one the check targeted, answer or not.
    let newcomer = h.household_since(&x, None, false, t + hours(1));
    h.safety_answer(&a, &newcomer, None, SafetyStatus::Safe, t + hours(2));
    // B reaches 一班 only (x1, x2); x1 answers.
    let b_start = t + Duration::days(3);
    let b = h.safety_check(Tier::Association, Some(&x.0), &[&han], b_start, None);
    h.safety_answer(
        &b,
        &x1.0,
        Some(&x1.1),
        SafetyStatus::Safe,
        b_start + hours(1),
    );
    // C reaches district d1 (X's 5 households by then, Y's 2) and closes after 10 hours;
    // an answer stored after the close does not count.
    let c_start = t + Duration::days(6);
    let c = h.safety_check(
        Tier::District,
        Some(d1),
        &[],
        c_start,
        Some(c_start + hours(10)),
    );
    h.safety_answer(
        &c,
        &x3.0,
        Some(&x3.1),
        SafetyStatus::Safe,
        c_start + hours(5),
    );
    h.safety_answer(
        &c,
        &y1.0,
        Some(&y1.1),
        SafetyStatus::Safe,
        c_start + hours(1),
    );
    h.safety_answer(
        &c,
        &y2.0,
        Some(&y2.1),
        SafetyStatus::Safe,
        c_start + hours(11),
    );
    // D: city-wide, in the next month.
    let next = month.plus(1);
    let d = h.safety_check(
        Tier::City,
        None,
        &[],
        mid(next),
        Some(mid(next) + hours(48)),
    );
    h.safety_answer(
        &d,
        &z1.0,
        Some(&z1.1),
        SafetyStatus::Safe,
        mid(next) + hours(3),
    );

    snapshot(&app, &s.staff, json!({})).await;
    let dashboard = adoption(&app, &s.staff, month).await;
    assert_eq!(dashboard["provisional"], false);
    // d1: A, B and C once each; 4 + 2 + 5 targeted in X and 2 in Y; 3 + 1 + 1 and 1 answered.
    let d1_figures = district(&dashboard, d1)["figures"].clone();
    assert_eq!(safety_of(&d1_figures), safety(3, 13, 6, Some(0.4615)));
    assert_eq!(
        safety_of(&district(&dashboard, d2)["figures"]),
        safety(0, 0, 0, None),
        "no check ran in d2"
    );

    let path = format!("/api/v1/districts/{d1}/stats?month={month}");
    let mine = expect_json(app.get_as(&s.staff, &path).await, 200).await;
    assert_eq!(mine["district"]["figures"], d1_figures);
    let of = |name: &str| {
        let found = mine["associations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .unwrap();
        safety_of(&found["figures"])
    };
    assert_eq!(of("エックス町会"), safety(3, 11, 5, Some(0.4545)));
    assert_eq!(of("ワイ町会"), safety(1, 2, 1, Some(0.5)));
    let point = |view: &Value, m: Month| {
        let found = view["series"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["month"] == m.to_string())
            .unwrap();
        safety_of(&found["figures"])
    };
    assert_eq!(point(&mine, month), safety(3, 13, 6, Some(0.4615)));
    assert_eq!(point(&mine, month.plus(-1)), safety(0, 0, 0, None));

    // The next month holds D alone: none of d1's 7 households answered, d2's one did.
    let later = adoption(&app, &s.staff, next).await;
    assert_eq!(
        safety_of(&district(&later, d1)["figures"]),
        safety(1, 7, 0, Some(0.0))
    );
    assert_eq!(
        safety_of(&district(&later, d2)["figures"]),
        safety(1, 1, 1, Some(1.0))
    );

    // Both CSVs carry the same figures in their last columns.
    let text = app
        .get_as(
            &s.staff,
            &format!("/api/v1/stats/adoption.csv?month={month}"),
        )
        .await
        .text()
        .await
        .unwrap();
    let (header, rows) = read_csv(&text);
    let code = |d: &str| str_field(district(&dashboard, d), "code");
    let row = |code: String| rows.iter().find(|r| r[1] == code).unwrap().clone();
    assert_eq!(
        safety_cells(&header, &row(code(d1))),
        ["3", "13", "6", "0.4615"]
    );
    assert_eq!(safety_cells(&header, &row(code(d2))), ["0", "0", "0", ""]);
    let text = app
        .get_as(
            &s.staff,
            &format!("/api/v1/districts/{d1}/stats.csv?month={month}"),
        )
        .await
        .text()
        .await
        .unwrap();
    let (header, rows) = read_csv(&text);
    let x_row = rows.iter().find(|r| &r[2] == "エックス町会").unwrap();
    assert_eq!(safety_cells(&header, x_row), ["3", "11", "5", "0.4545"]);
    assert_eq!(
        safety_cells(&header, rows.last().unwrap()),
        ["3", "13", "6", "0.4615"]
    );

    // The month is frozen: an answer stored later, even one dated inside C's hours, changes
    // nothing, by the task or by hand.
    h.safety_answer(
        &c,
        &y2.0,
        Some(&y2.1),
        SafetyStatus::Safe,
        c_start + hours(2),
    );
    h.safety_answer(&b, &x2.0, Some(&x2.1), SafetyStatus::Safe, now());
    snapshot(&app, &s.staff, json!({})).await;
    let kept = snapshot(&app, &s.admin, json!({"month": month.to_string()})).await;
    assert_eq!(kept["snapshots"][0]["outcome"], "kept");
    let after = adoption(&app, &s.staff, month).await;
    assert_eq!(after["districts"], dashboard["districts"]);

    // An operator who redoes the month (record 27) deletes its row; the safety rows go with
    // it, and the month is computed again with the answer dated inside C's hours.
    let conn = &mut *app.db.get().unwrap();
    diesel::delete(stats_months::table.find(month.to_string()))
        .execute(conn)
        .unwrap();
    let left: i64 = stats_district_safety_months::table
        .filter(stats_district_safety_months::month.eq(month.to_string()))
        .count()
        .get_result(conn)
        .unwrap();
    assert_eq!(left, 0);
    let redone = adoption(&app, &s.staff, month).await;
    assert_eq!(
        safety_of(&district(&redone, d1)["figures"]),
        safety(3, 13, 7, Some(0.5385))
    );
}

#[tokio::test]
async fn the_answer_rate_of_a_check_under_way_follows_its_snapshots_and_shows_counts_only() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let started = expect_json(
        app.post_as(
            &city.officer_a,
            "/api/v1/safety-checks",
            &json!({"scope": {"kind": "association", "id": city.association_a},
                    "message": "地震がありました。ご無事ですか。"}),
        )
        .await,
        201,
    )
    .await;
    let check = str_field(&started, "id");
    let answers = format!("/api/v1/safety-checks/{check}/answers");
    // A's 6 households (the chair's and the officer's own, 一班's three, 二班's one): a
    // resident, the 班長 who needs help, and the paper household through the officer.
    for (by, body) in [
        (&city.resident_h1, json!({"status": "safe"})),
        (
            &city.han_leader_h1,
            json!({"status": "needs_help", "note": "薬が切れそうです"}),
        ),
        (
            &city.officer_a,
            json!({"status": "safe", "household_id": city.household_h1_paper}),
        ),
    ] {
        expect_json(app.post_as(by, &answers, &body).await, 204).await;
    }
    let taken = snapshot(&app, &city.staff, json!({})).await;
    assert!(taken.to_string().contains("provisional"), "{taken}");

    let own = format!("/api/v1/districts/{}/stats", city.district_1);
    let shown = expect_json(app.get_as(&city.district_officer, &own).await, 200).await;
    assert_eq!(shown["provisional"], true);
    assert_eq!(
        safety_of(&shown["district"]["figures"]),
        safety(1, 6, 3, Some(0.5))
    );
    let by_name = |view: &Value, name: &str| {
        let found = view["associations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .unwrap();
        safety_of(&found["figures"])
    };
    assert_eq!(
        by_name(&shown, "テスト一丁目町会"),
        safety(1, 6, 3, Some(0.5))
    );
    assert_eq!(by_name(&shown, "テスト二丁目町会"), safety(0, 0, 0, None));

    // The dashboard reads the stored month: a new answer shows after the next snapshot.
    expect_json(
        app.post_as(&city.resident_h2, &answers, &json!({"status": "safe"}))
            .await,
        204,
    )
    .await;
    let dashboard = adoption(&app, &city.staff, current()).await;
    let figures = &district(&dashboard, &city.district_1)["figures"];
    assert_eq!(safety_of(figures), safety(1, 6, 3, Some(0.5)));
    snapshot(&app, &city.staff, json!({})).await;
    let response = app
        .get_as(
            &city.staff,
            &format!("/api/v1/stats/adoption?month={}", current()),
        )
        .await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let dashboard: Value = serde_json::from_str(&text).unwrap();
    let figures = &district(&dashboard, &city.district_1)["figures"];
    assert_eq!(safety_of(figures), safety(1, 6, 4, Some(0.6667)));
    assert_eq!(
        safety_of(&district(&dashboard, &city.district_2)["figures"]),
        safety(0, 0, 0, None)
    );
    // Counts and rates only: no household, member, note or check.
    for secret in city
        .personal_data()
        .into_iter()
        .chain(["薬が切れそうです".to_string(), check.clone()])
    {
        assert!(!text.contains(&secret), "the dashboard shows {secret}");
    }
}

#[tokio::test]
async fn a_month_frozen_before_safety_checks_were_counted_shows_none() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let h = History::new(&app, &s.admin);
    h.association(&s.districts[0], "エックス町会", 10);
    let p = current().plus(-3);
    // Stored by a version without the safety tables: the month row and its districts only.
    let conn = &mut *app.db.get().unwrap();
    diesel::insert_into(stats_months::table)
        .values(stored_month(p, 0))
        .execute(conn)
        .unwrap();
    diesel::insert_into(kairan::db::schema::stats_district_months::table)
        .values(kairan::db::models::StatsDistrictMonth {
            month: p.to_string(),
            district_id: DistrictId(s.districts[0].clone()),
            active: false,
            months_with_posts: 0,
            associations: 1,
            member_households: 10,
            registered_households: 0,
            active_households: 0,
            posts_city: 0,
            posts_district: 0,
            posts_association: 0,
            expected_receipts: 0,
            reads_72h: 0,
            expected_confirmations: 0,
            confirmations_72h: 0,
            paper_households_served: 0,
        })
        .execute(conn)
        .unwrap();

    let shown = adoption(&app, &s.staff, p).await;
    let figures = &district(&shown, &s.districts[0])["figures"];
    assert_eq!(figures["member_households"], 10);
    assert_eq!(figures["safety"], Value::Null, "not counted, not zero");
    let text = app
        .get_as(&s.staff, &format!("/api/v1/stats/adoption.csv?month={p}"))
        .await
        .text()
        .await
        .unwrap();
    let (header, rows) = read_csv(&text);
    assert_eq!(safety_cells(&header, &rows[0]), ["", "", "", ""]);
}
