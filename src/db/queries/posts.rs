//! Circulars: creating, publishing, editing, withdrawing, and which households they reach.
//! The inbox lives in `inbox.rs`, reads, confirmations and receipts in `receipts.rs`.

use chrono::NaiveDateTime;
use diesel::dsl::{Eq, EqAny};
use diesel::prelude::*;
use diesel::query_dsl::methods;

use crate::db::changes::{PostsChanged, announce_posts};
use crate::db::models::{Post, PostAudience, PostEvent, PostHan, PostVersion, SurveyQuestion};
use crate::db::queries::district_scope::{InDistrict, in_district};
use crate::db::queries::push;
use crate::db::schema::{
    association_former_districts, associations, households, members, post_audiences, post_events,
    post_hans, post_versions, posts,
};
use crate::db::{AnyConnection, now, write_transaction};
use crate::domain::event::CheckedEvent;
use crate::domain::{
    AssociationId, Audience, AudienceKey, DistrictId, HanId, HouseholdId, MemberId, PostId,
    PostStatus, ReceiptScope, Tier,
};

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
    pub event: Option<PostEvent>,
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
    let event = post_events::table
        .find(&post.id)
        .select(PostEvent::as_select())
        .first(conn)
        .optional()?;
    Ok(PostDetail {
        post,
        hans,
        author_name,
        questions,
        audience,
        event,
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
    event: Option<PostEvent>,
) -> QueryResult<(Post, PostsChanged)> {
    write_transaction(conn, |conn| {
        diesel::insert_into(posts::table)
            .values(&post)
            .execute(conn)?;
        if let Some(event) = &event {
            diesel::insert_into(post_events::table)
                .values(event)
                .execute(conn)?;
        }
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
        let mut changed = PostsChanged::default();
        if post.status == PostStatus::Published {
            index_audience(conn, &post, &hans)?;
            notify_audience(conn, &post, &hans)?;
            changed = announce_change(conn, &post.id)?;
        }
        Ok((post, changed))
    })
}

/// Tells other instances that the post changed, with the inbox feeds it is listed in now,
/// and answers the same for this one.
fn announce_change(conn: &mut AnyConnection, id: &PostId) -> QueryResult<PostsChanged> {
    let changed = PostsChanged {
        posts: vec![id.clone()],
        feeds: post_audiences::table
            .filter(post_audiences::post_id.eq(id))
            .select(post_audiences::scope_key)
            .load(conn)?,
    };
    announce_posts(conn, &changed)?;
    Ok(changed)
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

/// Publishes a draft or scheduled post now; `None` when it was not in such a state.
pub fn publish_now(
    conn: &mut AnyConnection,
    id: &PostId,
    at: NaiveDateTime,
) -> QueryResult<Option<PostsChanged>> {
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
            return Ok(None);
        }
        let post = posts::table
            .find(id)
            .select(Post::as_select())
            .first(conn)?;
        let hans = post_hans_of(conn, id)?;
        index_audience(conn, &post, &hans)?;
        notify_audience(conn, &post, &hans)?;
        announce_change(conn, id).map(Some)
    })
}

/// Publishes every scheduled post that is due; the scheduler calls this, and it is safe to
/// call from several processes (each post is claimed by its status change).
pub fn publish_due(conn: &mut AnyConnection, at: NaiveDateTime) -> QueryResult<PostsChanged> {
    let due: Vec<(PostId, Option<NaiveDateTime>)> = posts::table
        .filter(posts::status.eq(PostStatus::Scheduled))
        .filter(posts::published_at.le(at))
        .select((posts::id, posts::published_at))
        .order(posts::published_at.asc())
        .limit(500)
        .load(conn)?;
    let mut published = PostsChanged::default();
    for (id, due_at) in due {
        // The post keeps its scheduled time, so the inbox order is what the author chose.
        if let Some(changed) = publish_now(conn, &id, due_at.unwrap_or(at))? {
            published.extend(changed);
        }
    }
    Ok(published)
}

/// Withdraws a post; answers the feeds it was listed in.
pub fn withdraw(conn: &mut AnyConnection, id: &PostId) -> QueryResult<PostsChanged> {
    write_transaction(conn, |conn| {
        let changed = announce_change(conn, id)?;
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
        crate::db::queries::outbox::cancel_for_post(conn, id)?;
        Ok(changed)
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
    /// A new event, or None to remove it.
    pub event: Option<Option<CheckedEvent>>,
    /// A new audience (only for a post not yet sent; the use case checks both).
    pub audience: Option<(crate::domain::Scope, Vec<HanId>)>,
    /// A new survey, replacing the questions (only for a post not yet sent; none removes it).
    pub questions: Option<Vec<crate::domain::draft::CheckedQuestion>>,
}

/// Replaces an unsent post's survey questions.
pub fn replace_questions(
    conn: &mut AnyConnection,
    post: &PostId,
    questions: &[SurveyQuestion],
) -> QueryResult<()> {
    use crate::db::schema::survey_questions;
    diesel::delete(survey_questions::table.filter(survey_questions::post_id.eq(post)))
        .execute(conn)?;
    for question in questions {
        diesel::insert_into(survey_questions::table)
            .values(question)
            .execute(conn)?;
    }
    Ok(())
}

/// Points an unsent post at another audience: its scope and 班 list.
fn readdress(
    conn: &mut AnyConnection,
    post: &PostId,
    scope: &crate::domain::Scope,
    hans: &[HanId],
) -> QueryResult<()> {
    diesel::update(posts::table.find(post))
        .set((posts::tier.eq(scope.tier()), posts::scope_id.eq(scope.id())))
        .execute(conn)?;
    diesel::delete(post_hans::table.filter(post_hans::post_id.eq(post))).execute(conn)?;
    for han in hans {
        diesel::insert_into(post_hans::table)
            .values(PostHan {
                post_id: post.clone(),
                han_id: han.clone(),
            })
            .execute(conn)?;
    }
    Ok(())
}

/// Edits a post; a published post's previous title and body are kept as a version.
pub fn edit_post(
    conn: &mut AnyConnection,
    post: &Post,
    edit: PostEdit,
    editor: &MemberId,
) -> QueryResult<(Post, PostsChanged)> {
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
        if let Some((scope, hans)) = &edit.audience {
            readdress(conn, &post.id, scope, hans)?;
        }
        // Only an unsent post is readdressed, so the feeds it is listed in stay as they are.
        let changed = announce_change(conn, &post.id)?;
        if let (PostStatus::Published, Some(title)) = (post.status, retitled) {
            push::retitle_queued(
                conn,
                &Post {
                    title,
                    ..post.clone()
                },
            )?;
        }
        if let Some(event) = edit.event {
            let starts_at: Option<NaiveDateTime> = post_events::table
                .find(&post.id)
                .select(post_events::starts_at)
                .first(conn)
                .optional()?;
            if starts_at != event.as_ref().map(|e| e.starts_at) {
                super::event_reminders::rearm(conn, &post.id)?;
            }
            diesel::delete(post_events::table.find(&post.id)).execute(conn)?;
            if let Some(event) = event {
                diesel::insert_into(post_events::table)
                    .values(PostEvent::new(post.id.clone(), event))
                    .execute(conn)?;
            }
        }
        if let Some(expires_at) = edit.expires_at {
            diesel::update(post_audiences::table.filter(post_audiences::post_id.eq(&post.id)))
                .set(post_audiences::expires_at.eq(expires_at))
                .execute(conn)?;
        }
        let post = posts::table
            .find(&post.id)
            .select(Post::as_select())
            .first(conn)?;
        Ok((post, changed))
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

/// Narrows a boxed query over households and their associations to the households a post
/// reaches, within a caller's scope: the one audience rule for receipts, tallies and CSVs.
pub fn within_audience<Q>(query: Q, post: &Post, post_hans: &[HanId], scope: &ReceiptScope) -> Q
where
    Q: methods::FilterDsl<InDistrict, Output = Q>
        + methods::FilterDsl<Eq<households::association_id, AssociationId>, Output = Q>
        + methods::FilterDsl<EqAny<households::han_id, Vec<HanId>>, Output = Q>,
{
    within(query, post.audience(post_hans), scope)
}

/// `within_audience` for any audience (a post's, a safety check's).
pub fn within<Q>(mut query: Q, audience: Audience<'_>, scope: &ReceiptScope) -> Q
where
    Q: methods::FilterDsl<InDistrict, Output = Q>
        + methods::FilterDsl<Eq<households::association_id, AssociationId>, Output = Q>
        + methods::FilterDsl<EqAny<households::han_id, Vec<HanId>>, Output = Q>,
{
    let scope_id = audience.scope_id.unwrap_or_default().to_string();
    query = match audience.tier {
        Tier::City => query,
        Tier::District => query.filter(in_district(DistrictId(scope_id))),
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
    let Some((found, district)) = row else {
        return Ok(None);
    };
    let former: Vec<DistrictId> = association_former_districts::table
        .filter(association_former_districts::association_id.eq(&found.association_id))
        .select(association_former_districts::district_id)
        .load(conn)?;
    let reached = std::iter::once(&district)
        .chain(&former)
        .any(|d| audience.reaches_household(&found.association_id, d, found.han_id.as_ref()));
    Ok(Some((found, reached)))
}

/// The newest circulars sent to one scope as a whole (any status; a 班 selection of an
/// association is included), newest first.
pub fn sent_to_scope(
    conn: &mut AnyConnection,
    tier: Tier,
    scope_id: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<Post>> {
    let mut query = posts::table
        .filter(posts::tier.eq(tier))
        .order((posts::created_at.desc(), posts::id.desc()))
        .limit(limit)
        .select(Post::as_select())
        .into_boxed();
    if let Some(id) = scope_id {
        query = query.filter(posts::scope_id.eq(id.to_string()));
    }
    query.load(conn)
}

/// Drafts and scheduled circulars, newest first, each with its 班 selection: the
/// candidates of an author's list of circulars not yet sent.
pub fn unsent(conn: &mut AnyConnection, limit: i64) -> QueryResult<Vec<(Post, Vec<HanId>)>> {
    let found: Vec<Post> = posts::table
        .filter(posts::status.eq_any([PostStatus::Draft, PostStatus::Scheduled]))
        .order((posts::created_at.desc(), posts::id.desc()))
        .limit(limit)
        .select(Post::as_select())
        .load(conn)?;
    found
        .into_iter()
        .map(|post| {
            let hans = post_hans_of(conn, &post.id)?;
            Ok((post, hans))
        })
        .collect()
}
