//! The outbox worker: claims due deliveries, sends them concurrently, records the outcomes.
//! Rows are claimed in the database, so a restart or a second process never loses or
//! doubles a delivery.

use crate::domain::new_id;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{Notify, watch};

use crate::configuration::PushSettings;
use crate::db::Db;
use crate::db::queries::push::{claim_batch, record_outcomes, release_claims};
use crate::error::ApiError;
use crate::push::sender::WebPushSender;

/// How long an idle worker waits before looking again without being woken.
const IDLE_POLL: Duration = Duration::from_millis(500);

pub struct PushWorker {
    db: Db,
    sender: Arc<WebPushSender>,
    wake: Arc<Notify>,
    id: String,
    batch_size: i64,
    claim_secs: i64,
    max_attempts: i32,
}

impl PushWorker {
    pub fn new(
        db: Db,
        sender: Arc<WebPushSender>,
        wake: Arc<Notify>,
        settings: &PushSettings,
    ) -> Self {
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

    /// Sends one batch; returns how many deliveries it handled (0 when nothing was due).
    pub async fn drain_once(&self) -> Result<usize, ApiError> {
        let (worker, limit, claim_secs) = (self.id.clone(), self.batch_size, self.claim_secs);
        let batch = self
            .db
            .run(move |conn| Ok(claim_batch(conn, &worker, limit, claim_secs)?))
            .await?;
        if batch.is_empty() {
            return Ok(0);
        }
        let sender = self.sender.clone();
        let in_flight = batch.len();
        // Each send is its own task, so encryption (the CPU part) spreads over the runtime's
        // threads; polled inside this one future, the whole batch would use a single core.
        // A send that panics is left out: its claim lapses and it goes out again.
        let results: Vec<_> = futures_util::stream::iter(batch)
            .map(|delivery| {
                let sender = sender.clone();
                tokio::spawn(async move {
                    let outcome = sender.send(&delivery).await;
                    (delivery, outcome)
                })
            })
            .buffer_unordered(in_flight)
            .filter_map(|sent| async move { sent.ok() })
            .collect()
            .await;
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
                    tracing::warn!(error = %e, "push worker: will retry");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        match self.release().await {
            Ok(released) if released > 0 => {
                tracing::info!(released, "push worker stopped; gave back unsent claims")
            }
            Ok(_) => tracing::info!("push worker stopped"),
            Err(e) => {
                tracing::warn!(error = %e, "push worker could not give back its claims; they lapse by themselves")
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
