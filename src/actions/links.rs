//! The signed links in mails: confirm a circular, answer a safety check, verify an address,
//! stop mail. Opening one (GET) only shows what it would do (mail scanners follow links),
//! except an address verification, which is what opening it means; the page's button does
//! the act, once, through the same use cases as the app.

use crate::actions::Services;
use crate::actions::receipts::{self, Receipt};
use crate::actions::safety::{self, NewAnswer};
use crate::auth::jwt::sha256_hex;
use crate::db::queries::{channels, posts, safety as safety_queries, web};
use crate::domain::signed_link::{LinkError, LinkPurpose, SignedLink};
use crate::domain::{Language, MemberId, PostId, SafetyCheckId, SafetyStatus};
use crate::error::ApiError;

/// Why a link does nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Invalid,
    Expired,
    Spent,
}

/// What an opened link shows, in its member's language.
pub struct LinkView {
    pub purpose: LinkPurpose,
    /// The circular's title, the safety check's message, or the address.
    pub subject: String,
    pub language: Language,
}

fn verified(services: &Services, token: &str) -> Result<SignedLink, Refusal> {
    SignedLink::verify(token, services.links.key(), chrono::Utc::now().timestamp()).map_err(|e| {
        match e {
            LinkError::Invalid => Refusal::Invalid,
            LinkError::Expired => Refusal::Expired,
        }
    })
}

/// What the link would do; an address verification is done here.
pub async fn open(services: &Services, token: &str) -> Result<Result<LinkView, Refusal>, ApiError> {
    let link = match verified(services, token) {
        Ok(link) => link,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let spent_key = sha256_hex(token);
    services
        .db
        .run(move |conn| {
            let member = MemberId(link.member.clone());
            let language = web::preferences(conn, &member)?.map_or(Language::Ja, |p| p.language);
            if link.purpose != LinkPurpose::VerifyEmail && channels::link_spent(conn, &spent_key)? {
                return Ok(Err(Refusal::Spent));
            }
            let subject = match link.purpose {
                LinkPurpose::Confirm => {
                    posts::find_post(conn, &PostId(link.subject.clone()))?.map(|p| p.title)
                }
                LinkPurpose::Safe | LinkPurpose::NeedsHelp => {
                    safety_queries::find_check(conn, &SafetyCheckId(link.subject.clone()))?
                        .map(|c| c.message)
                }
                LinkPurpose::VerifyEmail => channels::verify_email(conn, &member, &link.subject)?
                    .then(|| channels::email_of(conn, &member))
                    .transpose()?
                    .flatten()
                    .map(|(_, address, _)| address),
                LinkPurpose::Unsubscribe => {
                    channels::email_of(conn, &member)?.map(|(_, address, _)| address)
                }
            };
            Ok(subject
                .map(|subject| LinkView {
                    purpose: link.purpose,
                    subject,
                    language,
                })
                .ok_or(Refusal::Invalid))
        })
        .await
}

/// The button: confirms, answers or stops mail as the link's member, once.
pub async fn act(
    services: &Services,
    token: &str,
) -> Result<Result<LinkPurpose, Refusal>, ApiError> {
    let link = match verified(services, token) {
        Ok(link) if link.purpose != LinkPurpose::VerifyEmail => link,
        Ok(_) => return Ok(Err(Refusal::Invalid)),
        Err(refusal) => return Ok(Err(refusal)),
    };
    let spent_key = sha256_hex(token);
    let key = spent_key.clone();
    if services
        .db
        .run(move |conn| Ok(channels::link_spent(conn, &key)?))
        .await?
    {
        return Ok(Err(Refusal::Spent));
    }
    let member = MemberId(link.member.clone());
    match link.purpose {
        LinkPurpose::Confirm => {
            receipts::record(services, &member, PostId(link.subject), Receipt::Confirm).await?
        }
        LinkPurpose::Safe | LinkPurpose::NeedsHelp => {
            let status = if link.purpose == LinkPurpose::Safe {
                SafetyStatus::Safe
            } else {
                SafetyStatus::NeedsHelp
            };
            let answer = NewAnswer {
                status,
                note: None,
                household: None,
                repeat_is_noop: false,
            };
            safety::answer(services, &member, SafetyCheckId(link.subject), answer).await?
        }
        LinkPurpose::Unsubscribe => {
            let member = member.clone();
            services
                .db
                .run(move |conn| Ok(channels::unsubscribe_email(conn, &member)?))
                .await?
        }
        LinkPurpose::VerifyEmail => return Ok(Err(Refusal::Invalid)),
    }
    services
        .db
        .run(move |conn| Ok(channels::spend_link(conn, &spent_key)?))
        .await?;
    Ok(Ok(link.purpose))
}
