//! Argon2id password hashes in PHC form. Hashing is slow on purpose, so callers run it on
//! the blocking pool, never on an actix worker.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};

use crate::configuration::PasswordSettings;

pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 128;

/// Checks a new password's length (ASVS: at least 8, up to at least 64 allowed).
pub fn check_new_password(password: &SecretString) -> Result<(), String> {
    let chars = password.expose_secret().chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(format!(
            "the password must have at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(format!(
            "the password must have at most {MAX_PASSWORD_CHARS} characters"
        ));
    }
    Ok(())
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
        assert!(check_new_password(&SecretString::from("short")).is_err());
        assert!(check_new_password(&SecretString::from("x".repeat(129))).is_err());
        assert!(check_new_password(&SecretString::from("kairan-demo")).is_ok());
    }
}
