//! The demo city's generator: districts' associations, hans, households and members with
//! their roles and push subscriptions, then months of circulars with their reads,
//! confirmations and survey answers, then past safety checks with their answers, all drawn
//! from one seeded random sequence and written with multi-row INSERTs in large transactions.

use chrono::{Datelike, Duration, NaiveDateTime};
use diesel::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

mod circulars;
mod community;
mod safety;

use super::names;
use super::{DemoLogin, DemoReport, Scale};
use crate::db::models::{
    Association, Han, Household, HouseholdReceipt, Member, Post, PostAudience, PostHan, PostRead,
    PushSubscription, RoleAssignment, SafetyAnswer, SafetyAnswerRecord, SafetyCheck,
    SafetyCheckAudience, SurveyQuestion, SurveyResponse,
};
use crate::db::schema::{
    associations, hans, household_receipts, households, members, post_audiences, post_hans,
    post_reads, posts, push_subscriptions, role_assignments, safety_answer_history, safety_answers,
    safety_check_audiences, safety_checks, survey_questions, survey_responses,
};
use crate::db::{AnyConnection, Json};
use crate::domain::Audience as Reach;
use crate::domain::fiscal_year;
use crate::domain::{
    Answer, Answers, AssociationId, Category, DistrictId, HanId, HouseholdId, MemberId, PostId,
    PostStatus, Priority, PushSubscriptionId, QuestionId, QuestionKind, Role, RoleAssignmentId,
    SafetyCheckId, SafetyStatus, Tier,
};

/// Rows buffered before one transaction writes them.
const FLUSH_ROWS: usize = 50_000;
/// Rows per INSERT statement: 16 columns × 1,000 stays under SQLite's 32,766 parameters.
const ROWS_PER_STATEMENT: usize = 1_000;
const HAN_SIZE: usize = 10;
const LOGIN_DOMAIN: &str = "demo.kairan.example";

/// A district as the database has it.
pub struct DistrictRow {
    pub id: DistrictId,
    pub name: String,
}

struct Home {
    id: HouseholdId,
    han: usize,
    paper: bool,
    /// Registered members, earliest first.
    members: Vec<(MemberId, NaiveDateTime)>,
}

struct Town {
    id: AssociationId,
    adopted: NaiveDateTime,
    hans: Vec<HanId>,
    homes: Vec<Home>,
    chair: MemberId,
    officer: MemberId,
    han_leaders: Vec<MemberId>,
}

struct Area {
    id: DistrictId,
    name: String,
    adopted: NaiveDateTime,
    towns: std::ops::Range<usize>,
    officer: Option<MemberId>,
}

#[derive(Default)]
struct Pending {
    associations: Vec<Association>,
    hans: Vec<Han>,
    households: Vec<Household>,
    members: Vec<Member>,
    roles: Vec<RoleAssignment>,
    subscriptions: Vec<PushSubscription>,
    posts: Vec<Post>,
    post_hans: Vec<PostHan>,
    audiences: Vec<PostAudience>,
    questions: Vec<SurveyQuestion>,
    reads: Vec<PostRead>,
    receipts: Vec<HouseholdReceipt>,
    responses: Vec<SurveyResponse>,
    checks: Vec<SafetyCheck>,
    check_audiences: Vec<SafetyCheckAudience>,
    answers: Vec<SafetyAnswer>,
    answer_history: Vec<SafetyAnswerRecord>,
}

impl Pending {
    fn rows(&self) -> usize {
        self.associations.len()
            + self.hans.len()
            + self.households.len()
            + self.members.len()
            + self.roles.len()
            + self.subscriptions.len()
            + self.posts.len()
            + self.post_hans.len()
            + self.audiences.len()
            + self.questions.len()
            + self.reads.len()
            + self.receipts.len()
            + self.responses.len()
            + self.checks.len()
            + self.check_audiences.len()
            + self.answers.len()
            + self.answer_history.len()
    }
}

/// Multi-row INSERTs of a slice, in statements of ROWS_PER_STATEMENT rows (MultiConnection
/// has no multi-row insert, so each backend runs its own).
macro_rules! insert_all {
    ($conn:expr, $table:expr, $rows:expr) => {{
        let mut written = 0;
        for chunk in $rows.chunks(ROWS_PER_STATEMENT) {
            written += crate::with_backend!($conn,
                pg(c) => diesel::insert_into($table).values(chunk).execute(c),
                sqlite(c) => diesel::insert_into($table).values(chunk).execute(c),
            )?;
        }
        $rows.clear();
        written
    }};
}

pub struct Builder<'a> {
    conn: &'a mut AnyConnection,
    rng: StdRng,
    scale: &'a Scale,
    /// Today, 00:00 UTC: every date is drawn before it, so a seed gives the same city all day.
    anchor: NaiveDateTime,
    start: NaiveDateTime,
    password_hash: &'a str,
    push_endpoint: &'a str,
    progress: bool,
    pending: Pending,
    report: DemoReport,
    areas: Vec<Area>,
    towns: Vec<Town>,
    city_staff: Option<MemberId>,
    members_made: usize,
}

impl<'a> Builder<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        conn: &'a mut AnyConnection,
        scale: &'a Scale,
        seed: u64,
        anchor: NaiveDateTime,
        password_hash: &'a str,
        push_endpoint: &'a str,
        progress: bool,
    ) -> Self {
        let start = anchor - Duration::days(i64::from(scale.months) * 30);
        Self {
            conn,
            rng: StdRng::seed_from_u64(seed),
            scale,
            anchor,
            start,
            password_hash,
            push_endpoint,
            progress,
            pending: Pending::default(),
            report: DemoReport::default(),
            areas: Vec::new(),
            towns: Vec::new(),
            city_staff: None,
            members_made: 0,
        }
    }

    pub fn build(mut self, districts: Vec<DistrictRow>) -> anyhow::Result<DemoReport> {
        self.community(districts)?;
        self.subscriptions()?;
        self.circulars()?;
        self.safety_checks()?;
        self.flush()?;
        Ok(self.report)
    }

    fn bar(&self, length: u64, message: &'static str) -> ProgressBar {
        if !self.progress {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(length).with_message(message);
        if let Ok(style) =
            ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} ({elapsed}, {eta} left)")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    }

    /// A UUIDv7 for a moment, its random part from the seed: ids sort by time as usual.
    fn id_at(&mut self, at: NaiveDateTime) -> String {
        let mut random = [0u8; 10];
        self.rng.fill_bytes(&mut random);
        let millis = u64::try_from(at.and_utc().timestamp_millis()).unwrap_or(0);
        uuid::Builder::from_unix_timestamp_millis(millis, &random)
            .into_uuid()
            .to_string()
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random::<f64>() < p
    }

    /// A whole number of events whose mean is `rate`.
    fn count(&mut self, rate: f64) -> usize {
        let whole = rate.floor();
        let base = whole as usize;
        base + usize::from(self.chance(rate - whole))
    }

    fn pick<'s>(&mut self, items: &'s [&'s str]) -> &'s str {
        items[self.rng.random_range(0..items.len())]
    }

    /// `total` split over `parts` with ±70 % variation, each at least `min`.
    fn split(&mut self, total: usize, parts: usize, min: usize) -> Vec<usize> {
        let weights: Vec<f64> = (0..parts)
            .map(|_| 0.3 + 1.4 * self.rng.random::<f64>())
            .collect();
        let sum: f64 = weights.iter().sum();
        let spare = total.saturating_sub(min * parts) as f64;
        let mut sizes: Vec<usize> = weights
            .iter()
            .map(|w| min + (spare * w / sum).floor() as usize)
            .collect();
        let short = total.saturating_sub(sizes.iter().sum());
        for i in 0..short {
            sizes[i % parts] += 1;
        }
        sizes
    }

    fn random_moment(&mut self, from: NaiveDateTime, to: NaiveDateTime) -> NaiveDateTime {
        let span = (to - from).num_minutes().max(1);
        from + Duration::minutes(self.rng.random_range(0..span))
    }

    fn person_name(&mut self, surname: &str) -> String {
        let given = self.pick(names::GIVEN_NAMES);
        format!("{surname} {given}")
    }

    fn new_member(
        &mut self,
        home: Option<&HouseholdId>,
        login: Option<&str>,
        display_name: String,
        at: NaiveDateTime,
    ) -> MemberId {
        self.members_made += 1;
        let login = login.map_or_else(
            || format!("m{:06}@{LOGIN_DOMAIN}", self.members_made),
            |name| format!("{name}@{LOGIN_DOMAIN}"),
        );
        let id = MemberId(self.id_at(at));
        self.pending.members.push(Member {
            id: id.clone(),
            household_id: home.cloned(),
            login,
            password_hash: self.password_hash.to_string(),
            display_name,
            disabled: false,
            created_at: at,
            updated_at: at,
        });
        self.report.members += 1;
        id
    }

    fn grant(&mut self, member: &MemberId, role: Role, scope: Option<String>, at: NaiveDateTime) {
        let id = RoleAssignmentId(self.id_at(at));
        self.pending.roles.push(RoleAssignment {
            id,
            member_id: member.clone(),
            role,
            scope_id: scope,
            term_year: fiscal_year(self.anchor),
            granted_by: None,
            started_at: at,
            ended_at: None,
        });
    }

    fn known(&mut self, name: &str, role: &'static str, place: String) {
        self.report.logins.push(DemoLogin {
            login: format!("{name}@{LOGIN_DOMAIN}"),
            role,
            place,
        });
    }

    /// The first `baseline_districts` use the app from the start; the others join one by one
    /// until four fifths of the span, as the city's target foresees.
    fn adoption(&self, district: usize) -> NaiveDateTime {
        let Scale {
            districts,
            baseline_districts,
            ..
        } = *self.scale;
        if district < baseline_districts || districts <= baseline_districts {
            return self.start;
        }
        let span = (self.anchor - self.start).num_minutes() * 4 / 5;
        let step = i64::try_from(district - baseline_districts + 1).unwrap_or(1);
        let steps = i64::try_from(districts - baseline_districts).unwrap_or(1);
        self.start + Duration::minutes(span * step / steps)
    }
}

impl Builder<'_> {
    /// Writes what is buffered in one transaction, parents before children.
    fn flush(&mut self) -> anyhow::Result<()> {
        let pending = &mut self.pending;
        self.conn
            .transaction::<_, diesel::result::Error, _>(|conn| {
                insert_all!(conn, associations::table, pending.associations);
                insert_all!(conn, hans::table, pending.hans);
                insert_all!(conn, households::table, pending.households);
                insert_all!(conn, members::table, pending.members);
                insert_all!(conn, role_assignments::table, pending.roles);
                insert_all!(conn, push_subscriptions::table, pending.subscriptions);
                insert_all!(conn, posts::table, pending.posts);
                insert_all!(conn, post_hans::table, pending.post_hans);
                insert_all!(conn, post_audiences::table, pending.audiences);
                insert_all!(conn, survey_questions::table, pending.questions);
                insert_all!(conn, post_reads::table, pending.reads);
                insert_all!(conn, household_receipts::table, pending.receipts);
                insert_all!(conn, survey_responses::table, pending.responses);
                insert_all!(conn, safety_checks::table, pending.checks);
                insert_all!(conn, safety_check_audiences::table, pending.check_audiences);
                insert_all!(conn, safety_answers::table, pending.answers);
                insert_all!(conn, safety_answer_history::table, pending.answer_history);
                Ok(())
            })?;
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum Audience {
    City,
    District(usize),
    Association(usize),
    Han(usize, usize),
}
