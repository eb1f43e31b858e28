//! The inbox's read model in memory: the newest posts of each audience key, and where each
//! member lives. With both warm, an inbox page costs one small read-state query instead of a
//! membership query and a query per audience key.
//!
//! This process drops what it changes (`posts_changed`, `roster_changed`) as soon as the
//! change commits. Every entry also expires after `posts.inbox_cache_ttl_ms`, so changes made
//! by another process sharing the database show within that time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;

use crate::authz::Membership;
use crate::db::AnyConnection;
use crate::db::queries::posts::{self as queries, FeedEntry, InboxCursor};
use crate::domain::MemberId;
use crate::error::ApiError;

/// Beyond this many members the place map is emptied and refilled, which bounds memory.
const MAX_PLACES: usize = 100_000;

pub struct InboxCache {
    ttl: Duration,
    /// Posts kept per audience key; older pages come from the database.
    window: usize,
    posts_generation: AtomicU64,
    roster_generation: AtomicU64,
    feeds: RwLock<HashMap<String, Feed>>,
    places: RwLock<HashMap<MemberId, Place>>,
}

#[derive(Clone)]
struct Feed {
    generation: u64,
    loaded: Instant,
    entries: Arc<[FeedEntry]>,
    /// False when older posts exist beyond `entries`.
    complete: bool,
}

struct Place {
    generation: u64,
    loaded: Instant,
    membership: Arc<Membership>,
}

impl InboxCache {
    pub fn new(ttl: Duration, window: usize) -> Self {
        Self {
            ttl,
            window: window.max(1),
            posts_generation: AtomicU64::new(0),
            roster_generation: AtomicU64::new(0),
            feeds: RwLock::new(HashMap::new()),
            places: RwLock::new(HashMap::new()),
        }
    }

    /// Call after a post is published, edited or withdrawn.
    pub fn posts_changed(&self) {
        self.posts_generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Call after a member, household or han changes place.
    pub fn roster_changed(&self) {
        self.roster_generation.fetch_add(1, Ordering::AcqRel);
    }

    fn fresh(&self, generation: u64, current: u64, loaded: Instant) -> bool {
        generation == current && loaded.elapsed() < self.ttl
    }

    /// Where the member lives; a disabled or unknown member is refused as not signed in.
    pub fn membership(
        &self,
        conn: &mut AnyConnection,
        member: &MemberId,
    ) -> Result<Arc<Membership>, ApiError> {
        // Read before loading: a change committed meanwhile leaves the entry already stale.
        let generation = self.roster_generation.load(Ordering::Acquire);
        if let Some(place) = read(&self.places).get(member)
            && self.fresh(place.generation, generation, place.loaded)
        {
            return Ok(place.membership.clone());
        }
        let membership = Arc::new(Membership::load(conn, member)?);
        let mut places = write(&self.places);
        if places.len() >= MAX_PLACES {
            places.clear();
        }
        places.insert(
            member.clone(),
            Place {
                generation,
                loaded: Instant::now(),
                membership: membership.clone(),
            },
        );
        Ok(membership)
    }

    fn feed(
        &self,
        conn: &mut AnyConnection,
        key: &str,
        at: NaiveDateTime,
    ) -> Result<Feed, ApiError> {
        let generation = self.posts_generation.load(Ordering::Acquire);
        if let Some(feed) = read(&self.feeds).get(key)
            && self.fresh(feed.generation, generation, feed.loaded)
        {
            return Ok(feed.clone());
        }
        let mut entries = queries::feed(conn, key, self.window + 1, at)?;
        let complete = entries.len() <= self.window;
        entries.truncate(self.window);
        let feed = Feed {
            generation,
            loaded: Instant::now(),
            entries: entries.into(),
            complete,
        };
        write(&self.feeds).insert(key.to_owned(), feed.clone());
        Ok(feed)
    }

    /// One page plus one entry (to tell whether more follow), newest first, or `None` when
    /// the page reaches past what is kept and must come from the database.
    pub fn page(
        &self,
        conn: &mut AnyConnection,
        keys: &[String],
        after: Option<&InboxCursor>,
        limit: usize,
        at: NaiveDateTime,
    ) -> Result<Option<Vec<FeedEntry>>, ApiError> {
        let feeds = keys
            .iter()
            .map(|key| self.feed(conn, key, at))
            .collect::<Result<Vec<_>, _>>()?;
        // Below the oldest kept post of a truncated feed, posts may be missing.
        let horizon = feeds
            .iter()
            .filter(|feed| !feed.complete)
            .filter_map(|feed| feed.entries.last())
            .map(|oldest| (oldest.published_at, &oldest.post.id))
            .max();
        let mut merged: Vec<&FeedEntry> = feeds
            .iter()
            .flat_map(|feed| feed.entries.iter())
            .filter(|e| e.post.expires_at.is_none_or(|t| t > at))
            .filter(|e| {
                after.is_none_or(|c| (e.published_at, &e.post.id) < (c.published_at, &c.post_id))
            })
            .collect();
        merged.sort_unstable_by(|a, b| {
            (b.published_at, &b.post.id).cmp(&(a.published_at, &a.post.id))
        });
        let wanted = limit + 1;
        if let Some(horizon) = horizon {
            let exact = merged
                .iter()
                .take_while(|e| (e.published_at, &e.post.id) > horizon)
                .count();
            if exact < wanted {
                return Ok(None);
            }
        }
        Ok(Some(merged.into_iter().take(wanted).cloned().collect()))
    }
}

// A panic while holding a lock leaves plain data behind, still usable.
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
