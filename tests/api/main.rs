//! Black-box tests: a real server on port 0 over a fresh database each, SQLite by default,
//! PostgreSQL when KAIRAN_TEST_DATABASE_URL is set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod authz_matrix;
mod backup;
mod browser;
mod cli;
mod cors;
mod crash;
mod demo;
mod districts;
mod docs;
mod errors;
mod fixtures;
mod health;
mod helpers;
mod idempotency;
mod limits;
mod members;
mod operator;
mod outage;
mod pages;
mod pages_officer;
mod posts;
mod process;
mod push;
mod push_service;
mod roster;
mod safety;
mod shutdown;
mod stats;
mod storage;
mod surveys;
mod tokens;
