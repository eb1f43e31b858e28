//! A database location parsed from its URL: the scheme picks the backend.

use std::path::PathBuf;

/// A database location, parsed from its URL. The scheme decides the backend; anything else
/// is refused, so a typo never becomes a new empty SQLite file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_string()));
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() || path.contains(":memory:") || path.starts_with("file:") {
                return Err(
                    "sqlite:// needs a file path, e.g. sqlite://data/kairan.sqlite3".into(),
                );
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        let scheme = url.split_once(':').map_or(url, |(s, _)| s);
        Err(format!(
            "unsupported database URL scheme '{scheme}': use sqlite://PATH or postgres://USER@HOST/DB"
        ))
    }

    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(_) => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }

    /// For logs: no password.
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{}", path.display()),
            Self::Postgres(url) => match (url.find("://"), url.rfind('@')) {
                (Some(start), Some(at)) if at > start => format!("postgres://…{}", &url[at..]),
                _ => url.clone(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_scheme_picks_the_backend() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/x.db").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("data/x.db"))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/x.db").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("/var/lib/x.db"))
        );
        assert_eq!(
            DatabaseUrl::parse("postgresql://u@h/d").unwrap().backend(),
            Backend::Postgres
        );
        assert!(
            DatabaseUrl::parse("mysql://u@h/d")
                .unwrap_err()
                .contains("'mysql'")
        );
        assert!(DatabaseUrl::parse("data/x.db").is_err());
        assert!(DatabaseUrl::parse("sqlite://:memory:").is_err());
    }

    #[test]
    fn redacted_url_hides_the_password() {
        let url = DatabaseUrl::parse("postgres://kairan:s3cret@db:5432/kairan").unwrap();
        assert!(!url.redacted().contains("s3cret"));
    }
}
