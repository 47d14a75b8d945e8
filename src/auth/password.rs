//! Argon2id password hashing (OWASP minimum: m=19456 KiB, t=2, p=1), run off the async workers.

use std::sync::LazyLock;
use std::time::Duration;

use anyhow::Context;
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use tracing::Instrument;

fn argon2() -> Argon2<'static> {
    // The parameters are constants known to be valid.
    let params = Params::new(19_456, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A hash of a random password, verified against when the email is unknown so that unknown
/// accounts take the same work as wrong passwords.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let mut random = [0u8; 16];
    let _ = getrandom::fill(&mut random);
    argon2()
        .hash_password(&random)
        .map(|hash| hash.to_string())
        .unwrap_or_default()
});

/// How long a password check waits for a free core before the request is answered `busy`.
const WAIT_FOR_A_CORE: Duration = Duration::from_secs(2);

/// Refused: every core was checking a password for longer than [`WAIT_FOR_A_CORE`].
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("too many password checks are running")]
    Busy,
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// Hashes and checks passwords at most one per core at a time. Each takes 19 MiB for tens of
/// milliseconds: unbounded, a flood of logins held 150 hashes in memory at once (812 MB).
pub struct Hasher {
    permits: tokio::sync::Semaphore,
}

impl Default for Hasher {
    fn default() -> Self {
        Self::new()
    }
}

impl Hasher {
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            permits: tokio::sync::Semaphore::new(cores),
        }
    }

    async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, PasswordError> {
        match tokio::time::timeout(WAIT_FOR_A_CORE, self.permits.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) | Err(_) => Err(PasswordError::Busy),
        }
    }

    /// [`hash`], once a core is free.
    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        let _permit = self.permit().await?;
        Ok(hash(password).await?)
    }

    /// [`verify`], once a core is free.
    pub async fn verify(&self, password: &str, phc: Option<String>) -> Result<bool, PasswordError> {
        let _permit = self.permit().await?;
        Ok(verify(password, phc).await?)
    }
}

/// The PHC string of `password`.
pub async fn hash(password: &str) -> anyhow::Result<String> {
    let password = password.to_owned();
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        span.in_scope(|| {
            argon2()
                .hash_password(password.as_bytes())
                .map(|hash| hash.to_string())
                .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))
        })
    })
    .in_current_span()
    .await
    .context("password hashing task")?
}

/// Verifies `password` against `phc`, or against a dummy hash when `phc` is `None` (unknown
/// account): the answer is then always `false`, after the same amount of work.
pub async fn verify(password: &str, phc: Option<String>) -> anyhow::Result<bool> {
    let password = password.to_owned();
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        span.in_scope(|| {
            let known = phc.is_some();
            let phc = phc.unwrap_or_else(|| DUMMY_HASH.clone());
            let matches = argon2()
                .verify_password(password.as_bytes(), phc.as_str())
                .is_ok();
            known && matches
        })
    })
    .in_current_span()
    .await
    .context("password verification task")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_with_the_owasp_parameters_and_verify() {
        let phc = hash("correct horse battery").await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(
            verify("correct horse battery", Some(phc.clone()))
                .await
                .unwrap()
        );
        assert!(
            !verify("wrong horse battery", Some(phc.clone()))
                .await
                .unwrap()
        );
        // Salted: the same password hashes differently.
        assert_ne!(hash("correct horse battery").await.unwrap(), phc);
    }

    #[tokio::test]
    async fn an_unknown_account_never_verifies() {
        assert!(!verify("anything at all", None).await.unwrap());
    }
}
