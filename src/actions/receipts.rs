//! Reading and confirming circulars: by members for their household, and on paper by
//! officers and 班長 for the households they visit.

use crate::actions::Services;
use crate::authz::{self, Principal, require};
use crate::db::now;
use crate::db::queries::audit;
use crate::db::queries::posts as queries;
use crate::domain::{AuditAction, HouseholdId, MemberId, PostId, PostStatus};
use crate::error::{ApiError, ErrorCode};

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
    let changed = household.clone();
    services
        .group_commit
        .write(move |conn| {
            Ok(queries::record_read(
                conn, &post, &member, &household, confirm,
            )?)
        })
        .await?;
    cache.receipts_changed(&changed);
    Ok(())
}

/// Records a paper household's confirmation after the printed circular was handed over:
/// officers of its association, or the 班長 of its han. Audited.
pub async fn record_paper_confirmation(
    services: &Services,
    caller: &MemberId,
    post: PostId,
    household: HouseholdId,
) -> Result<(), ApiError> {
    let (caller, confirmed) = (caller.clone(), household.clone());
    services
        .db
        .write(move |conn| {
            let p = Principal::load(conn, &caller)?;
            let found_post = queries::find_post(conn, &post)?
                .filter(|found| found.status == PostStatus::Published)
                .ok_or(ApiError::NotFound("post"))?;
            let hans = queries::post_hans_of(conn, &post)?;
            let visible =
                authz::may_manage_post(&p, &found_post.author_id, found_post.audience(&[]))
                    || authz::receipt_scope(&p, found_post.audience(&hans)).is_some();
            if !visible {
                return Err(ApiError::NotFound("post"));
            }
            if !found_post.requires_confirmation {
                return Err(confirmation_not_requested());
            }
            let found = queries::household_in_audience(conn, &found_post, &hans, &household)?;
            require(authz::may_answer_for(
                &p,
                &found.association_id,
                found.han_id.as_ref(),
            ))?;
            queries::record_paper_confirmation(conn, &post, &household, &p.member_id)?;
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
            Ok(())
        })
        .await?;
    services.inbox_cache.receipts_changed(&confirmed);
    Ok(())
}
