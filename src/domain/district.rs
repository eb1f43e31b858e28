//! A district (校下) as read from the city's list, checked and ready to store.

/// One district of the city's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistrictRecord {
    pub code: String,
    pub name: String,
    pub name_kana: Option<String>,
    pub kominkan: Option<String>,
    pub reported_associations: Option<i32>,
    pub reported_households: Option<i32>,
    pub checked: bool,
}
