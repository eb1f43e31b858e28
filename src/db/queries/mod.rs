//! Plain synchronous functions over `&mut AnyConnection`, one module per aggregate.

pub mod accounts;
pub mod associations;
pub mod attachments;
pub mod audit;
pub mod calendar;
pub mod channels;
pub mod districts;
pub mod idempotency;
pub mod inbox;
pub mod invitations;
pub mod job_runs;
pub mod member_access;
pub mod members;
pub mod outbox;
pub mod posts;
pub mod principals;
pub mod projects;
pub mod push;
pub mod receipts;
pub mod roles;
pub mod safety;
pub mod secrets;
pub mod stats;
pub mod surveys;
pub mod tally;
pub mod web;
