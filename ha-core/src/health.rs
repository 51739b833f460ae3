//! Rise/fall hysteresis: turns a stream of probe results into an up/down
//! state that does not flap.
//!
//! This is the sans-IO half of health checking (the [`Checker`](crate::Checker)
//! is the driver). Results go in through `handle_*`, state changes come out
//! of [`Health::poll_transition`].
//!
//! Counting is by *consecutive* results, as in keepalived: a target that is
//! up goes down after `fall` failures in a row, and comes back after `rise`
//! successes in a row. (HAProxy keeps one counter that successes move up and
//! failures move down, so interleaved results can take a server down in a few
//! more probes; consecutive counting never flips earlier than HAProxy does
//! from a settled state.)
//!
//! A state can start *provisional*: assumed but not yet confirmed by a probe.
//! The first contrary result then flips it at once. That is how HAProxy
//! starts servers with `check`: up, but down after one failed probe rather
//! than `fall` of them.

use crate::check::CheckError;
use crate::error::{Error, Result};

/// Whether a target is considered usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Healthy: gets traffic.
    Up,
    /// Unhealthy: gets none.
    Down,
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            State::Up => "UP",
            State::Down => "DOWN",
        })
    }
}

/// A [`State`] refined by the results seen since the last change; the
/// checker picks its probe interval from it (HAProxy's `inter`, `fastinter`,
/// `downinter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Up, and the latest probe succeeded.
    Up,
    /// Up, but the latest probes failed.
    GoingDown,
    /// Down, and the latest probe failed.
    Down,
    /// Down, but the latest probes succeeded.
    GoingUp,
}

/// How many consecutive results it takes to change state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    rise: u32,
    fall: u32,
}

impl Thresholds {
    /// `rise` consecutive successes bring a target up, `fall` consecutive
    /// failures take it down. Both must be at least 1.
    pub fn new(rise: u32, fall: u32) -> Result<Self> {
        if rise == 0 || fall == 0 {
            return Err(Error::InvalidThresholds { rise, fall });
        }
        Ok(Self { rise, fall })
    }

    /// Successes in a row needed to go up.
    pub fn rise(&self) -> u32 {
        self.rise
    }

    /// Failures in a row needed to go down.
    pub fn fall(&self) -> u32 {
        self.fall
    }
}

impl Default for Thresholds {
    /// HAProxy's defaults: rise 2, fall 3.
    fn default() -> Self {
        Self { rise: 2, fall: 3 }
    }
}

/// A change of state, reported once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The state before.
    pub from: State,
    /// The state after.
    pub to: State,
    /// For a change to [`State::Down`], the failure that completed it.
    pub reason: Option<CheckError>,
}

/// Hysteresis over probe results.
///
/// ```
/// use ha_core::{CheckError, Health, State, Thresholds};
///
/// let mut health = Health::new(Thresholds::default(), State::Up);
/// for _ in 0..2 {
///     health.handle_failure(CheckError::Other("refused".into()));
///     assert_eq!(health.poll_transition(), None);
/// }
/// health.handle_failure(CheckError::Other("refused".into()));
/// let t = health.poll_transition().unwrap();
/// assert_eq!((t.from, t.to), (State::Up, State::Down));
/// ```
#[derive(Debug, Clone)]
pub struct Health {
    thresholds: Thresholds,
    state: State,
    /// The state has not been confirmed by any probe yet.
    provisional: bool,
    /// Consecutive results contradicting `state`.
    streak: u32,
    last_error: Option<CheckError>,
    pending: Option<Transition>,
}

impl Health {
    /// Starts in `initial`, settled: it takes the full `rise`/`fall` count
    /// to leave it.
    pub fn new(thresholds: Thresholds, initial: State) -> Self {
        Self {
            thresholds,
            state: initial,
            provisional: false,
            streak: 0,
            last_error: None,
            pending: None,
        }
    }

    /// Starts in `initial`, provisional: the first probe that contradicts it
    /// flips it at once; the first that agrees settles it.
    pub fn provisional(thresholds: Thresholds, initial: State) -> Self {
        Self {
            provisional: true,
            ..Self::new(thresholds, initial)
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        match (self.state, self.streak > 0) {
            (State::Up, false) => Phase::Up,
            (State::Up, true) => Phase::GoingDown,
            (State::Down, false) => Phase::Down,
            (State::Down, true) => Phase::GoingUp,
        }
    }

    /// The thresholds in force.
    pub fn thresholds(&self) -> Thresholds {
        self.thresholds
    }

    /// The most recent failure, kept until a success.
    pub fn last_error(&self) -> Option<&CheckError> {
        self.last_error.as_ref()
    }

    /// Feeds one probe result.
    pub fn handle_result(&mut self, result: Result<(), CheckError>) {
        match result {
            Ok(()) => self.handle_success(),
            Err(e) => self.handle_failure(e),
        }
    }

    /// Feeds one successful probe.
    pub fn handle_success(&mut self) {
        self.last_error = None;
        self.handle(State::Up, self.thresholds.rise);
    }

    /// Feeds one failed probe.
    pub fn handle_failure(&mut self, error: CheckError) {
        self.last_error = Some(error);
        self.handle(State::Down, self.thresholds.fall);
    }

    fn handle(&mut self, pointing_to: State, needed: u32) {
        if self.state == pointing_to {
            self.streak = 0;
            self.provisional = false;
            return;
        }
        self.streak = self.streak.saturating_add(1);
        if self.provisional || self.streak >= needed {
            let from = self.state;
            self.state = pointing_to;
            self.streak = 0;
            self.provisional = false;
            let reason = match pointing_to {
                State::Down => self.last_error.clone(),
                State::Up => None,
            };
            // An unread transition that this one reverses cancels out: the
            // reader never saw the intermediate state.
            self.pending = match self.pending.take() {
                Some(old) if old.from == pointing_to => None,
                _ => Some(Transition {
                    from,
                    to: pointing_to,
                    reason,
                }),
            };
        }
    }

    /// Returns the state change caused by the results fed since the last
    /// call, if any.
    pub fn poll_transition(&mut self) -> Option<Transition> {
        self.pending.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn err() -> CheckError {
        CheckError::Connect("Connection refused".into())
    }

    #[test]
    fn thresholds_must_be_positive() {
        assert!(Thresholds::new(0, 3).is_err());
        assert!(Thresholds::new(2, 0).is_err());
        assert_eq!(Thresholds::default(), Thresholds::new(2, 3).unwrap());
    }

    #[test]
    fn goes_down_after_fall_and_up_after_rise() {
        let mut h = Health::new(Thresholds::default(), State::Up);
        h.handle_failure(err());
        assert_eq!(h.phase(), Phase::GoingDown);
        h.handle_failure(err());
        assert_eq!(h.poll_transition(), None);
        h.handle_failure(err());
        assert_eq!(
            h.poll_transition(),
            Some(Transition {
                from: State::Up,
                to: State::Down,
                reason: Some(err())
            })
        );
        assert_eq!(h.phase(), Phase::Down);
        h.handle_success();
        assert_eq!(h.phase(), Phase::GoingUp);
        assert_eq!(h.poll_transition(), None);
        h.handle_success();
        let t = h.poll_transition().unwrap();
        assert_eq!((t.from, t.to, t.reason), (State::Down, State::Up, None));
        assert_eq!(h.phase(), Phase::Up);
    }

    #[test]
    fn a_success_resets_the_failure_streak() {
        let mut h = Health::new(Thresholds::default(), State::Up);
        for _ in 0..10 {
            h.handle_failure(err());
            h.handle_failure(err());
            h.handle_success();
        }
        assert_eq!(h.state(), State::Up);
        assert_eq!(h.poll_transition(), None);
    }

    #[test]
    fn provisional_state_flips_on_first_contrary_result() {
        let mut h = Health::provisional(Thresholds::default(), State::Up);
        h.handle_failure(err());
        assert_eq!(h.state(), State::Down);
        assert!(h.poll_transition().is_some());
        // Now settled: rising takes the full count.
        h.handle_success();
        assert_eq!(h.state(), State::Down);
        h.handle_success();
        assert_eq!(h.state(), State::Up);
    }

    #[test]
    fn provisional_state_settles_on_agreeing_result() {
        let mut h = Health::provisional(Thresholds::default(), State::Up);
        h.handle_success();
        h.handle_failure(err());
        assert_eq!(h.state(), State::Up);
    }

    #[test]
    fn unread_transitions_that_cancel_out_are_not_reported() {
        let mut h = Health::new(Thresholds::new(1, 1).unwrap(), State::Up);
        h.handle_failure(err());
        h.handle_success();
        assert_eq!(h.poll_transition(), None);
        h.handle_failure(err());
        assert_eq!(h.poll_transition().map(|t| t.to), Some(State::Down));
    }

    /// The longest run of `value` at the end of `results`.
    fn trailing_run(results: &[bool], value: bool) -> u32 {
        results.iter().rev().take_while(|&&r| r == value).count() as u32
    }

    proptest! {
        #[test]
        fn never_flips_before_rise_or_fall_consecutive_results(
            rise in 1u32..6,
            fall in 1u32..6,
            start_up in any::<bool>(),
            results in proptest::collection::vec(any::<bool>(), 0..200),
        ) {
            let thresholds = Thresholds::new(rise, fall).unwrap();
            let initial = if start_up { State::Up } else { State::Down };
            let mut h = Health::new(thresholds, initial);
            let mut seen: Vec<bool> = Vec::new();
            let mut since_change: Vec<bool> = Vec::new();
            for ok in results {
                let before = h.state();
                h.handle_result(if ok { Ok(()) } else { Err(err()) });
                seen.push(ok);
                since_change.push(ok);
                let after = h.state();
                let t = h.poll_transition();
                if before != after {
                    // A flip needs the threshold's count of consecutive
                    // contrary results, all since the previous flip.
                    let (run, needed) = match after {
                        State::Up => (trailing_run(&since_change, true), rise),
                        State::Down => (trailing_run(&since_change, false), fall),
                    };
                    prop_assert_eq!(run, needed);
                    prop_assert_eq!(t.as_ref().map(|t| (t.from, t.to)), Some((before, after)));
                    since_change.clear();
                } else {
                    prop_assert!(t.is_none());
                    // And a threshold's worth of contrary results always flips.
                    let (run, needed) = match before {
                        State::Up => (trailing_run(&since_change, false), fall),
                        State::Down => (trailing_run(&since_change, true), rise),
                    };
                    prop_assert!(run < needed);
                }
            }
        }
    }
}
