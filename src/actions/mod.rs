//! Use cases: one function per thing a user does (publish a circular, confirm it, answer a
//! safety check, invite, hand over roles, …), shared by both front doors, the JSON routes in
//! `routes/` and the pages in `web/`. Each takes the services, the caller and parsed input,
//! and returns a view or an `ApiError`. It loads the caller, asks `authz`, reads and writes
//! through `db::queries` (writes with their audit entries, in one transaction), and then does
//! what must follow a commit (the inbox cache, the push worker), so no front door repeats it.

pub mod access;
pub mod account;
pub mod admin;
pub mod associations;
pub mod attachments;
pub mod calendar;
pub mod calendar_feed;
pub mod channels;
pub mod districts;
pub mod inbox;
pub mod invitations;
pub mod join_requests;
pub mod line;
pub mod links;
pub mod officer;
pub mod posts;
pub mod preferences;
pub mod projects;
pub mod push;
pub mod receipts;
pub mod roles;
pub mod roster;
pub mod safety;
pub mod sessions;
pub mod stats;
pub mod stats_view;
pub mod surveys;

use std::sync::Arc;

use tokio::sync::Notify;

use crate::auth::generations::TokenGenerations;
use crate::db::Db;
use crate::db::group_commit::GroupCommit;
use crate::inbox_cache::InboxCache;
use crate::outbox::links::Links;

/// What use cases work with besides their input: storage and the in-memory read model.
#[derive(Clone)]
pub struct Services {
    pub db: Db,
    pub inbox_cache: Arc<InboxCache>,
    /// Reads, confirmations and safety answers share durable commits here.
    pub group_commit: GroupCommit,
    /// Wakes the outbox workers (every channel) after a commit that queued notifications.
    pub wake_push: Arc<Notify>,
    /// Signs and checks the links in mails.
    pub links: Links,
    /// Whether `[email]` names an SMTP server (addresses can be verified).
    pub email_enabled: bool,
    /// The LINE Messaging API: replies to the webhook, sealing accounts' credentials.
    pub line: Arc<crate::outbox::line_api::LineApi>,
    /// Members' token generations: raised here after a commit that ends access tokens.
    pub token_generations: Arc<TokenGenerations>,
}
