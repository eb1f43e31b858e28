use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::Json;
use crate::db::schema::{
    attachments, household_receipts, post_audiences, post_events, post_hans, post_reads,
    post_versions, posts, survey_questions, survey_responses,
};
use crate::domain::event::CheckedEvent;
use crate::domain::{Answers, Audience, AudienceKey};
use crate::domain::{
    AttachmentId, Category, HanId, HouseholdId, MemberId, PostId, PostStatus, Priority, QuestionId,
    QuestionKind, Tier,
};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = posts, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct Post {
    pub id: PostId,
    pub author_id: MemberId,
    pub tier: Tier,
    /// The district or association; none for the city.
    pub scope_id: Option<String>,
    pub title: String,
    pub body: String,
    pub category: Category,
    pub priority: Priority,
    pub requires_confirmation: bool,
    pub status: PostStatus,
    /// When it was published, or while scheduled, when it will be.
    pub published_at: Option<NaiveDateTime>,
    pub expires_at: Option<NaiveDateTime>,
    /// Survey answers are taken until then.
    pub answers_until: Option<NaiveDateTime>,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Post {
    /// Who the post is for, with the hans it is limited to.
    pub fn audience<'a>(&'a self, hans: &'a [HanId]) -> Audience<'a> {
        Audience {
            tier: self.tier,
            scope_id: self.scope_id.as_deref(),
            hans,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = post_hans, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct PostHan {
    pub post_id: PostId,
    pub han_id: HanId,
}

/// The event a post announces (see `domain::event`).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = post_events, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct PostEvent {
    pub post_id: PostId,
    pub starts_at: NaiveDateTime,
    pub ends_at: Option<NaiveDateTime>,
    pub all_day: bool,
    pub place: Option<String>,
}

impl PostEvent {
    pub fn new(post_id: PostId, event: CheckedEvent) -> Self {
        Self {
            post_id,
            starts_at: event.starts_at,
            ends_at: event.ends_at,
            all_day: event.all_day,
            place: event.place,
        }
    }

    pub fn checked(&self) -> CheckedEvent {
        CheckedEvent {
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            all_day: self.all_day,
            place: self.place.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = post_audiences, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct PostAudience {
    pub scope_key: AudienceKey,
    pub published_at: NaiveDateTime,
    pub post_id: PostId,
    pub expires_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = post_versions, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct PostVersion {
    pub post_id: PostId,
    pub version: i32,
    pub title: String,
    pub body: String,
    pub edited_by: MemberId,
    pub edited_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = post_reads, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
// None is written as NULL (these columns have no default), so the statement's text is the
// same for every row and stays in the connection's statement cache; a DEFAULT for None would
// make Diesel prepare it again for every row (a third of the group commit's CPU, D101).
#[diesel(treat_none_as_default_value = false)]
pub struct PostRead {
    pub post_id: PostId,
    pub member_id: MemberId,
    pub household_id: HouseholdId,
    pub read_at: NaiveDateTime,
    pub confirmed_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = household_receipts, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
// As PostRead: NULL for None keeps the upsert in the statement cache (D101).
#[diesel(treat_none_as_default_value = false)]
pub struct HouseholdReceipt {
    pub post_id: PostId,
    pub household_id: HouseholdId,
    pub read_at: Option<NaiveDateTime>,
    pub confirmed_at: Option<NaiveDateTime>,
    pub paper_recorded_by: Option<MemberId>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = attachments, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct Attachment {
    pub id: AttachmentId,
    pub post_id: PostId,
    pub sha256: String,
    pub content_type: String,
    pub file_name: String,
    pub size_bytes: i64,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = survey_questions, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct SurveyQuestion {
    pub id: QuestionId,
    pub post_id: PostId,
    pub position: i32,
    pub kind: QuestionKind,
    pub prompt: String,
    /// The choices, in order.
    pub options: Json<Vec<String>>,
    pub required: bool,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = survey_responses, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct SurveyResponse {
    pub post_id: PostId,
    pub household_id: HouseholdId,
    pub member_id: MemberId,
    pub answers: Json<Answers>,
    pub answered_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = crate::db::schema::push_subscriptions, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct PushSubscription {
    pub id: crate::domain::PushSubscriptionId,
    pub member_id: MemberId,
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = crate::db::schema::push_jobs, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct PushJob {
    pub id: String,
    pub kind: String,
    pub post_id: Option<PostId>,
    /// Same for every notification about one thing, so a newer one replaces a queued one.
    pub topic: String,
    /// The small JSON the service worker shows; the client fetches the rest.
    pub payload: String,
    /// Urgency high and the urgent TTL; notifies even where the category is muted.
    pub urgent: bool,
    pub created_at: NaiveDateTime,
}
