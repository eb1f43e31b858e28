//! The demo city's generator: districts' associations, hans, households and members with
//! their roles and push subscriptions, then months of circulars with their reads,
//! confirmations and survey answers, then past safety checks with their answers, all drawn
//! from one seeded random sequence and written with multi-row INSERTs in large transactions.

use chrono::{Datelike, Duration, NaiveDateTime};
use diesel::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

use super::names;
use super::{DemoLogin, DemoReport, Scale};
use crate::db::AnyConnection;
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
use crate::domain::Audience as Reach;
use crate::domain::fiscal_year;
use crate::domain::{
    AssociationId, Category, DistrictId, HanId, HouseholdId, MemberId, PostId, PostStatus,
    Priority, PushSubscriptionId, QuestionId, QuestionKind, Role, RoleAssignmentId, SafetyCheckId,
    SafetyStatus, Tier,
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

    fn community(&mut self, districts: Vec<DistrictRow>) -> anyhow::Result<()> {
        let scale = self.scale;
        let bar = self.bar(u64::try_from(scale.households)?, "households");
        let towns_per_area = self.split(scale.associations, districts.len(), 3);
        let homes_per_town = self.split(scale.households, scale.associations, 8);
        // One in `paper_every` households gets printed circulars; the rest have 1 or 2 members.
        let online = scale.households - scale.households * scale.paper_percent / 100;
        let extra_member = (scale.members as f64 / online as f64 - 1.0).clamp(0.0, 1.0);

        let staff_at = self.start;
        let city = self.new_member(None, Some("city"), "金沢市 市民協働推進課".into(), staff_at);
        self.grant(&city, Role::CityStaff, None, staff_at);
        self.known("city", "city_staff", "金沢市".into());
        let admin = self.new_member(None, Some("admin"), "管理者".into(), staff_at);
        self.grant(&admin, Role::Admin, None, staff_at);
        self.known("admin", "admin", "金沢市".into());
        self.city_staff = Some(city);

        for (d, district) in districts.into_iter().enumerate() {
            let adopted = self.adoption(d);
            let first = self.towns.len();
            for t in 0..towns_per_area[d] {
                let homes = homes_per_town[self.towns.len()];
                let town = self.town(&district, d, t, homes, adopted, extra_member)?;
                self.towns.push(town);
                bar.inc(u64::try_from(homes)?);
                if self.pending.rows() >= FLUSH_ROWS {
                    self.flush()?;
                }
            }
            // The district's officer is the chair of its second association (or its first).
            let officer = self
                .towns
                .get(first + 1)
                .or(self.towns.get(first))
                .map(|t| t.chair.clone());
            if let Some(officer) = &officer {
                self.grant(
                    officer,
                    Role::DistrictOfficer,
                    Some(district.id.0.clone()),
                    adopted,
                );
            }
            self.areas.push(Area {
                id: district.id,
                name: district.name,
                adopted,
                towns: first..self.towns.len(),
                officer,
            });
        }
        self.report.districts = self.areas.len();
        bar.finish();
        self.flush()
    }

    fn town(
        &mut self,
        district: &DistrictRow,
        d: usize,
        t: usize,
        homes: usize,
        adopted: NaiveDateTime,
        extra_member: f64,
    ) -> anyhow::Result<Town> {
        let id = AssociationId(self.id_at(adopted));
        let name = names::association_name(&district.name, t);
        let member_households = i32::try_from(homes)?;
        self.pending.associations.push(Association {
            id: id.clone(),
            district_id: district.id.clone(),
            name: name.clone(),
            name_kana: None,
            member_households,
            // Kanazawa's membership rate is 68.3 %.
            area_households: Some(member_households * 1000 / 683),
            archived: false,
            created_at: adopted,
            updated_at: adopted,
        });
        let han_count = homes.div_ceil(HAN_SIZE).max(2);
        let han_ids: Vec<HanId> = (0..han_count)
            .map(|h| {
                let han = HanId(self.id_at(adopted));
                self.pending.hans.push(Han {
                    id: han.clone(),
                    association_id: id.clone(),
                    name: format!("{}班", h + 1),
                    created_at: adopted,
                });
                han
            })
            .collect();
        self.report.hans += han_count;

        let mut town_homes = Vec::with_capacity(homes);
        for n in 0..homes {
            let han = n * han_count / homes;
            // The last household of each han is its 班長's.
            let leads_han = n + 1 == homes || (n + 1) * han_count / homes != han;
            // Those who hold a role (chair, officer, 班長) are online and registered first.
            let holds_role = n < 2 || leads_han;
            let paper =
                n > 2 && !holds_role && self.chance(self.scale.paper_percent as f64 / 100.0);
            let home_id = HouseholdId(self.id_at(adopted));
            let surname = self.pick(names::SURNAMES);
            self.pending.households.push(Household {
                id: home_id.clone(),
                association_id: id.clone(),
                han_id: Some(han_ids[han].clone()),
                label: format!("{surname}家"),
                paper,
                created_at: adopted,
                updated_at: adopted,
            });
            self.report.households += 1;
            let mut people = Vec::new();
            if paper {
                self.report.paper_households += 1;
            } else {
                let count = 1 + usize::from(self.chance(extra_member));
                for k in 0..count {
                    // The others registered over the first half of the time since.
                    let at = if holds_role || n == 2 {
                        adopted
                    } else {
                        let half = adopted + (self.anchor - adopted) / 2;
                        self.random_moment(adopted, half)
                    };
                    let login = match (d, t, n, k, han) {
                        (0, 0, 0, 0, _) => Some("chair"),
                        (0, 0, 1, 0, _) => Some("officer"),
                        (0, 0, 2, 0, _) => Some("resident"),
                        (0, 0, _, 0, 0) if leads_han => Some("hanchou"),
                        (0, 1, 0, 0, _) => Some("district"),
                        _ => None,
                    };
                    let display = self.person_name(surname);
                    let member = self.new_member(Some(&home_id), login, display, at);
                    self.grant(&member, Role::Resident, Some(id.0.clone()), at);
                    people.push((member, at));
                }
                people.sort_by_key(|(_, at)| *at);
            }
            town_homes.push(Home {
                id: home_id,
                han,
                paper,
                members: people,
            });
        }

        let first_member = |n: usize| town_homes[n].members[0].0.clone();
        let chair = first_member(0);
        let officer = first_member(1);
        self.grant(&chair, Role::Chair, Some(id.0.clone()), adopted);
        self.grant(&officer, Role::Officer, Some(id.0.clone()), adopted);
        let mut han_leaders = Vec::with_capacity(han_count);
        for (h, han) in han_ids.iter().enumerate() {
            let last = (0..homes)
                .rev()
                .find(|n| n * han_count / homes == h)
                .unwrap_or(0);
            let leader = first_member(last);
            self.grant(&leader, Role::HanLeader, Some(han.0.clone()), adopted);
            han_leaders.push(leader);
        }
        match (d, t) {
            (0, 0) => {
                self.known("chair", "chair", name.clone());
                self.known("officer", "officer", name.clone());
                self.known("hanchou", "han_leader", format!("{name} 1班"));
                self.known("resident", "resident", format!("{name} 1班"));
            }
            (0, 1) => self.known(
                "district",
                "district_officer",
                format!("{}校下 ({name} 町会長)", district.name),
            ),
            _ => {}
        }
        Ok(Town {
            id,
            adopted,
            hans: han_ids,
            homes: town_homes,
            chair,
            officer,
            han_leaders,
        })
    }

    /// Push subscriptions at the loopback push service, one a member in turn (so some
    /// members have two devices). Keys are real P-256 points derived from the seed.
    fn subscriptions(&mut self) -> anyhow::Result<()> {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let wanted = self.scale.subscriptions;
        if wanted == 0 {
            return Ok(());
        }
        let mut keys = Vec::with_capacity(64);
        while keys.len() < 64 {
            let mut secret = [0u8; 32];
            self.rng.fill_bytes(&mut secret);
            let Ok(secret) = p256::SecretKey::from_slice(&secret) else {
                continue;
            };
            let point = p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(
                &secret.public_key(),
                false,
            );
            let mut auth = [0u8; 16];
            self.rng.fill_bytes(&mut auth);
            keys.push((
                URL_SAFE_NO_PAD.encode(point.as_bytes()),
                URL_SAFE_NO_PAD.encode(auth),
            ));
        }
        let people: Vec<(MemberId, NaiveDateTime)> = self
            .towns
            .iter()
            .flat_map(|t| t.homes.iter().flat_map(|h| h.members.iter().cloned()))
            .collect();
        if people.is_empty() {
            return Ok(());
        }
        let bar = self.bar(u64::try_from(wanted)?, "push");
        let base = self.push_endpoint.trim_end_matches('/').to_string();
        for i in 0..wanted {
            let (member, at) = &people[i % people.len()];
            let (p256dh, auth) = keys[i % keys.len()].clone();
            let id = PushSubscriptionId(self.id_at(*at));
            self.pending.subscriptions.push(PushSubscription {
                id,
                member_id: member.clone(),
                endpoint: format!("{base}/demo/{i}"),
                p256dh,
                auth,
                created_at: *at,
            });
            if self.pending.rows() >= FLUSH_ROWS {
                self.flush()?;
                bar.set_position(u64::try_from(i)?);
            }
        }
        self.report.subscriptions = wanted;
        bar.finish();
        self.flush()
    }

    /// Month by month: the city's, each district's and each association's circulars once
    /// they use the app, then this month's survey in every association.
    fn circulars(&mut self) -> anyhow::Result<()> {
        let months = self.scale.months;
        let bar = self.bar(u64::from(months) + 1, "circulars");
        for m in 0..months {
            let from = self.start + Duration::days(i64::from(m) * 30);
            let to = (from + Duration::days(30)).min(self.anchor - Duration::hours(1));
            for _ in 0..self.count(self.scale.city_posts_per_month) {
                let at = self.random_moment(from, to);
                self.circular(Audience::City, at, false)?;
            }
            for d in 0..self.areas.len() {
                if self.areas[d].adopted > from {
                    continue;
                }
                for _ in 0..self.count(self.scale.district_posts_per_month) {
                    let at = self.random_moment(from, to);
                    self.circular(Audience::District(d), at, false)?;
                }
            }
            for t in 0..self.towns.len() {
                if self.towns[t].adopted > from {
                    continue;
                }
                for _ in 0..self.count(self.scale.association_posts_per_month) {
                    let at = self.random_moment(from, to);
                    // One in ten goes to a single han.
                    let audience = if self.chance(0.1) {
                        let han = self.rng.random_range(0..self.towns[t].hans.len());
                        Audience::Han(t, han)
                    } else {
                        Audience::Association(t)
                    };
                    self.circular(audience, at, false)?;
                }
            }
            bar.inc(1);
        }
        for t in 0..self.towns.len() {
            let at =
                self.anchor - Duration::days(10) + Duration::minutes(self.rng.random_range(0..600));
            self.circular(Audience::Association(t), at, true)?;
        }
        bar.finish();
        Ok(())
    }

    fn circular(
        &mut self,
        audience: Audience,
        at: NaiveDateTime,
        survey: bool,
    ) -> anyhow::Result<()> {
        let category = if survey {
            Category::Survey
        } else {
            let roll = self.rng.random_range(0..100);
            match (audience, roll) {
                (Audience::City, 0..40) => Category::Disaster,
                (Audience::City, _) => Category::Notice,
                (_, 0..35) => Category::Notice,
                (_, 35..55) => Category::Event,
                (_, 55..75) => Category::Garbage,
                (_, 75..85) => Category::Disaster,
                (_, 85..95) => Category::Recruitment,
                _ => Category::Other,
            }
        };
        let priority = if category == Category::Disaster && self.chance(0.4) {
            Priority::Urgent
        } else {
            Priority::Normal
        };
        let requires_confirmation = match category {
            Category::Notice | Category::Disaster | Category::Survey => self.chance(0.7),
            _ => self.chance(0.4),
        };
        let title = self
            .pick(names::titles(category))
            .replace("{m}", &at.month().to_string());
        let (tier, scope_id, author, hans) = match audience {
            Audience::City => (Tier::City, None, self.city_staff.clone(), vec![]),
            Audience::District(d) => (
                Tier::District,
                Some(self.areas[d].id.0.clone()),
                self.areas[d].officer.clone(),
                vec![],
            ),
            Audience::Association(t) => {
                let by_chair = self.chance(0.5);
                let town = &self.towns[t];
                let author = if by_chair { &town.chair } else { &town.officer };
                (
                    Tier::Association,
                    Some(town.id.0.clone()),
                    Some(author.clone()),
                    vec![],
                )
            }
            Audience::Han(t, h) => {
                let town = &self.towns[t];
                (
                    Tier::Association,
                    Some(town.id.0.clone()),
                    Some(town.officer.clone()),
                    vec![town.hans[h].clone()],
                )
            }
        };
        let Some(author) = author else {
            return Ok(());
        };
        let post = Post {
            id: PostId(self.id_at(at)),
            author_id: author,
            tier,
            scope_id,
            title,
            body: names::BODY.to_string(),
            category,
            priority,
            requires_confirmation,
            status: PostStatus::Published,
            published_at: Some(at),
            expires_at: None,
            answers_until: survey.then(|| self.anchor + Duration::days(14)),
            version: 1,
            created_at: at - Duration::hours(1),
            updated_at: at,
        };
        for key in post.audience(&hans).keys() {
            self.pending.audiences.push(PostAudience {
                scope_key: key,
                published_at: at,
                post_id: post.id.clone(),
                expires_at: None,
            });
        }
        for han in &hans {
            self.pending.post_hans.push(PostHan {
                post_id: post.id.clone(),
                han_id: han.clone(),
            });
        }
        let questions = if survey {
            self.questions(&post)
        } else {
            Vec::new()
        };
        let post_id = post.id.clone();
        self.pending.posts.push(post);
        self.report.posts += 1;

        let towns = match audience {
            Audience::City => 0..self.towns.len(),
            Audience::District(d) => self.areas[d].towns.clone(),
            Audience::Association(t) | Audience::Han(t, _) => t..t + 1,
        };
        let only_han = match audience {
            Audience::Han(_, h) => Some(h),
            _ => None,
        };
        for t in towns {
            for n in 0..self.towns[t].homes.len() {
                if only_han.is_some_and(|h| self.towns[t].homes[n].han != h) {
                    continue;
                }
                self.receipt(&post_id, at, t, n, tier, requires_confirmation, &questions);
            }
        }
        if self.pending.rows() >= FLUSH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn questions(&mut self, post: &Post) -> Vec<SurveyQuestion> {
        let specs: [(QuestionKind, &str, &[&str], bool); 3] = [
            (
                QuestionKind::SingleChoice,
                "参加しますか",
                &["参加する", "参加しない", "未定"],
                true,
            ),
            (QuestionKind::Number, "参加人数", &[], false),
            (QuestionKind::ShortText, "ご意見・ご要望", &[], false),
        ];
        let questions: Vec<SurveyQuestion> = specs
            .iter()
            .enumerate()
            .map(
                |(position, (kind, prompt, options, required))| SurveyQuestion {
                    id: QuestionId(self.id_at(post.created_at)),
                    post_id: post.id.clone(),
                    position: i32::try_from(position).unwrap_or(0),
                    kind: *kind,
                    prompt: (*prompt).to_string(),
                    options: serde_json::to_string(options).unwrap_or_else(|_| "[]".into()),
                    required: *required,
                },
            )
            .collect();
        self.pending.questions.extend(questions.iter().cloned());
        questions
    }

    /// Whether and when household `n` of town `t` read and confirmed a circular.
    #[allow(clippy::too_many_arguments)]
    fn receipt(
        &mut self,
        post: &PostId,
        at: NaiveDateTime,
        t: usize,
        n: usize,
        tier: Tier,
        requires_confirmation: bool,
        questions: &[SurveyQuestion],
    ) {
        let home = &self.towns[t].homes[n];
        if home.paper {
            // The 班長 hands the printed circular over and records the confirmation.
            if tier == Tier::Association && requires_confirmation && self.chance(0.7) {
                let when = at + Duration::minutes(self.rng.random_range(600..7200));
                if when <= self.anchor {
                    let household_id = self.towns[t].homes[n].id.clone();
                    let leader = self.towns[t].han_leaders[self.towns[t].homes[n].han].clone();
                    self.pending.receipts.push(HouseholdReceipt {
                        post_id: post.clone(),
                        household_id,
                        read_at: Some(when),
                        confirmed_at: Some(when),
                        paper_recorded_by: Some(leader),
                    });
                    self.report.reads += 1;
                    self.report.confirmations += 1;
                }
            }
            return;
        }
        let registered = home
            .members
            .iter()
            .take_while(|(_, since)| *since <= at)
            .count();
        if registered == 0 || !self.chance(0.8) {
            return;
        }
        let reader = self.rng.random_range(0..registered);
        // Most open a circular within hours, some days later: 1 minute to 3 days, log-uniform.
        let delay = (self.rng.random::<f64>() * 4320f64.ln()).exp();
        let read_at = at + Duration::minutes(delay as i64);
        if read_at > self.anchor {
            return;
        }
        let confirmed_at = (requires_confirmation && self.chance(0.85))
            .then(|| read_at + Duration::seconds(self.rng.random_range(5..600)))
            .filter(|when| *when <= self.anchor);
        let home = &self.towns[t].homes[n];
        let household_id = home.id.clone();
        let member_id = home.members[reader].0.clone();
        self.pending.reads.push(PostRead {
            post_id: post.clone(),
            member_id: member_id.clone(),
            household_id: household_id.clone(),
            read_at,
            confirmed_at,
        });
        self.pending.receipts.push(HouseholdReceipt {
            post_id: post.clone(),
            household_id: household_id.clone(),
            read_at: Some(read_at),
            confirmed_at,
            paper_recorded_by: None,
        });
        self.report.reads += 1;
        self.report.confirmations += usize::from(confirmed_at.is_some());
        if let [attend, head_count, _] = questions
            && self.chance(0.7)
        {
            let choice = self.rng.random_range(0..3);
            let mut answers = serde_json::Map::new();
            answers.insert(attend.id.0.clone(), serde_json::json!({"choice": choice}));
            if choice == 0 {
                let people = self.rng.random_range(1..5);
                answers.insert(
                    head_count.id.0.clone(),
                    serde_json::json!({"number": people}),
                );
            }
            self.pending.responses.push(SurveyResponse {
                post_id: post.clone(),
                household_id,
                member_id,
                answers: serde_json::Value::Object(answers).to_string(),
                answered_at: read_at,
            });
            self.report.survey_answers += 1;
        }
    }

    /// Past safety checks, all closed: each district's 防災訓練 once a year, about six weeks
    /// ago, and the city-wide check after an earthquake when the scale has one.
    fn safety_checks(&mut self) -> anyhow::Result<()> {
        if self.scale.earthquake_days_ago > 0 {
            let at = self.anchor - Duration::days(i64::from(self.scale.earthquake_days_ago))
                + Duration::minutes(self.rng.random_range(0..1440));
            let message = names::EARTHQUAKE_MESSAGE.to_string();
            self.safety_check(Audience::City, at, Duration::hours(72), message)?;
        }
        for year in 0..i64::from(self.scale.drill_years) {
            for d in 0..self.areas.len() {
                // Districts take turns over a week; drills start at 10:00 JST (01:00 UTC).
                let day = 45 + 364 * year - i64::try_from(d % 7)?;
                let at = self.anchor - Duration::days(day) + Duration::hours(1);
                if self.areas[d].adopted > at {
                    continue;
                }
                let message = names::DRILL_MESSAGE.replace("{d}", &self.areas[d].name);
                self.safety_check(Audience::District(d), at, Duration::hours(48), message)?;
            }
        }
        Ok(())
    }

    /// One closed check and its answers, from the households its audience had when it
    /// started (a district that did not use the app yet is not asked).
    fn safety_check(
        &mut self,
        audience: Audience,
        started: NaiveDateTime,
        open_for: Duration,
        message: String,
    ) -> anyhow::Result<()> {
        let (tier, scope_id, starter, towns) = match audience {
            Audience::City => (
                Tier::City,
                None,
                self.city_staff.clone(),
                0..self.towns.len(),
            ),
            Audience::District(d) => (
                Tier::District,
                Some(self.areas[d].id.0.clone()),
                self.areas[d].officer.clone(),
                self.areas[d].towns.clone(),
            ),
            Audience::Association(_) | Audience::Han(..) => return Ok(()),
        };
        let Some(starter) = starter else {
            return Ok(());
        };
        let closes = (started + open_for).min(self.anchor);
        let check = SafetyCheck {
            id: SafetyCheckId(self.id_at(started)),
            started_by: starter.clone(),
            tier,
            scope_id,
            message,
            started_at: started,
            closed_at: Some(closes),
            closed_by: Some(starter),
        };
        let reach = Reach {
            tier,
            scope_id: check.scope_id.as_deref(),
            hans: &[],
        };
        for key in reach.keys() {
            self.pending.check_audiences.push(SafetyCheckAudience {
                scope_key: key,
                safety_check_id: check.id.clone(),
            });
        }
        let id = check.id.clone();
        self.pending.checks.push(check);
        self.report.safety_checks += 1;
        for t in towns {
            if self.towns[t].adopted > started {
                continue;
            }
            for n in 0..self.towns[t].homes.len() {
                self.safety_answer(&id, started, closes, t, n);
            }
        }
        if self.pending.rows() >= FLUSH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    /// Whether, when and how household `n` of town `t` answered a check.
    fn safety_answer(
        &mut self,
        check: &SafetyCheckId,
        started: NaiveDateTime,
        closes: NaiveDateTime,
        t: usize,
        n: usize,
    ) {
        let (paper, han) = (self.towns[t].homes[n].paper, self.towns[t].homes[n].han);
        let (answered_by, on_behalf, when) = if paper {
            // The 班長 or an officer visits and answers for the household.
            if !self.chance(0.9) {
                return;
            }
            let visitor = if self.chance(0.5) {
                self.towns[t].officer.clone()
            } else {
                self.towns[t].han_leaders[han].clone()
            };
            // Visits begin a couple of hours in and go on while the check is open.
            let span = (closes - started).num_minutes().max(121);
            let when = started + Duration::minutes(self.rng.random_range(120..span));
            (visitor, true, when)
        } else {
            let registered = self.towns[t].homes[n]
                .members
                .iter()
                .take_while(|(_, since)| *since <= started)
                .count();
            if registered == 0 || !self.chance(0.85) {
                return;
            }
            let who = self.rng.random_range(0..registered);
            // Most answer within the hour, some the next day: 1 minute to 30 hours, log-uniform.
            let delay = (self.rng.random::<f64>() * 1800f64.ln()).exp();
            let member = self.towns[t].homes[n].members[who].0.clone();
            (member, false, started + Duration::minutes(delay as i64))
        };
        if when > closes {
            return;
        }
        let (status, note) = if self.chance(0.04) {
            let note = self.pick(names::HELP_NOTES).to_string();
            (SafetyStatus::NeedsHelp, Some(note))
        } else {
            (SafetyStatus::Safe, None)
        };
        let answer = SafetyAnswer {
            safety_check_id: check.clone(),
            household_id: self.towns[t].homes[n].id.clone(),
            status,
            note,
            answered_by,
            on_behalf,
            answered_at: when,
        };
        let history_id = self.id_at(when);
        self.pending.answer_history.push(SafetyAnswerRecord {
            id: history_id,
            safety_check_id: answer.safety_check_id.clone(),
            household_id: answer.household_id.clone(),
            status: answer.status,
            note: answer.note.clone(),
            answered_by: answer.answered_by.clone(),
            on_behalf: answer.on_behalf,
            answered_at: answer.answered_at,
        });
        self.pending.answers.push(answer);
        self.report.safety_answers += 1;
    }

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
