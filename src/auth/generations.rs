//! Each member's token generation, kept in memory: an access token carries the generation
//! it was issued under and stops working once the member's generation moves past it (sign
//! out, sign out everywhere, a new password, disabled, removed). Checked on every request,
//! so a hit is one read lock and one hash lookup; a miss reads one row. An entry older than
//! `RELOAD_AFTER` (a backstop for a change no instance announced: every change kairan makes
//! is applied here at once, on PostgreSQL through `coherence`) is still answered, and read
//! again in the background with the others due (`refresh_due`), so a wave of members is never
//! held up by a wave of reads. Every enabled member's generation is also read whole with the
//! places (`jobs::keep_places_loaded`), so in an emergency a member not seen since the start
//! costs no read either.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::db::Db;
use crate::db::queries::member_access;
use crate::domain::MemberId;
use crate::error::ApiError;
use crate::locks::{read, write};
use crate::places::key;

/// How long a generation read from the database is trusted without reading it again.
pub const RELOAD_AFTER: Duration = Duration::from_secs(30);
/// Members read again in one query.
const REFRESH_CHUNK: usize = 1_000;

pub struct TokenGenerations {
    db: Db,
    known: KnownGenerations,
    /// Every enabled member's generation as last read whole, answered where `known` has none.
    loaded: RwLock<Loaded>,
    /// Members whose kept generation is older than `RELOAD_AFTER`, for `refresh_due`.
    due: Mutex<HashSet<MemberId>>,
}

impl TokenGenerations {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            known: KnownGenerations::default(),
            loaded: RwLock::default(),
            due: Mutex::default(),
        }
    }

    /// The member's generation if it is in memory; one kept too long is also due to be
    /// read again.
    pub fn cached(&self, member: &MemberId) -> Option<i64> {
        let (generation, stale) = self
            .known
            .get(member)
            .or_else(|| self.loaded_generation(member))?;
        if stale {
            self.due
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(member.clone());
        }
        Some(generation)
    }

    fn loaded_generation(&self, member: &MemberId) -> Option<(i64, bool)> {
        let loaded = read(&self.loaded);
        let generation = *loaded.generations.get(&key(member.as_str())?)?;
        let stale = loaded.read_at.is_none_or(|at| at.elapsed() >= RELOAD_AFTER);
        Some((generation, stale))
    }

    /// Starts reading every member's generation: those forgotten from now on are left out of
    /// what the read brings (`finish_load`).
    pub fn begin_load(&self) -> Instant {
        write(&self.loaded).forgotten_while_loading = Some(Vec::new());
        Instant::now()
    }

    /// Keeps what a load begun at `began` read (ids as `places::key` makes them), less the
    /// members forgotten meanwhile; nothing if everything was forgotten meanwhile.
    pub fn finish_load(&self, began: Instant, generations: HashMap<[u8; 16], i64>) {
        write(&self.loaded).finish(began, generations);
    }

    /// A load that failed: what was loaded before stays.
    pub fn abandon_load(&self) {
        write(&self.loaded).forgotten_while_loading = None;
    }

    /// The member's generation, from memory or else from the database (an unknown member
    /// has none: their tokens are refused anyway).
    pub async fn current(&self, member: &MemberId) -> Result<i64, ApiError> {
        if let Some(generation) = self.cached(member) {
            return Ok(generation);
        }
        let id = member.clone();
        let generation = self
            .db
            .run(move |conn| Ok(member_access::token_generation(conn, &id)?))
            .await?
            .unwrap_or(0);
        Ok(self.known.remember(member, generation))
    }

    /// Reads again the generations kept too long that requests asked for, on `db`'s turns
    /// (the background's).
    pub async fn refresh_due(&self, db: &Db) -> Result<(), ApiError> {
        let due: Vec<MemberId> =
            std::mem::take(&mut *self.due.lock().unwrap_or_else(PoisonError::into_inner))
                .into_iter()
                .collect();
        for chunk in due.chunks(REFRESH_CHUNK) {
            let ids = chunk.to_vec();
            let read = db
                .run(move |conn| Ok(member_access::token_generations(conn, &ids)?))
                .await?;
            for member in chunk {
                match read.get(member) {
                    Some(generation) => {
                        self.known.remember(member, *generation);
                    }
                    // Removed: the next request reads it (and is refused).
                    None => self.forget(member),
                }
            }
        }
        Ok(())
    }

    /// After a commit that raised the member's generation.
    pub fn raised(&self, member: &MemberId, generation: i64) {
        self.known.remember(member, generation);
    }

    /// Another instance raised it: the next request reads it again.
    pub fn forget(&self, member: &MemberId) {
        write(&self.known.0).remove(member);
        if let Some(member) = key(member.as_str()) {
            write(&self.loaded).forget(member);
        }
    }

    /// Changes may have gone unheard (the listener's connection was lost).
    pub fn forget_all(&self) {
        write(&self.known.0).clear();
        *write(&self.loaded) = Loaded::default();
    }
}

#[derive(Default)]
struct Loaded {
    generations: HashMap<[u8; 16], i64>,
    /// When the load began that read `generations`.
    read_at: Option<Instant>,
    /// Members forgotten while a load is under way; `None` when none is (or `forget_all`
    /// dropped it).
    forgotten_while_loading: Option<Vec<[u8; 16]>>,
}

impl Loaded {
    fn forget(&mut self, member: [u8; 16]) {
        self.generations.remove(&member);
        if let Some(forgotten) = &mut self.forgotten_while_loading {
            forgotten.push(member);
        }
    }

    /// Keeps what a load read, less the members forgotten while it ran; nothing if the load
    /// was dropped meanwhile (`forget_all`).
    fn finish(&mut self, began: Instant, mut generations: HashMap<[u8; 16], i64>) {
        let Some(forgotten) = self.forgotten_while_loading.take() else {
            return;
        };
        for member in forgotten {
            generations.remove(&member);
        }
        generations.shrink_to_fit();
        self.generations = generations;
        self.read_at = Some(began);
    }
}

#[derive(Default)]
struct KnownGenerations(RwLock<HashMap<MemberId, Known>>);

#[derive(Clone, Copy)]
struct Known {
    generation: i64,
    read_at: Instant,
}

impl KnownGenerations {
    /// The kept generation, and whether it was read longer than `RELOAD_AFTER` ago.
    fn get(&self, member: &MemberId) -> Option<(i64, bool)> {
        let known = read(&self.0);
        known
            .get(member)
            .map(|k| (k.generation, k.read_at.elapsed() >= RELOAD_AFTER))
    }

    /// Generations only grow, so a slow read that lands after a change never brings the
    /// old value back. Answers the value kept.
    fn remember(&self, member: &MemberId, generation: i64) -> i64 {
        let mut known = write(&self.0);
        let now = Instant::now();
        let entry = known.entry(member.clone()).or_insert(Known {
            generation,
            read_at: now,
        });
        entry.generation = entry.generation.max(generation);
        entry.read_at = now;
        entry.generation
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generation_never_goes_back() {
        let known = KnownGenerations::default();
        let member = MemberId("m".into());
        assert_eq!(known.get(&member), None);
        assert_eq!(known.remember(&member, 3), 3);
        assert_eq!(known.remember(&member, 2), 3);
        assert_eq!(known.get(&member), Some((3, false)));
        assert_eq!(known.remember(&member, 4), 4);
    }

    #[test]
    fn a_member_forgotten_while_every_generation_is_read_is_left_out_of_what_was_read() {
        let (stays, raised) = ([1; 16], [2; 16]);
        let mut loaded = Loaded {
            forgotten_while_loading: Some(Vec::new()),
            ..Loaded::default()
        };
        let began = Instant::now();
        // Another instance raised the generation after the load had read it.
        loaded.forget(raised);
        loaded.finish(began, HashMap::from([(stays, 0), (raised, 3)]));
        assert_eq!(loaded.generations, HashMap::from([(stays, 0)]));
        assert_eq!(loaded.read_at, Some(began));
        // A load dropped by `forget_all` keeps nothing.
        let mut dropped = Loaded::default();
        dropped.finish(began, HashMap::from([(stays, 0)]));
        assert!(dropped.generations.is_empty());
    }
}
