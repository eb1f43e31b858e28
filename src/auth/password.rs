//! Argon2id password hashes in PHC form. Hashing is slow on purpose, so it never runs on an
//! actix worker: `PasswordService` runs it on threads of its own.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};

use crate::configuration::PasswordSettings;
use crate::error::{ApiError, ErrorCode};

pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Passwords every guessing list starts with.
const COMMON_PASSWORDS: &[&str] = &[
    "password",
    "password1",
    "12345678",
    "123456789",
    "1234567890",
    "qwertyui",
    "qwerty123",
    "11111111",
    "00000000",
    "abcd1234",
    "iloveyou",
    "kanazawa",
    "kairan123",
    "letmein1",
    "88888888",
    "87654321",
    "passw0rd",
    "abcdefgh",
];

/// Checks a new password (ASVS V6.2): 8 characters or more, at most 1,024 bytes, not a
/// well-known password, not the login itself.
pub fn check_new_password(password: &SecretString, login: Option<&str>) -> Result<(), String> {
    let value = password.expose_secret();
    if value.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "the password must have at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    if value.len() > MAX_PASSWORD_BYTES {
        return Err(format!(
            "the password must be at most {MAX_PASSWORD_BYTES} bytes"
        ));
    }
    let lowered = value.to_lowercase();
    if COMMON_PASSWORDS.contains(&lowered.as_str())
        || lowered.chars().all(|c| lowered.starts_with(c))
    {
        return Err("the password is too easy to guess".into());
    }
    if login.is_some_and(|l| l.eq_ignore_ascii_case(value)) {
        return Err("the password must differ from the login".into());
    }
    Ok(())
}

type HashJob = Box<dyn FnOnce() + Send>;

/// Hashing behind a small semaphore on threads of its own, so a sign-in flood cannot take
/// every core from readers; past the queue wait it answers 503 with Retry-After.
///
/// Own threads rather than the blocking pool: each Argon2 call allocates its whole memory
/// cost (19 MiB), and glibc keeps freed blocks in the arena of the thread that used them, so
/// a flood spread over the pool's many threads can pin 19 MiB in each of its arenas. A
/// fixed set of threads reuses its own blocks (see docs/benchmarks.md, sign-in).
pub struct PasswordService {
    settings: PasswordSettings,
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    hashers: std::sync::mpsc::Sender<HashJob>,
    queue_timeout: std::time::Duration,
    /// Verified against when a login is unknown, so timing does not tell which exist.
    dummy_hash: String,
}

impl PasswordService {
    /// Blocking (computes the dummy hash): call at start-up.
    pub fn new(
        settings: PasswordSettings,
        concurrency: usize,
        queue_timeout_ms: u64,
    ) -> anyhow::Result<Self> {
        let dummy_hash = hash_password(&settings, &SecretString::from("kairan dummy password"))?;
        Ok(Self {
            settings,
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency)),
            hashers: start_hashers(concurrency)?,
            queue_timeout: std::time::Duration::from_millis(queue_timeout_ms),
            dummy_hash,
        })
    }

    async fn permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
        let busy = ApiError::Unavailable {
            code: ErrorCode::ServiceUnavailable,
            message: "too many sign-ins at once; try again shortly",
            retry_after_secs: 2,
        };
        match tokio::time::timeout(self.queue_timeout, self.permits.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(busy),
        }
    }

    /// Runs `f` on a hashing thread, in the caller's span, holding a permit.
    async fn on_hasher<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, ApiError> {
        let permit = self.permit().await?;
        let (done, result) = tokio::sync::oneshot::channel();
        let span = tracing::Span::current();
        self.hashers
            .send(Box::new(move || {
                let _entered = span.enter();
                let _ = done.send(f());
                drop(permit);
            }))
            .map_err(|_| ApiError::Unexpected(anyhow::anyhow!("the hashing threads stopped")))?;
        result
            .await
            .map_err(|_| ApiError::Unexpected(anyhow::anyhow!("a password hash failed")))
    }

    pub async fn hash(&self, password: SecretString) -> Result<String, ApiError> {
        let settings = self.settings.clone();
        self.on_hasher(move || hash_password(&settings, &password))
            .await?
            .map_err(ApiError::Unexpected)
    }

    /// `stored` is None for an unknown login: the dummy hash is checked and false returned.
    pub async fn verify(
        &self,
        stored: Option<String>,
        password: SecretString,
    ) -> Result<bool, ApiError> {
        let known = stored.is_some();
        let hash = stored.unwrap_or_else(|| self.dummy_hash.clone());
        let matches = self
            .on_hasher(move || verify_password(&hash, &password))
            .await?;
        Ok(known && matches)
    }
}

/// `count` threads taking hashing jobs from one queue; they end when the service is dropped.
fn start_hashers(count: usize) -> anyhow::Result<std::sync::mpsc::Sender<HashJob>> {
    let (jobs, queue) = std::sync::mpsc::channel::<HashJob>();
    let queue = std::sync::Arc::new(std::sync::Mutex::new(queue));
    for i in 0..count.max(1) {
        let queue = queue.clone();
        std::thread::Builder::new()
            .name(format!("argon2-{i}"))
            .spawn(move || {
                loop {
                    let job = match queue.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            })?;
    }
    Ok(jobs)
}

fn hasher(settings: &PasswordSettings) -> anyhow::Result<Argon2<'static>> {
    let params = Params::new(
        settings.argon2_memory_kib,
        settings.argon2_iterations,
        settings.argon2_parallelism,
        None,
    )
    .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Blocking: call from the blocking pool.
pub fn hash_password(
    settings: &PasswordSettings,
    password: &SecretString,
) -> anyhow::Result<String> {
    let hash = hasher(settings)?
        .hash_password(password.expose_secret().as_bytes())
        .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))?;
    Ok(hash.to_string())
}

/// Blocking: call from the blocking pool. The parameters come from the stored hash.
pub fn verify_password(stored_hash: &str, password: &SecretString) -> bool {
    Argon2::default()
        .verify_password(password.expose_secret().as_bytes(), stored_hash)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordSettings {
        PasswordSettings {
            argon2_memory_kib: 64,
            argon2_iterations: 1,
            argon2_parallelism: 1,
        }
    }

    #[test]
    fn a_hash_verifies_only_its_password() {
        let hash = hash_password(&cheap(), &SecretString::from("correct horse")).unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(verify_password(&hash, &SecretString::from("correct horse")));
        assert!(!verify_password(&hash, &SecretString::from("wrong horse")));
        assert!(!verify_password(
            "not a hash",
            &SecretString::from("correct horse")
        ));
    }

    #[test]
    fn short_and_huge_passwords_are_refused() {
        assert!(check_new_password(&SecretString::from("short"), None).is_err());
        assert!(check_new_password(&SecretString::from("あ".repeat(342)), None).is_err());
        assert!(check_new_password(&SecretString::from("Password"), None).is_err());
        assert!(
            check_new_password(
                &SecretString::from("taro@example.jp"),
                Some("taro@example.jp")
            )
            .is_err()
        );
        assert!(check_new_password(&SecretString::from("kairan-demo"), None).is_ok());
        assert!(check_new_password(&SecretString::from("a".repeat(10) + "b"), None).is_ok());
    }
}
