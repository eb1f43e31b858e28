//! Parsed, validated values ("parse, don't validate").

#[macro_use]
mod enums;
mod audience;
mod audit;
mod district;
mod ids;
mod login;
mod month;
mod post;
mod role;
mod roster;
mod text;

pub use audience::{Audience, AudienceKey, ReceiptScope, Scope, member_keys};
pub use audit::AuditAction;
pub use district::DistrictRecord;
pub use ids::*;
pub use login::Login;
pub use month::Month;
pub use post::{Category, PostStatus, Priority, QuestionKind, SafetyStatus, Tier};
pub use role::Role;
pub use roster::RosterRecord;
pub use text::{RequiredText, new_invitation_code, normalize, normalize_invitation_code};
