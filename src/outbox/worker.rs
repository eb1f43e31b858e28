//! The outbox worker of one channel: claims its due deliveries, sends them, records the
//! outcomes. Rows are claimed in the database, so a restart or a second process never loses
//! or doubles a delivery.

use crate::domain::new_id;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::configuration::PushSettings;
use crate::db::Db;
use crate::db::queries::outbox::{Delivery, Outcome, claim_batch, record_outcomes, release_claims};
use crate::error::ApiError;
use crate::outbox::ChannelSender;

/// How long an idle worker waits before looking again without being woken.
const IDLE_POLL: Duration = Duration::from_millis(500);

pub struct OutboxWorker {
    db: Db,
    sender: ChannelSender,
    wake: Arc<Notify>,
    batch_size: i64,
    claim_secs: i64,
    max_attempts: i32,
}

impl OutboxWorker {
    /// The outbox's claims, batches and retries are `[push]`'s for every channel.
    pub fn new(db: Db, sender: ChannelSender, wake: Arc<Notify>, settings: &PushSettings) -> Self {
        Self {
            db,
            sender,
            wake,
            batch_size: settings.batch_size,
            claim_secs: settings.claim_secs,
            max_attempts: settings.max_attempts,
        }
    }

    /// A smaller batch, for a channel whose sends are slower than push's (a claim must
    /// outlast its batch).
    pub fn with_batch_size(mut self, batch_size: i64) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// Claims up to a batch of due deliveries under a claim of their own.
    async fn claim(&self) -> Result<Claim, ApiError> {
        let (id, limit, claim_secs) = (new_id(), self.batch_size, self.claim_secs);
        let channel = self.sender.channel();
        let claim_id = id.clone();
        let deliveries = self
            .db
            .run(move |conn| Ok(claim_batch(conn, channel, &claim_id, limit, claim_secs)?))
            .await?;
        Ok(Claim {
            id,
            deliveries,
            made: Instant::now(),
        })
    }

    async fn record(&self, results: Vec<(Delivery, Outcome)>) -> Result<(), ApiError> {
        let max_attempts = self.max_attempts;
        self.db
            .run(move |conn| Ok(record_outcomes(conn, &results, max_attempts)?))
            .await
    }

    /// Sends one batch; returns how many deliveries it handled (0 when nothing was due).
    pub async fn drain_once(&self) -> Result<usize, ApiError> {
        let claim = self.claim().await?;
        if claim.deliveries.is_empty() {
            return Ok(0);
        }
        let results = self.sender.send_batch(&self.db, claim.deliveries).await?;
        let handled = results.len();
        self.record(results).await?;
        Ok(handled)
    }

    /// Sends until nothing is due (tests and shutdown use it).
    pub async fn drain(&self) -> Result<usize, ApiError> {
        let mut total = 0;
        loop {
            let handled = self.drain_once().await?;
            if handled == 0 {
                return Ok(total);
            }
            total += handled;
        }
    }

    /// Runs until `stop` turns true; woken when something is queued. While a batch is
    /// being sent, the next is claimed and the one before is recorded, so the database's
    /// round trips never leave the sending idle during a fan-out. A batch in flight is always
    /// finished and recorded, and a claim not yet sent is given back on the way out.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut next: Option<Claim> = None;
        let mut recording: Option<JoinHandle<Result<(), ApiError>>> = None;
        while !*stop.borrow() {
            let claim = match next.take() {
                Some(claim) if self.still_held(&claim) => Ok(claim),
                Some(stale) => {
                    // The batch before took so long that this claim could lapse while it
                    // is sent, and another instance send it too: give it back, claim afresh.
                    // Given back or not, it lapses by itself.
                    let _ = self.release(stale.id).await;
                    self.claim().await
                }
                None => self.claim().await,
            };
            let claim = match claim {
                Ok(claim) if claim.deliveries.is_empty() => {
                    self.finish_recording(recording.take()).await;
                    tokio::select! {
                        _ = self.wake.notified() => {}
                        _ = stop.changed() => {}
                        _ = tokio::time::sleep(IDLE_POLL) => {}
                    }
                    continue;
                }
                Ok(claim) => claim,
                Err(e) => {
                    self.pause_after(&e).await;
                    continue;
                }
            };
            let (sent, following) = tokio::join!(
                self.sender.send_batch(&self.db, claim.deliveries),
                self.claim()
            );
            // A claim that failed is tried again at the top of the loop.
            next = following.ok().filter(|c| !c.deliveries.is_empty());
            self.finish_recording(recording.take()).await;
            match sent {
                Ok(results) => {
                    let worker = self.clone();
                    recording = Some(tokio::spawn(async move { worker.record(results).await }));
                }
                Err(e) => self.pause_after(&e).await,
            }
        }
        self.finish_recording(recording.take()).await;
        let Some(unsent) = next else {
            tracing::info!("outbox worker stopped");
            return;
        };
        match self.release(unsent.id).await {
            Ok(released) => {
                tracing::info!(released, "outbox worker stopped; gave back unsent claims")
            }
            Err(e) => {
                tracing::warn!(error = %e, "outbox worker could not give back its claims; they lapse by themselves")
            }
        }
    }

    /// Waits for the previous batch's outcomes to be stored (at most one batch is recorded
    /// at a time). Outcomes that could not be stored are sent again once their claim lapses.
    async fn finish_recording(&self, recording: Option<JoinHandle<Result<(), ApiError>>>) {
        let Some(recording) = recording else { return };
        match recording.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.pause_after(&e).await,
            Err(e) => tracing::error!(error = %e, "outbox worker: recording outcomes failed"),
        }
    }

    /// A prefetched claim is sent only while at least half its time is left.
    fn still_held(&self, claim: &Claim) -> bool {
        let half = Duration::from_secs(u64::try_from(self.claim_secs / 2).unwrap_or(0));
        claim.made.elapsed() < half
    }

    async fn pause_after(&self, e: &ApiError) {
        tracing::warn!(error = %e, channel = self.sender.channel().as_str(), "outbox worker: will retry");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    /// Gives back a claim's unsent deliveries so they go out at once after a restart.
    async fn release(&self, claim: String) -> Result<usize, ApiError> {
        self.db
            .run(move |conn| Ok(release_claims(conn, &claim)?))
            .await
    }
}

/// Deliveries claimed together, under one claim id.
struct Claim {
    id: String,
    deliveries: Vec<Delivery>,
    made: Instant,
}
