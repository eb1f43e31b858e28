//! Guards several use cases share: loading a post the caller may see or manage.

use crate::authz::{self, Principal};
use crate::db::models::Post;
use crate::db::queries::posts as queries;
use crate::db::{AnyConnection, now};
use crate::domain::{MemberId, PostId, PostStatus};
use crate::error::ApiError;

/// The caller's relation to a post: may they see it, and may they manage it.
pub struct Access {
    pub principal: Principal,
    pub post: Post,
    pub in_audience: bool,
    pub manager: bool,
}

/// Loads a post the caller may see: its audience (published, unexpired) or its managers.
/// Anyone else gets 404, as if it did not exist.
pub fn accessible_post(
    conn: &mut AnyConnection,
    caller: &MemberId,
    id: &PostId,
) -> Result<Access, ApiError> {
    let principal = Principal::load(conn, caller)?;
    let post = queries::find_post(conn, id)?.ok_or(ApiError::NotFound("post"))?;
    let manager = authz::may_manage_post(&principal, &post.author_id, post.audience(&[]));
    let keys = principal.audience_keys();
    let in_audience =
        post.status == PostStatus::Published && queries::reaches(conn, id, &keys, now())?;
    if manager || in_audience {
        Ok(Access {
            principal,
            post,
            in_audience,
            manager,
        })
    } else {
        Err(ApiError::NotFound("post"))
    }
}

pub fn managed_post(
    conn: &mut AnyConnection,
    caller: &MemberId,
    id: &PostId,
) -> Result<(Principal, Post), ApiError> {
    let access = accessible_post(conn, caller, id)?;
    if !access.manager {
        return Err(ApiError::NotFound("post"));
    }
    Ok((access.principal, access.post))
}
