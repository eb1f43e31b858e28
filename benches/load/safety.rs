//! `safety`: every household of a Kanazawa-size city answers a city-wide safety check as fast
//! as a separate `kairan` process (release binary, SQLite, `synchronous = FULL`) takes the
//! answers; then, on a second check, the server is killed with SIGKILL in the middle and the
//! answers it acknowledged are counted against the answers stored.
//!
//! Sizes by environment: KAIRAN_BENCH_SAFETY_HOUSEHOLDS (default 144,000),
//! KAIRAN_BENCH_SAFETY_CONNECTIONS (default 64), KAIRAN_BENCH_SAFETY_KILL_AT (acknowledged
//! answers before the kill; default half the households).

use std::collections::HashSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use kairan::auth::JwtKeys;
use kairan::configuration::{AppEnvironment, SqliteSynchronous, load};
use kairan::db::models::{Association, Han, Household, Member, RoleAssignment};
use kairan::db::schema::{
    associations, hans, households, members, role_assignments, safety_answers,
};
use kairan::db::{AnyConnection, DatabaseUrl, Db, now};
use kairan::domain::*;

/// Households per association, about Kanazawa's 144,294 over 1,346 町会.
const HOUSEHOLDS_PER_ASSOCIATION: usize = 107;
const HANS_PER_ASSOCIATION: usize = 5;

struct Resident {
    household: HouseholdId,
    token: String,
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The city: associations over the seeded districts, hans, one member per household, and
/// a city staff member who starts the checks. Returns member ids in household order, and
/// the staff member's id.
fn populate(conn: &mut AnyConnection, n: usize) -> (Vec<(MemberId, HouseholdId)>, MemberId) {
    const CHUNK: usize = 2000;
    let t0 = now();
    let districts: Vec<DistrictId> = kairan::db::schema::districts::table
        .select(kairan::db::schema::districts::id)
        .load(conn)
        .unwrap();
    let staff = MemberId::generate();
    let mut people = Vec::with_capacity(n);
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        let mut homes = Vec::with_capacity(n);
        let mut residents = Vec::with_capacity(n);
        for a in 0..n.div_ceil(HOUSEHOLDS_PER_ASSOCIATION) {
            let association = Association {
                id: AssociationId::generate(),
                district_id: districts[a % districts.len()].clone(),
                name: format!("安否町会{a}"),
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
            let han_ids: Vec<HanId> = (0..HANS_PER_ASSOCIATION)
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
            let start = a * HOUSEHOLDS_PER_ASSOCIATION;
            for i in start..(start + HOUSEHOLDS_PER_ASSOCIATION).min(n) {
                let home = Household {
                    id: HouseholdId::generate(),
                    association_id: association.id.clone(),
                    han_id: Some(han_ids[i % HANS_PER_ASSOCIATION].clone()),
                    label: format!("世帯{i}"),
                    paper: false,
                    created_at: t0,
                    updated_at: t0,
                };
                residents.push(Member {
                    id: MemberId::generate(),
                    household_id: Some(home.id.clone()),
                    login: format!("anpi{i}@bench.example.jp"),
                    password_hash: "unused: tokens are minted".into(),
                    display_name: format!("住民{i}"),
                    disabled: false,
                    created_at: t0,
                    updated_at: t0,
                });
                homes.push(home);
            }
        }
        for chunk in homes.chunks(CHUNK) {
            kairan::with_backend!(conn,
                pg(c) => diesel::insert_into(households::table).values(chunk).execute(c),
                sqlite(c) => diesel::insert_into(households::table).values(chunk).execute(c),
            )?;
        }
        for chunk in residents.chunks(CHUNK) {
            kairan::with_backend!(conn,
                pg(c) => diesel::insert_into(members::table).values(chunk).execute(c),
                sqlite(c) => diesel::insert_into(members::table).values(chunk).execute(c),
            )?;
        }
        diesel::insert_into(members::table)
            .values(Member {
                id: staff.clone(),
                household_id: None,
                login: "anpi-staff@city.example.jp".into(),
                password_hash: "unused: tokens are minted".into(),
                display_name: "市民協働推進課".into(),
                disabled: false,
                created_at: t0,
                updated_at: t0,
            })
            .execute(conn)?;
        diesel::insert_into(role_assignments::table)
            .values(RoleAssignment {
                id: RoleAssignmentId::generate(),
                member_id: staff.clone(),
                role: Role::CityStaff,
                scope_id: None,
                term_year: 2026,
                granted_by: None,
                started_at: t0,
                ended_at: None,
            })
            .execute(conn)?;
        people = residents
            .into_iter()
            .zip(homes)
            .map(|(m, h)| (m.id, h.id))
            .collect();
        Ok(())
    })
    .unwrap();
    (people, staff)
}

/// The `kairan` binary serving the prepared data folder; killed when dropped.
struct Server {
    child: Child,
    address: String,
}

impl Server {
    fn start(data_dir: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_kairan"))
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("KAIRAN_SERVER__DATA_DIR", data_dir)
            .env("KAIRAN_SERVER__BIND", format!("127.0.0.1:{port}"))
            .env("KAIRAN_DATABASE__SQLITE_SYNCHRONOUS", "full")
            .env("KAIRAN_PUSH__WORKER", "false")
            .env("KAIRAN_LOG__FILTER", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("kairan starts");
        Self {
            child,
            address: format!("http://127.0.0.1:{port}"),
        }
    }

    /// SIGKILL: no graceful stop, nothing flushed that was not already committed.
    fn kill_9(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("the server is gone");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

async fn wait_until_ready(client: &reqwest::Client, address: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let ready = client
            .get(format!("{address}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("kairan did not come up");
}

async fn start_check(client: &reqwest::Client, address: &str, staff_token: &str) -> String {
    let response = client
        .post(format!("{address}/api/v1/safety-checks"))
        .bearer_auth(staff_token)
        .json(&serde_json::json!({"scope": {"kind": "city"},
                                  "message": "地震がありました。ご無事ですか。"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let created: serde_json::Value = response.json().await.unwrap();
    created["id"].as_str().unwrap().to_string()
}

struct Run {
    acknowledged: Vec<usize>,
    latencies_us: Vec<u64>,
    errors: usize,
    elapsed: Duration,
}

/// Every resident answers once, `connections` at a time. With `kill_at`, the server is
/// killed once that many answers have been acknowledged; the run goes on until every
/// resident has tried (the rest fail to connect).
async fn answer_all(
    client: &reqwest::Client,
    server: Arc<Mutex<Server>>,
    address: &str,
    check: &str,
    residents: Arc<Vec<Resident>>,
    connections: usize,
    kill_at: Option<usize>,
) -> Run {
    let next = Arc::new(AtomicUsize::new(0));
    let acked_count = Arc::new(AtomicUsize::new(0));
    let url = Arc::new(format!("{address}/api/v1/safety-checks/{check}/answers"));
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let (client, next, acked_count, url, residents, server) = (
                client.clone(),
                next.clone(),
                acked_count.clone(),
                url.clone(),
                residents.clone(),
                server.clone(),
            );
            tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                let mut latencies = Vec::new();
                let mut errors = 0;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(resident) = residents.get(i) else {
                        break;
                    };
                    let body = if i % 20 == 0 {
                        serde_json::json!({"status": "needs_help", "note": "家具が倒れて出られません"})
                    } else {
                        serde_json::json!({"status": "safe"})
                    };
                    let sent = Instant::now();
                    let response = client
                        .post(url.as_str())
                        .bearer_auth(&resident.token)
                        .json(&body)
                        .send()
                        .await;
                    latencies.push(u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX));
                    match response {
                        Ok(r) if r.status().as_u16() == 204 => {
                            acknowledged.push(i);
                            let acked = acked_count.fetch_add(1, Ordering::Relaxed) + 1;
                            if kill_at == Some(acked) {
                                server.lock().unwrap().kill_9();
                            }
                        }
                        _ => errors += 1,
                    }
                }
                (acknowledged, latencies, errors)
            })
        })
        .collect();
    let mut run = Run {
        acknowledged: Vec::new(),
        latencies_us: Vec::new(),
        errors: 0,
        elapsed: Duration::ZERO,
    };
    for task in tasks {
        let (acknowledged, latencies, errors) = task.await.unwrap();
        run.acknowledged.extend(acknowledged);
        run.latencies_us.extend(latencies);
        run.errors += errors;
    }
    run.elapsed = started.elapsed();
    run.latencies_us.sort_unstable();
    run
}

fn percentile_ms(sorted_us: &[u64], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let index = ((sorted_us.len() - 1) as f64 * p).round() as usize;
    sorted_us[index] as f64 / 1000.0
}

pub fn run() {
    let n = env_number("KAIRAN_BENCH_SAFETY_HOUSEHOLDS", 144_000);
    let connections = env_number("KAIRAN_BENCH_SAFETY_CONNECTIONS", 64);
    let kill_at = env_number("KAIRAN_BENCH_SAFETY_KILL_AT", n / 2).clamp(1, n);
    let temp = tempfile::tempdir().unwrap();
    let data_dir = std::env::var_os("KAIRAN_BENCH_DATA_DIR")
        .map_or_else(|| temp.path().to_path_buf(), Into::into);
    let mut settings = load(AppEnvironment::Local, Path::new("config"), false).unwrap();
    settings.server.data_dir = data_dir.clone();
    settings.database.url = String::new();
    settings.database.sqlite_synchronous = SqliteSynchronous::Full;
    // Tokens must outlive both runs; the server checks only signature and expiry.
    settings.auth.access_ttl_secs = 4 * 3600;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let seeded = Instant::now();
        let db: Db = kairan::startup::prepare_database(settings.clone(), true)
            .await
            .unwrap();
        let (people, staff) = {
            let db = db.clone();
            tokio::task::spawn_blocking(move || populate(&mut db.get().unwrap(), n))
                .await
                .unwrap()
        };
        drop(db);
        let keys = JwtKeys::load(&settings.auth, &data_dir).unwrap();
        let residents: Arc<Vec<Resident>> = Arc::new(
            people
                .into_iter()
                .map(|(member, household)| Resident {
                    household,
                    token: keys.issue(&member, 0).unwrap(),
                })
                .collect(),
        );
        let staff_token = keys.issue(&staff, 0).unwrap();
        eprintln!(
            "populated {n} households and minted their tokens in {:.1} s",
            seeded.elapsed().as_secs_f64()
        );

        let client = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(connections)
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let server = Arc::new(Mutex::new(Server::start(&data_dir)));
        let address = server.lock().unwrap().address.clone();
        wait_until_ready(&client, &address).await;

        println!(
            "safety: {n} households, {connections} connections, SQLite synchronous=FULL, a separate release `kairan` process"
        );
        println!();
        println!("| run | answers | answers/s | p50 ms | p99 ms | max ms | errors |");
        println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        let check = start_check(&client, &address, &staff_token).await;
        let full = answer_all(
            &client,
            server.clone(),
            &address,
            &check,
            residents.clone(),
            connections,
            None,
        )
        .await;
        println!(
            "| every household answers | {} | {:.0} | {:.2} | {:.2} | {:.2} | {} |",
            full.acknowledged.len(),
            full.acknowledged.len() as f64 / full.elapsed.as_secs_f64(),
            percentile_ms(&full.latencies_us, 0.50),
            percentile_ms(&full.latencies_us, 0.99),
            percentile_ms(&full.latencies_us, 1.0),
            full.errors
        );

        let second = start_check(&client, &address, &staff_token).await;
        let killed = answer_all(
            &client,
            server.clone(),
            &address,
            &second,
            residents.clone(),
            connections,
            Some(kill_at),
        )
        .await;
        println!(
            "| kill -9 after {kill_at} acknowledged | {} | {:.0} | {:.2} | {:.2} | {:.2} | {} |",
            killed.acknowledged.len(),
            killed.acknowledged.len() as f64 / killed.elapsed.as_secs_f64(),
            percentile_ms(&killed.latencies_us, 0.50),
            percentile_ms(&killed.latencies_us, 0.99),
            percentile_ms(&killed.latencies_us, 1.0),
            killed.errors
        );

        // Reopen the database the killed server left behind (WAL recovery included).
        let url = DatabaseUrl::Sqlite(data_dir.join("kairan.sqlite3"));
        let db = Db::connect(url, &settings.database).unwrap();
        let stored: HashSet<HouseholdId> = safety_answers::table
            .filter(safety_answers::safety_check_id.eq(SafetyCheckId(second.clone())))
            .select(safety_answers::household_id)
            .load::<HouseholdId>(&mut db.get().unwrap())
            .unwrap()
            .into_iter()
            .collect();
        let lost = killed
            .acknowledged
            .iter()
            .filter(|&&i| !stored.contains(&residents[i].household))
            .count();
        println!();
        println!(
            "kill -9: {} answers acknowledged, {} stored, {lost} acknowledged answers lost",
            killed.acknowledged.len(),
            stored.len()
        );
        assert_eq!(lost, 0, "an acknowledged answer was lost");
    });
}
