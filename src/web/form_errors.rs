//! A form's mistakes as the デジタル庁デザインシステム shows them: a summary at the top of the
//! form listing each mistake as a link to its field, and the same message beside the field
//! (`aria-describedby`, `aria-invalid`). The mistakes come from the use case's own rule (a
//! `FieldError` naming the request field); the page only says where each field is drawn.

use actix_web::http::StatusCode;

use crate::error::{FieldError, Problem};
use crate::web::page::Page;

/// One mistake: the field's element id, its label and the message, in the member's language.
pub struct FieldMessage {
    pub id: String,
    pub label: String,
    pub message: String,
}

/// The mistakes of one form, in the order they were found.
#[derive(Default)]
pub struct FieldErrors {
    pub items: Vec<FieldMessage>,
}

impl FieldErrors {
    /// A message beside the field with element id `id`, labelled `label` in the summary.
    pub fn add(&mut self, id: &str, label: &str, message: impl Into<String>) {
        self.items.push(FieldMessage {
            id: id.to_string(),
            label: label.to_string(),
            message: message.into(),
        });
    }

    /// One mistake, as the form is drawn again.
    pub fn one(id: &str, label: &str, message: impl Into<String>) -> Self {
        let mut errors = Self::default();
        errors.add(id, label, message);
        errors
    }

    /// A use case's refusal beside the field with element id `id`, whose label is the
    /// text `label_key`.
    pub fn refused(&mut self, page: &Page, (id, label_key): (&str, &str), error: &FieldError) {
        let label = page.t(label_key);
        self.add(id, label, problem_text(page, label, error));
    }

    /// One refusal, as the form is drawn again.
    pub fn one_refused(page: &Page, place: (&str, &str), error: &FieldError) -> Self {
        let mut errors = Self::default();
        errors.refused(page, place, error);
        errors
    }

    /// The message shown beside the field with element id `id`.
    pub fn at(&self, id: &str) -> Option<&str> {
        self.items
            .iter()
            .find(|e| e.id == id)
            .map(|e| e.message.as_str())
    }

    pub fn has(&self, id: &str) -> bool {
        self.at(id).is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// 200 for a form drawn without mistakes, 422 for one drawn again with them.
    pub fn status(&self) -> StatusCode {
        match self.is_empty() {
            true => StatusCode::OK,
            false => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }
}

/// A use case's refusal of a field as a sentence in the member's language, naming the
/// field by the label the page shows.
pub fn problem_text(page: &Page, label: &str, error: &FieldError) -> String {
    let text = page.t(error.problem.key()).replace("{label}", label);
    let (min, max) = match error.problem {
        Problem::TooLong { max } => (None, Some(max.to_string())),
        Problem::OptionCount { min, max } => (Some(min.to_string()), Some(max.to_string())),
        Problem::Range { min, max } => (Some(min.to_string()), Some(max.to_string())),
        Problem::Weak { min } => (Some(min.to_string()), None),
        Problem::Empty
        | Problem::Characters
        | Problem::Unanswered
        | Problem::Wrong
        | Problem::Invalid => (None, None),
    };
    let text = min.map_or(text.clone(), |min| text.replace("{min}", &min));
    max.map_or(text.clone(), |max| text.replace("{max}", &max))
}
