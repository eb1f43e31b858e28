//! Events (行事) on a calendar: the events of posts that may reach a place within a window,
//! and the secret of each member's calendar feed.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::models::PostEvent;
use crate::db::schema::{calendar_feeds, post_events, post_hans, posts};
use crate::domain::{Category, HanId, MemberId, PostId, PostStatus, Priority, Tier};

/// The largest number of events one calendar answer holds.
pub const MAX_EVENTS: i64 = 1_000;

/// A post as the calendar shows it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = posts, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct CalendarPost {
    pub id: PostId,
    pub tier: Tier,
    pub scope_id: Option<String>,
    pub title: String,
    pub category: Category,
    pub priority: Priority,
    pub status: PostStatus,
    pub version: i32,
    pub published_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone)]
pub struct CalendarRow {
    pub post: CalendarPost,
    pub event: PostEvent,
    pub hans: Vec<HanId>,
}

/// What to look for: events overlapping `[from, to)` of posts in these statuses, addressed
/// to the city or to one of `scope_ids` (a district or association). That is a superset of
/// any member's audience; the caller keeps the posts whose audience holds the member.
pub struct CalendarQuery {
    pub scope_ids: Vec<String>,
    pub from: NaiveDateTime,
    pub to: NaiveDateTime,
    pub statuses: Vec<PostStatus>,
}

pub fn events_between(
    conn: &mut AnyConnection,
    q: &CalendarQuery,
) -> QueryResult<Vec<CalendarRow>> {
    let rows: Vec<(CalendarPost, PostEvent)> = post_events::table
        .inner_join(posts::table)
        .filter(posts::status.eq_any(q.statuses.clone()))
        .filter(
            posts::tier
                .eq(Tier::City)
                .or(posts::scope_id.eq_any(q.scope_ids.clone())),
        )
        .filter(post_events::starts_at.lt(q.to))
        .filter(
            post_events::ends_at.ge(q.from).or(post_events::ends_at
                .is_null()
                .and(post_events::starts_at.ge(q.from))),
        )
        .order((post_events::starts_at.asc(), post_events::post_id.asc()))
        .limit(MAX_EVENTS)
        .select((CalendarPost::as_select(), PostEvent::as_select()))
        .load(conn)?;
    let ids: Vec<PostId> = rows.iter().map(|(p, _)| p.id.clone()).collect();
    let hans: Vec<(PostId, HanId)> = post_hans::table
        .filter(post_hans::post_id.eq_any(ids))
        .select((post_hans::post_id, post_hans::han_id))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(post, event)| {
            let hans = hans
                .iter()
                .filter(|(id, _)| *id == post.id)
                .map(|(_, h)| h.clone())
                .collect();
            CalendarRow { post, event, hans }
        })
        .collect())
}

/// Replaces the member's feed secret (by its hash): earlier URLs stop working.
pub fn replace_feed(
    conn: &mut AnyConnection,
    member: &MemberId,
    token_hash: &str,
    at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::delete(calendar_feeds::table.find(member)).execute(conn)?;
    diesel::insert_into(calendar_feeds::table)
        .values((
            calendar_feeds::member_id.eq(member),
            calendar_feeds::token_hash.eq(token_hash),
            calendar_feeds::created_at.eq(at),
        ))
        .execute(conn)
        .map(drop)
}

/// Ends the member's feed; true when there was one.
pub fn delete_feed(conn: &mut AnyConnection, member: &MemberId) -> QueryResult<bool> {
    diesel::delete(calendar_feeds::table.find(member))
        .execute(conn)
        .map(|n| n > 0)
}

/// The member whose feed secret hashes to this.
pub fn feed_member(conn: &mut AnyConnection, token_hash: &str) -> QueryResult<Option<MemberId>> {
    calendar_feeds::table
        .filter(calendar_feeds::token_hash.eq(token_hash))
        .select(calendar_feeds::member_id)
        .first(conn)
        .optional()
}

/// Whether the member has a feed now.
pub fn has_feed(conn: &mut AnyConnection, member: &MemberId) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(calendar_feeds::table.find(member))).get_result(conn)
}
