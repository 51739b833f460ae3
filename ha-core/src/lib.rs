//! ha-core: the vocabulary the ha-rs crates share.
//!
//! - [`HealthCheck`]: one probe of a target, with built-in [`TcpCheck`],
//!   [`HttpCheck`] and [`CommandCheck`].
//! - [`Health`]: rise/fall hysteresis over probe results, as a sans-IO type
//!   (no clock, no I/O: results in, [`Transition`]s out).
//! - [`Checker`]: the driver that runs a check every `inter`
//!   (`fastinter`/`downinter` as HAProxy has them) and publishes the state on
//!   a watch channel.
//! - [`duration`]: durations as HAProxy (`5000` = 5 s) and keepalived
//!   (`0.2` = 200 ms) write them.
//! - [`Script`]: runs notify hooks and agents without a shell, with a
//!   timeout that kills the whole process group.
//! - [`Location`] and [`Warning`]: `file:line` for every configuration
//!   importer, and [`config_text`] to read its files.
//! - [`random`]: randomness from the operating system, for drivers.
//!
//! Everything that runs something (the checks, the [`Checker`], [`Script`])
//! is behind the default `tokio` feature; without it (`default-features =
//! false`) the crate is the pure vocabulary alone: [`Health`], [`Schedule`],
//! durations, locations, with no async runtime in the dependency tree.
//!
//! ```
//! use ha_core::{duration, CheckError, Health, Phase, Schedule, State, Thresholds};
//!
//! // `server web1 10.0.0.1:80 check inter 2s fastinter 500 rise 2 fall 3`
//! let schedule = Schedule::new(duration::haproxy("2s")?)?
//!     .fastinter(duration::haproxy("500")?)?;
//! let mut health = Health::new(Thresholds::new(2, 3)?, State::Up);
//!
//! health.handle_failure(CheckError::Connect("Connection refused".into()));
//! assert_eq!(health.phase(), Phase::GoingDown);
//! assert_eq!(schedule.interval(health.phase()).as_millis(), 500);
//!
//! health.handle_failure(CheckError::Connect("Connection refused".into()));
//! health.handle_failure(CheckError::Connect("Connection refused".into()));
//! let down = health.poll_transition().expect("three failures in a row");
//! assert_eq!(down.to, State::Down);
//! assert_eq!(
//!     down.reason.unwrap().to_string(),
//!     r#"Layer4 connection problem, info: "Connection refused""#
//! );
//! # Ok::<(), ha_core::Error>(())
//! ```

pub mod check;
#[cfg(feature = "tokio")]
pub mod checker;
pub mod config_text;
pub mod duration;
pub mod error;
pub mod health;
pub mod location;
pub mod random;
pub mod schedule;
#[cfg(feature = "tokio")]
pub mod script;

/// The attribute the crates' async traits ([`HealthCheck`] here) are
/// written with, re-exported so that implementing one needs no extra
/// dependency.
pub use async_trait::async_trait;
pub use check::{CheckError, HealthCheck, StatusMatch};
#[cfg(feature = "tokio")]
pub use check::{CommandCheck, HttpCheck, TcpCheck};
#[cfg(feature = "tokio")]
pub use checker::{Checker, CheckerHandle, HealthStatus};
pub use error::{Error, Result};
pub use health::{Health, Phase, State, Thresholds, Transition};
pub use location::{Location, Warning};
pub use schedule::Schedule;
#[cfg(feature = "tokio")]
pub use script::{Script, ScriptOutput, ScriptStatus};

/// The README's examples, compiled as doc tests so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
