//! Who the city runs a project with (target 3).

use serde::{Deserialize, Serialize};

/// Partners of a project with the city (target 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Partner {
    /// 町会 (town associations)
    Chokai,
    Npo,
    Company,
    Students,
    City,
}
