//! Who is asking: passwords now; tokens and extractors with the accounts issue.

pub mod password;
