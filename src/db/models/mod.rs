//! Row structs, one per table. Each derives Insertable too, so a row can be written whole.

mod community;
mod idempotency;
mod membership;
mod posts;
mod safety;
mod secrets;
mod stats;
mod web;

pub use community::*;
pub use idempotency::*;
pub use membership::*;
pub use posts::*;
pub use safety::*;
pub use secrets::*;
pub use stats::*;
pub use web::*;
