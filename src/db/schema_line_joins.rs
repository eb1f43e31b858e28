//! How the LINE tables (`schema_line`) join the rest of the schema.

use crate::db::schema::{
    association_former_districts, associations, event_reminder_declines, households,
    member_preferences, members, muted_categories, muted_channels, push_deliveries, push_jobs,
};
use crate::db::schema_line::{line_accounts, line_links, line_usage};

diesel::joinable!(line_links -> members (member_id));
diesel::joinable!(line_links -> line_accounts (account_id));
diesel::joinable!(line_usage -> line_accounts (account_id));

diesel::allow_tables_to_appear_in_same_query!(line_accounts, line_links);
diesel::allow_tables_to_appear_in_same_query!(line_accounts, line_usage);
diesel::allow_tables_to_appear_in_same_query!(line_links, members);
diesel::allow_tables_to_appear_in_same_query!(line_links, households);
diesel::allow_tables_to_appear_in_same_query!(line_links, associations);
diesel::allow_tables_to_appear_in_same_query!(line_links, muted_channels);
diesel::allow_tables_to_appear_in_same_query!(line_links, muted_categories);
diesel::allow_tables_to_appear_in_same_query!(line_links, member_preferences);
diesel::allow_tables_to_appear_in_same_query!(line_links, event_reminder_declines);
diesel::allow_tables_to_appear_in_same_query!(line_links, association_former_districts);
diesel::allow_tables_to_appear_in_same_query!(line_links, push_deliveries);
diesel::allow_tables_to_appear_in_same_query!(line_links, push_jobs);
diesel::allow_tables_to_appear_in_same_query!(line_accounts, members);
diesel::allow_tables_to_appear_in_same_query!(line_accounts, households);
diesel::allow_tables_to_appear_in_same_query!(line_accounts, associations);
