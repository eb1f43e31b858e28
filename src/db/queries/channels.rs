//! The member's side of the channels: which they turned off, their email address and its
//! verification, signed links already used, and what the mailer loads to write a mail.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::models::PushJob;
use crate::db::queries::outbox::PENDING;
use crate::db::schema::{
    member_emails, member_preferences, muted_channels, posts, push_deliveries, push_jobs,
    spent_links,
};
use crate::db::{AnyConnection, now, write_transaction};
use crate::domain::{Channel, MemberId, PostId, Priority, new_id};

pub fn muted(conn: &mut AnyConnection, member: &MemberId) -> QueryResult<Vec<Channel>> {
    muted_channels::table
        .filter(muted_channels::member_id.eq(member))
        .select(muted_channels::channel)
        .load::<String>(conn)
        .map(|rows| rows.iter().filter_map(|c| c.parse().ok()).collect())
}

pub fn set_muted(
    conn: &mut AnyConnection,
    member: &MemberId,
    channels: &[Channel],
) -> QueryResult<()> {
    write_transaction(conn, |conn| {
        diesel::delete(muted_channels::table.filter(muted_channels::member_id.eq(member)))
            .execute(conn)?;
        for channel in channels {
            diesel::insert_into(muted_channels::table)
                .values((
                    muted_channels::member_id.eq(member),
                    muted_channels::channel.eq(channel.as_str()),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// A member's address: (row id, address, verified at).
pub type EmailRow = (String, String, Option<NaiveDateTime>);

pub fn email_of(conn: &mut AnyConnection, member: &MemberId) -> QueryResult<Option<EmailRow>> {
    member_emails::table
        .filter(member_emails::member_id.eq(member))
        .select((
            member_emails::id,
            member_emails::address,
            member_emails::verified_at,
        ))
        .first(conn)
        .optional()
}

/// Replaces the member's address with an unverified one and queues its verification mail
/// in the same transaction. Returns the new row's id.
pub fn set_email(
    conn: &mut AnyConnection,
    member: &MemberId,
    address: &str,
) -> QueryResult<String> {
    write_transaction(conn, |conn| {
        diesel::delete(member_emails::table.filter(member_emails::member_id.eq(member)))
            .execute(conn)?;
        let id = new_id();
        let at = now();
        diesel::insert_into(member_emails::table)
            .values((
                member_emails::id.eq(&id),
                member_emails::member_id.eq(member),
                member_emails::address.eq(address),
                member_emails::created_at.eq(at),
            ))
            .execute(conn)?;
        let job = PushJob {
            id: new_id(),
            kind: "verify_email".into(),
            post_id: None,
            topic: String::new(),
            payload: "{}".into(),
            urgent: false,
            created_at: at,
        };
        diesel::insert_into(push_jobs::table)
            .values(&job)
            .execute(conn)?;
        diesel::insert_into(push_deliveries::table)
            .values((
                push_deliveries::job_id.eq(&job.id),
                push_deliveries::subscription_id.eq(&id),
                push_deliveries::status.eq(PENDING),
                push_deliveries::attempts.eq(0),
                push_deliveries::next_attempt_at.eq(at),
                push_deliveries::channel.eq(Channel::Email.as_str()),
            ))
            .execute(conn)?;
        Ok(id)
    })
}

/// Marks the address verified if it is still the member's; false when it was replaced.
pub fn verify_email(conn: &mut AnyConnection, member: &MemberId, id: &str) -> QueryResult<bool> {
    let updated = diesel::update(
        member_emails::table
            .filter(member_emails::id.eq(id))
            .filter(member_emails::member_id.eq(member)),
    )
    .set(member_emails::verified_at.eq(now()))
    .execute(conn)?;
    Ok(updated > 0)
}

/// Spends a signed link; false when it was spent before.
pub fn spend_link(conn: &mut AnyConnection, signature_hash: &str) -> QueryResult<bool> {
    write_transaction(conn, |conn| {
        let spent: bool = diesel::select(diesel::dsl::exists(
            spent_links::table.filter(spent_links::signature_hash.eq(signature_hash)),
        ))
        .get_result(conn)?;
        if spent {
            return Ok(false);
        }
        diesel::insert_into(spent_links::table)
            .values((
                spent_links::signature_hash.eq(signature_hash),
                spent_links::spent_at.eq(now()),
            ))
            .execute(conn)?;
        Ok(true)
    })
}

pub fn link_spent(conn: &mut AnyConnection, signature_hash: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        spent_links::table.filter(spent_links::signature_hash.eq(signature_hash)),
    ))
    .get_result(conn)
}

/// Where mail goes: (row id, address, member, language, verified).
pub type MailRecipientRow = (String, String, MemberId, Option<String>, bool);

pub fn mail_recipients(
    conn: &mut AnyConnection,
    ids: &[String],
) -> QueryResult<Vec<MailRecipientRow>> {
    member_emails::table
        .left_join(
            member_preferences::table
                .on(member_preferences::member_id.eq(member_emails::member_id)),
        )
        .filter(member_emails::id.eq_any(ids))
        .select((
            member_emails::id,
            member_emails::address,
            member_emails::member_id,
            member_preferences::language.nullable(),
            member_emails::verified_at.is_not_null(),
        ))
        .load::<(String, String, String, Option<String>, bool)>(conn)
        .map(|rows| {
            rows.into_iter()
                .map(|(id, address, member, language, verified)| {
                    (id, address, MemberId(member), language, verified)
                })
                .collect()
        })
}

/// The circulars a batch of mails is about: (id, title, body, asks for confirmation, urgent).
pub type MailPostRow = (PostId, String, String, bool, bool);

pub fn mail_posts(conn: &mut AnyConnection, ids: &[PostId]) -> QueryResult<Vec<MailPostRow>> {
    posts::table
        .filter(posts::id.eq_any(ids))
        .select((
            posts::id,
            posts::title,
            posts::body,
            posts::requires_confirmation,
            posts::priority,
        ))
        .load::<(PostId, String, String, bool, Priority)>(conn)
        .map(|rows| {
            rows.into_iter()
                .map(|(id, title, body, confirm, priority)| {
                    (id, title, body, confirm, priority == Priority::Urgent)
                })
                .collect()
        })
}

/// A member's address stops receiving mail (the unsubscribe link): email is turned off.
pub fn unsubscribe_email(conn: &mut AnyConnection, member: &MemberId) -> QueryResult<()> {
    let mut channels = muted(conn, member)?;
    if !channels.contains(&Channel::Email) {
        channels.push(Channel::Email);
    }
    set_muted(conn, member, &channels)
}
