//! A member's display preferences: the language of the system text, text size, contrast.

use crate::authz::Principal;
use crate::db::models::MemberPreferences;
use crate::db::queries::web as web_queries;
use crate::db::{AnyConnection, now};
use crate::domain::{Language, TextSize};
use crate::error::{ApiError, FieldError, Problem};

/// What a member chose; the defaults until they choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preferences {
    pub language: Language,
    pub text_size: TextSize,
    pub high_contrast: bool,
}

impl Default for Preferences {
    fn default() -> Self {
        Self {
            language: Language::Ja,
            text_size: TextSize::Standard,
            high_contrast: false,
        }
    }
}

impl Preferences {
    /// The choices as a form or request names them; a language or size not offered is
    /// refused as the field it was given in.
    pub fn parse(language: &str, text_size: &str, high_contrast: bool) -> Result<Self, FieldError> {
        let refused = |field: &str| {
            let message = format!("{field} is not one of those offered");
            FieldError::new(field, Problem::Invalid, message)
        };
        Ok(Self {
            language: language.parse().map_err(|_| refused("language"))?,
            text_size: text_size.parse().map_err(|_| refused("text_size"))?,
            high_contrast,
        })
    }
}

/// The member's own preferences; None until they save some.
pub fn mine(conn: &mut AnyConnection, p: &Principal) -> Result<Option<Preferences>, ApiError> {
    Ok(
        web_queries::preferences(conn, &p.member_id)?.map(|row| Preferences {
            language: row.language,
            text_size: row.text_size,
            high_contrast: row.high_contrast,
        }),
    )
}

pub fn save(conn: &mut AnyConnection, p: &Principal, prefs: Preferences) -> Result<(), ApiError> {
    web_queries::save_preferences(
        conn,
        &MemberPreferences {
            member_id: p.member_id.clone(),
            language: prefs.language,
            text_size: prefs.text_size,
            high_contrast: prefs.high_contrast,
            updated_at: now(),
        },
    )?;
    Ok(())
}
