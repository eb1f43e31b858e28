//! The inbox's read model in memory: the newest posts of each audience key, published posts
//! opened by id, where every member lives (`places::Directory`, the whole city), and who has
//! read and confirmed the posts shown (`read_book::ReadBook`). With these warm, an
//! inbox page, a circular by id and the audience check of a read or confirmation are answered
//! without the database.
//!
//! This process drops what it changes (`posts_changed`: only the changed posts and the feeds
//! they are listed in; `roster_changed`) and writes in the receipts it records
//! (`receipts_recorded`) as soon as the change commits; on PostgreSQL it
//! does the same with what other instances announce (`coherence`). Feeds and posts also
//! expire after `posts.inbox_cache_ttl_ms`, a backstop for a change that went unheard, and
//! the read book reads its older posts again in the background (D95); the places are read again whole every `PLACES_RELOAD` and whenever changes may have gone
//! unheard (`drop_all`).

use crate::domain::AudienceKey;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;

use crate::authz::Membership;
use crate::db::AnyConnection;
use crate::db::changes::{PostsChanged, Recorded};
use crate::db::queries::inbox::{self, FeedEntry, InboxCursor, InboxRow};
use crate::db::queries::posts::{self as queries, PostDetail};
use crate::domain::{MemberId, PostId};
use crate::error::ApiError;
use crate::locks::{read, write};
use crate::places::{Directory, Moved};
use crate::read_book::{ReadBook, ReadState};

/// A full map first drops its expired entries, then everything if that is not enough: this
/// bounds memory. Entries live for the TTL, so this only binds when that many posts were
/// opened by id within one TTL. Bodies may be long (20,000 characters).
const MAX_POSTS: usize = 1_000;

pub struct InboxCache {
    ttl: Duration,
    /// Posts kept per audience key; older pages come from the database.
    window: usize,
    /// Moves on with every change of posts, so a feed or post loaded while one commits is
    /// not kept (it may predate the change that dropped it).
    posts_clock: AtomicU64,
    feeds: RwLock<HashMap<AudienceKey, Feed>>,
    places: RwLock<Places>,
    /// Asks `jobs::keep_places_loaded` to read every place again.
    reload_places: tokio::sync::Notify,
    posts: RwLock<HashMap<PostId, CachedPost>>,
    book: ReadBook,
}

#[derive(Clone)]
struct Feed {
    loaded: Instant,
    entries: Arc<[FeedEntry]>,
    /// False when older posts exist beyond `entries`.
    complete: bool,
}

/// A member and a post of their audience.
pub type Readable = (Arc<Membership>, Arc<PostDetail>);

struct CachedPost {
    loaded: Instant,
    detail: Arc<PostDetail>,
}

struct Places {
    directory: Directory,
    /// Moves on with every change, so a place loaded before one is not kept.
    generation: u64,
    /// While a whole reload runs: what moved meanwhile (forgotten from what it read before
    /// it is used).
    moved_while_reloading: Option<Vec<Moved>>,
}

/// A whole reload of the places, begun by `begin_places_reload`.
pub struct PlacesReload {
    pub directory: Directory,
    /// Each member's token generation, read in the same chunks, for `TokenGenerations`.
    pub generations: HashMap<[u8; 16], i64>,
}

impl InboxCache {
    pub fn new(ttl: Duration, window: usize) -> Self {
        Self {
            ttl,
            window: window.max(1),
            posts_clock: AtomicU64::new(0),
            feeds: RwLock::new(HashMap::new()),
            places: RwLock::new(Places {
                directory: Directory::default(),
                generation: 0,
                moved_while_reloading: None,
            }),
            reload_places: tokio::sync::Notify::new(),
            posts: RwLock::new(HashMap::new()),
            book: ReadBook::new(ttl),
        }
    }

    /// Call after posts are published, edited or withdrawn (after the commit): drops them and
    /// the feeds they are listed in; every other feed stays warm.
    pub fn posts_changed(&self, changed: &PostsChanged) {
        if changed.is_empty() {
            return;
        }
        self.posts_clock.fetch_add(1, Ordering::AcqRel);
        let mut feeds = write(&self.feeds);
        for key in &changed.feeds {
            feeds.remove(key);
        }
        drop(feeds);
        let mut posts = write(&self.posts);
        for id in &changed.posts {
            posts.remove(id);
        }
    }

    /// Drops every feed and post: any of them may have changed.
    pub fn all_posts_changed(&self) {
        self.posts_clock.fetch_add(1, Ordering::AcqRel);
        write(&self.feeds).clear();
        write(&self.posts).clear();
    }

    /// Call after members, households or associations change place (after the commit).
    pub fn roster_changed(&self, moved: &[Moved]) {
        let mut places = write(&self.places);
        places.generation += 1;
        for moved in moved {
            places.directory.forget(moved);
            if let Some(log) = &mut places.moved_while_reloading {
                log.push(moved.clone());
            }
        }
        if moved.contains(&Moved::Everyone) {
            drop(places);
            self.reload_places.notify_one();
        }
    }

    /// Waits until the places should be read again whole.
    pub async fn places_reload_wanted(&self) {
        self.reload_places.notified().await;
    }

    /// Asks for the places to be read again whole (at start, and as a backstop).
    pub fn want_places_reload(&self) {
        self.reload_places.notify_one();
    }

    /// Starts a whole reload: what moves from now on is remembered for `finish_places_reload`.
    pub fn begin_places_reload(&self) -> PlacesReload {
        write(&self.places).moved_while_reloading = Some(Vec::new());
        PlacesReload {
            directory: Directory::default(),
            generations: HashMap::new(),
        }
    }

    /// Uses what a reload read, less what moved meanwhile; everyone moving meanwhile asks
    /// for another reload instead. Answers the number of members and bytes it holds.
    pub fn finish_places_reload(&self, reload: PlacesReload) -> Option<(usize, usize)> {
        let mut directory = reload.directory;
        let mut places = write(&self.places);
        let moved = places.moved_while_reloading.take().unwrap_or_default();
        if moved.contains(&Moved::Everyone) {
            drop(places);
            self.reload_places.notify_one();
            return None;
        }
        for moved in &moved {
            directory.forget(moved);
        }
        directory.shrink();
        let held = (directory.members(), directory.bytes());
        places.directory = directory;
        places.generation += 1;
        Some(held)
    }

    /// A reload that failed: the places stay as they were.
    pub fn abandon_places_reload(&self) {
        write(&self.places).moved_while_reloading = None;
    }

    /// Call after reads or confirmations commit.
    pub fn receipts_recorded(&self, recorded: &[Recorded]) {
        self.book.record(recorded);
    }

    /// Books who read the posts of one feed that many share (the city's, a district's), so
    /// the first members to ask after a start do not each wait for them.
    pub fn warm(&self, conn: &mut AnyConnection, key: &AudienceKey) -> Result<(), ApiError> {
        let feed = self.feed(conn, key, crate::db::now())?;
        let ids: Vec<PostId> = feed.entries.iter().map(|e| e.post.id.clone()).collect();
        Ok(self.book.book_posts(conn, &ids)?)
    }

    /// Booked posts to read again (older than the TTL); those nobody asked about are dropped.
    pub fn read_states_due(&self) -> Vec<PostId> {
        self.book.due()
    }

    /// Reads a booked post's receipts again, adding any that went unheard.
    pub fn refresh_read_states(
        &self,
        conn: &mut AnyConnection,
        id: &PostId,
    ) -> Result<(), ApiError> {
        Ok(self.book.refresh(conn, id)?)
    }

    /// Forgets everything: changes made elsewhere may have gone unheard (the change listener
    /// lost its connection).
    pub fn drop_all(&self) {
        self.all_posts_changed();
        self.roster_changed(&[Moved::Everyone]);
        self.book.clear();
    }

    fn fresh(&self, loaded: Instant) -> bool {
        loaded.elapsed() < self.ttl
    }

    fn cached_membership(&self, member: &MemberId) -> Option<Arc<Membership>> {
        read(&self.places).directory.get(member).map(Arc::new)
    }

    /// Where the member lives; a disabled or unknown member is refused as not signed in.
    pub fn membership(
        &self,
        conn: &mut AnyConnection,
        member: &MemberId,
    ) -> Result<Arc<Membership>, ApiError> {
        // Read before loading: a change committed meanwhile leaves the place already stale.
        let generation = {
            let places = read(&self.places);
            if let Some(membership) = places.directory.get(member) {
                return Ok(Arc::new(membership));
            }
            places.generation
        };
        let membership = Membership::load(conn, member)?;
        let mut places = write(&self.places);
        if places.generation == generation {
            places.directory.learn(&membership);
        }
        Ok(Arc::new(membership))
    }

    fn cached_post(&self, id: &PostId) -> Option<Arc<PostDetail>> {
        read(&self.posts)
            .get(id)
            .filter(|cached| self.fresh(cached.loaded))
            .map(|cached| cached.detail.clone())
    }

    /// A published post with its detail; `None` for any other id, which is not kept.
    pub fn published_post(
        &self,
        conn: &mut AnyConnection,
        id: &PostId,
    ) -> Result<Option<Arc<PostDetail>>, ApiError> {
        let clock = self.posts_clock.load(Ordering::Acquire);
        if let Some(detail) = self.cached_post(id) {
            return Ok(Some(detail));
        }
        let Some(post) = queries::find_post(conn, id)? else {
            return Ok(None);
        };
        if post.status != crate::domain::PostStatus::Published {
            return Ok(None);
        }
        let detail = Arc::new(queries::post_detail(conn, post)?);
        let mut posts = write(&self.posts);
        if self.posts_clock.load(Ordering::Acquire) != clock {
            return Ok(Some(detail));
        }
        if posts.len() >= MAX_POSTS {
            make_room(&mut posts, MAX_POSTS, |cached| cached.loaded, self.ttl);
        }
        posts.insert(
            id.clone(),
            CachedPost {
                loaded: Instant::now(),
                detail: detail.clone(),
            },
        );
        Ok(Some(detail))
    }

    /// The member's place and the post, from memory alone, when the post is theirs to read.
    pub fn cached_audience_post(
        &self,
        member: &MemberId,
        id: &PostId,
        at: NaiveDateTime,
    ) -> Option<Readable> {
        let place = self.cached_membership(member)?;
        let detail = self.cached_post(id)?;
        in_audience(&place, &detail, at).then_some((place, detail))
    }

    /// The member's place and the post when the post is theirs to read, loading what is
    /// missing; `None` when it is not (or does not exist).
    pub fn audience_post(
        &self,
        conn: &mut AnyConnection,
        member: &MemberId,
        id: &PostId,
        at: NaiveDateTime,
    ) -> Result<Option<Readable>, ApiError> {
        let place = self.membership(conn, member)?;
        let Some(detail) = self.published_post(conn, id)? else {
            return Ok(None);
        };
        Ok(in_audience(&place, &detail, at).then_some((place, detail)))
    }

    /// The member's read state of one post and their household's confirmation, if known.
    pub fn cached_read_state(&self, place: &Membership, id: &PostId) -> Option<(bool, bool)> {
        let household = place.household_id.as_ref()?;
        let state = *self
            .book
            .states(&place.member_id, household, [id])?
            .first()?;
        Some((state.read, state.confirmed))
    }

    /// As `cached_read_state`, loading and keeping it when not known.
    pub fn read_state(
        &self,
        conn: &mut AnyConnection,
        place: &Membership,
        id: &PostId,
    ) -> Result<(bool, bool), ApiError> {
        let Some(household) = &place.household_id else {
            return Ok(inbox::read_state(conn, id, &place.member_id, None)?);
        };
        let states =
            self.book
                .load_states(conn, &place.member_id, household, std::slice::from_ref(id))?;
        let state = states.first().copied().unwrap_or_default();
        Ok((state.read, state.confirmed))
    }

    fn cached_feed(&self, key: &AudienceKey) -> Option<Feed> {
        read(&self.feeds)
            .get(key)
            .filter(|feed| self.fresh(feed.loaded))
            .cloned()
    }

    fn feed(
        &self,
        conn: &mut AnyConnection,
        key: &AudienceKey,
        at: NaiveDateTime,
    ) -> Result<Feed, ApiError> {
        let clock = self.posts_clock.load(Ordering::Acquire);
        if let Some(feed) = self.cached_feed(key) {
            return Ok(feed);
        }
        let mut entries = inbox::feed(conn, key, self.window + 1, at)?;
        let complete = entries.len() <= self.window;
        entries.truncate(self.window);
        let feed = Feed {
            loaded: Instant::now(),
            entries: entries.into(),
            complete,
        };
        let mut feeds = write(&self.feeds);
        if self.posts_clock.load(Ordering::Acquire) == clock {
            feeds.insert(key.clone(), feed.clone());
        }
        Ok(feed)
    }

    /// One page plus one entry (to tell whether more follow), newest first, or `None` when
    /// the page reaches past what is kept and must come from the database.
    pub fn page(
        &self,
        conn: &mut AnyConnection,
        keys: &[AudienceKey],
        after: Option<&InboxCursor>,
        limit: usize,
        at: NaiveDateTime,
    ) -> Result<Option<Vec<FeedEntry>>, ApiError> {
        let feeds = keys
            .iter()
            .map(|key| self.feed(conn, key, at))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(merge(&feeds, after, limit, at))
    }

    /// The page answered from memory alone (no database, so fit for a request thread), or
    /// `None` when anything it needs is missing or stale.
    pub fn cached_page(
        &self,
        member: &MemberId,
        after: Option<&InboxCursor>,
        limit: usize,
        at: NaiveDateTime,
    ) -> Option<Vec<InboxRow>> {
        let place = self.cached_membership(member)?;
        let household = place.household_id.as_ref()?;
        let keys = place.audience_keys();
        let feeds = keys
            .iter()
            .map(|key| self.cached_feed(key))
            .collect::<Option<Vec<_>>>()?;
        let entries = merge(&feeds, after, limit, at)?;
        let states = self
            .book
            .states(member, household, entries.iter().map(|e| &e.post.id))?;
        Some(rows(entries, states))
    }

    /// The member's read state of the entries, and the household's confirmations, from the
    /// book, booking the posts it lacks.
    pub fn with_read_states(
        &self,
        conn: &mut AnyConnection,
        place: &Membership,
        entries: Vec<FeedEntry>,
    ) -> Result<Vec<InboxRow>, ApiError> {
        let member = &place.member_id;
        let Some(household) = &place.household_id else {
            // Outside any household nothing is confirmed and no audience reaches them.
            return Ok(rows(entries, Vec::new()));
        };
        let ids: Vec<PostId> = entries.iter().map(|e| e.post.id.clone()).collect();
        let states = self.book.load_states(conn, member, household, &ids)?;
        Ok(rows(entries, states))
    }
}

fn in_audience(place: &Membership, detail: &PostDetail, at: NaiveDateTime) -> bool {
    detail.in_audience(&place.audience_keys(), at)
}

/// Pairs entries with their states; an entry without one (no household) is unread.
fn rows(entries: Vec<FeedEntry>, states: Vec<ReadState>) -> Vec<InboxRow> {
    let mut states = states.into_iter();
    entries
        .into_iter()
        .map(|e| {
            let state = states.next().unwrap_or_default();
            InboxRow {
                read: state.read,
                confirmed: state.confirmed,
                post: e.post,
                published_at: e.published_at,
            }
        })
        .collect()
}

/// Merges the feeds into one page plus one entry, or `None` when the page reaches past what
/// is kept.
fn merge(
    feeds: &[Feed],
    after: Option<&InboxCursor>,
    limit: usize,
    at: NaiveDateTime,
) -> Option<Vec<FeedEntry>> {
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
    merged.sort_unstable_by(|a, b| (b.published_at, &b.post.id).cmp(&(a.published_at, &a.post.id)));
    let wanted = limit + 1;
    if let Some(horizon) = horizon {
        let exact = merged
            .iter()
            .take_while(|e| (e.published_at, &e.post.id) > horizon)
            .count();
        if exact < wanted {
            return None;
        }
    }
    Some(merged.into_iter().take(wanted).cloned().collect())
}

fn make_room<K, V>(
    map: &mut HashMap<K, V>,
    max: usize,
    loaded: impl Fn(&V) -> Instant,
    ttl: Duration,
) {
    map.retain(|_, entry| loaded(entry).elapsed() < ttl);
    if map.len() >= max {
        map.clear();
    }
}

#[cfg(test)]
mod merge_tests {
    use chrono::{DateTime, Duration};

    use super::*;
    use crate::db::queries::inbox::PostSummary;
    use crate::domain::{Category, Priority, Tier};

    fn t(minutes: i64) -> NaiveDateTime {
        let start = DateTime::from_timestamp(1_780_000_000, 0).map(|t| t.naive_utc());
        start.unwrap_or_default() + Duration::minutes(minutes)
    }

    fn entry(id: &str, minutes: i64, expires: Option<i64>) -> FeedEntry {
        FeedEntry {
            post: PostSummary {
                id: PostId(id.into()),
                tier: Tier::Association,
                title: id.into(),
                category: Category::Notice,
                priority: Priority::Normal,
                requires_confirmation: false,
                expires_at: expires.map(t),
            },
            published_at: t(minutes),
        }
    }

    /// A feed's entries newest first, as `feed()` loads them.
    fn feed(mut entries: Vec<FeedEntry>, complete: bool) -> Feed {
        entries.sort_by(|a, b| (b.published_at, &b.post.id).cmp(&(a.published_at, &a.post.id)));
        Feed {
            loaded: Instant::now(),
            entries: entries.into(),
            complete,
        }
    }

    fn ids(page: Option<Vec<FeedEntry>>) -> Option<Vec<String>> {
        page.map(|entries| entries.into_iter().map(|e| e.post.id.0).collect())
    }

    #[test]
    fn feeds_merge_newest_first_with_one_extra_entry_and_ties_broken_by_id() {
        let city = feed(vec![entry("c1", 1, None), entry("c3", 3, None)], true);
        let han = feed(vec![entry("h2", 2, None), entry("h3", 3, None)], true);
        let page = merge(&[city, han], None, 2, t(10));
        assert_eq!(ids(page), Some(vec!["h3".into(), "c3".into(), "h2".into()]));
    }

    #[test]
    fn expired_entries_are_left_out_and_a_cursor_starts_after_its_entry() {
        let feeds = [feed(
            vec![
                entry("a", 1, None),
                entry("b", 2, Some(5)),
                entry("c", 3, None),
                entry("d", 4, None),
            ],
            true,
        )];
        assert_eq!(
            ids(merge(&feeds, None, 10, t(6))),
            Some(vec!["d".into(), "c".into(), "a".into()])
        );
        let after = InboxCursor {
            published_at: t(3),
            post_id: PostId("c".into()),
        };
        assert_eq!(
            ids(merge(&feeds, Some(&after), 10, t(6))),
            Some(vec!["a".into()])
        );
    }

    #[test]
    fn a_page_reaching_below_a_truncated_feed_must_come_from_the_database() {
        // The han feed keeps only its two newest posts; older ones may exist.
        let han = feed(vec![entry("h5", 5, None), entry("h4", 4, None)], false);
        let city = feed(
            vec![
                entry("c1", 1, None),
                entry("c2", 2, None),
                entry("c6", 6, None),
            ],
            true,
        );
        let feeds = [han, city];
        // Two entries plus one above the horizon (h4 at minute 4) are known exactly.
        assert_eq!(
            ids(merge(&feeds, None, 1, t(10))),
            Some(vec!["c6".into(), "h5".into()])
        );
        // A third would be c2 at minute 2, below the horizon, where han posts may be missing.
        assert_eq!(ids(merge(&feeds, None, 3, t(10))), None);
    }

    #[test]
    fn complete_feeds_answer_any_page_even_a_short_last_one() {
        let feeds = [
            feed(vec![entry("a", 1, None)], true),
            feed(Vec::new(), true),
        ];
        assert_eq!(ids(merge(&feeds, None, 20, t(10))), Some(vec!["a".into()]));
    }
}
