//! A member's calendar: the events (行事) of the circulars that reach their household, in time
//! order, as a list and as an iCalendar feed at a secret, revocable URL.

use chrono::Duration;
use secrecy::{ExposeSecret, SecretString};

use crate::actions::Services;
use crate::authz::Membership;
use crate::db::queries::calendar::{self as queries, CalendarQuery, CalendarRow};
use crate::db::{AnyConnection, now};
use crate::domain::event::{CalendarWindow, jst_date};
use crate::domain::{Audience, AudienceKey, MemberId, PostStatus};
use crate::error::{ApiError, ErrorCode};

/// How far back and ahead a feed reaches: phones keep what they once fetched, so recent
/// past events stay (and can still turn cancelled).
const FEED_PAST_DAYS: i64 = 60;
const FEED_AHEAD_DAYS: i64 = 366;

/// Whether a post with these hans reaches any of the member's audience keys: the inbox's own
/// rule (`Audience::keys`), so a calendar shows what the inbox would.
fn reaches(keys: &[AudienceKey], row: &CalendarRow) -> bool {
    let audience = Audience {
        tier: row.post.tier,
        scope_id: row.post.scope_id.as_deref(),
        hans: &row.hans,
    };
    audience.keys().iter().any(|key| keys.contains(key))
}

/// The events in a window of posts in these statuses that reach the member, by start.
fn member_events(
    conn: &mut AnyConnection,
    membership: &Membership,
    window: CalendarWindow,
    statuses: Vec<PostStatus>,
) -> Result<Vec<CalendarRow>, ApiError> {
    let keys = membership.audience_keys();
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let (from, to) = window.utc_bounds();
    let scope_ids = [
        membership.district_id.as_ref().map(|d| d.to_string()),
        membership.association_id.as_ref().map(|a| a.to_string()),
    ]
    .into_iter()
    .flatten()
    .collect();
    let query = CalendarQuery {
        scope_ids,
        from,
        to,
        statuses,
    };
    let mut rows = queries::events_between(conn, &query)?;
    rows.retain(|row| reaches(&keys, row));
    Ok(rows)
}

/// Parses a window as asked (`from`, `to`: JST days); today for a month by default.
pub fn window(from: Option<&str>, to: Option<&str>) -> Result<CalendarWindow, ApiError> {
    CalendarWindow::parse(from, to, jst_date(now()))
        .map_err(|m| ApiError::BadRequest(ErrorCode::InvalidQuery, m))
}

/// The published events that reach the member in the window, by start.
pub async fn list(
    services: &Services,
    caller: &MemberId,
    window: CalendarWindow,
) -> Result<Vec<CalendarRow>, ApiError> {
    let (caller, cache) = (caller.clone(), services.inbox_cache.clone());
    services
        .db
        .run(move |conn| {
            let membership = cache.membership(conn, &caller)?;
            member_events(conn, &membership, window, vec![PostStatus::Published])
        })
        .await
}

/// A new secret feed URL's token for the member; earlier ones stop working.
pub async fn create_feed(services: &Services, caller: &MemberId) -> Result<SecretString, ApiError> {
    let token = crate::auth::jwt::random_token();
    let hash = crate::auth::jwt::sha256_hex(token.expose_secret());
    let caller = caller.clone();
    services
        .db
        .write(move |conn| {
            crate::authz::Principal::load(conn, &caller)?;
            Ok(queries::replace_feed(conn, &caller, &hash, now())?)
        })
        .await?;
    Ok(token)
}

/// Ends the member's feed: its URL answers 404 from now on.
pub async fn revoke_feed(services: &Services, caller: &MemberId) -> Result<(), ApiError> {
    let caller = caller.clone();
    services
        .db
        .write(move |conn| Ok(queries::delete_feed(conn, &caller).map(drop)?))
        .await
}

/// Whether the member has a feed now.
pub async fn has_feed(services: &Services, caller: &MemberId) -> Result<bool, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| Ok(queries::has_feed(conn, &caller)?))
        .await
}

/// The events a feed URL shows: its member's events from a while ago to a year ahead,
/// withdrawn ones included (a calendar shows them cancelled). An unknown or revoked token
/// is 404, like any URL that does not exist.
pub async fn feed_events(services: &Services, token: String) -> Result<Vec<CalendarRow>, ApiError> {
    if token.is_empty() || token.len() > 100 {
        return Err(ApiError::NotFound("calendar feed"));
    }
    let hash = crate::auth::jwt::sha256_hex(&token);
    let cache = services.inbox_cache.clone();
    services
        .db
        .run(move |conn| {
            let member =
                queries::feed_member(conn, &hash)?.ok_or(ApiError::NotFound("calendar feed"))?;
            let membership = cache.membership(conn, &member)?;
            let today = jst_date(now());
            let window = CalendarWindow {
                first: today - Duration::days(FEED_PAST_DAYS),
                last: today + Duration::days(FEED_AHEAD_DAYS),
            };
            let statuses = vec![PostStatus::Published, PostStatus::Withdrawn];
            member_events(conn, &membership, window, statuses)
        })
        .await
}
