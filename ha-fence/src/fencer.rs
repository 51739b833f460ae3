//! The [`Fencer`] trait: what every fencing device offers.
//!
//! Whatever a device talks to (an IPMI BMC, a fence-agents program, an SBD
//! disk, a SCSI LUN's reservations), it fences, reads a power state and
//! lists its targets in these words: [`Action`] and [`PowerState`].

use ha_core::async_trait;

use crate::error::{Error, Result};
use crate::metadata::Metadata;

/// What to do to a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Power off (or cut off from storage).
    Off,
    /// Power on (or let back to storage).
    On,
    /// Off, then on again.
    Reboot,
}

impl Action {
    /// The fence-agents name (`off`, `on`, `reboot`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::On => "on",
            Self::Reboot => "reboot",
        }
    }

    /// Parses a fence-agents action name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "off" => Some(Self::Off),
            "on" => Some(Self::On),
            "reboot" => Some(Self::Reboot),
            _ => None,
        }
    }
}

/// A target's power (or access) state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PowerState {
    /// Running (or registered).
    On,
    /// Off (or fenced from storage).
    Off,
    /// The device cannot tell.
    Unknown,
}

/// A fencing device.
///
/// Only [`Fencer::fence`] must be written; the rest have defaults a
/// device can keep when it has nothing better:
///
/// - [`Fencer::status`] and [`Fencer::list`]: [`Error::Unsupported`]. A
///   device without `list` is given its hosts by `pcmk_host_list` or
///   `pcmk_host_map` (or `pcmk_host_check=none`); one without `status`
///   cannot use `pcmk_host_check=status`.
/// - [`Fencer::monitor`]: as fence-agents do, the device's `list`, else
///   the `status` of an empty plug (a device with one target); a device
///   with neither says [`Error::Unsupported`].
/// - [`Fencer::metadata`]: the type's name and no parameters.
///
/// Implement it with [`async_trait`](macro@crate::async_trait):
///
/// ```
/// use ha_fence::{async_trait, Action, Fencer, Result};
///
/// struct Pdu;
///
/// #[async_trait]
/// impl Fencer for Pdu {
///     async fn fence(&self, outlet: &str, action: Action) -> Result<()> {
///         // Switch `outlet`, then read it back before saying Ok.
///         let _ = (outlet, action);
///         Ok(())
///     }
/// }
/// ```
#[async_trait]
pub trait Fencer: Send + Sync {
    /// Does `action` to `target` and returns once it is **confirmed** (off
    /// verified by status, or whatever confirmation the device has).
    /// Devices with one target (a BMC) ignore `target`'s value.
    ///
    /// The [`Error`] kind returned decides what a
    /// [`Topology`](crate::topology::Topology) does next
    /// ([`Error::is_transient`]):
    ///
    /// | the device...                              | return                     | then                                  |
    /// | ------------------------------------------ | -------------------------- | ------------------------------------- |
    /// | answered, but the state is not confirmed   | [`Error::NotConfirmed`]    | tried again (`pcmk_<action>_retries`) |
    /// | failed some other way of its own           | [`Error::Device`]          | tried again                           |
    /// | garbled its answer                         | [`Error::Protocol`]        | tried again                           |
    /// | did not answer (in time)                   | [`Error::Timeout`]         | next device or level                  |
    /// | cannot be reached                          | [`Error::Unreachable`] or [`Error::Io`] | next device or level     |
    /// | refused the credentials                    | [`Error::LoginRefused`]    | next device or level                  |
    /// | was given a wrong parameter (a bad plug)   | [`Error::BadParameter`]    | next device or level                  |
    ///
    /// A `fence` that runs past the device's `pcmk_<action>_timeout` is
    /// abandoned as a timeout.
    async fn fence(&self, target: &str, action: Action) -> Result<()>;

    /// The power state of `target`.
    async fn status(&self, target: &str) -> Result<PowerState> {
        let _ = target;
        Err(Error::Unsupported("status"))
    }

    /// The targets this device can fence.
    async fn list(&self) -> Result<Vec<String>> {
        Err(Error::Unsupported("list"))
    }

    /// Whether the device itself is reachable and answers.
    async fn monitor(&self) -> Result<()> {
        match self.list().await {
            Err(Error::Unsupported(_)) => self.status("").await.map(drop),
            other => other.map(drop),
        }
        .map_err(|e| match e {
            Error::Unsupported(_) => Error::Unsupported("monitor"),
            other => other,
        })
    }

    /// What the device is and takes.
    fn metadata(&self) -> Metadata {
        let name = std::any::type_name::<Self>();
        Metadata {
            name: name.rsplit("::").next().unwrap_or(name).to_owned(),
            ..Metadata::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A device that writes only `fence`.
    struct Minimal;

    #[async_trait]
    impl Fencer for Minimal {
        async fn fence(&self, _: &str, _: Action) -> Result<()> {
            Ok(())
        }
    }

    /// A device with a status but no list.
    struct WithStatus;

    #[async_trait]
    impl Fencer for WithStatus {
        async fn fence(&self, _: &str, _: Action) -> Result<()> {
            Ok(())
        }
        async fn status(&self, _: &str) -> Result<PowerState> {
            Err(Error::Unreachable("no answer".into()))
        }
    }

    #[tokio::test]
    async fn a_fencer_that_writes_only_fence_gets_honest_defaults() {
        let m = Minimal;
        assert!(matches!(
            m.status("node1").await,
            Err(Error::Unsupported("status"))
        ));
        assert!(matches!(m.list().await, Err(Error::Unsupported("list"))));
        assert!(matches!(
            m.monitor().await,
            Err(Error::Unsupported("monitor"))
        ));
        assert_eq!(m.metadata().name, "Minimal");
        assert!(m.metadata().parameters.is_empty());
        // Monitor falls back on the status, and reports its failure.
        assert!(matches!(
            WithStatus.monitor().await,
            Err(Error::Unreachable(m)) if m == "no answer"
        ));
    }
}
