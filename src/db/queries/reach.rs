//! How many members each channel reaches (push, email, LINE), city-wide counts only, for the
//! dashboard's monthly figures (D72): a member counts for a channel when they have an
//! address there (a push subscription, a verified email address, a LINE link) and did not turn
//! it off.

use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::{member_emails, members, muted_channels, push_subscriptions};
use crate::db::schema_channels::stats_channel_months;
use crate::db::schema_line::line_links;
use crate::domain::Channel;

/// Members reachable by each channel now, in `Channel::ALL` order.
pub fn reachable_by_channel(conn: &mut AnyConnection) -> QueryResult<Vec<(Channel, i32)>> {
    Channel::ALL
        .iter()
        .map(|channel| Ok((*channel, reachable(conn, *channel)?)))
        .collect()
}

fn reachable(conn: &mut AnyConnection, channel: Channel) -> QueryResult<i32> {
    let members = members::table
        .filter(members::disabled.eq(false))
        .filter(members::household_id.is_not_null())
        .filter(diesel::dsl::not(diesel::dsl::exists(
            muted_channels::table
                .filter(muted_channels::member_id.eq(members::id))
                .filter(muted_channels::channel.eq(channel.as_str())),
        )))
        .into_boxed();
    let members = match channel {
        Channel::Push => members.filter(diesel::dsl::exists(
            push_subscriptions::table.filter(push_subscriptions::member_id.eq(members::id)),
        )),
        Channel::Email => members.filter(diesel::dsl::exists(
            member_emails::table
                .filter(member_emails::member_id.eq(members::id))
                .filter(member_emails::verified_at.is_not_null()),
        )),
        Channel::Line => members.filter(diesel::dsl::exists(
            line_links::table.filter(line_links::member_id.eq(members::id)),
        )),
    };
    let count: i64 = members.count().get_result(conn)?;
    Ok(i32::try_from(count).unwrap_or(i32::MAX))
}

/// Replaces a month's stored counts (inside the snapshot's transaction).
pub fn store_month(
    conn: &mut AnyConnection,
    month: &str,
    counts: &[(Channel, i32)],
) -> QueryResult<()> {
    diesel::delete(stats_channel_months::table.filter(stats_channel_months::month.eq(month)))
        .execute(conn)?;
    for (channel, members) in counts {
        diesel::insert_into(stats_channel_months::table)
            .values((
                stats_channel_months::month.eq(month),
                stats_channel_months::channel.eq(channel.as_str()),
                stats_channel_months::members.eq(members),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// A month's stored counts; empty for a month stored before they were counted.
pub fn month_counts(conn: &mut AnyConnection, month: &str) -> QueryResult<Vec<(Channel, i32)>> {
    let rows: Vec<(String, i32)> = stats_channel_months::table
        .filter(stats_channel_months::month.eq(month))
        .select((stats_channel_months::channel, stats_channel_months::members))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(channel, n)| Some((channel.parse().ok()?, n)))
        .collect())
}
