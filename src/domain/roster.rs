//! An association's roster as read from its office's file, checked and ready to store.

/// One household line of an association's roster: its han (empty for none), label, paper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterRecord {
    pub line: u64,
    pub han: Option<String>,
    pub label: String,
    pub paper: bool,
}
