use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{
    safety_answer_history, safety_answers, safety_check_audiences, safety_check_hans, safety_checks,
};
use crate::domain::{
    Audience, AudienceKey, HanId, HouseholdId, MemberId, SafetyCheckId, SafetyStatus, Tier,
};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = safety_checks, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct SafetyCheck {
    pub id: SafetyCheckId,
    pub started_by: MemberId,
    pub tier: Tier,
    /// The district or association; none for the city.
    pub scope_id: Option<String>,
    pub message: String,
    pub started_at: NaiveDateTime,
    pub closed_at: Option<NaiveDateTime>,
    pub closed_by: Option<MemberId>,
}

impl SafetyCheck {
    /// Who the check is for, with the hans it is limited to.
    pub fn audience<'a>(&'a self, hans: &'a [HanId]) -> Audience<'a> {
        Audience {
            tier: self.tier,
            scope_id: self.scope_id.as_deref(),
            hans,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = safety_check_hans, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct SafetyCheckHan {
    pub safety_check_id: SafetyCheckId,
    pub han_id: HanId,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = safety_check_audiences, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct SafetyCheckAudience {
    pub scope_key: AudienceKey,
    pub safety_check_id: SafetyCheckId,
}

/// A household's current answer.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = safety_answers, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct SafetyAnswer {
    pub safety_check_id: SafetyCheckId,
    pub household_id: HouseholdId,
    pub status: SafetyStatus,
    pub note: Option<String>,
    pub answered_by: MemberId,
    /// Given by an officer or 班長 for the household.
    pub on_behalf: bool,
    pub answered_at: NaiveDateTime,
}

impl SafetyAnswer {
    /// This answer as a history entry under `id`.
    pub fn record(&self, id: String) -> SafetyAnswerRecord {
        SafetyAnswerRecord {
            id,
            safety_check_id: self.safety_check_id.clone(),
            household_id: self.household_id.clone(),
            status: self.status,
            note: self.note.clone(),
            answered_by: self.answered_by.clone(),
            on_behalf: self.on_behalf,
            answered_at: self.answered_at,
        }
    }
}

/// One answer as it was given, kept when a later one replaces it.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = safety_answer_history, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct SafetyAnswerRecord {
    pub id: String,
    pub safety_check_id: SafetyCheckId,
    pub household_id: HouseholdId,
    pub status: SafetyStatus,
    pub note: Option<String>,
    pub answered_by: MemberId,
    pub on_behalf: bool,
    pub answered_at: NaiveDateTime,
}
