//! A member's inbox: the circulars that reach their household, newest first, a page at a
//! time, optionally only the unread ones or those matching a search; and the unread count.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::DateTime;

use crate::actions::Services;
use crate::db::now;
use crate::db::queries::inbox::{self as queries, InboxCursor, InboxQuery, InboxRow};
use crate::domain::{MemberId, PostId, normalize};
use crate::error::{ApiError, ErrorCode};

/// The largest page; the unread count stops counting there too.
pub const MAX_PAGE: usize = 100;
pub const DEFAULT_PAGE: usize = 20;

/// What a member asks of their inbox, as typed or sent.
#[derive(Default)]
pub struct InboxRequest {
    /// Only posts they have not opened.
    pub unread_only: bool,
    /// 1 to 100; 20 when absent.
    pub limit: Option<i64>,
    /// From the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Words that must appear in the title or body.
    pub search: Option<String>,
}

/// One page of the inbox.
pub struct InboxPage {
    pub rows: Vec<InboxRow>,
    /// Where the next page starts; None on the last page.
    pub next_cursor: Option<String>,
}

pub fn encode_cursor(c: &InboxCursor) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{}|{}",
        c.published_at.and_utc().timestamp_micros(),
        c.post_id
    ))
}

/// Parses a cursor from a client; anything not made by `encode_cursor` is refused.
pub fn decode_cursor(raw: &str) -> Result<InboxCursor, ApiError> {
    let invalid = || {
        ApiError::BadRequest(
            ErrorCode::InvalidCursor,
            "the cursor is not valid; start again without it".into(),
        )
    };
    if raw.len() > 200 {
        return Err(invalid());
    }
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (micros, id) = text.split_once('|').ok_or_else(invalid)?;
    let micros: i64 = micros.parse().map_err(|_| invalid())?;
    let published_at = DateTime::from_timestamp_micros(micros)
        .ok_or_else(invalid)?
        .naive_utc();
    if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(invalid());
    }
    Ok(InboxCursor {
        published_at,
        post_id: PostId(id.to_string()),
    })
}

fn invalid_query(message: &str) -> ApiError {
    ApiError::BadRequest(ErrorCode::InvalidQuery, message.into())
}

/// The search words, lower-cased; None when blank.
fn search_text(q: Option<String>) -> Result<Option<String>, ApiError> {
    let search = q
        .map(|q| normalize(&q).to_lowercase())
        .filter(|q| !q.is_empty());
    if search.as_ref().is_some_and(|q| q.chars().count() > 100) {
        return Err(invalid_query("q must be at most 100 characters"));
    }
    Ok(search)
}

/// The member's circulars: every published, unexpired post that reaches their household,
/// newest first. The plain first pages come from memory when warm.
pub async fn page(
    services: &Services,
    caller: &MemberId,
    request: InboxRequest,
) -> Result<InboxPage, ApiError> {
    let limit = request.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(invalid_query("limit must be from 1 to 100"));
    }
    let after = request.cursor.as_deref().map(decode_cursor).transpose()?;
    let search = search_text(request.search)?;
    let unread_only = request.unread_only;
    let page_size = usize::try_from(limit).unwrap_or(DEFAULT_PAGE);
    let cache = services.inbox_cache.clone();
    let cached = (search.is_none() && !unread_only)
        .then(|| cache.cached_page(caller, after.as_ref(), page_size, now()))
        .flatten();
    let mut rows = match cached {
        Some(rows) => rows,
        None => {
            let caller = caller.clone();
            services
                .db
                .run(move |conn| {
                    // The inbox needs where the member lives, not their roles.
                    let p = cache.membership(conn, &caller)?;
                    let keys = p.audience_keys();
                    let at = now();
                    if search.is_none()
                        && !unread_only
                        && let Some(entries) =
                            cache.page(conn, &keys, after.as_ref(), page_size, at)?
                    {
                        return cache.with_read_states(conn, &p, entries);
                    }
                    let query = InboxQuery {
                        keys,
                        member: p.member_id.clone(),
                        household: p.household_id.clone(),
                        unread_only,
                        search,
                        after,
                        limit,
                        at,
                    };
                    Ok(queries::inbox(conn, &query)?)
                })
                .await?
        }
    };
    let next_cursor = (rows.len() > page_size)
        .then(|| rows.get(page_size - 1))
        .flatten()
        .map(|last| {
            encode_cursor(&InboxCursor {
                published_at: last.published_at,
                post_id: last.post.id.clone(),
            })
        });
    rows.truncate(page_size);
    Ok(InboxPage { rows, next_cursor })
}

/// How many of the member's circulars they have not opened, counting up to `MAX_PAGE`.
pub async fn unread_count(services: &Services, caller: &MemberId) -> Result<usize, ApiError> {
    let request = InboxRequest {
        unread_only: true,
        limit: i64::try_from(MAX_PAGE).ok(),
        ..InboxRequest::default()
    };
    let page = page(services, caller, request).await?;
    Ok(page.rows.len())
}

/// The stable-toolchain cousin of `tests/fuzz/fuzz_targets/inbox_cursor.rs`.
#[cfg(test)]
mod random_cursors {
    use rand::{Rng, SeedableRng, rngs::StdRng};

    use super::*;

    #[test]
    fn random_cursors_are_refused_cleanly_and_real_ones_round_trip() {
        let mut rng = StdRng::seed_from_u64(7);
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=|+/ ";
        for _ in 0..20_000 {
            let raw: String = (0..rng.random_range(0..120))
                .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
                .collect();
            let inner = format!("{}|{}", rng.random::<i64>(), crate::domain::new_id());
            for candidate in [raw, URL_SAFE_NO_PAD.encode(inner)] {
                if let Ok(cursor) = decode_cursor(&candidate) {
                    let again = decode_cursor(&encode_cursor(&cursor)).map_err(|e| e.to_string());
                    let again = again.unwrap_or_else(|e| panic!("{candidate}: {e}"));
                    assert_eq!(again.published_at, cursor.published_at);
                    assert_eq!(again.post_id, cursor.post_id);
                }
            }
        }
    }

    #[test]
    fn search_words_are_trimmed_lower_cased_and_bounded() {
        assert_eq!(
            search_text(Some("  Ｇomi ".into())).unwrap(),
            Some("ｇomi".into())
        );
        assert_eq!(search_text(Some("   ".into())).unwrap(), None);
        assert!(search_text(Some("あ".repeat(101))).is_err());
    }
}
