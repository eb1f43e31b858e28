//! The outbox worker of one channel: claims its due deliveries, sends them, records the
//! outcomes. Rows are claimed in the database, so a restart or a second process never loses
//! or doubles a delivery.

use crate::domain::new_id;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::configuration::PushSettings;
use crate::db::Db;
use crate::db::queries::outbox::{claim_batch, record_outcomes, release_claims};
use crate::error::ApiError;
use crate::outbox::ChannelSender;

/// How long an idle worker waits before looking again without being woken.
const IDLE_POLL: Duration = Duration::from_millis(500);

pub struct OutboxWorker {
    db: Db,
    sender: ChannelSender,
    wake: Arc<Notify>,
    id: String,
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
            id: new_id(),
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

    /// Sends one batch; returns how many deliveries it handled (0 when nothing was due).
    pub async fn drain_once(&self) -> Result<usize, ApiError> {
        let (worker, limit, claim_secs) = (self.id.clone(), self.batch_size, self.claim_secs);
        let channel = self.sender.channel();
        let batch = self
            .db
            .run(move |conn| Ok(claim_batch(conn, channel, &worker, limit, claim_secs)?))
            .await?;
        if batch.is_empty() {
            return Ok(0);
        }
        let results = self.sender.send_batch(&self.db, batch).await?;
        let handled = results.len();
        let max_attempts = self.max_attempts;
        self.db
            .run(move |conn| Ok(record_outcomes(conn, &results, max_attempts)?))
            .await?;
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

    /// Runs until `stop` turns true; woken when something is queued. A batch in flight is
    /// always finished and recorded, and claims not yet sent are given back on the way out.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        while !*stop.borrow() {
            match self.drain_once().await {
                Ok(0) => {
                    tokio::select! {
                        _ = self.wake.notified() => {}
                        _ = stop.changed() => {}
                        _ = tokio::time::sleep(IDLE_POLL) => {}
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, channel = self.sender.channel().as_str(), "outbox worker: will retry");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        match self.release().await {
            Ok(released) if released > 0 => {
                tracing::info!(released, "outbox worker stopped; gave back unsent claims")
            }
            Ok(_) => tracing::info!("outbox worker stopped"),
            Err(e) => {
                tracing::warn!(error = %e, "outbox worker could not give back its claims; they lapse by themselves")
            }
        }
    }

    /// Gives back claimed but unsent deliveries so they go out at once after a restart.
    pub async fn release(&self) -> Result<usize, ApiError> {
        let worker = self.id.clone();
        self.db
            .run(move |conn| Ok(release_claims(conn, &worker)?))
            .await
    }
}
