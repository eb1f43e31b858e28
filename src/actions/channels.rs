//! A member's channels (push, email, LINE; several or none) and their email address, which
//! is verified by a mailed link before any mail is sent to it.

use chrono::NaiveDateTime;

use crate::actions::{Services, line};
use crate::authz::Principal;
use crate::db::queries::channels as queries;
use crate::db::queries::digests;
use crate::domain::channel::chosen;
use crate::domain::{Channel, EmailAddress, EmailFrequency, MemberId};
use crate::error::{ApiError, ErrorCode, FieldError, Problem};

/// The channels the caller chose; LINE only once they linked it (D66).
pub async fn channels(services: &Services, caller: &MemberId) -> Result<Vec<Channel>, ApiError> {
    let caller = caller.clone();
    let (muted, linked) = services
        .db
        .run(move |conn| {
            Principal::load(conn, &caller)?;
            Ok((
                queries::muted(conn, &caller)?,
                line::is_linked(conn, &caller)?,
            ))
        })
        .await?;
    Ok(chosen(&muted)
        .into_iter()
        .filter(|c| *c != Channel::Line || linked)
        .collect())
}

/// Chooses the caller's channels; returns them, each once, in a fixed order. `line` only
/// once their LINE is linked (422 `line_not_linked` otherwise); while it is not, LINE is
/// never stored as turned off, so linking it later turns it on.
pub async fn set_channels(
    services: &Services,
    caller: &MemberId,
    channels: Vec<Channel>,
) -> Result<Vec<Channel>, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            Principal::load(conn, &caller)?;
            let linked = line::is_linked(conn, &caller)?;
            if channels.contains(&Channel::Line) && !linked {
                let message = "your LINE is not linked: send the code from POST /api/v1/me/line-link/code (or /settings) to the official account first, then choose line";
                let error = FieldError::new("channels", Problem::Invalid, message);
                return Err(ApiError::Field(ErrorCode::LineNotLinked, Box::new(error)));
            }
            let muted: Vec<Channel> = Channel::ALL
                .iter()
                .copied()
                .filter(|c| !channels.contains(c) && (*c != Channel::Line || linked))
                .collect();
            queries::set_muted(conn, &caller, &muted)?;
            Ok(chosen(&muted)
                .into_iter()
                .filter(|c| *c != Channel::Line || linked)
                .collect())
        })
        .await
}

/// The caller's address and when it was verified.
pub struct EmailView {
    pub address: String,
    pub verified_at: Option<NaiveDateTime>,
}

pub async fn email(services: &Services, caller: &MemberId) -> Result<Option<EmailView>, ApiError> {
    let caller = caller.clone();
    let row = services
        .db
        .run(move |conn| {
            Principal::load(conn, &caller)?;
            Ok(queries::email_of(conn, &caller)?)
        })
        .await?;
    Ok(row.map(|(_, address, verified_at)| EmailView {
        address,
        verified_at,
    }))
}

/// Sets the caller's address (unverified) and queues its verification mail in the outbox.
pub async fn set_email(
    services: &Services,
    caller: &MemberId,
    raw: &str,
) -> Result<EmailView, ApiError> {
    if !services.email_enabled {
        return Err(ApiError::Conflict(
            ErrorCode::EmailNotConfigured,
            "this server sends no mail (no [email] smtp_url is configured)".into(),
        ));
    }
    let address = EmailAddress::parse(raw).map_err(|e| {
        let error = FieldError::new("email", Problem::Invalid, e);
        ApiError::Field(ErrorCode::InvalidEmail, Box::new(error))
    })?;
    let (caller, stored) = (caller.clone(), address.as_str().to_string());
    services
        .db
        .run(move |conn| {
            Principal::load(conn, &caller)?;
            Ok(queries::set_email(conn, &caller, address.as_str())?)
        })
        .await?;
    services.wake_push.notify_one();
    Ok(EmailView {
        address: stored,
        verified_at: None,
    })
}

/// How often the caller's circulars come by mail.
pub async fn email_frequency(
    services: &Services,
    caller: &MemberId,
) -> Result<EmailFrequency, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            Principal::load(conn, &caller)?;
            Ok(digests::frequency(conn, &caller)?)
        })
        .await
}

/// Chooses how often the caller's circulars come by mail (D70).
pub async fn set_email_frequency(
    services: &Services,
    caller: &MemberId,
    frequency: EmailFrequency,
) -> Result<EmailFrequency, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            Principal::load(conn, &caller)?;
            Ok(digests::set_frequency(conn, &caller, frequency)?)
        })
        .await?;
    Ok(frequency)
}
