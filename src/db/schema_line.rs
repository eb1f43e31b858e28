//! The LINE channel's tables (D66): official accounts, their monthly usage, members' links
//! and one-time link codes. Re-exported by `schema`; how they join the other tables is in
//! `schema_line_joins` (which may name both, so neither names the other).

diesel::table! {
    line_accounts (id) {
        id -> Text,
        owner -> Text,
        association_id -> Nullable<Text>,
        channel_id -> Text,
        access_token -> Text,
        channel_secret -> Text,
        monthly_quota -> Integer,
        friend_url -> Nullable<Text>,
        refused_at -> Nullable<Timestamp>,
        refusal -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    line_usage (account_id, month) {
        account_id -> Text,
        month -> Text,
        sent -> Integer,
    }
}

diesel::table! {
    line_links (id) {
        id -> Text,
        member_id -> Text,
        account_id -> Text,
        line_user_id -> Text,
        linked_at -> Timestamp,
    }
}

diesel::table! {
    line_link_codes (member_id) {
        member_id -> Text,
        code -> Text,
        expires_at -> Timestamp,
    }
}
