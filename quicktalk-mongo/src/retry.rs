//! Which driver errors are worth retrying, and the bounded retry itself.
//!
//! The driver already retries a write once after a network error
//! (`retryWrites`); this adds a few spaced attempts for failures that clear
//! up in a moment (a connection reset, a pool cleared, a primary stepping
//! down). A server that does not answer at all has already cost the whole
//! server-selection timeout, so that is returned at once: the engine's
//! store writer keeps the batch and retries on its own schedule.

use std::future::Future;
use std::time::Duration;

use mongodb::error::{ErrorKind, RETRYABLE_WRITE_ERROR, TRANSIENT_TRANSACTION_ERROR};

/// Server error codes that mean "try again shortly" (not-primary, shutting
/// down, network trouble between members).
const TRANSIENT_CODES: &[i32] = &[
    6,     // HostUnreachable
    7,     // HostNotFound
    89,    // NetworkTimeout
    91,    // ShutdownInProgress
    189,   // PrimarySteppedDown
    262,   // ExceededTimeLimit
    9001,  // SocketException
    10107, // NotWritablePrimary
    11600, // InterruptedAtShutdown
    11602, // InterruptedDueToReplStateChange
    13435, // NotPrimaryNoSecondaryOk
    13436, // NotPrimaryOrSecondary
];

/// Attempts per call, the first included.
const ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// Whether the server could not be reached at all (selection timed out).
pub(crate) fn is_unreachable(error: &mongodb::error::Error) -> bool {
    matches!(*error.kind, ErrorKind::ServerSelection { .. })
}

/// Whether a quick retry may succeed.
pub(crate) fn is_transient(error: &mongodb::error::Error) -> bool {
    if error.contains_label(RETRYABLE_WRITE_ERROR)
        || error.contains_label(TRANSIENT_TRANSACTION_ERROR)
    {
        return true;
    }
    match &*error.kind {
        ErrorKind::Io(_) | ErrorKind::ConnectionPoolCleared { .. } => true,
        ErrorKind::Command(command) => TRANSIENT_CODES.contains(&command.code),
        _ => false,
    }
}

/// Runs `attempt` up to [`ATTEMPTS`] times while it fails transiently.
pub(crate) async fn with_retry<T, F, Fut>(what: &'static str, mut attempt: F) -> crate::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = crate::Result<T>>,
{
    let mut backoff = FIRST_BACKOFF;
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(crate::Error::Driver(error))
                if tries < ATTEMPTS && is_transient(&error) && !is_unreachable(&error) =>
            {
                tracing::debug!(operation = what, %error, tries, "transient MongoDB error; retrying");
                tokio::time::sleep(backoff).await;
                backoff *= 2;
                tries += 1;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_transient_error_is_retried_a_bounded_number_of_times() {
        let mut calls = 0;
        let result: crate::Result<()> = with_retry("test", || {
            calls += 1;
            async {
                Err(crate::Error::Driver(mongodb::error::Error::from(
                    std::io::Error::from(std::io::ErrorKind::ConnectionReset),
                )))
            }
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls, ATTEMPTS);
    }

    #[tokio::test(start_paused = true)]
    async fn a_permanent_error_is_returned_at_once() {
        let mut calls = 0;
        let result: crate::Result<()> = with_retry("test", || {
            calls += 1;
            async {
                Err(crate::Error::Corrupt {
                    collection: "x",
                    reason: "y".into(),
                })
            }
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_that_succeeds_returns_the_value() {
        let mut calls = 0;
        let result = with_retry("test", || {
            calls += 1;
            let fail = calls == 1;
            async move {
                if fail {
                    Err(crate::Error::Driver(mongodb::error::Error::from(
                        std::io::Error::from(std::io::ErrorKind::BrokenPipe),
                    )))
                } else {
                    Ok(7)
                }
            }
        })
        .await;
        assert_eq!(result.unwrap(), 7);
        assert_eq!(calls, 2);
    }
}
