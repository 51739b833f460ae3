//! A fencing device's `pcmk_*` parameters.
//!
//! They say which hosts it fences, under which plug name, with which
//! delays, timeouts and retries.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::fencer::Action;

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
///
/// [`DeviceOptions::default`] is Pacemaker's defaults: no host list or
/// map, the host check Pacemaker picks (`static-list` once a list or map
/// is given, else `dynamic-list`), no delay, 60 s per action (all its
/// tries together) and 2 tries, 60 s for the host check. Build others
/// with [`DeviceOptions::builder`], or read them from a stonith device's
/// parameters with [`DeviceOptions::from_params`].
///
/// ```
/// use std::time::Duration;
/// use ha_fence::Action;
/// use ha_fence::topology::{DeviceOptions, HostCheck};
///
/// // pcmk_host_map="node1:1;node2:2" pcmk_delay_max=10 pcmk_off_retries=3
/// let options = DeviceOptions::builder()
///     .plug("node1", "1")
///     .plug("node2", "2")
///     .delay_max(Duration::from_secs(10))
///     .retries(Action::Off, 3)
///     .build();
/// assert_eq!(options.host_check(), HostCheck::StaticList);
/// assert_eq!(options.plug("node2"), "2");
/// assert_eq!(options.tries(Action::Off), 3);
/// assert_eq!(options.timeout(Action::Off), Duration::from_secs(60));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceOptions {
    /// `pcmk_host_list`.
    pub host_list: Vec<String>,
    /// `pcmk_host_map`: host to plug (`node1:1;node2:2,3`, first plug).
    pub host_map: BTreeMap<String, String>,
    /// `pcmk_host_check`; `None` is Pacemaker's choice (see
    /// [`DeviceOptions::host_check`]).
    pub host_check: Option<HostCheck>,
    /// `pcmk_delay_base`: a fixed wait before fencing.
    pub delay_base: Duration,
    /// `pcmk_delay_max`: the longest wait before fencing, the base
    /// included; the wait is drawn at random between the two (fence races
    /// in two-node clusters).
    pub delay_max: Duration,
    /// `pcmk_<action>_timeout`, else `pcmk_timeout` (60 s): the time for
    /// all the tries of an action together.
    pub timeouts: HashMap<Action, Duration>,
    /// `pcmk_<action>_retries` (2): how many times an action is tried
    /// within its timeout.
    pub retries: HashMap<Action, u32>,
    /// `pcmk_list_timeout` / `pcmk_status_timeout`, else `pcmk_timeout`
    /// (60 s): the time a device has to say whether it can fence a host.
    pub check_timeout: Duration,
}

impl Default for DeviceOptions {
    fn default() -> Self {
        Self {
            host_list: Vec::new(),
            host_map: BTreeMap::new(),
            host_check: None,
            delay_base: Duration::ZERO,
            delay_max: Duration::ZERO,
            timeouts: ACTIONS.into_iter().map(|a| (a, DEFAULT_TIMEOUT)).collect(),
            retries: ACTIONS.into_iter().map(|a| (a, DEFAULT_RETRIES)).collect(),
            check_timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// Builds [`DeviceOptions`] from Pacemaker's defaults.
#[derive(Debug, Clone, Default)]
pub struct DeviceOptionsBuilder {
    options: DeviceOptions,
}

impl DeviceOptionsBuilder {
    /// Adds hosts to `pcmk_host_list`.
    pub fn host_list<I, S>(mut self, hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.options
            .host_list
            .extend(hosts.into_iter().map(Into::into));
        self
    }

    /// Maps `host` to `plug` (a `pcmk_host_map` entry).
    pub fn plug(mut self, host: impl Into<String>, plug: impl Into<String>) -> Self {
        self.options.host_map.insert(host.into(), plug.into());
        self
    }

    /// Sets `pcmk_host_check`.
    pub fn host_check(mut self, check: HostCheck) -> Self {
        self.options.host_check = Some(check);
        self
    }

    /// Sets `pcmk_delay_base` (0).
    pub fn delay_base(mut self, delay: Duration) -> Self {
        self.options.delay_base = delay;
        self
    }

    /// Sets `pcmk_delay_max` (0).
    pub fn delay_max(mut self, delay: Duration) -> Self {
        self.options.delay_max = delay;
        self
    }

    /// Sets `pcmk_<action>_timeout` (60 s).
    pub fn timeout(mut self, action: Action, timeout: Duration) -> Self {
        self.options.timeouts.insert(action, timeout);
        self
    }

    /// Sets `pcmk_<action>_retries` (2).
    pub fn retries(mut self, action: Action, tries: u32) -> Self {
        self.options.retries.insert(action, tries);
        self
    }

    /// Sets `pcmk_list_timeout` / `pcmk_status_timeout` (60 s).
    pub fn check_timeout(mut self, timeout: Duration) -> Self {
        self.options.check_timeout = timeout;
        self
    }

    /// The options.
    pub fn build(self) -> DeviceOptions {
        self.options
    }
}

/// The actions a device has a timeout and retries for.
const ACTIONS: [Action; 3] = [Action::Off, Action::On, Action::Reboot];

/// Pacemaker's timeout for a device's actions (`stonith-timeout`).
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Pacemaker's `pcmk_<action>_retries`.
pub(crate) const DEFAULT_RETRIES: u32 = 2;

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
            timeouts: HashMap::new(),
            retries: HashMap::new(),
            ..Self::default()
        };
        let mut default_timeout = DEFAULT_TIMEOUT;
        let mut check_timeout = None;
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
                    options.host_check = Some(match v.as_str() {
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
                "pcmk_list_timeout" | "pcmk_status_timeout" => {
                    check_timeout = Some(seconds(k, v)?);
                }
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
        for action in ACTIONS {
            options.timeouts.entry(action).or_insert(default_timeout);
            options.retries.entry(action).or_insert(DEFAULT_RETRIES);
        }
        options.check_timeout = check_timeout.unwrap_or(default_timeout);
        Ok((options, rest))
    }

    /// Options built from Pacemaker's defaults.
    pub fn builder() -> DeviceOptionsBuilder {
        DeviceOptionsBuilder::default()
    }

    /// The host check in force: the one set, else Pacemaker's choice,
    /// the static list when a list or map is given, the device's own list
    /// otherwise.
    pub fn host_check(&self) -> HostCheck {
        self.host_check
            .unwrap_or(if self.host_list.is_empty() && self.host_map.is_empty() {
                HostCheck::DynamicList
            } else {
                HostCheck::StaticList
            })
    }

    /// The plug name for `host` (its map entry, else the host's name).
    pub fn plug(&self, host: &str) -> String {
        self.host_map
            .get(host)
            .cloned()
            .unwrap_or_else(|| host.to_owned())
    }

    /// The time for all the tries of `action` together.
    pub fn timeout(&self, action: Action) -> Duration {
        self.timeouts
            .get(&action)
            .copied()
            .unwrap_or(DEFAULT_TIMEOUT)
    }

    /// How many times `action` is tried (at least once).
    pub fn tries(&self, action: Action) -> u32 {
        self.retries
            .get(&action)
            .copied()
            .unwrap_or(DEFAULT_RETRIES)
            .max(1)
    }

    /// Whether the static configuration names `host`.
    pub fn lists(&self, host: &str) -> bool {
        self.host_list.iter().any(|h| h == host) || self.host_map.contains_key(host)
    }

    /// Whether a device whose `list` gave `plugs` can fence `host`.
    pub fn listed_by(&self, host: &str, plugs: &[String]) -> bool {
        let plug = self.plug(host);
        plugs.contains(&plug)
    }

    /// The wait before fencing, as Pacemaker draws it: `delay_base` plus a
    /// random part below `delay_max - delay_base` (whole milliseconds
    /// from `draw`); without `delay_max`, the base; a base above the
    /// maximum is cut to it.
    pub fn delay(&self, draw: u64) -> Duration {
        let max = if self.delay_max.is_zero() {
            self.delay_base
        } else {
            self.delay_max
        };
        let base = self.delay_base.min(max);
        let span = (max - base).as_millis() as u64;
        if span == 0 {
            return base;
        }
        base + Duration::from_millis(draw % span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn kv(text: &str) -> Vec<(String, String)> {
        text.split_whitespace()
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    #[test]
    fn pcmk_parameters_are_read_and_the_rest_passed_on() {
        let (o, rest) = DeviceOptions::from_params(&kv(
            "pcmk_host_list=node1 ipaddr=192.0.2.11 login=admin pcmk_host_map=node2:2,3;node3:7 pcmk_delay_max=15 pcmk_off_timeout=30s pcmk_reboot_retries=4",
        ))
        .unwrap();
        assert_eq!(o.host_check(), HostCheck::StaticList);
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

    #[test]
    fn the_defaults_are_pacemakers_and_the_builder_starts_from_them() {
        let (read, _) = DeviceOptions::from_params(&[]).unwrap();
        assert_eq!(read, DeviceOptions::default());
        assert_eq!(DeviceOptions::builder().build(), DeviceOptions::default());
        let o = DeviceOptions::default();
        assert_eq!(o.host_check(), HostCheck::DynamicList);
        assert_eq!(
            (o.timeout(Action::Reboot), o.tries(Action::Reboot)),
            (Duration::from_secs(60), 2)
        );
        let (read, _) = DeviceOptions::from_params(&kv(
            "pcmk_host_list=node1,node2 pcmk_host_map=node3:7 pcmk_host_check=status pcmk_delay_base=1 pcmk_delay_max=5 pcmk_on_timeout=9 pcmk_off_retries=4 pcmk_status_timeout=3",
        ))
        .unwrap();
        let built = DeviceOptions::builder()
            .host_list(["node1", "node2"])
            .plug("node3", "7")
            .host_check(HostCheck::Status)
            .delay_base(Duration::from_secs(1))
            .delay_max(Duration::from_secs(5))
            .timeout(Action::On, Duration::from_secs(9))
            .retries(Action::Off, 4)
            .check_timeout(Duration::from_secs(3))
            .build();
        assert_eq!(built, read);
    }

    #[test]
    fn list_and_status_timeouts_bound_the_host_check() {
        let (o, _) = DeviceOptions::from_params(&kv("pcmk_timeout=20")).unwrap();
        assert_eq!(o.check_timeout, Duration::from_secs(20));
        let (o, _) = DeviceOptions::from_params(&kv("pcmk_list_timeout=5")).unwrap();
        assert_eq!(o.check_timeout, Duration::from_secs(5));
    }

    #[test]
    fn delays_are_pacemakers() {
        let (o, _) = DeviceOptions::from_params(&kv("pcmk_delay_base=2")).unwrap();
        assert_eq!(
            o.delay(12_345),
            Duration::from_secs(2),
            "no maximum: the base"
        );
        let (o, _) = DeviceOptions::from_params(&kv("pcmk_delay_base=5 pcmk_delay_max=3")).unwrap();
        assert_eq!(
            o.delay(12_345),
            Duration::from_secs(3),
            "cut to the maximum"
        );
        let (o, _) =
            DeviceOptions::from_params(&kv("pcmk_delay_base=2 pcmk_delay_max=10")).unwrap();
        assert_eq!(o.delay(4_000), Duration::from_secs(6));
    }

    proptest::proptest! {
        #[test]
        fn a_delay_lies_between_the_base_and_the_maximum(
            base in 0u64..100_000, max in 0u64..100_000, draw: u64,
        ) {
            let mut o = DeviceOptions::from_params(&[]).unwrap().0;
            o.delay_base = Duration::from_millis(base);
            o.delay_max = Duration::from_millis(max);
            let d = o.delay(draw);
            let top = if max == 0 { base } else { max };
            proptest::prop_assert!(d >= o.delay_base.min(Duration::from_millis(top)));
            proptest::prop_assert!(d <= Duration::from_millis(top));
            proptest::prop_assert!(d <= o.delay_base + o.delay_max);
        }
    }
}
