//! What a household answered to a circular's questions, as stored (keyed by question id).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::QuestionId;

/// One stored answer; which variant depends on the question's kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Choice(i64),
    Choices(Vec<i64>),
    Number(i64),
    Text(String),
}

pub type Answers = BTreeMap<QuestionId, Answer>;
