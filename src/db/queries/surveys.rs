//! Surveys and attendance (アンケート, 出欠): a post's questions and one response per household.

use diesel::prelude::*;
use diesel::upsert::excluded;

use crate::db::models::{Post, SurveyQuestion, SurveyResponse};
use crate::db::queries::posts::within_audience;
use crate::db::schema::{associations, hans, households, survey_questions, survey_responses};
use crate::db::{AnyConnection, Json};
use crate::domain::ReceiptScope;
use crate::domain::{Answers, HanId, HouseholdId, PostId};

pub fn questions_of(conn: &mut AnyConnection, post: &PostId) -> QueryResult<Vec<SurveyQuestion>> {
    survey_questions::table
        .filter(survey_questions::post_id.eq(post))
        .select(SurveyQuestion::as_select())
        .order(survey_questions::position.asc())
        .load(conn)
}

pub fn find_response(
    conn: &mut AnyConnection,
    post: &PostId,
    household: &HouseholdId,
) -> QueryResult<Option<SurveyResponse>> {
    survey_responses::table
        .find((post, household))
        .select(SurveyResponse::as_select())
        .first(conn)
        .optional()
}

/// Stores a household's response, replacing any earlier one: one statement, so two members
/// of a household answering at once leave exactly one response (the later).
pub fn save_response(conn: &mut AnyConnection, response: &SurveyResponse) -> QueryResult<()> {
    // MultiConnection has no ON CONFLICT; the same statement runs on each inner connection.
    macro_rules! upsert {
        ($conn:expr) => {
            diesel::insert_into(survey_responses::table)
                .values(response)
                .on_conflict((survey_responses::post_id, survey_responses::household_id))
                .do_update()
                .set((
                    survey_responses::member_id.eq(excluded(survey_responses::member_id)),
                    survey_responses::answers.eq(excluded(survey_responses::answers)),
                    survey_responses::answered_at.eq(excluded(survey_responses::answered_at)),
                ))
                .execute($conn)
        };
    }
    crate::with_backend!(conn, pg(c) => upsert!(c), sqlite(c) => upsert!(c)).map(drop)
}

/// How many households a post reaches within a scope.
pub fn audience_size(
    conn: &mut AnyConnection,
    post: &Post,
    post_hans: &[HanId],
    scope: &ReceiptScope,
) -> QueryResult<i64> {
    let query = households::table
        .inner_join(associations::table)
        .count()
        .into_boxed();
    within_audience(query, post, post_hans, scope).get_result(conn)
}

pub struct ResponseRow {
    pub household_id: HouseholdId,
    pub label: String,
    pub han: Option<String>,
    pub answers: Json<Answers>,
}

/// The responses of the households a post reaches within a scope, by han then label.
pub fn responses(
    conn: &mut AnyConnection,
    post: &Post,
    post_hans: &[HanId],
    scope: &ReceiptScope,
) -> QueryResult<Vec<ResponseRow>> {
    let query = survey_responses::table
        .inner_join(
            households::table
                .inner_join(associations::table)
                .left_join(hans::table),
        )
        .filter(survey_responses::post_id.eq(post.id.clone()))
        .select((
            survey_responses::household_id,
            households::label,
            hans::name.nullable(),
            survey_responses::answers,
        ))
        .order((
            // Households without a han last, on both backends (NULLs sort differently).
            hans::name.is_null().asc(),
            hans::name.asc(),
            households::label.asc(),
            households::id.asc(),
        ))
        .into_boxed();
    let rows: Vec<(HouseholdId, String, Option<String>, Json<Answers>)> =
        within_audience(query, post, post_hans, scope).load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(household_id, label, han, answers)| ResponseRow {
            household_id,
            label,
            han,
            answers,
        })
        .collect())
}
