//! What the audit log records: each action has one name, stored as text; and where a page
//! of the log starts.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDateTime};

use crate::domain::AuditEntryId;

crate::string_enum!(
    /// An entry's action in the audit log.
    AuditAction {
        AssociationCreated => "association_created",
        AssociationUpdated => "association_updated",
        AttachmentAdded => "attachment_added",
        AttachmentRemoved => "attachment_removed",
        DistrictArchived => "district_archived",
        DistrictMerged => "district_merged",
        DistrictRenamed => "district_renamed",
        DistrictRestored => "district_restored",
        HanCreated => "han_created",
        HouseholdCreated => "household_created",
        HouseholdUpdated => "household_updated",
        InvitationCreated => "invitation_created",
        InvitationRevoked => "invitation_revoked",
        JoinRequestApproved => "join_request_approved",
        JoinRequestDeclined => "join_request_declined",
        JoinRequestsRead => "join_requests_read",
        LineAccountRemoved => "line_account_removed",
        LineAccountSaved => "line_account_saved",
        MemberMoved => "member_moved",
        MemberDisabled => "member_disabled",
        MemberEnabled => "member_enabled",
        MemberRemoved => "member_removed",
        PaperConfirmationRecorded => "paper_confirmation_recorded",
        PasswordChanged => "password_changed",
        PostCreated => "post_created",
        PostEdited => "post_edited",
        PostPublished => "post_published",
        PostWithdrawn => "post_withdrawn",
        ProjectDeleted => "project_deleted",
        ProjectRecorded => "project_recorded",
        ProjectUpdated => "project_updated",
        ReceiptsRead => "receipts_read",
        ReminderSent => "reminder_sent",
        RoleEnded => "role_ended",
        RoleGranted => "role_granted",
        RoleGrantedByInvitation => "role_granted_by_invitation",
        RolesHandedOver => "roles_handed_over",
        RosterExported => "roster_exported",
        RosterHouseholdsRead => "roster_households_read",
        RosterImported => "roster_imported",
        RosterMembersRead => "roster_members_read",
        RosterRolesRead => "roster_roles_read",
        SignedOutEverywhere => "signed_out_everywhere",
        SignInCodeIssued => "sign_in_code_issued",
        SignInCodeUsed => "sign_in_code_used",
        SafetyCheckClosed => "safety_check_closed",
        SafetyHistoryRead => "safety_history_read",
        SafetyReminderSent => "safety_reminder_sent",
        SafetyStatusRead => "safety_status_read",
        SafetyCheckStarted => "safety_check_started",
        SurveyTallyRead => "survey_tally_read",
        SurveyAnswersExported => "survey_answers_exported",
    }
);

/// Where the next page of the audit log starts: the last entry shown (newest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCursor {
    pub created_at: NaiveDateTime,
    pub id: AuditEntryId,
}

impl AuditCursor {
    /// Opaque to clients: base64url of the time in microseconds and the id.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!(
            "{}|{}",
            self.created_at.and_utc().timestamp_micros(),
            self.id
        ))
    }

    /// Only what `encode` made; anything else is None.
    pub fn decode(raw: &str) -> Option<Self> {
        if raw.len() > 200 {
            return None;
        }
        let text = String::from_utf8(URL_SAFE_NO_PAD.decode(raw).ok()?).ok()?;
        let (micros, id) = text.split_once('|')?;
        let created_at = DateTime::from_timestamp_micros(micros.parse().ok()?)?.naive_utc();
        let well_formed = !id.is_empty()
            && id.len() <= 64
            && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
        well_formed.then(|| Self {
            created_at,
            id: AuditEntryId(id.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_survives_its_round_trip_and_nothing_else_is_one() {
        let cursor = AuditCursor {
            created_at: DateTime::from_timestamp_micros(1_780_000_000_123_456)
                .map(|t| t.naive_utc())
                .unwrap_or_default(),
            id: AuditEntryId("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".into()),
        };
        assert_eq!(AuditCursor::decode(&cursor.encode()), Some(cursor));
        for bad in ["", "x", "MTIz", &URL_SAFE_NO_PAD.encode("1|'; drop")] {
            assert_eq!(AuditCursor::decode(bad), None, "{bad}");
        }
    }
}
