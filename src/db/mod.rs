//! Storage: one Diesel connection type over SQLite and PostgreSQL, a pool that picks the
//! backend from the URL scheme, embedded migrations per backend, and `Db::run`, the only way
//! request code reaches the database (on the blocking pool, never on an actix worker).

mod breaker;
pub mod changes;
pub mod group_commit;
pub mod json;
pub mod models;
pub mod queries;
pub mod schema;
pub mod schema_channels;
pub mod schema_instances;
pub mod schema_line;
mod schema_line_joins;
pub mod url;
pub mod write_hook;

pub use json::Json;
pub use url::{Backend, DatabaseUrl};

use std::sync::Arc;
use std::time::Duration;

use diesel::Connection;
use diesel::connection::SimpleConnection;
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::PooledConnection;
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use tokio::sync::Semaphore;

use crate::configuration::{DatabaseSettings, SqliteSynchronous};
use crate::db::breaker::{Admission, Breaker};
use crate::error::ApiError;
use crate::files;
use crate::telemetry::spawn_blocking_with_tracing;

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Every query is written once against this type and runs on either backend.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

/// Runs one block per backend where the two must differ (upserts, locking, raw SQL).
#[macro_export]
macro_rules! with_backend {
    ($conn:expr, pg($pg:ident) => $pg_body:expr, sqlite($sq:ident) => $sq_body:expr $(,)?) => {
        match $conn {
            $crate::db::AnyConnection::Postgresql($pg) => $pg_body,
            $crate::db::AnyConnection::Sqlite($sq) => $sq_body,
        }
    };
}

/// Who copies SQLite's write-ahead log into the database file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checkpoints {
    /// The connection whose commit grows the log past 1,000 pages (SQLite's default): for
    /// tools, which have no background task.
    OnCommit,
    /// `Db::checkpoint`, called by a background task (`jobs::checkpoint_wal`), so no request's
    /// write waits for seconds of copying and fsync behind a large commit: for the server
    /// (D94).
    InBackground,
}

/// Opens connections of the right backend and sets SQLite up for a server.
#[derive(Clone)]
pub struct AnyConnectionManager {
    url: DatabaseUrl,
    busy_timeout_ms: u32,
    synchronous: SqliteSynchronous,
    checkpoints: Checkpoints,
}

impl AnyConnectionManager {
    pub fn new(url: DatabaseUrl, settings: &DatabaseSettings) -> Self {
        Self {
            url,
            busy_timeout_ms: settings.sqlite_busy_timeout_ms,
            synchronous: settings.sqlite_synchronous,
            checkpoints: Checkpoints::OnCommit,
        }
    }

    /// A single connection outside the pool (migrations, command-line tools).
    pub fn establish(&self) -> Result<AnyConnection, r2d2::Error> {
        match &self.url {
            DatabaseUrl::Postgres(url) => PgConnection::establish(url)
                .map(AnyConnection::Postgresql)
                .map_err(r2d2::Error::ConnectionError),
            DatabaseUrl::Sqlite(path) => {
                let refuse = |text: String| {
                    r2d2::Error::ConnectionError(diesel::ConnectionError::BadConnection(text))
                };
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| refuse(files::explain(parent, "create the folder", &e)))?;
                }
                files::check_sqlite_files(path).map_err(refuse)?;
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())
                    .map_err(|e| refuse(files::sqlite_error(path, e)))?;
                let synchronous = self.synchronous.pragma();
                let autocheckpoint = match self.checkpoints {
                    Checkpoints::OnCommit => 1000,
                    Checkpoints::InBackground => 0,
                };
                // busy_timeout first: switching to WAL needs the lock. A log left large by a
                // burst is cut back to 64 MiB once copied.
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
                     PRAGMA synchronous = {synchronous}; PRAGMA wal_autocheckpoint = {autocheckpoint}; \
                     PRAGMA journal_size_limit = 67108864; PRAGMA cache_size = -{SQLITE_CACHE_KIB};",
                    self.busy_timeout_ms
                ))
                .map_err(|e| refuse(files::sqlite_error(path, e)))?;
                crate::private_files::private_sqlite(path)
                    .map_err(|e| refuse(files::explain(path, "make the database private", &e)))?;
                Ok(AnyConnection::Sqlite(conn))
            }
        }
    }
}

impl ManageConnection for AnyConnectionManager {
    type Connection = AnyConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<AnyConnection, r2d2::Error> {
        self.establish()
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

pub type Pool = r2d2::Pool<AnyConnectionManager>;

struct Checkpointer {
    manager: AnyConnectionManager,
    conn: Option<AnyConnection>,
}

/// The pool, shared by handlers and background tasks.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    backend: Backend,
    breaker: Arc<Breaker>,
    /// One turn per pooled connection: callers beyond them wait here, asynchronously and
    /// for at most `queue_timeout`, not on blocking threads.
    turns: Arc<Semaphore>,
    /// `None` for background work, which waits for its turn however long it takes.
    queue_timeout: Option<Duration>,
    background_turns: Arc<Semaphore>,
    /// Checkpoints run on this connection, outside the pool (`checkpoint`).
    checkpointer: Arc<std::sync::Mutex<Checkpointer>>,
}

/// SQLite's own page cache per connection. The OS page cache holds the file as well, so a
/// page missed here costs a copy from it, not a disk read; at SQLite's default (2 MiB) the
/// dozen connections' caches were a sixth of the server's memory in an emergency (D110).
pub(crate) const SQLITE_CACHE_KIB: u32 = 1024;

/// Connections the pool keeps beyond requests' `max_connections`: the group commit's writer
/// holds one, and background work (outbox workers, periodic jobs) takes turns on two of its
/// own, so a fan-out neither waits behind a crowd of requests nor takes their turns.
const WRITER_CONNECTIONS: u32 = 1;
const BACKGROUND_CONNECTIONS: u32 = 2;

impl Db {
    /// Migrates, then builds the pool. Fails if the database cannot be reached.
    pub fn connect(url: DatabaseUrl, settings: &DatabaseSettings) -> anyhow::Result<Self> {
        Self::connect_with(url, settings, Checkpoints::OnCommit)
    }

    /// As `connect`; with `Checkpoints::InBackground` the caller must call `checkpoint` often.
    pub fn connect_with(
        url: DatabaseUrl,
        settings: &DatabaseSettings,
        checkpoints: Checkpoints,
    ) -> anyhow::Result<Self> {
        let backend = url.backend();
        let manager = AnyConnectionManager {
            checkpoints,
            ..AnyConnectionManager::new(url, settings)
        };
        let checkpointer = Arc::new(std::sync::Mutex::new(Checkpointer {
            manager: manager.clone(),
            conn: None,
        }));
        let mut conn = manager.establish()?;
        under_startup_lock(&mut conn, run_migrations)?;
        drop(conn);
        let pool = r2d2::Pool::builder()
            .max_size(settings.max_connections + WRITER_CONNECTIONS + BACKGROUND_CONNECTIONS)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(settings.connect_timeout_secs))
            .test_on_check_out(false)
            .build(manager)?;
        Ok(Self {
            pool,
            backend,
            breaker: Arc::default(),
            turns: Arc::new(Semaphore::new(settings.max_connections as usize)),
            queue_timeout: Some(Duration::from_millis(settings.queue_timeout_ms)),
            background_turns: Arc::new(Semaphore::new(BACKGROUND_CONNECTIONS as usize)),
            checkpointer,
        })
    }

    /// Copies what SQLite's write-ahead log holds into the database file as far as readers
    /// allow, on a connection of its own, without stopping writers (a passive checkpoint).
    /// SQLite only.
    pub async fn checkpoint(&self) -> Result<(), ApiError> {
        let checkpointer = self.checkpointer.clone();
        spawn_blocking_with_tracing(move || {
            let mut checkpointer = checkpointer.lock().unwrap_or_else(|e| e.into_inner());
            let mut conn = match checkpointer.conn.take() {
                Some(conn) => conn,
                None => checkpointer.manager.establish()?,
            };
            conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE)")?;
            checkpointer.conn = Some(conn);
            Ok::<_, anyhow::Error>(())
        })
        .await
        .map_err(|e| ApiError::Unexpected(e.into()))?
        .map_err(ApiError::Unexpected)
    }

    /// The same database for background work: its own turns, and no 503 when they are busy.
    pub fn background(&self) -> Self {
        Self {
            turns: self.background_turns.clone(),
            queue_timeout: None,
            ..self.clone()
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// How long a caller may wait for its turn before it is told the server is busy.
    pub fn queue_timeout(&self) -> Option<Duration> {
        self.queue_timeout
    }

    /// Runs `f` with a pooled connection on the blocking pool. The connection is taken inside
    /// the closure so it is never held across an `.await`. While the database is known to be
    /// gone, this answers 503 at once (see `breaker`); when every connection stays busy
    /// for `queue_timeout`, 503 with Retry-After (overload answered, not queued).
    pub async fn run<F, R>(&self, f: F) -> Result<R, ApiError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<R, ApiError> + Send + 'static,
        R: Send + 'static,
    {
        let admission = self.breaker.admit();
        if admission == Admission::Refused {
            return Err(ApiError::database_down());
        }
        let turn = self.turns.clone().acquire_owned();
        let turn = match self.queue_timeout {
            Some(limit) => tokio::time::timeout(limit, turn).await.ok(),
            None => Some(turn.await),
        };
        let Some(Ok(turn)) = turn else {
            return Err(ApiError::overloaded());
        };
        let pool = self.pool.clone();
        let hook = write_hook::current_request_hook();
        let breaker = self.breaker.clone();
        spawn_blocking_with_tracing(move || {
            let _turn = turn;
            let _hook = write_hook::install_on_thread(hook);
            let result = pool
                .get()
                .map_err(|e| {
                    // All connections out and none came back in time: a queue, not an outage.
                    let state = pool.state();
                    if state.connections == pool.max_size() && state.idle_connections == 0 {
                        ApiError::overloaded()
                    } else {
                        ApiError::database_unavailable(e)
                    }
                })
                .and_then(|mut conn| {
                    // Another request found the database gone while this one waited.
                    if admission == Admission::Normal && breaker.is_open() {
                        return Err(ApiError::database_down());
                    }
                    let result = f(&mut conn);
                    if result
                        .as_ref()
                        .is_err_and(ApiError::is_database_unavailable)
                    {
                        discard_if_broken(&mut conn);
                    }
                    result
                });
            match &result {
                Err(e) if e.is_database_unavailable() => breaker.trip(),
                _ if admission == Admission::Probe => breaker.reset(),
                _ => {}
            }
            result
        })
        .await
        .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("database task failed: {e}")))?
    }

    /// `run` inside one write transaction: what a handler changes and the audit entry that
    /// records it commit together or not at all.
    pub async fn write<F, R>(&self, f: F) -> Result<R, ApiError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<R, ApiError> + Send + 'static,
        R: Send + 'static,
    {
        self.run(move |conn| write_transaction(conn, f)).await
    }

    /// The database answers and takes a write transaction (on SQLite, the write lock is
    /// free): what `/readyz` reports.
    pub async fn ready(&self) -> Result<(), ApiError> {
        self.write(|conn| {
            diesel::RunQueryDsl::execute(diesel::sql_query("SELECT 1"), conn)
                .map(|_| ())
                .map_err(ApiError::database_unavailable)
        })
        .await
    }

    /// For command-line tools and tests that run outside a request.
    pub fn get(&self) -> Result<r2d2::PooledConnection<AnyConnectionManager>, r2d2::PoolError> {
        self.pool.get()
    }
}

/// A PostgreSQL connection whose server went away looks healthy to the pool (Diesel's
/// `is_broken` sees only its transaction state), so mark it broken and the pool drops it
/// instead of handing it out again. A locked SQLite connection is still good.
fn discard_if_broken(conn: &mut PooledConnection<AnyConnectionManager>) {
    if let AnyConnection::Postgresql(inner) = &mut **conn {
        AnsiTransactionManager::transaction_manager_status_mut(inner).set_in_error();
    }
}

fn migration_error(e: Box<dyn std::error::Error + Send + Sync>) -> anyhow::Error {
    anyhow::anyhow!("migration failed: {e}")
}

/// The advisory lock every kairan instance takes for start-up work ("kairan" in ASCII).
const STARTUP_LOCK: i64 = 0x6b61_6972_616e;

/// Runs `f` holding the start-up lock: on PostgreSQL a session advisory lock, so instances
/// starting together migrate and create shared data (districts, secrets) one at a time and
/// the later ones find it done. SQLite needs none: one server per file (`lock_database`).
pub fn under_startup_lock<T>(
    conn: &mut AnyConnection,
    f: impl FnOnce(&mut AnyConnection) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    use diesel::RunQueryDsl;
    use diesel::sql_types::BigInt;
    let advisory = |conn: &mut AnyConnection, call: &str| -> anyhow::Result<()> {
        if let AnyConnection::Postgresql(pg) = conn {
            diesel::sql_query(format!("SELECT {call}($1)"))
                .bind::<BigInt, _>(STARTUP_LOCK)
                .execute(pg)
                .map_err(|e| anyhow::anyhow!("{call}: {e}"))?;
        }
        Ok(())
    };
    advisory(conn, "pg_advisory_lock")?;
    let result = f(conn);
    let unlocked = advisory(conn, "pg_advisory_unlock");
    let value = result?;
    unlocked?;
    Ok(value)
}

pub fn run_migrations(conn: &mut AnyConnection) -> anyhow::Result<()> {
    with_backend!(conn,
        pg(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS).map(drop).map_err(migration_error),
        sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(drop).map_err(migration_error),
    )
}

pub fn revert_all_migrations(conn: &mut AnyConnection) -> anyhow::Result<()> {
    with_backend!(conn,
        pg(c) => c.revert_all_migrations(POSTGRES_MIGRATIONS).map(drop).map_err(migration_error),
        sqlite(c) => c.revert_all_migrations(SQLITE_MIGRATIONS).map(drop).map_err(migration_error),
    )
}

/// A transaction that writes. On SQLite it takes the write lock at the start
/// (`BEGIN IMMEDIATE`), so concurrent writers queue on `busy_timeout` instead of one failing
/// when it upgrades a read lock; nested calls become savepoints as usual. The outermost one
/// also runs the request's write hook, if any (its Idempotency-Key), so both commit together.
pub fn write_transaction<T, E, F>(conn: &mut AnyConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let depth = with_backend!(&mut *conn,
        pg(c) => AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth()?,
        sqlite(c) => AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth()?,
    );
    if depth.is_some() {
        return conn.transaction(f);
    }
    let mut hook_wrote = None;
    let body = |conn: &mut AnyConnection| {
        hook_wrote = write_hook::run_on_thread(conn)?;
        f(conn)
    };
    let result = outermost_write_transaction(conn, body);
    if result.is_ok()
        && let Some(hook) = &hook_wrote
    {
        hook.committed();
    }
    result
}

static SQLITE_WRITER: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn outermost_write_transaction<T, E, F>(conn: &mut AnyConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    type Manager = <AnyConnection as Connection>::TransactionManager;
    let AnyConnection::Sqlite(inner) = conn else {
        return conn.transaction(f);
    };
    // Writers of this process queue here, in turn, so SQLite's busy_timeout only runs out
    // when another process holds the lock (an outage), never behind our own long write.
    let _writer = SQLITE_WRITER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?;
    match f(conn) {
        Ok(value) => match Manager::commit_transaction(conn) {
            Ok(()) => Ok(value),
            Err(commit_error) => {
                // The commit failed (e.g. the disk is full); leave no open transaction behind.
                let _ = Manager::rollback_transaction(conn);
                Err(commit_error.into())
            }
        },
        Err(error) => {
            Manager::rollback_transaction(conn)?;
            Err(error)
        }
    }
}

/// Now, in UTC, at microsecond precision so both backends store the same instant.
pub fn now() -> chrono::NaiveDateTime {
    let now = chrono::Utc::now().naive_utc();
    chrono::SubsecRound::trunc_subsecs(now, 6)
}
