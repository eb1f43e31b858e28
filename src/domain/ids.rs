//! Typed ids: UUIDv7 text, so ids sort by creation time and need no database sequence.

use diesel_derive_newtype::DieselNewType;
use serde::{Deserialize, Serialize};

/// A new time-ordered id.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

macro_rules! id_type {
    ($($name:ident),* $(,)?) => {$(
        #[derive(
            Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord,
            Serialize, Deserialize, DieselNewType, utoipa::ToSchema,
        )]
        #[serde(transparent)]
        #[schema(value_type = String, example = "01936f6e-8f4c-7cc2-9a51-4f1c2c9d2e10")]
        pub struct $name(pub String);

        impl $name {
            pub fn generate() -> Self {
                Self(new_id())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}

id_type!(
    DistrictId,
    AssociationId,
    HanId,
    HouseholdId,
    MemberId,
    RoleAssignmentId,
    InvitationId,
    JoinRequestId,
    AuditEntryId,
    PostId,
    AttachmentId,
    QuestionId,
    PushSubscriptionId,
    SafetyCheckId,
    ProjectId,
);
