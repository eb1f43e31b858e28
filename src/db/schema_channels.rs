//! The tables of the daily email digest (issue 17, D70) and the dashboard's members reachable
//! per channel (D72), beside `schema` (whose tables they
//! join), so `schema.rs` stays under the house's 700 lines.

use crate::db::schema::{
    association_former_districts, associations, event_reminder_declines, households, member_emails,
    members, muted_categories, muted_channels, posts, push_deliveries, push_jobs,
};

diesel::table! {
    email_digest_members (member_id) {
        member_id -> Text,
        chosen_at -> Timestamp,
    }
}

diesel::table! {
    email_digest_entries (member_id, post_id) {
        member_id -> Text,
        post_id -> Text,
        added_at -> Timestamp,
        job_id -> Nullable<Text>,
    }
}

diesel::table! {
    email_digests (day) {
        day -> Text,
        job_id -> Text,
        queued_at -> Timestamp,
    }
}

diesel::joinable!(email_digest_entries -> posts (post_id));

diesel::allow_tables_to_appear_in_same_query!(email_digest_members, members);
diesel::allow_tables_to_appear_in_same_query!(email_digest_members, member_emails);
diesel::allow_tables_to_appear_in_same_query!(email_digest_entries, members);
diesel::allow_tables_to_appear_in_same_query!(email_digest_entries, member_emails);
diesel::allow_tables_to_appear_in_same_query!(email_digest_entries, posts);
diesel::allow_tables_to_appear_in_same_query!(email_digest_entries, muted_channels);
diesel::allow_tables_to_appear_in_same_query!(email_digest_entries, push_deliveries);
diesel::allow_tables_to_appear_in_same_query!(email_digest_members, households);
diesel::allow_tables_to_appear_in_same_query!(email_digest_members, associations);
diesel::allow_tables_to_appear_in_same_query!(email_digest_members, muted_categories);
diesel::allow_tables_to_appear_in_same_query!(email_digest_members, event_reminder_declines);
diesel::allow_tables_to_appear_in_same_query!(email_digest_members, association_former_districts);
diesel::allow_tables_to_appear_in_same_query!(email_digest_members, push_jobs);
diesel::allow_tables_to_appear_in_same_query!(email_digest_entries, households);
diesel::allow_tables_to_appear_in_same_query!(email_digest_entries, associations);
diesel::allow_tables_to_appear_in_same_query!(email_digest_entries, muted_categories);
diesel::allow_tables_to_appear_in_same_query!(email_digest_entries, event_reminder_declines);
diesel::allow_tables_to_appear_in_same_query!(email_digest_entries, association_former_districts);
diesel::allow_tables_to_appear_in_same_query!(email_digest_entries, push_jobs);
diesel::allow_tables_to_appear_in_same_query!(email_digest_members, muted_channels);
diesel::allow_tables_to_appear_in_same_query!(email_digest_members, email_digest_entries);

diesel::table! {
    stats_channel_months (month, channel) {
        month -> Text,
        channel -> Text,
        members -> Integer,
    }
}
