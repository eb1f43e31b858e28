//! The `dashboard` scenario: `GET /api/v1/stats/adoption` over an existing, city-sized
//! database (KAIRAN_BENCH_DATA_DIR for SQLite, or KAIRAN_BENCH_DATABASE_URL), such as one
//! filled by `kairan demo --scale kanazawa`. It times taking the current month's snapshot
//! (the background task's work), then the endpoint one request at a time and under load.
//! KAIRAN_BENCH_DASHBOARD_FILL=1 first fills a Kanazawa-shaped city itself (62 districts,
//! 1,346 associations, 144,000 households, a year of circulars, three months of reads).

use std::sync::Arc;
use std::time::Instant;

use chrono::Duration as Span;
use diesel::prelude::*;
use kairan::configuration::Settings;
use kairan::db::models::{Association, Han, Household, HouseholdReceipt, Member, Post, PostRead};
use kairan::db::queries::stats::{Rule, snapshot_month};
use kairan::db::schema::{
    associations, districts, hans, household_receipts, households, members, post_reads, posts,
};
use kairan::db::{AnyConnection, now};
use kairan::domain::*;
use kairan::startup::Application;

use crate::{PASSWORD, drive};

pub async fn run(settings: Settings, backend: &str) {
    let app = Application::build(settings.clone()).await.unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    let db = app.db();
    tokio::spawn(app.run_until_stopped());
    let hash = kairan::auth::password::hash_password(
        &settings.password,
        &secrecy::SecretString::from(PASSWORD),
    )
    .unwrap();
    let login = format!("dashboard-{}@bench.example.jp", kairan::db::new_id());
    let (fill, staff_login) = (
        std::env::var("KAIRAN_BENCH_DASHBOARD_FILL").is_ok_and(|v| v == "1"),
        login.clone(),
    );
    let rule = Rule::from(&settings.stats);
    let db_for_setup = db.clone();
    let snapshot_secs = tokio::task::spawn_blocking(move || {
        let conn = &mut *db_for_setup.get().unwrap();
        let staff = kairan::db::queries::accounts::create_staff(
            conn,
            &Login::parse(&staff_login).unwrap(),
            "ベンチ",
            &hash,
            Role::CityStaff,
            None,
        )
        .unwrap();
        if fill {
            let started = Instant::now();
            fill_kanazawa(conn, &staff.id);
            eprintln!("filled in {:.1} s", started.elapsed().as_secs_f64());
        }
        let started = Instant::now();
        snapshot_month(conn, Month::containing(now()), rule, now()).unwrap();
        started.elapsed().as_secs_f64()
    })
    .await
    .unwrap();

    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(crate::CONNECTIONS)
        .build()
        .unwrap();
    let tokens: serde_json::Value = client
        .post(format!("{address}/api/v1/auth/login"))
        .json(&serde_json::json!({"login": login, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = Arc::new(tokens["access_token"].as_str().unwrap().to_string());
    let url = format!("{address}/api/v1/stats/adoption");

    let mut sequential = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        let response = client
            .get(&url)
            .bearer_auth(token.as_str())
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        let _ = response.bytes().await;
        sequential.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    sequential.sort_by(f64::total_cmp);
    let under_load = drive(&client, reqwest::Method::GET, url, token).await;
    println!("backend: {backend}");
    println!("current month's snapshot taken in {snapshot_secs:.2} s (the background task's work)");
    println!("| dashboard | p50 ms | p99 ms | max ms |");
    println!("| --- | ---: | ---: | ---: |");
    println!(
        "| one at a time (200) | {:.2} | {:.2} | {:.2} |",
        sequential[100], sequential[197], sequential[199]
    );
    println!(
        "| {} connections: {:.0} req/s, {} errors | {:.2} | {:.2} | {:.2} |",
        crate::CONNECTIONS,
        under_load.throughput(),
        under_load.errors,
        under_load.percentile_ms(0.50),
        under_load.percentile_ms(0.99),
        under_load.percentile_ms(1.0)
    );
}

/// An association, its district, and its households with a member.
type Registered = (AssociationId, DistrictId, Vec<(HouseholdId, MemberId)>);

/// 62 districts × ~22 associations (1,346) × 5 hans, 107 households each (144,022; one in
/// 30 on paper), a member in 15–75 % of them depending on the district; each association
/// posts 4 circulars a month, each district 2 and the city 2, for twelve months; members read
/// half of the last three months' circulars within a day.
fn fill_kanazawa(conn: &mut AnyConnection, author: &MemberId) {
    let t0 = now() - Span::days(400);
    let district_ids: Vec<DistrictId> = districts::table
        .filter(districts::archived.eq(false))
        .order(districts::code.asc())
        .select(districts::id)
        .limit(62)
        .load(conn)
        .unwrap();
    let mut registered: Vec<Registered> = Vec::new();
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        for a in 0..1346usize {
            let district = district_ids[a % district_ids.len()].clone();
            let share = 15 + (a % district_ids.len()) * 60 / district_ids.len();
            let association = Association {
                id: AssociationId::generate(),
                district_id: district.clone(),
                name: format!("町会{a}"),
                name_kana: None,
                member_households: 107,
                area_households: None,
                archived: false,
                created_at: t0,
                updated_at: t0,
            };
            diesel::insert_into(associations::table)
                .values(&association)
                .execute(conn)?;
            let han_ids: Vec<HanId> = (0..5)
                .map(|h| {
                    let han = Han {
                        id: HanId::generate(),
                        association_id: association.id.clone(),
                        name: format!("{h}班"),
                        created_at: t0,
                    };
                    diesel::insert_into(hans::table)
                        .values(&han)
                        .execute(conn)?;
                    Ok(han.id)
                })
                .collect::<QueryResult<_>>()?;
            let mut members_of = Vec::new();
            for n in 0..107usize {
                let household = Household {
                    id: HouseholdId::generate(),
                    association_id: association.id.clone(),
                    han_id: Some(han_ids[n % 5].clone()),
                    label: format!("世帯{a}-{n}"),
                    paper: n % 30 == 0,
                    created_at: t0,
                    updated_at: t0,
                };
                diesel::insert_into(households::table)
                    .values(&household)
                    .execute(conn)?;
                if n * 100 / 107 < share && !household.paper {
                    let member = Member {
                        id: MemberId::generate(),
                        household_id: Some(household.id.clone()),
                        login: format!("m{a}-{n}@fill.example.jp"),
                        password_hash: "-".into(),
                        display_name: "住民".into(),
                        disabled: false,
                        created_at: t0,
                        updated_at: t0,
                    };
                    diesel::insert_into(members::table)
                        .values(&member)
                        .execute(conn)?;
                    members_of.push((household.id, member.id));
                }
            }
            registered.push((association.id, district, members_of));
        }
        Ok(())
    })
    .unwrap();

    let month_now = Month::containing(now());
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        for back in 0..12i64 {
            let month = month_now.plus(-back);
            let day = |d: i64| month.start_utc() + Span::days(d) + Span::hours(1);
            let reads = back < 3;
            let mut publish = |tier: Tier,
                               scope: Option<String>,
                               at,
                               readers: &mut dyn Iterator<Item = &(HouseholdId, MemberId)>|
             -> QueryResult<()> {
                if at > now() {
                    return Ok(());
                }
                let post = Post {
                    id: PostId::generate(),
                    author_id: author.clone(),
                    tier,
                    scope_id: scope,
                    title: "回覧".into(),
                    body: "本文".into(),
                    category: Category::Notice,
                    priority: Priority::Normal,
                    requires_confirmation: true,
                    status: PostStatus::Published,
                    published_at: Some(at),
                    expires_at: None,
                    answers_until: None,
                    version: 1,
                    created_at: at,
                    updated_at: at,
                };
                diesel::insert_into(posts::table)
                    .values(&post)
                    .execute(conn)?;
                if reads {
                    for (i, (household, member)) in readers.enumerate() {
                        if i % 2 == 1 {
                            continue;
                        }
                        let read_at = at + Span::hours(2);
                        diesel::insert_into(post_reads::table)
                            .values(PostRead {
                                post_id: post.id.clone(),
                                member_id: member.clone(),
                                household_id: household.clone(),
                                read_at,
                                confirmed_at: Some(read_at),
                            })
                            .execute(conn)?;
                        diesel::insert_into(household_receipts::table)
                            .values(HouseholdReceipt {
                                post_id: post.id.clone(),
                                household_id: household.clone(),
                                read_at: Some(read_at),
                                confirmed_at: Some(read_at),
                                paper_recorded_by: None,
                            })
                            .execute(conn)?;
                    }
                }
                Ok(())
            };
            for d in [3, 17] {
                publish(
                    Tier::City,
                    None,
                    day(d),
                    &mut registered.iter().flat_map(|r| r.2.iter()),
                )?;
            }
            for district in &district_ids {
                for d in [5, 19] {
                    publish(
                        Tier::District,
                        Some(district.0.clone()),
                        day(d),
                        &mut registered
                            .iter()
                            .filter(|r| &r.1 == district)
                            .flat_map(|r| r.2.iter()),
                    )?;
                }
            }
            for (association, _, members_of) in &registered {
                for d in [1, 8, 15, 22] {
                    publish(
                        Tier::Association,
                        Some(association.0.clone()),
                        day(d),
                        &mut members_of.iter(),
                    )?;
                }
            }
        }
        Ok(())
    })
    .unwrap();
}
