//! The security review's findings (issue 20), one test or more per finding, each failing
//! before its fix.

mod accounts;
mod attachment_names;
mod audit;
mod csv;
mod demo;
mod files;
mod headers;
mod idempotency;
mod invitations;
mod proxies;
mod push_endpoints;
mod registration;
mod reminders;
mod text;
