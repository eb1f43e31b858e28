//! Who has opened each post the inbox shows, and which households have confirmed it, in
//! memory (D92). A member not seen for days asks for a page of posts that many others see
//! too (the city's, their district's, their association's): once those posts are booked,
//! their page and its read states need no query. In an emergency every member asks about the
//! same city-wide circular, so one booked post answers them all.
//!
//! Compact: members and households are numbered once for the whole book, and each post keeps
//! its readers and confirmed households as sets of those numbers (`RoaringBitmap`: a sorted
//! array while few, a bitmap when many), so a city-wide post read by every member of Kanazawa
//! takes about 25 kB.
//!
//! A post is booked whole, on first need, with the other posts of the page it is asked for
//! in two indexed reads; from then on each receipt is
//! written into the book when it commits (this process's at once, on PostgreSQL other
//! instances' through `coherence`). Receipts are never deleted, so the book only grows
//! between loads. A receipt that commits while a post is being loaded is logged and applied
//! to what the load read, so the load cannot miss it.
//!
//! As a backstop for receipts nobody announced (written by another program), a booked post
//! is read again in the background once it is older than the TTL (`due`, `refresh`), and is
//! answered meanwhile: no request waits for a city-wide post's hundreds of thousands of
//! rows. A post nobody asked about for a TTL leaves the book instead.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel::QueryResult;
use roaring::RoaringBitmap;

use crate::db::AnyConnection;
use crate::db::changes::Recorded;
use crate::db::queries::inbox;
use crate::domain::{HouseholdId, MemberId, PostId};
use crate::locks::{read, write};
use crate::places::key;

/// Readers and confirmed households kept over all booked posts (at most 2 bytes each in a
/// post's sets): bounds memory. The least recently asked posts leave first.
const MAX_ENTRIES: u64 = 10_000_000;

/// What one member sees of one post: their own read, their household's confirmation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadState {
    pub read: bool,
    pub confirmed: bool,
}

pub struct ReadBook {
    /// How old a booked post may grow before it is read again, and how long one nobody asks
    /// about is kept.
    ttl: Duration,
    started: Instant,
    /// Numbers each load, so a load forgotten by `clear` is never taken for a later one.
    loads: AtomicU64,
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Inner {
    posts: HashMap<PostId, Entry>,
    /// Readers and confirmed households over all booked posts.
    entries: u64,
    numbers: Numbering,
}

#[derive(Default)]
struct Numbering {
    members: Numbers,
    households: Numbers,
}

/// Ids numbered in order of first sight, for as long as the book lives.
#[derive(Default)]
struct Numbers(HashMap<[u8; 16], u32>);

impl Numbers {
    fn find(&self, key: &[u8; 16]) -> Option<u32> {
        self.0.get(key).copied()
    }

    fn number(&mut self, key: [u8; 16]) -> Option<u32> {
        let next = u32::try_from(self.0.len()).ok()?;
        Some(*self.0.entry(key).or_insert(next))
    }
}

/// The ids' keys, or `None` when one cannot be kept (not written by `domain::new_id`).
fn keys<'a>(ids: impl IntoIterator<Item = &'a str>) -> Option<Vec<[u8; 16]>> {
    ids.into_iter().map(key).collect()
}

/// A post's readers and confirmed households as read from the database, parsed before the
/// book's lock is taken (a city-wide post has tens of thousands); `None` when an id cannot be
/// kept.
struct ReadReceipts {
    readers: Vec<[u8; 16]>,
    confirmed: Vec<[u8; 16]>,
}

impl ReadReceipts {
    fn parse(readers: &[MemberId], confirmed: &[HouseholdId]) -> Option<Self> {
        Some(Self {
            readers: keys(readers.iter().map(MemberId::as_str))?,
            confirmed: keys(confirmed.iter().map(HouseholdId::as_str))?,
        })
    }
}

enum Entry {
    /// Being read by the load holding `token`; receipts committed meanwhile wait in `log`.
    Loading {
        token: u64,
        log: Vec<Recorded>,
    },
    Booked(Booked),
}

struct Booked {
    loaded: Instant,
    /// Seconds since the book started, when last asked (eviction order).
    used: AtomicU64,
    readers: RoaringBitmap,
    confirmed: RoaringBitmap,
}

impl Booked {
    fn len(&self) -> u64 {
        self.readers.len() + self.confirmed.len()
    }
}

impl Numbering {
    /// Writes the receipt into the post's sets and answers how many entries it added, or
    /// `None` when an id cannot be kept: the post must then leave the book.
    fn record(&mut self, booked: &mut Booked, recorded: &Recorded) -> Option<u64> {
        let mut added = 0;
        if let Some(member) = &recorded.member {
            let member = self.members.number(key(member.as_str())?)?;
            added += u64::from(booked.readers.insert(member));
        }
        if recorded.confirmed {
            let household = self.households.number(key(recorded.household.as_str())?)?;
            added += u64::from(booked.confirmed.insert(household));
        }
        Some(added)
    }

    /// Adds what was read to the post's sets; `None` when the book is out of numbers.
    fn add(&mut self, booked: &mut Booked, receipts: ReadReceipts) -> Option<()> {
        for member in receipts.readers {
            booked.readers.insert(self.members.number(member)?);
        }
        for household in receipts.confirmed {
            booked.confirmed.insert(self.households.number(household)?);
        }
        Some(())
    }
}

impl ReadBook {
    /// A `ttl` of zero keeps nothing: every state is read from the database.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            started: Instant::now(),
            loads: AtomicU64::new(0),
            inner: RwLock::new(Inner::default()),
        }
    }

    fn now(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// The member's states of these posts, when every one is booked.
    pub fn states<'a>(
        &self,
        member: &MemberId,
        household: &HouseholdId,
        ids: impl IntoIterator<Item = &'a PostId>,
    ) -> Option<Vec<ReadState>> {
        let (member, household) = (key(member.as_str())?, key(household.as_str())?);
        let now = self.now();
        let inner = read(&self.inner);
        // Not numbered: in no booked post's sets.
        let member = inner.numbers.members.find(&member);
        let household = inner.numbers.households.find(&household);
        let holds = |set: &RoaringBitmap, n: Option<u32>| n.is_some_and(|n| set.contains(n));
        ids.into_iter()
            .map(|id| match inner.posts.get(id) {
                Some(Entry::Booked(booked)) => {
                    booked.used.store(now, Ordering::Relaxed);
                    Some(ReadState {
                        read: holds(&booked.readers, member),
                        confirmed: holds(&booked.confirmed, household),
                    })
                }
                _ => None,
            })
            .collect()
    }

    /// As `states`, first booking the posts not booked yet. Posts another thread is booking
    /// meanwhile, and members the book cannot keep, are read for this member alone.
    pub fn load_states(
        &self,
        conn: &mut AnyConnection,
        member: &MemberId,
        household: &HouseholdId,
        ids: &[PostId],
    ) -> QueryResult<Vec<ReadState>> {
        if let Some(states) = self.states(member, household, ids) {
            return Ok(states);
        }
        let keepable = !self.ttl.is_zero()
            && key(member.as_str()).is_some()
            && key(household.as_str()).is_some();
        if keepable {
            let mut loads = Loads {
                book: self,
                pending: self.begin_loads(ids),
            };
            self.book(conn, &mut loads)?;
            if let Some(states) = self.states(member, household, ids) {
                return Ok(states);
            }
        }
        let (read, confirmed) = inbox::read_states(conn, member, Some(household), ids)?;
        Ok(ids
            .iter()
            .map(|id| ReadState {
                read: read.contains(id),
                confirmed: confirmed.contains(id),
            })
            .collect())
    }

    /// Reads and books the pending posts: together when they are small, else one by one.
    fn book(&self, conn: &mut AnyConnection, loads: &mut Loads<'_>) -> QueryResult<()> {
        if loads.pending.is_empty() {
            return Ok(());
        }
        let wanted: Vec<PostId> = loads.pending.iter().map(|(id, _)| id.clone()).collect();
        if let Some(mut receipts) = inbox::posts_receipts(conn, &wanted)? {
            for (id, token) in &loads.pending {
                let (readers, confirmed) = receipts.remove(id).unwrap_or_default();
                self.finish_load(id, *token, &readers, &confirmed);
            }
            loads.pending.clear();
        }
        // Popped only once booked: a failed read leaves the rest to `Loads` to abandon.
        while let Some((id, token)) = loads.pending.last().cloned() {
            let (readers, confirmed) = inbox::post_receipts(conn, &id)?;
            self.finish_load(&id, token, &readers, &confirmed);
            loads.pending.pop();
        }
        Ok(())
    }

    /// Marks the posts that are neither booked nor being loaded as this load's.
    fn begin_loads(&self, ids: &[PostId]) -> Vec<(PostId, u64)> {
        let mut inner = write(&self.inner);
        let mut mine = Vec::new();
        for id in ids {
            if !inner.posts.contains_key(id) && !mine.iter().any(|(taken, _)| taken == id) {
                let token = self.loads.fetch_add(1, Ordering::Relaxed);
                let loading = Entry::Loading {
                    token,
                    log: Vec::new(),
                };
                inner.posts.insert(id.clone(), loading);
                mine.push((id.clone(), token));
            }
        }
        mine
    }

    /// Books these posts (those not booked yet), with no member asking: to warm the book.
    pub fn book_posts(&self, conn: &mut AnyConnection, ids: &[PostId]) -> QueryResult<()> {
        if self.ttl.is_zero() {
            return Ok(());
        }
        let mut loads = Loads {
            book: self,
            pending: self.begin_loads(ids),
        };
        self.book(conn, &mut loads)
    }

    /// Drops the posts nobody asked about for a TTL, and answers those booked longer ago
    /// than that, to be read again (`refresh`).
    pub fn due(&self) -> Vec<PostId> {
        // A whole second more: `used` counts whole seconds.
        let forgotten = self.now().saturating_sub(self.ttl.as_secs() + 1);
        let mut inner = write(&self.inner);
        let Inner { posts, entries, .. } = &mut *inner;
        posts.retain(|_, entry| match entry {
            Entry::Booked(booked) if booked.used.load(Ordering::Relaxed) < forgotten => {
                *entries -= booked.len();
                false
            }
            _ => true,
        });
        posts
            .iter()
            .filter_map(|(id, entry)| match entry {
                Entry::Booked(booked) if booked.loaded.elapsed() >= self.ttl => Some(id.clone()),
                _ => None,
            })
            .collect()
    }

    /// Reads a booked post's receipts again and adds any the book missed; it is answered
    /// meanwhile. Receipts are never deleted and those committed meanwhile are written in
    /// as usual, so the union of both is exact.
    pub fn refresh(&self, conn: &mut AnyConnection, id: &PostId) -> QueryResult<()> {
        if !matches!(read(&self.inner).posts.get(id), Some(Entry::Booked(_))) {
            return Ok(());
        }
        let (readers, confirmed) = inbox::post_receipts(conn, id)?;
        let receipts = ReadReceipts::parse(&readers, &confirmed);
        let mut inner = write(&self.inner);
        let Inner {
            posts,
            entries,
            numbers,
        } = &mut *inner;
        let Some(Entry::Booked(booked)) = posts.get_mut(id) else {
            return Ok(());
        };
        let before = booked.len();
        match receipts.and_then(|receipts| numbers.add(booked, receipts)) {
            Some(()) => {
                *entries += booked.len() - before;
                booked.loaded = Instant::now();
            }
            // An id the book cannot keep: the post is read member by member from now on.
            None => {
                *entries -= before;
                posts.remove(id);
            }
        }
        Ok(())
    }

    /// Books what a load read, with the receipts logged meanwhile, unless the book forgot
    /// the load (a `clear`): then a receipt may have gone unlogged.
    fn finish_load(
        &self,
        id: &PostId,
        token: u64,
        readers: &[MemberId],
        confirmed: &[HouseholdId],
    ) {
        let receipts = ReadReceipts::parse(readers, confirmed);
        let mut inner = write(&self.inner);
        let Some(Entry::Loading { token: current, .. }) = inner.posts.get(id) else {
            return;
        };
        if *current != token {
            return;
        }
        let Some(Entry::Loading { log, .. }) = inner.posts.remove(id) else {
            return;
        };
        let mut booked = Booked {
            loaded: Instant::now(),
            used: AtomicU64::new(self.now()),
            readers: RoaringBitmap::new(),
            confirmed: RoaringBitmap::new(),
        };
        // An id the book cannot keep leaves the post unbooked (read member by member).
        let Some(receipts) = receipts else {
            return;
        };
        if inner.numbers.add(&mut booked, receipts).is_none() {
            return;
        }
        if !log
            .iter()
            .all(|recorded| inner.numbers.record(&mut booked, recorded).is_some())
        {
            return;
        }
        inner.entries += booked.len();
        inner.posts.insert(id.clone(), Entry::Booked(booked));
        if inner.entries > MAX_ENTRIES {
            evict(&mut inner, id);
        }
    }

    /// Abandons loads that did not finish (a query failed): their posts stay unbooked.
    fn abandon_loads(&self, loads: &[(PostId, u64)]) {
        let mut inner = write(&self.inner);
        for (id, token) in loads {
            if matches!(inner.posts.get(id), Some(Entry::Loading { token: t, .. }) if t == token) {
                inner.posts.remove(id);
            }
        }
    }

    /// Call after receipts commit: they are written into the posts booked or being loaded.
    pub fn record(&self, recorded: &[Recorded]) {
        let mut inner = write(&self.inner);
        let Inner {
            posts,
            entries,
            numbers,
        } = &mut *inner;
        for r in recorded {
            match posts.get_mut(&r.post) {
                Some(Entry::Booked(booked)) => match numbers.record(booked, r) {
                    Some(added) => *entries += added,
                    None => {
                        *entries -= booked.len();
                        posts.remove(&r.post);
                    }
                },
                Some(Entry::Loading { log, .. }) => log.push(r.clone()),
                None => {}
            }
        }
    }

    /// Forgets everything, loads under way included: receipts may have gone unheard.
    pub fn clear(&self) {
        *write(&self.inner) = Inner::default();
    }
}

/// The loads a thread took on; those it did not finish are abandoned when it returns.
struct Loads<'a> {
    book: &'a ReadBook,
    pending: Vec<(PostId, u64)>,
}

impl Drop for Loads<'_> {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            self.book.abandon_loads(&self.pending);
        }
    }
}

/// Drops the least recently asked posts until a quarter of the room is free;
/// `keep` (just booked) stays.
fn evict(inner: &mut Inner, keep: &PostId) {
    let mut booked: Vec<(u64, PostId)> = inner
        .posts
        .iter()
        .filter(|(id, _)| *id != keep)
        .filter_map(|(id, entry)| match entry {
            Entry::Booked(b) => Some((b.used.load(Ordering::Relaxed), id.clone())),
            Entry::Loading { .. } => None,
        })
        .collect();
    booked.sort_unstable();
    let target = MAX_ENTRIES / 4 * 3;
    for (_, id) in booked {
        if inner.entries <= target {
            break;
        }
        if let Some(Entry::Booked(b)) = inner.posts.remove(&id) {
            inner.entries -= b.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::new_id;

    struct Town {
        post: PostId,
        member: MemberId,
        spouse: MemberId,
        household: HouseholdId,
    }

    fn town() -> Town {
        Town {
            post: PostId(new_id()),
            member: MemberId(new_id()),
            spouse: MemberId(new_id()),
            household: HouseholdId(new_id()),
        }
    }

    fn state(read: bool, confirmed: bool) -> Option<Vec<ReadState>> {
        Some(vec![ReadState { read, confirmed }])
    }

    fn confirmation(t: &Town) -> Recorded {
        Recorded {
            post: t.post.clone(),
            member: Some(t.member.clone()),
            household: t.household.clone(),
            confirmed: true,
        }
    }

    #[test]
    fn a_receipt_committed_while_its_post_loads_is_in_the_booked_post() {
        let book = ReadBook::new(Duration::from_secs(60));
        let t = town();
        let loads = book.begin_loads(std::slice::from_ref(&t.post));
        assert_eq!(book.states(&t.member, &t.household, [&t.post]), None);
        // The load read before the confirmation committed: it saw no one.
        book.record(&[confirmation(&t)]);
        book.finish_load(&t.post, loads[0].1, &[], &[]);
        assert_eq!(
            book.states(&t.member, &t.household, [&t.post]),
            state(true, true)
        );
        // The household's confirmation shows for the spouse; the read is the member's own.
        assert_eq!(
            book.states(&t.spouse, &t.household, [&t.post]),
            state(false, true)
        );
        let read = Recorded {
            member: Some(t.spouse.clone()),
            confirmed: false,
            ..confirmation(&t)
        };
        book.record(&[read]);
        assert_eq!(
            book.states(&t.spouse, &t.household, [&t.post]),
            state(true, true)
        );
    }

    #[test]
    fn a_load_forgotten_by_clear_keeps_nothing_even_when_a_later_load_is_under_way() {
        let book = ReadBook::new(Duration::from_secs(60));
        let t = town();
        let first = book.begin_loads(std::slice::from_ref(&t.post));
        book.clear();
        let second = book.begin_loads(std::slice::from_ref(&t.post));
        assert_ne!(first[0].1, second[0].1);
        book.finish_load(&t.post, first[0].1, &[], &[]);
        assert_eq!(book.states(&t.member, &t.household, [&t.post]), None);
        book.finish_load(&t.post, second[0].1, std::slice::from_ref(&t.member), &[]);
        assert_eq!(
            book.states(&t.member, &t.household, [&t.post]),
            state(true, false)
        );
    }

    #[test]
    fn posts_not_booked_and_ids_the_book_cannot_number_are_not_answered() {
        let book = ReadBook::new(Duration::from_secs(60));
        let t = town();
        let loads = book.begin_loads(std::slice::from_ref(&t.post));
        // A post being loaded by another thread is not taken again.
        assert!(book.begin_loads(std::slice::from_ref(&t.post)).is_empty());
        let odd = Recorded {
            member: Some(MemberId("not-a-uuid".into())),
            ..confirmation(&t)
        };
        book.record(&[odd]);
        book.finish_load(&t.post, loads[0].1, &[], &[]);
        assert_eq!(book.states(&t.member, &t.household, [&t.post]), None);
        let odd_member = MemberId("not-a-uuid".into());
        assert_eq!(book.states(&odd_member, &t.household, [&t.post]), None);
    }

    #[test]
    fn a_booked_post_past_its_ttl_is_still_answered_and_due_to_be_read_again() {
        let book = ReadBook::new(Duration::ZERO);
        let t = town();
        let loads = book.begin_loads(std::slice::from_ref(&t.post));
        book.finish_load(&t.post, loads[0].1, std::slice::from_ref(&t.member), &[]);
        assert_eq!(
            book.states(&t.member, &t.household, [&t.post]),
            state(true, false)
        );
        // Booked, so not loaded again in the way of a request: the background reads it.
        assert!(book.begin_loads(std::slice::from_ref(&t.post)).is_empty());
        assert_eq!(book.due(), vec![t.post.clone()]);
    }
}
