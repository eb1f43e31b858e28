//! Reads and confirmations of circulars by household, paper confirmations, and receipts:
//! which households a post reached and which have not confirmed.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{Nullable, Text, Timestamp};
use diesel::sqlite::Sqlite;

use crate::db::changes::Recorded;
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

diesel::define_sql_function!(
    /// The first of two times that is set.
    fn coalesce(
        kept: diesel::sql_types::Nullable<diesel::sql_types::Timestamp>,
        new: diesel::sql_types::Nullable<diesel::sql_types::Timestamp>,
    ) -> diesel::sql_types::Nullable<diesel::sql_types::Timestamp>
);

/// One member's read (or confirmation) of a post, waiting for a group commit.
#[derive(Debug, Clone)]
pub struct ReadWrite {
    pub post: PostId,
    pub member: MemberId,
    pub household: HouseholdId,
    pub confirm: bool,
}

/// Rows per statement: five values each, well under both backends' bound on parameters.
const ROWS_PER_STATEMENT: usize = 500;

/// Records that members opened posts (and, with `confirm`, confirmed them), rolled up to
/// their households; repeating one changes nothing. A few multi-row statements whatever
/// their number, each an upsert that only ever fills a time that is still empty.
pub fn record_reads(conn: &mut AnyConnection, writes: &[ReadWrite]) -> QueryResult<()> {
    let at = now();
    let stamp = |confirm: bool| confirm.then_some(at);
    let mut reads: BTreeMap<(&PostId, &MemberId), PostRead> = BTreeMap::new();
    let mut receipts: BTreeMap<(&PostId, &HouseholdId), HouseholdReceipt> = BTreeMap::new();
    for w in writes {
        // One row per key: an upsert may not touch the same row twice in one statement.
        let read = reads
            .entry((&w.post, &w.member))
            .or_insert_with(|| PostRead {
                post_id: w.post.clone(),
                member_id: w.member.clone(),
                household_id: w.household.clone(),
                read_at: at,
                confirmed_at: None,
            });
        read.confirmed_at = read.confirmed_at.or(stamp(w.confirm));
        let receipt = receipts
            .entry((&w.post, &w.household))
            .or_insert_with(|| HouseholdReceipt {
                post_id: w.post.clone(),
                household_id: w.household.clone(),
                read_at: Some(at),
                confirmed_at: None,
                paper_recorded_by: None,
            });
        receipt.confirmed_at = receipt.confirmed_at.or(stamp(w.confirm));
    }
    let recorded: Vec<Change> = reads
        .values()
        .map(|r| {
            Change::Receipt(Recorded {
                post: r.post_id.clone(),
                member: Some(r.member_id.clone()),
                household: r.household_id.clone(),
                confirmed: r.confirmed_at.is_some(),
            })
        })
        .collect();
    announce(conn, &recorded)?;
    let reads: Vec<PostRead> = reads.into_values().collect();
    let receipts: Vec<HouseholdReceipt> = receipts.into_values().collect();
    for (reads, receipts) in reads.chunks(ROWS_PER_STATEMENT).zip(
        receipts
            .chunks(ROWS_PER_STATEMENT)
            .chain(std::iter::repeat(&[][..])),
    ) {
        upsert(conn, reads, receipts)?;
    }
    Ok(())
}

/// Each kind of row in one statement. A post's read by a member: a row already there keeps
/// its times; a confirmation fills its empty `confirmed_at`, and a plain read of a row
/// already there changes nothing (no new row version). A household's receipt keeps its
/// times and fills those still empty (a paper confirmation leaves `read_at` empty until
/// someone of the household opens the circular).
fn upsert(
    conn: &mut AnyConnection,
    reads: &[PostRead],
    receipts: &[HouseholdReceipt],
) -> QueryResult<()> {
    let (confirming, reading): (Vec<&PostRead>, Vec<&PostRead>) =
        reads.iter().partition(|r| r.confirmed_at.is_some());
    match conn {
        AnyConnection::Postgresql(c) => pg_upsert(c, reading, confirming, receipts),
        AnyConnection::Sqlite(c) => {
            let read_columns = [
                "post_id",
                "member_id",
                "household_id",
                "read_at",
                "confirmed_at",
            ];
            sqlite_upsert(
                c,
                "post_reads",
                &read_columns,
                "DO NOTHING",
                &reading,
                bind_read,
            )?;
            sqlite_upsert(
                c,
                "post_reads",
                &read_columns,
                "(post_id, member_id) DO UPDATE SET \
                 confirmed_at = coalesce(post_reads.confirmed_at, excluded.confirmed_at)",
                &confirming,
                bind_read,
            )?;
            sqlite_upsert(
                c,
                "household_receipts",
                &[
                    "post_id",
                    "household_id",
                    "read_at",
                    "confirmed_at",
                    "paper_recorded_by",
                ],
                "(post_id, household_id) DO UPDATE SET \
                 read_at = coalesce(household_receipts.read_at, excluded.read_at), \
                 confirmed_at = coalesce(household_receipts.confirmed_at, excluded.confirmed_at)",
                receipts,
                bind_receipt,
            )
        }
    }
}

/// PostgreSQL: Diesel's multi-row upserts, one round trip each.
fn pg_upsert(
    c: &mut PgConnection,
    reading: Vec<&PostRead>,
    confirming: Vec<&PostRead>,
    receipts: &[HouseholdReceipt],
) -> QueryResult<()> {
    use diesel::upsert::excluded;
    if !reading.is_empty() {
        diesel::insert_into(post_reads::table)
            .values(reading)
            .on_conflict_do_nothing()
            .execute(c)?;
    }
    if !confirming.is_empty() {
        use post_reads::dsl::{confirmed_at, member_id, post_id};
        diesel::insert_into(post_reads::table)
            .values(confirming)
            .on_conflict((post_id, member_id))
            .do_update()
            .set(confirmed_at.eq(coalesce(confirmed_at, excluded(confirmed_at))))
            .execute(c)?;
    }
    if !receipts.is_empty() {
        use household_receipts::dsl::{confirmed_at, household_id, post_id, read_at};
        diesel::insert_into(household_receipts::table)
            .values(receipts)
            .on_conflict((post_id, household_id))
            .do_update()
            .set((
                read_at.eq(coalesce(read_at, excluded(read_at))),
                confirmed_at.eq(coalesce(confirmed_at, excluded(confirmed_at))),
            ))
            .execute(c)?;
    }
    Ok(())
}

type SqliteQuery<'a> = BoxedSqlQuery<'a, Sqlite, SqlQuery>;

fn bind_read<'a>(query: SqliteQuery<'a>, r: &'a &PostRead) -> SqliteQuery<'a> {
    query
        .bind::<Text, _>(&r.post_id)
        .bind::<Text, _>(&r.member_id)
        .bind::<Text, _>(&r.household_id)
        .bind::<Timestamp, _>(&r.read_at)
        .bind::<Nullable<Timestamp>, _>(&r.confirmed_at)
}

fn bind_receipt<'a>(query: SqliteQuery<'a>, r: &'a HouseholdReceipt) -> SqliteQuery<'a> {
    query
        .bind::<Text, _>(&r.post_id)
        .bind::<Text, _>(&r.household_id)
        .bind::<Nullable<Timestamp>, _>(&r.read_at)
        .bind::<Nullable<Timestamp>, _>(&r.confirmed_at)
        .bind::<Nullable<Text>, _>(&r.paper_recorded_by)
}

/// SQLite: `INSERT INTO <table> (<columns>) VALUES (?, …), … ON CONFLICT <on_conflict>`, a
/// row of values per item of `rows` as `bind` binds it. Written out, since Diesel sends a
/// SQLite upsert of rows with optional values one row at a time and prepares every upsert
/// anew: a parse per row.
fn sqlite_upsert<'a, R>(
    c: &mut SqliteConnection,
    table: &str,
    columns: &[&str],
    on_conflict: &str,
    rows: &'a [R],
    bind: fn(SqliteQuery<'a>, &'a R) -> SqliteQuery<'a>,
) -> QueryResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let row = format!("({})", vec!["?"; columns.len()].join(", "));
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES {} ON CONFLICT {on_conflict}",
        columns.join(", "),
        vec![row; rows.len()].join(", ")
    );
    rows.iter()
        .fold(diesel::sql_query(sql).into_boxed(), bind)
        .execute(c)?;
    Ok(())
}

/// A 班長 or officer confirms for a paper household after handing over the printed circular.
pub fn record_paper_confirmation(
    conn: &mut AnyConnection,
    id: &PostId,
    household: &HouseholdId,
    recorded_by: &MemberId,
) -> QueryResult<()> {
    write_transaction(conn, |conn| {
        let recorded = Recorded {
            post: id.clone(),
            member: None,
            household: household.clone(),
            confirmed: true,
        };
        announce(conn, &[Change::Receipt(recorded)])?;
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
