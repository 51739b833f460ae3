//! Which connections a portal takes, sans IO: bounds on the connections
//! of a portal, of one initiator address, and of those not logged in yet
//! ([`Connections`]); and how long to pause after `accept` fails for lack
//! of descriptors or memory ([`AcceptBackoff`]).
//!
//! A connection over a bound is closed as soon as it is accepted, before
//! anything is read from it; each refusal is counted by its cause and
//! logged (the first, then at each power of two, so a flood cannot flood
//! the log).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

/// How many connections a portal holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections of the portal, logged in or not. The default, 1024, is
    /// the usual soft limit on a process's descriptors (one per
    /// connection): a target meant for more raises both; beyond it
    /// `accept` would fail anyway ([`AcceptBackoff`]). At about 100 KiB
    /// per idle session it bounds the portal to about 100 MiB.
    pub per_portal: usize,
    /// Connections from one initiator address. The default, 64, leaves
    /// room for a host's multipath sessions (open-iscsi opens one per
    /// path and target: 4 paths to 16 targets through one portal) while
    /// one host alone cannot take the portal's 1024.
    pub per_address: usize,
    /// Connections of the portal not logged in yet: an unauthenticated
    /// peer's. The default, 128, is far above the logins a portal sees at
    /// once (each takes a round trip or two) and, held the login timeout
    /// (15 s), still leaves 7/8 of the portal to logged-in sessions.
    pub logging_in: usize,
    /// Connections from one address not logged in yet. The default, 16,
    /// lets a host log in to many targets at once (open-iscsi's
    /// `iscsiadm -m node -L all`; a refused one is retried), while the
    /// portal-wide bound takes at least 8 addresses to fill.
    pub logging_in_per_address: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            per_portal: 1024,
            per_address: 64,
            logging_in: 128,
            logging_in_per_address: 16,
        }
    }
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The portal holds [`ConnectionLimits::per_portal`] connections.
    Portal,
    /// Its address holds [`ConnectionLimits::per_address`].
    Address,
    /// The portal holds [`ConnectionLimits::logging_in`] connections not
    /// logged in.
    LoggingIn,
    /// Its address holds [`ConnectionLimits::logging_in_per_address`]
    /// connections not logged in.
    AddressLoggingIn,
}

/// What a portal holds and has refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionCounts {
    /// Connections open.
    pub open: usize,
    /// Of those, not logged in yet.
    pub logging_in: usize,
    /// Refused over [`ConnectionLimits::per_portal`].
    pub refused_portal: u64,
    /// Refused over [`ConnectionLimits::per_address`].
    pub refused_address: u64,
    /// Refused over [`ConnectionLimits::logging_in`].
    pub refused_logging_in: u64,
    /// Refused over [`ConnectionLimits::logging_in_per_address`].
    pub refused_address_logging_in: u64,
}

/// The connections of one address.
#[derive(Debug, Clone, Copy, Default)]
struct PerAddress {
    open: usize,
    logging_in: usize,
}

/// A portal's connections, counted against its [`ConnectionLimits`].
///
/// ```
/// use ha_iscsi::admission::{ConnectionLimits, Connections, Refusal};
///
/// let limits = ConnectionLimits { logging_in_per_address: 1, ..ConnectionLimits::default() };
/// let mut connections = Connections::new(limits);
/// let host = "192.0.2.7".parse().unwrap();
/// connections.handle_accept(host)?;
/// assert_eq!(connections.handle_accept(host), Err(Refusal::AddressLoggingIn));
/// connections.handle_logged_in(host);
/// connections.handle_accept(host)?; // the first one is in: room again
/// # Ok::<(), Refusal>(())
/// ```
#[derive(Debug, Clone)]
pub struct Connections {
    limits: ConnectionLimits,
    by_address: HashMap<IpAddr, PerAddress>,
    counts: ConnectionCounts,
}

impl Connections {
    /// No connections yet.
    pub fn new(limits: ConnectionLimits) -> Self {
        Self {
            limits,
            by_address: HashMap::new(),
            counts: ConnectionCounts::default(),
        }
    }

    /// Its limits.
    pub fn limits(&self) -> ConnectionLimits {
        self.limits
    }

    /// What it holds and has refused.
    pub fn counts(&self) -> ConnectionCounts {
        self.counts
    }

    /// A connection from `address` was accepted: counted (not logged in)
    /// and kept, or refused (counted by cause, logged) and to be closed at
    /// once.
    pub fn handle_accept(&mut self, address: IpAddr) -> Result<(), Refusal> {
        let mine = self.by_address.get(&address).copied().unwrap_or_default();
        let limits = &self.limits;
        let refusal = if self.counts.open >= limits.per_portal {
            Some(Refusal::Portal)
        } else if mine.open >= limits.per_address {
            Some(Refusal::Address)
        } else if self.counts.logging_in >= limits.logging_in {
            Some(Refusal::LoggingIn)
        } else if mine.logging_in >= limits.logging_in_per_address {
            Some(Refusal::AddressLoggingIn)
        } else {
            None
        };
        if let Some(refusal) = refusal {
            self.refuse(address, refusal);
            return Err(refusal);
        }
        let mine = self.by_address.entry(address).or_default();
        mine.open += 1;
        mine.logging_in += 1;
        self.counts.open += 1;
        self.counts.logging_in += 1;
        Ok(())
    }

    /// A connection from `address` that [`Connections::handle_accept`]
    /// took has logged in: it no longer counts among those logging in.
    pub fn handle_logged_in(&mut self, address: IpAddr) {
        if let Some(mine) = self.by_address.get_mut(&address)
            && mine.logging_in > 0
        {
            mine.logging_in -= 1;
            self.counts.logging_in -= 1;
        }
    }

    /// A connection from `address` that [`Connections::handle_accept`]
    /// took has closed; `logged_in`: after [`Connections::handle_logged_in`].
    pub fn handle_close(&mut self, address: IpAddr, logged_in: bool) {
        let Some(mine) = self.by_address.get_mut(&address) else {
            return;
        };
        if !logged_in && mine.logging_in > 0 {
            mine.logging_in -= 1;
            self.counts.logging_in -= 1;
        }
        if mine.open > 0 {
            mine.open -= 1;
            self.counts.open -= 1;
        }
        if mine.open == 0 {
            self.by_address.remove(&address);
        }
    }

    fn refuse(&mut self, address: IpAddr, refusal: Refusal) {
        let (count, limit, what) = match refusal {
            Refusal::Portal => (
                &mut self.counts.refused_portal,
                self.limits.per_portal,
                "connections of the portal",
            ),
            Refusal::Address => (
                &mut self.counts.refused_address,
                self.limits.per_address,
                "connections from one address",
            ),
            Refusal::LoggingIn => (
                &mut self.counts.refused_logging_in,
                self.limits.logging_in,
                "connections not logged in",
            ),
            Refusal::AddressLoggingIn => (
                &mut self.counts.refused_address_logging_in,
                self.limits.logging_in_per_address,
                "connections from one address not logged in",
            ),
        };
        *count += 1;
        if count.is_power_of_two() {
            tracing::warn!(
                %address,
                limit,
                refused = *count,
                "{what} at the limit: connection closed"
            );
        }
    }
}

/// The pause after `accept` fails for lack of resources (descriptors:
/// EMFILE, ENFILE; memory: ENOBUFS, ENOMEM): trying again at once would
/// fail again and spin a core. It starts at 10 ms and doubles up to 1 s
/// while the failures go on, as tokio's and HAProxy's accept loops do; a
/// connection accepted ends it.
#[derive(Debug, Clone, Default)]
pub struct AcceptBackoff {
    next: Option<Duration>,
    failures: u64,
}

impl AcceptBackoff {
    /// The first pause.
    pub const FIRST: Duration = Duration::from_millis(10);
    /// The longest pause.
    pub const MAX: Duration = Duration::from_secs(1);

    /// No failures yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// `accept` failed with `error`: how long to pause before the next
    /// one. Resource exhaustion pauses (and is counted and logged, the
    /// first time and at each power of two); an error of one connection
    /// (it was reset before it was accepted...) does not.
    pub fn handle_error(&mut self, error: &std::io::Error) -> Option<Duration> {
        if !exhausted(error) {
            tracing::debug!(%error, "accept failed");
            return None;
        }
        let pause = self.next.unwrap_or(Self::FIRST);
        self.next = Some((pause * 2).min(Self::MAX));
        self.failures += 1;
        if self.failures.is_power_of_two() {
            tracing::warn!(
                %error,
                failures = self.failures,
                ?pause,
                "cannot accept connections: out of descriptors or memory"
            );
        }
        Some(pause)
    }

    /// A connection was accepted: the next failure pauses from
    /// [`AcceptBackoff::FIRST`] again.
    pub fn handle_accepted(&mut self) {
        self.next = None;
    }

    /// Accept failures for lack of resources so far.
    pub fn failures(&self) -> u64 {
        self.failures
    }
}

/// Whether `error` says the process or system ran out of descriptors or
/// memory.
fn exhausted(error: &std::io::Error) -> bool {
    // EMFILE 24, ENFILE 23, ENOBUFS 105, ENOMEM 12 on Linux.
    const LINUX: [i32; 4] = [24, 23, 105, 12];
    error.kind() == std::io::ErrorKind::OutOfMemory
        || error
            .raw_os_error()
            .is_some_and(|code| LINUX.contains(&code))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, n])
    }

    #[test]
    fn each_bound_refuses_and_counts() {
        let limits = ConnectionLimits {
            per_portal: 6,
            per_address: 3,
            logging_in: 4,
            logging_in_per_address: 2,
        };
        let mut c = Connections::new(limits);
        assert_eq!(c.handle_accept(ip(1)), Ok(()));
        assert_eq!(c.handle_accept(ip(1)), Ok(()));
        assert_eq!(c.handle_accept(ip(1)), Err(Refusal::AddressLoggingIn));
        c.handle_logged_in(ip(1));
        assert_eq!(c.handle_accept(ip(1)), Ok(()));
        assert_eq!(c.handle_accept(ip(1)), Err(Refusal::Address));
        assert_eq!(c.handle_accept(ip(2)), Ok(()));
        assert_eq!(c.handle_accept(ip(3)), Ok(()));
        assert_eq!(c.counts().logging_in, 4);
        assert_eq!(c.handle_accept(ip(4)), Err(Refusal::LoggingIn));
        for _ in 0..3 {
            c.handle_logged_in(ip(2));
            c.handle_logged_in(ip(3));
        }
        assert_eq!(c.handle_accept(ip(4)), Ok(()));
        assert_eq!(c.counts().open, 6);
        assert_eq!(c.handle_accept(ip(5)), Err(Refusal::Portal));
        let counts = c.counts();
        assert_eq!(
            (
                counts.refused_portal,
                counts.refused_address,
                counts.refused_logging_in,
                counts.refused_address_logging_in
            ),
            (1, 1, 1, 1)
        );
        c.handle_close(ip(4), false);
        assert_eq!(c.handle_accept(ip(5)), Ok(()));
    }

    #[test]
    fn the_pause_doubles_to_a_second_and_resets() {
        let emfile = std::io::Error::from_raw_os_error(24);
        let mut b = AcceptBackoff::new();
        let pauses: Vec<u64> = (0..9)
            .map(|_| b.handle_error(&emfile).unwrap().as_millis() as u64)
            .collect();
        assert_eq!(pauses, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        b.handle_accepted();
        assert_eq!(b.handle_error(&emfile), Some(AcceptBackoff::FIRST));
        for code in [23, 105, 12] {
            let error = std::io::Error::from_raw_os_error(code);
            assert!(b.handle_error(&error).is_some(), "{error}");
        }
        assert_eq!(b.failures(), 13);
        // ECONNABORTED: that connection's trouble, not the system's.
        let aborted = std::io::Error::from_raw_os_error(103);
        assert_eq!(b.handle_error(&aborted), None);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Accept(u8),
        LogIn(usize),
        Close(usize),
    }

    proptest! {
        /// Whatever connects, logs in and closes, in any order, the counts
        /// stay within the limits and agree with the connections held.
        #[test]
        fn the_counts_stay_within_the_limits(
            limits in (1usize..12, 1usize..6, 1usize..8, 1usize..4),
            ops in prop::collection::vec(prop_oneof![
                (0u8..4).prop_map(Op::Accept),
                any::<usize>().prop_map(Op::LogIn),
                any::<usize>().prop_map(Op::Close),
            ], 0..200),
        ) {
            let limits = ConnectionLimits {
                per_portal: limits.0,
                per_address: limits.1,
                logging_in: limits.2,
                logging_in_per_address: limits.3,
            };
            let mut c = Connections::new(limits);
            // The connections held: address and whether logged in.
            let mut held: Vec<(IpAddr, bool)> = Vec::new();
            for op in ops {
                match op {
                    Op::Accept(n) if c.handle_accept(ip(n)).is_ok() => held.push((ip(n), false)),
                    Op::LogIn(i) if !held.is_empty() => {
                        let i = i % held.len();
                        if !held[i].1 {
                            held[i].1 = true;
                            c.handle_logged_in(held[i].0);
                        }
                    }
                    Op::Close(i) if !held.is_empty() => {
                        let (address, logged_in) = held.remove(i % held.len());
                        c.handle_close(address, logged_in);
                    }
                    _ => {}
                }
                let counts = c.counts();
                let logging_in = held.iter().filter(|(_, l)| !l).count();
                prop_assert_eq!(counts.open, held.len());
                prop_assert_eq!(counts.logging_in, logging_in);
                prop_assert!(counts.open <= limits.per_portal);
                prop_assert!(counts.logging_in <= limits.logging_in);
                for n in 0..4 {
                    let mine = held.iter().filter(|(a, _)| *a == ip(n));
                    let (open, waiting) = mine.fold((0, 0), |(o, w), (_, l)| (o + 1, w + usize::from(!l)));
                    prop_assert!(open <= limits.per_address);
                    prop_assert!(waiting <= limits.logging_in_per_address);
                }
            }
        }
    }
}
