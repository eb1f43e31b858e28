//! Attachment files: their type, told by their content, and their storage under
//! `<data_dir>/attachments/<first 2 hex>/<sha256>`. A client's file name is only a label
//! shown on download; it never becomes part of a path.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use actix_web::web::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, MutexGuard};

use crate::db::Db;
use crate::db::queries::attachments::find_content;
use crate::domain::normalize;
use crate::error::ApiError;
use crate::telemetry::spawn_blocking_with_tracing;

pub const MAX_FILE_NAME_CHARS: usize = 200;
/// Downloads are sent in pieces of this size, so a large file is never held in memory whole.
const READ_CHUNK_BYTES: usize = 256 * 1024;

/// The kinds of file a circular may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentType {
    Pdf,
    Jpeg,
    Png,
}

impl AttachmentType {
    /// Tells the type from the first bytes; the name and the declared type are not trusted.
    pub fn detect(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(b"%PDF-") {
            Some(Self::Pdf)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else if bytes.starts_with(b"\xFF\xD8\xFF") {
            Some(Self::Jpeg)
        } else {
            None
        }
    }

    /// Reads a Content-Type header value, ignoring parameters and case.
    pub fn from_content_type(value: &str) -> Option<Self> {
        let essence = value.split(';').next().unwrap_or_default().trim();
        [Self::Pdf, Self::Jpeg, Self::Png]
            .into_iter()
            .find(|t| t.content_type().eq_ignore_ascii_case(essence))
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Pdf => "application/pdf",
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
        }
    }

    /// The extensions that say this type; the first is the one added to other names.
    fn extensions(self) -> &'static [&'static str] {
        match self {
            Self::Pdf => &["pdf"],
            Self::Jpeg => &["jpg", "jpeg"],
            Self::Png => &["png"],
        }
    }

    /// The name a file of this type is saved under: `name` when its extension says this
    /// type, else `name` with the type's extension added (`invoice.html` holding a PDF
    /// becomes `invoice.html.pdf`), so a saved file never opens as something else and no
    /// part of the sender's name is lost.
    pub fn file_name_for(self, name: &str) -> String {
        let agrees = name.rsplit_once('.').is_some_and(|(stem, extension)| {
            !stem.is_empty()
                && self
                    .extensions()
                    .iter()
                    .any(|e| e.eq_ignore_ascii_case(extension))
        });
        if agrees {
            name.to_string()
        } else {
            format!("{name}.{}", self.extensions()[0])
        }
    }
}

/// Cleans a client's file name into a label: NFC, without path separators, control
/// characters or bidi controls (which can disguise an extension), trimmed.
pub fn clean_file_name(raw: &str) -> Result<String, ApiError> {
    let kept: String = raw
        .chars()
        .filter(|&c| {
            !matches!(c, '/' | '\\')
                && !c.is_control()
                && !matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        })
        .collect();
    let name = normalize(&kept);
    if name.is_empty() {
        return Err(ApiError::validation(
            "file_name must not be empty once path separators and control characters are removed",
        ));
    }
    if name.chars().count() > MAX_FILE_NAME_CHARS {
        return Err(ApiError::validation(format!(
            "file_name must be at most {MAX_FILE_NAME_CHARS} characters"
        )));
    }
    Ok(name)
}

/// Content stored by its hash: files under one root (SQLite deployments), or rows of the
/// database (PostgreSQL, so every instance serves every file; decision 47), which the
/// attachment rows' own transactions write and delete (`db::queries::attachments`).
/// Blocking work runs on the blocking pool.
pub struct AttachmentStore {
    root: PathBuf,
    database: Option<Db>,
    /// Uploads hold this from writing (or reusing) a file to inserting its row, deletions
    /// from deleting a row to removing the file, so a deletion never removes a file that an
    /// upload has just decided to reuse.
    writes: Mutex<()>,
}

impl AttachmentStore {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            root: data_dir.join("attachments"),
            database: None,
            writes: Mutex::new(()),
        }
    }

    /// Content kept in the database rather than in files.
    pub fn in_database(data_dir: &Path, db: Db) -> Self {
        Self {
            database: Some(db),
            ..Self::new(data_dir)
        }
    }

    /// Taken around any change that pairs a file with the rows that refer to it.
    pub async fn lock_writes(&self) -> MutexGuard<'_, ()> {
        self.writes.lock().await
    }

    /// Stores the bytes and returns their SHA-256 in hex. Identical content is stored once.
    pub async fn put(&self, bytes: Bytes) -> Result<String, ApiError> {
        if self.database.is_some() {
            return Ok(sha256_hex(&bytes));
        }
        let root = self.root.clone();
        spawn_blocking_with_tracing(move || write_file(&root, &bytes))
            .await
            .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("storage task failed: {e}")))?
            .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("storing an attachment: {e}")))
    }

    /// Opens a stored file: its length and its content as a stream of chunks.
    pub async fn read(
        &self,
        sha256: &str,
    ) -> Result<(u64, BoxStream<'static, io::Result<Bytes>>), ApiError> {
        let path = self.path_of(sha256)?;
        if let Some(db) = &self.database {
            let sha256 = sha256.to_string();
            let content = db
                .run(move |conn| Ok(find_content(conn, &sha256)?))
                .await?
                .ok_or_else(|| {
                    ApiError::Unexpected(anyhow::anyhow!("attachment content missing"))
                })?;
            let len = u64::try_from(content.len()).unwrap_or(u64::MAX);
            let chunk = Ok(Bytes::from(content));
            return Ok((
                len,
                futures_util::stream::once(async move { chunk }).boxed(),
            ));
        }
        let (file, len) = spawn_blocking_with_tracing(move || {
            let file = File::open(&path)?;
            let len = file.metadata()?.len();
            Ok::<_, io::Error>((file, len))
        })
        .await
        .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("storage task failed: {e}")))?
        .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("opening an attachment: {e}")))?;
        let chunks = futures_util::stream::try_unfold(file, |mut file| async move {
            let (file, chunk) = spawn_blocking_with_tracing(move || {
                let mut chunk = vec![0; READ_CHUNK_BYTES];
                let n = file.read(&mut chunk)?;
                chunk.truncate(n);
                Ok::<_, io::Error>((file, chunk))
            })
            .await
            .map_err(io::Error::other)??;
            Ok((!chunk.is_empty()).then(|| (Bytes::from(chunk), file)))
        });
        Ok((len, chunks.boxed()))
    }

    /// Removes a stored file; one already gone is fine.
    pub async fn remove(&self, sha256: &str) -> Result<(), ApiError> {
        let path = self.path_of(sha256)?;
        if self.database.is_some() {
            return Ok(());
        }
        spawn_blocking_with_tracing(move || match fs::remove_file(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        })
        .await
        .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("storage task failed: {e}")))?
        .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("removing an attachment: {e}")))
    }

    /// The hash comes from the database; it is checked anyway before it becomes a path.
    fn path_of(&self, sha256: &str) -> Result<PathBuf, ApiError> {
        if !is_sha256_hex(sha256) {
            return Err(ApiError::Unexpected(anyhow::anyhow!(
                "stored attachment hash is malformed"
            )));
        }
        Ok(self.root.join(&sha256[..2]).join(sha256))
    }
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Writes to a temporary file in the final folder, syncs it, then renames it into place, so
/// a crash never leaves a partial file under a hash name.
fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn write_file(root: &Path, bytes: &[u8]) -> io::Result<String> {
    let sha256 = sha256_hex(bytes);
    let dir = root.join(&sha256[..2]);
    let path = dir.join(&sha256);
    if path.is_file() {
        return Ok(sha256);
    }
    crate::private_files::private_dir(root)?;
    crate::private_files::private_dir(&dir)?;
    let temp = dir.join(format!(".upload-{}", crate::domain::new_id()));
    let written = private_new_file(&temp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, &path)?;
        sync_dir(&dir)
    });
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written.map(|()| sha256)
}

/// A new file readable by the owner only.
fn private_new_file(path: &Path) -> io::Result<File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Makes the rename durable: on POSIX a new directory entry needs the folder synced.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_told_by_magic_bytes() {
        assert_eq!(
            AttachmentType::detect(b"%PDF-1.7\n"),
            Some(AttachmentType::Pdf)
        );
        assert_eq!(
            AttachmentType::detect(b"\x89PNG\r\n\x1a\n\0"),
            Some(AttachmentType::Png)
        );
        assert_eq!(
            AttachmentType::detect(b"\xFF\xD8\xFF\xE0"),
            Some(AttachmentType::Jpeg)
        );
        assert_eq!(AttachmentType::detect(b"hello.pdf"), None);
        assert_eq!(AttachmentType::detect(b""), None);
    }

    #[test]
    fn names_end_in_their_types_extension() {
        let pdf = AttachmentType::Pdf;
        assert_eq!(pdf.file_name_for("invoice.html"), "invoice.html.pdf");
        assert_eq!(pdf.file_name_for("回覧 12月"), "回覧 12月.pdf");
        assert_eq!(pdf.file_name_for("SCAN.PDF"), "SCAN.PDF");
        assert_eq!(pdf.file_name_for(".pdf"), ".pdf.pdf");
        assert_eq!(
            AttachmentType::Jpeg.file_name_for("photo.JPEG"),
            "photo.JPEG"
        );
        assert_eq!(
            AttachmentType::Jpeg.file_name_for("photo.png"),
            "photo.png.jpg"
        );
        assert_eq!(AttachmentType::Png.file_name_for("map.png"), "map.png");
    }

    #[test]
    fn declared_types_ignore_parameters_and_case() {
        assert_eq!(
            AttachmentType::from_content_type("Application/PDF; name=x"),
            Some(AttachmentType::Pdf)
        );
        assert_eq!(AttachmentType::from_content_type("image/gif"), None);
    }

    #[test]
    fn file_names_lose_separators_and_controls() {
        assert_eq!(
            clean_file_name("../../etc/passwd").unwrap(),
            "....etcpasswd"
        );
        assert_eq!(
            clean_file_name("a\\b\u{0}c\u{202E}fdp.exe").unwrap(),
            "abcfdp.exe"
        );
        // NFD か + ゙ becomes NFC が.
        assert_eq!(
            clean_file_name("\u{304B}\u{3099}.pdf").unwrap(),
            "\u{304C}.pdf"
        );
        assert!(clean_file_name(" / \n ").is_err());
        assert!(clean_file_name(&"あ".repeat(201)).is_err());
        assert!(clean_file_name(&"あ".repeat(200)).is_ok());
    }

    #[test]
    fn identical_content_is_stored_once_under_its_hash() {
        let root = tempfile::tempdir().unwrap();
        let first = write_file(root.path(), b"%PDF-1.4 x").unwrap();
        let second = write_file(root.path(), b"%PDF-1.4 x").unwrap();
        assert_eq!(first, second);
        let dir = root.path().join(&first[..2]);
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(&first)]);
        assert_eq!(fs::read(dir.join(&first)).unwrap(), b"%PDF-1.4 x");
    }
}
