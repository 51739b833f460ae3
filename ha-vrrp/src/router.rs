//! The VRRP router: RFC 9568's state machine for one virtual router, sans IO.
//!
//! Inputs carry the current time: [`Router::handle_startup`],
//! [`Router::handle_advert`] (an advertisement the driver received, decoded
//! and found to carry TTL 255), [`Router::handle_timeout`] and
//! [`Router::handle_shutdown`]. Outputs are pulled: [`Router::poll_output`]
//! (advertisements to send, virtual addresses to add or remove, gratuitous
//! ARP / unsolicited NA bursts, state changes) and [`Router::poll_timeout`]
//! (when to call `handle_timeout` next); every input may queue outputs,
//! and the driver drains them all after each. No socket, clock or task in here,
//! so a test can run many routers on a simulated network.
//!
//! VRRPv2 and VRRPv3 share the machine; they differ in the skew time
//! (RFC 3768: `(256 - priority) / 256` s; RFC 9568: the same fraction of the
//! master's advertisement interval) and in v3's learning of the master's
//! interval.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::error::{Discard, Ignored};
use crate::packet::{Advert, Auth, Interval, Version};

/// A virtual router's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterConfig {
    /// Virtual router id, 1..=255.
    pub vrid: u8,
    /// Priority, 1..=255 (255: this router owns the addresses).
    pub priority: u8,
    /// Protocol version.
    pub version: Version,
    /// Advertisement interval (`advert_int`).
    pub interval: Interval,
    /// The virtual addresses.
    pub addresses: Vec<IpAddr>,
    /// This router's primary address on the link: the advertisement source,
    /// and the tie-breaker between equal priorities.
    pub primary: IpAddr,
    /// Whether a higher-priority backup takes over from a lower-priority
    /// master (`nopreempt` turns it off).
    pub preempt: bool,
    /// VRRPv2 authentication (`authentication { auth_type PASS ... }`).
    pub auth: Auth,
    /// Gratuitous ARPs / unsolicited NAs sent at once on becoming master
    /// (keepalived's `garp_master_repeat`, default 5).
    pub garp_repeat: u32,
    /// Delay before a second burst (keepalived's `garp_master_delay`,
    /// default 5 s; `None`: no second burst).
    pub garp_delay: Option<Duration>,
    /// A master re-announces its addresses this often, for switches and
    /// neighbours whose caches expire (keepalived's `garp_master_refresh`;
    /// `None`, the default: never).
    pub garp_refresh: Option<Duration>,
    /// How many messages each refresh sends (`garp_master_refresh_repeat`,
    /// default 1).
    pub garp_refresh_repeat: u32,
    /// keepalived's `preempt_delay`: a higher-priority backup lets a lower
    /// master be for this long after first seeing it before taking over.
    pub preempt_delay: Option<Duration>,
    /// Accept_Mode (RFC 9568 6.1): whether a master that is not the owner
    /// accepts packets sent to the virtual addresses. See
    /// [`Router::accepts`].
    pub accept: bool,
    /// Tracked objects (keepalived's `track_script`, `track_interface`,
    /// `track_file`), reported by the driver through [`Router::handle_track`].
    pub tracks: Vec<Track>,
}

/// A tracked object and what its state does to the router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Track {
    /// Its name, for logs.
    pub name: String,
    /// keepalived's weight. For an up/down object (script, interface) a
    /// positive weight is added to the priority while it is up, a negative
    /// one while it is down, and weight 0 puts the router in
    /// [`State::Fault`] while it is down. For a value (`track_file`) the
    /// value times the weight is added; with weight 0 any value but 0 means
    /// FAULT, and so does a product below -253.
    pub weight: i32,
}

/// A tracked object's last reported state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Up,
    Down,
    Value(i64),
}

impl Level {
    /// What the object adds to the priority, or `None` for FAULT.
    fn adjustment(self, weight: i32) -> Option<i64> {
        let weight = i64::from(weight);
        match self {
            Level::Up if weight > 0 => Some(weight),
            Level::Down if weight < 0 => Some(weight),
            Level::Down if weight == 0 => None,
            Level::Up | Level::Down => Some(0),
            Level::Value(v) if weight == 0 => (v == 0).then_some(0),
            Level::Value(v) => Some(v.saturating_mul(weight)).filter(|d| *d >= -253),
        }
    }
}

impl RouterConfig {
    /// Settings with keepalived's defaults for the rest.
    pub fn new(vrid: u8, priority: u8, primary: IpAddr, addresses: Vec<IpAddr>) -> Self {
        Self {
            vrid,
            priority,
            version: Version::V2,
            interval: Interval::from_centis(100).expect("1 s is valid"),
            addresses,
            primary,
            preempt: true,
            auth: Auth::None,
            garp_repeat: 5,
            garp_delay: Some(Duration::from_secs(5)),
            garp_refresh: None,
            garp_refresh_repeat: 1,
            preempt_delay: None,
            accept: true,
            tracks: Vec::new(),
        }
    }
}

/// The router's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Not started, or stopped.
    Initialize,
    /// Listening; takes over when the master goes quiet.
    Backup,
    /// Owns the virtual addresses and advertises.
    Master,
    /// A tracked object of weight 0 is down: silent, owns nothing.
    Fault,
}

/// What the driver must do.
///
/// Every `handle_*` call may queue outputs, [`Router::handle_startup`]
/// included; the driver carries them out in the order
/// [`Router::poll_output`] hands them over, until it returns `None`, before
/// the next input.
///
/// On becoming master the order is [`AddAddresses`](Output::AddAddresses),
/// the first advertisement ([`Transmit`](Output::Transmit)),
/// [`Announce`](Output::Announce), then
/// [`StateChanged`](Output::StateChanged). The state change comes last
/// because keepalived runs `notify_master` last (it sets the addresses,
/// sends the gratuitous ARPs, then runs the notify scripts): a script that
/// starts a service on the virtual address finds it in place. keepalived
/// logs "Entering MASTER STATE" before all that; a driver that logs on
/// `StateChanged` logs it after the addresses are set.
/// Leaving master, the priority-0 advertisement and `RemoveAddresses` also
/// come before `StateChanged`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send this advertisement from `src`.
    Transmit {
        /// The source address: the router's [`RouterConfig::primary`]. A
        /// receiving router is given it with the advertisement
        /// ([`Router::handle_advert`]: it breaks ties between equal
        /// priorities), and VRRPv3's checksum covers it
        /// ([`Path::src`](crate::packet::Path::src)).
        src: IpAddr,
        /// The advertisement.
        advert: Advert,
    },
    /// Add the virtual addresses to the interface.
    AddAddresses(Vec<IpAddr>),
    /// Remove them.
    RemoveAddresses(Vec<IpAddr>),
    /// Send this many gratuitous ARPs / unsolicited NAs for every address.
    Announce {
        /// How many of each.
        count: u32,
    },
    /// The state changed (for notify scripts and logs).
    StateChanged {
        /// Before.
        from: State,
        /// After.
        to: State,
    },
}

/// One virtual router.
///
/// Inputs are its `handle_*` methods, each given the current time; after
/// each, the driver drains [`Router::poll_output`] and sleeps until
/// [`Router::poll_timeout`] or the next input.
#[derive(Debug)]
pub struct Router {
    config: RouterConfig,
    state: State,
    /// Master_Adver_Interval: ours when master, learned from the master in v3.
    master_interval: Interval,
    /// When the master is considered down (Backup).
    down_at: Option<Instant>,
    /// When to advertise next (Master).
    advert_at: Option<Instant>,
    /// When to send the second gratuitous ARP burst (Master).
    garp_at: Option<Instant>,
    /// When to re-announce the addresses (Master, `garp_refresh`).
    refresh_at: Option<Instant>,
    /// Each tracked object's state, in `config.tracks` order.
    tracked: Vec<Level>,
    /// Another member of this router's sync group is in FAULT.
    group_fault: bool,
    /// When a lower-priority master was first seen (for `preempt_delay`).
    lower_master_since: Option<Instant>,
    outputs: VecDeque<Output>,
}

impl Router {
    /// A router in [`State::Initialize`]; call [`Router::handle_startup`].
    pub fn new(config: RouterConfig) -> Self {
        let master_interval = config.interval;
        // Tracked objects count as up until the driver says otherwise.
        let tracked = vec![Level::Up; config.tracks.len()];
        Self {
            config,
            state: State::Initialize,
            master_interval,
            down_at: None,
            advert_at: None,
            garp_at: None,
            refresh_at: None,
            tracked,
            group_fault: false,
            lower_master_since: None,
            outputs: VecDeque::new(),
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The settings.
    pub fn config(&self) -> &RouterConfig {
        &self.config
    }

    /// The priority in force: the configured one adjusted by the weights of
    /// tracked objects, kept within 1..=254. An address owner (255) is not
    /// adjusted, as in keepalived.
    pub fn priority(&self) -> u8 {
        let base = self.config.priority;
        if base == 255 {
            return base;
        }
        let adjust: i64 = self
            .config
            .tracks
            .iter()
            .zip(&self.tracked)
            .filter_map(|(t, level)| level.adjustment(t.weight))
            .fold(0, i64::saturating_add);
        i64::from(base).saturating_add(adjust).clamp(1, 254) as u8
    }

    fn faulted(&self) -> bool {
        self.group_fault
            || self
                .config
                .tracks
                .iter()
                .zip(&self.tracked)
                .any(|(t, level)| level.adjustment(t.weight).is_none())
    }

    /// Whether packets addressed to the virtual addresses are to be
    /// accepted now (RFC 9568 6.4.3): by a master that owns them or runs in
    /// Accept_Mode; never by a backup (which does not hold them). The
    /// driver enforces this only as far as it holds addresses: dropping
    /// traffic a non-accepting master receives takes a packet filter.
    pub fn accepts(&self) -> bool {
        self.state == State::Master && (self.config.priority == 255 || self.config.accept)
    }

    /// Skew_Time: lower priorities wait longer before taking over.
    pub fn skew(&self) -> Duration {
        let weight = 256 - u32::from(self.priority());
        match self.config.version {
            Version::V2 => Duration::from_secs(1) * weight / 256,
            Version::V3 => self.master_interval.duration() * weight / 256,
        }
    }

    /// Master_Down_Interval: how long a backup waits for the master.
    pub fn master_down_interval(&self) -> Duration {
        self.master_interval.duration() * 3 + self.skew()
    }

    /// Starts the router (RFC 9568 6.4.1): leaves [`State::Initialize`]
    /// for [`State::Backup`] (the address owner, priority 255, for
    /// [`State::Master`]; [`State::Fault`] while a weight-0 tracked object
    /// is down). Like every `handle_*`, it queues outputs to carry out at
    /// once ([`Router::poll_output`]): a router that is not the owner first
    /// removes the virtual addresses (a crashed predecessor may have left
    /// them), then reports its state change.
    pub fn handle_startup(&mut self, now: Instant) {
        if self.state != State::Initialize {
            return;
        }
        if self.config.priority != 255 || self.faulted() {
            // Addresses a crashed predecessor left behind must not answer
            // for a router that is not master (RFC 9568 6.4.2).
            self.outputs
                .push_back(Output::RemoveAddresses(self.config.addresses.clone()));
        }
        self.enter_service(now);
    }

    /// Initialize's decision: Fault, Master for the owner, else Backup.
    fn enter_service(&mut self, now: Instant) {
        if self.faulted() {
            self.set_state(State::Fault);
        } else if self.config.priority == 255 {
            self.become_master(now);
        } else {
            self.become_backup(now);
        }
    }

    /// Records a tracked object's state (index into `config.tracks`).
    /// Priority changes show in the next advertisement; a weight-0 object
    /// going down moves the router to [`State::Fault`] (a master first
    /// resigns, so backups take over at once), and coming back up returns it
    /// to [`State::Backup`].
    pub fn handle_track(&mut self, now: Instant, track: usize, up: bool) {
        self.track(now, track, if up { Level::Up } else { Level::Down });
    }

    /// Records a tracked value (keepalived's `track_file`: the number in
    /// the file), weighed as [`Track::weight`] describes.
    pub fn handle_track_value(&mut self, now: Instant, track: usize, value: i64) {
        self.track(now, track, Level::Value(value));
    }

    /// Follows the other members of this router's `vrrp_sync_group`: a
    /// member that became master on its own pulls this router to master, one
    /// that went back to backup pushes a master to backup (resigning, so
    /// the peer group takes over together), and while any member is in
    /// FAULT so is this router. Only a member's own transitions should be
    /// passed on, not ones this call caused.
    pub fn handle_group(&mut self, now: Instant, member: State, any_faulted: bool) {
        if self.group_fault != any_faulted {
            self.group_fault = any_faulted;
            self.refresh_fault(now);
        }
        match (member, self.state) {
            (State::Master, State::Backup) => self.become_master(now),
            (State::Backup, State::Master) => {
                self.leave(now);
                self.become_backup(now);
            }
            _ => {}
        }
    }

    fn track(&mut self, now: Instant, track: usize, level: Level) {
        let Some(slot) = self.tracked.get_mut(track) else {
            return;
        };
        if *slot == level {
            return;
        }
        *slot = level;
        self.refresh_fault(now);
    }

    /// Enters or leaves FAULT as the tracked objects and the group say.
    fn refresh_fault(&mut self, now: Instant) {
        match (self.state, self.faulted()) {
            (State::Master | State::Backup, true) => {
                self.leave(now);
                self.set_state(State::Fault);
            }
            (State::Fault, false) => self.enter_service(now),
            _ => {}
        }
    }

    /// Acts on a received advertisement from `src`.
    pub fn handle_advert(
        &mut self,
        now: Instant,
        src: IpAddr,
        advert: &Advert,
    ) -> Result<(), Ignored> {
        if advert.vrid != self.config.vrid {
            return Err(Ignored::OtherVrid {
                received: advert.vrid,
                ours: self.config.vrid,
            });
        }
        if advert.version != self.config.version {
            return Err(Ignored::OtherVersion {
                received: advert.version,
                ours: self.config.version,
            });
        }
        if self.config.version == Version::V2 {
            if advert.auth != self.config.auth {
                return Err(Ignored::Auth);
            }
            if advert.interval != self.config.interval {
                return Err(Ignored::IntervalMismatch {
                    received: advert.interval,
                    ours: self.config.interval,
                });
            }
        }
        // The address owner never defers to anyone (RFC 9568 7.1).
        if self.config.priority == 255 && matches!(self.state, State::Master | State::Backup) {
            return Err(Ignored::Discarded(Discard::AddressOwner));
        }
        let ours = self.priority();
        match self.state {
            State::Initialize | State::Fault => Err(Ignored::NotRunning { state: self.state }),
            State::Backup => {
                let lower = advert.priority != 0 && advert.priority < ours;
                if !lower {
                    self.lower_master_since = None;
                }
                let preempt_waits = lower
                    && self.config.preempt_delay.is_some_and(|delay| {
                        now < *self.lower_master_since.get_or_insert(now) + delay
                    });
                if advert.priority == 0 {
                    // The master is leaving: take over after the skew only.
                    self.down_at = Some(now + self.skew());
                    Ok(())
                } else if !self.config.preempt || !lower || preempt_waits {
                    if self.config.version == Version::V3 {
                        self.master_interval = advert.interval;
                    }
                    self.down_at = Some(now + self.master_down_interval());
                    Ok(())
                } else {
                    Err(Ignored::Discarded(Discard::LowerPriority {
                        received: advert.priority,
                        ours,
                    }))
                }
            }
            State::Master => {
                if advert.priority == 0 {
                    // Another master resigned: show we are here at once.
                    self.advertise(now);
                    Ok(())
                } else if advert.priority > ours
                    || (advert.priority == ours && src > self.config.primary)
                {
                    if self.config.version == Version::V3 {
                        self.master_interval = advert.interval;
                    }
                    self.advert_at = None;
                    self.garp_at = None;
                    self.refresh_at = None;
                    self.down_at = Some(now + self.master_down_interval());
                    self.outputs
                        .push_back(Output::RemoveAddresses(self.config.addresses.clone()));
                    self.set_state(State::Backup);
                    Ok(())
                } else {
                    // Another master that should yield: a healed partition,
                    // or a frozen master thawing. As keepalived does, advertise
                    // at once (it steps down without waiting for our next
                    // advert) and announce the addresses again: neighbours
                    // that followed the other master's announcements must
                    // come back, or they keep sending to a host that no
                    // longer holds the addresses.
                    self.advertise(now);
                    self.outputs.push_back(Output::Announce {
                        count: self.config.garp_repeat,
                    });
                    Ok(())
                }
            }
        }
    }

    /// Fires the timers that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::Backup => {
                if self.down_at.is_some_and(|at| at <= now) {
                    self.become_master(now);
                }
            }
            State::Master => {
                if self.advert_at.is_some_and(|at| at <= now) {
                    self.advertise(now);
                }
                if self.garp_at.is_some_and(|at| at <= now) {
                    self.garp_at = None;
                    self.outputs.push_back(Output::Announce {
                        count: self.config.garp_repeat,
                    });
                }
                if let Some(every) = self.config.garp_refresh
                    && self.refresh_at.is_some_and(|at| at <= now)
                {
                    self.refresh_at = Some(now + every);
                    self.outputs.push_back(Output::Announce {
                        count: self.config.garp_refresh_repeat,
                    });
                }
            }
            State::Initialize | State::Fault => {}
        }
    }

    /// Stops the router: a master resigns with a priority-0 advertisement
    /// and drops the addresses (RFC 9568 6.4.3).
    pub fn handle_shutdown(&mut self, now: Instant) {
        self.leave(now);
        if self.state != State::Initialize {
            self.set_state(State::Initialize);
        }
    }

    /// Stops whatever the current state does; a master resigns.
    fn leave(&mut self, _now: Instant) {
        if self.state == State::Master {
            let mut resign = self.advert();
            resign.priority = 0;
            self.transmit(resign);
            self.outputs
                .push_back(Output::RemoveAddresses(self.config.addresses.clone()));
        }
        self.down_at = None;
        self.advert_at = None;
        self.garp_at = None;
        self.refresh_at = None;
    }

    /// The next thing for the driver to do, in order; call it until it
    /// returns `None` after every `handle_*` call (see [`Output`]).
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`Router::handle_timeout`] is due next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.down_at, self.advert_at, self.garp_at, self.refresh_at]
            .into_iter()
            .flatten()
            .min()
    }

    fn become_backup(&mut self, now: Instant) {
        self.master_interval = self.config.interval;
        self.lower_master_since = None;
        self.down_at = Some(now + self.master_down_interval());
        self.set_state(State::Backup);
    }

    fn become_master(&mut self, now: Instant) {
        self.down_at = None;
        self.master_interval = self.config.interval;
        self.outputs
            .push_back(Output::AddAddresses(self.config.addresses.clone()));
        self.advertise(now);
        self.outputs.push_back(Output::Announce {
            count: self.config.garp_repeat,
        });
        self.garp_at = self.config.garp_delay.map(|d| now + d);
        self.refresh_at = self.config.garp_refresh.map(|d| now + d);
        self.set_state(State::Master);
    }

    fn advertise(&mut self, now: Instant) {
        self.transmit(self.advert());
        self.advert_at = Some(now + self.config.interval.duration());
    }

    fn transmit(&mut self, advert: Advert) {
        self.outputs.push_back(Output::Transmit {
            src: self.config.primary,
            advert,
        });
    }

    fn advert(&self) -> Advert {
        Advert {
            version: self.config.version,
            vrid: self.config.vrid,
            priority: self.priority(),
            interval: self.config.interval,
            addresses: self.config.addresses.clone(),
            auth: self.config.auth,
        }
    }

    fn set_state(&mut self, to: State) {
        let from = self.state;
        self.state = to;
        self.outputs.push_back(Output::StateChanged { from, to });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(priority: u8) -> RouterConfig {
        RouterConfig::new(
            51,
            priority,
            "10.0.0.1".parse().unwrap(),
            vec!["10.0.0.100".parse().unwrap()],
        )
    }

    /// A router whose link is tracked with weight 0 (down means FAULT).
    fn with_link_track(priority: u8) -> RouterConfig {
        let mut cfg = config(priority);
        cfg.tracks = vec![Track {
            name: "eth0".into(),
            weight: 0,
        }];
        cfg
    }

    fn outputs(router: &mut Router) -> Vec<Output> {
        std::iter::from_fn(|| router.poll_output()).collect()
    }

    #[test]
    fn the_owner_becomes_master_at_once_and_announces() {
        let now = Instant::now();
        let mut r = Router::new(config(255));
        r.handle_startup(now);
        let out = outputs(&mut r);
        assert_eq!(r.state(), State::Master);
        assert!(matches!(out[0], Output::AddAddresses(_)));
        assert!(matches!(&out[1], Output::Transmit { advert: a, .. } if a.priority == 255));
        assert_eq!(out[2], Output::Announce { count: 5 });
        // The second burst after garp_master_delay, adverts every interval.
        assert_eq!(r.poll_timeout(), Some(now + Duration::from_secs(1)));
        r.handle_timeout(now + Duration::from_secs(5));
        let out = outputs(&mut r);
        assert!(out.contains(&Output::Announce { count: 5 }));
    }

    #[test]
    fn shutdown_resigns_with_priority_zero_and_drops_the_addresses() {
        let now = Instant::now();
        let mut r = Router::new(config(255));
        r.handle_startup(now);
        outputs(&mut r);
        r.handle_shutdown(now);
        let out = outputs(&mut r);
        assert!(matches!(&out[0], Output::Transmit { advert: a, .. } if a.priority == 0));
        assert!(matches!(out[1], Output::RemoveAddresses(_)));
        assert_eq!(r.state(), State::Initialize);
        assert_eq!(r.poll_timeout(), None);
    }

    #[test]
    fn foreign_and_unauthenticated_adverts_are_ignored() {
        let now = Instant::now();
        let mut cfg = config(100);
        cfg.auth = Auth::password("secret123");
        let mut r = Router::new(cfg);
        r.handle_startup(now);
        let src: IpAddr = "10.0.0.2".parse().unwrap();
        let mut advert = r.advert();
        advert.vrid = 52;
        assert_eq!(
            r.handle_advert(now, src, &advert),
            Err(Ignored::OtherVrid {
                received: 52,
                ours: 51
            })
        );
        advert.vrid = 51;
        advert.auth = Auth::password("wrong");
        assert_eq!(r.handle_advert(now, src, &advert), Err(Ignored::Auth));
        advert.auth = Auth::password("secret12");
        advert.interval = Interval::from_centis(200).unwrap();
        assert_eq!(
            r.handle_advert(now, src, &advert),
            Err(Ignored::IntervalMismatch {
                received: Interval::from_centis(200).unwrap(),
                ours: Interval::from_centis(100).unwrap(),
            })
        );
        advert.interval = Interval::from_centis(100).unwrap();
        advert.version = Version::V3;
        assert_eq!(
            r.handle_advert(now, src, &advert),
            Err(Ignored::OtherVersion {
                received: Version::V3,
                ours: Version::V2,
            })
        );
    }

    #[test]
    fn v3_backups_learn_the_masters_interval() {
        let now = Instant::now();
        let mut cfg = config(100);
        cfg.version = Version::V3;
        let mut r = Router::new(cfg);
        r.handle_startup(now);
        let mut advert = r.advert();
        advert.priority = 200;
        advert.interval = Interval::from_centis(20).unwrap();
        r.handle_advert(now, "10.0.0.2".parse().unwrap(), &advert)
            .unwrap();
        // 3 x 200 ms + (256 - 100) / 256 x 200 ms
        assert_eq!(
            r.master_down_interval(),
            Duration::from_millis(600) + Duration::from_millis(200) * 156 / 256
        );
        assert_eq!(r.poll_timeout(), Some(now + r.master_down_interval()));
    }

    #[test]
    fn tracked_weights_adjust_the_advertised_priority() {
        let now = Instant::now();
        let mut cfg = config(100);
        cfg.tracks = vec![
            Track {
                name: "chk_haproxy".into(),
                weight: -60,
            },
            Track {
                name: "uplink".into(),
                weight: 20,
            },
        ];
        let mut r = Router::new(cfg);
        r.handle_startup(now);
        assert_eq!(r.priority(), 120);
        r.handle_track(now, 0, false);
        assert_eq!(r.priority(), 60);
        r.handle_track(now, 1, false);
        assert_eq!(r.priority(), 40);
        assert_eq!(r.state(), State::Backup);
        // Clamped to 1..=254; an owner is never adjusted.
        let mut cfg = config(250);
        cfg.tracks = vec![Track {
            name: "up".into(),
            weight: 100,
        }];
        assert_eq!(Router::new(cfg).priority(), 254);
        let mut cfg = config(255);
        cfg.tracks = vec![Track {
            name: "down".into(),
            weight: -100,
        }];
        let mut owner = Router::new(cfg);
        owner.handle_track(now, 0, false);
        assert_eq!(owner.priority(), 255);
    }

    #[test]
    fn a_weight_zero_track_faults_the_router_and_a_master_resigns() {
        let now = Instant::now();
        let cfg = with_link_track(255);
        let mut r = Router::new(cfg);
        r.handle_startup(now);
        assert_eq!(r.state(), State::Master);
        outputs(&mut r);
        r.handle_track(now, 0, false);
        let out = outputs(&mut r);
        assert_eq!(r.state(), State::Fault);
        assert!(matches!(&out[0], Output::Transmit { advert: a, .. } if a.priority == 0));
        assert!(matches!(out[1], Output::RemoveAddresses(_)));
        assert_eq!(r.poll_timeout(), None);
        let advert = r.advert();
        assert_eq!(
            r.handle_advert(now, "10.0.0.2".parse().unwrap(), &advert),
            Err(Ignored::NotRunning {
                state: State::Fault
            })
        );
        // Back up: an owner goes straight to master, others to backup.
        r.handle_track(now, 0, true);
        assert_eq!(r.state(), State::Master);
        let cfg = with_link_track(100);
        let mut r = Router::new(cfg);
        r.handle_startup(now);
        assert_eq!(r.state(), State::Backup);
        r.handle_track(now, 0, false);
        assert_eq!(r.state(), State::Fault);
        r.handle_track(now, 0, true);
        assert_eq!(r.state(), State::Backup);
        assert_eq!(r.poll_timeout(), Some(now + r.master_down_interval()));
    }

    #[test]
    fn preempt_delay_lets_a_lower_master_be_for_a_while() {
        let now = Instant::now();
        let mut cfg = config(150);
        cfg.preempt_delay = Some(Duration::from_secs(10));
        let mut r = Router::new(cfg);
        r.handle_startup(now);
        let mut lower = r.advert();
        lower.priority = 100;
        let src: IpAddr = "10.0.0.2".parse().unwrap();
        // Accepted (timer reset) during the delay...
        for s in 0..10 {
            let t = now + Duration::from_secs(s);
            assert_eq!(r.handle_advert(t, src, &lower), Ok(()));
            assert_eq!(r.poll_timeout(), Some(t + r.master_down_interval()));
        }
        // ...then discarded, so the down timer runs out and it takes over.
        let t = now + Duration::from_secs(10);
        assert_eq!(
            r.handle_advert(t, src, &lower),
            Err(Ignored::Discarded(Discard::LowerPriority {
                received: 100,
                ours: 150
            }))
        );
    }

    #[test]
    fn the_owner_ignores_other_adverts_and_returns_from_fault_as_master() {
        let now = Instant::now();
        let cfg = with_link_track(255);
        let mut r = Router::new(cfg);
        r.handle_startup(now);
        let mut other = r.advert();
        other.priority = 255;
        // A higher address with the same priority does not move the owner.
        assert_eq!(
            r.handle_advert(now, "10.0.0.9".parse().unwrap(), &other),
            Err(Ignored::Discarded(Discard::AddressOwner))
        );
        assert_eq!(r.state(), State::Master);
        r.handle_track(now, 0, false);
        assert_eq!(r.state(), State::Fault);
        r.handle_track(now, 0, true);
        assert_eq!(r.state(), State::Master);
    }

    #[test]
    fn startup_queues_its_outputs_and_a_new_master_reports_its_state_last() {
        let now = Instant::now();
        let cfg = config(100);
        let (primary, addresses) = (cfg.primary, cfg.addresses.clone());
        let mut r = Router::new(cfg);
        r.handle_startup(now);
        assert_eq!(
            outputs(&mut r),
            [
                Output::RemoveAddresses(addresses.clone()),
                Output::StateChanged {
                    from: State::Initialize,
                    to: State::Backup
                },
            ]
        );
        // Nobody advertises: it takes over. The addresses are set and
        // announced before the state change is reported (keepalived runs
        // notify_master after its gratuitous ARPs).
        r.handle_timeout(r.poll_timeout().unwrap());
        let out = outputs(&mut r);
        assert_eq!(out.len(), 4, "{out:?}");
        assert_eq!(out[0], Output::AddAddresses(addresses));
        assert!(
            matches!(&out[1], Output::Transmit { src, advert } if *src == primary && advert.priority == 100)
        );
        assert_eq!(out[2], Output::Announce { count: 5 });
        assert_eq!(
            out[3],
            Output::StateChanged {
                from: State::Backup,
                to: State::Master
            }
        );
        // Its resignation leaves from the same address.
        r.handle_shutdown(now);
        assert!(
            matches!(&outputs(&mut r)[0], Output::Transmit { src, advert } if *src == primary && advert.priority == 0)
        );
    }

    #[test]
    fn a_backup_clears_addresses_a_predecessor_left_behind() {
        let mut r = Router::new(config(100));
        r.handle_startup(Instant::now());
        let out = outputs(&mut r);
        assert!(matches!(out[0], Output::RemoveAddresses(_)), "{out:?}");
        assert_eq!(r.state(), State::Backup);
    }

    #[test]
    fn a_tracked_file_value_is_weighed_and_can_fault() {
        let now = Instant::now();
        let mut cfg = config(100);
        let track = |weight| Track {
            name: "f".into(),
            weight,
        };
        cfg.tracks = vec![track(-10), track(0)];
        let mut r = Router::new(cfg);
        r.handle_startup(now);
        r.handle_track_value(now, 0, 3);
        assert_eq!(r.priority(), 70, "3 x -10 off 100");
        r.handle_track_value(now, 0, -2);
        assert_eq!(r.priority(), 120);
        r.handle_track_value(now, 0, 30);
        assert_eq!(r.state(), State::Fault, "a product below -253 faults");
        r.handle_track_value(now, 0, 0);
        assert_eq!(r.state(), State::Backup);
        r.handle_track_value(now, 1, 1);
        assert_eq!(r.state(), State::Fault, "weight 0: any value but 0 faults");
        r.handle_track_value(now, 1, 0);
        assert_eq!(r.state(), State::Backup);
    }

    #[test]
    fn a_sync_group_moves_its_members_together() {
        let now = Instant::now();
        let mut r = Router::new(config(100));
        r.handle_startup(now);
        outputs(&mut r);
        r.handle_group(now, State::Master, false);
        assert_eq!(r.state(), State::Master, "pulled to master");
        assert!(outputs(&mut r).contains(&Output::AddAddresses(r.config.addresses.clone())));
        r.handle_group(now, State::Backup, false);
        assert_eq!(r.state(), State::Backup, "pushed back");
        let out = outputs(&mut r);
        assert!(
            matches!(&out[0], Output::Transmit { advert: a, .. } if a.priority == 0),
            "{out:?}"
        );
        assert!(out.contains(&Output::RemoveAddresses(r.config.addresses.clone())));
        r.handle_group(now, State::Fault, true);
        assert_eq!(r.state(), State::Fault);
        r.handle_group(now, State::Backup, false);
        assert_eq!(r.state(), State::Backup, "the group left FAULT");
    }

    #[test]
    fn a_master_refreshes_its_announcements() {
        let now = Instant::now();
        let mut cfg = config(255);
        cfg.garp_delay = None;
        cfg.garp_refresh = Some(Duration::from_secs(60));
        cfg.garp_refresh_repeat = 2;
        let mut r = Router::new(cfg);
        r.handle_startup(now);
        outputs(&mut r);
        for minute in 1..=3 {
            let at = now + Duration::from_secs(60 * minute);
            r.handle_timeout(at);
            assert!(
                outputs(&mut r).contains(&Output::Announce { count: 2 }),
                "minute {minute}"
            );
        }
    }

    #[test]
    fn a_master_hearing_a_lower_master_reasserts_itself_at_once() {
        let now = Instant::now();
        let mut r = Router::new(config(150));
        r.handle_startup(now);
        r.handle_timeout(now + r.master_down_interval());
        assert_eq!(r.state(), State::Master);
        outputs(&mut r);
        let mut lower = r.advert();
        lower.priority = 100;
        let t = now + Duration::from_secs(5);
        assert_eq!(
            r.handle_advert(t, "10.0.0.2".parse().unwrap(), &lower),
            Ok(())
        );
        let out = outputs(&mut r);
        assert!(
            matches!(&out[0], Output::Transmit { advert: a, .. } if a.priority == 150),
            "{out:?}"
        );
        assert_eq!(out[1], Output::Announce { count: 5 });
        assert_eq!(r.state(), State::Master);
    }
}
