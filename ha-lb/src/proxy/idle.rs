//! Inactivity timeouts (`timeout client`, `timeout server`, `timeout tunnel`)
//! without touching a timer on every read and write.
//!
//! A [`Tracked`] stream bumps a counter whenever bytes move. [`until_idle`]
//! runs a future with one timer and, when it fires, compares counters: a
//! side whose counter has not moved for a whole period has been idle that
//! long. The cost on the data path is one relaxed atomic add per operation.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Counts I/O operations that moved bytes on one side of a connection.
#[derive(Debug, Clone, Default)]
pub struct Activity(Arc<AtomicU64>);

impl Activity {
    fn bump(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A stream that records its activity.
#[derive(Debug)]
pub struct Tracked<S> {
    inner: S,
    activity: Activity,
}

impl<S> Tracked<S> {
    /// Wraps `inner`, counting into `activity`.
    pub fn new(inner: S, activity: Activity) -> Self {
        Self { inner, activity }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bump();
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.bump();
        }
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.bump();
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Which side went quiet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idle {
    /// The client (`timeout client`).
    Client,
    /// The server (`timeout server`).
    Server,
}

/// One side's activity and its allowed inactivity (`None`: unlimited).
#[derive(Debug, Clone)]
pub struct Watch {
    /// The side's counter.
    pub activity: Activity,
    /// Its timeout.
    pub timeout: Option<Duration>,
    /// Which side it is.
    pub side: Idle,
}

/// Runs `work` until it finishes or one watched side stays idle for its
/// whole timeout. One timer is armed for the earliest possible expiry; when
/// it fires, sides that moved meanwhile get a fresh period. Detection is
/// exact to the timer's resolution, and a busy connection costs one timer
/// per timeout period, not one per operation.
pub async fn until_idle<F: Future, const N: usize>(
    work: F,
    watches: &[Watch; N],
) -> Result<F::Output, Idle> {
    if watches.iter().all(|w| w.timeout.is_none()) {
        return Ok(work.await);
    }
    let now = tokio::time::Instant::now();
    // Per side: the counter last seen and when it last moved.
    let mut seen: [(u64, tokio::time::Instant); N] =
        std::array::from_fn(|i| (watches[i].activity.get(), now));
    let next = |seen: &[(u64, tokio::time::Instant); N]| {
        watches
            .iter()
            .zip(seen)
            .filter_map(|(w, (_, since))| Some(*since + w.timeout?))
            .min()
    };
    tokio::pin!(work);
    let sleep = tokio::time::sleep_until(next(&seen).expect("a timeout is set"));
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            out = &mut work => return Ok(out),
            () = &mut sleep => {
                let now = tokio::time::Instant::now();
                for (watch, (count, since)) in watches.iter().zip(seen.iter_mut()) {
                    let current = watch.activity.get();
                    if current != *count {
                        *count = current;
                        *since = now;
                    } else if let Some(limit) = watch.timeout
                        && now.duration_since(*since) >= limit
                    {
                        return Err(watch.side);
                    }
                }
                sleep.as_mut().reset(next(&seen).expect("a timeout is set"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test(start_paused = true)]
    async fn an_idle_side_times_out_and_an_active_one_does_not() {
        let (a, mut b) = tokio::io::duplex(64);
        let activity = Activity::default();
        let mut tracked = Tracked::new(a, activity.clone());
        let watch = [Watch {
            activity,
            timeout: Some(Duration::from_secs(1)),
            side: Idle::Client,
        }];
        let writer = tokio::spawn(async move {
            for _ in 0..10 {
                b.write_all(b"x").await.unwrap();
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            // Then silence, without closing.
            tokio::time::sleep(Duration::from_secs(3600)).await;
        });
        let start = tokio::time::Instant::now();
        let reading = async {
            let mut buf = [0u8; 1];
            loop {
                tracked.read_exact(&mut buf).await.unwrap();
            }
        };
        let out: Result<(), Idle> = until_idle(reading, &watch).await;
        assert_eq!(out, Err(Idle::Client));
        let elapsed = start.elapsed();
        // Last byte at 4.5 s; idle from then for 1 s. The timer fires once a
        // second and sees the last activity one check late at most.
        assert!(elapsed >= Duration::from_millis(5500), "{elapsed:?}");
        assert!(elapsed <= Duration::from_millis(6000), "{elapsed:?}");
        writer.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn no_timeout_means_no_limit() {
        let out = until_idle(
            async {
                tokio::time::sleep(Duration::from_secs(1000)).await;
                7
            },
            &[Watch {
                activity: Activity::default(),
                timeout: None,
                side: Idle::Server,
            }],
        )
        .await;
        assert_eq!(out, Ok(7));
    }
}
