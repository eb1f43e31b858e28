//! Sends the outbox's LINE deliveries (D66): loads each claimed delivery's LINE user and
//! account, groups them per job, account and language, and sends each group as multicast
//! requests of at most `line.multicast_size` users, counted against the account's monthly
//! quota. 429 and 5xx retry with back-off (Retry-After wins); 401 marks the account's token
//! refused (officers see why) and fails its deliveries, while other channels go on.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::db::Db;
use crate::db::queries::channels::mail_posts;
use crate::db::queries::event_reminders::{KIND as EVENT_REMINDER, reminded_events};
use crate::db::queries::line::{
    LineAccountRow, LineRecipientRow, accounts, mark_refused, recipients, return_quota, take_quota,
};
use crate::db::queries::outbox::{Delivery, Outcome};
use crate::domain::line::safety_postback;
use crate::domain::{Language, Month, PostId, SafetyStatus};
use crate::error::ApiError;
use crate::outbox::event_reminder::{RemindedEvents, details};
use crate::outbox::line_api::{Answer, LineApi};
use crate::outbox::links::Links;
use crate::push::sender::retry;
use crate::web::i18n::{format, text};

/// Why an account sends nothing, as its officers read it.
pub const TOKEN_REFUSED: &str = "LINE refused the channel access token (401): it was revoked or is wrong. Register a new token; until then no LINE message is sent.";

pub struct LineSender {
    api: Arc<LineApi>,
    links: Links,
}

/// One multicast group: the same message to users of one account.
type GroupKey = (String, String, Language);

impl LineSender {
    pub fn new(api: Arc<LineApi>, links: Links) -> Self {
        Self { api, links }
    }

    pub async fn send_batch(
        &self,
        db: &Db,
        batch: Vec<Delivery>,
    ) -> Result<Vec<(Delivery, Outcome)>, ApiError> {
        let ids: Vec<String> = batch.iter().map(|d| d.subscription_id.0.clone()).collect();
        let post_ids: Vec<PostId> = batch.iter().filter_map(|d| d.post_id.clone()).collect();
        let (links, posts, events, accounts) = db
            .run(move |conn| {
                let links = recipients(conn, &ids)?;
                let account_ids: Vec<String> = links.iter().map(|l| l.2.clone()).collect();
                Ok((
                    links,
                    mail_posts(conn, &post_ids)?,
                    reminded_events(conn, &post_ids)?,
                    accounts(conn, &account_ids)?,
                ))
            })
            .await?;
        let links: HashMap<String, LineRecipientRow> =
            links.into_iter().map(|row| (row.0.clone(), row)).collect();
        let accounts: HashMap<String, LineAccountRow> =
            accounts.into_iter().map(|a| (a.id.clone(), a)).collect();
        let posts: HashMap<PostId, _> = posts.into_iter().map(|row| (row.0.clone(), row)).collect();
        let mut results = Vec::with_capacity(batch.len());
        let mut groups: HashMap<GroupKey, Vec<(Delivery, String)>> = HashMap::new();
        for delivery in batch {
            let Some((_, user, account, _, language)) = links.get(&delivery.subscription_id.0)
            else {
                // Unlinked (on either side) since it was queued.
                results.push((delivery, Outcome::Gone(0)));
                continue;
            };
            let language = language
                .as_deref()
                .and_then(|l| l.parse().ok())
                .unwrap_or(Language::Ja);
            groups
                .entry((delivery.job_id.clone(), account.clone(), language))
                .or_default()
                .push((delivery, user.clone()));
        }
        for ((_, account_id, language), members) in groups {
            let Some(account) = accounts.get(&account_id) else {
                results.extend(members.into_iter().map(|(d, _)| (d, Outcome::Gone(0))));
                continue;
            };
            let Some(first) = members.first().map(|(d, _)| d.clone()) else {
                continue;
            };
            let Some(messages) = self.messages(&first, language, &posts, &events) else {
                // The circular no longer exists.
                results.extend(members.into_iter().map(|(d, _)| (d, Outcome::Rejected(0))));
                continue;
            };
            let token = match (&account.refused_at, self.api.open(&account.access_token)) {
                (None, Some(token)) => token,
                _ => {
                    results.extend(
                        members
                            .into_iter()
                            .map(|(d, _)| (d, Outcome::Rejected(401))),
                    );
                    continue;
                }
            };
            let mut rest = members;
            while !rest.is_empty() {
                let tail = rest.split_off(rest.len().min(self.api.multicast_size));
                let chunk = std::mem::replace(&mut rest, tail);
                let outcomes = self
                    .multicast(db, account, &token, &messages, &chunk)
                    .await?;
                results.extend(chunk.into_iter().map(|(d, _)| d).zip(outcomes));
            }
        }
        Ok(results)
    }

    /// One multicast request; the outcome of each of its deliveries.
    async fn multicast(
        &self,
        db: &Db,
        account: &LineAccountRow,
        token: &str,
        messages: &Value,
        chunk: &[(Delivery, String)],
    ) -> Result<Vec<Outcome>, ApiError> {
        let n = i32::try_from(chunk.len()).unwrap_or(i32::MAX);
        let month = Month::containing(crate::db::now()).to_string();
        let (id, limit) = (account.id.clone(), account.monthly_quota);
        let taken = {
            let month = month.clone();
            db.run(move |conn| Ok(take_quota(conn, &id, &month, n, limit)?))
                .await?
        };
        if !taken {
            tracing::warn!(
                channel_id = account.channel_id.as_str(),
                "a LINE account's monthly quota is used up; not sent"
            );
            return Ok(vec![Outcome::Rejected(429); chunk.len()]);
        }
        let to: Vec<String> = chunk.iter().map(|(_, user)| user.clone()).collect();
        let answer = self
            .api
            .multicast(token, &to, messages, &retry_key(chunk))
            .await;
        if answer != Answer::Sent {
            let (id, month) = (account.id.clone(), month);
            let refused = answer == Answer::TokenRefused;
            db.run(move |conn| {
                return_quota(conn, &id, &month, n)?;
                if refused {
                    mark_refused(conn, &id, TOKEN_REFUSED)?;
                }
                Ok(())
            })
            .await?;
        }
        Ok(chunk
            .iter()
            .map(|(delivery, _)| match &answer {
                Answer::Sent => Outcome::Delivered(200),
                Answer::Later {
                    status,
                    retry_after,
                } => retry(delivery, *status, *retry_after),
                Answer::TokenRefused => {
                    tracing::warn!(
                        channel_id = account.channel_id.as_str(),
                        "LINE refused an account's channel access token; its messages fail"
                    );
                    Outcome::Rejected(401)
                }
                Answer::Refused(status) => {
                    tracing::error!(status, "LINE refused a multicast; not retried");
                    Outcome::Rejected(*status)
                }
            })
            .collect())
    }

    /// The messages of a delivery's job in one language; None when what it is about is gone.
    fn messages(
        &self,
        delivery: &Delivery,
        lang: Language,
        posts: &HashMap<PostId, crate::db::queries::channels::MailPostRow>,
        events: &RemindedEvents,
    ) -> Option<Value> {
        match delivery.kind.as_str() {
            EVENT_REMINDER => {
                let (title, event) = events.get(delivery.post_id.as_ref()?)?;
                let body = format!(
                    "{}\n\n{title}\n{}\n\n{}\n{}",
                    text(lang, "event_reminder.intro"),
                    details(lang, event).join("\n"),
                    text(lang, "line.open"),
                    self.links
                        .url(&format!("/posts/{}", event.post_id.as_str()))
                );
                Some(json!([{"type": "text", "text": cut(&body)}]))
            }
            "safety_check" | "safety_reminder" => {
                let payload: Value = serde_json::from_str(&delivery.payload).ok()?;
                let check = payload["safety_check_id"].as_str()?;
                let message = payload["title"].as_str().unwrap_or_default();
                let body = format!(
                    "{}\n\n{message}\n\n{}\n{}",
                    format(lang, "line.safety", "title", &short(message, 40)),
                    text(lang, "line.safety_intro"),
                    self.links.url(&format!("/safety/{check}"))
                );
                let button = |label: &str, status: SafetyStatus| {
                    let label = text(lang, label);
                    json!({"type": "action", "action": {
                        "type": "postback",
                        "label": label,
                        "displayText": label,
                        "data": safety_postback(self.api.postback_key(), check, status),
                    }})
                };
                Some(json!([{
                    "type": "text",
                    "text": cut(&body),
                    "quickReply": {"items": [
                        button("line.safe", SafetyStatus::Safe),
                        button("line.needs_help", SafetyStatus::NeedsHelp),
                    ]},
                }]))
            }
            kind => {
                let (id, title, _, _, urgent) = posts.get(delivery.post_id.as_ref()?)?;
                let key = match (kind == "reminder", urgent) {
                    (true, _) => "line.reminder",
                    (false, true) => "line.urgent",
                    (false, false) => "line.circular",
                };
                let body = format!(
                    "{}\n\n{}\n{}",
                    format(lang, key, "title", title),
                    text(lang, "line.open"),
                    self.links.url(&format!("/posts/{}", id.as_str()))
                );
                Some(json!([{"type": "text", "text": cut(&body)}]))
            }
        }
    }
}

fn short(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

/// A text message holds at most 5,000 characters.
fn cut(text: &str) -> String {
    short(text, 5000)
}

/// The same recipients of the same job give the same key, so LINE accepts a retried
/// request only once (`X-Line-Retry-Key`, a UUID).
fn retry_key(chunk: &[(Delivery, String)]) -> String {
    let mut ids: Vec<&str> = chunk
        .iter()
        .map(|(d, _)| d.subscription_id.0.as_str())
        .collect();
    ids.sort_unstable();
    let mut hash = Sha256::new();
    if let Some((first, _)) = chunk.first() {
        hash.update(first.job_id.as_bytes());
    }
    for id in ids {
        hash.update(b"\n");
        hash.update(id.as_bytes());
    }
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash.finalize()[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}
