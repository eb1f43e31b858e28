//! Keeps this instance's in-memory state coherent with other instances sharing a PostgreSQL
//! database: one dedicated connection LISTENs for what they announce (`db::changes`), drops
//! the matching cache entries (and members' token generations) and wakes the push worker. When that connection is lost, every
//! cached entry is dropped (changes may go unheard until it is back) and it reconnects.
//!
//! Diesel's `notifications_iter` does not block, so the connection is polled every few
//! milliseconds: one non-blocking read each, and no second PostgreSQL client in the build.

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::pg::PgConnection;
use diesel::{Connection, RunQueryDsl};
use tokio::sync::{Notify, watch};

use crate::auth::generations::TokenGenerations;
use crate::db::changes::{self, CHANNEL, Change, PostsChanged};
use crate::inbox_cache::InboxCache;

/// How often the connection is read; bounds how late a change is heard.
const POLL: Duration = Duration::from_millis(5);
/// How often the connection is checked with a query, in case a loss goes unseen.
const PING: Duration = Duration::from_secs(2);
const RECONNECT_DELAY: Duration = Duration::from_millis(500);
/// Operators and tests find the listener in pg_stat_activity by this name.
pub const APPLICATION_NAME: &str = "kairan-listener";

pub struct Listener {
    url: String,
    inbox_cache: Arc<InboxCache>,
    token_generations: Arc<TokenGenerations>,
    wake_push: Arc<Notify>,
    stop: watch::Receiver<bool>,
}

impl Listener {
    pub fn new(
        url: String,
        inbox_cache: Arc<InboxCache>,
        token_generations: Arc<TokenGenerations>,
        wake_push: Arc<Notify>,
        stop: watch::Receiver<bool>,
    ) -> Self {
        Self {
            url,
            inbox_cache,
            token_generations,
            wake_push,
            stop,
        }
    }

    /// Listens until the server stops (a blocking loop: run it on a thread of its own).
    pub fn run(self) {
        while !self.stopping() {
            match self.listen() {
                Ok(mut conn) => {
                    // Whatever changed while nobody listened is unknown.
                    self.forget_everything();
                    tracing::info!("listening for changes from other instances");
                    if let Err(e) = self.hear(&mut conn) {
                        self.forget_everything();
                        tracing::warn!(error = %e, "lost the change listener's connection; reconnecting");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot listen for changes; will retry"),
            }
            self.pause(RECONNECT_DELAY);
        }
    }

    /// Stopped, or the server that started it is gone (a test's runtime waits for blocking
    /// tasks when it ends, so a listener outliving its server would hang it).
    fn stopping(&self) -> bool {
        *self.stop.borrow() || self.stop.has_changed().is_err()
    }

    fn pause(&self, time: Duration) {
        let until = Instant::now() + time;
        while !self.stopping() && Instant::now() < until {
            std::thread::sleep(POLL.min(until.saturating_duration_since(Instant::now())));
        }
    }

    fn listen(&self) -> anyhow::Result<PgConnection> {
        let mut conn = PgConnection::establish(&self.url)?;
        diesel::sql_query(format!("SET application_name = '{APPLICATION_NAME}'"))
            .execute(&mut conn)?;
        diesel::sql_query(format!("LISTEN {CHANNEL}")).execute(&mut conn)?;
        Ok(conn)
    }

    fn forget_everything(&self) {
        self.inbox_cache.drop_all();
        self.token_generations.forget_all();
        self.wake_push.notify_one();
    }

    /// Applies what arrives until the connection fails or the server stops.
    fn hear(&self, conn: &mut PgConnection) -> anyhow::Result<()> {
        let mut pinged = Instant::now();
        while !self.stopping() {
            let mut heard = Vec::new();
            for notification in conn.notifications_iter() {
                let notification = notification?;
                if notification.channel == CHANNEL {
                    heard.push(notification.payload);
                }
            }
            for payload in heard {
                self.apply(changes::parse(&payload));
            }
            if pinged.elapsed() >= PING {
                diesel::sql_query("SELECT 1").execute(conn)?;
                pinged = Instant::now();
            }
            std::thread::sleep(POLL);
        }
        Ok(())
    }

    fn apply(&self, heard: Vec<Change>) {
        let mut posts = PostsChanged::default();
        for change in heard {
            match change {
                Change::Posts => self.inbox_cache.all_posts_changed(),
                Change::Post(post) => posts.posts.push(post),
                Change::Feed(feed) => posts.feeds.push(feed),
                Change::Roster(moved) => self.inbox_cache.roster_changed(&[moved]),
                Change::Receipt(recorded) => self.inbox_cache.receipts_recorded(&[recorded]),
                Change::Push => self.wake_push.notify_one(),
                Change::Tokens(member) => self.token_generations.forget(&member),
            }
        }
        if !posts.is_empty() {
            self.inbox_cache.posts_changed(&posts);
        }
    }
}
