//! Reads and confirmations of circulars by household, paper confirmations, and receipts:
//! which households a post reached and which have not confirmed.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::changes::{Change, announce};
use crate::db::models::{HouseholdReceipt, Post, PostRead};
use crate::db::queries::posts::{audience_household, within_audience};
use crate::db::schema::{associations, hans, household_receipts, households, post_reads};
use crate::db::{AnyConnection, now, write_transaction};
use crate::domain::{HanId, HouseholdId, MemberId, PostId, ReceiptScope};
use crate::error::{ApiError, ErrorCode};

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
        announce(conn, &[Change::Receipts(household.clone())])?;
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
        announce(conn, &[Change::Receipts(household.clone())])?;
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
