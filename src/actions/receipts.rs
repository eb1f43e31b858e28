//! Reading and confirming circulars: by members for their household, and on paper by
//! officers and 班長 for the households they visit; the receipts (who has confirmed, the
//! visit list per 班) for those who follow a post, and reminders to the unconfirmed.

use crate::actions::Services;
use crate::actions::access::reminder_cool_down;
use crate::authz::{self, Principal, require};
use crate::db::changes::Recorded;
use crate::db::models::Post;
use crate::db::queries::audit;
use crate::db::queries::posts::{find_post, post_hans_of};
use crate::db::queries::push::{self, Recipients};
use crate::db::queries::receipts::{self as queries, ReadWrite, Receipts};
use crate::db::{AnyConnection, now, write_transaction};
use crate::domain::reminders::POST_REMINDER_COOL_DOWN;
use crate::domain::{AuditAction, HanId, HouseholdId, MemberId, PostId, PostStatus, ReceiptScope};
use crate::error::{ApiError, ErrorCode};

/// A post as someone who follows its receipts sees it.
pub struct Followed {
    pub principal: Principal,
    pub post: Post,
    pub hans: Vec<HanId>,
    /// The households they may see.
    pub scope: ReceiptScope,
    /// May see households one by one (the visit list, texts, CSVs): officers and 班長 in the
    /// audience, for their own households. The post's other managers (city staff, district
    /// officers) see counts over the whole audience.
    pub personal: bool,
}

/// Loads a post whose receipts the caller follows, if its status is one `shown` accepts:
/// officers and 班長 in its audience, and its managers. Anyone else gets 404.
pub fn followed_post(
    conn: &mut AnyConnection,
    caller: &MemberId,
    id: &PostId,
    shown: fn(PostStatus) -> bool,
) -> Result<Followed, ApiError> {
    let principal = Principal::load(conn, caller)?;
    let post = find_post(conn, id)?
        .filter(|post| shown(post.status))
        .ok_or(ApiError::NotFound("post"))?;
    let hans = post_hans_of(conn, id)?;
    let (scope, personal) = match authz::receipt_scope(&principal, post.audience(&hans)) {
        Some(scope) => (scope, true),
        None if authz::may_manage_post(&principal, post.audience(&hans)) => {
            (ReceiptScope::Audience, false)
        }
        None => return Err(ApiError::NotFound("post")),
    };
    Ok(Followed {
        principal,
        post,
        hans,
        scope,
        personal,
    })
}

/// Any post that was ever sent: published, or since withdrawn or expired.
pub fn sent(status: PostStatus) -> bool {
    status != PostStatus::Draft
}

pub fn published(status: PostStatus) -> bool {
    status == PostStatus::Published
}

/// What a member records for a circular they were shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receipt {
    /// Opened it.
    Read,
    /// Confirmed it (確認) for their household.
    Confirm,
}

fn confirmation_not_requested() -> ApiError {
    ApiError::Validation(
        ErrorCode::ConfirmationNotRequested,
        "this post does not ask for confirmation".into(),
    )
}

/// Records a read or a confirmation by a member of the post's audience. Idempotent. A warm
/// reader is checked from memory; many readers at once share one durable commit.
pub async fn record(
    services: &Services,
    caller: &MemberId,
    post: PostId,
    receipt: Receipt,
) -> Result<(), ApiError> {
    let cache = &services.inbox_cache;
    let found = match cache.cached_audience_post(caller, &post, now()) {
        Some(found) => Some(found),
        None => {
            let (cache, caller, post) = (cache.clone(), caller.clone(), post.clone());
            services
                .db
                .run(move |conn| cache.audience_post(conn, &caller, &post, now()))
                .await?
        }
    };
    // Managers may look at a post without being among its readers: they get 404 too.
    let (place, detail) = found.ok_or(ApiError::NotFound("post"))?;
    let confirm = receipt == Receipt::Confirm;
    if confirm && !detail.post.requires_confirmation {
        return Err(confirmation_not_requested());
    }
    let member = place.member_id.clone();
    let household = place
        .household_id
        .clone()
        .ok_or(ApiError::NotFound("post"))?;
    let recorded = Recorded {
        post: post.clone(),
        member: Some(member.clone()),
        household: household.clone(),
        confirmed: confirm,
    };
    let write = ReadWrite {
        post,
        member,
        household,
        confirm,
    };
    services.group_commit.record_read(write).await?;
    cache.receipts_recorded(&[recorded]);
    Ok(())
}

/// Records paper households' confirmations after the printed circular was handed over:
/// officers of their association, or the 班長 of their han. All or none, in one
/// transaction (a 班 sheet records several at once). Audited, one entry per household.
pub async fn record_paper_confirmations(
    services: &Services,
    caller: &MemberId,
    post: PostId,
    households: Vec<HouseholdId>,
) -> Result<(), ApiError> {
    let recorded: Vec<Recorded> = households
        .iter()
        .map(|household| Recorded {
            post: post.clone(),
            member: None,
            household: household.clone(),
            confirmed: true,
        })
        .collect();
    let caller = caller.clone();
    services
        .db
        .write(move |conn| {
            let Followed {
                principal: p,
                post: found_post,
                hans,
                ..
            } = followed_post(conn, &caller, &post, published)?;
            if !found_post.requires_confirmation {
                return Err(confirmation_not_requested());
            }
            for household in &households {
                let found = queries::household_in_audience(conn, &found_post, &hans, household)?;
                require(authz::may_answer_for(
                    &p,
                    &found.association_id,
                    found.han_id.as_ref(),
                ))?;
                queries::record_paper_confirmation(conn, &post, household, &p.member_id)?;
                let detail = serde_json::json!({"post_id": post.as_str()});
                audit::record(
                    conn,
                    &p,
                    AuditAction::PaperConfirmationRecorded,
                    "household",
                    Some(household.as_str()),
                    Some(&found.association_id),
                    detail,
                )?;
            }
            Ok(())
        })
        .await?;
    services.inbox_cache.receipts_recorded(&recorded);
    Ok(())
}

/// Read and confirmation counts by household over what the caller may see, and for officers
/// and 班長 the households not yet confirmed, by 班 then label (the visit list). Showing the
/// list is audited.
pub async fn list(
    services: &Services,
    caller: &MemberId,
    id: PostId,
) -> Result<Receipts, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            let f = followed_post(conn, &caller, &id, sent)?;
            let receipts = queries::receipts(conn, &f.post, &f.hans, &f.scope, f.personal)?;
            if f.personal {
                let detail =
                    serde_json::json!({"post_id": id.as_str(), "rows": receipts.unconfirmed.len()});
                audit::record(
                    conn,
                    &f.principal,
                    AuditAction::ReceiptsRead,
                    "post",
                    Some(id.as_str()),
                    f.principal.association_id.as_ref(),
                    detail,
                )?;
            }
            Ok(receipts)
        })
        .await
}

/// A sent circular for its print view in large print (handed to paper households): for
/// whoever follows its receipts, by the rule `list` asks, so city staff and district
/// officers print what they manage and anyone else gets 404.
pub async fn printable(
    services: &Services,
    caller: &MemberId,
    id: PostId,
) -> Result<Post, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| Ok(followed_post(conn, &caller, &id, sent)?.post))
        .await
}

/// What a reminder did.
pub struct Reminded {
    /// Households not yet confirmed that were reminded.
    pub households: usize,
    /// Notifications queued to their members' devices.
    pub deliveries: usize,
}

/// Reminds the households that have not confirmed, within what the caller may see of the
/// audience, by push. Audited.
pub async fn remind(
    services: &Services,
    caller: &MemberId,
    id: PostId,
) -> Result<Reminded, ApiError> {
    let caller = caller.clone();
    let reminded = services
        .db
        .write(move |conn| {
            let f = followed_post(conn, &caller, &id, published)?;
            if !f.post.requires_confirmation {
                return Err(confirmation_not_requested());
            }
            reminder_cool_down(
                conn,
                &caller,
                AuditAction::ReminderSent,
                id.as_str(),
                POST_REMINDER_COOL_DOWN,
            )?;
            let receipts = queries::receipts(conn, &f.post, &f.hans, &f.scope, true)?;
            let households: Vec<_> = receipts
                .unconfirmed
                .into_iter()
                .map(|u| u.household_id)
                .collect();
            let job = push::post_job(&f.post, "reminder");
            let deliveries = write_transaction(conn, |conn| {
                push::enqueue(conn, &job, Recipients::Households(&households), None)
            })?;
            let detail =
                serde_json::json!({"post_id": id.as_str(), "households": households.len()});
            let p = &f.principal;
            audit::record(
                conn,
                p,
                AuditAction::ReminderSent,
                "post",
                Some(id.as_str()),
                p.association_id.as_ref(),
                detail,
            )?;
            Ok(Reminded {
                households: households.len(),
                deliveries,
            })
        })
        .await?;
    services.wake_push.notify_one();
    Ok(reminded)
}
