//! kill -9 at random moments while reads, confirmations, safety answers and new posts run,
//! restart, and check that every write acknowledged with success is stored and (SQLite) the
//! file passes `PRAGMA integrity_check`.
//!
//! Small by default so CI runs it on both backends; for a longer local run:
//! `KAIRAN_CRASH_KILLS=200 KAIRAN_CRASH_WORKERS=8 cargo test --test api crash:: -- --nocapture`
//! (`KAIRAN_CRASH_SEED` repeats a run's random choices).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::Text;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures::str_field;
use crate::helpers::TestDatabase;
use crate::process::{ADMIN_LOGIN, Remote, Served, ServerEnv, Town};

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One write the driver makes. To add a kind (safety-check answers, say): a variant, its
/// request in `Write::send`, and what must be visible afterwards in `Write::verify`.
#[derive(Debug, Clone)]
enum Write {
    Read {
        post: usize,
        resident: usize,
    },
    Confirm {
        post: usize,
        resident: usize,
    },
    /// A new circular under an Idempotency-Key; resent after a crash until it is answered.
    Publish {
        key: String,
    },
    /// A safety-check answer for the resident's household.
    Answer {
        resident: usize,
    },
}

/// Each household always gives the same answer, so the stored one is known whichever of
/// several concurrent answers commits last.
fn safety_status(resident: usize) -> &'static str {
    if resident.is_multiple_of(2) {
        "safe"
    } else {
        "needs_help"
    }
}

#[derive(Debug)]
enum Outcome {
    /// A success status, with the body.
    Acknowledged(Value),
    /// The server answered, but not with success.
    Refused(u16, String),
    /// No answer: the connection broke (the server was killed).
    Lost,
}

struct Driver {
    remote: Remote,
    town: Town,
    posts: Vec<String>,
    safety_check: String,
}

impl Write {
    fn random(rng: &mut StdRng, driver: &Driver, worker: usize, n: usize) -> Self {
        let post = rng.random_range(0..driver.posts.len());
        let resident = rng.random_range(0..driver.town.residents.len());
        match rng.random_range(0..13) {
            0..=3 => Write::Read { post, resident },
            4..=8 => Write::Confirm { post, resident },
            9..=11 => Write::Answer { resident },
            _ => Write::Publish {
                key: format!("crash-{worker}-{n}-{}", rng.random::<u32>()),
            },
        }
    }

    fn request(&self, driver: &Driver) -> reqwest::RequestBuilder {
        let client = &driver.remote.client;
        let url = |path: &str| format!("{}{path}", driver.remote.address);
        match self {
            Write::Read { post, resident } => client
                .post(url(&format!("/api/v1/posts/{}/read", driver.posts[*post])))
                .bearer_auth(&driver.town.residents[*resident].1),
            Write::Confirm { post, resident } => client
                .post(url(&format!(
                    "/api/v1/posts/{}/confirm",
                    driver.posts[*post]
                )))
                .bearer_auth(&driver.town.residents[*resident].1),
            Write::Publish { key } => client
                .post(url("/api/v1/posts"))
                .bearer_auth(&driver.town.officer)
                .header("Idempotency-Key", key)
                .json(
                    &json!({"scope": {"kind": "association", "id": driver.town.association},
                              "title": key, "body": "本文"}),
                ),
            Write::Answer { resident } => client
                .post(url(&format!(
                    "/api/v1/safety-checks/{}/answers",
                    driver.safety_check
                )))
                .bearer_auth(&driver.town.residents[*resident].1)
                .json(&json!({"status": safety_status(*resident)})),
        }
    }

    async fn send(&self, driver: &Driver) -> Outcome {
        let Ok(response) = self.request(driver).send().await else {
            return Outcome::Lost;
        };
        let status = response.status();
        let Ok(text) = response.text().await else {
            return Outcome::Lost;
        };
        if status.is_success() {
            Outcome::Acknowledged(serde_json::from_str(&text).unwrap_or(Value::Null))
        } else {
            Outcome::Refused(status.as_u16(), text)
        }
    }

    /// What an acknowledged write must have left behind.
    async fn verify(&self, driver: &Driver, answer: &Value) {
        let remote = &driver.remote;
        match self {
            Write::Read { post, resident } | Write::Confirm { post, resident } => {
                let path = format!("/api/v1/posts/{}", driver.posts[*post]);
                let token = &driver.town.residents[*resident].1;
                let view = remote
                    .call(Method::GET, Some(token), &path, None, 200)
                    .await;
                assert_eq!(
                    view["read"], true,
                    "{self:?} was acknowledged but is not stored"
                );
                if let Write::Confirm { .. } = self {
                    assert_eq!(
                        view["confirmed"], true,
                        "{self:?} was acknowledged but is not stored"
                    );
                }
            }
            Write::Publish { key } => {
                let path = format!(
                    "/api/v1/posts/{}",
                    answer["id"].as_str().unwrap_or_default()
                );
                let view = remote
                    .call(Method::GET, Some(&driver.town.officer), &path, None, 200)
                    .await;
                assert_eq!(view["title"], key.as_str());
            }
            Write::Answer { resident } => {
                let path = format!("/api/v1/safety-checks/{}", driver.safety_check);
                let token = &driver.town.residents[*resident].1;
                let view = remote
                    .call(Method::GET, Some(token), &path, None, 200)
                    .await;
                assert_eq!(
                    view["answer"]["status"],
                    safety_status(*resident),
                    "{self:?} was acknowledged but is not stored"
                );
            }
        }
    }
}

#[derive(QueryableByName)]
struct IntegrityRow {
    #[diesel(sql_type = Text)]
    integrity_check: String,
}

fn assert_sqlite_intact(database: &TestDatabase) {
    let Some(path) = database.url.strip_prefix("sqlite://") else {
        return;
    };
    let mut conn = diesel::SqliteConnection::establish(path).unwrap();
    let rows: Vec<IntegrityRow> = diesel::sql_query("PRAGMA integrity_check")
        .load(&mut conn)
        .unwrap();
    let found: Vec<_> = rows.into_iter().map(|r| r.integrity_check).collect();
    assert_eq!(found, ["ok"], "PRAGMA integrity_check");
}

type Log = Arc<Mutex<Vec<(Write, Outcome)>>>;

/// Writes and reads in a loop until `stop`; every answer goes to `log`.
async fn work(driver: Arc<Driver>, worker: usize, seed: u64, stop: Arc<AtomicBool>, log: Log) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let write = Write::random(&mut rng, &driver, worker, n);
        let outcome = write.send(&driver).await;
        if let Outcome::Refused(status, text) = &outcome {
            assert!(*status < 500, "{write:?}: {status} {text}");
        }
        let lost = matches!(outcome, Outcome::Lost);
        log.lock().unwrap().push((write, outcome));
        if lost {
            return;
        }
        let token = &driver.town.residents[n % driver.town.residents.len()].1;
        let inbox = driver
            .remote
            .client
            .get(format!(
                "{}/api/v1/me/inbox?limit=20",
                driver.remote.address
            ))
            .bearer_auth(token)
            .send()
            .await;
        match inbox {
            Ok(response) => assert!(
                !response.status().is_server_error(),
                "inbox: {}",
                response.status()
            ),
            Err(_) => return,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_write_survives_kill_9() {
    let kills = env_number("KAIRAN_CRASH_KILLS", 20);
    let workers = env_number("KAIRAN_CRASH_WORKERS", 4) as usize;
    let seed = env_number("KAIRAN_CRASH_SEED", rand::rng().random());
    println!("crash test: {kills} kills, {workers} workers, KAIRAN_CRASH_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);

    let database = TestDatabase::fresh();
    let env = ServerEnv::new(database.data_dir.path(), &database.url);
    env.create_admin(ADMIN_LOGIN);
    let remote = Remote::new(env.address());
    let served = Served::start(&env).await;
    let town = Town::build(&remote, 6).await;
    let mut posts = Vec::new();
    for n in 0..4 {
        posts.push(town.publish(&remote, &format!("回覧{n}")).await);
    }
    let check = json!({"scope": {"kind": "association", "id": town.association},
                       "message": "地震がありました。ご無事ですか。"});
    let safety_check = str_field(
        &remote
            .call(
                Method::POST,
                Some(&town.officer),
                "/api/v1/safety-checks",
                Some(&check),
                201,
            )
            .await,
        "id",
    );
    let driver = Arc::new(Driver {
        remote,
        town,
        posts,
        safety_check,
    });

    let log: Log = Arc::default();
    let mut served = Some(served);
    for _ in 0..kills {
        let running = match served.take() {
            Some(running) => running,
            None => Served::start(&env).await,
        };
        let stop = Arc::new(AtomicBool::new(false));
        let tasks: Vec<_> = (0..workers)
            .map(|worker| {
                tokio::spawn(work(
                    driver.clone(),
                    worker,
                    rng.random(),
                    stop.clone(),
                    log.clone(),
                ))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(rng.random_range(20..400))).await;
        running.kill9();
        stop.store(true, Ordering::Relaxed);
        for task in tasks {
            task.await.unwrap();
        }
        assert_sqlite_intact(&database);
    }

    let served = Served::start(&env).await;
    let entries = std::mem::take(&mut *log.lock().unwrap());
    let mut acknowledged = 0;
    let mut lost = 0;
    for (write, outcome) in &entries {
        match outcome {
            Outcome::Acknowledged(answer) => {
                acknowledged += 1;
                write.verify(&driver, answer).await;
            }
            Outcome::Lost => {
                lost += 1;
                // A client retries a lost creation with its key: never a second post.
                if let Write::Publish { .. } = write {
                    match write.send(&driver).await {
                        Outcome::Acknowledged(answer) => write.verify(&driver, &answer).await,
                        Outcome::Refused(409, text) => {
                            assert!(text.contains("idempotency_key_in_use"), "{text}")
                        }
                        other => panic!("{write:?} retried: {other:?}"),
                    }
                }
            }
            Outcome::Refused(..) => {}
        }
    }
    println!("crash test: {acknowledged} acknowledged writes verified, {lost} lost in a kill");
    assert!(acknowledged > 0, "the load made acknowledged writes");

    // No key made two circulars, acknowledged or not.
    let conn = &mut *database.connection();
    let titles: Vec<String> = kairan::db::schema::posts::table
        .select(kairan::db::schema::posts::title)
        .filter(kairan::db::schema::posts::title.like("crash-%"))
        .load(conn)
        .unwrap();
    let mut unique = titles.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        titles.len(),
        "a creation was carried out twice"
    );

    served.kill9();
    assert_sqlite_intact(&database);
}
