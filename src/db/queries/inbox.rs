//! The member's inbox: pages of the posts that reach their household, with read states.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::{household_receipts, post_audiences, post_reads, posts};
use crate::domain::{AudienceKey, HouseholdId, MemberId, PostId, Tier};

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// A position in the inbox: the last item's publication time and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxCursor {
    pub published_at: NaiveDateTime,
    pub post_id: PostId,
}

pub struct InboxQuery {
    pub keys: Vec<AudienceKey>,
    pub member: MemberId,
    pub household: Option<HouseholdId>,
    pub unread_only: bool,
    /// Lower-cased text that must appear in the title or body.
    pub search: Option<String>,
    pub after: Option<InboxCursor>,
    pub limit: i64,
    pub at: NaiveDateTime,
}

/// What an inbox line shows; the body stays in the database until the post is opened.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = posts, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct PostSummary {
    pub id: PostId,
    pub tier: Tier,
    pub title: String,
    pub category: crate::domain::Category,
    pub priority: crate::domain::Priority,
    pub requires_confirmation: bool,
    pub expires_at: Option<NaiveDateTime>,
}

pub struct InboxRow {
    pub post: PostSummary,
    pub published_at: NaiveDateTime,
    pub read: bool,
    pub confirmed: bool,
}

/// A published post as an audience key lists it.
#[derive(Debug, Clone)]
pub struct FeedEntry {
    pub post: PostSummary,
    pub published_at: NaiveDateTime,
}

/// The newest `limit` unexpired posts of one audience key, newest first.
pub fn feed(
    conn: &mut AnyConnection,
    key: &AudienceKey,
    limit: usize,
    at: NaiveDateTime,
) -> QueryResult<Vec<FeedEntry>> {
    let rows: Vec<(PostSummary, NaiveDateTime)> = post_audiences::table
        .inner_join(posts::table)
        .filter(post_audiences::scope_key.eq(key))
        .filter(
            post_audiences::expires_at
                .is_null()
                .or(post_audiences::expires_at.gt(at)),
        )
        .select((PostSummary::as_select(), post_audiences::published_at))
        .order((
            post_audiences::published_at.desc(),
            post_audiences::post_id.desc(),
        ))
        .limit(i64::try_from(limit).unwrap_or(i64::MAX))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(post, published_at)| FeedEntry { post, published_at })
        .collect())
}

/// Which of these posts the member has opened, and which their household has confirmed.
///
/// The member's reads and the household's confirmations among `ids`: each post's row looked
/// up by primary key (`(post_id, member_id)`, `(post_id, household_id)`), two statements
/// whatever the number of posts.
pub fn read_states(
    conn: &mut AnyConnection,
    member: &MemberId,
    household: Option<&HouseholdId>,
    ids: &[PostId],
) -> QueryResult<(Vec<PostId>, Vec<PostId>)> {
    if ids.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let read: Vec<PostId> = post_reads::table
        .filter(post_reads::post_id.eq_any(ids))
        .filter(post_reads::member_id.eq(member))
        .select(post_reads::post_id)
        .load(conn)?;
    let confirmed: Vec<PostId> = match household {
        Some(household) => household_receipts::table
            .filter(household_receipts::post_id.eq_any(ids))
            .filter(household_receipts::household_id.eq(household))
            .filter(household_receipts::confirmed_at.is_not_null())
            .select(household_receipts::post_id)
            .load(conn)?,
        None => Vec::new(),
    };
    Ok((read, confirmed))
}

/// A post's receipts: who opened it, which households confirmed it.
pub type PostReceipts = (Vec<MemberId>, Vec<HouseholdId>);

/// Rows one read of several posts' receipts may bring; more, and each post is read alone
/// (`post_receipts`), so a city-wide post's tens of thousands of rows are never held
/// beside those of other posts.
const BATCH_ROWS: usize = 20_000;

/// Everyone who has opened each post, and every household that has confirmed it, for
/// `ReadBook`: two reads, each a range of the primary key per post, whatever the number of
/// posts; `None` when they hold more than `BATCH_ROWS` rows.
pub fn posts_receipts(
    conn: &mut AnyConnection,
    ids: &[PostId],
) -> QueryResult<Option<HashMap<PostId, PostReceipts>>> {
    let limit = i64::try_from(BATCH_ROWS + 1).unwrap_or(i64::MAX);
    let mut receipts: HashMap<PostId, PostReceipts> = HashMap::new();
    let readers: Vec<(PostId, MemberId)> = post_reads::table
        .filter(post_reads::post_id.eq_any(ids))
        .select((post_reads::post_id, post_reads::member_id))
        .limit(limit)
        .load(conn)?;
    if readers.len() > BATCH_ROWS {
        return Ok(None);
    }
    for (post, member) in readers {
        receipts.entry(post).or_default().0.push(member);
    }
    let confirmed: Vec<(PostId, HouseholdId)> = household_receipts::table
        .filter(household_receipts::post_id.eq_any(ids))
        .filter(household_receipts::confirmed_at.is_not_null())
        .select((
            household_receipts::post_id,
            household_receipts::household_id,
        ))
        .limit(limit)
        .load(conn)?;
    if confirmed.len() > BATCH_ROWS {
        return Ok(None);
    }
    for (post, household) in confirmed {
        receipts.entry(post).or_default().1.push(household);
    }
    Ok(Some(receipts))
}

/// One post's receipts, however many.
pub fn post_receipts(conn: &mut AnyConnection, id: &PostId) -> QueryResult<PostReceipts> {
    let readers = post_reads::table
        .filter(post_reads::post_id.eq(id))
        .select(post_reads::member_id)
        .load(conn)?;
    let confirmed = household_receipts::table
        .filter(household_receipts::post_id.eq(id))
        .filter(household_receipts::confirmed_at.is_not_null())
        .select(household_receipts::household_id)
        .load(conn)?;
    Ok((readers, confirmed))
}

/// The member's inbox, newest first, one page plus one row (to know if more follow).
///
/// Each inbox key is read on its own, newest first, straight off the primary key of
/// `post_audiences` and stopping after a page, with the post and the member's read state
/// joined by primary key; the at most four runs are merged here. The cost follows the page
/// size, not the length of the history.
pub fn inbox(conn: &mut AnyConnection, q: &InboxQuery) -> QueryResult<Vec<InboxRow>> {
    let household = q
        .household
        .clone()
        .unwrap_or_else(|| HouseholdId(String::new()));
    let mut rows: Vec<InboxRow> = Vec::new();
    for key in &q.keys {
        let mut query = post_audiences::table
            .inner_join(posts::table)
            .left_join(
                post_reads::table.on(post_reads::post_id
                    .eq(post_audiences::post_id)
                    .and(post_reads::member_id.eq(q.member.clone()))),
            )
            .left_join(
                household_receipts::table.on(household_receipts::post_id
                    .eq(post_audiences::post_id)
                    .and(household_receipts::household_id.eq(household.clone()))),
            )
            .filter(post_audiences::scope_key.eq(key))
            .filter(
                post_audiences::expires_at
                    .is_null()
                    .or(post_audiences::expires_at.gt(q.at)),
            )
            .select((
                PostSummary::as_select(),
                post_audiences::published_at,
                post_reads::post_id.nullable(),
                household_receipts::confirmed_at.nullable(),
            ))
            .order((
                post_audiences::published_at.desc(),
                post_audiences::post_id.desc(),
            ))
            .limit(q.limit + 1)
            .into_boxed();
        if let Some(after) = &q.after {
            // `published_at <= t` is the index range both backends seek to; the rest breaks
            // ties between posts published in the same microsecond.
            query = query
                .filter(post_audiences::published_at.le(after.published_at))
                .filter(
                    post_audiences::published_at
                        .lt(after.published_at)
                        .or(post_audiences::post_id.lt(after.post_id.clone())),
                );
        }
        if q.unread_only {
            query = query.filter(post_reads::post_id.nullable().is_null());
        }
        if let Some(text) = &q.search {
            let pattern = format!("%{}%", escape_like(text));
            query = query.filter(
                lower(posts::title)
                    .like(pattern.clone())
                    .escape('\\')
                    .or(lower(posts::body).like(pattern).escape('\\')),
            );
        }
        let page: Vec<(
            PostSummary,
            NaiveDateTime,
            Option<PostId>,
            Option<NaiveDateTime>,
        )> = query.load(conn)?;
        rows.extend(
            page.into_iter()
                .map(|(post, published_at, read, confirmed)| InboxRow {
                    post,
                    published_at,
                    read: read.is_some(),
                    confirmed: confirmed.is_some(),
                }),
        );
    }
    rows.sort_unstable_by(|a, b| (b.published_at, &b.post.id).cmp(&(a.published_at, &a.post.id)));
    rows.truncate(usize::try_from(q.limit + 1).unwrap_or(usize::MAX));
    Ok(rows)
}

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// The member's own read state of one post, and their household's confirmation.
pub fn read_state(
    conn: &mut AnyConnection,
    id: &PostId,
    member: &MemberId,
    household: Option<&HouseholdId>,
) -> QueryResult<(bool, bool)> {
    // No household matches the empty id.
    let household = household.map(HouseholdId::as_str).unwrap_or_default();
    diesel::select((
        diesel::dsl::exists(post_reads::table.find((id, member))),
        diesel::dsl::exists(
            household_receipts::table
                .find((id, household))
                .filter(household_receipts::confirmed_at.is_not_null()),
        ),
    ))
    .get_result(conn)
}
