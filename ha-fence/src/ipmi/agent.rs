//! [`IpmiFencer`]: fence_ipmilan's behaviour on our own RMCP+ client.
//!
//! Parameters take fence_ipmilan's names (old and new: `ip`/`ipaddr`,
//! `username`/`login`, `password`/`passwd`), so a stonith device written
//! for fence_ipmilan configures it unchanged.
//!
//! One session serves a whole action: log in, Chassis Control, then poll
//! Get Chassis Status until the power reads as asked (`power_timeout`),
//! log out. An `off` counts only when the status confirms it. Differences
//! from fence_ipmilan: `power_wait` (a blind wait after the command)
//! defaults to 0, since the status poll confirms the change, and the poll
//! runs every `stonith_status_sleep` = 0.1 s instead of 1 s. IPMI 1.5
//! (`lanplus=0`) and bridging (`target`) are not supported.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use ha_core::async_trait;

use crate::error::{Error, Result};
use crate::fencer::{Action, Fencer, PowerState};
use crate::metadata::{Metadata, Parameter, ParameterType};

use super::client::{ChassisControl, Connection};
use super::session::{ADMINISTRATOR, Credentials, OPERATOR, Timing, USER};

/// How reboot is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Power off, confirm, power on, confirm.
    OnOff,
    /// One Chassis Control power cycle (not confirmable as off).
    Cycle,
}

/// An IPMI fencing device's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpmiOptions {
    /// The BMC.
    pub addr: SocketAddr,
    /// Login.
    pub credentials: Credentials,
    /// Retransmissions within a session.
    pub timing: Timing,
    /// Reboot method.
    pub method: Method,
    /// Wait after a power command before polling.
    pub power_wait: Duration,
    /// How long the power may take to change.
    pub power_timeout: Duration,
    /// Time between status polls.
    pub status_sleep: Duration,
    /// Wait before fencing starts (`delay`).
    pub delay: Duration,
}

fn seconds(name: &str, value: &str) -> Result<Duration> {
    value
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0 && *s < 86_400.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| Error::BadParameter(format!("{name}={value}: expected seconds")))
}

fn boolean(name: &str, value: &str) -> Result<bool> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" | "" => Ok(true),
        "0" | "no" | "false" | "off" => Ok(false),
        _ => Err(Error::BadParameter(format!(
            "{name}={value}: expected a boolean"
        ))),
    }
}

fn hex(name: &str, value: &str) -> Result<Vec<u8>> {
    let digits = value.strip_prefix("0x").unwrap_or(value);
    // Checked as ASCII first: the pairs below are byte ranges, which a
    // multi-byte character would split. The value is a secret: never
    // quoted back.
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::BadParameter(format!("{name}: not hexadecimal")));
    }
    if !digits.len().is_multiple_of(2) {
        return Err(Error::BadParameter(format!(
            "{name}: an even number of hex digits"
        )));
    }
    digits
        .as_bytes()
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .ok_or_else(|| Error::BadParameter(format!("{name}: not hexadecimal")))
        })
        .collect()
}

impl IpmiOptions {
    /// From fence_ipmilan's `key=value` parameters (the last value of a
    /// key wins; keys this agent does not use are ignored, as fence-agents
    /// do). Names the bad parameter in the error.
    pub fn from_params(params: &[(String, String)]) -> Result<Self> {
        let get = |names: &[&str]| {
            params
                .iter()
                .rev()
                .find(|(k, _)| names.contains(&k.as_str()))
                .map(|(_, v)| v.as_str())
        };
        let host = get(&["ip", "ipaddr"])
            .ok_or_else(|| Error::BadParameter("ip (or ipaddr) is required".into()))?;
        let port = match get(&["ipport"]) {
            Some(p) => p
                .parse::<u16>()
                .map_err(|_| Error::BadParameter(format!("ipport={p}: expected a port")))?,
            None => 623,
        };
        let addr = (host.trim_matches(['[', ']']), port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| Error::BadParameter(format!("ip={host}: cannot resolve")))?;
        if !boolean("lanplus", get(&["lanplus"]).unwrap_or("0"))? {
            // fence_ipmilan defaults to IPMI 1.5; without lanplus there is
            // nothing this agent can do safely.
            return Err(Error::BadParameter(
                "lanplus=1 is required: IPMI 1.5 (lan) is not supported".into(),
            ));
        }
        if get(&["target"]).is_some() {
            return Err(Error::BadParameter(
                "target (IPMI bridging) is not supported".into(),
            ));
        }
        let cipher_suite = match get(&["cipher"]) {
            Some(c) => c
                .parse::<u8>()
                .map_err(|_| Error::BadParameter(format!("cipher={c}: expected a number")))?,
            None => 3,
        };
        let privilege = match get(&["privlvl"]).unwrap_or("administrator") {
            "administrator" => ADMINISTRATOR,
            "operator" => OPERATOR,
            "user" => USER,
            other => return Err(Error::BadParameter(format!("privlvl={other}"))),
        };
        let kg = get(&["hexadecimal_kg"])
            .map(|k| hex("hexadecimal_kg", k))
            .transpose()?;
        let credentials = Credentials {
            user: get(&["username", "login"])
                .unwrap_or("")
                .as_bytes()
                .to_vec(),
            password: get(&["password", "passwd"])
                .unwrap_or("")
                .as_bytes()
                .to_vec(),
            privilege,
            cipher_suite,
            kg,
            weak_cipher: boolean("weak_cipher", get(&["weak_cipher"]).unwrap_or("0"))?,
        };
        credentials.validate()?;
        let method = match get(&["method"]).unwrap_or("onoff") {
            "onoff" => Method::OnOff,
            "cycle" => Method::Cycle,
            other => {
                return Err(Error::BadParameter(format!(
                    "method={other}: onoff or cycle"
                )));
            }
        };
        let login_timeout = seconds("login_timeout", get(&["login_timeout"]).unwrap_or("5"))?;
        let retransmit = Duration::from_millis(500);
        let timing = Timing {
            retransmit,
            attempts: (login_timeout.as_millis() / retransmit.as_millis()).max(1) as u32,
        };
        Ok(Self {
            addr,
            credentials,
            timing,
            method,
            power_wait: seconds("power_wait", get(&["power_wait"]).unwrap_or("0"))?,
            power_timeout: seconds("power_timeout", get(&["power_timeout"]).unwrap_or("20"))?,
            status_sleep: seconds(
                "stonith_status_sleep",
                get(&["stonith_status_sleep"]).unwrap_or("0.1"),
            )?,
            delay: seconds("delay", get(&["delay"]).unwrap_or("0"))?,
        })
    }
}

/// A BMC as a fencing device.
#[derive(Debug, Clone)]
pub struct IpmiFencer {
    options: IpmiOptions,
}

/// How long each step of the last action took: the benchmark's breakdown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Steps {
    /// Open Session to an active session.
    pub login: Duration,
    /// The Chassis Control command(s).
    pub command: Duration,
    /// Status polls until the power read as asked.
    pub confirmation: Duration,
}

impl IpmiFencer {
    /// A fencer for the BMC in `options`.
    pub fn new(options: IpmiOptions) -> Self {
        Self { options }
    }

    /// From fence_ipmilan's parameters.
    pub fn from_params(params: &[(String, String)]) -> Result<Self> {
        IpmiOptions::from_params(params).map(Self::new)
    }

    async fn connect(&self) -> Result<Connection> {
        let o = &self.options;
        Connection::open(o.addr, o.credentials.clone(), o.timing).await
    }

    /// Polls until the power reads `on`, within `power_timeout`.
    async fn wait_for(&self, c: &mut Connection, on: bool) -> Result<()> {
        let deadline = Instant::now() + self.options.power_timeout;
        loop {
            if c.power_is_on().await? == on {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::NotConfirmed(format!(
                    "the power still reads {} after {:?}",
                    if on { "off" } else { "on" },
                    self.options.power_timeout
                )));
            }
            tokio::time::sleep(self.options.status_sleep).await;
        }
    }

    /// Sets the power and confirms it; with `steps`, the time of each.
    async fn set_power(&self, c: &mut Connection, on: bool, steps: &mut Steps) -> Result<()> {
        let started = Instant::now();
        if c.power_is_on().await? != on {
            let control = if on {
                ChassisControl::PowerUp
            } else {
                ChassisControl::PowerDown
            };
            c.chassis_control(control).await?;
            steps.command += started.elapsed();
            tokio::time::sleep(self.options.power_wait).await;
        }
        let confirming = Instant::now();
        self.wait_for(c, on).await?;
        steps.confirmation += confirming.elapsed();
        Ok(())
    }

    /// [`Fencer::fence`], reporting how long each step took.
    pub async fn fence_timed(&self, action: Action) -> Result<Steps> {
        tokio::time::sleep(self.options.delay).await;
        let mut steps = Steps::default();
        let started = Instant::now();
        let mut c = self.connect().await?;
        steps.login = started.elapsed();
        let result = match (action, self.options.method) {
            (Action::Off, _) => self.set_power(&mut c, false, &mut steps).await,
            (Action::On, _) => self.set_power(&mut c, true, &mut steps).await,
            (Action::Reboot, Method::OnOff) => {
                match self.set_power(&mut c, false, &mut steps).await {
                    Ok(()) => self.set_power(&mut c, true, &mut steps).await,
                    Err(e) => Err(e),
                }
            }
            (Action::Reboot, Method::Cycle) => {
                let t = Instant::now();
                let r = c.chassis_control(ChassisControl::PowerCycle).await;
                steps.command += t.elapsed();
                r
            }
        };
        // The session is closed whatever happened; the action's result
        // is what counts.
        if let Err(e) = c.close().await {
            tracing::debug!(error = %e, "closing the IPMI session");
        }
        result.map(|()| steps)
    }
}

#[async_trait]
impl Fencer for IpmiFencer {
    async fn fence(&self, _target: &str, action: Action) -> Result<()> {
        self.fence_timed(action).await.map(drop)
    }

    async fn status(&self, _target: &str) -> Result<PowerState> {
        let mut c = self.connect().await?;
        let on = c.power_is_on().await;
        let _ = c.close().await;
        Ok(if on? { PowerState::On } else { PowerState::Off })
    }

    async fn list(&self) -> Result<Vec<String>> {
        // One BMC, one machine: no plugs to list.
        Ok(Vec::new())
    }

    async fn monitor(&self) -> Result<()> {
        self.status("").await.map(drop)
    }

    fn metadata(&self) -> Metadata {
        metadata()
    }
}

/// The parameters [`IpmiOptions::from_params`] reads.
pub fn metadata() -> Metadata {
    let p = |name: &str,
             aliases: &[&str],
             kind: ParameterType,
             default: Option<&str>,
             description: &str| Parameter {
        name: name.into(),
        aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
        kind,
        default: default.map(str::to_owned),
        required: false,
        description: description.into(),
    };
    let select =
        |values: &[&str]| ParameterType::Select(values.iter().map(|v| (*v).to_owned()).collect());
    let mut ip = p(
        "ip",
        &["ipaddr"],
        ParameterType::String,
        None,
        "IP address or host name of the BMC",
    );
    ip.required = true;
    Metadata {
        name: "fence_ipmilan".into(),
        description: "Fence agent for IPMI over LAN 2.0 (RMCP+), ha-fence's own client".into(),
        parameters: vec![
            ip,
            p(
                "ipport",
                &[],
                ParameterType::Integer,
                Some("623"),
                "UDP port of the BMC",
            ),
            p(
                "username",
                &["login"],
                ParameterType::String,
                None,
                "Login name",
            ),
            p(
                "password",
                &["passwd"],
                ParameterType::String,
                None,
                "Login password",
            ),
            p(
                "lanplus",
                &[],
                ParameterType::Boolean,
                Some("0"),
                "Use IPMI 2.0 RMCP+ (required: 1)",
            ),
            p(
                "cipher",
                &[],
                ParameterType::String,
                Some("3"),
                "Cipher suite (1, 2 or 3)",
            ),
            p(
                "weak_cipher",
                &[],
                ParameterType::Boolean,
                Some("0"),
                "Allow cipher suites 1 and 2 (no confidentiality inside the session)",
            ),
            p(
                "privlvl",
                &[],
                select(&["administrator", "operator", "user"]),
                Some("administrator"),
                "Privilege level",
            ),
            p(
                "hexadecimal_kg",
                &[],
                ParameterType::String,
                None,
                "BMC key Kg, hexadecimal",
            ),
            p(
                "method",
                &[],
                select(&["onoff", "cycle"]),
                Some("onoff"),
                "Reboot by off+on or by a power cycle",
            ),
            p(
                "power_wait",
                &[],
                ParameterType::Second,
                Some("0"),
                "Wait after a power command before polling",
            ),
            p(
                "power_timeout",
                &[],
                ParameterType::Second,
                Some("20"),
                "Time for the power to change",
            ),
            p(
                "stonith_status_sleep",
                &[],
                ParameterType::Second,
                Some("0.1"),
                "Time between status polls",
            ),
            p(
                "login_timeout",
                &[],
                ParameterType::Second,
                Some("5"),
                "Time for the BMC to answer",
            ),
            p(
                "delay",
                &[],
                ParameterType::Second,
                Some("0"),
                "Wait before fencing starts",
            ),
        ],
        actions: [
            "on",
            "off",
            "reboot",
            "status",
            "monitor",
            "list",
            "metadata",
            "validate-all",
        ]
        .map(String::from)
        .to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(text: &str) -> Vec<(String, String)> {
        text.split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    #[test]
    fn the_chapters_stonith_device_reads() {
        let o = IpmiOptions::from_params(&params(
            "ipaddr=192.0.2.11 login=admin passwd=secret lanplus=1 action=reboot pcmk_host_list=node1",
        ))
        .unwrap();
        assert_eq!(o.addr, "192.0.2.11:623".parse().unwrap());
        assert_eq!(o.credentials.user, b"admin");
        assert_eq!(o.credentials.cipher_suite, 3);
        assert_eq!(o.method, Method::OnOff);
        assert!(
            !format!("{:?}", o.credentials).contains("secret"),
            "no password in logs"
        );
    }

    #[test]
    fn debug_redacts_the_password_and_the_kg() {
        let p = params("ip=127.0.0.1 lanplus=1 login=admin passwd=hunter2pw hexadecimal_kg=c0ffee");
        let options = IpmiOptions::from_params(&p).unwrap();
        let fencer = IpmiFencer::new(options.clone());
        for shown in [
            format!("{options:?}"),
            format!("{options:#?}"),
            format!("{fencer:?}"),
            format!("{:?}", options.credentials),
        ] {
            assert!(!shown.contains("hunter2pw"), "{shown}");
            assert!(
                !shown.contains("c0ffee") && !shown.contains("192, 255, 238"),
                "{shown}"
            );
            assert!(
                !shown.contains("104, 117, 110"),
                "no password bytes: {shown}"
            );
            assert!(shown.contains("<redacted>"), "{shown}");
            assert!(shown.contains("admin"), "{shown}");
        }
    }

    #[test]
    fn weak_suites_are_taken_with_the_opt_in() {
        for suite in [1, 2] {
            let text = format!("ip=127.0.0.1 lanplus=1 cipher={suite} weak_cipher=1");
            let o = IpmiOptions::from_params(&params(&text)).unwrap();
            assert_eq!(o.credentials.cipher_suite, suite);
            assert!(o.credentials.weak_cipher);
        }
    }

    #[test]
    fn bad_parameters_are_named() {
        for (text, needle) in [
            ("ip=127.0.0.1", "lanplus"),
            ("ip=127.0.0.1 lanplus=1 cipher=0", "cipher suite 0"),
            ("ip=127.0.0.1 lanplus=1 cipher=17", "cipher suite 17"),
            ("ip=127.0.0.1 lanplus=1 cipher=1", "weak_cipher=1"),
            ("ip=127.0.0.1 lanplus=1 cipher=2", "weak_cipher=1"),
            (
                "ip=127.0.0.1 lanplus=1 cipher=2 weak_cipher=0",
                "weak_cipher=1",
            ),
            (
                "ip=127.0.0.1 lanplus=1 cipher=0 weak_cipher=1",
                "cipher suite 0",
            ),
            (
                "ip=127.0.0.1 lanplus=1 cipher=1 weak_cipher=maybe",
                "weak_cipher",
            ),
            ("lanplus=1", "ip"),
            ("ip=127.0.0.1 lanplus=1 ipport=x", "ipport"),
            ("ip=127.0.0.1 lanplus=1 method=bounce", "method"),
            ("ip=127.0.0.1 lanplus=1 power_timeout=-1", "power_timeout"),
            ("ip=127.0.0.1 lanplus=1 privlvl=root", "privlvl"),
            ("ip=127.0.0.1 lanplus=1 hexadecimal_kg=zz", "hexadecimal_kg"),
            ("ip=127.0.0.1 lanplus=1 target=0x20", "bridging"),
        ] {
            let e = IpmiOptions::from_params(&params(text)).unwrap_err();
            assert!(matches!(e, Error::BadParameter(_)), "{text}: {e}");
            assert!(e.to_string().contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn a_kg_with_a_multibyte_character_is_a_bad_parameter() {
        for kg in ["é0", "0é", "0x€1", "aé", "0xé"] {
            let p = vec![
                ("ip".to_owned(), "127.0.0.1".to_owned()),
                ("lanplus".to_owned(), "1".to_owned()),
                ("hexadecimal_kg".to_owned(), kg.to_owned()),
            ];
            let e = IpmiOptions::from_params(&p).unwrap_err();
            assert!(matches!(e, Error::BadParameter(_)), "{kg}: {e}");
            assert!(e.to_string().contains("hexadecimal_kg"), "{kg}: {e}");
            assert!(!e.to_string().contains(kg), "the Kg is not quoted: {e}");
        }
        let p = params("ip=127.0.0.1 lanplus=1 hexadecimal_kg=0x00ff10");
        let o = IpmiOptions::from_params(&p).unwrap();
        assert_eq!(o.credentials.kg, Some(vec![0x00, 0xff, 0x10]));
    }

    /// Every parameter [`metadata`] lists, under each of its names.
    fn names() -> Vec<String> {
        metadata()
            .parameters
            .into_iter()
            .flat_map(|p| std::iter::once(p.name).chain(p.aliases))
            .chain(["target".to_owned(), "action".to_owned()])
            .collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        #[test]
        fn arbitrary_values_never_panic(
            values in proptest::collection::vec(
                (proptest::sample::select(names()), ".{0,40}"),
                0..12,
            ),
            unknown in proptest::collection::vec((".{0,12}", ".{0,12}"), 0..3),
        ) {
            // A reachable BMC first, so every value after it is read; a
            // later `ip` value is read (and resolved) like any other.
            let mut p = vec![
                ("ip".to_owned(), "127.0.0.1".to_owned()),
                ("lanplus".to_owned(), "1".to_owned()),
            ];
            p.extend(values);
            p.extend(unknown);
            if let Err(e) = IpmiOptions::from_params(&p) {
                proptest::prop_assert!(matches!(e, Error::BadParameter(_)), "{e:?}");
                let message = e.to_string();
                proptest::prop_assert!(!message.trim().is_empty());
                // Which parameter is wrong: the message opens with one of
                // its names (or says which rule of the login it breaks).
                proptest::prop_assert!(
                    names().iter().any(|n| message
                        .strip_prefix("bad parameter: ")
                        .unwrap_or(&message)
                        .strip_prefix(n.as_str())
                        .is_some_and(|rest| rest.starts_with(['=', ':', ' '])))
                        || message.contains("cipher suite")
                        || message.contains("IPMI user names"),
                    "{message}"
                );
            }
        }
    }
}
