//! Parsed, validated values ("parse, don't validate").

#[macro_use]
mod enums;
mod appointment;
mod association;
mod audience;
mod audit;
pub mod channel;
mod district;
pub mod draft;
pub mod event;
mod ids;
mod joining;
pub mod line;
mod login;
mod month;
pub mod network;
mod partner;
mod post;
mod preferences;
mod projection;
pub mod push_endpoint;
pub mod reminders;
mod role;
mod roster;
mod safety_status;
pub mod signed_link;
mod spreadsheet;
mod survey;
mod tally;
mod text;

pub use appointment::{
    ASSOCIATION_ROLES, Appointment, AppointmentRefusal, Handover, HandoverPlan, ScopedAppointment,
    association_scopes, fiscal_year,
};
pub use association::{household_count, optional_name};
pub use audience::{Audience, AudienceKey, ReceiptScope, Scope, member_keys};
pub use audit::{AuditAction, AuditCursor};
pub use channel::{Channel, EmailAddress, EmailFrequency, FailureReason};
pub use district::DistrictRecord;
pub use ids::*;
pub use joining::{InvitationTerms, JoinRequestStatus, Placement, join_message};
pub use login::Login;
pub use month::Month;
pub use partner::Partner;
pub use post::{Category, PostStatus, Priority, QuestionKind, SafetyStatus, Tier};
pub use preferences::{Language, TextSize};
pub use projection::{Projection, progress, project, rate};
pub use role::Role;
pub use roster::RosterRecord;
pub use safety_status::{
    GroupCounts, Grouping, HelpHousehold, SafetyStatusResponse, StatusRow, UnansweredHousehold,
    group_status,
};
pub use spreadsheet::Csv;
pub use survey::{Answer, Answers, declines, option_declines};
pub use tally::{
    ACTIVE_DAYS, AssociationTally, Counts, DistrictTally, MonthCheck, MonthFacts, MonthPost,
    MonthTally, ReceiptCounts, Rule, SafetyCounts, SafetyFacts, count, freezes_at,
    receipts_in_window, tally_month,
};
pub use text::{MultiLine, OneLine, new_invitation_code, normalize, normalize_invitation_code};
