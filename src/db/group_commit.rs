//! Group commit: concurrent requests hand their small writes to one writer thread, which
//! runs as many as are waiting in one transaction, each in a savepoint of its own, and
//! answers each only after COMMIT. One durable commit (an fsync with SQLite
//! `synchronous = FULL`) then serves a whole batch instead of one request, and a write
//! acknowledged with success is on disk. A write that fails rolls back to its savepoint and
//! fails alone; the others in its batch still commit.
//!
//! Reads, confirmations and safety answers, the emergency's commonest writes, are not
//! closures but values: a batch writes all of each kind in a few multi-row statements (one
//! savepoint), and only if that fails does it write them one by one, each in its own
//! savepoint, to find the culprit.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use diesel::Connection;
use diesel::connection::SimpleConnection;
use tokio::sync::{mpsc, oneshot};

use crate::db::breaker::{Admission, Breaker};
use crate::db::queries::receipts::{ReadWrite, record_reads};
use crate::db::queries::safety::{AnswerWrite, record_answers};
use crate::db::{AnyConnection, Db, write_transaction};
use crate::error::ApiError;

/// One write waiting for its batch.
trait Job: Send {
    /// Runs inside the batch transaction, in its own savepoint. False if it panicked.
    fn run(&mut self, conn: &mut AnyConnection) -> bool;
    /// Answers the caller once the batch is over: `committed` says whether COMMIT succeeded.
    fn finish(self: Box<Self>, committed: bool);
}

struct Pending<F, R> {
    work: Option<F>,
    outcome: Option<Result<R, ApiError>>,
    reply: oneshot::Sender<Result<R, ApiError>>,
}

impl<F, R> Job for Pending<F, R>
where
    F: FnOnce(&mut AnyConnection) -> Result<R, ApiError> + Send,
    R: Send,
{
    fn run(&mut self, conn: &mut AnyConnection) -> bool {
        let Some(work) = self.work.take() else {
            return true;
        };
        // Nested in the batch transaction, `transaction` is a savepoint.
        match catch_unwind(AssertUnwindSafe(|| conn.transaction(work))) {
            Ok(outcome) => {
                self.outcome = Some(outcome);
                true
            }
            Err(_) => false,
        }
    }

    fn finish(self: Box<Self>, committed: bool) {
        let answer = match self.outcome {
            // A failed write is its own answer: nothing of it was kept either way.
            Some(Err(error)) => Err(error),
            Some(Ok(value)) if committed => Ok(value),
            Some(Ok(_)) => Err(not_stored()),
            // Never run: the batch could not begin.
            None if self.work.is_some() => Err(not_stored()),
            None => Err(ApiError::Unexpected(anyhow::anyhow!(
                "a write in a group commit panicked"
            ))),
        };
        // The caller may have gone (client disconnected); the write stands regardless.
        let _ = self.reply.send(answer);
    }
}

/// The batch did not commit (the database is gone or locked): nothing of it was stored,
/// so the client may simply retry.
fn not_stored() -> ApiError {
    ApiError::database_down()
}

/// A write the batch takes as a value, many in a few statements.
trait Batched: Clone + Send + 'static {
    /// Writes `writes` and returns each one's outcome; an `Err` rolls back all of them.
    fn write_all(
        conn: &mut AnyConnection,
        writes: &[Self],
    ) -> Result<Vec<Result<(), ApiError>>, ApiError>;
}

impl Batched for ReadWrite {
    fn write_all(
        conn: &mut AnyConnection,
        writes: &[Self],
    ) -> Result<Vec<Result<(), ApiError>>, ApiError> {
        record_reads(conn, writes)?;
        Ok(writes.iter().map(|_| Ok(())).collect())
    }
}

impl Batched for AnswerWrite {
    fn write_all(
        conn: &mut AnyConnection,
        writes: &[Self],
    ) -> Result<Vec<Result<(), ApiError>>, ApiError> {
        record_answers(conn, writes)
    }
}

/// A value write and who waits for it.
struct QueuedValue<W> {
    write: W,
    outcome: Option<Result<(), ApiError>>,
    reply: oneshot::Sender<Result<(), ApiError>>,
}

impl<W> QueuedValue<W> {
    fn finish(self, committed: bool) {
        let answer = match self.outcome {
            Some(Err(error)) => Err(error),
            Some(Ok(())) if committed => Ok(()),
            _ => Err(not_stored()),
        };
        let _ = self.reply.send(answer);
    }
}

enum Queued {
    Work(Box<dyn Job>),
    Read(QueuedValue<ReadWrite>),
    Answer(QueuedValue<AnswerWrite>),
}

/// What one transaction writes.
#[derive(Default)]
struct Batch {
    work: Vec<Box<dyn Job>>,
    reads: Vec<QueuedValue<ReadWrite>>,
    answers: Vec<QueuedValue<AnswerWrite>>,
}

impl Batch {
    fn len(&self) -> usize {
        self.work.len() + self.reads.len() + self.answers.len()
    }

    fn push(&mut self, queued: Queued) {
        match queued {
            Queued::Work(job) => self.work.push(job),
            Queued::Read(read) => self.reads.push(read),
            Queued::Answer(answer) => self.answers.push(answer),
        }
    }

    fn finish(&mut self, committed: bool) {
        self.work.drain(..).for_each(|job| job.finish(committed));
        self.reads.drain(..).for_each(|read| read.finish(committed));
        self.answers
            .drain(..)
            .for_each(|answer| answer.finish(committed));
    }
}

/// The handle requests use; cheap to clone. The writer thread ends when every handle is
/// dropped, after finishing what was already handed to it.
#[derive(Clone)]
pub struct GroupCommit {
    queue: mpsc::Sender<Queued>,
    /// The database's: a full queue for that long answers 503 rather than queueing more
    /// (`None`: wait for room).
    queue_timeout: Option<std::time::Duration>,
    /// The database's: while it is known to be gone, a write is refused at once instead of
    /// waiting behind batches that each wait out the lock.
    breaker: Arc<Breaker>,
}

impl GroupCommit {
    /// Starts the writer thread. `max_batch` bounds a transaction; `queue` bounds the writes
    /// waiting for one (callers wait for room beyond it).
    pub fn start(db: Db, max_batch: usize, queue: usize) -> std::io::Result<Self> {
        let (sender, receiver) = mpsc::channel(queue.max(1));
        let queue_timeout = db.queue_timeout();
        let breaker = db.breaker.clone();
        std::thread::Builder::new()
            .name("group-commit".into())
            .spawn(move || writer(db, receiver, max_batch.max(1)))?;
        Ok(Self {
            queue: sender,
            queue_timeout,
            breaker,
        })
    }

    /// Runs `work` in the next batch and returns its result once the batch has committed.
    /// `work` may run while other writes wait, so it should be short: reads and checks that
    /// need no write lock belong before it, in `Db::run`.
    pub async fn write<F, R>(&self, work: F) -> Result<R, ApiError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<R, ApiError> + Send + 'static,
        R: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Pending {
            work: Some(work),
            outcome: None,
            reply,
        });
        self.enqueue(Queued::Work(job)).await?;
        answer.await.map_err(|_| not_stored())?
    }

    /// Records a read or confirmation (`queries::receipts::record_reads`) in the next batch.
    pub async fn record_read(&self, write: ReadWrite) -> Result<(), ApiError> {
        self.enqueue_value(write, Queued::Read).await
    }

    /// Records a safety answer (`queries::safety::record_answers`) in the next batch.
    pub async fn record_answer(&self, write: AnswerWrite) -> Result<(), ApiError> {
        self.enqueue_value(write, Queued::Answer).await
    }

    async fn enqueue_value<W>(
        &self,
        write: W,
        kind: fn(QueuedValue<W>) -> Queued,
    ) -> Result<(), ApiError> {
        let (reply, answer) = oneshot::channel();
        let queued = QueuedValue {
            write,
            outcome: None,
            reply,
        };
        self.enqueue(kind(queued)).await?;
        answer.await.map_err(|_| not_stored())?
    }

    async fn enqueue(&self, queued: Queued) -> Result<(), ApiError> {
        use mpsc::error::SendTimeoutError;
        // A probe goes in a batch like any write; the batch's outcome closes or opens again.
        if self.breaker.admit() == Admission::Refused {
            return Err(ApiError::database_down());
        }
        let Some(limit) = self.queue_timeout else {
            return self.queue.send(queued).await.map_err(|_| not_stored());
        };
        match self.queue.send_timeout(queued, limit).await {
            Ok(()) => Ok(()),
            Err(SendTimeoutError::Timeout(_)) => Err(ApiError::overloaded()),
            Err(SendTimeoutError::Closed(_)) => Err(not_stored()),
        }
    }
}

type Held = diesel::r2d2::PooledConnection<crate::db::AnyConnectionManager>;

fn writer(db: Db, mut receiver: mpsc::Receiver<Queued>, max_batch: usize) {
    let mut batch = Batch::default();
    // Kept between batches: waiting for the pool behind a crowd of readers could outlast
    // its time-out and fail a whole batch.
    let mut held: Option<Held> = None;
    // Whatever arrived while the previous batch committed forms the next one.
    while let Some(first) = receiver.blocking_recv() {
        batch.push(first);
        while batch.len() < max_batch {
            match receiver.try_recv() {
                Ok(queued) => batch.push(queued),
                Err(_) => break,
            }
        }
        let committed = match run_batch(&db, &mut held, &mut batch) {
            Ok(()) => {
                db.breaker.reset();
                true
            }
            Err(e) => {
                tracing::error!(error = %e, writes = batch.len(), "a group commit failed");
                if e.is_database_unavailable() {
                    db.breaker.trip();
                }
                false
            }
        };
        tracing::trace!(writes = batch.len(), committed, "group commit");
        batch.finish(committed);
    }
}

fn run_batch(db: &Db, held: &mut Option<Held>, batch: &mut Batch) -> Result<(), ApiError> {
    let conn = match held {
        Some(conn) => conn,
        None => {
            let mut conn = db.get().map_err(ApiError::database_unavailable)?;
            savepoints_in_memory(&mut conn, true)?;
            held.insert(conn)
        }
    };
    let result = write_transaction(conn, |conn| {
        write_values(conn, &mut batch.reads)?;
        write_values(conn, &mut batch.answers)?;
        for job in batch.work.iter_mut() {
            if !job.run(conn) {
                // A savepoint may be left open: give up the whole batch.
                return Err(diesel::result::Error::RollbackTransaction);
            }
        }
        Ok(())
    })
    .map_err(ApiError::from);
    if result.is_err() {
        // Back to the pool, which drops it if broken; the next batch takes another.
        if let Some(mut conn) = held.take() {
            let _ = savepoints_in_memory(&mut conn, false);
        }
    }
    result
}

/// Every savepoint of a batch copies the pages it changes first, so it can roll back. In
/// memory that copy costs a memcpy rather than a write to a temporary file (SQLite). Only
/// the writer's connection: elsewhere a large sort should still spill to disk.
fn savepoints_in_memory(conn: &mut AnyConnection, in_memory: bool) -> Result<(), ApiError> {
    if let AnyConnection::Sqlite(conn) = conn {
        let store = if in_memory { "MEMORY" } else { "DEFAULT" };
        conn.batch_execute(&format!("PRAGMA temp_store = {store}"))?;
    }
    Ok(())
}

/// All values of a kind in one savepoint; if that fails, each in its own, so only the
/// failing one fails.
fn write_values<W: Batched>(
    conn: &mut AnyConnection,
    queued: &mut [QueuedValue<W>],
) -> diesel::QueryResult<()> {
    if queued.is_empty() {
        return Ok(());
    }
    let writes: Vec<W> = queued.iter().map(|q| q.write.clone()).collect();
    if let Ok(outcomes) = conn.transaction(|c| W::write_all(c, &writes)) {
        for (q, outcome) in queued.iter_mut().zip(outcomes) {
            q.outcome = Some(outcome);
        }
        return Ok(());
    }
    for q in queued.iter_mut() {
        let one = std::slice::from_ref(&q.write);
        let outcome = conn.transaction(|c| W::write_all(c, one));
        q.outcome = Some(outcome.and_then(|mut outcomes| outcomes.pop().unwrap_or(Ok(()))));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configuration::{AppEnvironment, load};
    use crate::db::DatabaseUrl;
    use crate::db::schema::audit_log;
    use diesel::prelude::*;

    fn sqlite_db(dir: &tempfile::TempDir) -> Db {
        let settings = load(AppEnvironment::Test, std::path::Path::new("config"), false)
            .expect("test settings");
        let url = DatabaseUrl::Sqlite(dir.path().join("g.sqlite3"));
        Db::connect(url, &settings.database).expect("database")
    }

    fn insert_entry(conn: &mut AnyConnection, id: &str) -> Result<(), ApiError> {
        diesel::insert_into(audit_log::table)
            .values((
                audit_log::id.eq(id),
                audit_log::action.eq("test"),
                audit_log::target_kind.eq("test"),
                audit_log::detail.eq("{}"),
                audit_log::created_at.eq(crate::db::now()),
            ))
            .execute(conn)?;
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_write_fails_alone_and_the_rest_commit() {
        let dir = tempfile::tempdir().unwrap();
        let db = sqlite_db(&dir);
        let writer = GroupCommit::start(db.clone(), 64, 1024).unwrap();
        let mut tasks = Vec::new();
        for n in 0..200 {
            let writer = writer.clone();
            tasks.push(tokio::spawn(async move {
                // Every tenth write repeats an id already written: a unique violation.
                let id = if n % 10 == 9 {
                    format!("w{}", n - 1)
                } else {
                    format!("w{n}")
                };
                writer.write(move |c| insert_entry(c, &id)).await
            }));
        }
        let mut ok = 0;
        let mut conflicts = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(()) => ok += 1,
                Err(ApiError::Conflict(..)) => conflicts += 1,
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!((ok, conflicts), (180, 20));
        let stored: i64 = audit_log::table
            .count()
            .get_result(&mut db.get().unwrap())
            .unwrap();
        assert_eq!(stored, 180);
    }
}
