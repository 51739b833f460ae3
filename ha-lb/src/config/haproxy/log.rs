//! The `log` keyword: syslog sockets, UDP servers, stdout and stderr.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use super::Warning;
use super::address::{is_host_name, split_host_port};
use super::lexer::{Ctx, number, port};
use crate::config::{LogTarget, SyslogAddress};
use crate::error::Result;

pub(super) const FACILITIES: &[&str] = &[
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "auth2",
    "ftp", "ntp", "audit", "alert", "cron2", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];
pub(super) const LEVELS: &[&str] = &[
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];
pub(super) const LOG_FORMATS: &[&str] = &[
    "local", "rfc3164", "rfc5424", "priority", "short", "timed", "iso", "raw",
];

/// `log TARGET [len N] [format F] [sample R:S] FACILITY [LEVEL [MINLEVEL]]`.
pub(super) fn parse_log(
    words: &[String],
    out: &mut Vec<Warning>,
    ctx: &Ctx<'_>,
) -> Result<LogTarget> {
    let usage = "expects TARGET FACILITY [LEVEL], e.g. 'log /dev/log local0' or 'log stdout format raw local0'";
    let Some(target) = words.get(1) else {
        return Err(ctx.error(format!("missing argument: 'log' {usage}")));
    };
    let mut i = 2;
    loop {
        match words.get(i).map(String::as_str) {
            Some("len") => {
                let value = words
                    .get(i + 1)
                    .ok_or_else(|| ctx.error("'log ... len' expects a length"))?;
                number(value, "log len", ctx)?;
                i += 2;
            }
            Some("format") => {
                let value = words
                    .get(i + 1)
                    .ok_or_else(|| ctx.error("'log ... format' expects a format name"))?;
                if !LOG_FORMATS.contains(&value.as_str()) {
                    return Err(ctx.error(format!(
                        "log: unknown format '{value}', expected one of {}",
                        LOG_FORMATS.join(", ")
                    )));
                }
                i += 2;
            }
            Some("sample") => {
                if words.get(i + 1).is_none() {
                    return Err(ctx.error("'log ... sample' expects RANGES:SIZE"));
                }
                out.push(
                    ctx.warning("log sampling is not implemented by ha-lb; every line is logged"),
                );
                i += 2;
            }
            _ => break,
        }
    }
    let Some(facility) = words.get(i) else {
        return Err(ctx.error(format!("log: missing syslog facility; 'log' {usage}")));
    };
    if !FACILITIES.contains(&facility.as_str()) {
        return Err(ctx.error(format!(
            "log: unknown syslog facility '{facility}', expected one of {}",
            FACILITIES.join(", ")
        )));
    }
    let levels = words.get(i + 1..).unwrap_or_default();
    if levels.len() > 2 {
        return Err(ctx.error(format!("too many arguments: 'log' {usage}")));
    }
    for level in levels {
        if !LEVELS.contains(&level.as_str()) {
            return Err(ctx.error(format!(
                "log: unknown level '{level}', expected one of {}",
                LEVELS.join(", ")
            )));
        }
    }
    let level = levels.first().cloned();
    let target = target.as_str();
    match target {
        "stdout" | "fd@1" => return Ok(LogTarget::Stdout),
        "stderr" | "fd@2" => return Ok(LogTarget::Stderr),
        _ => {}
    }
    let address = if let Some(path) = target.strip_prefix("unix@") {
        SyslogAddress::Unix(PathBuf::from(path))
    } else if target.starts_with('/') {
        SyslogAddress::Unix(PathBuf::from(target))
    } else {
        let rest = ["udp@", "udp4@", "udp6@", "ipv4@", "ipv6@"]
            .iter()
            .find_map(|p| target.strip_prefix(p))
            .unwrap_or(target);
        if rest.contains('@') {
            return Err(ctx.unsupported(format!("log target '{target}'")));
        }
        let (host, port_text) = split_host_port(rest).unwrap_or((rest, None));
        let port = match port_text {
            Some(p) => port(p, "log", ctx)?,
            None => 514,
        };
        match host.parse::<IpAddr>() {
            Ok(ip) => SyslogAddress::Udp(SocketAddr::new(ip, port)),
            Err(_) if is_host_name(host) => {
                return Err(ctx.unsupported(format!(
                    "host name '{host}' in a log target (use an IP address)"
                )));
            }
            Err(_) => {
                return Err(ctx.error(format!(
                    "log: invalid target '{target}', expected a socket path, IP[:PORT], stdout or stderr"
                )));
            }
        }
    };
    Ok(LogTarget::Syslog {
        address,
        facility: facility.clone(),
        level,
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::error::Error;

    #[test]
    fn log_targets() {
        let c = ctx();
        let mut out = Vec::new();
        let mut log = |line: &str| parse_log(&words(line), &mut out, &c);
        assert_eq!(
            log("log /dev/log local0").unwrap(),
            LogTarget::Syslog {
                address: SyslogAddress::Unix("/dev/log".into()),
                facility: "local0".into(),
                level: None
            }
        );
        assert_eq!(
            log("log 127.0.0.1:514 local0 notice").unwrap(),
            LogTarget::Syslog {
                address: SyslogAddress::Udp("127.0.0.1:514".parse().unwrap()),
                facility: "local0".into(),
                level: Some("notice".into())
            }
        );
        assert_eq!(
            log("log 10.0.0.9 local1").unwrap(),
            LogTarget::Syslog {
                address: SyslogAddress::Udp("10.0.0.9:514".parse().unwrap()),
                facility: "local1".into(),
                level: None
            }
        );
        assert_eq!(
            log("log stdout format raw local0").unwrap(),
            LogTarget::Stdout
        );
        assert_eq!(
            log("log stderr format iso daemon").unwrap(),
            LogTarget::Stderr
        );
        assert!(log("log /dev/log").is_err());
        assert!(log("log /dev/log local99").is_err());
        assert!(log("log /dev/log local0 loud").is_err());
        assert!(log("log stdout format fancy local0").is_err());
        assert!(log("log /dev/log local0 info debug extra").is_err());
        assert!(matches!(
            log("log ring@buf local0"),
            Err(Error::Unsupported { .. })
        ));
    }
}
