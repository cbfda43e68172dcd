//! Bounds on what a registry may send, checked while it sends: a size
//! limit on every body (a manifest's, a blob's descriptor size, an error
//! answer's), a floor on the rate averaged over a window, and a deadline
//! scaled by the size expected. Without them an endless body grows memory
//! until the process dies and a slow drip hangs it.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use oci_client::errors::OciDistributionError;

use super::retry::Retry;

/// The largest manifest or index accepted, as registries cap them
/// (distribution and containerd both use 4 MiB).
pub const MANIFEST_LIMIT: u64 = 4 << 20;
/// The largest error answer read (its message goes into the error).
pub const ERROR_ANSWER_LIMIT: u64 = 64 << 10;
/// The most memory reserved ahead for a body: its declared size, up to
/// this. A larger body grows as it arrives, so a descriptor cannot make us
/// reserve memory the registry never sends.
const RESERVE_LIMIT: u64 = 64 << 20;

/// How slow and how long a transfer may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferLimits {
    /// The lowest rate, in bytes per second, a transfer must average over
    /// each `window` (from its request on); 0 turns the floor off.
    pub min_rate: u64,
    /// How long the rate is averaged over before it is judged.
    pub window: Duration,
    /// The deadline's base: a transfer of `n` bytes must end within
    /// `timeout + n / min_rate`. Zero turns the deadline off.
    pub timeout: Duration,
}

impl Default for TransferLimits {
    /// A link that averages 4 KiB/s (32 kbit/s) over 10 s passes; a
    /// registry dripping a byte at a time is cut off in 10 s.
    fn default() -> Self {
        Self {
            min_rate: 4 << 10,
            window: Duration::from_secs(10),
            timeout: Duration::from_secs(60),
        }
    }
}

impl TransferLimits {
    /// How long a transfer of `size` bytes may take, if bounded.
    pub fn deadline(&self, size: u64) -> Option<Duration> {
        if self.timeout.is_zero() {
            return None;
        }
        let at_floor = match size.checked_div(self.min_rate) {
            Some(seconds) => Duration::from_secs(seconds),
            None => Duration::ZERO,
        };
        Some(self.timeout.saturating_add(at_floor))
    }

    /// The bytes each window must bring for the floor to hold.
    fn per_window(&self) -> u64 {
        let bytes = u128::from(self.min_rate) * self.window.as_millis() / 1000;
        u64::try_from(bytes).unwrap_or(u64::MAX)
    }
}

/// What a body's size limit comes from, as its error says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Descriptor,
    Manifest,
    ErrorAnswer,
}

impl std::fmt::Display for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Bound::Descriptor => "its descriptor declares",
            Bound::Manifest => "of the manifest size limit",
            Bound::ErrorAnswer => "allowed for an error answer",
        })
    }
}

/// Why a transfer was cut off.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    #[error("the registry announced {length} bytes, more than the {limit} bytes {bound}")]
    Announced {
        length: u64,
        limit: u64,
        bound: Bound,
    },
    #[error("the registry sent more than the {limit} bytes {bound}")]
    Oversized { limit: u64, bound: Bound },
    #[error("{bytes} bytes in {window:?}, below the floor of {min_rate} bytes/s")]
    Stalled {
        bytes: u64,
        window: Duration,
        min_rate: u64,
    },
    #[error("not done within {0:?}")]
    Deadline(Duration),
}

/// A failed fetch: the registry or the connection failed, or a limit cut
/// the transfer off.
#[derive(Debug)]
pub enum FetchError {
    Registry(OciDistributionError),
    Limit(LimitError),
}

impl From<OciDistributionError> for FetchError {
    fn from(error: OciDistributionError) -> Self {
        FetchError::Registry(error)
    }
}

impl From<reqwest::Error> for FetchError {
    fn from(error: reqwest::Error) -> Self {
        FetchError::Registry(error.into())
    }
}

impl Retry for FetchError {
    /// A registry over a limit does so again: only the registry's and the
    /// connection's passing failures are retried.
    fn is_transient(&self) -> bool {
        match self {
            FetchError::Registry(e) => e.is_transient(),
            FetchError::Limit(_) => false,
        }
    }
}

/// Refuses a body whose announced length (Content-Length) is over `limit`
/// before any of it is read.
pub fn check_announced(length: Option<u64>, limit: u64, bound: Bound) -> Result<(), FetchError> {
    match length {
        Some(length) if length > limit => Err(FetchError::Limit(LimitError::Announced {
            length,
            limit,
            bound,
        })),
        _ => Ok(()),
    }
}

/// Counts the bytes one transfer received, for its rate floor.
#[derive(Default)]
pub struct Meter(AtomicU64);

impl Meter {
    /// Runs `transfer` (request and body) under `limits` for a body of
    /// `size` bytes: it fails when a window brings less than the floor, or
    /// at the deadline.
    pub async fn guard<T>(
        &self,
        limits: &TransferLimits,
        size: u64,
        transfer: impl Future<Output = Result<T, FetchError>>,
    ) -> Result<T, FetchError> {
        let floor = async {
            let per_window = limits.per_window();
            if per_window == 0 || limits.window.is_zero() {
                return std::future::pending().await;
            }
            let mut ticks = tokio::time::interval_at(
                tokio::time::Instant::now() + limits.window,
                limits.window,
            );
            let mut before = 0;
            loop {
                ticks.tick().await;
                let now = self.0.load(Ordering::Relaxed);
                let bytes = now.saturating_sub(before);
                if bytes < per_window {
                    return LimitError::Stalled {
                        bytes,
                        window: limits.window,
                        min_rate: limits.min_rate,
                    };
                }
                before = now;
            }
        };
        let deadline = async {
            match limits.deadline(size) {
                Some(after) => {
                    tokio::time::sleep(after).await;
                    LimitError::Deadline(after)
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            result = transfer => result,
            cut = floor => Err(FetchError::Limit(cut)),
            cut = deadline => Err(FetchError::Limit(cut)),
        }
    }

    /// Reads `chunks` whole, counting them, and stops at the first chunk
    /// that takes the body over `limit` bytes.
    pub async fn read_capped<S>(
        &self,
        chunks: S,
        limit: u64,
        bound: Bound,
    ) -> Result<Vec<u8>, FetchError>
    where
        S: Stream<Item = Result<Bytes, OciDistributionError>>,
    {
        let reserve = usize::try_from(limit.min(RESERVE_LIMIT)).unwrap_or(0);
        let mut body = Vec::with_capacity(reserve);
        let mut chunks = std::pin::pin!(chunks);
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk?;
            let length = u64::try_from(chunk.len()).unwrap_or(u64::MAX);
            self.0.fetch_add(length, Ordering::Relaxed);
            let total = u64::try_from(body.len())
                .unwrap_or(u64::MAX)
                .saturating_add(length);
            if total > limit {
                return Err(FetchError::Limit(LimitError::Oversized { limit, bound }));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;

    fn chunks(sizes: &[usize]) -> impl Stream<Item = Result<Bytes, OciDistributionError>> {
        stream::iter(
            sizes
                .iter()
                .map(|&n| Ok(Bytes::from(vec![7; n])))
                .collect::<Vec<_>>(),
        )
    }

    /// One byte every `every`, forever.
    fn drip(every: Duration) -> impl Stream<Item = Result<Bytes, OciDistributionError>> {
        stream::unfold((), move |()| async move {
            tokio::time::sleep(every).await;
            Some((Ok(Bytes::from_static(b"x")), ()))
        })
    }

    fn limits(min_rate: u64, window_secs: u64, timeout_secs: u64) -> TransferLimits {
        TransferLimits {
            min_rate,
            window: Duration::from_secs(window_secs),
            timeout: Duration::from_secs(timeout_secs),
        }
    }

    #[tokio::test]
    async fn a_body_up_to_its_limit_is_read_whole() {
        let meter = Meter::default();
        let body = meter
            .read_capped(chunks(&[3, 0, 4]), 7, Bound::Descriptor)
            .await
            .unwrap();
        assert_eq!(body.len(), 7);
        assert_eq!(meter.0.load(Ordering::Relaxed), 7);
    }

    #[tokio::test]
    async fn an_endless_body_stops_at_the_chunk_past_its_limit() {
        let meter = Meter::default();
        let endless = stream::repeat_with(|| Ok(Bytes::from(vec![0; 1000])));
        let error = meter
            .read_capped(endless, 4500, Bound::Manifest)
            .await
            .unwrap_err();
        assert!(matches!(
            error,
            FetchError::Limit(LimitError::Oversized {
                limit: 4500,
                bound: Bound::Manifest
            })
        ));
        assert_eq!(
            meter.0.load(Ordering::Relaxed),
            5000,
            "five chunks read, no more"
        );
        assert_eq!(
            LimitError::Oversized {
                limit: 10,
                bound: Bound::Descriptor
            }
            .to_string(),
            "the registry sent more than the 10 bytes its descriptor declares"
        );
    }

    #[test]
    fn an_announced_length_over_the_limit_is_refused() {
        assert!(check_announced(None, 10, Bound::Descriptor).is_ok());
        assert!(check_announced(Some(10), 10, Bound::Descriptor).is_ok());
        let error = check_announced(Some(11), 10, Bound::Descriptor).unwrap_err();
        assert!(
            !error.is_transient(),
            "a registry over a limit is not retried"
        );
        assert!(matches!(
            error,
            FetchError::Limit(LimitError::Announced {
                length: 11,
                limit: 10,
                ..
            })
        ));
    }

    #[test]
    fn the_deadline_grows_with_the_size_at_the_floor() {
        let limits = limits(1000, 10, 60);
        assert_eq!(limits.deadline(0), Some(Duration::from_secs(60)));
        assert_eq!(limits.deadline(500_000), Some(Duration::from_secs(560)));
        assert_eq!(
            limits.deadline(u64::MAX).map(|d| d > Duration::ZERO),
            Some(true)
        );
        assert_eq!(
            TransferLimits {
                min_rate: 0,
                ..limits
            }
            .deadline(500_000),
            Some(Duration::from_secs(60)),
            "no floor: the base alone"
        );
        assert_eq!(
            TransferLimits {
                timeout: Duration::ZERO,
                ..limits
            }
            .deadline(1),
            None
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_drip_is_cut_off_after_one_window() {
        let meter = Meter::default();
        let started = tokio::time::Instant::now();
        let error = meter
            .guard(
                &limits(100, 2, 600),
                1 << 20,
                meter.read_capped(drip(Duration::from_millis(300)), 1 << 20, Bound::Descriptor),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                FetchError::Limit(LimitError::Stalled {
                    bytes: 6,
                    min_rate: 100,
                    ..
                })
            ),
            "{error:?}"
        );
        assert_eq!(started.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_transfer_at_the_floor_passes_every_window() {
        let meter = Meter::default();
        // 1 byte per 100 ms = 10 B/s, just over the floor, for 5 windows.
        let body = meter
            .guard(
                &limits(8, 1, 600),
                50,
                meter.read_capped(
                    drip(Duration::from_millis(100)).take(50),
                    50,
                    Bound::Descriptor,
                ),
            )
            .await
            .unwrap();
        assert_eq!(body.len(), 50);
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_ends_a_transfer_the_floor_lets_run() {
        let meter = Meter::default();
        let error = meter
            .guard(
                &limits(0, 1, 2),
                1 << 20,
                meter.read_capped(drip(Duration::from_millis(300)), 1 << 20, Bound::Descriptor),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(error, FetchError::Limit(LimitError::Deadline(d)) if d == Duration::from_secs(2)),
            "{error:?}"
        );
        assert_eq!(
            LimitError::Deadline(Duration::from_secs(2)).to_string(),
            "not done within 2s"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_request_is_cut_off_before_any_byte() {
        let meter = Meter::default();
        let never = std::future::pending::<Result<(), FetchError>>();
        let error = meter
            .guard(&limits(1, 3, 600), 10, never)
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                FetchError::Limit(LimitError::Stalled { bytes: 0, .. })
            ),
            "{error:?}"
        );
    }
}
