//! The plan for fencing one host, sans IO.
//!
//! It decides which level, which device next, which delay and which
//! retries, and never waits.
//!
//! A [`Plan`] is built from a [`Topology`] with a random seed (for the
//! delays) and `now`. Its driver asks [`Plan::poll_request`] what to do
//! (ask a device for its plugs or a plug's status, or run an action on a
//! plug), answers with `handle_*(now, ..)`, calls [`Plan::handle_timeout`]
//! once [`Plan::poll_timeout`] has passed (a delay or a pause ended, or
//! the running request overran its timeout, which abandons it), and stops
//! when [`Plan::poll_outcome`] gives the result.
//!
//! Levels are tried from the lowest; a level counts only if every one of
//! its devices succeeds, and a reboot through several devices is all of
//! them off, then all of them on, so no supply stays up. Without levels,
//! each device that can fence the host is tried in turn. Before a fencing
//! action (`off`, `reboot`), the first device of a level waits its delay.
//!
//! Tries follow Pacemaker's `pcmk_<action>_retries`: an action is tried
//! at most that many times (2) within one timeout for all the tries, a
//! second apart, and only while 30 % of the timeout is left. Unlike
//! Pacemaker, only failures that may pass are tried again
//! ([`Error::is_transient`]): a wrong parameter, a refused login, a device
//! that cannot be reached or did not answer in time goes straight to the
//! next device or level. Every retry and every failure is logged.
//!
//! When no level (or, without levels, no device) fences the host, the
//! outcome is [`Error::Exhausted`] with every device's failure
//! ([`Attempt`]); [`Error::NoDevice`] when no device could even be tried.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::error::{Attempt, Error, Result};
use crate::fencer::{Action, PowerState};

use super::options::{DeviceOptions, HostCheck};
use super::{Fenced, Topology};

/// Pacemaker's pause between two tries of an action.
pub const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// What the plan needs done by its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Ask `device` which plugs it can fence (its `list`); answer with
    /// [`Plan::handle_list`].
    List {
        /// The device's name.
        device: String,
    },
    /// Ask `device` for `plug`'s power state (its `status`); answer with
    /// [`Plan::handle_status`].
    Status {
        /// The device's name.
        device: String,
        /// The host's plug on it.
        plug: String,
    },
    /// Run `action` on `plug` through `device`; answer with
    /// [`Plan::handle_fenced`].
    Fence {
        /// The device's name.
        device: String,
        /// The host's plug on it.
        plug: String,
        /// What to do.
        action: Action,
        /// Which try this is (from 1).
        attempt: u32,
    },
}

/// A device as the plan sees it.
#[derive(Debug, Clone)]
struct Entry {
    name: String,
    options: DeviceOptions,
}

/// One action on one device.
#[derive(Debug, Clone, Copy)]
struct Step {
    device: usize,
    action: Action,
}

/// A level, or (without levels) one device that may fence the host.
#[derive(Debug, Clone)]
struct Stage {
    /// The level's number (0 without levels).
    level: u32,
    /// Its devices, in order.
    devices: Vec<usize>,
    /// The device must first say it can fence the host.
    check: bool,
    steps: Vec<Step>,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Waiting for a device to say whether it can fence the host.
    Checking {
        deadline: Instant,
    },
    /// Waiting out the level's delay.
    Delaying {
        until: Instant,
    },
    /// A step is running.
    Trying {
        attempt: u32,
        first: Instant,
        deadline: Instant,
    },
    /// Waiting before the step's next try.
    Pausing {
        attempt: u32,
        first: Instant,
        until: Instant,
    },
    Done,
}

/// The fencing of one host, from its first level to a result.
#[derive(Debug)]
pub struct Plan {
    host: String,
    action: Action,
    devices: Vec<Entry>,
    stages: Vec<Stage>,
    stage: usize,
    step: usize,
    phase: Phase,
    random: u64,
    /// The failed actions so far.
    failures: Vec<Attempt>,
    requests: VecDeque<Request>,
    outcome: Option<Result<Fenced>>,
}

/// SplitMix64: a small, well-mixed sequence from one seed.
fn next_random(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The draws a seed gives, in the order the plan takes them (one per
/// level or device it starts).
#[cfg(test)]
pub(crate) fn draws(seed: u64) -> impl Iterator<Item = u64> {
    let mut state = seed;
    std::iter::repeat_with(move || next_random(&mut state))
}

/// The steps of `action` through `devices`: for a reboot through several,
/// all off, then all on.
fn steps(devices: &[usize], action: Action) -> Vec<Step> {
    if action == Action::Reboot && devices.len() > 1 {
        let off = devices.iter().map(|&device| Step {
            device,
            action: Action::Off,
        });
        let on = devices.iter().map(|&device| Step {
            device,
            action: Action::On,
        });
        return off.chain(on).collect();
    }
    devices
        .iter()
        .map(|&device| Step { device, action })
        .collect()
}

impl Plan {
    /// The plan for doing `action` to `host` through `topology`, starting
    /// at `now`; `seed` draws the random part of the delays.
    pub fn new(topology: &Topology, host: &str, action: Action, seed: u64, now: Instant) -> Self {
        let devices: Vec<Entry> = topology
            .devices
            .iter()
            .map(|d| Entry {
                name: d.name.clone(),
                options: d.options.clone(),
            })
            .collect();
        let index = |name: &str| devices.iter().position(|d| d.name == name);
        let stages = match topology.levels.get(host) {
            Some(levels) => levels
                .iter()
                .map(|(level, names)| {
                    let members: Vec<usize> = names.iter().filter_map(|n| index(n)).collect();
                    Stage {
                        level: *level,
                        steps: steps(&members, action),
                        devices: members,
                        check: false,
                    }
                })
                .collect(),
            None => (0..devices.len())
                .map(|device| Stage {
                    level: 0,
                    devices: vec![device],
                    check: true,
                    steps: steps(&[device], action),
                })
                .collect(),
        };
        let mut plan = Self {
            host: host.to_owned(),
            action,
            devices,
            stages,
            stage: 0,
            step: 0,
            phase: Phase::Done,
            random: seed,
            failures: Vec::new(),
            requests: VecDeque::new(),
            outcome: None,
        };
        plan.start_stage(now);
        plan
    }

    /// The next thing to do.
    pub fn poll_request(&mut self) -> Option<Request> {
        self.requests.pop_front()
    }

    /// When [`Plan::handle_timeout`] is due: a delay or a pause ends, or
    /// the running request times out.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Checking { deadline } | Phase::Trying { deadline, .. } => Some(deadline),
            Phase::Delaying { until } | Phase::Pausing { until, .. } => Some(until),
            Phase::Done => None,
        }
    }

    /// The result, once: which level and devices fenced the host, or
    /// [`Error::Exhausted`] with every failure ([`Error::NoDevice`] if no
    /// device could be tried).
    pub fn poll_outcome(&mut self) -> Option<Result<Fenced>> {
        self.outcome.take()
    }

    /// Whether the plan has reached its result.
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done)
    }

    /// Time passed: a delay or a pause ends, or the running request has
    /// overrun its timeout (its driver abandons it).
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.phase {
            Phase::Delaying { until } if now >= until => self.try_step(1, now),
            Phase::Pausing {
                attempt,
                first,
                until,
            } if now >= until => self.try_step(attempt, first),
            Phase::Trying {
                attempt,
                first,
                deadline,
            } if now >= deadline => {
                let step = self.current_step();
                let error = Error::Timeout(format!(
                    "{} {} {} took over {:?}",
                    self.devices[step.device].name,
                    step.action.name(),
                    self.host,
                    self.devices[step.device].options.timeout(step.action),
                ));
                self.failed(now, error, attempt, first);
            }
            Phase::Checking { deadline } if now >= deadline => {
                let device = &self.devices[self.stages[self.stage].devices[0]].name;
                tracing::warn!(device = %device, host = %self.host, "the device did not say in time whether it can fence the host");
                self.next_stage(now);
            }
            _ => {}
        }
    }

    /// The answer to [`Request::List`].
    pub fn handle_list(&mut self, now: Instant, plugs: Result<Vec<String>>) {
        if !matches!(self.phase, Phase::Checking { .. }) {
            return;
        }
        let entry = &self.devices[self.stages[self.stage].devices[0]];
        let can = match plugs {
            Ok(plugs) => entry.options.listed_by(&self.host, &plugs),
            Err(e) => {
                tracing::warn!(device = %entry.name, error = %e, "list failed");
                false
            }
        };
        self.checked(now, can);
    }

    /// The answer to [`Request::Status`]: a device that answers for the
    /// plug can fence it.
    pub fn handle_status(&mut self, now: Instant, status: Result<PowerState>) {
        if !matches!(self.phase, Phase::Checking { .. }) {
            return;
        }
        if let Err(e) = &status {
            let entry = &self.devices[self.stages[self.stage].devices[0]];
            tracing::debug!(device = %entry.name, error = %e, "status failed: not this device's host");
        }
        self.checked(now, status.is_ok());
    }

    /// The answer to [`Request::Fence`].
    pub fn handle_fenced(&mut self, now: Instant, result: Result<()>) {
        let Phase::Trying { attempt, first, .. } = self.phase else {
            return;
        };
        match result {
            Ok(()) => {
                self.step += 1;
                if self.step < self.stages[self.stage].steps.len() {
                    self.try_step(1, now);
                } else {
                    let stage = &self.stages[self.stage];
                    let fenced = Fenced {
                        level: stage.level,
                        devices: stage
                            .devices
                            .iter()
                            .map(|&d| self.devices[d].name.clone())
                            .collect(),
                    };
                    self.finish(Ok(fenced));
                }
            }
            Err(e) => self.failed(now, e, attempt, first),
        }
    }

    fn current_step(&self) -> Step {
        self.stages[self.stage].steps[self.step]
    }

    fn finish(&mut self, outcome: Result<Fenced>) {
        self.phase = Phase::Done;
        self.requests.clear();
        self.outcome = Some(outcome);
    }

    /// Starts the current stage, skipping those that cannot fence the host.
    fn start_stage(&mut self, now: Instant) {
        loop {
            let Some(stage) = self.stages.get(self.stage) else {
                let host = self.host.clone();
                let error = if self.failures.is_empty() {
                    Error::NoDevice { host }
                } else {
                    Error::Exhausted {
                        host,
                        attempts: std::mem::take(&mut self.failures),
                    }
                };
                self.finish(Err(error));
                return;
            };
            self.step = 0;
            if stage.steps.is_empty() {
                self.stage += 1;
                continue;
            }
            if !stage.check {
                self.begin(now);
                return;
            }
            let entry = &self.devices[stage.devices[0]];
            let o = &entry.options;
            match o.host_check() {
                HostCheck::None => {}
                HostCheck::StaticList if o.lists(&self.host) => {}
                HostCheck::StaticList => {
                    self.stage += 1;
                    continue;
                }
                HostCheck::DynamicList => {
                    self.requests.push_back(Request::List {
                        device: entry.name.clone(),
                    });
                    self.phase = Phase::Checking {
                        deadline: now + o.check_timeout,
                    };
                    return;
                }
                HostCheck::Status => {
                    self.requests.push_back(Request::Status {
                        device: entry.name.clone(),
                        plug: o.plug(&self.host),
                    });
                    self.phase = Phase::Checking {
                        deadline: now + o.check_timeout,
                    };
                    return;
                }
            }
            self.begin(now);
            return;
        }
    }

    fn checked(&mut self, now: Instant, can: bool) {
        if can {
            self.begin(now);
        } else {
            self.stage += 1;
            self.start_stage(now);
        }
    }

    fn next_stage(&mut self, now: Instant) {
        self.stage += 1;
        self.start_stage(now);
    }

    /// Starts the stage's steps, after the delay of its first device for
    /// a fencing action.
    fn begin(&mut self, now: Instant) {
        let stage = &self.stages[self.stage];
        let fencing = matches!(self.action, Action::Off | Action::Reboot);
        let delay = if fencing {
            let draw = next_random(&mut self.random);
            self.devices[stage.devices[0]].options.delay(draw)
        } else {
            Duration::ZERO
        };
        if delay.is_zero() {
            self.try_step(1, now);
        } else {
            tracing::info!(host = %self.host, level = stage.level, device = %self.devices[stage.devices[0]].name, ?delay, "delaying the fence");
            self.phase = Phase::Delaying { until: now + delay };
        }
    }

    /// Tries the current step; `first` is when its first try began.
    fn try_step(&mut self, attempt: u32, first: Instant) {
        let step = self.current_step();
        let entry = &self.devices[step.device];
        self.requests.push_back(Request::Fence {
            device: entry.name.clone(),
            plug: entry.options.plug(&self.host),
            action: step.action,
            attempt,
        });
        self.phase = Phase::Trying {
            attempt,
            first,
            deadline: first + entry.options.timeout(step.action),
        };
    }

    /// A try failed: another try, or the stage has failed.
    fn failed(&mut self, now: Instant, error: Error, attempt: u32, first: Instant) {
        let step = self.current_step();
        let entry = &self.devices[step.device];
        let tries = entry.options.tries(step.action);
        let timeout = entry.options.timeout(step.action);
        // Pacemaker tries again while 30 % of the timeout is left; the
        // pause before the try must fit in it too.
        let spent = now.saturating_duration_since(first);
        let left = spent < timeout.mul_f64(0.7) && spent + RETRY_PAUSE < timeout;
        let (device, host, action) = (&entry.name, &self.host, step.action.name());
        if attempt < tries && error.is_transient() && left {
            tracing::warn!(%device, %host, action, attempt, tries, %error, "fencing attempt failed; trying again");
            self.phase = Phase::Pausing {
                attempt: attempt + 1,
                first,
                until: now + RETRY_PAUSE,
            };
            return;
        }
        let why = if !error.is_transient() {
            "not tried again: the failure will not pass"
        } else if attempt >= tries {
            "no tries left"
        } else {
            "too little of the timeout left to try again"
        };
        tracing::warn!(%device, %host, action, attempt, tries, %error, why, "fencing attempt failed");
        let level = self.stages[self.stage].level;
        if level > 0 {
            tracing::warn!(%host, level, "fencing level failed; trying the next");
        }
        self.failures.push(Attempt {
            level,
            device: entry.name.clone(),
            action: step.action,
            tries: attempt,
            error,
        });
        self.next_stage(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fencer::Fencer;
    use crate::topology::Device;
    use ha_core::async_trait;
    use std::sync::Arc;

    /// The plan's tests never run a device: the requests are answered here.
    struct Inert;

    #[async_trait]
    impl Fencer for Inert {
        async fn fence(&self, _: &str, _: Action) -> Result<()> {
            unreachable!("the plan runs nothing")
        }
    }

    fn kv(text: &str) -> Vec<(String, String)> {
        text.split_whitespace()
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    fn topology(devices: &[(&str, &str)]) -> Topology {
        let mut t = Topology::default();
        for (name, params) in devices {
            t.add_device(Device {
                name: (*name).into(),
                fencer: Arc::new(Inert),
                options: DeviceOptions::from_params(&kv(params)).unwrap().0,
            });
        }
        t
    }

    /// What happened while running a plan on simulated time.
    #[derive(Debug, Default)]
    struct Trace {
        /// (seconds since the start, request).
        requests: Vec<(Duration, Request)>,
    }

    impl Trace {
        fn fences(&self) -> Vec<(String, Action)> {
            self.requests
                .iter()
                .filter_map(|(_, r)| match r {
                    Request::Fence { device, action, .. } => Some((device.clone(), *action)),
                    _ => None,
                })
                .collect()
        }
    }

    /// Runs `plan`, answering each fence with `answer(device, action,
    /// attempt)` (`None`: the device hangs) after `took` of simulated time.
    fn run(
        mut plan: Plan,
        start: Instant,
        took: Duration,
        plugs: &[&str],
        mut answer: impl FnMut(&str, Action, u32) -> Option<Result<()>>,
    ) -> (Result<Fenced>, Trace) {
        let mut now = start;
        let mut trace = Trace::default();
        for _ in 0..1000 {
            if let Some(outcome) = plan.poll_outcome() {
                return (outcome, trace);
            }
            if let Some(request) = plan.poll_request() {
                trace.requests.push((now - start, request.clone()));
                match request {
                    Request::List { .. } => {
                        plan.handle_list(now, Ok(plugs.iter().map(|p| (*p).to_owned()).collect()))
                    }
                    Request::Status { plug, .. } => {
                        let known = plugs.contains(&plug.as_str());
                        plan.handle_status(
                            now,
                            if known {
                                Ok(PowerState::On)
                            } else {
                                Err(Error::BadParameter("no such plug".into()))
                            },
                        )
                    }
                    Request::Fence {
                        device,
                        action,
                        attempt,
                        ..
                    } => match answer(&device, action, attempt) {
                        Some(result) => {
                            now += took;
                            plan.handle_fenced(now, result);
                        }
                        None => {
                            now = plan
                                .poll_timeout()
                                .expect("a running request has a deadline");
                            plan.handle_timeout(now);
                        }
                    },
                }
                continue;
            }
            now = plan.poll_timeout().expect("a waiting plan has a deadline");
            plan.handle_timeout(now);
        }
        panic!("the plan did not end");
    }

    const SEED: u64 = 0x5eed;

    #[test]
    fn levels_are_tried_upward_and_each_counts_only_if_all_its_devices_succeed() {
        let mut t = topology(&[
            ("ipmi", "pcmk_host_list=node2"),
            ("pdu1", "pcmk_host_map=node2:4"),
            ("pdu2", "pcmk_host_map=node2:5"),
            ("sbd", "pcmk_host_check=none"),
        ]);
        t.add_level("node2", 3, &["sbd"]).unwrap();
        t.add_level("node2", 1, &["ipmi"]).unwrap();
        t.add_level("node2", 2, &["pdu1", "pdu2"]).unwrap();
        let start = Instant::now();
        let plan = Plan::new(&t, "node2", Action::Off, SEED, start);
        let (outcome, trace) = run(plan, start, Duration::ZERO, &[], |device, _, _| {
            Some(match device {
                "ipmi" => Err(Error::LoginRefused("wrong password".into())),
                "pdu2" => Err(Error::BadParameter("no outlet 5".into())),
                _ => Ok(()),
            })
        });
        assert_eq!(
            outcome.unwrap(),
            Fenced {
                level: 3,
                devices: vec!["sbd".into()]
            }
        );
        assert_eq!(
            trace.fences(),
            [
                ("ipmi".into(), Action::Off),
                ("pdu1".into(), Action::Off),
                ("pdu2".into(), Action::Off),
                ("sbd".into(), Action::Off),
            ],
            "level 1, then both of level 2 (pdu1's success is not enough), then level 3"
        );
        assert!(
            trace.requests.iter().any(|(_, r)| matches!(r, Request::Fence { device, plug, .. } if device == "pdu1" && plug == "4")),
            "the mapped plug"
        );
    }

    #[test]
    fn a_reboot_through_several_devices_is_all_off_then_all_on() {
        let mut t = topology(&[
            ("pdu1", "pcmk_host_map=node2:4"),
            ("pdu2", "pcmk_host_map=node2:5"),
        ]);
        t.add_level("node2", 1, &["pdu1", "pdu2"]).unwrap();
        let start = Instant::now();
        let plan = Plan::new(&t, "node2", Action::Reboot, SEED, start);
        let (outcome, trace) = run(plan, start, Duration::ZERO, &[], |_, _, _| Some(Ok(())));
        assert_eq!(outcome.unwrap().level, 1);
        assert_eq!(
            trace.fences(),
            [
                ("pdu1".into(), Action::Off),
                ("pdu2".into(), Action::Off),
                ("pdu1".into(), Action::On),
                ("pdu2".into(), Action::On),
            ]
        );
    }

    #[test]
    fn every_level_failing_fails_the_fence_with_every_levels_failure() {
        let mut t = topology(&[("a", ""), ("b", "")]);
        t.add_level("node1", 1, &["a"]).unwrap();
        t.add_level("node1", 2, &["b"]).unwrap();
        let start = Instant::now();
        let plan = Plan::new(&t, "node1", Action::Off, SEED, start);
        let (outcome, _) = run(plan, start, Duration::ZERO, &[], |device, _, _| {
            Some(Err(Error::NotConfirmed(format!("{device} still on"))))
        });
        let Err(Error::Exhausted { host, attempts }) = &outcome else {
            panic!("{outcome:?}");
        };
        assert_eq!(host, "node1");
        let failed: Vec<(u32, &str, Action, u32)> = attempts
            .iter()
            .map(|a| (a.level, a.device.as_str(), a.action, a.tries))
            .collect();
        assert_eq!(
            failed,
            [(1, "a", Action::Off, 2), (2, "b", Action::Off, 2)],
            "both levels, each after its two tries"
        );
        assert!(matches!(&attempts[0].error, Error::NotConfirmed(m) if m == "a still on"));
        assert!(matches!(&attempts[1].error, Error::NotConfirmed(m) if m == "b still on"));
        assert!(
            outcome
                .unwrap_err()
                .to_string()
                .starts_with("all fencing options targeting node1 failed: level 1: 'off' using a")
        );
    }

    #[test]
    fn transient_failures_are_tried_again_a_second_apart_as_often_as_the_retries_say() {
        let t = topology(&[("flaky", "pcmk_host_check=none pcmk_off_retries=3")]);
        let start = Instant::now();
        let plan = Plan::new(&t, "node1", Action::Off, SEED, start);
        let (outcome, trace) = run(plan, start, Duration::ZERO, &[], |_, _, attempt| {
            Some(if attempt < 3 {
                Err(Error::NotConfirmed("still on".into()))
            } else {
                Ok(())
            })
        });
        assert!(outcome.is_ok());
        let times: Vec<Duration> = trace.requests.iter().map(|(t, _)| *t).collect();
        assert_eq!(times, [0, 1, 2].map(Duration::from_secs));
    }

    #[test]
    fn a_devices_own_failure_is_tried_again() {
        let t = topology(&[("relay", "pcmk_host_check=none")]);
        let start = Instant::now();
        let plan = Plan::new(&t, "node1", Action::Off, SEED, start);
        let (outcome, trace) = run(plan, start, Duration::ZERO, &[], |_, _, attempt| {
            Some(if attempt < 2 {
                Err(Error::Device("relay stuck".into()))
            } else {
                Ok(())
            })
        });
        assert_eq!(outcome.unwrap().devices, ["relay"]);
        assert_eq!(trace.fences().len(), 2);
    }

    #[test]
    fn the_default_is_two_tries_in_all() {
        let t = topology(&[
            ("dead", "pcmk_host_check=none"),
            ("next", "pcmk_host_check=none"),
        ]);
        let start = Instant::now();
        let plan = Plan::new(&t, "node1", Action::Off, SEED, start);
        let (outcome, trace) = run(plan, start, Duration::ZERO, &[], |device, _, _| {
            Some(if device == "dead" {
                Err(Error::NotConfirmed("still on".into()))
            } else {
                Ok(())
            })
        });
        assert_eq!(outcome.unwrap().devices, ["next"]);
        assert_eq!(
            trace.fences(),
            [
                ("dead".into(), Action::Off),
                ("dead".into(), Action::Off),
                ("next".into(), Action::Off),
            ]
        );
    }

    #[test]
    fn failures_that_will_not_pass_are_not_tried_again() {
        let errors: [fn() -> Error; 4] = [
            || Error::BadParameter("no such outlet".into()),
            || Error::LoginRefused("wrong password".into()),
            || Error::Unreachable("no route to host".into()),
            || Error::Timeout("no answer".into()),
        ];
        for error in errors {
            let t = topology(&[("dev", "pcmk_host_check=none pcmk_off_retries=5")]);
            let start = Instant::now();
            let plan = Plan::new(&t, "node1", Action::Off, SEED, start);
            let (outcome, trace) = run(plan, start, Duration::ZERO, &[], |_, _, _| {
                Some(Err(error()))
            });
            let Err(Error::Exhausted { attempts, .. }) = outcome else {
                panic!("{outcome:?}");
            };
            assert_eq!(attempts.len(), 1);
            assert_eq!(
                attempts[0].error.to_string(),
                error().to_string(),
                "the device's own error"
            );
            assert_eq!(trace.fences().len(), 1, "{}", error());
        }
    }

    #[test]
    fn a_hanging_device_times_out_and_is_not_tried_again() {
        let t = topology(&[
            ("slow", "pcmk_host_check=none pcmk_off_timeout=5"),
            ("next", "pcmk_host_check=none"),
        ]);
        let start = Instant::now();
        let plan = Plan::new(&t, "node1", Action::Off, SEED, start);
        let (outcome, trace) = run(plan, start, Duration::ZERO, &[], |device, _, _| {
            (device == "next").then_some(Ok(()))
        });
        assert_eq!(outcome.unwrap().devices, ["next"]);
        assert_eq!(trace.requests[1].0, Duration::from_secs(5));
        assert_eq!(trace.fences().len(), 2);
    }

    #[test]
    fn no_retry_once_most_of_the_timeout_is_spent() {
        let t = topology(&[(
            "dev",
            "pcmk_host_check=none pcmk_off_timeout=10 pcmk_off_retries=5",
        )]);
        let start = Instant::now();
        let plan = Plan::new(&t, "node1", Action::Off, SEED, start);
        // Each failing try takes 4 s: after the second, 8 s of 10 are gone.
        let (outcome, trace) = run(plan, start, Duration::from_secs(4), &[], |_, _, _| {
            Some(Err(Error::NotConfirmed("still on".into())))
        });
        assert!(outcome.is_err());
        assert_eq!(trace.fences().len(), 2);
    }

    #[test]
    fn no_retry_when_the_pause_would_outlast_the_timeout() {
        let t = topology(&[(
            "dev",
            "pcmk_host_check=none pcmk_off_timeout=1.5 pcmk_off_retries=5",
        )]);
        let start = Instant::now();
        let plan = Plan::new(&t, "node1", Action::Off, SEED, start);
        // 0.6 s spent is under 70 % of 1.5 s, but the 1 s pause is not left.
        let (outcome, trace) = run(plan, start, Duration::from_millis(600), &[], |_, _, _| {
            Some(Err(Error::NotConfirmed("still on".into())))
        });
        assert!(
            matches!(&outcome, Err(Error::Exhausted { attempts, .. })
                if matches!(attempts[..], [Attempt { tries: 1, error: Error::NotConfirmed(_), .. }])),
            "{outcome:?}"
        );
        assert_eq!(trace.fences().len(), 1);
    }

    #[test]
    fn without_levels_the_host_check_picks_the_devices() {
        let t = topology(&[
            ("static", "pcmk_host_list=node9"),
            ("listed", ""),
            ("status", "pcmk_host_check=status"),
        ]);
        let start = Instant::now();
        let plan = Plan::new(&t, "node1", Action::Off, SEED, start);
        let (outcome, trace) = run(plan, start, Duration::ZERO, &["node1"], |device, _, _| {
            Some(if device == "listed" {
                Err(Error::LoginRefused("no".into()))
            } else {
                Ok(())
            })
        });
        assert_eq!(outcome.unwrap().devices, ["status"]);
        let asked: Vec<&Request> = trace.requests.iter().map(|(_, r)| r).collect();
        assert!(matches!(asked[0], Request::List { device } if device == "listed"));
        assert!(
            matches!(asked[2], Request::Status { device, plug } if device == "status" && plug == "node1")
        );
        let plan = Plan::new(&t, "node3", Action::Off, SEED, start);
        let (outcome, _) = run(plan, start, Duration::ZERO, &["node1"], |_, _, _| {
            Some(Ok(()))
        });
        let e = outcome.unwrap_err();
        assert!(e.to_string().contains("no device can fence node3"), "{e}");
    }

    #[test]
    fn only_fencing_actions_wait_their_delay() {
        let t = topology(&[("dev", "pcmk_host_check=none pcmk_delay_base=3")]);
        let start = Instant::now();
        for (action, waited) in [(Action::Off, 3), (Action::Reboot, 3), (Action::On, 0)] {
            let plan = Plan::new(&t, "node1", action, SEED, start);
            let (_, trace) = run(plan, start, Duration::ZERO, &[], |_, _, _| Some(Ok(())));
            assert_eq!(
                trace.requests[0].0,
                Duration::from_secs(waited),
                "{action:?}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn delays_lie_between_the_base_and_the_maximum_and_follow_the_seed(
            seed: u64, base in 0u64..30, max in 0u64..60,
        ) {
            let t = topology(&[(
                "dev",
                &format!("pcmk_host_check=none pcmk_delay_base={base} pcmk_delay_max={max}"),
            )]);
            let start = Instant::now();
            let delay = |seed| {
                let plan = Plan::new(&t, "node1", Action::Reboot, seed, start);
                let (_, trace) = run(plan, start, Duration::ZERO, &[], |_, _, _| Some(Ok(())));
                trace.requests[0].0
            };
            let waited = delay(seed);
            let (base, max) = (Duration::from_secs(base), Duration::from_secs(max));
            let top = if max.is_zero() { base } else { max };
            proptest::prop_assert!(waited >= base.min(top) && waited <= top);
            proptest::prop_assert!(waited <= base + max);
            proptest::prop_assert_eq!(waited, delay(seed), "the same seed, the same delay");
            let first_draw = draws(seed).next().unwrap();
            proptest::prop_assert_eq!(waited, t.device("dev").unwrap().options.delay(first_draw));
        }
    }
}
