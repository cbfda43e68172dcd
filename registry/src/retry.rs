//! Retrying registry requests that failed for a passing reason: a 5xx
//! answer, a refused or dropped connection, a timeout. Client errors (bad
//! credentials, unknown repository) are final and returned at once.

use std::future::Future;
use std::time::Duration;

use oci_client::errors::OciDistributionError;

/// Attempts in all, and the first pause; pauses double each time, so the
/// whole loop waits at most 0.25+0.5+1+2 = 3.75 s before giving up.
const ATTEMPTS: u32 = 5;
const FIRST_PAUSE: Duration = Duration::from_millis(250);

/// An error that says whether trying again may succeed.
pub trait Retry {
    fn is_transient(&self) -> bool;
}

impl Retry for OciDistributionError {
    fn is_transient(&self) -> bool {
        is_transient(self)
    }
}

pub async fn with_retry<T, E, F, Fut>(mut attempt: F) -> Result<T, E>
where
    E: Retry,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut pause = FIRST_PAUSE;
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(e) if tries < ATTEMPTS && e.is_transient() => {
                tokio::time::sleep(pause).await;
                pause *= 2;
                tries += 1;
            }
            result => return result,
        }
    }
}

pub fn is_transient(error: &OciDistributionError) -> bool {
    match error {
        OciDistributionError::RequestError(e) => {
            e.is_connect()
                || e.is_timeout()
                || e.is_request()
                || e.is_body()
                || e.status().is_some_and(|s| s.is_server_error())
        }
        OciDistributionError::ServerError { code, .. } => *code >= 500,
        OciDistributionError::IoError(_) => true,
        _ => false,
    }
}

/// Whether the registry refused our credentials.
pub fn is_unauthorized(error: &OciDistributionError) -> bool {
    match error {
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_) => true,
        OciDistributionError::RequestError(e) => e.status().is_some_and(|s| s == 401 || s == 403),
        OciDistributionError::ServerError { code, .. } => *code == 401 || *code == 403,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn server_error(code: u16) -> OciDistributionError {
        OciDistributionError::ServerError {
            code,
            url: "http://127.0.0.1/v2/".into(),
            message: String::new(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn transient_errors_are_retried_until_success() {
        let calls = AtomicU32::new(0);
        let result = with_retry(|| async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0..=2 => Err(server_error(503)),
                _ => Ok("done"),
            }
        })
        .await;
        assert_eq!(result.unwrap(), "done");
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_are_bounded() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = with_retry(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(server_error(502))
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), ATTEMPTS);
    }

    #[tokio::test(start_paused = true)]
    async fn client_errors_are_not_retried() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = with_retry(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(server_error(401))
        })
        .await;
        assert!(is_unauthorized(&result.unwrap_err()));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
