//! The durable outbox's workers, one per channel (push, email, LINE), over the same rows
//! (`db::queries::outbox`): claims, retries with back-off, Retry-After, final failure and a
//! graceful stop are the same for every channel; only the sending differs.

pub mod email;
pub mod event_reminder;
pub mod line;
pub mod line_api;
pub mod links;
pub mod mail_text;
pub mod smtp;
pub mod worker;

use std::sync::Arc;

use futures_util::StreamExt;
use tokio::sync::{Notify, watch};

use crate::db::Db;
use crate::db::queries::outbox::{Delivery, Outcome};
use crate::domain::Channel;
use crate::error::ApiError;
use crate::outbox::email::Mailer;
use crate::outbox::line::LineSender;
use crate::push::sender::WebPushSender;

/// How a channel's worker sends a claimed batch.
#[derive(Clone)]
pub enum ChannelSender {
    Push(Arc<WebPushSender>),
    Email(Arc<Mailer>),
    Line(Arc<LineSender>),
}

impl ChannelSender {
    pub fn channel(&self) -> Channel {
        match self {
            ChannelSender::Push(_) => Channel::Push,
            ChannelSender::Email(_) => Channel::Email,
            ChannelSender::Line(_) => Channel::Line,
        }
    }

    pub async fn send_batch(
        &self,
        db: &Db,
        batch: Vec<Delivery>,
    ) -> Result<Vec<(Delivery, Outcome)>, ApiError> {
        match self {
            ChannelSender::Push(sender) => {
                let batch = event_reminder::word_pushes(db, batch).await?;
                Ok(send_pushes(sender, batch).await)
            }
            ChannelSender::Email(mailer) => mailer.send_batch(db, batch).await,
            ChannelSender::Line(sender) => sender.send_batch(db, batch).await,
        }
    }
}

async fn send_pushes(
    sender: &Arc<WebPushSender>,
    batch: Vec<Delivery>,
) -> Vec<(Delivery, Outcome)> {
    let in_flight = batch.len();
    // Each send is its own task, so encryption (the CPU part) spreads over the sending
    // threads; polled inside this one future, the whole batch would use a single core.
    // A send that panics is left out: its claim lapses and it goes out again.
    let sending = crate::push::sending::handle();
    futures_util::stream::iter(batch)
        .map(|delivery| {
            let sender = sender.clone();
            sending.spawn(async move {
                let outcome = sender.send(&delivery).await;
                (delivery, outcome)
            })
        })
        .buffer_unordered(in_flight.max(1))
        .filter_map(|sent| async move { sent.ok() })
        .collect()
        .await
}

/// Use cases wake one `Notify`; each channel's worker waits on its own, so every one wakes.
pub async fn fan_out_wakes(
    wake: Arc<Notify>,
    workers: Vec<Arc<Notify>>,
    mut stop: watch::Receiver<bool>,
) {
    while !*stop.borrow() {
        tokio::select! {
            _ = wake.notified() => workers.iter().for_each(|w| w.notify_one()),
            _ = stop.changed() => {}
        }
    }
}
