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
diesel::joinable!(hans -> associations (association_id));
diesel::joinable!(households -> associations (association_id));
diesel::joinable!(households -> hans (han_id));
diesel::joinable!(members -> households (household_id));
diesel::joinable!(role_assignments -> members (member_id));
diesel::joinable!(invitations -> associations (association_id));
diesel::joinable!(join_requests -> associations (association_id));
diesel::joinable!(join_requests -> members (member_id));

diesel::allow_tables_to_appear_in_same_query!(
    districts,
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
);

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
