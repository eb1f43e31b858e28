//! Several `kairan serve` processes sharing one PostgreSQL database (issue 16). These tests
//! need PostgreSQL: without KAIRAN_TEST_DATABASE_URL they say so and pass without running.

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use reqwest::Method;

use crate::fixtures::{ADMIN_PASSWORD, str_field};
use crate::helpers::TestDatabase;
use crate::process::{ADMIN_LOGIN, Remote, Served, ServerEnv};

/// A fresh PostgreSQL database, or `None` (with a note) when the run has none.
pub fn postgres_database(test: &str) -> Option<TestDatabase> {
    let database = TestDatabase::fresh();
    if database.is_postgres() {
        Some(database)
    } else {
        eprintln!("skipped {test}: it needs PostgreSQL; set KAIRAN_TEST_DATABASE_URL to run it");
        None
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

pub fn count(url: &str, sql: &str) -> i64 {
    let mut conn = PgConnection::establish(url).unwrap();
    diesel::sql_query(sql)
        .get_result::<Count>(&mut conn)
        .unwrap()
        .n
}

/// `count` of instances, each with a data folder of its own, on one database.
pub fn instance_envs(database: &TestDatabase, count: usize) -> Vec<(tempfile::TempDir, ServerEnv)> {
    (0..count)
        .map(|_| {
            let dir = tempfile::tempdir().unwrap();
            let env = ServerEnv::new(dir.path(), &database.url);
            (dir, env)
        })
        .collect()
}

#[tokio::test]
async fn three_instances_started_at_once_share_one_schema_and_their_keys() {
    let Some(database) = postgres_database("three_instances_started_at_once") else {
        return;
    };
    let envs = instance_envs(&database, 3);
    // Spawned together; each waits for its own /readyz.
    let (a, b, c) = tokio::join!(
        Served::start(&envs[0].1),
        Served::start(&envs[1].1),
        Served::start(&envs[2].1)
    );
    let migrations = std::fs::read_dir("migrations/postgres").unwrap().count();
    let applied = count(
        &database.url,
        "SELECT count(*) AS n FROM __diesel_schema_migrations",
    );
    assert_eq!(applied, i64::try_from(migrations).unwrap());
    assert_eq!(
        count(&database.url, "SELECT count(*) AS n FROM jwt_keys"),
        1
    );
    assert_eq!(
        count(&database.url, "SELECT count(*) AS n FROM server_secrets"),
        2,
        "the VAPID key and the mail links' key"
    );
    let districts = count(&database.url, "SELECT count(*) AS n FROM districts");
    let distinct = count(
        &database.url,
        "SELECT count(DISTINCT code) AS n FROM districts",
    );
    assert!(districts > 0);
    assert_eq!(districts, distinct, "the district list was loaded once");
    for (dir, _) in &envs {
        assert!(!dir.path().join("jwt-keys.json").exists());
        assert!(!dir.path().join("vapid-private-key").exists());
        assert!(!dir.path().join("link-key").exists());
    }

    let remotes: Vec<Remote> = envs.iter().map(|(_, e)| Remote::new(e.address())).collect();
    let mut public_keys = Vec::new();
    for remote in &remotes {
        let key = remote
            .call(
                Method::GET,
                None,
                "/api/v1/push/vapid-public-key",
                None,
                200,
            )
            .await;
        public_keys.push(str_field(&key, "public_key"));
    }
    assert!(
        public_keys.windows(2).all(|w| w[0] == w[1]),
        "{public_keys:?}"
    );

    // A token signed by one instance is accepted by the others.
    envs[0].1.create_admin(ADMIN_LOGIN);
    let token = remotes[0].sign_in(ADMIN_LOGIN, ADMIN_PASSWORD).await;
    for remote in &remotes[1..] {
        remote
            .call(Method::GET, Some(&token), "/api/v1/me", None, 200)
            .await;
    }
    drop((a, b, c));
}

#[tokio::test]
async fn an_instance_joining_a_database_made_from_a_data_folder_keeps_its_keys() {
    let Some(database) = postgres_database("joining_keeps_data_folder_keys") else {
        return;
    };
    let envs = instance_envs(&database, 2);
    // The first instance's data folder already holds keys (it ran alone before).
    let vapid = kairan::push::new_private_key().unwrap();
    let expected = kairan::push::VapidKey::from_private_key(&vapid)
        .unwrap()
        .public_key;
    std::fs::write(
        envs[0].0.path().join("vapid-private-key"),
        secrecy::ExposeSecret::expose_secret(&vapid),
    )
    .unwrap();
    let first = Served::start(&envs[0].1).await;
    let second = Served::start(&envs[1].1).await;
    for (_, env) in &envs {
        let key = Remote::new(env.address())
            .call(
                Method::GET,
                None,
                "/api/v1/push/vapid-public-key",
                None,
                200,
            )
            .await;
        assert_eq!(str_field(&key, "public_key"), expected);
    }
    drop((first, second));
}

#[tokio::test]
async fn keys_rotate_adds_a_signing_key_and_keeps_the_old_one_verifying() {
    let Some(database) = postgres_database("keys_rotate") else {
        return;
    };
    let envs = instance_envs(&database, 1);
    let env = &envs[0].1;
    let served = Served::start(env).await;
    env.create_admin(ADMIN_LOGIN);
    let remote = Remote::new(env.address());
    let token = remote.sign_in(ADMIN_LOGIN, ADMIN_PASSWORD).await;
    let rotated = env.command(&["keys", "rotate"], &[]);
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    assert_eq!(
        count(&database.url, "SELECT count(*) AS n FROM jwt_keys"),
        2
    );
    assert_eq!(
        count(
            &database.url,
            "SELECT count(*) AS n FROM jwt_keys WHERE verifies_until IS NULL AND signs_from > now() AT TIME ZONE 'UTC'"
        ),
        1,
        "the new key signs later and has no end"
    );
    assert_eq!(
        count(
            &database.url,
            "SELECT count(*) AS n FROM jwt_keys WHERE verifies_until > now() AT TIME ZONE 'UTC'"
        ),
        1,
        "the old key verifies until its tokens expire"
    );
    remote
        .call(Method::GET, Some(&token), "/api/v1/me", None, 200)
        .await;
    drop(served);
}

#[test]
fn keys_rotate_refuses_sqlite() {
    let database = TestDatabase::fresh();
    if database.is_postgres() {
        return;
    }
    let env = ServerEnv::new(database.data_dir.path(), &database.url);
    let refused = env.command(&["keys", "rotate"], &[]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("auth.keys"));
}

/// Three instances whose caches keep entries for a minute, so only an announcement (or a
/// dropped cache) can make a change show on the others within the tests' bounds.
async fn three_instances(
    database: &TestDatabase,
) -> (Vec<(tempfile::TempDir, ServerEnv)>, Vec<Served>) {
    let mut envs = instance_envs(database, 3);
    for (_, env) in &mut envs {
        env.set("KAIRAN_POSTS__INBOX_CACHE_TTL_MS", "60000");
    }
    let (a, b, c) = tokio::join!(
        Served::start(&envs[0].1),
        Served::start(&envs[1].1),
        Served::start(&envs[2].1)
    );
    envs[0].1.create_admin(ADMIN_LOGIN);
    (envs, vec![a, b, c])
}

/// The first instance, where changes are made, and the two others, where they must show.
fn remotes(envs: &[(tempfile::TempDir, ServerEnv)]) -> (Remote, Vec<Remote>) {
    let mut all = envs.iter().map(|(_, env)| Remote::new(env.address()));
    let one = all.next().unwrap();
    (one, all.collect())
}

async fn inbox(remote: &Remote, token: &str) -> Vec<serde_json::Value> {
    let page = remote
        .call(Method::GET, Some(token), "/api/v1/me/inbox", None, 200)
        .await;
    page["items"].as_array().cloned().unwrap_or_default()
}

/// Polls every one of `others`' inboxes until `done` holds on each; returns how long it took
/// from the call. Fails when a round of requests sent `limit` or more after the call still
/// misses it: such requests reach the server after the limit, however slowly a busy machine
/// answers them, so what they show is what it serves then.
async fn inbox_within(
    others: &[Remote],
    token: &str,
    limit: std::time::Duration,
    done: impl Fn(&[serde_json::Value]) -> bool,
) -> std::time::Duration {
    let started = std::time::Instant::now();
    let mut waiting: Vec<&Remote> = others.iter().collect();
    loop {
        let sent = started.elapsed();
        let pages =
            futures_util::future::join_all(waiting.iter().map(|remote| inbox(remote, token)));
        let seen = pages.await;
        waiting = waiting
            .into_iter()
            .zip(seen)
            .filter(|(_, items)| !done(items))
            .map(|(remote, _)| remote)
            .collect();
        if waiting.is_empty() {
            return started.elapsed();
        }
        assert!(
            sent < limit,
            "not seen on {} of the other instances by requests sent {sent:?} after the change",
            waiting.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

fn has(items: &[serde_json::Value], post: &str) -> bool {
    items.iter().any(|item| item["id"] == post)
}

const COHERENT: std::time::Duration = std::time::Duration::from_millis(200);

#[tokio::test]
async fn a_circular_published_edited_or_withdrawn_on_one_instance_shows_on_the_others_within_200_ms()
 {
    let Some(database) = postgres_database("published_or_withdrawn_shows_on_another") else {
        return;
    };
    let (envs, served) = three_instances(&database).await;
    let (one, others) = remotes(&envs);
    let town = crate::process::Town::build(&one, 1).await;
    let resident = &town.residents[0].1;
    let first = town.publish(&one, "最初の回覧").await;
    // Warm the other instances' caches for this member.
    inbox_within(&others, resident, COHERENT * 50, |items| has(items, &first)).await;

    let second = town.publish(&one, "二つ目の回覧").await;
    let took = inbox_within(&others, resident, COHERENT, |items| has(items, &second)).await;
    eprintln!("published: seen on the other instances after {took:?}");

    // Only the edited post and its feed are dropped (D93); the edit still shows everywhere.
    let edit = serde_json::json!({"title": "二つ目の回覧（訂正）"});
    let path = format!("/api/v1/posts/{second}");
    one.call(Method::PATCH, Some(&town.officer), &path, Some(&edit), 200)
        .await;
    let retitled = |items: &[serde_json::Value]| {
        items
            .iter()
            .any(|item| item["id"] == second.as_str() && item["title"] == "二つ目の回覧（訂正）")
    };
    let took = inbox_within(&others, resident, COHERENT, retitled).await;
    eprintln!("edited: seen on the other instances after {took:?}");

    let withdraw = format!("/api/v1/posts/{second}/withdraw");
    one.call(Method::POST, Some(&town.officer), &withdraw, None, 204)
        .await;
    let took = inbox_within(&others, resident, COHERENT, |items| !has(items, &second)).await;
    eprintln!("withdrawn: gone on the other instances after {took:?}");
    drop(served);
}

#[tokio::test]
async fn a_read_and_a_confirmation_on_one_instance_show_on_the_others_within_200_ms() {
    let Some(database) = postgres_database("receipts_show_on_another") else {
        return;
    };
    let (envs, served) = three_instances(&database).await;
    let (one, others) = remotes(&envs);
    let town = crate::process::Town::build(&one, 1).await;
    let resident = &town.residents[0].1;
    let post = town.publish(&one, "確認をお願いします").await;
    let state = |items: &[serde_json::Value]| {
        let item = items.iter().find(|item| item["id"] == post.as_str());
        item.map(|item| (item["read"].clone(), item["confirmed"].clone()))
    };
    // The others show it unread first, so what they keep of it must take the change in.
    let unread = Some((serde_json::json!(false), serde_json::json!(false)));
    inbox_within(&others, resident, COHERENT * 50, |items| {
        state(items) == unread
    })
    .await;

    let read = format!("/api/v1/posts/{post}/read");
    one.call(Method::POST, Some(resident), &read, None, 204)
        .await;
    let only_read = Some((serde_json::json!(true), serde_json::json!(false)));
    let took = inbox_within(&others, resident, COHERENT, |items| {
        state(items) == only_read
    })
    .await;
    eprintln!("read: seen on the other instances after {took:?}");

    let confirm = format!("/api/v1/posts/{post}/confirm");
    one.call(Method::POST, Some(resident), &confirm, None, 204)
        .await;
    let confirmed = Some((serde_json::json!(true), serde_json::json!(true)));
    let took = inbox_within(&others, resident, COHERENT, |items| {
        state(items) == confirmed
    })
    .await;
    eprintln!("confirmed: seen on the other instances after {took:?}");
    drop(served);
}

#[tokio::test]
async fn a_household_move_on_one_instance_shows_on_the_others_within_200_ms() {
    let Some(database) = postgres_database("household_move_shows_on_another") else {
        return;
    };
    let (envs, served) = three_instances(&database).await;
    let (one, others) = remotes(&envs);
    let town = crate::process::Town::build(&one, 1).await;
    let resident = &town.residents[0].1;
    let hans = format!("/api/v1/associations/{}/hans", town.association);
    let han = one
        .call(
            Method::POST,
            Some(&town.officer),
            &hans,
            Some(&serde_json::json!({"name": "1班"})),
            201,
        )
        .await;
    let han = str_field(&han, "id");
    let households = format!("/api/v1/associations/{}/households", town.association);
    let body = serde_json::json!({"label": "新しい世帯", "han_id": han});
    let household = one
        .call(
            Method::POST,
            Some(&town.officer),
            &households,
            Some(&body),
            201,
        )
        .await;
    let household = str_field(&household, "id");
    let body = serde_json::json!({"scope": {"kind": "association", "id": town.association},
                                  "han_ids": [han], "title": "1班だけの回覧", "body": "本文"});
    let post = one
        .call(
            Method::POST,
            Some(&town.officer),
            "/api/v1/posts",
            Some(&body),
            201,
        )
        .await;
    let post = str_field(&post, "id");
    for other in &others {
        assert!(!has(&inbox(other, resident).await, &post), "not in 1班 yet");
    }

    let me = one
        .call(Method::GET, Some(resident), "/api/v1/me", None, 200)
        .await;
    let member = format!("/api/v1/members/{}", str_field(&me, "id"));
    let body = serde_json::json!({"household_id": household});
    one.call(
        Method::PATCH,
        Some(&town.officer),
        &member,
        Some(&body),
        200,
    )
    .await;
    let took = inbox_within(&others, resident, COHERENT, |items| has(items, &post)).await;
    eprintln!("moved: seen on the other instances after {took:?}");
    drop(served);
}

#[tokio::test]
async fn a_district_merge_on_one_instance_shows_on_the_others_within_200_ms() {
    let Some(database) = postgres_database("district_merge_shows_on_another") else {
        return;
    };
    let (envs, served) = three_instances(&database).await;
    let (one, others) = remotes(&envs);
    // The town's association is in the first district; the circular goes to the second.
    let town = crate::process::Town::build(&one, 1).await;
    let resident = &town.residents[0].1;
    let admin = one.sign_in(ADMIN_LOGIN, ADMIN_PASSWORD).await;
    let districts = one
        .call(Method::GET, Some(&admin), "/api/v1/districts", None, 200)
        .await;
    let (from, into) = (
        str_field(&districts["items"][0], "id"),
        str_field(&districts["items"][1], "id"),
    );
    let body = serde_json::json!({"scope": {"kind": "district", "id": into},
                                  "title": "合併先の校下の回覧", "body": "本文"});
    let post = one
        .call(
            Method::POST,
            Some(&admin),
            "/api/v1/posts",
            Some(&body),
            201,
        )
        .await;
    let post = str_field(&post, "id");
    for other in &others {
        assert!(
            !has(&inbox(other, resident).await, &post),
            "not the resident's district yet"
        );
    }

    let merge = format!("/api/v1/districts/{from}/merge");
    let body = serde_json::json!({"into": into});
    one.call(Method::POST, Some(&admin), &merge, Some(&body), 200)
        .await;
    let took = inbox_within(&others, resident, COHERENT, |items| has(items, &post)).await;
    eprintln!("merged: seen on the other instances after {took:?}");
    drop(served);
}

#[tokio::test]
async fn a_cut_listener_connection_drops_the_cache_and_reconnects() {
    let Some(database) = postgres_database("cut_listener_connection") else {
        return;
    };
    let (envs, served) = three_instances(&database).await;
    let (one, others) = remotes(&envs);
    let town = crate::process::Town::build(&one, 2).await;
    let (resident, neighbour) = (&town.residents[0].1, &town.residents[1].1);
    let post = town.publish(&one, "元の題").await;
    let title_is = |title: &'static str| {
        let post = post.clone();
        move |items: &[serde_json::Value]| {
            items
                .iter()
                .any(|item| item["id"] == post && item["title"] == title)
        }
    };
    inbox_within(&others, resident, COHERENT * 50, title_is("元の題")).await;
    inbox_within(&others, neighbour, COHERENT * 50, |items| has(items, &post)).await;
    let neighbour_id = one
        .call(Method::GET, Some(neighbour), "/api/v1/me", None, 200)
        .await;
    // Changed behind every instance's back: nobody announces it. The neighbour leaves their
    // household, while every member's place is in memory (D83).
    let mut conn = PgConnection::establish(&database.url).unwrap();
    diesel::sql_query("UPDATE posts SET title = '裏で変えた題' WHERE id = $1")
        .bind::<diesel::sql_types::Text, _>(&post)
        .execute(&mut conn)
        .unwrap();
    diesel::sql_query("UPDATE members SET household_id = NULL WHERE id = $1")
        .bind::<diesel::sql_types::Text, _>(str_field(&neighbour_id, "id"))
        .execute(&mut conn)
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    for other in &others {
        assert!(
            title_is("元の題")(&inbox(other, resident).await),
            "the cache is warm"
        );
        assert!(
            has(&inbox(other, neighbour).await, &post),
            "the place is kept"
        );
    }

    let listeners = "SELECT count(*) AS n FROM pg_stat_activity \
                     WHERE application_name = 'kairan-listener' AND datname = current_database()";
    assert_eq!(count(&database.url, listeners), 3);
    diesel::sql_query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'kairan-listener' AND datname = current_database()",
    )
    .execute(&mut conn)
    .unwrap();
    // The lost connection empties the cache: fresh data long before the minute's TTL.
    inbox_within(
        &others,
        resident,
        std::time::Duration::from_secs(5),
        title_is("裏で変えた題"),
    )
    .await;
    let gone = std::time::Duration::from_secs(5);
    inbox_within(&others, neighbour, gone, |items| items.is_empty()).await;

    // It listens again, and announcements reach it as before.
    let started = std::time::Instant::now();
    while count(&database.url, listeners) < 3 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "listeners came back"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let next = town.publish(&one, "再接続後の回覧").await;
    inbox_within(&others, resident, COHERENT, |items| has(items, &next)).await;
    drop(served);
}

#[tokio::test]
async fn signing_out_everywhere_on_one_instance_stops_the_token_on_the_others_within_200_ms() {
    let Some(database) = postgres_database("signing_out_everywhere_on_one_instance") else {
        return;
    };
    let (envs, served) = three_instances(&database).await;
    let (one, others) = remotes(&envs);
    let token = one.sign_in(ADMIN_LOGIN, ADMIN_PASSWORD).await;
    // The other instances have the member's generation in memory now.
    for other in &others {
        other
            .call(Method::GET, Some(&token), "/api/v1/me", None, 200)
            .await;
    }
    one.call(
        Method::POST,
        Some(&token),
        "/api/v1/me/sign-out-everywhere",
        None,
        204,
    )
    .await;
    let started = std::time::Instant::now();
    for other in &others {
        loop {
            // As in `inbox_within`: what a request sent after the limit still gets is late.
            let sent = started.elapsed();
            let status = other
                .client
                .get(format!("{}/api/v1/me", other.address))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .status();
            if status == 401 {
                break;
            }
            assert!(
                sent < COHERENT,
                "still {status} on {} by a request sent {sent:?} after signing out",
                other.address
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
    drop(served);
}

#[tokio::test]
async fn a_periodic_job_runs_once_per_period_across_three_instances() {
    let Some(database) = postgres_database("periodic_job_once_across_instances") else {
        return;
    };
    let mut envs = instance_envs(&database, 3);
    for (_, env) in &mut envs {
        env.set("KAIRAN_POSTS__SCHEDULER_INTERVAL_SECS", "1");
        env.set("RUST_LOG", "warn,kairan::jobs=debug");
    }
    let started = std::time::Instant::now();
    let (a, b, c) = tokio::join!(
        Served::start(&envs[0].1),
        Served::start(&envs[1].1),
        Served::start(&envs[2].1)
    );
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let elapsed = started.elapsed().as_secs_f64();
    drop((a, b, c));

    // Each instance ticks every second; a period is claimed at most every 0.9 s between them.
    let runs_per_instance: Vec<usize> = envs
        .iter()
        .map(|(_, env)| {
            std::fs::read_to_string(&env.log)
                .unwrap()
                .lines()
                .filter(|line| {
                    line.contains("claimed its period") && line.contains("publish_scheduled")
                })
                .count()
        })
        .collect();
    let runs: usize = runs_per_instance.iter().sum();
    let most = (elapsed / 0.9).ceil() as usize + 1;
    assert!(
        (1..=most).contains(&runs),
        "{runs} runs of the scheduler ({runs_per_instance:?}) in {elapsed:.1} s; at most {most}"
    );
}
