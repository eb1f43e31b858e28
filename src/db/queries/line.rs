//! The LINE channel's rows (D66): official accounts (sealed credentials), their monthly
//! usage, members' links and one-time link codes, and what the LINE worker loads to send.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{
    households, line_accounts, line_link_codes, line_links, line_usage, member_preferences,
    members, muted_channels,
};
use crate::db::{AnyConnection, now, write_transaction};
use crate::domain::{AssociationId, MemberId, new_id};

/// An official account as stored; `access_token` and `channel_secret` are sealed.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = line_accounts)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct LineAccountRow {
    pub id: String,
    pub owner: String,
    pub association_id: Option<String>,
    pub channel_id: String,
    pub access_token: String,
    pub channel_secret: String,
    pub monthly_quota: i32,
    pub friend_url: Option<String>,
    pub refused_at: Option<NaiveDateTime>,
    pub refusal: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// `city` or `association:<id>`: who an account belongs to (one each).
pub fn owner_key(association: Option<&AssociationId>) -> String {
    association.map_or_else(|| "city".to_string(), |a| format!("association:{a}"))
}

pub fn account_of(conn: &mut AnyConnection, owner: &str) -> QueryResult<Option<LineAccountRow>> {
    line_accounts::table
        .filter(line_accounts::owner.eq(owner))
        .select(LineAccountRow::as_select())
        .first(conn)
        .optional()
}

pub fn account_by_channel(
    conn: &mut AnyConnection,
    channel_id: &str,
) -> QueryResult<Option<LineAccountRow>> {
    line_accounts::table
        .filter(line_accounts::channel_id.eq(channel_id))
        .select(LineAccountRow::as_select())
        .first(conn)
        .optional()
}

pub fn accounts(conn: &mut AnyConnection, ids: &[String]) -> QueryResult<Vec<LineAccountRow>> {
    line_accounts::table
        .filter(line_accounts::id.eq_any(ids))
        .select(LineAccountRow::as_select())
        .load(conn)
}

/// What officers give when they register or replace an account (already sealed).
pub struct NewAccount {
    pub owner: String,
    pub association_id: Option<AssociationId>,
    pub channel_id: String,
    pub access_token: String,
    pub channel_secret: String,
    pub monthly_quota: i32,
    pub friend_url: Option<String>,
}

/// Registers the owner's account, or replaces its credentials (clearing a refusal). A
/// channel id another owner registered is a unique violation (409).
pub fn save_account(conn: &mut AnyConnection, new: NewAccount) -> QueryResult<LineAccountRow> {
    write_transaction(conn, |conn| {
        let at = now();
        match account_of(conn, &new.owner)? {
            Some(existing) => {
                if existing.channel_id != new.channel_id {
                    // Another channel's users are other user ids: the links do not carry over.
                    diesel::delete(
                        line_links::table.filter(line_links::account_id.eq(&existing.id)),
                    )
                    .execute(conn)?;
                }
                diesel::update(line_accounts::table.find(&existing.id))
                    .set((
                        line_accounts::channel_id.eq(&new.channel_id),
                        line_accounts::access_token.eq(&new.access_token),
                        line_accounts::channel_secret.eq(&new.channel_secret),
                        line_accounts::monthly_quota.eq(new.monthly_quota),
                        line_accounts::friend_url.eq(&new.friend_url),
                        line_accounts::refused_at.eq(None::<NaiveDateTime>),
                        line_accounts::refusal.eq(None::<String>),
                        line_accounts::updated_at.eq(at),
                    ))
                    .execute(conn)?;
            }
            None => {
                diesel::insert_into(line_accounts::table)
                    .values((
                        line_accounts::id.eq(new_id()),
                        line_accounts::owner.eq(&new.owner),
                        line_accounts::association_id
                            .eq(new.association_id.as_ref().map(|a| a.as_str())),
                        line_accounts::channel_id.eq(&new.channel_id),
                        line_accounts::access_token.eq(&new.access_token),
                        line_accounts::channel_secret.eq(&new.channel_secret),
                        line_accounts::monthly_quota.eq(new.monthly_quota),
                        line_accounts::friend_url.eq(&new.friend_url),
                        line_accounts::created_at.eq(at),
                        line_accounts::updated_at.eq(at),
                    ))
                    .execute(conn)?;
            }
        }
        account_of(conn, &new.owner)?.ok_or(diesel::result::Error::NotFound)
    })
}

/// Removes the owner's account and with it its links and usage; false when there was none.
pub fn delete_account(conn: &mut AnyConnection, owner: &str) -> QueryResult<bool> {
    write_transaction(conn, |conn| {
        let Some(account) = account_of(conn, owner)? else {
            return Ok(false);
        };
        diesel::delete(line_links::table.filter(line_links::account_id.eq(&account.id)))
            .execute(conn)?;
        diesel::delete(line_usage::table.filter(line_usage::account_id.eq(&account.id)))
            .execute(conn)?;
        diesel::delete(line_accounts::table.find(&account.id)).execute(conn)?;
        Ok(true)
    })
}

/// LINE refused the account's token (401): nothing more is sent until it is replaced.
pub fn mark_refused(conn: &mut AnyConnection, account: &str, reason: &str) -> QueryResult<()> {
    diesel::update(
        line_accounts::table
            .find(account)
            .filter(line_accounts::refused_at.is_null()),
    )
    .set((
        line_accounts::refused_at.eq(now()),
        line_accounts::refusal.eq(reason),
    ))
    .execute(conn)
    .map(drop)
}

/// Messages counted this month (`month` is `YYYY-MM`, JST).
pub fn usage(conn: &mut AnyConnection, account: &str, month: &str) -> QueryResult<i32> {
    line_usage::table
        .find((account, month))
        .select(line_usage::sent)
        .first(conn)
        .optional()
        .map(|n| n.unwrap_or(0))
}

/// Takes `n` messages of the month's quota if they fit; false (nothing taken) when not.
pub fn take_quota(
    conn: &mut AnyConnection,
    account: &str,
    month: &str,
    n: i32,
    limit: i32,
) -> QueryResult<bool> {
    write_transaction(conn, |conn| {
        let updated = diesel::update(
            line_usage::table
                .find((account, month))
                .filter(line_usage::sent.le(limit - n)),
        )
        .set(line_usage::sent.eq(line_usage::sent + n))
        .execute(conn)?;
        if updated > 0 {
            return Ok(true);
        }
        let exists: bool = diesel::select(diesel::dsl::exists(
            line_usage::table.find((account, month)),
        ))
        .get_result(conn)?;
        if exists || n > limit {
            return Ok(false);
        }
        diesel::insert_into(line_usage::table)
            .values((
                line_usage::account_id.eq(account),
                line_usage::month.eq(month),
                line_usage::sent.eq(n),
            ))
            .execute(conn)?;
        Ok(true)
    })
}

/// Gives back quota taken for messages LINE did not send.
pub fn return_quota(
    conn: &mut AnyConnection,
    account: &str,
    month: &str,
    n: i32,
) -> QueryResult<()> {
    diesel::update(line_usage::table.find((account, month)))
        .set(line_usage::sent.eq(line_usage::sent - n))
        .execute(conn)
        .map(drop)
}

/// A member's link: (link id, account id, linked at).
pub type LinkRow = (String, String, NaiveDateTime);

pub fn link_of(conn: &mut AnyConnection, member: &MemberId) -> QueryResult<Option<LinkRow>> {
    line_links::table
        .filter(line_links::member_id.eq(member))
        .select((
            line_links::id,
            line_links::account_id,
            line_links::linked_at,
        ))
        .first(conn)
        .optional()
}

/// The member a LINE user of an account is linked to.
pub fn member_of_user(
    conn: &mut AnyConnection,
    account: &str,
    user: &str,
) -> QueryResult<Option<MemberId>> {
    line_links::table
        .filter(line_links::account_id.eq(account))
        .filter(line_links::line_user_id.eq(user))
        .select(line_links::member_id)
        .first::<String>(conn)
        .optional()
        .map(|m| m.map(MemberId))
}

/// The member's code, and when it stops working.
pub fn code_of(
    conn: &mut AnyConnection,
    member: &MemberId,
) -> QueryResult<Option<(String, NaiveDateTime)>> {
    line_link_codes::table
        .find(member)
        .select((line_link_codes::code, line_link_codes::expires_at))
        .first(conn)
        .optional()
}

/// Replaces the member's code.
pub fn set_code(
    conn: &mut AnyConnection,
    member: &MemberId,
    code: &str,
    expires_at: NaiveDateTime,
) -> QueryResult<()> {
    write_transaction(conn, |conn| {
        diesel::delete(line_link_codes::table.find(member)).execute(conn)?;
        diesel::insert_into(line_link_codes::table)
            .values((
                line_link_codes::member_id.eq(member),
                line_link_codes::code.eq(code),
                line_link_codes::expires_at.eq(expires_at),
            ))
            .execute(conn)
            .map(drop)
    })
}

/// The member whose unexpired code this is; the code is used up either way.
pub fn take_code(
    conn: &mut AnyConnection,
    code: &str,
) -> QueryResult<Option<(MemberId, NaiveDateTime)>> {
    write_transaction(conn, |conn| {
        let found: Option<(String, NaiveDateTime)> = line_link_codes::table
            .filter(line_link_codes::code.eq(code))
            .select((line_link_codes::member_id, line_link_codes::expires_at))
            .first(conn)
            .optional()?;
        let Some((member, expires_at)) = found else {
            return Ok(None);
        };
        diesel::delete(line_link_codes::table.filter(line_link_codes::code.eq(code)))
            .execute(conn)?;
        Ok(Some((MemberId(member), expires_at)))
    })
}

/// Links the member to a LINE user of an account, replacing the member's earlier link and
/// the user's earlier member on that account.
pub fn link(
    conn: &mut AnyConnection,
    member: &MemberId,
    account: &str,
    user: &str,
) -> QueryResult<String> {
    write_transaction(conn, |conn| {
        diesel::delete(line_links::table.filter(line_links::member_id.eq(member))).execute(conn)?;
        diesel::delete(
            line_links::table
                .filter(line_links::account_id.eq(account))
                .filter(line_links::line_user_id.eq(user)),
        )
        .execute(conn)?;
        // Linking is asking for LINE: it is on, whatever was chosen before.
        diesel::delete(
            muted_channels::table
                .filter(muted_channels::member_id.eq(member))
                .filter(muted_channels::channel.eq(crate::domain::Channel::Line.as_str())),
        )
        .execute(conn)?;
        let id = new_id();
        diesel::insert_into(line_links::table)
            .values((
                line_links::id.eq(&id),
                line_links::member_id.eq(member),
                line_links::account_id.eq(account),
                line_links::line_user_id.eq(user),
                line_links::linked_at.eq(now()),
            ))
            .execute(conn)?;
        Ok(id)
    })
}

pub fn unlink_member(conn: &mut AnyConnection, member: &MemberId) -> QueryResult<bool> {
    diesel::delete(line_links::table.filter(line_links::member_id.eq(member)))
        .execute(conn)
        .map(|n| n > 0)
}

/// The user blocked the account (`unfollow`).
pub fn unlink_user(conn: &mut AnyConnection, account: &str, user: &str) -> QueryResult<bool> {
    diesel::delete(
        line_links::table
            .filter(line_links::account_id.eq(account))
            .filter(line_links::line_user_id.eq(user)),
    )
    .execute(conn)
    .map(|n| n > 0)
}

/// Where the LINE worker sends: (link id, LINE user, account, member, language).
pub type LineRecipientRow = (String, String, String, MemberId, Option<String>);

pub fn recipients(conn: &mut AnyConnection, ids: &[String]) -> QueryResult<Vec<LineRecipientRow>> {
    let mut rows = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(1000) {
        let loaded: Vec<(String, String, String, String, Option<String>)> = line_links::table
            .left_join(
                member_preferences::table
                    .on(member_preferences::member_id.eq(line_links::member_id)),
            )
            .filter(line_links::id.eq_any(chunk))
            .select((
                line_links::id,
                line_links::line_user_id,
                line_links::account_id,
                line_links::member_id,
                member_preferences::language.nullable(),
            ))
            .load(conn)?;
        rows.extend(
            loaded
                .into_iter()
                .map(|(id, user, account, member, language)| {
                    (id, user, account, MemberId(member), language)
                }),
        );
    }
    Ok(rows)
}

/// The association of a member's household, for which accounts may link them.
pub fn association_of(
    conn: &mut AnyConnection,
    member: &MemberId,
) -> QueryResult<Option<AssociationId>> {
    members::table
        .inner_join(households::table.on(households::id.nullable().eq(members::household_id)))
        .filter(members::id.eq(member))
        .select(households::association_id)
        .first(conn)
        .optional()
}

/// How many members are linked to an account.
pub fn linked_count(conn: &mut AnyConnection, account: &str) -> QueryResult<i64> {
    line_links::table
        .filter(line_links::account_id.eq(account))
        .count()
        .get_result(conn)
}

/// The member's chosen language, for replies.
pub fn language_of(
    conn: &mut AnyConnection,
    member: &MemberId,
) -> QueryResult<Option<crate::domain::Language>> {
    member_preferences::table
        .filter(member_preferences::member_id.eq(member))
        .select(member_preferences::language)
        .first::<String>(conn)
        .optional()
        .map(|l| l.and_then(|l| l.parse().ok()))
}
