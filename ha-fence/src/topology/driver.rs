//! The driver of a fencing [`Plan`]: [`Topology::fence`].
//!
//! It runs the plan's requests against the devices'
//! [`Fencer`](crate::Fencer)s, waits out its delays and pauses, abandons
//! what overruns its timeout, and draws its seed.

use crate::error::{Error, Result};
use crate::fencer::{Action, Fencer, PowerState};

use super::plan::{Plan, Request};
use super::{Fenced, Topology};

impl Topology {
    /// Fences `host`: runs a [`Plan`] (levels from the lowest, each
    /// counting only if every device in it succeeds; without levels, each
    /// device that can fence the host in turn), with the delays, timeouts
    /// and tries of the devices' options.
    ///
    /// Fails with [`Error::NoDevice`] when no device can fence `host`, and
    /// with [`Error::Exhausted`] (every device's failure, level by level)
    /// when devices were tried and none fenced it.
    pub async fn fence(&self, host: &str, action: Action) -> Result<Fenced> {
        let seed = match self.seed {
            Some(seed) => seed,
            None => ha_core::random::u64().map_err(Error::Entropy)?,
        };
        let mut plan = Plan::new(self, host, action, seed, now());
        loop {
            if let Some(outcome) = plan.poll_outcome() {
                return outcome;
            }
            let deadline = plan.poll_timeout();
            let expired = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            let Some(request) = plan.poll_request() else {
                // Only a finished plan has no deadline, and its outcome
                // was returned above.
                assert!(deadline.is_some(), "a running plan has a deadline");
                expired.await;
                plan.handle_timeout(now());
                continue;
            };
            let (Request::List { device }
            | Request::Status { device, .. }
            | Request::Fence { device, .. }) = &request;
            let device = self
                .device(device)
                .expect("the plan names the topology's own devices");
            let answer = tokio::select! {
                () = expired => Answer::Expired,
                answer = ask(device.fencer.as_ref(), &request) => answer,
            };
            let now = now();
            match answer {
                Answer::Expired => plan.handle_timeout(now),
                Answer::List(plugs) => plan.handle_list(now, plugs),
                Answer::Status(status) => plan.handle_status(now, status),
                Answer::Fenced(result) => plan.handle_fenced(now, result),
            }
        }
    }
}

/// The clock: tokio's, so that a paused test clock drives the plan too.
fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// What came back for a request.
enum Answer {
    Expired,
    List(Result<Vec<String>>),
    Status(Result<PowerState>),
    Fenced(Result<()>),
}

async fn ask(fencer: &dyn Fencer, request: &Request) -> Answer {
    match request {
        Request::List { .. } => Answer::List(fencer.list().await),
        Request::Status { plug, .. } => Answer::Status(fencer.status(plug).await),
        Request::Fence { plug, action, .. } => Answer::Fenced(fencer.fence(plug, *action).await),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::plan::{RETRY_PAUSE, draws};
    use crate::topology::{Device, DeviceOptions, Fenced};
    use std::sync::Arc;
    use std::time::Duration;

    const SEED: u64 = 7;
    use crate::fencer::PowerState;
    use ha_core::async_trait;
    use std::sync::Mutex;

    /// A device that records what it was asked and fails as told.
    #[derive(Default)]
    struct Fake {
        calls: Mutex<Vec<(String, Action)>>,
        /// Failures still to hand out.
        failures: Mutex<u32>,
        hang: bool,
        plugs: Vec<String>,
    }

    #[async_trait]
    impl Fencer for Fake {
        async fn fence(&self, target: &str, action: Action) -> Result<()> {
            self.calls.lock().unwrap().push((target.to_owned(), action));
            if self.hang {
                std::future::pending::<()>().await;
            }
            let mut failures = self.failures.lock().unwrap();
            if *failures > 0 {
                *failures -= 1;
                return Err(Error::NotConfirmed("told to fail".into()));
            }
            Ok(())
        }
        async fn status(&self, _: &str) -> Result<PowerState> {
            Ok(PowerState::On)
        }
        async fn list(&self) -> Result<Vec<String>> {
            Ok(self.plugs.clone())
        }
        async fn monitor(&self) -> Result<()> {
            Ok(())
        }
    }

    fn kv(text: &str) -> Vec<(String, String)> {
        text.split_whitespace()
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    fn device(name: &str, params: &str, fake: Arc<Fake>) -> Device {
        Device {
            name: name.into(),
            fencer: fake,
            options: DeviceOptions::from_params(&kv(params)).unwrap().0,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_level_counts_only_if_all_its_devices_succeed() {
        let (ipmi, pdu1, pdu2) = (
            Arc::new(Fake::default()),
            Arc::new(Fake::default()),
            Arc::new(Fake::default()),
        );
        *ipmi.failures.lock().unwrap() = 99;
        let mut t = Topology::default();
        t.add_device(device(
            "ipmi",
            "pcmk_host_list=node2 pcmk_off_retries=2",
            ipmi.clone(),
        ));
        t.add_device(device("pdu1", "pcmk_host_map=node2:4", pdu1.clone()));
        t.add_device(device("pdu2", "pcmk_host_map=node2:5", pdu2.clone()));
        t.add_level("node2", 1, &["ipmi"]).unwrap();
        t.add_level("node2", 2, &["pdu1", "pdu2"]).unwrap();
        assert!(t.add_level("node2", 3, &["nothing"]).is_err());
        let done = t.fence("node2", Action::Off).await.unwrap();
        assert_eq!(
            done,
            Fenced {
                level: 2,
                devices: vec!["pdu1".into(), "pdu2".into()]
            }
        );
        assert_eq!(ipmi.calls.lock().unwrap().len(), 2, "one try and one retry");
        assert_eq!(
            *pdu1.calls.lock().unwrap(),
            [("4".to_owned(), Action::Off)],
            "the mapped plug"
        );
        // A reboot through two supplies: both off, then both on.
        pdu1.calls.lock().unwrap().clear();
        pdu2.calls.lock().unwrap().clear();
        t.fence("node2", Action::Reboot).await.unwrap();
        assert_eq!(
            *pdu1.calls.lock().unwrap(),
            [("4".to_owned(), Action::Off), ("4".to_owned(), Action::On)]
        );
        // Every level failing fails the fence.
        *pdu2.failures.lock().unwrap() = 99;
        let e = t.fence("node2", Action::Off).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "all fencing options targeting node2 failed: \
             level 1: 'off' using ipmi failed after 2 tries: not confirmed: told to fail; \
             level 2: 'off' using pdu2 failed after 2 tries: not confirmed: told to fail"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn delays_timeouts_and_retries() {
        let slow = Arc::new(Fake {
            hang: true,
            ..Fake::default()
        });
        let flaky = Arc::new(Fake::default());
        *flaky.failures.lock().unwrap() = 1;
        let mut t = Topology::default().with_seed(SEED);
        t.add_device(device(
            "slow",
            "pcmk_host_check=none pcmk_off_timeout=5 pcmk_off_retries=0",
            slow.clone(),
        ));
        t.add_device(device(
            "flaky",
            "pcmk_host_list=node1 pcmk_delay_base=2 pcmk_delay_max=10",
            flaky.clone(),
        ));
        let started = tokio::time::Instant::now();
        let done = t.fence("node1", Action::Off).await.unwrap();
        assert_eq!(done.devices, ["flaky"]);
        // 5 s timing out on the hanging device, then the flaky one's delay
        // (the plan's second draw), then a second before its second try.
        let delay = t
            .device("flaky")
            .unwrap()
            .options
            .delay(draws(SEED).nth(1).unwrap());
        assert!(delay >= Duration::from_secs(2) && delay < Duration::from_secs(10));
        assert_eq!(
            started.elapsed(),
            Duration::from_secs(5) + delay + RETRY_PAUSE
        );
        assert_eq!(flaky.calls.lock().unwrap().len(), 2, "retried once");
    }

    #[tokio::test]
    async fn dynamic_lists_decide_who_can_fence() {
        let listed = Arc::new(Fake {
            plugs: vec!["node1".into()],
            ..Fake::default()
        });
        let mut t = Topology::default();
        t.add_device(device("agent", "", listed.clone()));
        t.fence("node1", Action::Off).await.unwrap();
        let e = t.fence("node3", Action::Off).await.unwrap_err();
        assert!(e.to_string().contains("no device can fence node3"), "{e}");
    }
}
