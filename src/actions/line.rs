//! LINE (D66): an association's or the city's official account, registered by its officers
//! (credentials sealed, never shown again); a member's link to their LINE user by a one-time
//! code; and the webhook LINE calls: the code links, `unfollow` unlinks, a text from a linked
//! member is answered with their unread circulars (reply messages are free), and the safety
//! check's quick-reply buttons answer for the member's household through the same use case as
//! the app.

use chrono::{Duration, NaiveDateTime};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::actions::{Services, inbox, safety};
use crate::authz::{self, Principal, require};
use crate::db::now;
use crate::db::queries::line::{self as queries, LineAccountRow, NewAccount, owner_key};
use crate::db::queries::{associations, audit};
use crate::domain::line::{normalize_link_code, parse_safety_postback, signature_matches};
use crate::domain::{AssociationId, AuditAction, Language, MemberId, Month, SafetyCheckId};
use crate::error::{ApiError, ErrorCode, FieldError, Problem};
use crate::outbox::line_api::Answer;
use crate::web::i18n::{format, text};

/// Whose official account: the city's, or an association's.
#[derive(Debug, Clone)]
pub enum LineOwner {
    City,
    Association(AssociationId),
}

impl LineOwner {
    fn association(&self) -> Option<&AssociationId> {
        match self {
            LineOwner::City => None,
            LineOwner::Association(id) => Some(id),
        }
    }
}

/// What officers give to register an account (from the LINE Developers console).
pub struct AccountInput {
    pub channel_id: String,
    pub channel_access_token: String,
    pub channel_secret: String,
    pub monthly_quota: Option<i32>,
    pub friend_url: Option<String>,
}

/// An account as officers see it: never its token or secret.
pub struct AccountView {
    pub channel_id: String,
    pub webhook_path: String,
    pub friend_url: Option<String>,
    pub month: String,
    pub monthly_quota: i32,
    pub used_this_month: i32,
    pub linked_members: i64,
    pub refused_at: Option<NaiveDateTime>,
    pub refusal: Option<String>,
    pub updated_at: NaiveDateTime,
}

/// A refused field of the account form, named as the request names it (D63), with the
/// API's `invalid_field` code.
fn refused(field: &str, value: &str, message: &str) -> ApiError {
    let problem = if value.trim().is_empty() {
        Problem::Empty
    } else {
        Problem::Invalid
    };
    ApiError::Field(
        ErrorCode::InvalidField,
        Box::new(FieldError::new(field, problem, message)),
    )
}

/// The one home of the rules of an account's fields; the API and the page both ask it.
fn check_input(input: &AccountInput) -> Result<(), ApiError> {
    let id = input.channel_id.trim();
    if id.is_empty() || id.len() > 20 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(refused(
            "channel_id",
            id,
            "channel_id must be the channel's number (digits only)",
        ));
    }
    let printable = |s: &str, max: usize| {
        !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_graphic())
    };
    let token = input.channel_access_token.trim();
    if !printable(token, 1000) {
        return Err(refused(
            "channel_access_token",
            token,
            "channel_access_token must be the token as LINE shows it (no spaces)",
        ));
    }
    let secret = input.channel_secret.trim();
    if !printable(secret, 200) {
        return Err(refused(
            "channel_secret",
            secret,
            "channel_secret must be the secret as LINE shows it (no spaces)",
        ));
    }
    if let Some(q) = input.monthly_quota
        && !(0..=100_000_000).contains(&q)
    {
        return Err(refused(
            "monthly_quota",
            &q.to_string(),
            "monthly_quota must be from 0 to 100000000",
        ));
    }
    if let Some(url) = &input.friend_url
        && !url::Url::parse(url.trim()).is_ok_and(|u| u.scheme() == "https")
    {
        return Err(refused(
            "friend_url",
            url,
            "friend_url must be an https:// address (such as https://lin.ee/…)",
        ));
    }
    Ok(())
}

/// Loads the caller and checks they may manage this owner's account (404 for an unknown
/// association, 403 for anyone else).
fn manager(
    conn: &mut crate::db::AnyConnection,
    caller: &MemberId,
    owner: &LineOwner,
) -> Result<Principal, ApiError> {
    let p = Principal::load(conn, caller)?;
    if let Some(id) = owner.association() {
        associations::find_association(conn, id)?;
    }
    require(authz::may_manage_line_account(&p, owner.association()))?;
    Ok(p)
}

fn view(conn: &mut crate::db::AnyConnection, row: LineAccountRow) -> Result<AccountView, ApiError> {
    let month = Month::containing(now()).to_string();
    let used = queries::usage(conn, &row.id, &month)?;
    let linked = queries::linked_count(conn, &row.id)?;
    Ok(AccountView {
        webhook_path: format!("/api/v1/line/webhook/{}", row.channel_id),
        channel_id: row.channel_id,
        friend_url: row.friend_url,
        month,
        monthly_quota: row.monthly_quota,
        used_this_month: used,
        linked_members: linked,
        refused_at: row.refused_at,
        refusal: row.refusal,
        updated_at: row.updated_at,
    })
}

/// The owner's account; 404 when none is registered.
pub async fn account(
    services: &Services,
    caller: &MemberId,
    owner: LineOwner,
) -> Result<AccountView, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            manager(conn, &caller, &owner)?;
            let row = queries::account_of(conn, &owner_key(owner.association()))?
                .ok_or(ApiError::NotFound("LINE account"))?;
            view(conn, row)
        })
        .await
}

/// Registers the owner's account or replaces its credentials. Audited (without them).
pub async fn save_account(
    services: &Services,
    caller: &MemberId,
    owner: LineOwner,
    input: AccountInput,
) -> Result<AccountView, ApiError> {
    check_input(&input)?;
    let new = NewAccount {
        owner: owner_key(owner.association()),
        association_id: owner.association().cloned(),
        channel_id: input.channel_id.trim().to_string(),
        access_token: services.line.seal(input.channel_access_token.trim())?,
        channel_secret: services.line.seal(input.channel_secret.trim())?,
        monthly_quota: input
            .monthly_quota
            .unwrap_or(services.line.default_monthly_quota),
        friend_url: input.friend_url.map(|u| u.trim().to_string()),
    };
    let caller = caller.clone();
    let saved = services
        .db
        .write(move |conn| {
            let p = manager(conn, &caller, &owner)?;
            let row = queries::save_account(conn, new).map_err(|e| match e {
                diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                ) => ApiError::Conflict(
                    ErrorCode::AlreadyExists,
                    "another association registered this LINE channel".into(),
                ),
                other => other.into(),
            })?;
            audit::record(
                conn,
                &p,
                AuditAction::LineAccountSaved,
                "line_account",
                Some(row.id.as_str()),
                owner.association(),
                json!({"channel_id": row.channel_id, "monthly_quota": row.monthly_quota}),
            )?;
            view(conn, row)
        })
        .await?;
    // Deliveries waiting on a refused token go out with the new one.
    services.wake_push.notify_one();
    Ok(saved)
}

/// Removes the owner's account; its members' links go with it. Audited.
pub async fn remove_account(
    services: &Services,
    caller: &MemberId,
    owner: LineOwner,
) -> Result<(), ApiError> {
    let caller = caller.clone();
    services
        .db
        .write(move |conn| {
            let p = manager(conn, &caller, &owner)?;
            let key = owner_key(owner.association());
            let row = queries::account_of(conn, &key)?.ok_or(ApiError::NotFound("LINE account"))?;
            queries::delete_account(conn, &key)?;
            audit::record(
                conn,
                &p,
                AuditAction::LineAccountRemoved,
                "line_account",
                Some(row.id.as_str()),
                owner.association(),
                json!({"channel_id": row.channel_id}),
            )?;
            Ok(())
        })
        .await
}

/// A member's link as they see it on /settings and through the API.
pub struct LinkView {
    pub linked: bool,
    pub linked_at: Option<NaiveDateTime>,
    /// The code to send, while one is unexpired.
    pub code: Option<String>,
    pub code_expires_at: Option<NaiveDateTime>,
    /// The official account to add as a friend (the association's, else the city's).
    pub friend_url: Option<String>,
    /// Whether the member's association or the city has an official account at all.
    pub available: bool,
}

/// The accounts a member may link through: their association's and the city's.
fn member_accounts(
    conn: &mut crate::db::AnyConnection,
    member: &MemberId,
) -> Result<Vec<LineAccountRow>, ApiError> {
    let mut found = Vec::new();
    if let Some(association) = queries::association_of(conn, member)? {
        found.extend(queries::account_of(conn, &owner_key(Some(&association)))?);
    }
    found.extend(queries::account_of(conn, &owner_key(None))?);
    Ok(found)
}

fn link_view(conn: &mut crate::db::AnyConnection, member: &MemberId) -> Result<LinkView, ApiError> {
    let accounts = member_accounts(conn, member)?;
    let link = queries::link_of(conn, member)?;
    let code = queries::code_of(conn, member)?.filter(|(_, expires)| *expires > now());
    Ok(LinkView {
        linked: link.is_some(),
        linked_at: link.map(|(_, _, at)| at),
        code: code.as_ref().map(|(c, _)| c.clone()),
        code_expires_at: code.map(|(_, at)| at),
        friend_url: accounts.iter().find_map(|a| a.friend_url.clone()),
        available: !accounts.is_empty(),
    })
}

pub async fn link_status(services: &Services, caller: &MemberId) -> Result<LinkView, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            Principal::load(conn, &caller)?;
            link_view(conn, &caller)
        })
        .await
}

/// A new one-time code for the caller to send to the official account (replaces the last).
pub async fn new_code(services: &Services, caller: &MemberId) -> Result<LinkView, ApiError> {
    let (caller, ttl) = (caller.clone(), services.line.link_code_ttl_mins);
    services
        .db
        .run(move |conn| {
            Principal::load(conn, &caller)?;
            if member_accounts(conn, &caller)?.is_empty() {
                return Err(ApiError::Conflict(
                    ErrorCode::LineNotAvailable,
                    "neither your association nor the city has registered a LINE official account"
                        .into(),
                ));
            }
            let code = crate::domain::line::new_link_code();
            queries::set_code(conn, &caller, &code, now() + Duration::minutes(ttl))?;
            link_view(conn, &caller)
        })
        .await
}

/// Ends the caller's link; LINE messages stop at once (queued ones are dropped as gone).
pub async fn unlink(services: &Services, caller: &MemberId) -> Result<LinkView, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            Principal::load(conn, &caller)?;
            queries::unlink_member(conn, &caller)?;
            link_view(conn, &caller)
        })
        .await
}

/// Whether the member has linked LINE (the channel choice accepts `line` only then).
pub fn is_linked(conn: &mut crate::db::AnyConnection, member: &MemberId) -> Result<bool, ApiError> {
    Ok(queries::link_of(conn, member)?.is_some())
}

#[derive(Deserialize)]
struct WebhookBody {
    #[serde(default)]
    events: Vec<Value>,
}

/// LINE's webhook for one channel. A body whose `X-Line-Signature` is not the HMAC of the
/// channel secret (or an unknown channel) is 401 and changes nothing.
pub async fn webhook(
    services: &Services,
    channel_id: String,
    body: &[u8],
    signature: Option<&str>,
) -> Result<(), ApiError> {
    let refused = ApiError::Unauthorized(
        ErrorCode::InvalidLineSignature,
        "X-Line-Signature does not match this channel's secret",
    );
    let account = services
        .db
        .run(move |conn| Ok(queries::account_by_channel(conn, &channel_id)?))
        .await?;
    let Some(account) = account else {
        return Err(refused);
    };
    let Some(secret) = services.line.open(&account.channel_secret) else {
        tracing::error!("a LINE account's secret cannot be opened with this server's key");
        return Err(refused);
    };
    if !signature_matches(&secret, body, signature) {
        return Err(refused);
    }
    let parsed: WebhookBody = serde_json::from_slice(body).map_err(|_| {
        ApiError::BadRequest(ErrorCode::MalformedJson, "not a LINE webhook body".into())
    })?;
    for event in parsed.events {
        handle_event(services, &account, &event).await?;
    }
    Ok(())
}

async fn handle_event(
    services: &Services,
    account: &LineAccountRow,
    event: &Value,
) -> Result<(), ApiError> {
    let Some(user) = event["source"]["userId"].as_str().map(str::to_string) else {
        return Ok(());
    };
    let reply_token = event["replyToken"].as_str();
    let (account_id, lookup) = (account.id.clone(), user.clone());
    let linked = services
        .db
        .run(move |conn| {
            let member = queries::member_of_user(conn, &account_id, &lookup)?;
            let language = match &member {
                Some(m) => queries::language_of(conn, m)?,
                None => None,
            };
            Ok((member, language))
        })
        .await?;
    let lang = linked.1.unwrap_or(Language::Ja);
    let replies: Vec<String> = match event["type"].as_str().unwrap_or_default() {
        "unfollow" => {
            let account_id = account.id.clone();
            services
                .db
                .run(move |conn| Ok(queries::unlink_user(conn, &account_id, &user)?))
                .await?;
            Vec::new()
        }
        "follow" if linked.0.is_none() => vec![text(lang, "line.how_to_link").to_string()],
        "message" if event["message"]["type"] == "text" => {
            let said = event["message"]["text"].as_str().unwrap_or_default();
            match (normalize_link_code(said), &linked.0) {
                (Some(code), _) => vec![link_by_code(services, account, &user, &code).await?],
                (None, Some(member)) => vec![unread_list(services, member, lang).await?],
                (None, None) => vec![text(lang, "line.how_to_link").to_string()],
            }
        }
        "postback" => match &linked.0 {
            Some(member) => {
                let data = event["postback"]["data"].as_str().unwrap_or_default();
                vec![answer_safety(services, member, data, lang).await?]
            }
            None => vec![text(lang, "line.how_to_link").to_string()],
        },
        _ => Vec::new(),
    };
    if let (Some(reply_token), false) = (reply_token, replies.is_empty()) {
        reply(services, account, reply_token, &replies).await;
    }
    Ok(())
}

/// Links the code's member to this LINE user, if the code is unexpired and this account is
/// their association's or the city's. The code is used up either way.
async fn link_by_code(
    services: &Services,
    account: &LineAccountRow,
    user: &str,
    code: &str,
) -> Result<String, ApiError> {
    let (account, user, code) = (account.clone(), user.to_string(), code.to_string());
    services
        .db
        .run(move |conn| {
            let Some((member, expires_at)) = queries::take_code(conn, &code)? else {
                return Ok(text(Language::Ja, "line.code_unknown").to_string());
            };
            let lang = queries::language_of(conn, &member)?.unwrap_or(Language::Ja);
            if expires_at <= now() {
                return Ok(text(lang, "line.code_unknown").to_string());
            }
            let theirs = match &account.association_id {
                None => true,
                Some(a) => {
                    queries::association_of(conn, &member)?.is_some_and(|own| own.as_str() == a)
                }
            };
            if !theirs {
                return Ok(text(lang, "line.code_elsewhere").to_string());
            }
            queries::link(conn, &member, &account.id, &user)?;
            Ok(text(lang, "line.linked").to_string())
        })
        .await
}

/// The member's unread circulars, newest first (at most five), with their links.
async fn unread_list(
    services: &Services,
    member: &MemberId,
    lang: Language,
) -> Result<String, ApiError> {
    let page = inbox::page(
        services,
        member,
        inbox::InboxRequest {
            unread_only: true,
            limit: Some(5),
            ..inbox::InboxRequest::default()
        },
    )
    .await?;
    if page.rows.is_empty() {
        return Ok(text(lang, "line.unread_none").to_string());
    }
    let mut reply = format(
        lang,
        "line.unread_list",
        "count",
        &page.rows.len().to_string(),
    );
    for row in &page.rows {
        reply.push_str(&format!(
            "\n\n・{}\n{}",
            row.post.title,
            services
                .links
                .url(&format!("/posts/{}", row.post.id.as_str()))
        ));
    }
    Ok(reply)
}

/// A quick-reply tap on a safety check: stored as the member's household's answer.
async fn answer_safety(
    services: &Services,
    member: &MemberId,
    data: &str,
    lang: Language,
) -> Result<String, ApiError> {
    let Some((check, status)) = parse_safety_postback(services.line.postback_key(), data) else {
        tracing::warn!("a LINE postback without this server's signature; ignored");
        return Ok(text(lang, "line.answer_failed").to_string());
    };
    let answer = safety::NewAnswer {
        status,
        note: None,
        household: None,
        repeat_is_noop: false,
    };
    match safety::answer(services, member, SafetyCheckId(check), answer).await {
        Ok(()) => Ok(text(lang, "line.answered").to_string()),
        Err(ApiError::Unexpected(e)) => Err(ApiError::Unexpected(e)),
        Err(e) => {
            tracing::debug!(error = %e, "a safety answer from LINE was not stored");
            Ok(text(lang, "line.answer_failed").to_string())
        }
    }
}

/// Replies are free and best effort: a failure is logged, the webhook still succeeds.
async fn reply(services: &Services, account: &LineAccountRow, reply_token: &str, texts: &[String]) {
    if account.refused_at.is_some() {
        return;
    }
    let Some(token) = services.line.open(&account.access_token) else {
        return;
    };
    let messages: Vec<Value> = texts
        .iter()
        .map(|t| json!({"type": "text", "text": t.chars().take(5000).collect::<String>()}))
        .collect();
    let answer = services
        .line
        .reply(&token, reply_token, &Value::Array(messages))
        .await;
    if answer != Answer::Sent {
        tracing::warn!(?answer, "a LINE reply was not sent");
    }
}
