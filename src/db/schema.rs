//! The one schema, in types both backends share (see docs/architecture.md).

diesel::table! {
    districts (id) {
        id -> Text,
        code -> Text,
        name -> Text,
        name_kana -> Nullable<Text>,
        kominkan -> Nullable<Text>,
        reported_associations -> Nullable<Integer>,
        reported_households -> Nullable<Integer>,
        checked -> Bool,
        archived -> Bool,
        merged_into_id -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    district_changes (id) {
        id -> Text,
        district_id -> Text,
        kind -> Text,
        detail -> Text,
        changed_by -> Nullable<Text>,
        changed_at -> Timestamp,
    }
}

diesel::table! {
    associations (id) {
        id -> Text,
        district_id -> Text,
        name -> Text,
        name_kana -> Nullable<Text>,
        member_households -> Integer,
        area_households -> Nullable<Integer>,
        archived -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    hans (id) {
        id -> Text,
        association_id -> Text,
        name -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    households (id) {
        id -> Text,
        association_id -> Text,
        han_id -> Nullable<Text>,
        label -> Text,
        paper -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    members (id) {
        id -> Text,
        household_id -> Nullable<Text>,
        login -> Text,
        password_hash -> Text,
        display_name -> Text,
        disabled -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        token_generation -> BigInt,
    }
}

diesel::table! {
    role_assignments (id) {
        id -> Text,
        member_id -> Text,
        role -> Text,
        scope_id -> Nullable<Text>,
        term_year -> Integer,
        granted_by -> Nullable<Text>,
        started_at -> Timestamp,
        ended_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    invitations (id) {
        id -> Text,
        association_id -> Text,
        code_hash -> Text,
        household_id -> Nullable<Text>,
        role -> Nullable<Text>,
        max_uses -> Integer,
        uses -> Integer,
        expires_at -> Timestamp,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    join_requests (id) {
        id -> Text,
        association_id -> Text,
        member_id -> Text,
        message -> Text,
        status -> Text,
        household_id -> Nullable<Text>,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        actor_id -> Nullable<Text>,
        action -> Text,
        target_kind -> Text,
        target_id -> Nullable<Text>,
        association_id -> Nullable<Text>,
        detail -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(associations -> districts (district_id));
diesel::joinable!(district_changes -> districts (district_id));
diesel::joinable!(hans -> associations (association_id));
diesel::joinable!(households -> associations (association_id));
diesel::joinable!(households -> hans (han_id));
diesel::joinable!(members -> households (household_id));
diesel::joinable!(role_assignments -> members (member_id));
diesel::joinable!(invitations -> associations (association_id));
diesel::joinable!(join_requests -> associations (association_id));
diesel::joinable!(join_requests -> members (member_id));

diesel::table! {
    refresh_tokens (id) {
        id -> Text,
        member_id -> Text,
        family_id -> Text,
        token_hash -> Text,
        expires_at -> Timestamp,
        created_at -> Timestamp,
        spent_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    login_failures (id) {
        id -> Text,
        login -> Text,
        client_address -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(refresh_tokens -> members (member_id));

diesel::table! {
    posts (id) {
        id -> Text,
        author_id -> Text,
        tier -> Text,
        scope_id -> Nullable<Text>,
        title -> Text,
        body -> Text,
        category -> Text,
        priority -> Text,
        requires_confirmation -> Bool,
        status -> Text,
        published_at -> Nullable<Timestamp>,
        expires_at -> Nullable<Timestamp>,
        answers_until -> Nullable<Timestamp>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    post_hans (post_id, han_id) {
        post_id -> Text,
        han_id -> Text,
    }
}

diesel::table! {
    post_audiences (scope_key, published_at, post_id) {
        scope_key -> Text,
        published_at -> Timestamp,
        post_id -> Text,
        expires_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    post_versions (post_id, version) {
        post_id -> Text,
        version -> Integer,
        title -> Text,
        body -> Text,
        edited_by -> Text,
        edited_at -> Timestamp,
    }
}

diesel::table! {
    post_reads (post_id, member_id) {
        post_id -> Text,
        member_id -> Text,
        household_id -> Text,
        read_at -> Timestamp,
        confirmed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    household_receipts (post_id, household_id) {
        post_id -> Text,
        household_id -> Text,
        read_at -> Nullable<Timestamp>,
        confirmed_at -> Nullable<Timestamp>,
        paper_recorded_by -> Nullable<Text>,
    }
}

diesel::table! {
    attachments (id) {
        id -> Text,
        post_id -> Text,
        sha256 -> Text,
        content_type -> Text,
        file_name -> Text,
        size_bytes -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    survey_questions (id) {
        id -> Text,
        post_id -> Text,
        position -> Integer,
        kind -> Text,
        prompt -> Text,
        options -> Text,
        required -> Bool,
    }
}

diesel::table! {
    survey_responses (post_id, household_id) {
        post_id -> Text,
        household_id -> Text,
        member_id -> Text,
        answers -> Text,
        answered_at -> Timestamp,
    }
}

diesel::table! {
    post_events (post_id) {
        post_id -> Text,
        starts_at -> Timestamp,
        ends_at -> Nullable<Timestamp>,
        all_day -> Bool,
        place -> Nullable<Text>,
    }
}

diesel::table! {
    calendar_feeds (member_id) {
        member_id -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    event_reminders (post_id) {
        post_id -> Text,
        job_id -> Text,
        queued_at -> Timestamp,
    }
}

diesel::joinable!(post_hans -> posts (post_id));
diesel::joinable!(post_audiences -> posts (post_id));
diesel::joinable!(post_versions -> posts (post_id));
diesel::joinable!(post_reads -> posts (post_id));
diesel::joinable!(household_receipts -> posts (post_id));
diesel::joinable!(household_receipts -> households (household_id));
diesel::joinable!(attachments -> posts (post_id));
diesel::joinable!(survey_questions -> posts (post_id));
diesel::joinable!(survey_responses -> posts (post_id));
diesel::joinable!(post_events -> posts (post_id));
diesel::joinable!(event_reminders -> posts (post_id));
diesel::joinable!(survey_responses -> households (household_id));
diesel::joinable!(posts -> members (author_id));

diesel::table! {
    push_subscriptions (id) {
        id -> Text,
        member_id -> Text,
        endpoint -> Text,
        p256dh -> Text,
        auth -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    muted_categories (member_id, category) {
        member_id -> Text,
        category -> Text,
    }
}

diesel::table! {
    push_jobs (id) {
        id -> Text,
        kind -> Text,
        post_id -> Nullable<Text>,
        topic -> Text,
        payload -> Text,
        urgent -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    push_deliveries (job_id, subscription_id) {
        job_id -> Text,
        subscription_id -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        claimed_until -> Nullable<Timestamp>,
        claimed_by -> Nullable<Text>,
        last_status -> Nullable<Integer>,
        finished_at -> Nullable<Timestamp>,
        channel -> Text,
    }
}

diesel::table! {
    idempotency_keys (member_id, idempotency_key) {
        member_id -> Text,
        idempotency_key -> Text,
        request_hash -> Text,
        response_status -> Nullable<Integer>,
        response_content_type -> Nullable<Text>,
        response_body -> Nullable<Binary>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::joinable!(push_subscriptions -> members (member_id));
diesel::joinable!(push_deliveries -> push_jobs (job_id));

diesel::table! {
    safety_checks (id) {
        id -> Text,
        started_by -> Text,
        tier -> Text,
        scope_id -> Nullable<Text>,
        message -> Text,
        started_at -> Timestamp,
        closed_at -> Nullable<Timestamp>,
        closed_by -> Nullable<Text>,
    }
}

diesel::table! {
    safety_check_hans (safety_check_id, han_id) {
        safety_check_id -> Text,
        han_id -> Text,
    }
}

diesel::table! {
    safety_check_audiences (scope_key, safety_check_id) {
        scope_key -> Text,
        safety_check_id -> Text,
    }
}

diesel::table! {
    safety_answers (safety_check_id, household_id) {
        safety_check_id -> Text,
        household_id -> Text,
        status -> Text,
        note -> Nullable<Text>,
        answered_by -> Text,
        on_behalf -> Bool,
        answered_at -> Timestamp,
    }
}

diesel::table! {
    safety_answer_history (id) {
        id -> Text,
        safety_check_id -> Text,
        household_id -> Text,
        status -> Text,
        note -> Nullable<Text>,
        answered_by -> Text,
        on_behalf -> Bool,
        answered_at -> Timestamp,
    }
}

diesel::joinable!(safety_check_hans -> safety_checks (safety_check_id));
diesel::joinable!(safety_check_audiences -> safety_checks (safety_check_id));
diesel::joinable!(safety_answers -> safety_checks (safety_check_id));
diesel::joinable!(safety_answers -> households (household_id));
diesel::joinable!(safety_answer_history -> households (household_id));

diesel::table! {
    stats_months (month) {
        month -> Text,
        finalized -> Bool,
        rule -> Text,
        active_districts -> Integer,
        districts -> Integer,
        member_households -> Integer,
        registered_households -> Integer,
        computed_at -> Timestamp,
    }
}

diesel::table! {
    stats_district_months (month, district_id) {
        month -> Text,
        district_id -> Text,
        active -> Bool,
        months_with_posts -> Integer,
        associations -> Integer,
        member_households -> Integer,
        registered_households -> Integer,
        active_households -> Integer,
        posts_city -> Integer,
        posts_district -> Integer,
        posts_association -> Integer,
        expected_receipts -> Integer,
        reads_72h -> Integer,
        expected_confirmations -> Integer,
        confirmations_72h -> Integer,
        paper_households_served -> Integer,
    }
}

diesel::table! {
    stats_association_months (month, association_id) {
        month -> Text,
        association_id -> Text,
        district_id -> Text,
        member_households -> Integer,
        registered_households -> Integer,
        active_households -> Integer,
        posts_city -> Integer,
        posts_district -> Integer,
        posts_association -> Integer,
        expected_receipts -> Integer,
        reads_72h -> Integer,
        expected_confirmations -> Integer,
        confirmations_72h -> Integer,
        paper_households_served -> Integer,
    }
}

diesel::table! {
    stats_district_safety_months (month, district_id) {
        month -> Text,
        district_id -> Text,
        checks -> Integer,
        households_targeted -> Integer,
        households_answered_72h -> Integer,
    }
}

diesel::table! {
    stats_association_safety_months (month, association_id) {
        month -> Text,
        association_id -> Text,
        district_id -> Text,
        checks -> Integer,
        households_targeted -> Integer,
        households_answered_72h -> Integer,
    }
}

diesel::table! {
    projects (id) {
        id -> Text,
        name -> Text,
        fiscal_year -> Integer,
        partners -> Text,
        description -> Text,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

// The districts an association was in before a merge, and the households that declined an
// event, as its reminder was claimed (D57).

diesel::table! {
    association_former_districts (association_id, district_id) {
        association_id -> Text,
        district_id -> Text,
        moved_at -> Timestamp,
    }
}

diesel::table! {
    event_reminder_declines (post_id, household_id) {
        post_id -> Text,
        household_id -> Text,
    }
}

diesel::joinable!(stats_district_months -> districts (district_id));
diesel::joinable!(stats_association_months -> associations (association_id));

diesel::allow_tables_to_appear_in_same_query!(
    districts,
    district_changes,
    associations,
    hans,
    households,
    members,
    role_assignments,
    invitations,
    join_requests,
    audit_log,
    refresh_tokens,
    login_failures,
    posts,
    post_hans,
    post_events,
    calendar_feeds,
    event_reminders,
    event_reminder_declines,
    association_former_districts,
    post_audiences,
    post_versions,
    post_reads,
    household_receipts,
    attachments,
    survey_questions,
    survey_responses,
    push_subscriptions,
    muted_categories,
    push_jobs,
    push_deliveries,
    idempotency_keys,
    safety_checks,
    safety_check_hans,
    safety_check_audiences,
    safety_answers,
    safety_answer_history,
    stats_months,
    stats_district_months,
    stats_association_months,
    stats_district_safety_months,
    stats_association_safety_months,
    projects,
);

// The web pages' sessions, sign-in QR codes and members' display preferences.

diesel::table! {
    web_sessions (id) {
        id -> Text,
        member_id -> Text,
        token_hash -> Text,
        csrf_token -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sign_in_codes (id) {
        id -> Text,
        member_id -> Text,
        token_hash -> Text,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    member_preferences (member_id) {
        member_id -> Text,
        language -> Text,
        text_size -> Text,
        high_contrast -> Bool,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(web_sessions -> members (member_id));
diesel::joinable!(member_preferences -> members (member_id));

diesel::allow_tables_to_appear_in_same_query!(
    members,
    web_sessions,
    sign_in_codes,
    member_preferences,
);

// Issue 17: the other channels of the outbox (email, LINE) and signed links.

diesel::table! {
    muted_channels (member_id, channel) {
        member_id -> Text,
        channel -> Text,
    }
}

diesel::table! {
    member_emails (id) {
        id -> Text,
        member_id -> Text,
        address -> Text,
        verified_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    spent_links (signature_hash) {
        signature_hash -> Text,
        spent_at -> Timestamp,
    }
}

diesel::joinable!(member_emails -> members (member_id));

diesel::allow_tables_to_appear_in_same_query!(muted_channels, members);
diesel::allow_tables_to_appear_in_same_query!(muted_channels, event_reminder_declines);
diesel::allow_tables_to_appear_in_same_query!(muted_channels, association_former_districts);
diesel::allow_tables_to_appear_in_same_query!(member_emails, event_reminder_declines);
diesel::allow_tables_to_appear_in_same_query!(member_emails, association_former_districts);
diesel::allow_tables_to_appear_in_same_query!(muted_channels, households);
diesel::allow_tables_to_appear_in_same_query!(muted_channels, associations);
diesel::allow_tables_to_appear_in_same_query!(muted_channels, muted_categories);
diesel::allow_tables_to_appear_in_same_query!(muted_channels, member_preferences);
diesel::allow_tables_to_appear_in_same_query!(muted_channels, push_deliveries);
diesel::allow_tables_to_appear_in_same_query!(muted_channels, push_jobs);
diesel::allow_tables_to_appear_in_same_query!(muted_channels, push_subscriptions);
diesel::allow_tables_to_appear_in_same_query!(muted_channels, posts);
diesel::allow_tables_to_appear_in_same_query!(muted_channels, member_emails);
diesel::allow_tables_to_appear_in_same_query!(member_emails, members);
diesel::allow_tables_to_appear_in_same_query!(member_emails, households);
diesel::allow_tables_to_appear_in_same_query!(member_emails, associations);
diesel::allow_tables_to_appear_in_same_query!(member_emails, muted_categories);
diesel::allow_tables_to_appear_in_same_query!(member_emails, member_preferences);
diesel::allow_tables_to_appear_in_same_query!(member_emails, push_deliveries);
diesel::allow_tables_to_appear_in_same_query!(member_emails, push_jobs);
diesel::allow_tables_to_appear_in_same_query!(member_emails, push_subscriptions);
diesel::allow_tables_to_appear_in_same_query!(member_emails, posts);

// Issue 16: what instances sharing one PostgreSQL share (kept beside, not joined).
pub use crate::db::schema_instances::{attachment_blobs, job_runs, jwt_keys, server_secrets};
pub use crate::db::schema_line::{line_accounts, line_link_codes, line_links, line_usage};
