//! What the audit log records: each action has one name, stored as text.

crate::string_enum!(
    /// An entry's action in the audit log.
    AuditAction {
        AssociationCreated => "association_created",
        AssociationUpdated => "association_updated",
        HanCreated => "han_created",
        HouseholdCreated => "household_created",
        HouseholdUpdated => "household_updated",
        InvitationCreated => "invitation_created",
        InvitationRevoked => "invitation_revoked",
        JoinRequestApproved => "join_request_approved",
        JoinRequestDeclined => "join_request_declined",
        JoinRequestsRead => "join_requests_read",
        MemberMoved => "member_moved",
        PaperConfirmationRecorded => "paper_confirmation_recorded",
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
        SafetyCheckClosed => "safety_check_closed",
        SafetyHistoryRead => "safety_history_read",
        SafetyReminderSent => "safety_reminder_sent",
        SafetyStatusRead => "safety_status_read",
        SurveyAnswersExported => "survey_answers_exported",
    }
);
