//! Each member's token generation, kept in memory: an access token carries the generation
//! it was issued under and stops working once the member's generation moves past it (sign
//! out, sign out everywhere, a new password, disabled, removed). Checked on every request,
//! so a hit is one read lock and one hash lookup; a miss reads one row. An entry older than
//! `RELOAD_AFTER` (a backstop for a change no instance announced: every change kairan makes
//! is applied here at once, on PostgreSQL through `coherence`) is still answered, and read
//! again in the background with the others due (`refresh_due`), so a wave of members is never
//! held up by a wave of reads.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::db::Db;
use crate::db::queries::member_access;
use crate::domain::MemberId;
use crate::error::ApiError;

/// How long a generation read from the database is trusted without reading it again.
pub const RELOAD_AFTER: Duration = Duration::from_secs(30);
/// Members read again in one query.
const REFRESH_CHUNK: usize = 1_000;

pub struct TokenGenerations {
    db: Db,
    known: KnownGenerations,
    /// Members whose kept generation is older than `RELOAD_AFTER`, for `refresh_due`.
    due: Mutex<HashSet<MemberId>>,
}

impl TokenGenerations {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            known: KnownGenerations::default(),
            due: Mutex::default(),
        }
    }

    /// The member's generation if it is in memory; one kept too long is also due to be
    /// read again.
    pub fn cached(&self, member: &MemberId) -> Option<i64> {
        let (generation, stale) = self.known.get(member)?;
        if stale {
            self.due
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(member.clone());
        }
        Some(generation)
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
        self.known
            .0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(member);
    }

    /// Changes may have gone unheard (the listener's connection was lost).
    pub fn forget_all(&self) {
        self.known
            .0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
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
        let known = self.0.read().unwrap_or_else(PoisonError::into_inner);
        known
            .get(member)
            .map(|k| (k.generation, k.read_at.elapsed() >= RELOAD_AFTER))
    }

    /// Generations only grow, so a slow read that lands after a change never brings the
    /// old value back. Answers the value kept.
    fn remember(&self, member: &MemberId, generation: i64) -> i64 {
        let mut known = self.0.write().unwrap_or_else(PoisonError::into_inner);
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
}
