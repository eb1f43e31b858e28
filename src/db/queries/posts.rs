//! Circulars: creating, publishing, the inbox, reads and confirmations, receipts.

use chrono::NaiveDateTime;
use diesel::dsl::{Eq, EqAny};
use diesel::prelude::*;
use diesel::query_dsl::methods;

use crate::db::models::{
    HouseholdReceipt, Post, PostAudience, PostHan, PostRead, PostVersion, SurveyQuestion,
};
use crate::db::queries::push;
use crate::db::schema::{
    associations, hans, household_receipts, households, members, post_audiences, post_hans,
    post_reads, post_versions, posts,
};
use crate::db::{AnyConnection, now, write_transaction};
use crate::domain::{
    AssociationId, Audience, AudienceKey, DistrictId, HanId, HouseholdId, MemberId, PostId,
    PostStatus, ReceiptScope, Tier,
};
use crate::error::{ApiError, ErrorCode};

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

pub fn post_hans_of(conn: &mut AnyConnection, post: &PostId) -> QueryResult<Vec<HanId>> {
    post_hans::table
        .filter(post_hans::post_id.eq(post))
        .select(post_hans::han_id)
        .order(post_hans::han_id.asc())
        .load(conn)
}

/// A post with what its readers see of it beside the post itself, and the audience keys
/// it reaches with their expiry.
#[derive(Debug, Clone)]
pub struct PostDetail {
    pub post: Post,
    pub hans: Vec<HanId>,
    pub author_name: String,
    pub questions: Vec<SurveyQuestion>,
    pub audience: Vec<(AudienceKey, Option<NaiveDateTime>)>,
}

impl PostDetail {
    /// Whether the post is published and in any of a member's audience keys at `at`.
    pub fn in_audience(&self, keys: &[AudienceKey], at: NaiveDateTime) -> bool {
        self.post.status == PostStatus::Published
            && self.audience.iter().any(|(key, expires_at)| {
                expires_at.is_none_or(|t| t > at) && keys.iter().any(|k| k == key)
            })
    }
}

pub fn post_detail(conn: &mut AnyConnection, post: Post) -> QueryResult<PostDetail> {
    let hans = post_hans_of(conn, &post.id)?;
    let author_name = members::table
        .find(&post.author_id)
        .select(members::display_name)
        .first::<String>(conn)?;
    let questions = super::surveys::questions_of(conn, &post.id)?;
    let audience = post_audiences::table
        .filter(post_audiences::post_id.eq(&post.id))
        .select((post_audiences::scope_key, post_audiences::expires_at))
        .load(conn)?;
    Ok(PostDetail {
        post,
        hans,
        author_name,
        questions,
        audience,
    })
}

pub fn find_post(conn: &mut AnyConnection, id: &PostId) -> QueryResult<Option<Post>> {
    posts::table
        .find(id)
        .select(Post::as_select())
        .first(conn)
        .optional()
}

/// Stores a new post with its hans and questions; publishes it now when it is due.
pub fn create_post(
    conn: &mut AnyConnection,
    post: Post,
    hans: Vec<HanId>,
    questions: Vec<SurveyQuestion>,
) -> QueryResult<Post> {
    write_transaction(conn, |conn| {
        diesel::insert_into(posts::table)
            .values(&post)
            .execute(conn)?;
        for han in &hans {
            diesel::insert_into(post_hans::table)
                .values(PostHan {
                    post_id: post.id.clone(),
                    han_id: han.clone(),
                })
                .execute(conn)?;
        }
        for question in &questions {
            diesel::insert_into(crate::db::schema::survey_questions::table)
                .values(question)
                .execute(conn)?;
        }
        if post.status == PostStatus::Published {
            index_audience(conn, &post, &hans)?;
            notify_audience(conn, &post, &hans)?;
        }
        Ok(post)
    })
}

/// Queues the publication's notification in the publishing transaction (the outbox).
fn notify_audience(conn: &mut AnyConnection, post: &Post, hans: &[HanId]) -> QueryResult<()> {
    let job = push::post_job(post, "post");
    push::enqueue(
        conn,
        &job,
        push::Recipients::Audience(post.audience(hans)),
        Some(post.category),
    )
    .map(drop)
}

fn index_audience(conn: &mut AnyConnection, post: &Post, hans: &[HanId]) -> QueryResult<()> {
    let published_at = post.published_at.unwrap_or_else(now);
    for key in post.audience(hans).keys() {
        diesel::insert_into(post_audiences::table)
            .values(PostAudience {
                scope_key: key,
                published_at,
                post_id: post.id.clone(),
                expires_at: post.expires_at,
            })
            .execute(conn)?;
    }
    Ok(())
}

/// Publishes a draft or scheduled post now. Returns false when it was not in such a state.
pub fn publish_now(conn: &mut AnyConnection, id: &PostId, at: NaiveDateTime) -> QueryResult<bool> {
    write_transaction(conn, |conn| {
        let changed = diesel::update(
            posts::table
                .find(id)
                .filter(posts::status.eq_any([PostStatus::Draft, PostStatus::Scheduled])),
        )
        .set((
            posts::status.eq(PostStatus::Published),
            posts::published_at.eq(at),
            posts::updated_at.eq(at),
        ))
        .execute(conn)?;
        if changed == 0 {
            return Ok(false);
        }
        let post = posts::table
            .find(id)
            .select(Post::as_select())
            .first(conn)?;
        let hans = post_hans_of(conn, id)?;
        index_audience(conn, &post, &hans)?;
        notify_audience(conn, &post, &hans)?;
        Ok(true)
    })
}

/// Publishes every scheduled post that is due; the scheduler calls this, and it is safe to
/// call from several processes (each post is claimed by its status change).
pub fn publish_due(conn: &mut AnyConnection, at: NaiveDateTime) -> QueryResult<Vec<PostId>> {
    let due: Vec<(PostId, Option<NaiveDateTime>)> = posts::table
        .filter(posts::status.eq(PostStatus::Scheduled))
        .filter(posts::published_at.le(at))
        .select((posts::id, posts::published_at))
        .order(posts::published_at.asc())
        .limit(500)
        .load(conn)?;
    let mut published = Vec::new();
    for (id, due_at) in due {
        // The post keeps its scheduled time, so the inbox order is what the author chose.
        if publish_now(conn, &id, due_at.unwrap_or(at))? {
            published.push(id);
        }
    }
    Ok(published)
}

pub fn withdraw(conn: &mut AnyConnection, id: &PostId) -> QueryResult<()> {
    write_transaction(conn, |conn| {
        let at = now();
        diesel::update(
            posts::table
                .find(id)
                .filter(posts::status.ne(PostStatus::Withdrawn)),
        )
        .set((
            posts::status.eq(PostStatus::Withdrawn),
            posts::updated_at.eq(at),
        ))
        .execute(conn)?;
        diesel::delete(post_audiences::table.filter(post_audiences::post_id.eq(id)))
            .execute(conn)?;
        Ok(())
    })
}

#[derive(Default)]
pub struct PostEdit {
    pub title: Option<String>,
    pub body: Option<String>,
    pub category: Option<crate::domain::Category>,
    pub priority: Option<crate::domain::Priority>,
    pub requires_confirmation: Option<bool>,
    pub expires_at: Option<Option<NaiveDateTime>>,
}

/// Edits a post; a published post's previous title and body are kept as a version.
pub fn edit_post(
    conn: &mut AnyConnection,
    post: &Post,
    edit: PostEdit,
    editor: &MemberId,
) -> QueryResult<Post> {
    write_transaction(conn, |conn| {
        let at = now();
        let retitled = edit.title.clone().filter(|t| *t != post.title);
        let text_changes =
            retitled.is_some() || edit.body.as_ref().is_some_and(|b| *b != post.body);
        let version = if post.status == PostStatus::Published && text_changes {
            diesel::insert_into(post_versions::table)
                .values(PostVersion {
                    post_id: post.id.clone(),
                    version: post.version,
                    title: post.title.clone(),
                    body: post.body.clone(),
                    edited_by: editor.clone(),
                    edited_at: at,
                })
                .execute(conn)?;
            post.version + 1
        } else {
            post.version
        };
        diesel::update(posts::table.find(&post.id))
            .set((
                posts::title.eq(edit.title.unwrap_or_else(|| post.title.clone())),
                posts::body.eq(edit.body.unwrap_or_else(|| post.body.clone())),
                posts::category.eq(edit.category.unwrap_or(post.category)),
                posts::priority.eq(edit.priority.unwrap_or(post.priority)),
                posts::requires_confirmation.eq(edit
                    .requires_confirmation
                    .unwrap_or(post.requires_confirmation)),
                posts::expires_at.eq(edit.expires_at.unwrap_or(post.expires_at)),
                posts::version.eq(version),
                posts::updated_at.eq(at),
            ))
            .execute(conn)?;
        if let (PostStatus::Published, Some(title)) = (post.status, retitled) {
            push::retitle_queued(
                conn,
                &Post {
                    title,
                    ..post.clone()
                },
            )?;
        }
        if let Some(expires_at) = edit.expires_at {
            diesel::update(post_audiences::table.filter(post_audiences::post_id.eq(&post.id)))
                .set(post_audiences::expires_at.eq(expires_at))
                .execute(conn)?;
        }
        posts::table
            .find(&post.id)
            .select(Post::as_select())
            .first(conn)
    })
}

pub fn versions(conn: &mut AnyConnection, id: &PostId) -> QueryResult<Vec<PostVersion>> {
    post_versions::table
        .filter(post_versions::post_id.eq(id))
        .select(PostVersion::as_select())
        .order(post_versions::version.desc())
        .load(conn)
}

/// Whether a published, unexpired post is in any of these inbox keys.
pub fn reaches(
    conn: &mut AnyConnection,
    id: &PostId,
    keys: &[AudienceKey],
    at: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        post_audiences::table
            .filter(post_audiences::post_id.eq(id))
            .filter(post_audiences::scope_key.eq_any(keys))
            .filter(
                post_audiences::expires_at
                    .is_null()
                    .or(post_audiences::expires_at.gt(at)),
            ),
    ))
    .get_result(conn)
}

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
/// One range scan of the member's reads and one of the household's receipts, between the
/// smallest and largest id asked (ids sort by creation), kept only where asked: a fixed
/// statement, prepared once, over rows stored together (`post_reads_member`,
/// `household_receipts_household`).
pub fn read_states(
    conn: &mut AnyConnection,
    member: &MemberId,
    household: Option<&HouseholdId>,
    ids: &[PostId],
) -> QueryResult<(Vec<PostId>, Vec<PostId>)> {
    let (Some(first), Some(last)) = (ids.iter().min(), ids.iter().max()) else {
        return Ok((Vec::new(), Vec::new()));
    };
    let asked = |id: &PostId| ids.contains(id);
    let mut read: Vec<PostId> = post_reads::table
        .filter(post_reads::member_id.eq(member))
        .filter(post_reads::post_id.between(first, last))
        .select(post_reads::post_id)
        .load(conn)?;
    read.retain(asked);
    let mut confirmed: Vec<PostId> = match household {
        Some(household) => household_receipts::table
            .filter(household_receipts::household_id.eq(household))
            .filter(household_receipts::post_id.between(first, last))
            .filter(household_receipts::confirmed_at.is_not_null())
            .select(household_receipts::post_id)
            .load(conn)?,
        None => Vec::new(),
    };
    confirmed.retain(asked);
    Ok((read, confirmed))
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

/// Inserts a row unless its primary key exists: the one upsert both backends need here.
macro_rules! insert_or_ignore {
    ($conn:expr, $table:expr, $values:expr) => {
        match $conn {
            AnyConnection::Postgresql(c) => diesel::insert_into($table)
                .values($values)
                .on_conflict_do_nothing()
                .execute(c),
            AnyConnection::Sqlite(c) => diesel::insert_into($table)
                .values($values)
                .on_conflict_do_nothing()
                .execute(c),
        }
    };
}

/// Records that a member opened a post (and, with `confirm`, confirmed it), and rolls it up
/// to the household. Repeating it changes nothing.
pub fn record_read(
    conn: &mut AnyConnection,
    id: &PostId,
    member: &MemberId,
    household: &HouseholdId,
    confirm: bool,
) -> QueryResult<()> {
    write_transaction(conn, |conn| {
        let at = now();
        let confirmed_at = confirm.then_some(at);
        insert_or_ignore!(
            conn,
            post_reads::table,
            &PostRead {
                post_id: id.clone(),
                member_id: member.clone(),
                household_id: household.clone(),
                read_at: at,
                confirmed_at
            }
        )?;
        insert_or_ignore!(
            conn,
            household_receipts::table,
            &HouseholdReceipt {
                post_id: id.clone(),
                household_id: household.clone(),
                read_at: Some(at),
                confirmed_at,
                paper_recorded_by: None
            }
        )?;
        diesel::update(
            household_receipts::table
                .find((id, household))
                .filter(household_receipts::read_at.is_null()),
        )
        .set(household_receipts::read_at.eq(at))
        .execute(conn)?;
        if confirm {
            diesel::update(
                post_reads::table
                    .find((id, member))
                    .filter(post_reads::confirmed_at.is_null()),
            )
            .set(post_reads::confirmed_at.eq(at))
            .execute(conn)?;
            diesel::update(
                household_receipts::table
                    .find((id, household))
                    .filter(household_receipts::confirmed_at.is_null()),
            )
            .set(household_receipts::confirmed_at.eq(at))
            .execute(conn)?;
        }
        Ok(())
    })
}

/// A 班長 or officer confirms for a paper household after handing over the printed circular.
pub fn record_paper_confirmation(
    conn: &mut AnyConnection,
    id: &PostId,
    household: &HouseholdId,
    recorded_by: &MemberId,
) -> QueryResult<()> {
    write_transaction(conn, |conn| {
        let at = now();
        insert_or_ignore!(
            conn,
            household_receipts::table,
            &HouseholdReceipt {
                post_id: id.clone(),
                household_id: household.clone(),
                read_at: Some(at),
                confirmed_at: Some(at),
                paper_recorded_by: Some(recorded_by.clone()),
            }
        )?;
        diesel::update(
            household_receipts::table
                .find((id, household))
                .filter(household_receipts::confirmed_at.is_null()),
        )
        .set((
            household_receipts::confirmed_at.eq(at),
            household_receipts::paper_recorded_by.eq(recorded_by),
        ))
        .execute(conn)?;
        diesel::update(
            household_receipts::table
                .find((id, household))
                .filter(household_receipts::read_at.is_null()),
        )
        .set(household_receipts::read_at.eq(at))
        .execute(conn)?;
        Ok(())
    })
}

/// Narrows a boxed query over households and their associations to the households a post
/// reaches, within a caller's scope: the one audience rule for receipts, tallies and CSVs.
pub fn within_audience<Q>(query: Q, post: &Post, post_hans: &[HanId], scope: &ReceiptScope) -> Q
where
    Q: methods::FilterDsl<Eq<associations::district_id, DistrictId>, Output = Q>
        + methods::FilterDsl<Eq<households::association_id, AssociationId>, Output = Q>
        + methods::FilterDsl<EqAny<households::han_id, Vec<HanId>>, Output = Q>,
{
    within(query, post.audience(post_hans), scope)
}

/// `within_audience` for any audience (a post's, a safety check's).
pub fn within<Q>(mut query: Q, audience: Audience<'_>, scope: &ReceiptScope) -> Q
where
    Q: methods::FilterDsl<Eq<associations::district_id, DistrictId>, Output = Q>
        + methods::FilterDsl<Eq<households::association_id, AssociationId>, Output = Q>
        + methods::FilterDsl<EqAny<households::han_id, Vec<HanId>>, Output = Q>,
{
    let scope_id = audience.scope_id.unwrap_or_default().to_string();
    query = match audience.tier {
        Tier::City => query,
        Tier::District => query.filter(associations::district_id.eq(DistrictId(scope_id))),
        Tier::Association => query.filter(households::association_id.eq(AssociationId(scope_id))),
    };
    if !audience.hans.is_empty() {
        query = query.filter(households::han_id.eq_any(audience.hans.to_vec()));
    }
    match scope {
        ReceiptScope::Audience => query,
        ReceiptScope::Association(a) => query.filter(households::association_id.eq(a.clone())),
        ReceiptScope::Hans(hans) => query.filter(households::han_id.eq_any(hans.clone())),
    }
}

pub struct ReceiptRow {
    pub household_id: HouseholdId,
    pub label: String,
    pub han_id: Option<HanId>,
    pub han: Option<String>,
    pub paper: bool,
    pub read: bool,
    pub confirmed: bool,
}

pub struct Receipts {
    pub households: i64,
    pub read: i64,
    pub confirmed: i64,
    /// Households not yet confirmed, by han then label (empty when the list is not shown).
    pub unconfirmed: Vec<ReceiptRow>,
}

/// Households a post reaches within a scope, with their receipt. `list` asks for the
/// households themselves, not only the counts.
pub fn receipts(
    conn: &mut AnyConnection,
    post: &Post,
    post_hans: &[HanId],
    scope: &ReceiptScope,
    list: bool,
) -> QueryResult<Receipts> {
    let mut query = households::table
        .inner_join(associations::table)
        .left_join(hans::table)
        .left_join(
            household_receipts::table.on(household_receipts::household_id
                .eq(households::id)
                .and(household_receipts::post_id.eq(post.id.clone()))),
        )
        .select((
            households::id,
            households::label,
            households::han_id,
            hans::name.nullable(),
            households::paper,
            household_receipts::read_at.nullable(),
            household_receipts::confirmed_at.nullable(),
        ))
        .order((
            // Households without a han last, on both backends (NULLs sort differently).
            hans::name.is_null().asc(),
            hans::name.asc(),
            households::label.asc(),
            households::id.asc(),
        ))
        .into_boxed();
    query = within_audience(query, post, post_hans, scope);
    type Row = (
        HouseholdId,
        String,
        Option<HanId>,
        Option<String>,
        bool,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
    );
    let rows: Vec<Row> = query.load(conn)?;
    let mut receipts = Receipts {
        households: 0,
        read: 0,
        confirmed: 0,
        unconfirmed: Vec::new(),
    };
    for (household_id, label, han_id, han, paper, read_at, confirmed_at) in rows {
        let read = read_at.is_some();
        let confirmed = confirmed_at.is_some();
        receipts.households += 1;
        receipts.read += i64::from(read);
        receipts.confirmed += i64::from(confirmed);
        if list && !confirmed {
            receipts.unconfirmed.push(ReceiptRow {
                household_id,
                label,
                han_id,
                han,
                paper,
                read,
                confirmed,
            });
        }
    }
    Ok(receipts)
}

/// A household with its district, and whether the audience reaches it; None if unknown.
pub fn audience_household(
    conn: &mut AnyConnection,
    audience: Audience<'_>,
    household: &HouseholdId,
) -> QueryResult<Option<(crate::db::models::Household, bool)>> {
    let row = households::table
        .inner_join(associations::table)
        .filter(households::id.eq(household))
        .select((
            crate::db::models::Household::as_select(),
            associations::district_id,
        ))
        .first::<(crate::db::models::Household, DistrictId)>(conn)
        .optional()?;
    Ok(row.map(|(found, district)| {
        let reached =
            audience.reaches_household(&found.association_id, &district, found.han_id.as_ref());
        (found, reached)
    }))
}

/// Ensures a household is one the post reaches; paper confirmations are only for those.
pub fn household_in_audience(
    conn: &mut AnyConnection,
    post: &Post,
    post_hans: &[HanId],
    household: &HouseholdId,
) -> Result<crate::db::models::Household, ApiError> {
    match audience_household(conn, post.audience(post_hans), household)? {
        Some((found, true)) => Ok(found),
        _ => Err(ApiError::Validation(
            ErrorCode::HouseholdNotInAudience,
            "this post does not reach that household".into(),
        )),
    }
}
