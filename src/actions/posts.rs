//! Circulars (回覧) as their authors handle them: write and publish or schedule, edit,
//! publish a draft now, withdraw, the earlier versions; and one circular as a reader sees it.

use std::sync::Arc;

use crate::actions::Services;
use crate::actions::access::{accessible_post, managed_post};
use crate::authz::{self, Principal, require};
use crate::db::models::{Post, PostEvent, PostVersion, SurveyQuestion};
use crate::db::queries::associations::{check_scope, find_association, list_hans};
use crate::db::queries::audit;
use crate::db::queries::districts::list_districts;
use crate::db::queries::inbox::read_state;
use crate::db::queries::posts::{self as queries, PostDetail, PostEdit};
use crate::db::{AnyConnection, Json, now};
use crate::domain::draft::{CheckedQuestion, PostDraft};
use crate::domain::{
    AssociationId, AuditAction, Category, HanId, HouseholdId, MemberId, PostId, PostStatus,
    Priority, QuestionId, Scope, Tier,
};
use crate::error::{ApiError, ErrorCode};

/// A circular with the caller's own read state and their household's confirmation.
pub struct PostView {
    pub detail: Arc<PostDetail>,
    pub read: bool,
    pub confirmed: bool,
}

/// What an author writes besides the checked draft: where it goes and how it is filed.
pub struct NewPost {
    pub scope: Scope,
    pub category: Option<Category>,
    pub priority: Option<Priority>,
    pub draft: PostDraft,
}

/// A post as its managers see it (any status), with their own read state.
fn load_view(
    conn: &mut AnyConnection,
    member: &MemberId,
    household: Option<&HouseholdId>,
    post: Post,
) -> Result<PostView, ApiError> {
    let (read, confirmed) = read_state(conn, &post.id, member, household)?;
    Ok(PostView {
        detail: Arc::new(queries::post_detail(conn, post)?),
        read,
        confirmed,
    })
}

fn survey_questions(post: &PostId, questions: Vec<CheckedQuestion>) -> Vec<SurveyQuestion> {
    questions
        .into_iter()
        .enumerate()
        .map(|(position, q)| SurveyQuestion {
            id: QuestionId::generate(),
            post_id: post.clone(),
            position: i32::try_from(position).unwrap_or(i32::MAX),
            kind: q.kind,
            prompt: q.prompt,
            options: Json(q.options),
            required: q.required,
        })
        .collect()
}

/// Posts a circular to the city, a district, an association or some of its hans: published
/// now, scheduled, or kept as a draft.
pub async fn create(
    services: &Services,
    caller: &MemberId,
    input: NewPost,
) -> Result<PostView, ApiError> {
    let at = now();
    let checked = input.draft.check(at)?;
    let id = PostId::generate();
    let questions = survey_questions(&id, checked.questions);
    let (caller, scope, hans) = (caller.clone(), input.scope, checked.hans);
    let event = checked.event.map(|e| PostEvent::new(id.clone(), e));
    let (view, changed) = services
        .db
        .write(move |conn| {
            let p = Principal::load(conn, &caller)?;
            check_scope(conn, &scope, &hans)?;
            require(authz::may_post(&p, &scope, &hans))?;
            let post = Post {
                id,
                author_id: p.member_id.clone(),
                tier: scope.tier(),
                scope_id: scope.id().map(str::to_string),
                title: checked.title,
                body: checked.body,
                category: input.category.unwrap_or(Category::Notice),
                priority: input.priority.unwrap_or(Priority::Normal),
                requires_confirmation: checked.requires_confirmation,
                status: checked.status,
                published_at: checked.published_at,
                expires_at: checked.expires_at,
                answers_until: checked.answers_until,
                version: 1,
                created_at: at,
                updated_at: at,
            };
            let (post, changed) = queries::create_post(conn, post, hans, questions, event)?;
            let detail = serde_json::json!({"status": post.status.as_str()});
            record_post(conn, &p, AuditAction::PostCreated, &post, detail)?;
            let view = load_view(conn, &p.member_id, p.household_id.as_ref(), post)?;
            Ok((view, changed))
        })
        .await?;
    services.inbox_cache.posts_changed(&changed);
    Ok(view)
}

/// One circular: for its audience (from memory when warm) or its managers, who may see it
/// outside its audience or before it is published. Anyone else gets 404.
pub async fn get(services: &Services, caller: &MemberId, id: PostId) -> Result<PostView, ApiError> {
    let cache = services.inbox_cache.clone();
    // A reader whose place, post and state are in memory needs no database.
    let cached = cache
        .cached_audience_post(caller, &id, now())
        .and_then(|(place, detail)| {
            let (read, confirmed) = cache.cached_read_state(&place, &id)?;
            Some(PostView {
                detail,
                read,
                confirmed,
            })
        });
    if let Some(view) = cached {
        return Ok(view);
    }
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            if let Some((place, detail)) = cache.audience_post(conn, &caller, &id, now())? {
                let (read, confirmed) = cache.read_state(conn, &place, &id)?;
                return Ok(PostView {
                    detail,
                    read,
                    confirmed,
                });
            }
            let access = accessible_post(conn, &caller, &id)?;
            let p = access.principal;
            load_view(conn, &p.member_id, p.household_id.as_ref(), access.post)
        })
        .await
}

/// Whether the audience may move to `edit`'s: only before the post is sent, and only to
/// one the caller may post to (the rule of `create`).
fn check_readdress(
    conn: &mut AnyConnection,
    p: &Principal,
    post: &Post,
    edit: &PostEdit,
) -> Result<(), ApiError> {
    let Some((scope, hans)) = &edit.audience else {
        return Ok(());
    };
    if !matches!(post.status, PostStatus::Draft | PostStatus::Scheduled) {
        return Err(ApiError::Conflict(
            ErrorCode::AudienceFixed,
            "the audience of a sent circular cannot change".into(),
        ));
    }
    check_scope(conn, scope, hans)?;
    require(authz::may_post(p, scope, hans))
}

/// Edits a circular (its managers): its texts, filing, expiry and event; before it is sent
/// also its audience (a draft is finished this way on its page and over `PATCH`). A
/// published one keeps its previous text as a version.
pub async fn edit(
    services: &Services,
    caller: &MemberId,
    id: PostId,
    edit: PostEdit,
) -> Result<PostView, ApiError> {
    let caller = caller.clone();
    let (view, changed) = services
        .db
        .write(move |conn| {
            let (p, post) = managed_post(conn, &caller, &id)?;
            if post.status == PostStatus::Withdrawn {
                return Err(ApiError::Conflict(
                    ErrorCode::PostWithdrawn,
                    "a withdrawn post cannot be edited".into(),
                ));
            }
            if let Some(Some(expires_at)) = edit.expires_at
                && expires_at <= post.published_at.unwrap_or_else(now)
            {
                return Err(ApiError::validation(
                    "expires_at must be after the post is published",
                ));
            }
            check_readdress(conn, &p, &post, &edit)?;
            let mut edit = edit;
            if let Some(questions) = edit.questions.take() {
                if !matches!(post.status, PostStatus::Draft | PostStatus::Scheduled) {
                    return Err(ApiError::Conflict(
                        ErrorCode::AudienceFixed,
                        "the survey of a sent circular cannot change".into(),
                    ));
                }
                let rows = survey_questions(&post.id, questions);
                queries::replace_questions(conn, &post.id, &rows)?;
            }
            let (post, changed) = queries::edit_post(conn, &post, edit, &p.member_id)?;
            let detail = serde_json::json!({"version": post.version});
            record_post(conn, &p, AuditAction::PostEdited, &post, detail)?;
            let view = load_view(conn, &p.member_id, p.household_id.as_ref(), post)?;
            Ok((view, changed))
        })
        .await?;
    services.inbox_cache.posts_changed(&changed);
    Ok(view)
}

/// Publishes a draft or scheduled circular now (its managers).
pub async fn publish(
    services: &Services,
    caller: &MemberId,
    id: PostId,
) -> Result<PostView, ApiError> {
    let caller = caller.clone();
    let (view, changed) = services
        .db
        .write(move |conn| {
            let (p, post) = managed_post(conn, &caller, &id)?;
            let at = now();
            if post.expires_at.is_some_and(|e| e <= at) {
                return Err(ApiError::validation("the post has already expired"));
            }
            let changed = queries::publish_now(conn, &id, at)?.ok_or_else(|| {
                ApiError::Conflict(
                    ErrorCode::NotPublishable,
                    "only a draft or scheduled post can be published".into(),
                )
            })?;
            let post = queries::find_post(conn, &post.id)?.ok_or(ApiError::NotFound("post"))?;
            record_post(
                conn,
                &p,
                AuditAction::PostPublished,
                &post,
                serde_json::json!({}),
            )?;
            let view = load_view(conn, &p.member_id, p.household_id.as_ref(), post)?;
            Ok((view, changed))
        })
        .await?;
    services.inbox_cache.posts_changed(&changed);
    Ok(view)
}

/// Withdraws a circular (its managers): it leaves every inbox; its record stays.
pub async fn withdraw(services: &Services, caller: &MemberId, id: PostId) -> Result<(), ApiError> {
    let caller = caller.clone();
    let changed = services
        .db
        .write(move |conn| {
            let (p, post) = managed_post(conn, &caller, &id)?;
            let changed = queries::withdraw(conn, &id)?;
            record_post(
                conn,
                &p,
                AuditAction::PostWithdrawn,
                &post,
                serde_json::json!({}),
            )?;
            Ok(changed)
        })
        .await?;
    services.inbox_cache.posts_changed(&changed);
    Ok(())
}

/// An audit entry about a circular, filed under its association when it has one.
pub fn record_post(
    conn: &mut AnyConnection,
    p: &Principal,
    action: AuditAction,
    post: &Post,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    let association = (post.tier == Tier::Association)
        .then(|| post.scope_id.clone().map(AssociationId))
        .flatten();
    audit::record(
        conn,
        p,
        action,
        "post",
        Some(post.id.as_str()),
        association.as_ref(),
        detail,
    )?;
    Ok(())
}

/// Earlier versions of an edited circular, newest first (its managers).
pub async fn versions(
    services: &Services,
    caller: &MemberId,
    id: PostId,
) -> Result<Vec<PostVersion>, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            managed_post(conn, &caller, &id)?;
            Ok(queries::versions(conn, &id)?)
        })
        .await
}

/// The newest circulars sent to a scope, for those who may post there (who may also manage
/// them): a district's circulars on `/district`.
pub async fn sent_to(
    services: &Services,
    caller: &MemberId,
    scope: Scope,
    limit: i64,
) -> Result<Vec<Post>, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            let p = Principal::load(conn, &caller)?;
            require(authz::may_post(&p, &scope, &[]))?;
            Ok(queries::sent_to_scope(
                conn,
                scope.tier(),
                scope.id(),
                limit,
            )?)
        })
        .await
}

/// How many unsent circulars an author's list looks through.
const UNSENT_LIMIT: i64 = 500;

/// Drafts and scheduled circulars the caller may manage (edit, attach to, publish), newest
/// first.
pub async fn unsent(services: &Services, caller: &MemberId) -> Result<Vec<Post>, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            let p = Principal::load(conn, &caller)?;
            Ok(queries::unsent(conn, UNSENT_LIMIT)?
                .into_iter()
                .filter(|(post, hans)| authz::may_manage_post(&p, post.audience(hans)))
                .map(|(post, _)| post)
                .collect())
        })
        .await
}

/// Where a circular can go, as offered to its author.
pub struct AudienceChoice {
    pub scope: Scope,
    /// Only these 班 (for a 班長: the 班 they lead).
    pub hans: Vec<HanId>,
    /// The association's, 班's or district's name; None for the city.
    pub name: Option<String>,
}

/// The audiences the caller may post to: their association as a whole and each of its 班,
/// the city, and the districts they may post to (their own first; every district for city
/// staff), each as `authz::may_post` allows.
pub async fn audiences(
    services: &Services,
    caller: &MemberId,
) -> Result<Vec<AudienceChoice>, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            let p = Principal::load(conn, &caller)?;
            let mut choices = association_choices(conn, &p)?;
            if authz::may_post(&p, &Scope::City, &[]) {
                choices.push(AudienceChoice {
                    scope: Scope::City,
                    hans: Vec::new(),
                    name: None,
                });
            }
            let mut districts = list_districts(conn)?;
            // The caller's own district first, then the others in the city's order.
            districts.sort_by_key(|d| Some(&d.id) != p.district_id.as_ref());
            for district in districts {
                let scope = Scope::District(district.id);
                if authz::may_post(&p, &scope, &[]) {
                    choices.push(AudienceChoice {
                        scope,
                        hans: Vec::new(),
                        name: Some(district.name),
                    });
                }
            }
            Ok(choices)
        })
        .await
}

/// The caller's association as a whole and each of its 班 they may post to.
fn association_choices(
    conn: &mut AnyConnection,
    p: &Principal,
) -> Result<Vec<AudienceChoice>, ApiError> {
    let mut choices = Vec::new();
    let Some(association) = &p.association_id else {
        return Ok(choices);
    };
    let found = find_association(conn, association)?;
    let scope = Scope::Association(association.clone());
    if authz::may_post(p, &scope, &[]) {
        choices.push(AudienceChoice {
            scope: scope.clone(),
            hans: Vec::new(),
            name: Some(found.name),
        });
    }
    for han in list_hans(conn, association)? {
        let hans = vec![han.id];
        if authz::may_post(p, &scope, &hans) {
            choices.push(AudienceChoice {
                scope: scope.clone(),
                hans,
                name: Some(han.name),
            });
        }
    }
    Ok(choices)
}
