//! Which HTTP statuses an HTTP check accepts (`http-check expect status`).

use std::fmt;

/// Which response statuses count as healthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum StatusMatch {
    /// 2xx and 3xx: HAProxy's default when no `http-check expect` is given.
    SuccessOrRedirect,
    /// Exactly this status (`http-check expect status 200`).
    Exact(u16),
    /// Any status in the inclusive range (`http-check expect rstatus ^2`).
    Range(u16, u16),
}

impl StatusMatch {
    /// Whether `status` counts as healthy.
    pub fn matches(&self, status: u16) -> bool {
        match *self {
            StatusMatch::SuccessOrRedirect => (200..400).contains(&status),
            StatusMatch::Exact(s) => status == s,
            StatusMatch::Range(lo, hi) => (lo..=hi).contains(&status),
        }
    }
}

impl fmt::Display for StatusMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatusMatch::SuccessOrRedirect => f.write_str("2xx or 3xx"),
            StatusMatch::Exact(s) => write!(f, "{s}"),
            StatusMatch::Range(lo, hi) => write!(f, "{lo}-{hi}"),
        }
    }
}
