//! Sends mail over SMTP (lettre's client on kept connections with TCP_NODELAY, `smtp.rs`,
//! D79): loads who and what each claimed
//! delivery is about, writes it in the member's language, and maps SMTP answers to outcomes
//! (4xx and broken connections retry with back-off; 5xx fails).

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use lettre::Message;
use lettre::message::Mailbox;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use secrecy::ExposeSecret;

use crate::configuration::EmailSettings;
use crate::db::Db;
use crate::db::queries::channels::{mail_posts, mail_recipients};
use crate::db::queries::digests::{KIND as DIGEST, digest_posts};
use crate::db::queries::event_reminders::{KIND as EVENT_REMINDER, reminded_events};
use crate::db::queries::outbox::{Delivery, Outcome};
use crate::domain::{Language, MemberId, PostId};
use crate::error::ApiError;
use crate::outbox::event_reminder::RemindedEvents;
use crate::outbox::links::Links;
use crate::outbox::mail_text::{About, DigestPost, Recipient, compose};
use crate::outbox::smtp::{Connections, Server};
use crate::push::sender::retry;

pub struct Mailer {
    connections: Connections,
    from: Mailbox,
    links: Links,
    concurrency: usize,
}

impl Mailer {
    /// None when `[email]` names no SMTP server.
    pub fn new(
        settings: &EmailSettings,
        timeout: Duration,
        links: Links,
    ) -> anyhow::Result<Option<Self>> {
        if !settings.enabled() {
            return Ok(None);
        }
        let server = Server::parse(settings.smtp_url.expose_secret().trim())?;
        // As many kept connections as mails in flight.
        let connections = Connections::new(server, timeout, settings.concurrency);
        let from = settings
            .from
            .parse()
            .map_err(|_| anyhow::anyhow!("email.from is not a mail address"))?;
        Ok(Some(Self {
            connections,
            from,
            links,
            concurrency: settings.concurrency,
        }))
    }

    pub async fn send_batch(
        &self,
        db: &Db,
        batch: Vec<Delivery>,
    ) -> Result<Vec<(Delivery, Outcome)>, ApiError> {
        let ids: Vec<String> = batch.iter().map(|d| d.subscription_id.0.clone()).collect();
        let post_ids: Vec<PostId> = batch.iter().filter_map(|d| d.post_id.clone()).collect();
        let digest_jobs: Vec<String> = batch
            .iter()
            .filter(|d| d.kind == DIGEST)
            .map(|d| d.job_id.clone())
            .collect();
        let (recipients, posts, events, digests) = db
            .run(move |conn| {
                let recipients = mail_recipients(conn, &ids)?;
                let digests = if digest_jobs.is_empty() {
                    Vec::new()
                } else {
                    let members: Vec<MemberId> = recipients.iter().map(|r| r.2.clone()).collect();
                    digest_posts(conn, &digest_jobs, &members)?
                };
                Ok((
                    recipients,
                    mail_posts(conn, &post_ids)?,
                    reminded_events(conn, &post_ids)?,
                    digests,
                ))
            })
            .await?;
        let mut digests_of: Digests = HashMap::new();
        for (job, member, post, title, requires_confirmation) in digests {
            digests_of
                .entry((job.unwrap_or_default(), member))
                .or_default()
                .push(DigestPost {
                    id: post.0,
                    title,
                    requires_confirmation,
                });
        }
        let recipients: HashMap<String, _> = recipients
            .into_iter()
            .map(|row| (row.0.clone(), row))
            .collect();
        let posts: HashMap<PostId, _> = posts.into_iter().map(|row| (row.0.clone(), row)).collect();
        let results = futures_util::stream::iter(batch)
            .map(|delivery| {
                let recipient = recipients.get(&delivery.subscription_id.0);
                let about = about(&delivery, &posts, &events, &digests_of, recipient);
                async move {
                    let outcome = match (recipient, about) {
                        // The address was replaced or removed, or is not verified (yet).
                        (None, _) => Outcome::Gone(0),
                        (Some(row), Some(About::Verify)) => {
                            self.send(&delivery, row, &About::Verify).await
                        }
                        (Some((_, _, _, _, false)), _) => Outcome::Gone(0),
                        // Every circular of the digest was withdrawn.
                        (Some(_), Some(About::Digest { posts })) if posts.is_empty() => {
                            Outcome::Cancelled
                        }
                        (Some(row), Some(about)) => self.send(&delivery, row, &about).await,
                        (Some(_), None) => Outcome::Rejected(0),
                    };
                    (delivery, outcome)
                }
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        Ok(results)
    }

    async fn send(
        &self,
        delivery: &Delivery,
        row: &crate::db::queries::channels::MailRecipientRow,
        about: &About,
    ) -> Outcome {
        let (address_id, address, member, language, _) = row;
        let to = Recipient {
            address_id: address_id.clone(),
            address: address.clone(),
            member_id: member.0.clone(),
            language: language
                .as_deref()
                .and_then(|l| l.parse().ok())
                .unwrap_or(Language::Ja),
        };
        let mail = compose(&self.links, &to, about);
        let Ok(mailbox) = to.address.parse::<Mailbox>() else {
            return Outcome::Rejected(0);
        };
        let message = Message::builder()
            .from(self.from.clone())
            .to(mailbox)
            .subject(mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                format!("<{}>", mail.unsubscribe),
            ))
            .body(mail.body);
        let Ok(message) = message else {
            return Outcome::Rejected(0);
        };
        let sent = self
            .connections
            .send(message.envelope(), &message.formatted())
            .await;
        match sent {
            Ok(response) => Outcome::Delivered(u16::from(response.code())),
            Err(e) if e.is_permanent() => {
                let status = e.status().unwrap_or(0);
                tracing::warn!(status, "the SMTP server refused a mail; not retried");
                Outcome::Rejected(status)
            }
            Err(e) => {
                tracing::debug!(error = %e, "mail not sent; will retry");
                retry(delivery, e.status(), None)
            }
        }
    }
}

/// The circulars of each digest job's mail to each member.
type Digests = HashMap<(String, MemberId), Vec<DigestPost>>;

/// What a delivery's mail says; None for a circular that no longer exists.
fn about(
    delivery: &Delivery,
    posts: &HashMap<PostId, crate::db::queries::channels::MailPostRow>,
    events: &RemindedEvents,
    digests: &Digests,
    recipient: Option<&crate::db::queries::channels::MailRecipientRow>,
) -> Option<About> {
    match delivery.kind.as_str() {
        "verify_email" => Some(About::Verify),
        DIGEST => {
            let member = recipient?.2.clone();
            let posts = digests
                .get(&(delivery.job_id.clone(), member))
                .cloned()
                .unwrap_or_default();
            Some(About::Digest { posts })
        }
        EVENT_REMINDER => {
            let (title, event) = events.get(delivery.post_id.as_ref()?)?;
            Some(About::Event {
                title: title.clone(),
                event: event.clone(),
            })
        }
        "safety_check" | "safety_reminder" => {
            let payload: serde_json::Value = serde_json::from_str(&delivery.payload).ok()?;
            Some(About::Safety {
                id: payload["safety_check_id"].as_str()?.to_string(),
                message: payload["title"].as_str().unwrap_or_default().to_string(),
            })
        }
        kind => {
            let (id, title, body, requires_confirmation, urgent) =
                posts.get(delivery.post_id.as_ref()?)?;
            Some(About::Post {
                id: id.0.clone(),
                title: title.clone(),
                body: body.clone(),
                requires_confirmation: *requires_confirmation,
                urgent: *urgent,
                reminder: kind == "reminder",
            })
        }
    }
}
