//! Fencing topologies as Pacemaker runs them: devices with their `pcmk_*`
//! parameters (which hosts they fence, under which plug name, with which
//! delays, timeouts and retries) and levels tried from 1 upward, every
//! device of a level having to succeed before the level counts. A fence
//! counts only when confirmed: each [`Fencer`] confirms before it returns
//! Ok (IPMI reads the power back, SBD waits `msgwait`, SCSI reads the keys,
//! fence-agents poll status).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::fencer::{Action, Fencer};

/// How a device decides whether it can fence a host (`pcmk_host_check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostCheck {
    /// The hosts in `pcmk_host_list` / `pcmk_host_map`.
    StaticList,
    /// The plugs the device's `list` reports.
    DynamicList,
    /// Whatever the device reports a status for.
    Status,
    /// Every host.
    None,
}

/// A device's `pcmk_*` parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceOptions {
    /// `pcmk_host_list`.
    pub host_list: Vec<String>,
    /// `pcmk_host_map`: host to plug (`node1:1;node2:2,3`, first plug).
    pub host_map: BTreeMap<String, String>,
    /// `pcmk_host_check`.
    pub host_check: HostCheck,
    /// `pcmk_delay_base`: a fixed wait before fencing.
    pub delay_base: Duration,
    /// `pcmk_delay_max`: plus a random wait up to this (fence races in
    /// two-node clusters).
    pub delay_max: Duration,
    /// `pcmk_<action>_timeout`, else `pcmk_timeout` (60 s).
    pub timeouts: HashMap<Action, Duration>,
    /// `pcmk_<action>_retries` (2): attempts after the first.
    pub retries: HashMap<Action, u32>,
}

fn seconds(key: &str, value: &str) -> Result<Duration> {
    let number = value.trim_end_matches('s');
    number
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0 && *s < 86_400.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| Error::BadParameter(format!("{key}={value}: expected seconds")))
}

impl DeviceOptions {
    /// Splits a device's parameters: the `pcmk_*` ones read here, the rest
    /// returned for the agent.
    pub fn from_params(params: &[(String, String)]) -> Result<(Self, Vec<(String, String)>)> {
        let mut options = Self {
            host_list: Vec::new(),
            host_map: BTreeMap::new(),
            host_check: HostCheck::DynamicList,
            delay_base: Duration::ZERO,
            delay_max: Duration::ZERO,
            timeouts: HashMap::new(),
            retries: HashMap::new(),
        };
        let mut check = None;
        let mut default_timeout = Duration::from_secs(60);
        let mut rest = Vec::new();
        for (k, v) in params {
            match k.as_str() {
                "pcmk_host_list" => {
                    options.host_list = v
                        .split([' ', ',', ';'])
                        .filter(|h| !h.is_empty())
                        .map(str::to_owned)
                        .collect();
                }
                "pcmk_host_map" => {
                    for entry in v.split([';', ' ']).filter(|e| !e.is_empty()) {
                        let (host, plugs) = entry.split_once([':', '=']).ok_or_else(|| {
                            Error::BadParameter(format!(
                                "pcmk_host_map entry '{entry}': expected HOST:PLUG"
                            ))
                        })?;
                        let plug = plugs.split(',').next().unwrap_or_default();
                        options.host_map.insert(host.to_owned(), plug.to_owned());
                    }
                }
                "pcmk_host_check" => {
                    check = Some(match v.as_str() {
                        "static-list" => HostCheck::StaticList,
                        "dynamic-list" => HostCheck::DynamicList,
                        "status" => HostCheck::Status,
                        "none" => HostCheck::None,
                        other => {
                            return Err(Error::BadParameter(format!("pcmk_host_check={other}")));
                        }
                    });
                }
                "pcmk_delay_base" => options.delay_base = seconds(k, v)?,
                "pcmk_delay_max" => options.delay_max = seconds(k, v)?,
                "pcmk_timeout" => default_timeout = seconds(k, v)?,
                key if key.starts_with("pcmk_")
                    && (key.ends_with("_timeout") || key.ends_with("_retries")) =>
                {
                    let action = key
                        .trim_start_matches("pcmk_")
                        .split('_')
                        .next()
                        .unwrap_or_default();
                    let action = Action::parse(action)
                        .ok_or_else(|| Error::BadParameter(format!("{key}: unknown action")))?;
                    if key.ends_with("_timeout") {
                        options.timeouts.insert(action, seconds(k, v)?);
                    } else {
                        let n = v.parse().map_err(|_| {
                            Error::BadParameter(format!("{key}={v}: expected a count"))
                        })?;
                        options.retries.insert(action, n);
                    }
                }
                key if key.starts_with("pcmk_") => {
                    tracing::warn!(key, "pcmk parameter not used by ha-fence");
                }
                _ => rest.push((k.clone(), v.clone())),
            }
        }
        for action in [Action::Off, Action::On, Action::Reboot] {
            options.timeouts.entry(action).or_insert(default_timeout);
            options.retries.entry(action).or_insert(2);
        }
        // Pacemaker's default: the static list when one is given.
        options.host_check = check.unwrap_or(
            if options.host_list.is_empty() && options.host_map.is_empty() {
                HostCheck::DynamicList
            } else {
                HostCheck::StaticList
            },
        );
        Ok((options, rest))
    }

    /// The plug name for `host` (its map entry, else the host's name).
    pub fn plug(&self, host: &str) -> String {
        self.host_map
            .get(host)
            .cloned()
            .unwrap_or_else(|| host.to_owned())
    }
}

/// A fencing device in a topology.
#[derive(Clone)]
pub struct Device {
    /// Its name (the stonith resource's id).
    pub name: String,
    /// What does the fencing.
    pub fencer: Arc<dyn Fencer>,
    /// Its `pcmk_*` options.
    pub options: DeviceOptions,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("name", &self.name)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Device {
    /// Whether it can fence `host` (`pcmk_host_check`).
    pub async fn can_fence(&self, host: &str) -> bool {
        let o = &self.options;
        match o.host_check {
            HostCheck::None => true,
            HostCheck::StaticList => {
                o.host_list.iter().any(|h| h == host) || o.host_map.contains_key(host)
            }
            HostCheck::DynamicList => match self.fencer.list().await {
                Ok(plugs) => plugs.contains(&o.plug(host)),
                Err(e) => {
                    tracing::warn!(device = %self.name, error = %e, "list failed");
                    false
                }
            },
            HostCheck::Status => self.fencer.status(&o.plug(host)).await.is_ok(),
        }
    }

    /// Runs `action` on `host` with the device's delay, timeout and retries.
    async fn run(&self, host: &str, action: Action, delay: Duration) -> Result<()> {
        let o = &self.options;
        tokio::time::sleep(delay).await;
        let plug = o.plug(host);
        let timeout = o
            .timeouts
            .get(&action)
            .copied()
            .unwrap_or(Duration::from_secs(60));
        let attempts = 1 + o.retries.get(&action).copied().unwrap_or(2);
        let mut last = Error::NotConfirmed("no attempt".into());
        for attempt in 1..=attempts {
            match tokio::time::timeout(timeout, self.fencer.fence(&plug, action)).await {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(e @ Error::BadParameter(_))) => return Err(e),
                Ok(Err(e)) => last = e,
                Err(_) => {
                    last = Error::Timeout(format!(
                        "{} {} {host} took over {timeout:?}",
                        self.name,
                        action.name()
                    ))
                }
            }
            tracing::warn!(device = %self.name, host, action = action.name(), attempt, error = %last, "fencing attempt failed");
        }
        Err(last)
    }
}

/// Devices and fencing levels (Pacemaker's `fencing-topology`).
#[derive(Debug, Clone, Default)]
pub struct Topology {
    devices: Vec<Device>,
    /// Per host: level number to device names.
    levels: HashMap<String, BTreeMap<u32, Vec<String>>>,
    /// The random part of delays: a fixed value for tests, else drawn.
    random: Option<f64>,
}

/// What a successful fence went through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fenced {
    /// The level that did it (0: no levels, one device).
    pub level: u32,
    /// The devices that did it.
    pub devices: Vec<String>,
}

fn random_fraction() -> f64 {
    use std::io::Read;
    let mut b = [0u8; 8];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_err()
    {
        return 0.5;
    }
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

impl Topology {
    /// Adds a device.
    pub fn add_device(&mut self, device: Device) {
        self.devices.retain(|d| d.name != device.name);
        self.devices.push(device);
    }

    /// Sets `host`'s level `level` to `devices` (all must succeed).
    pub fn add_level(&mut self, host: &str, level: u32, devices: &[&str]) -> Result<()> {
        if level == 0 || level > 9 {
            return Err(Error::BadParameter(format!(
                "fencing level {level}: 1 to 9"
            )));
        }
        for name in devices {
            if !self.devices.iter().any(|d| d.name == *name) {
                return Err(Error::BadParameter(format!(
                    "fencing level {level} of {host}: no device '{name}'"
                )));
            }
        }
        self.levels
            .entry(host.to_owned())
            .or_default()
            .insert(level, devices.iter().map(|d| (*d).to_owned()).collect());
        Ok(())
    }

    /// Uses `fraction` (0..1) for the random part of delays (tests).
    pub fn with_fixed_random(mut self, fraction: f64) -> Self {
        self.random = Some(fraction.clamp(0.0, 1.0));
        self
    }

    fn device(&self, name: &str) -> Option<&Device> {
        self.devices.iter().find(|d| d.name == name)
    }

    fn delay(&self, device: &Device) -> Duration {
        let o = &device.options;
        let span = o.delay_max.saturating_sub(o.delay_base);
        o.delay_base + span.mul_f64(self.random.unwrap_or_else(random_fraction))
    }

    /// Fences `host`. With levels, each is tried from the lowest and
    /// counts only if every device in it succeeds (for a reboot through
    /// several devices: all off, then all on, so no supply stays up);
    /// without, each device that can fence the host is tried in turn.
    pub async fn fence(&self, host: &str, action: Action) -> Result<Fenced> {
        let mut last = None;
        if let Some(levels) = self.levels.get(host) {
            for (level, names) in levels {
                let devices: Vec<&Device> = names.iter().filter_map(|n| self.device(n)).collect();
                match self.fence_level(host, action, &devices).await {
                    Ok(()) => {
                        return Ok(Fenced {
                            level: *level,
                            devices: names.clone(),
                        });
                    }
                    Err(e) => {
                        tracing::warn!(host, level, error = %e, "fencing level failed; trying the next");
                        last = Some(e);
                    }
                }
            }
        } else {
            for device in &self.devices {
                if !device.can_fence(host).await {
                    continue;
                }
                match device.run(host, action, self.delay(device)).await {
                    Ok(()) => {
                        return Ok(Fenced {
                            level: 0,
                            devices: vec![device.name.clone()],
                        });
                    }
                    Err(e) => last = Some(e),
                }
            }
        }
        Err(last.unwrap_or_else(|| Error::BadParameter(format!("no device can fence {host}"))))
    }

    async fn fence_level(&self, host: &str, action: Action, devices: &[&Device]) -> Result<()> {
        // The level's delay is taken once, from its first device.
        let delay = devices.first().map_or(Duration::ZERO, |d| self.delay(d));
        if action == Action::Reboot && devices.len() > 1 {
            for (i, d) in devices.iter().enumerate() {
                d.run(
                    host,
                    Action::Off,
                    if i == 0 { delay } else { Duration::ZERO },
                )
                .await?;
            }
            for d in devices {
                d.run(host, Action::On, Duration::ZERO).await?;
            }
            return Ok(());
        }
        for (i, d) in devices.iter().enumerate() {
            d.run(host, action, if i == 0 { delay } else { Duration::ZERO })
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fencer::{Metadata, PowerState};
    use async_trait::async_trait;
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
        fn metadata(&self) -> Metadata {
            Metadata {
                name: "fake".into(),
                description: String::new(),
                parameters: Vec::new(),
            }
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

    #[test]
    fn pcmk_parameters_are_read_and_the_rest_passed_on() {
        let (o, rest) = DeviceOptions::from_params(&kv(
            "pcmk_host_list=node1 ipaddr=192.0.2.11 login=admin pcmk_host_map=node2:2,3;node3:7 pcmk_delay_max=15 pcmk_off_timeout=30s pcmk_reboot_retries=4",
        ))
        .unwrap();
        assert_eq!(o.host_check, HostCheck::StaticList);
        assert_eq!(
            (o.plug("node2"), o.plug("node1")),
            ("2".into(), "node1".into())
        );
        assert_eq!(o.delay_max, Duration::from_secs(15));
        assert_eq!(o.timeouts[&Action::Off], Duration::from_secs(30));
        assert_eq!(o.timeouts[&Action::On], Duration::from_secs(60));
        assert_eq!(
            (o.retries[&Action::Reboot], o.retries[&Action::Off]),
            (4, 2)
        );
        assert_eq!(rest.len(), 2, "the agent's own parameters");
        for bad in [
            "pcmk_host_check=maybe",
            "pcmk_delay_base=soon",
            "pcmk_host_map=node1",
            "pcmk_bounce_timeout=1",
        ] {
            assert!(DeviceOptions::from_params(&kv(bad)).is_err(), "{bad}");
        }
    }

    #[tokio::test]
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
            "pcmk_host_list=node2 pcmk_off_retries=1",
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
        assert!(t.fence("node2", Action::Off).await.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn delays_timeouts_and_retries() {
        let slow = Arc::new(Fake {
            hang: true,
            ..Fake::default()
        });
        let flaky = Arc::new(Fake::default());
        *flaky.failures.lock().unwrap() = 1;
        let mut t = Topology::default().with_fixed_random(0.5);
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
        // 5 s timing out on the hanging device, then 2 + 0.5 x 8 s of delay.
        assert_eq!(started.elapsed(), Duration::from_secs(11));
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
