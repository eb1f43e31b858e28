//! Rows of the web pages: browser sessions, sign-in QR codes, display preferences.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{member_preferences, sign_in_codes, web_sessions};
use crate::domain::{Language, MemberId, TextSize};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = web_sessions, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct WebSession {
    pub id: String,
    pub member_id: MemberId,
    pub token_hash: String,
    pub csrf_token: String,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = sign_in_codes, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct SignInCode {
    pub id: String,
    pub member_id: MemberId,
    pub token_hash: String,
    pub created_by: Option<MemberId>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = member_preferences, primary_key(member_id), check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct MemberPreferences {
    pub member_id: MemberId,
    pub language: Language,
    pub text_size: TextSize,
    pub high_contrast: bool,
    pub updated_at: NaiveDateTime,
}
