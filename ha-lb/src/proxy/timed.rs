//! Inactivity deadlines that cost nothing while data flows.
//!
//! A [`Stall`] is armed only when an operation would wait (returns
//! `Pending`) and disarmed as soon as it makes progress, so the common case,
//! where bytes are already there, never touches the timer wheel. Bodies
//! ([`TimedBody`]) use it for `timeout client` (a client trickling its
//! upload) and `timeout server` (a server stalling mid-response); the client
//! stream uses it for a client that stops reading.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::server::InFlight;

/// A deadline for "no progress since".
#[derive(Debug, Default)]
pub(crate) struct Stall {
    timeout: Option<Duration>,
    sleep: Option<Pin<Box<Sleep>>>,
    armed: bool,
}

impl Stall {
    pub fn new(timeout: Option<Duration>) -> Self {
        Self {
            timeout,
            sleep: None,
            armed: false,
        }
    }

    /// Progress was made: the next wait starts a new period.
    pub fn progress(&mut self) {
        self.armed = false;
    }

    /// The operation would wait: `Ready` once it has waited a whole period.
    pub fn poll_waiting(&mut self, cx: &mut Context<'_>) -> Poll<Duration> {
        let Some(timeout) = self.timeout else {
            return Poll::Pending;
        };
        let deadline = Instant::now() + timeout;
        if !self.armed {
            self.armed = true;
            match &mut self.sleep {
                Some(sleep) => sleep.as_mut().reset(deadline),
                None => self.sleep = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
        }
        match &mut self.sleep {
            Some(sleep) => sleep.as_mut().poll(cx).map(|()| timeout),
            None => Poll::Pending,
        }
    }
}

/// Why a timed body stopped.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// No data for the whole timeout.
    Idle(Duration),
    /// The underlying body failed.
    Inner(hyper::Error),
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::Idle(after) => write!(f, "no data for {}ms", after.as_millis()),
            BodyError::Inner(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for BodyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BodyError::Idle(_) => None,
            BodyError::Inner(e) => Some(e),
        }
    }
}

/// Whether `error` (or anything in its source chain) is a body inactivity
/// timeout.
pub(crate) fn is_idle(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if matches!(e.downcast_ref::<BodyError>(), Some(BodyError::Idle(_))) {
            return true;
        }
        cause = e.source();
    }
    false
}

/// A message body passed through the proxy, with an inactivity timeout and,
/// for responses, the server slot it occupies until it has been sent.
pub(crate) struct TimedBody {
    /// `None`: an empty body (a request rebuilt for a retry).
    inner: Option<Incoming>,
    stall: Stall,
    _slot: Option<InFlight>,
}

impl TimedBody {
    pub fn new(inner: Incoming, timeout: Option<Duration>, slot: Option<InFlight>) -> Self {
        Self {
            inner: Some(inner),
            stall: Stall::new(timeout),
            _slot: slot,
        }
    }

    pub fn empty() -> Self {
        Self {
            inner: None,
            stall: Stall::default(),
            _slot: None,
        }
    }
}

impl Body for TimedBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        let Some(inner) = &mut this.inner else {
            return Poll::Ready(None);
        };
        match Pin::new(inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.stall.progress();
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(BodyError::Inner(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match this.stall.poll_waiting(cx) {
                Poll::Ready(after) => Poll::Ready(Some(Err(BodyError::Idle(after)))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}
