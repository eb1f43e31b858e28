//! Claims of periodic jobs' periods, so instances sharing a PostgreSQL database run each job
//! once per period between them.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::job_runs;

/// True when this caller may run `job` now: no one ran it within `period`. On SQLite, always
/// (one server per database). The row's update is the claim: of instances racing, one wins.
pub fn claim(
    conn: &mut AnyConnection,
    job: &str,
    now: NaiveDateTime,
    period: chrono::Duration,
) -> QueryResult<bool> {
    let AnyConnection::Postgresql(pg) = conn else {
        return Ok(true);
    };
    diesel::insert_into(job_runs::table)
        .values((
            job_runs::name.eq(job),
            job_runs::last_run_at.eq(chrono::DateTime::UNIX_EPOCH.naive_utc()),
        ))
        .on_conflict_do_nothing()
        .execute(pg)?;
    let claimed = diesel::update(
        job_runs::table
            .find(job)
            .filter(job_runs::last_run_at.le(now - period)),
    )
    .set(job_runs::last_run_at.eq(now))
    .execute(pg)?;
    Ok(claimed == 1)
}
