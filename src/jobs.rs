//! The periodic background jobs a server runs beside its requests: scheduled publishing,
//! events' day-before reminders, the daily email digest, the adoption figures, pruning idempotency keys, SQLite backups. Each is one step run on a
//! ticker until the server stops; the work itself lives with its rule.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::time::{Instant, MissedTickBehavior};

use crate::auth::JwtKeys;
use crate::auth::generations::TokenGenerations;
use crate::backup::scheduled_backup;
use crate::configuration::{EmailSettings, EventSettings, StatsSettings};
use crate::db::queries::digests;
use crate::db::queries::event_reminders::queue_due;
use crate::db::queries::idempotency::prune;
use crate::db::queries::job_runs;
use crate::db::queries::posts::publish_due;
use crate::db::queries::stats::take_snapshots;
use crate::db::{AnyConnection, Db, now};
use crate::domain::{AudienceKey, Rule};
use crate::error::ApiError;
use crate::inbox_cache::{InboxCache, PlacesReload};
use crate::places::key;
use crate::shared_secrets::stored_jwt_key_ring;
use crate::telemetry::spawn_blocking_with_tracing;

/// Runs `step` every `interval` (the first at `first`) until `stop` turns true.
async fn every<F, Fut>(
    first: Instant,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
    mut step: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut ticker = tokio::time::interval_at(first, interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    while !*stop.borrow() {
        tokio::select! {
            _ = ticker.tick() => step().await,
            _ = stop.changed() => {}
        }
    }
}

/// Runs `work` unless another instance sharing the database ran job `name` within most of
/// `interval` (PostgreSQL; on SQLite it always runs). `Ok(None)` when it was not this one's turn.
async fn once_per_period<T, F>(
    db: &Db,
    name: &'static str,
    interval: Duration,
    work: F,
) -> Result<Option<T>, ApiError>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    // A little short of the interval, so ticks that drift still find their period free.
    let period = chrono::Duration::from_std(interval - interval / 10)
        .map_err(|e| ApiError::Unexpected(e.into()))?;
    db.run(move |conn| {
        if !job_runs::claim(conn, name, now(), period)? {
            return Ok(None);
        }
        tracing::debug!(job = name, "periodic job claimed its period here");
        work(conn).map(Some)
    })
    .await
}

/// Publishes scheduled circulars when they fall due. The schedule lives in the database, so a
/// restart loses nothing: posts that fell due while the server was down go out at start.
pub async fn publish_scheduled_posts(
    db: Db,
    interval: Duration,
    wake_push: Arc<Notify>,
    inbox_cache: Arc<InboxCache>,
    stop: watch::Receiver<bool>,
) {
    every(Instant::now(), interval, stop, || async {
        let due = once_per_period(&db, "publish_scheduled", interval, |conn| {
            Ok(publish_due(conn, now())?)
        });
        match due.await.map(Option::unwrap_or_default) {
            Ok(published) if !published.is_empty() => {
                tracing::info!(count = published.posts.len(), "published scheduled posts");
                inbox_cache.posts_changed(&published);
                wake_push.notify_one();
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "publishing scheduled posts failed; will retry"),
        }
    })
    .await;
}

/// Queues events' day-before reminders when they fall due (`events.reminder_time`, JST).
/// Each is claimed in the database, so a restart or a second process never sends one twice,
/// and one missed while the server was down goes out at start if the event is still ahead.
pub async fn remind_of_events(
    db: Db,
    settings: EventSettings,
    wake_push: Arc<Notify>,
    stop: watch::Receiver<bool>,
) {
    let time = settings.reminder_time();
    let interval = Duration::from_secs(settings.reminder_interval_secs);
    every(Instant::now(), interval, stop, || async {
        let due = once_per_period(&db, "event_reminders", interval, move |conn| {
            Ok(queue_due(conn, now(), time)?)
        });
        match due.await.map(Option::unwrap_or_default) {
            Ok(queued) if !queued.is_empty() => {
                tracing::info!(count = queued.len(), "queued event reminders");
                wake_push.notify_one();
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "queueing event reminders failed; will retry"),
        }
    })
    .await;
}

/// Queues each JST day's email digest from `email.digest_hour` (D70). The day's row is its
/// claim, so a restart or a second instance never queues a day twice; a day missed while
/// the server was down goes out when it starts, and its circulars wait for the next one.
pub async fn queue_email_digests(
    db: Db,
    settings: EmailSettings,
    wake_push: Arc<Notify>,
    stop: watch::Receiver<bool>,
) {
    let (hour, interval) = (
        settings.digest_hour,
        Duration::from_secs(settings.digest_interval_secs),
    );
    every(Instant::now(), interval, stop, || async {
        let due = once_per_period(&db, "email_digests", interval, move |conn| {
            Ok(digests::queue_due(conn, now(), hour)?)
        });
        match due.await.map(Option::flatten) {
            Ok(Some(deliveries)) => {
                tracing::info!(deliveries, "queued the day's email digest");
                wake_push.notify_one();
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "queueing the email digest failed; will retry"),
        }
    })
    .await;
}

/// The month-end task: refreshes the current month's figures and freezes finished months
/// (after their circulars' 72 hours), catching up on months missed while stopped.
pub async fn take_stats_snapshots(db: Db, settings: StatsSettings, stop: watch::Receiver<bool>) {
    let rule = Rule::from(&settings);
    let interval = Duration::from_secs(settings.refresh_interval_secs);
    every(Instant::now(), interval, stop, || async {
        let snapshots = once_per_period(&db, "stats_snapshots", interval, move |conn| {
            Ok(take_snapshots(conn, rule, now())?)
        });
        match snapshots.await.map(Option::unwrap_or_default) {
            Ok(taken) => {
                for (month, outcome) in taken {
                    tracing::debug!(%month, ?outcome, "adoption figures stored");
                }
            }
            Err(e) => tracing::warn!(error = %e, "taking adoption snapshots failed; will retry"),
        }
    })
    .await;
}

/// Rereads the shared key ring (PostgreSQL), so a key rotated by any instance or by
/// `kairan keys rotate` verifies here before it signs anywhere.
pub async fn reload_key_ring(
    db: Db,
    keys: Arc<JwtKeys>,
    interval: Duration,
    stop: watch::Receiver<bool>,
) {
    every(Instant::now() + interval, interval, stop, || async {
        let loaded = db
            .run(|conn| stored_jwt_key_ring(conn).map_err(ApiError::Unexpected))
            .await;
        match loaded.map(|ring| keys.replace(ring)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "the stored JWT key ring is unusable"),
            Err(e) => tracing::warn!(error = %e, "reloading the JWT key ring failed; will retry"),
        }
    })
    .await;
}

/// Deletes expired idempotency keys.
pub async fn prune_expired_keys(db: Db, interval: Duration, stop: watch::Receiver<bool>) {
    every(Instant::now(), interval, stop, || async {
        let pruned = once_per_period(&db, "prune_idempotency_keys", interval, |conn| {
            Ok(prune(conn, now())?)
        });
        match pruned.await.map(Option::unwrap_or_default) {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "pruned expired idempotency keys"),
            Err(e) => tracing::warn!(error = %e, "pruning idempotency keys failed; will retry"),
        }
    })
    .await;
}

/// A SQLite backup every `interval`, the first one interval after start, keeping `keep`. A
/// failed backup is logged and tried again at the next tick; it never stops the server.
pub async fn run_scheduled_backups(
    db: Db,
    dir: PathBuf,
    interval: Duration,
    keep: usize,
    stop: watch::Receiver<bool>,
) {
    every(Instant::now() + interval, interval, stop, || async {
        let (db, dir) = (db.clone(), dir.clone());
        let done = spawn_blocking_with_tracing(move || -> anyhow::Result<PathBuf> {
            let mut conn = db.get()?;
            scheduled_backup(&mut conn, &dir, keep)
        })
        .await;
        match done {
            Ok(Ok(path)) => tracing::info!(file = %path.display(), "scheduled backup written"),
            Ok(Err(e)) => tracing::error!(error = %format!("{e:#}"), "scheduled backup failed"),
            Err(e) => tracing::error!(error = %e, "scheduled backup task failed"),
        }
    })
    .await;
}

/// How often SQLite's write-ahead log is copied into the database file: often enough that
/// the log stays small and each copy short.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Copies SQLite's write-ahead log into the database file on a connection of its own, so no
/// request's commit does it (D94).
pub async fn checkpoint_wal(db: Db, stop: watch::Receiver<bool>) {
    if db.backend() != crate::db::Backend::Sqlite {
        return;
    }
    every(Instant::now(), CHECKPOINT_EVERY, stop, || async {
        if let Err(e) = db.checkpoint().await {
            tracing::warn!(error = %e, "copying the write-ahead log into the database failed; will retry");
        }
    })
    .await;
}

/// Keeps the read book (D92, D95) warm and current in the background: at start it books the
/// city's and every district's newest posts, which most members' pages share; then, every
/// quarter of the TTL, it reads again the booked posts older than the TTL (a backstop for
/// receipts nobody announced) while requests go on being answered from what is booked.
pub async fn keep_read_book_warm(
    db: Db,
    cache: Arc<InboxCache>,
    ttl: Duration,
    stop: watch::Receiver<bool>,
) {
    if ttl.is_zero() {
        return;
    }
    let halt = stop.clone();
    let districts = db.run(|conn| Ok(crate::db::queries::districts::all_districts(conn)?));
    let keys = match districts.await {
        Ok(districts) => districts
            .iter()
            .map(|d| AudienceKey::district(&d.id))
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "listing districts to warm the read book failed");
            Vec::new()
        }
    };
    for key in std::iter::once(AudienceKey::city()).chain(keys) {
        if *halt.borrow() {
            return;
        }
        let cache = cache.clone();
        if let Err(e) = db.run(move |conn| cache.warm(conn, &key)).await {
            tracing::warn!(error = %e, "warming the read book failed");
            break;
        }
    }
    let interval = (ttl / 4).max(Duration::from_millis(100));
    every(Instant::now() + interval, interval, stop, || async {
        for id in cache.read_states_due() {
            if *halt.borrow() {
                return;
            }
            let cache = cache.clone();
            let refreshed = db.run(move |conn| cache.refresh_read_states(conn, &id));
            if let Err(e) = refreshed.await {
                tracing::warn!(error = %e, "reading a post's receipts again failed; will retry");
                return;
            }
        }
    })
    .await;
}

/// Reads again, once a second, the token generations requests found kept too long.
pub async fn keep_token_generations_fresh(
    db: Db,
    generations: Arc<crate::auth::generations::TokenGenerations>,
    stop: watch::Receiver<bool>,
) {
    let interval = Duration::from_secs(1);
    every(Instant::now() + interval, interval, stop, || async {
        if let Err(e) = generations.refresh_due(&db).await {
            tracing::warn!(error = %e, "reading token generations again failed; will retry");
        }
    })
    .await;
}

/// How often every place is read again, a backstop for a change no instance announced (one
/// made outside any server).
const PLACES_RELOAD: Duration = Duration::from_secs(600);
/// Rows read at once: short reads, so requests wait little for a connection meanwhile.
const PLACES_CHUNK: i64 = 20_000;
const PLACES_RETRY: Duration = Duration::from_secs(5);

/// Reads every member's place into the inbox cache (D83): at start, whenever changes may have
/// gone unheard (`InboxCache::drop_all`), and every `PLACES_RELOAD`. Members asking meanwhile
/// are loaded from the database one by one, as before.
pub async fn keep_places_loaded(
    db: Db,
    cache: Arc<InboxCache>,
    generations: Arc<TokenGenerations>,
    mut stop: watch::Receiver<bool>,
) {
    cache.want_places_reload();
    while !*stop.borrow() {
        tokio::select! {
            () = cache.places_reload_wanted() => {}
            () = tokio::time::sleep(PLACES_RELOAD) => {}
            _ = stop.changed() => continue,
        }
        let started = Instant::now();
        match load_places(&db, &cache, &generations).await {
            Ok(Some((members, bytes))) => tracing::info!(
                members,
                bytes,
                millis = started.elapsed().as_millis(),
                "read every member's place"
            ),
            // Everyone moved meanwhile; another reload is already asked for.
            Ok(None) => {}
            Err(e) => {
                cache.abandon_places_reload();
                generations.abandon_load();
                tracing::warn!(error = %e, "reading every member's place failed; will retry");
                tokio::time::sleep(PLACES_RETRY).await;
                cache.want_places_reload();
            }
        }
    }
}

async fn load_places(
    db: &Db,
    cache: &InboxCache,
    generations: &TokenGenerations,
) -> Result<Option<(usize, usize)>, ApiError> {
    use crate::db::queries::places;
    let generations_read = generations.begin_load();
    let mut reload = cache.begin_places_reload();
    reload = db
        .run(move |conn| {
            for (id, district, former) in places::associations(conn)? {
                reload
                    .directory
                    .add_association(&id, Some(&district), &former);
            }
            Ok(reload)
        })
        .await?;
    reload = in_chunks(
        db,
        reload,
        places::households,
        |r, (id, han, association)| {
            r.directory.add_household(&id, han.as_ref(), &association);
            id
        },
    )
    .await?;
    reload = in_chunks(
        db,
        reload,
        places::members,
        |r, (id, household, generation)| {
            r.directory.add_member(&id, household.as_ref());
            if let Some(member) = key(id.as_str()) {
                r.generations.insert(member, generation);
            }
            id
        },
    )
    .await?;
    generations.finish_load(generations_read, std::mem::take(&mut reload.generations));
    Ok(cache.finish_places_reload(reload))
}

/// Rows read by id, `PLACES_CHUNK` at a time, each added to the reload's directory by `add`
/// (which answers the row's id, where the next chunk starts).
async fn in_chunks<K, R>(
    db: &Db,
    mut reload: PlacesReload,
    read: fn(&mut AnyConnection, Option<&K>, i64) -> diesel::QueryResult<Vec<R>>,
    add: fn(&mut PlacesReload, R) -> K,
) -> Result<PlacesReload, ApiError>
where
    K: Send + 'static,
    R: Send + 'static,
{
    let mut after: Option<K> = None;
    loop {
        let done;
        (reload, after, done) = db
            .run(move |conn| {
                let rows = read(conn, after.as_ref(), PLACES_CHUNK)?;
                let done = i64::try_from(rows.len()).unwrap_or(0) < PLACES_CHUNK;
                let last = rows.into_iter().map(|row| add(&mut reload, row)).last();
                Ok((reload, last.or(after), done))
            })
            .await?;
        if done {
            return Ok(reload);
        }
    }
}
