//! Import of haproxy.cfg into [`Config`].
//!
//! [`parse_str`] reads the text of one file; [`load`] reads several files in
//! order as one configuration, the way `haproxy -f a.cfg -f b.cfg` does (a
//! directory stands for its `*.cfg` files in name order). The result is the
//! model the proxy runs, with every `defaults` section already applied, and
//! the [`Warning`]s HAProxy would print.
//!
//! The rules are HAProxy 2.x's:
//! - sections `global`, `defaults [NAME]`, `frontend NAME`, `backend NAME` and
//!   `listen NAME` (a frontend and a backend of the same name whose default
//!   backend is itself) run until the next section keyword; proxies may say
//!   `from DEFAULTS` to pick a named `defaults` section. Section state does
//!   not carry over from one file to the next; `defaults` do.
//! - a line is split into words on blanks; `"..."` and `'...'` quote,
//!   backslash escapes (`\ `, `\#`, `\"`, `\r`, `\n`, `\t`, `\xHH`...) work
//!   outside single quotes, an unknown escape keeps its backslash (regexes),
//!   and `#` outside quotes starts a comment.
//! - a `defaults` section starts from HAProxy's built-in settings (mode tcp,
//!   `retries 3`, no timeouts...), not from the previous `defaults`; each
//!   proxy copies the settings in force where it starts. Frontend-side
//!   settings (client timeout, `maxconn`, log options, `default_backend`) go
//!   to frontends, backend-side ones (`balance`, `retries`, server timeouts,
//!   `option httpchk`, `default-server`) to backends.
//! - a timeout of 0 means no timeout, as in HAProxy, and is stored as `None`.
//!
//! Findings come in three kinds, as with HAProxy:
//! - unknown keywords, and settings ha-lb does not implement but that do not
//!   change where traffic goes (`option dontlognull`, `errorfile`, `chroot`,
//!   bind options other than TLS...): a [`Warning`] with `file:line`, and
//!   parsing goes on;
//! - invalid values (bad numbers or durations, missing arguments, unknown
//!   algorithms, duplicate names, references to backends or ACLs that do not
//!   exist...): [`Error::Config`] naming the file and line and what was
//!   expected;
//! - features that would change what happens to traffic and that ha-lb does
//!   not have yet (TLS, cookies, stick tables, `http-request` rules, the
//!   statistics page, anonymous ACLs, regex matches...):
//!   [`Error::Unsupported`], so nothing is silently served differently.
//!
//! ```
//! use std::path::Path;
//! use ha_lb::config::{haproxy, Mode, ServerAddress};
//!
//! let text = "\
//! frontend web
//!     bind *:80
//!     default_backend webs
//! backend webs
//!     server web1 192.168.122.101:80 check
//! ";
//! let imported = haproxy::parse_str(text, Path::new("haproxy.cfg"))?;
//! let web = &imported.config.frontends[0];
//! assert_eq!(web.mode, Mode::Tcp); // HAProxy's default
//! assert_eq!(web.binds[0].addr.to_string(), "0.0.0.0:80");
//! let server = &imported.config.backend("webs").unwrap().servers[0];
//! assert_eq!(server.address, ServerAddress::Socket("192.168.122.101:80".parse().unwrap()));
//! // No timeouts set: HAProxy warns, and so does ha-lb.
//! assert!(imported.warnings[0].to_string().starts_with("haproxy.cfg:1: missing timeouts"));
//! # Ok::<(), ha_lb::Error>(())
//! ```

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ha_core::StatusMatch;

use super::{
    Acl, AclTerm, Backend, Balance, Bind, Condition, Config, Criterion, Frontend, HashType,
    HttpCheck, Location, LogTarget, Mode, Options, Server, ServerAddress, SyslogAddress, Timeouts,
    UseBackend,
};
use crate::acl::Network;
use crate::error::{Error, Result};

pub use ha_core::Warning;

/// A configuration read from haproxy.cfg, with the remarks made on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The configuration, `defaults` applied.
    pub config: Config,
    /// Non-fatal remarks, in the order of the lines they are about (checks
    /// that need the whole configuration come last).
    pub warnings: Vec<Warning>,
}

/// Parses the text of one haproxy.cfg file; `file` is used in locations.
pub fn parse_str(text: &str, file: &Path) -> Result<Imported> {
    let mut importer = Importer::new();
    importer.feed(text, file)?;
    importer.finish()
}

/// Reads several files in order as one configuration, like
/// `haproxy -f a.cfg -f b.cfg`. A directory stands for the `*.cfg` files in
/// it, in name order.
pub fn load(paths: &[PathBuf]) -> Result<Imported> {
    if paths.is_empty() {
        return Err(Error::Config {
            location: Location::default(),
            message: "no configuration file given".into(),
        });
    }
    let mut importer = Importer::new();
    for path in paths {
        for file in config_files(path)? {
            let bytes = std::fs::read(&file).map_err(|source| Error::ReadConfig {
                path: file.clone(),
                source,
            })?;
            let text = std::str::from_utf8(&bytes).map_err(|e| {
                let before = bytes.get(..e.valid_up_to()).unwrap_or_default();
                let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
                Error::Config {
                    location: Location {
                        file: file.clone(),
                        line: u32::try_from(line).unwrap_or(u32::MAX),
                    },
                    message: "this line is not valid UTF-8".into(),
                }
            })?;
            importer.feed(text, &file)?;
        }
    }
    importer.finish()
}

/// The files `path` stands for: itself, or a directory's `*.cfg` files.
fn config_files(path: &Path) -> Result<Vec<PathBuf>> {
    let read_error = |source| Error::ReadConfig {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_error)?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(read_error)? {
        let file = entry.map_err(read_error)?.path();
        if file.extension().is_some_and(|e| e == "cfg") && file.is_file() {
            files.push(file);
        }
    }
    files.sort();
    Ok(files)
}

// ---------------------------------------------------------------------------
// Lines and words

/// The file and line being read.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    file: &'a Path,
    line: u32,
}

impl Ctx<'_> {
    fn loc(&self) -> Location {
        Location {
            file: self.file.to_path_buf(),
            line: self.line,
        }
    }

    fn error(&self, message: impl Into<String>) -> Error {
        Error::Config {
            location: self.loc(),
            message: message.into(),
        }
    }

    fn unsupported(&self, feature: impl Into<String>) -> Error {
        Error::Unsupported {
            location: self.loc(),
            feature: feature.into(),
        }
    }

    fn warning(&self, message: impl Into<String>) -> Warning {
        Warning {
            location: self.loc(),
            message: message.into(),
        }
    }
}

/// Why a line could not be split into words.
#[derive(Debug, PartialEq, Eq)]
enum LineError {
    /// A quote (the char) is not closed by the end of the line.
    UnmatchedQuote(char),
    /// `\x` not followed by two hex digits.
    BadHexEscape,
    /// `$NAME` or `${NAME}` inside double quotes.
    EnvVar(String),
    /// `\xHH` escapes produced bytes that are not UTF-8.
    InvalidUtf8,
}

impl LineError {
    fn into_error(self, ctx: &Ctx<'_>) -> Error {
        match self {
            LineError::UnmatchedQuote(q) => ctx.error(format!(
                "unmatched {q} quote: a quoted string must end on the same line"
            )),
            LineError::BadHexEscape => {
                ctx.error("invalid escape: '\\x' must be followed by two hexadecimal digits")
            }
            LineError::EnvVar(name) => {
                ctx.unsupported(format!("environment variable expansion ('{name}')"))
            }
            LineError::InvalidUtf8 => ctx.error("escape sequences on this line make invalid UTF-8"),
        }
    }
}

fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\x0b' | b'\x0c' | b'\r' | b'\n')
}

/// Splits a line into words the way HAProxy's `parse_line` does.
fn split_words(line: &str) -> std::result::Result<Vec<String>, LineError> {
    let bytes = line.as_bytes();
    let mut words = Vec::new();
    let mut word: Vec<u8> = Vec::new();
    let mut in_word = false;
    let (mut single, mut double) = (false, false);
    let mut i = 0;
    let finish = |word: &mut Vec<u8>, words: &mut Vec<String>| {
        String::from_utf8(std::mem::take(word))
            .map(|w| words.push(w))
            .map_err(|_| LineError::InvalidUtf8)
    };
    while let Some(&c) = bytes.get(i) {
        if !single && !double {
            if is_blank(c) {
                if in_word {
                    finish(&mut word, &mut words)?;
                    in_word = false;
                }
                i += 1;
                continue;
            }
            if c == b'#' {
                break;
            }
        }
        in_word = true;
        match c {
            b'"' if !single => {
                double = !double;
                i += 1;
            }
            b'\'' if !double => {
                single = !single;
                i += 1;
            }
            b'\\' if !single => match bytes.get(i + 1) {
                Some(&e @ (b'\\' | b' ' | b'\'' | b'"' | b'#' | b'$')) => {
                    word.push(e);
                    i += 2;
                }
                Some(b'r') => {
                    word.push(b'\r');
                    i += 2;
                }
                Some(b'n') => {
                    word.push(b'\n');
                    i += 2;
                }
                Some(b't') => {
                    word.push(b'\t');
                    i += 2;
                }
                Some(b'x') => {
                    let hex = bytes.get(i + 2..i + 4).ok_or(LineError::BadHexEscape)?;
                    let hex = std::str::from_utf8(hex).map_err(|_| LineError::BadHexEscape)?;
                    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(LineError::BadHexEscape);
                    }
                    let value = u8::from_str_radix(hex, 16).map_err(|_| LineError::BadHexEscape)?;
                    word.push(value);
                    i += 4;
                }
                _ => {
                    // Not an escape: the backslash stays (regexes need it).
                    word.push(b'\\');
                    i += 1;
                }
            },
            b'$' if double => {
                let rest = bytes.get(i + 1..).unwrap_or_default();
                let braced = rest.first() == Some(&b'{');
                let name_start = usize::from(braced);
                let name_len = rest
                    .get(name_start..)
                    .unwrap_or_default()
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                    .count();
                let starts_name = rest
                    .get(name_start)
                    .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_');
                if braced || starts_name {
                    let end = (name_start + name_len + usize::from(braced)).min(rest.len());
                    let name = String::from_utf8_lossy(rest.get(..end).unwrap_or_default());
                    return Err(LineError::EnvVar(format!("${name}")));
                }
                word.push(c);
                i += 1;
            }
            _ => {
                word.push(c);
                i += 1;
            }
        }
    }
    if single {
        return Err(LineError::UnmatchedQuote('\''));
    }
    if double {
        return Err(LineError::UnmatchedQuote('"'));
    }
    if in_word {
        finish(&mut word, &mut words)?;
    }
    Ok(words)
}

/// HAProxy's rule for proxy, server and ACL names.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'))
}

fn check_name(name: &str, what: &str, ctx: &Ctx<'_>) -> Result<()> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(ctx.error(format!(
            "invalid {what} name '{name}': only letters, digits, '.', '-', '_' and ':' are allowed"
        )))
    }
}

/// The single argument of `words[0]`, or an error saying `usage`.
fn one_arg<'w>(words: &'w [String], usage: &str, ctx: &Ctx<'_>) -> Result<&'w str> {
    match words {
        [_, value] => Ok(value),
        [kw] => Err(ctx.error(format!("missing argument: '{kw}' {usage}"))),
        [kw, ..] => Err(ctx.error(format!("too many arguments: '{kw}' {usage}"))),
        [] => Err(ctx.error(format!("missing keyword: {usage}"))),
    }
}

/// A whole number; `what` names it in the message.
fn number(word: &str, what: &str, ctx: &Ctx<'_>) -> Result<u32> {
    if word.is_empty() || !word.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ctx.error(format!("'{what}' expects a whole number, found '{word}'")));
    }
    word.parse().map_err(|_| {
        ctx.error(format!(
            "'{what}' value {word} is too large (at most {})",
            u32::MAX
        ))
    })
}

/// HAProxy's time values: a bare number is milliseconds.
fn duration(word: &str, what: &str, ctx: &Ctx<'_>) -> Result<Duration> {
    let value =
        ha_core::duration::haproxy(word).map_err(|e| ctx.error(format!("'{what}': {e}")))?;
    // HAProxy keeps times in signed 32-bit milliseconds.
    if value.as_millis() > i32::MAX as u128 {
        return Err(ctx.error(format!(
            "'{what}': {word} is too long (at most 2147483647 ms, about 24.8 days)"
        )));
    }
    Ok(value)
}

/// A port number 1..=65535.
fn port(word: &str, what: &str, ctx: &Ctx<'_>) -> Result<u16> {
    if word.is_empty() || !word.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ctx.error(format!(
            "{what}: invalid port '{word}', expected a number from 1 to 65535"
        )));
    }
    match word.parse::<u32>() {
        Ok(p @ 1..=65535) => Ok(p as u16),
        _ => Err(ctx.error(format!(
            "{what}: port {word} is out of range, expected 1 to 65535"
        ))),
    }
}

// ---------------------------------------------------------------------------
// Addresses

/// Which address family an `ipv4@`-style prefix asks for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    Any,
    V4,
    V6,
}

/// Strips `ipv4@`, `ipv6@`, `tcp@`, `tcp4@`, `tcp6@`; refuses other prefixes.
fn strip_family<'t>(text: &'t str, what: &str, ctx: &Ctx<'_>) -> Result<(Family, &'t str)> {
    let Some((prefix, rest)) = text.split_once('@') else {
        if text.starts_with('/') {
            return Err(ctx.unsupported(format!("UNIX socket address '{text}' ({what})")));
        }
        return Ok((Family::Any, text));
    };
    match prefix {
        "ipv4" | "tcp4" => Ok((Family::V4, rest)),
        "ipv6" | "tcp6" => Ok((Family::V6, rest)),
        "tcp" => Ok((Family::Any, rest)),
        "unix" | "abns" | "abnsz" | "fd" | "sockpair" | "udp" | "udp4" | "udp6" | "quic4"
        | "quic6" | "rhttp" | "uxst" | "uxdg" | "mptcp" | "mptcp4" | "mptcp6" => {
            Err(ctx.unsupported(format!("address type '{prefix}@' ({what} '{text}')")))
        }
        _ => Err(ctx.error(format!(
            "{what}: unknown address prefix '{prefix}@' in '{text}'"
        ))),
    }
}

/// Splits `host:port`, `[v6]:port`, `v6:port` (last colon) or `host`.
fn split_host_port(text: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after {
            "" => Some((host, None)),
            _ => Some((host, Some(after.strip_prefix(':')?))),
        };
    }
    Some(match text.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (text, None),
    })
}

fn family_ok(ip: IpAddr, family: Family) -> bool {
    match family {
        Family::Any => true,
        Family::V4 => ip.is_ipv4(),
        Family::V6 => ip.is_ipv6(),
    }
}

/// One `bind` address, a port range giving several.
fn bind_addresses(text: &str, ctx: &Ctx<'_>) -> Result<Vec<SocketAddr>> {
    let what = "bind";
    let (family, rest) = strip_family(text, what, ctx)?;
    let Some((host, Some(ports))) = split_host_port(rest) else {
        return Err(ctx.error(format!(
            "bind: missing port in '{text}', expected ADDRESS:PORT such as '*:80', ':80' or '[::]:80'"
        )));
    };
    let ip = match host {
        "" | "*" => match family {
            Family::V6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        },
        _ => match host.parse::<IpAddr>() {
            Ok(ip) => ip,
            Err(_) if is_host_name(host) => {
                return Err(ctx.unsupported(format!(
                    "host name '{host}' in a bind address (use an IP address)"
                )));
            }
            Err(_) => {
                return Err(ctx.error(format!(
                    "bind: invalid address '{host}' in '{text}', expected an IPv4 or IPv6 address, '*' or nothing"
                )));
            }
        },
    };
    if !family_ok(ip, family) {
        return Err(ctx.error(format!(
            "bind: address '{host}' does not match the address family asked for in '{text}'"
        )));
    }
    let (first, last) = match ports.split_once('-') {
        Some((lo, hi)) => (port(lo, what, ctx)?, port(hi, what, ctx)?),
        // Port 0 lets the kernel choose: for embedding and tests, which read
        // the bound address back.
        None if ports == "0" => (0, 0),
        None => {
            let p = port(ports, what, ctx)?;
            (p, p)
        }
    };
    if first > last {
        return Err(ctx.error(format!(
            "bind: port range {ports} is reversed, expected LOW-HIGH"
        )));
    }
    Ok((first..=last).map(|p| SocketAddr::new(ip, p)).collect())
}

/// A DNS name as HAProxy would resolve it.
fn is_host_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
        })
}

/// A `server` address: `IP:PORT`, `[v6]:PORT` or `HOST:PORT`.
fn server_address(text: &str, ctx: &Ctx<'_>) -> Result<ServerAddress> {
    let what = "server";
    let (family, rest) = strip_family(text, what, ctx)?;
    let Some((host, port_text)) = split_host_port(rest) else {
        return Err(ctx.error(format!(
            "server: invalid address '{text}', expected IP:PORT, [IPv6]:PORT or HOST:PORT"
        )));
    };
    let Some(port_text) = port_text.filter(|p| !p.is_empty()) else {
        return Err(ctx.unsupported(format!(
            "server address without a port ('{text}': HAProxy then reuses the client's destination port)"
        )));
    };
    if port_text.starts_with(['+', '-']) {
        return Err(ctx.unsupported(format!("port offsets on server addresses ('{text}')")));
    }
    let port = port(port_text, what, ctx)?;
    if host.is_empty() || host == "*" {
        return Err(ctx.error(format!(
            "server: missing address in '{text}', expected IP:PORT or HOST:PORT"
        )));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        if !family_ok(ip, family) {
            return Err(ctx.error(format!(
                "server: address '{host}' does not match the address family asked for in '{text}'"
            )));
        }
        return Ok(ServerAddress::Socket(SocketAddr::new(ip, port)));
    }
    if !text.starts_with('[') && is_host_name(host) {
        return Ok(ServerAddress::Name {
            host: host.to_owned(),
            port,
        });
    }
    Err(ctx.error(format!(
        "server: invalid address '{text}', expected IP:PORT, [IPv6]:PORT or HOST:PORT"
    )))
}

// ---------------------------------------------------------------------------
// Logs

const FACILITIES: &[&str] = &[
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "auth2",
    "ftp", "ntp", "audit", "alert", "cron2", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];
const LEVELS: &[&str] = &[
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];
const LOG_FORMATS: &[&str] = &[
    "local", "rfc3164", "rfc5424", "priority", "short", "timed", "iso", "raw",
];

/// `log TARGET [len N] [format F] [sample R:S] FACILITY [LEVEL [MINLEVEL]]`.
fn parse_log(words: &[String], out: &mut Vec<Warning>, ctx: &Ctx<'_>) -> Result<LogTarget> {
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

// ---------------------------------------------------------------------------
// Proxies being read

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Defaults,
    Frontend,
    Backend,
    Listen,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Defaults => "defaults",
            Kind::Frontend => "frontend",
            Kind::Backend => "backend",
            Kind::Listen => "listen",
        }
    }
}

/// `option httpchk [METHOD] [URI] [VERSION]`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HttpChk {
    method: String,
    uri: String,
    host: Option<String>,
}

/// The health-check settings of a backend before they become an
/// [`HttpCheck`]: `option httpchk` and the `http-check` rules are inherited
/// separately, as in HAProxy.
#[derive(Debug, Clone, Default)]
struct CheckDraft {
    httpchk: Option<HttpChk>,
    send_method: Option<String>,
    send_uri: Option<String>,
    send_host: Option<String>,
    expect: Option<StatusMatch>,
    /// The first `http-check` line the rules come from.
    rules_at: Option<Location>,
}

/// The frontend half of a proxy being read.
#[derive(Debug, Clone)]
struct FrontSide {
    fe: Frontend,
    /// Where `default_backend` was set (in the section or in defaults).
    default_backend_at: Option<Location>,
    /// `default_backend` appears in this very section.
    default_backend_here: bool,
}

/// The backend half of a proxy being read.
#[derive(Debug, Clone)]
struct BackSide {
    be: Backend,
    /// `default-server` settings for the servers that follow.
    default_server: Server,
    check: CheckDraft,
    /// An `http-check` line appeared in this very section (inherited rules
    /// are then dropped, as HAProxy does).
    check_rules_here: bool,
}

/// A `defaults` section's settings, as proxies copy them.
#[derive(Debug, Clone)]
struct Defaults {
    fe: FrontSide,
    be: BackSide,
}

impl Defaults {
    /// HAProxy's built-in settings, in force before any `defaults`.
    fn builtin() -> Self {
        let fe = Frontend {
            name: String::new(),
            binds: Vec::new(),
            mode: Mode::Tcp,
            timeouts: Timeouts::default(),
            maxconn: None,
            options: Options::default(),
            acls: Vec::new(),
            use_backends: Vec::new(),
            default_backend: None,
            location: Location::default(),
        };
        let be = Backend {
            name: String::new(),
            mode: Mode::Tcp,
            balance: Balance::RoundRobin,
            hash_type: HashType::MapBased,
            timeouts: Timeouts::default(),
            retries: 3,
            // ha-lb departs from HAProxy here: a retry after a failed
            // connect goes to another server unless `no option redispatch`
            // says otherwise. Nothing was sent, so it is always safe, and it
            // spares clients errors while a dead server is being detected.
            options: Options {
                redispatch: true,
                ..Options::default()
            },
            http_check: None,
            servers: Vec::new(),
            location: Location::default(),
        };
        let template = ServerAddress::Name {
            host: String::new(),
            port: 0,
        };
        Defaults {
            fe: FrontSide {
                fe,
                default_backend_at: None,
                default_backend_here: false,
            },
            be: BackSide {
                be,
                default_server: Server::new("", template),
                check: CheckDraft::default(),
                check_rules_here: false,
            },
        }
    }
}

/// A `defaults`, `frontend`, `backend` or `listen` section being read.
#[derive(Debug)]
struct Proxy {
    kind: Kind,
    name: String,
    location: Location,
    fe: Option<FrontSide>,
    be: Option<BackSide>,
}

impl Proxy {
    /// "frontend 'web'", "defaults section"...
    fn describe(&self) -> String {
        match (self.kind, self.name.is_empty()) {
            (Kind::Defaults, true) => "defaults section".into(),
            (kind, _) => format!("{} '{}'", kind.word(), self.name),
        }
    }

    /// The frontend half, or a warning that `what` is ignored here.
    fn front(
        &mut self,
        what: &str,
        out: &mut Vec<Warning>,
        ctx: &Ctx<'_>,
    ) -> Option<&mut FrontSide> {
        if self.fe.is_none() {
            out.push(ctx.warning(format!(
                "'{what}' ignored because {} has no frontend capability",
                self.describe()
            )));
        }
        self.fe.as_mut()
    }

    /// The backend half, or a warning that `what` is ignored here.
    fn back(&mut self, what: &str, out: &mut Vec<Warning>, ctx: &Ctx<'_>) -> Option<&mut BackSide> {
        if self.be.is_none() {
            out.push(ctx.warning(format!(
                "'{what}' ignored because {} has no backend capability",
                self.describe()
            )));
        }
        self.be.as_mut()
    }

    /// Refuses `what` in a `defaults` section.
    fn not_in_defaults(&self, what: &str, hint: &str, ctx: &Ctx<'_>) -> Result<()> {
        if self.kind == Kind::Defaults {
            return Err(ctx.error(format!(
                "'{what}' is not allowed in a defaults section{hint}"
            )));
        }
        Ok(())
    }
}

enum Section {
    Global,
    /// A section ha-lb does not read (`userlist`, `peers`...).
    Skipped,
    Proxy(Box<Proxy>),
}

/// Sections HAProxy has whose contents ha-lb skips, with one warning.
const SKIPPED_SECTIONS: &[&str] = &[
    "userlist",
    "peers",
    "resolvers",
    "mailers",
    "program",
    "http-errors",
    "ring",
    "cache",
    "fcgi-app",
    "crt-store",
    "log-forward",
    "traces",
    "acme",
];

/// HAProxy's predefined ACLs, which ha-lb does not provide.
const PREDEFINED_ACLS: &[&str] = &[
    "FALSE",
    "HTTP",
    "HTTP_1.0",
    "HTTP_1.1",
    "HTTP_2.0",
    "HTTP_3.0",
    "HTTP_CONTENT",
    "HTTP_URL_ABS",
    "HTTP_URL_SLASH",
    "HTTP_URL_STAR",
    "LOCALHOST",
    "METH_CONNECT",
    "METH_DELETE",
    "METH_GET",
    "METH_HEAD",
    "METH_OPTIONS",
    "METH_POST",
    "METH_PUT",
    "METH_TRACE",
    "RDP_COOKIE",
    "REQ_CONTENT",
    "TRUE",
    "WAIT_END",
];

struct Importer {
    config: Config,
    warnings: Vec<Warning>,
    section: Option<Section>,
    /// The `defaults` in force for the proxies that follow.
    defaults: Defaults,
    named_defaults: HashMap<String, Defaults>,
    frontend_names: HashMap<String, Location>,
    backend_names: HashMap<String, Location>,
    /// For each of `config.frontends`: where its `default_backend` was set
    /// (`None` for a `listen` using itself).
    default_backend_at: Vec<Option<Location>>,
}

impl Importer {
    fn new() -> Self {
        Importer {
            config: Config::default(),
            warnings: Vec::new(),
            section: None,
            defaults: Defaults::builtin(),
            named_defaults: HashMap::new(),
            frontend_names: HashMap::new(),
            backend_names: HashMap::new(),
            default_backend_at: Vec::new(),
        }
    }

    /// Reads one file. Sections end with the file; `defaults` carry on.
    fn feed(&mut self, text: &str, file: &Path) -> Result<()> {
        for (index, raw) in text.split('\n').enumerate() {
            let ctx = Ctx {
                file,
                line: u32::try_from(index + 1).unwrap_or(u32::MAX),
            };
            let words = split_words(raw).map_err(|e| e.into_error(&ctx))?;
            if words.is_empty() {
                continue;
            }
            self.line(&words, &ctx)?;
        }
        self.close_section()
    }

    fn line(&mut self, words: &[String], ctx: &Ctx<'_>) -> Result<()> {
        let keyword = words[0].as_str();
        match keyword {
            "global" => {
                self.close_section()?;
                if words.len() > 1 {
                    self.warnings
                        .push(ctx.warning("arguments after 'global' are ignored"));
                }
                self.section = Some(Section::Global);
                Ok(())
            }
            "defaults" => self.open_proxy(Kind::Defaults, words, ctx),
            "frontend" => self.open_proxy(Kind::Frontend, words, ctx),
            "backend" => self.open_proxy(Kind::Backend, words, ctx),
            "listen" => self.open_proxy(Kind::Listen, words, ctx),
            _ if SKIPPED_SECTIONS.contains(&keyword) => {
                self.close_section()?;
                self.warnings.push(ctx.warning(format!(
                    "'{keyword}' sections are not supported by ha-lb; this one is ignored up to the next section"
                )));
                self.section = Some(Section::Skipped);
                Ok(())
            }
            _ if keyword.starts_with('.') => self.directive(words, ctx),
            _ => match &mut self.section {
                None => Err(ctx.error(format!(
                    "unknown keyword '{keyword}' out of section: it must follow a section keyword (global, defaults, frontend, backend or listen)"
                ))),
                Some(Section::Skipped) => Ok(()),
                Some(Section::Global) => {
                    global_line(&mut self.config.global, &mut self.warnings, words, ctx)
                }
                Some(Section::Proxy(proxy)) => proxy_line(proxy, &mut self.warnings, words, ctx),
            },
        }
    }

    /// `.if`, `.notice`... lines.
    fn directive(&mut self, words: &[String], ctx: &Ctx<'_>) -> Result<()> {
        let text = words.get(1..).unwrap_or_default().join(" ");
        match words[0].as_str() {
            ".notice" | ".warning" | ".diag" => {
                self.warnings.push(ctx.warning(text));
                Ok(())
            }
            ".alert" => Err(ctx.error(text)),
            ".if" | ".elif" | ".else" | ".endif" => Err(ctx.unsupported(format!(
                "conditional blocks ('{}')",
                words[0]
            ))),
            other => Err(ctx.error(format!(
                "unknown directive '{other}', expected .if, .elif, .else, .endif, .notice, .warning, .diag or .alert"
            ))),
        }
    }

    fn open_proxy(&mut self, kind: Kind, words: &[String], ctx: &Ctx<'_>) -> Result<()> {
        self.close_section()?;
        let keyword = kind.word();
        let name = match words.get(1) {
            Some(name) if name != "from" || kind != Kind::Defaults => name.clone(),
            _ if kind == Kind::Defaults => String::new(),
            _ => {
                return Err(ctx.error(format!("'{keyword}' expects a name, e.g. '{keyword} web'")));
            }
        };
        if !name.is_empty() {
            check_name(&name, keyword, ctx)?;
        }
        let mut rest = words
            .get(1 + usize::from(!name.is_empty())..)
            .unwrap_or_default();
        let base = match rest.first().map(String::as_str) {
            Some("from") => {
                let Some(from) = rest.get(1) else {
                    return Err(ctx.error(format!(
                        "'{keyword} {name} from' expects the name of a defaults section"
                    )));
                };
                rest = rest.get(2..).unwrap_or_default();
                self.named_defaults.get(from).cloned().ok_or_else(|| {
                    ctx.error(format!(
                        "no defaults section named '{from}' before this line"
                    ))
                })?
            }
            // A defaults section resets to HAProxy's built-in settings.
            _ if kind == Kind::Defaults => Defaults::builtin(),
            _ => self.defaults.clone(),
        };
        if let Some(extra) = rest.first() {
            return Err(ctx.error(format!(
                "unexpected '{extra}' after '{keyword} {name}': expected nothing or 'from DEFAULTS'; listening addresses go on a 'bind' line"
            )));
        }
        let has_fe = matches!(kind, Kind::Defaults | Kind::Frontend | Kind::Listen);
        let has_be = matches!(kind, Kind::Defaults | Kind::Backend | Kind::Listen);
        if kind != Kind::Defaults {
            for (has, names, what) in [
                (has_fe, &self.frontend_names, "frontend"),
                (has_be, &self.backend_names, "backend"),
            ] {
                if let Some(previous) = names.get(&name).filter(|_| has) {
                    return Err(ctx.error(format!(
                        "{keyword} '{name}': a {what} with this name is already declared at {previous}"
                    )));
                }
            }
            if has_fe {
                self.frontend_names.insert(name.clone(), ctx.loc());
            }
            if has_be {
                self.backend_names.insert(name.clone(), ctx.loc());
            }
        }
        let Defaults { mut fe, mut be } = base;
        fe.fe.name.clone_from(&name);
        fe.fe.location = ctx.loc();
        fe.default_backend_here = false;
        be.be.name.clone_from(&name);
        be.be.location = ctx.loc();
        be.check_rules_here = false;
        self.section = Some(Section::Proxy(Box::new(Proxy {
            kind,
            name,
            location: ctx.loc(),
            fe: has_fe.then_some(fe),
            be: has_be.then_some(be),
        })));
        Ok(())
    }

    fn close_section(&mut self) -> Result<()> {
        let Some(Section::Proxy(proxy)) = self.section.take() else {
            return Ok(());
        };
        let proxy = *proxy;
        if proxy.kind == Kind::Defaults {
            if let (Some(fe), Some(be)) = (proxy.fe, proxy.be) {
                let defaults = Defaults { fe, be };
                if !proxy.name.is_empty() {
                    self.named_defaults
                        .insert(proxy.name.clone(), defaults.clone());
                }
                self.defaults = defaults;
            }
            return Ok(());
        }
        self.close_proxy(proxy);
        Ok(())
    }

    /// Resolves what depends on the whole section and stores the proxy.
    fn close_proxy(&mut self, mut proxy: Proxy) {
        let describe = proxy.describe();
        let at = |message: String| Warning {
            location: proxy.location.clone(),
            message,
        };
        let mode = proxy
            .fe
            .as_ref()
            .map(|f| f.fe.mode)
            .or(proxy.be.as_ref().map(|b| b.be.mode))
            .unwrap_or_default();
        let mut missing = Vec::new();
        if mode == Mode::Tcp {
            let forwardfor = proxy.fe.as_ref().is_some_and(|f| f.fe.options.forwardfor)
                || proxy.be.as_ref().is_some_and(|b| b.be.options.forwardfor);
            if forwardfor {
                self.warnings.push(at(format!(
                    "'option forwardfor' ignored for {describe} as it requires 'mode http'"
                )));
            }
        }
        if let Some(fe) = &mut proxy.fe {
            if mode == Mode::Tcp {
                fe.fe.options.forwardfor = false;
                if fe.fe.options.httplog {
                    self.warnings.push(at(format!(
                        "'option httplog' not usable with {describe} (needs 'mode http'); falling back to 'option tcplog'"
                    )));
                    fe.fe.options.httplog = false;
                    fe.fe.options.tcplog = true;
                }
            }
            if fe.fe.timeouts.client.is_none() {
                missing.push("client");
            }
        }
        if let Some(be) = &mut proxy.be {
            if mode == Mode::Tcp {
                be.be.options.forwardfor = false;
                if be.be.balance == Balance::Uri {
                    self.warnings.push(at(format!(
                        "'balance uri' needs 'mode http' for {describe}; falling back to roundrobin"
                    )));
                    be.be.balance = Balance::RoundRobin;
                }
            }
            if be.be.timeouts.connect.is_none() {
                missing.push("connect");
            }
            if be.be.timeouts.server.is_none() {
                missing.push("server");
            }
        }
        if !missing.is_empty() {
            self.warnings.push(at(format!(
                "missing timeouts for {describe}: {} not set, so such connections never time out (HAProxy warns the same)",
                missing
                    .iter()
                    .map(|t| format!("'timeout {t}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if let Some(mut be) = proxy.be {
            let check = be.check;
            be.be.http_check = match check.httpchk {
                Some(chk) => Some(HttpCheck {
                    method: check.send_method.unwrap_or(chk.method),
                    path: check.send_uri.unwrap_or(chk.uri),
                    host: check.send_host.or(chk.host),
                    expect: check.expect.unwrap_or(StatusMatch::SuccessOrRedirect),
                }),
                None => {
                    if let Some(location) = check.rules_at {
                        self.warnings.push(Warning {
                            location,
                            message: format!(
                                "'http-check' rules ignored for {describe} because 'option httpchk' is not enabled"
                            ),
                        });
                    }
                    None
                }
            };
            self.config.backends.push(be.be);
        }
        if let Some(mut fe) = proxy.fe {
            if proxy.kind == Kind::Listen && !fe.default_backend_here {
                fe.fe.default_backend = Some(proxy.name.clone());
                fe.default_backend_at = None;
            }
            if fe.fe.binds.is_empty() {
                self.warnings.push(at(format!(
                    "{describe} has no 'bind' line, so it does not listen; declare it as a backend if that was intended"
                )));
            }
            if fe.fe.default_backend.is_none() && fe.fe.use_backends.is_empty() {
                self.warnings.push(at(format!(
                    "{describe} has no default_backend and no use_backend rule: it refuses every connection"
                )));
            }
            self.config.frontends.push(fe.fe);
            self.default_backend_at.push(fe.default_backend_at);
        }
    }

    /// Checks that need every file: backend references and modes.
    fn finish(mut self) -> Result<Imported> {
        self.close_section()?;
        let backends: HashMap<&str, &Backend> = self
            .config
            .backends
            .iter()
            .map(|b| (b.name.as_str(), b))
            .collect();
        let known = || {
            let mut names: Vec<&str> = backends.keys().copied().collect();
            names.sort_unstable();
            if names.is_empty() {
                "there are no backends".to_owned()
            } else {
                format!("backends: {}", names.join(", "))
            }
        };
        let check = |fe: &Frontend, name: &str, location: &Location| -> Result<()> {
            let Some(backend) = backends.get(name) else {
                return Err(Error::Config {
                    location: location.clone(),
                    message: format!(
                        "frontend '{}' refers to backend '{name}', which does not exist ({})",
                        fe.name,
                        known()
                    ),
                });
            };
            if fe.mode == Mode::Http && backend.mode == Mode::Tcp {
                return Err(Error::Config {
                    location: location.clone(),
                    message: format!(
                        "frontend '{}' is in http mode and cannot use backend '{name}' (declared at {}), which is in tcp mode",
                        fe.name, backend.location
                    ),
                });
            }
            Ok(())
        };
        for (fe, at) in self.config.frontends.iter().zip(&self.default_backend_at) {
            if let (Some(name), Some(location)) = (&fe.default_backend, at) {
                check(fe, name, location)?;
            }
            for rule in &fe.use_backends {
                check(fe, &rule.backend, &rule.location)?;
            }
            if fe.mode == Mode::Tcp {
                for acl in fe.acls.iter().filter(|a| a.criterion != Criterion::Src) {
                    self.warnings.push(Warning {
                        location: acl.location.clone(),
                        message: format!(
                            "acl '{}' tests HTTP requests, but frontend '{}' is in tcp mode: it never matches",
                            acl.name, fe.name
                        ),
                    });
                }
            }
        }
        Ok(Imported {
            config: self.config,
            warnings: self.warnings,
        })
    }
}

// ---------------------------------------------------------------------------
// global

/// Global keywords HAProxy has that ha-lb ignores, with a warning.
const GLOBAL_IGNORED: &[&str] = &[
    "chroot",
    "pidfile",
    "stats",
    "ca-base",
    "crt-base",
    "nbproc",
    "cpu-map",
    "ulimit-n",
    "master-worker",
    "hard-stop-after",
    "spread-checks",
    "node",
    "description",
    "uid",
    "gid",
    "setenv",
    "presetenv",
    "unsetenv",
    "resetenv",
    "lua-load",
    "lua-prepend-path",
    "server-state-file",
    "server-state-base",
    "maxsslconn",
    "maxconnrate",
    "maxsessrate",
    "log-send-hostname",
    "log-tag",
    "localpeer",
    "quiet",
    "expose-experimental-directives",
    "insecure-fork-wanted",
    "set-dumpable",
    "busy-polling",
    "h1-case-adjust",
    "h1-case-adjust-file",
    "zero-warning",
    "strict-limits",
    "profiling.tasks",
    "default-path",
    "httpclient.resolvers.disabled",
];

fn global_line(
    global: &mut super::Global,
    out: &mut Vec<Warning>,
    words: &[String],
    ctx: &Ctx<'_>,
) -> Result<()> {
    let keyword = words[0].as_str();
    match keyword {
        "maxconn" => {
            let value = one_arg(words, "expects a number, e.g. 'maxconn 4096'", ctx)?;
            global.maxconn = Some(number(value, "maxconn", ctx)?).filter(|&n| n > 0);
        }
        "user" => {
            let value = one_arg(words, "expects a user name, e.g. 'user haproxy'", ctx)?;
            global.user = Some(value.to_owned());
        }
        "group" => {
            let value = one_arg(words, "expects a group name, e.g. 'group haproxy'", ctx)?;
            global.group = Some(value.to_owned());
        }
        "daemon" => {
            if words.len() > 1 {
                return Err(ctx.error("too many arguments: 'daemon' takes none"));
            }
            global.daemon = true;
        }
        "nbthread" => {
            let value = one_arg(words, "expects a number of threads, e.g. 'nbthread 4'", ctx)?;
            let n = number(value, "nbthread", ctx)?;
            if !(1..=4096).contains(&n) {
                return Err(ctx.error(format!("'nbthread' expects 1 to 4096 threads, found {n}")));
            }
            global.nbthread = Some(n);
        }
        "log" => {
            if words.get(1).is_some_and(|w| w == "global") {
                return Err(ctx.error(
                    "'log global' only makes sense in a proxy; in the global section give a target, e.g. 'log /dev/log local0'",
                ));
            }
            let target = parse_log(words, out, ctx)?;
            global.log.push(target);
        }
        _ if GLOBAL_IGNORED.contains(&keyword)
            || keyword.starts_with("ssl-")
            || keyword.starts_with("tune.") =>
        {
            out.push(ctx.warning(format!(
                "global '{keyword}' is not implemented by ha-lb; ignored"
            )));
        }
        _ => out.push(ctx.warning(format!(
            "unknown keyword '{keyword}' in the global section; ignored"
        ))),
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// frontend, backend, listen, defaults

/// Proxy keywords HAProxy has that would change what happens to traffic,
/// with a description of the feature.
fn unsupported_proxy_keyword(keyword: &str) -> Option<&'static str> {
    Some(match keyword {
        "cookie" => "cookie-based persistence",
        "stick" | "stick-table" => "stick tables",
        "http-request" | "http-response" | "http-after-response" => "HTTP rules",
        "tcp-request" | "tcp-response" => "TCP rules",
        "stats" => "the statistics page",
        "redirect" => "redirects",
        "use-server" | "force-persist" | "ignore-persist" | "persist" => "persistence rules",
        "server-template" => "server templates",
        "dispatch" | "transparent" | "source" => "special server selection",
        "monitor-uri" | "monitor" | "monitor-net" => "monitoring requests",
        "filter" => "filters",
        "http-send-name-header" => "server name headers",
        "tcp-check" => "tcp-check rules",
        "external-check" => "external checks",
        "use-fcgi-app" => "FastCGI",
        "disabled" => "disabled proxies",
        "reqadd" | "reqdel" | "reqrep" | "reqallow" | "reqdeny" | "reqtarpit" | "reqiallow"
        | "reqidel" | "reqideny" | "reqirep" | "reqitarpit" | "rspadd" | "rspdel" | "rsprep"
        | "rspdeny" | "rspidel" | "rspideny" | "rspirep" | "block" => "header rewriting rules",
        _ if keyword.starts_with("ssl") => "TLS settings",
        _ => return None,
    })
}

/// Proxy keywords HAProxy has that ha-lb ignores, with a warning.
const PROXY_IGNORED: &[&str] = &[
    "errorfile",
    "errorfiles",
    "errorloc",
    "errorloc302",
    "errorloc303",
    "http-error",
    "capture",
    "declare",
    "description",
    "id",
    "fullconn",
    "grace",
    "log-format",
    "log-format-sd",
    "error-log-format",
    "log-tag",
    "unique-id-format",
    "unique-id-header",
    "email-alert",
    "http-reuse",
    "compression",
    "rate-limit",
    "backlog",
    "max-keep-alive-queue",
    "max-session-srv-conns",
    "load-server-state-from-file",
    "server-state-file-name",
    "bind-process",
    "guid",
];

fn proxy_line(
    p: &mut Proxy,
    out: &mut Vec<Warning>,
    words: &[String],
    ctx: &Ctx<'_>,
) -> Result<()> {
    let keyword = words[0].as_str();
    match keyword {
        "no" => match words.get(1).map(String::as_str) {
            Some("option") => option(p, out, words.get(2..).unwrap_or_default(), false, ctx),
            Some("log") => Ok(()),
            Some(other) => {
                out.push(ctx.warning(format!("unknown keyword 'no {other}'; ignored")));
                Ok(())
            }
            None => Err(ctx.error("'no' expects a keyword, e.g. 'no option httplog'")),
        },
        "option" => option(p, out, words.get(1..).unwrap_or_default(), true, ctx),
        "mode" => {
            let mode = match one_arg(words, "expects 'http' or 'tcp'", ctx)? {
                "http" => Mode::Http,
                "tcp" => Mode::Tcp,
                other => {
                    return Err(
                        ctx.error(format!("unknown mode '{other}': expected 'http' or 'tcp'"))
                    );
                }
            };
            if let Some(fe) = &mut p.fe {
                fe.fe.mode = mode;
            }
            if let Some(be) = &mut p.be {
                be.be.mode = mode;
            }
            Ok(())
        }
        "timeout" => timeout(p, out, words, ctx),
        "contimeout" | "clitimeout" | "srvtimeout" => {
            let name = match keyword {
                "contimeout" => "connect",
                "clitimeout" => "client",
                _ => "server",
            };
            out.push(ctx.warning(format!(
                "'{keyword}' is deprecated (removed in HAProxy 2.1); use 'timeout {name}'"
            )));
            let value = one_arg(words, "expects a time, e.g. '5s'", ctx)?;
            let words = ["timeout".to_owned(), name.to_owned(), value.to_owned()];
            timeout(p, out, &words, ctx)
        }
        "maxconn" => {
            let value = one_arg(words, "expects a number, e.g. 'maxconn 2000'", ctx)?;
            let n = number(value, "maxconn", ctx)?;
            if let Some(fe) = p.front(keyword, out, ctx) {
                fe.fe.maxconn = Some(n).filter(|&n| n > 0);
            }
            Ok(())
        }
        "bind" => bind(p, out, words, ctx),
        "balance" => {
            let balance = parse_balance(words, ctx)?;
            if let Some(be) = p.back(keyword, out, ctx) {
                be.be.balance = balance;
            }
            Ok(())
        }
        "hash-type" => {
            let hash_type = parse_hash_type(words, out, ctx)?;
            if let Some(be) = p.back(keyword, out, ctx) {
                be.be.hash_type = hash_type;
            }
            Ok(())
        }
        "retries" => {
            let value = one_arg(words, "expects a number, e.g. 'retries 3'", ctx)?;
            let n = number(value, "retries", ctx)?;
            if let Some(be) = p.back(keyword, out, ctx) {
                be.be.retries = n;
            }
            Ok(())
        }
        "server" => server(p, words, ctx),
        "default-server" => {
            let Some(be) = p.back(keyword, out, ctx) else {
                return Ok(());
            };
            let mut template = be.default_server.clone();
            server_options(&mut template, words.get(1..).unwrap_or_default(), ctx)?;
            be.default_server = template;
            Ok(())
        }
        "default_backend" => {
            let name = one_arg(
                words,
                "expects a backend name, e.g. 'default_backend web_servers'",
                ctx,
            )?;
            if name.contains("%[") {
                return Err(ctx.unsupported(format!("dynamic backend names ('{name}')")));
            }
            check_name(name, "backend", ctx)?;
            if let Some(fe) = p.front(keyword, out, ctx) {
                fe.fe.default_backend = Some(name.to_owned());
                fe.default_backend_at = Some(ctx.loc());
                fe.default_backend_here = true;
            }
            Ok(())
        }
        "use_backend" => use_backend(p, out, words, ctx),
        "acl" => {
            p.not_in_defaults(
                keyword,
                "; declare ACLs in the frontend that uses them",
                ctx,
            )?;
            let acl = parse_acl(words, ctx)?;
            match &mut p.fe {
                Some(fe) => fe.fe.acls.push(acl),
                None => out.push(ctx.warning(format!(
                    "acl '{}' ignored: {} has no frontend capability, and ha-lb only routes with ACLs in frontends",
                    acl.name,
                    p.describe()
                ))),
            }
            Ok(())
        }
        "http-check" => http_check(p, out, words, ctx),
        "log" => {
            match words.get(1).map(String::as_str) {
                Some("global") if words.len() == 2 => {}
                Some("global") => {
                    return Err(ctx.error("too many arguments: 'log global' takes none"));
                }
                _ => {
                    parse_log(words, out, ctx)?;
                    out.push(ctx.warning(
                        "per-proxy log targets are not implemented by ha-lb; this proxy logs to the global targets",
                    ));
                }
            }
            Ok(())
        }
        _ => {
            if let Some(feature) = unsupported_proxy_keyword(keyword) {
                return Err(ctx.unsupported(format!("{feature} ('{}')", words.join(" "))));
            }
            if keyword == "enabled" {
                return Ok(());
            }
            if PROXY_IGNORED.contains(&keyword) {
                out.push(ctx.warning(format!("'{keyword}' is not implemented by ha-lb; ignored")));
            } else {
                out.push(ctx.warning(format!(
                    "unknown keyword '{keyword}' in {}; ignored",
                    p.describe()
                )));
            }
            Ok(())
        }
    }
}

fn timeout(p: &mut Proxy, out: &mut Vec<Warning>, words: &[String], ctx: &Ctx<'_>) -> Result<()> {
    let usage = "expects a timeout name and a time, e.g. 'timeout client 30s' (a bare number is milliseconds)";
    let (name, value) = match words {
        [_, name, value] => (name.as_str(), value.as_str()),
        [_] | [_, _] => return Err(ctx.error(format!("missing argument: 'timeout' {usage}"))),
        _ => return Err(ctx.error(format!("too many arguments: 'timeout' {usage}"))),
    };
    let what = format!("timeout {name}");
    // A timeout of 0 means none, as in HAProxy.
    let parse = || -> Result<Option<Duration>> {
        Ok(Some(duration(value, &what, ctx)?).filter(|d| !d.is_zero()))
    };
    match name {
        "client" => {
            let d = parse()?;
            if let Some(fe) = p.front(&what, out, ctx) {
                fe.fe.timeouts.client = d;
            }
        }
        "http-request" | "http-keep-alive" => {
            let d = parse()?;
            let set = |t: &mut Timeouts| match name {
                "http-request" => t.http_request = d,
                _ => t.http_keep_alive = d,
            };
            if let Some(fe) = &mut p.fe {
                set(&mut fe.fe.timeouts);
            }
            if let Some(be) = &mut p.be {
                set(&mut be.be.timeouts);
            }
        }
        "connect" | "server" | "queue" | "check" | "tunnel" => {
            let d = parse()?;
            if let Some(be) = p.back(&what, out, ctx) {
                let t = &mut be.be.timeouts;
                match name {
                    "connect" => t.connect = d,
                    "server" => t.server = d,
                    "queue" => t.queue = d,
                    "check" => t.check = d,
                    _ => t.tunnel = d,
                }
            }
        }
        "client-fin" | "server-fin" | "tarpit" => {
            parse()?;
            out.push(ctx.warning(format!(
                "'timeout {name}' is not implemented by ha-lb; ignored"
            )));
        }
        _ => {
            return Err(ctx.error(format!(
                "unknown timeout '{name}': expected client, connect, server, queue, check, tunnel, http-request, http-keep-alive, client-fin, server-fin or tarpit"
            )));
        }
    }
    Ok(())
}

/// Bind options that take a value (so the value is not read as an option).
const BIND_OPTIONS_WITH_VALUE: &[&str] = &[
    "name",
    "id",
    "maxconn",
    "backlog",
    "interface",
    "mss",
    "namespace",
    "nice",
    "process",
    "thread",
    "tcp-ut",
    "level",
    "severity-output",
    "mode",
    "uid",
    "gid",
    "user",
    "group",
    "proto",
    "alpn",
    "npn",
    "ciphers",
    "ciphersuites",
    "curves",
    "ecdhe",
    "ca-file",
    "ca-verify-file",
    "crl-file",
    "verify",
    "ssl-min-ver",
    "ssl-max-ver",
    "sigalgs",
    "client-sigalgs",
    "ca-sign-file",
    "ca-sign-pass",
    "quic-cc-algo",
    "shards",
    "label",
    "guid-prefix",
    "idle-ping",
    "accept-netscaler-cip",
];

fn bind(p: &mut Proxy, out: &mut Vec<Warning>, words: &[String], ctx: &Ctx<'_>) -> Result<()> {
    p.not_in_defaults("bind", "; put it in a frontend or listen section", ctx)?;
    let describe = p.describe();
    let Some(fe) = &mut p.fe else {
        return Err(ctx.error(format!(
            "'bind' is not allowed in {describe}: a backend does not listen; put it in a frontend or listen section"
        )));
    };
    let Some(addresses) = words.get(1) else {
        return Err(ctx.error(
            "missing argument: 'bind' expects ADDRESS:PORT[,ADDRESS:PORT...] such as '*:80'",
        ));
    };
    let mut ignored = Vec::new();
    let mut options = words.get(2..).unwrap_or_default().iter();
    while let Some(option) = options.next() {
        match option.as_str() {
            "ssl" | "crt" | "crt-list" => {
                return Err(ctx.unsupported(format!(
                    "TLS on bind lines ('{option}' in '{}')",
                    words.join(" ")
                )));
            }
            _ if BIND_OPTIONS_WITH_VALUE.contains(&option.as_str()) => {
                ignored.push(match options.next() {
                    Some(value) => format!("{option} {value}"),
                    None => option.clone(),
                });
            }
            _ => ignored.push(option.clone()),
        }
    }
    for part in addresses.split(',') {
        for addr in bind_addresses(part, ctx)? {
            fe.fe.binds.push(Bind {
                addr,
                location: ctx.loc(),
            });
        }
    }
    if !ignored.is_empty() {
        out.push(ctx.warning(format!(
            "bind options not implemented by ha-lb are ignored: {}",
            ignored.join(", ")
        )));
    }
    Ok(())
}

fn parse_balance(words: &[String], ctx: &Ctx<'_>) -> Result<Balance> {
    let expected = "expected roundrobin, static-rr, leastconn, first, source, uri or random[(N)]";
    let Some(algorithm) = words.get(1) else {
        return Err(ctx.error(format!("missing argument: 'balance' {expected}")));
    };
    let extra = words.get(2..).unwrap_or_default();
    let no_extra = |balance: Balance| {
        if let Some(word) = extra.first() {
            Err(ctx.error(format!(
                "too many arguments: 'balance {algorithm}' takes no option, found '{word}'"
            )))
        } else {
            Ok(balance)
        }
    };
    match algorithm.as_str() {
        "roundrobin" => no_extra(Balance::RoundRobin),
        "static-rr" => no_extra(Balance::StaticRr),
        "leastconn" => no_extra(Balance::LeastConn),
        "first" => no_extra(Balance::First),
        "source" => no_extra(Balance::Source),
        "uri" if extra.is_empty() => Ok(Balance::Uri),
        "uri" => Err(ctx.unsupported(format!("'balance uri' options ('{}')", extra.join(" ")))),
        "random" => no_extra(Balance::Random { draws: 2 }),
        a if a.starts_with("random(") => {
            let draws = a
                .strip_prefix("random(")
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(|| ctx.error(format!("balance: expected 'random(N)', found '{a}'")))?;
            let draws = number(draws, "balance random(N)", ctx)?;
            if draws == 0 {
                return Err(ctx.error("balance random(N): N must be at least 1"));
            }
            no_extra(Balance::Random { draws })
        }
        a if a == "hash"
            || a == "url_param"
            || a == "rdp-cookie"
            || a == "hdr"
            || a.starts_with("hdr(")
            || a.starts_with("rdp-cookie(") =>
        {
            Err(ctx.unsupported(format!("'balance {a}'")))
        }
        other => Err(ctx.error(format!("unknown balance algorithm '{other}': {expected}"))),
    }
}

fn parse_hash_type(words: &[String], out: &mut Vec<Warning>, ctx: &Ctx<'_>) -> Result<HashType> {
    let usage = "expects map-based or consistent, then optionally a hash function, e.g. 'hash-type consistent'";
    let hash_type = match words.get(1).map(String::as_str) {
        Some("map-based") => HashType::MapBased,
        Some("consistent") => HashType::Consistent,
        Some(other) => {
            return Err(ctx.error(format!(
                "unknown hash-type '{other}': expected map-based or consistent"
            )));
        }
        None => return Err(ctx.error(format!("missing argument: 'hash-type' {usage}"))),
    };
    let rest = words.get(2..).unwrap_or_default();
    if rest.len() > 2 {
        return Err(ctx.error(format!("too many arguments: 'hash-type' {usage}")));
    }
    if let Some(function) = rest.first() {
        if !["sdbm", "djb2", "wt6", "crc32", "none"].contains(&function.as_str()) {
            return Err(ctx.error(format!(
                "unknown hash function '{function}': expected sdbm, djb2, wt6, crc32 or none"
            )));
        }
        if let Some(modifier) = rest.get(1).filter(|m| *m != "avalanche") {
            return Err(ctx.error(format!(
                "unknown hash modifier '{modifier}': expected avalanche"
            )));
        }
        out.push(ctx.warning(format!(
            "hash function '{}' ignored: ha-lb uses its own hash",
            rest.join(" ")
        )));
    }
    Ok(hash_type)
}

fn server(p: &mut Proxy, words: &[String], ctx: &Ctx<'_>) -> Result<()> {
    p.not_in_defaults(
        "server",
        "; use 'default-server' for settings shared by servers",
        ctx,
    )?;
    let describe = p.describe();
    let Some(be) = &mut p.be else {
        return Err(ctx.error(format!(
            "'server' is not allowed in {describe}: a frontend has no servers; put servers in a backend or listen section"
        )));
    };
    let (Some(name), Some(address)) = (words.get(1), words.get(2)) else {
        return Err(ctx.error(
            "missing argument: 'server' expects NAME ADDRESS:PORT [options], e.g. 'server web1 192.168.122.101:80 check'",
        ));
    };
    check_name(name, "server", ctx)?;
    if let Some(previous) = be.be.servers.iter().find(|s| s.name == *name) {
        return Err(ctx.error(format!(
            "{describe} already has a server named '{name}' (at {})",
            previous.location
        )));
    }
    let mut server = be.default_server.clone();
    server.name.clone_from(name);
    server.address = server_address(address, ctx)?;
    server.location = ctx.loc();
    server_options(&mut server, words.get(3..).unwrap_or_default(), ctx)?;
    be.be.servers.push(server);
    Ok(())
}

/// Server keywords HAProxy has that ha-lb does not.
const SERVER_UNSUPPORTED: &[&str] = &[
    "cookie",
    "ssl",
    "no-ssl",
    "verify",
    "verifyhost",
    "no-verifyhost",
    "sni",
    "check-ssl",
    "check-sni",
    "check-alpn",
    "crt",
    "ca-file",
    "crl-file",
    "alpn",
    "npn",
    "ciphers",
    "ciphersuites",
    "curves",
    "sigalgs",
    "client-sigalgs",
    "allow-0rtt",
    "tls-tickets",
    "no-tls-tickets",
    "send-proxy",
    "send-proxy-v2",
    "send-proxy-v2-ssl",
    "send-proxy-v2-ssl-cn",
    "no-send-proxy",
    "proxy-v2-options",
    "check-send-proxy",
    "track",
    "redir",
    "resolvers",
    "resolve-prefer",
    "resolve-net",
    "resolve-opts",
    "init-addr",
    "agent-check",
    "no-agent-check",
    "agent-port",
    "agent-inter",
    "agent-addr",
    "agent-send",
    "usesrc",
    "source",
    "proto",
    "check-proto",
    "namespace",
    "socks4",
    "check-via-socks4",
    "observe",
    "on-error",
    "on-marked-down",
    "on-marked-up",
    "error-limit",
    "slowstart",
    "maxqueue",
    "minconn",
    "id",
    "tfo",
    "pool-max-conn",
    "pool-low-conn",
    "pool-purge-delay",
    "pool-conn-name",
    "max-reuse",
    "tcp-ut",
    "ws",
    "set-proxy-v2-tlv-fmt",
    "guid",
    "hash-key",
    "log-proto",
    "log-bufsize",
    "non-stick",
    "stick",
    "shard",
    "idle-ping",
    "strict-maxconn",
    "check-reuse-pool",
    "check-pool-conn-name",
];

fn server_feature(keyword: &str) -> String {
    let tls = [
        "ssl",
        "verify",
        "verifyhost",
        "sni",
        "crt",
        "ca-file",
        "crl-file",
        "alpn",
        "npn",
        "ciphers",
        "ciphersuites",
        "curves",
        "sigalgs",
        "allow-0rtt",
        "tls-tickets",
    ];
    let bare = keyword
        .strip_prefix("no-")
        .or_else(|| keyword.strip_prefix("check-"))
        .unwrap_or(keyword);
    if tls.contains(&bare) || keyword.starts_with("force-") || keyword.starts_with("ssl-") {
        format!("TLS to servers (server option '{keyword}')")
    } else if keyword == "cookie" {
        "cookie-based persistence (server option 'cookie')".to_owned()
    } else {
        format!("server option '{keyword}'")
    }
}

const SERVER_KEYWORDS: &str = "check, no-check, inter, fastinter, downinter, rise, fall, port, addr, weight, backup, no-backup, maxconn, disabled or enabled";

/// The options after `server NAME ADDRESS`, or after `default-server`.
fn server_options(server: &mut Server, args: &[String], ctx: &Ctx<'_>) -> Result<()> {
    let mut words = args.iter();
    while let Some(keyword) = words.next() {
        let keyword = keyword.as_str();
        let mut value = |example: &str| {
            words.next().map(String::as_str).ok_or_else(|| {
                ctx.error(format!(
                    "server option '{keyword}' expects a value, e.g. '{keyword} {example}'"
                ))
            })
        };
        match keyword {
            "check" => server.check = true,
            "no-check" => server.check = false,
            "backup" => server.backup = true,
            "no-backup" => server.backup = false,
            "disabled" => server.disabled = true,
            "enabled" => server.disabled = false,
            "inter" | "fastinter" | "downinter" => {
                let d = duration(value("2s")?, keyword, ctx)?;
                if d.is_zero() {
                    return Err(
                        ctx.error(format!("server option '{keyword}' must be a positive time"))
                    );
                }
                match keyword {
                    "inter" => server.inter = d,
                    "fastinter" => server.fastinter = Some(d),
                    _ => server.downinter = Some(d),
                }
            }
            "rise" | "fall" => {
                let n = number(value("3")?, keyword, ctx)?;
                if n == 0 {
                    return Err(ctx.error(format!("server option '{keyword}' must be at least 1")));
                }
                if keyword == "rise" {
                    server.rise = n;
                } else {
                    server.fall = n;
                }
            }
            "port" => server.check_port = Some(port(value("8080")?, "server option 'port'", ctx)?),
            "addr" => {
                let text = value("10.0.0.1")?;
                server.check_addr = Some(text.parse().map_err(|_| {
                    ctx.error(format!(
                        "server option 'addr' expects an IP address, found '{text}'"
                    ))
                })?);
            }
            "weight" => {
                let n = number(value("10")?, "weight", ctx)?;
                if n > 256 {
                    return Err(ctx.error(format!(
                        "server weight {n} is out of range: expected 0 to 256"
                    )));
                }
                server.weight = n;
            }
            "maxconn" => {
                let n = number(value("100")?, "maxconn", ctx)?;
                server.maxconn = Some(n).filter(|&n| n > 0);
            }
            _ if SERVER_UNSUPPORTED.contains(&keyword)
                || keyword.starts_with("force-")
                || keyword.starts_with("ssl-")
                || keyword.starts_with("no-tls")
                || keyword.starts_with("no-ssl") =>
            {
                return Err(ctx.unsupported(server_feature(keyword)));
            }
            _ => {
                return Err(ctx.error(format!(
                    "unknown server option '{keyword}': expected {SERVER_KEYWORDS}"
                )));
            }
        }
    }
    Ok(())
}

fn use_backend(
    p: &mut Proxy,
    out: &mut Vec<Warning>,
    words: &[String],
    ctx: &Ctx<'_>,
) -> Result<()> {
    p.not_in_defaults("use_backend", "; put rules in a frontend", ctx)?;
    let Some(name) = words.get(1) else {
        return Err(ctx.error(
            "missing argument: 'use_backend' expects NAME [if|unless CONDITION], e.g. 'use_backend api if is_api'",
        ));
    };
    if name.contains("%[") {
        return Err(ctx.unsupported(format!("dynamic backend names ('{name}')")));
    }
    check_name(name, "backend", ctx)?;
    let Some(fe) = p.front("use_backend", out, ctx) else {
        return Ok(());
    };
    let condition = match words.get(2).map(String::as_str) {
        None => Condition {
            unless: false,
            any_of: vec![Vec::new()],
        },
        Some(word @ ("if" | "unless")) => parse_condition(
            word == "unless",
            words.get(3..).unwrap_or_default(),
            &fe.fe.acls,
            ctx,
        )?,
        Some(other) => {
            return Err(ctx.error(format!(
                "use_backend {name}: expected 'if' or 'unless' before the condition, found '{other}'"
            )));
        }
    };
    fe.fe.use_backends.push(UseBackend {
        backend: name.clone(),
        condition,
        location: ctx.loc(),
    });
    Ok(())
}

/// The words after `if`/`unless`: ACL names side by side are ANDed, `||`
/// or `or` separate alternatives, `!` negates (and may stand alone).
fn parse_condition(
    unless: bool,
    words: &[String],
    acls: &[Acl],
    ctx: &Ctx<'_>,
) -> Result<Condition> {
    let keyword = if unless { "unless" } else { "if" };
    if words.is_empty() {
        return Err(ctx.error(format!(
            "missing condition after '{keyword}', e.g. '{keyword} is_api' or '{keyword} is_api || !is_static'"
        )));
    }
    let mut any_of = Vec::new();
    let mut all_of = Vec::new();
    let mut negated = false;
    for word in words {
        let word = word.as_str();
        if word == "||" || word == "or" {
            if negated {
                return Err(ctx.error(format!("'!' before '{word}' negates nothing")));
            }
            if all_of.is_empty() {
                return Err(ctx.error(format!(
                    "empty alternative before '{word}': expected an ACL name"
                )));
            }
            any_of.push(std::mem::take(&mut all_of));
            continue;
        }
        if word.starts_with('{') || word.ends_with('}') {
            return Err(ctx.unsupported("anonymous ACLs ('{ ... }'); declare a named acl"));
        }
        let name = word.trim_start_matches('!');
        if (word.len() - name.len()) % 2 == 1 {
            negated = !negated;
        }
        if name.is_empty() {
            continue;
        }
        if !acls.iter().any(|a| a.name == name) {
            if PREDEFINED_ACLS.contains(&name) {
                return Err(ctx.unsupported(format!(
                    "predefined ACL '{name}'; declare a named acl instead"
                )));
            }
            return Err(ctx.error(format!(
                "unknown ACL '{name}' in condition: ACLs must be declared with 'acl {name} ...' before the rule using them"
            )));
        }
        all_of.push(AclTerm {
            name: name.to_owned(),
            negated,
        });
        negated = false;
    }
    if negated {
        return Err(ctx.error("'!' at the end of the condition negates nothing"));
    }
    if all_of.is_empty() {
        return Err(ctx.error("condition ends with '||': expected an ACL name after it"));
    }
    any_of.push(all_of);
    Ok(Condition { unless, any_of })
}

/// How a criterion compares, from its name or `-m`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum MatchKind {
    Exact,
    Begin,
    End,
}

/// `acl NAME CRITERION [FLAGS] VALUE...`.
fn parse_acl(words: &[String], ctx: &Ctx<'_>) -> Result<Acl> {
    let usage = "expects NAME CRITERION [-i] VALUE..., e.g. 'acl is_api path_beg /api'";
    let (Some(name), Some(fetch)) = (words.get(1), words.get(2)) else {
        return Err(ctx.error(format!("missing argument: 'acl' {usage}")));
    };
    check_name(name, "ACL", ctx)?;
    // The criterion, and whether its match kind is implied by its name.
    let (family, implied) = parse_fetch(fetch, ctx)?;
    let mut ignore_case = false;
    let mut kind = implied;
    let mut rest = words.get(3..).unwrap_or_default();
    while let Some(flag) = rest.first().filter(|w| w.starts_with('-')) {
        rest = rest.get(1..).unwrap_or_default();
        match flag.as_str() {
            "--" => break,
            "-i" => ignore_case = true,
            "-n" => {}
            "-m" => {
                let Some(method) = rest.first() else {
                    return Err(ctx.error("acl flag '-m' expects a match method, e.g. '-m beg'"));
                };
                rest = rest.get(1..).unwrap_or_default();
                let asked = match method.as_str() {
                    "str" | "ip" => MatchKind::Exact,
                    "beg" => MatchKind::Begin,
                    "end" => MatchKind::End,
                    "sub" | "reg" | "dir" | "dom" | "len" | "found" | "bool" | "int" | "bin" => {
                        return Err(ctx.unsupported(format!(
                            "match method '-m {method}' (ha-lb has str, beg, end and ip)"
                        )));
                    }
                    other => {
                        return Err(ctx.error(format!(
                            "unknown match method '-m {other}': expected str, beg, end, sub, reg, dir, dom, len, found, bool, int, ip or bin"
                        )));
                    }
                };
                let fits = match family {
                    Fetch::Src => method == "ip",
                    Fetch::Method => method == "str",
                    Fetch::Path | Fetch::Hdr(_) => {
                        method != "ip" && (implied.is_none() || implied == Some(asked))
                    }
                };
                if !fits {
                    return Err(
                        ctx.unsupported(format!("match method '-m {method}' with '{fetch}'"))
                    );
                }
                kind = Some(asked);
            }
            "-f" => {
                return Err(ctx.unsupported("ACL values read from files ('-f')"));
            }
            "-M" => return Err(ctx.unsupported("ACL maps ('-M')")),
            "-u" => {
                if rest.is_empty() {
                    return Err(ctx.error("acl flag '-u' expects a unique id"));
                }
                rest = rest.get(1..).unwrap_or_default();
            }
            other => {
                return Err(ctx.error(format!(
                    "unknown acl flag '{other}': expected -i, -m METHOD, -n or '--' before values starting with '-'"
                )));
            }
        }
    }
    if rest.is_empty() {
        return Err(ctx.error(format!("acl '{name}': missing value; 'acl' {usage}")));
    }
    let kind = kind.unwrap_or(MatchKind::Exact);
    let criterion = match (family, kind) {
        (Fetch::Path, MatchKind::Exact) => Criterion::Path,
        (Fetch::Path, MatchKind::Begin) => Criterion::PathBeg,
        (Fetch::Path, MatchKind::End) => Criterion::PathEnd,
        (Fetch::Hdr(h), MatchKind::Exact) => Criterion::Hdr(h),
        (Fetch::Hdr(h), MatchKind::Begin) => Criterion::HdrBeg(h),
        (Fetch::Hdr(h), MatchKind::End) => Criterion::HdrEnd(h),
        (Fetch::Src, _) => Criterion::Src,
        (Fetch::Method, _) => Criterion::Method,
    };
    if criterion == Criterion::Src {
        for value in rest {
            if Network::parse(value).is_none() {
                return Err(ctx.error(format!(
                    "acl '{name}': invalid src value '{value}', expected an IP address or a network such as 10.0.0.0/8 or 2001:db8::/32"
                )));
            }
        }
    }
    Ok(Acl {
        name: name.clone(),
        criterion,
        ignore_case,
        values: rest.to_vec(),
        location: ctx.loc(),
    })
}

/// What an ACL fetches, before the match kind is known.
enum Fetch {
    Path,
    Hdr(String),
    Src,
    Method,
}

/// `path`, `path_beg`, `hdr(host)`, `req.hdr(host)`, `hdr_end(x)`, `src`, `method`.
fn parse_fetch(fetch: &str, ctx: &Ctx<'_>) -> Result<(Fetch, Option<MatchKind>)> {
    let (base, arg) = match fetch.split_once('(') {
        Some((base, rest)) => {
            let Some(arg) = rest.strip_suffix(')') else {
                return Err(ctx.error(format!("acl criterion '{fetch}': missing ')'")));
            };
            (base, Some(arg))
        }
        None => (fetch, None),
    };
    let no_arg = |family: Fetch, kind: Option<MatchKind>| match arg {
        None => Ok((family, kind)),
        Some(_) => Err(ctx.unsupported(format!("acl criterion '{fetch}' with an argument"))),
    };
    let header = |kind: Option<MatchKind>| -> Result<(Fetch, Option<MatchKind>)> {
        let Some(arg) = arg else {
            return Err(ctx.unsupported(format!(
                "acl criterion '{fetch}' without a header name (all headers)"
            )));
        };
        if arg.contains(',') {
            return Err(ctx.unsupported(format!("header occurrence selection in '{fetch}'")));
        }
        if arg.is_empty() || http::HeaderName::from_bytes(arg.as_bytes()).is_err() {
            return Err(ctx.error(format!(
                "acl criterion '{fetch}': invalid header name '{arg}'"
            )));
        }
        Ok((Fetch::Hdr(arg.to_owned()), kind))
    };
    match base {
        "path" => no_arg(Fetch::Path, None),
        "path_beg" => no_arg(Fetch::Path, Some(MatchKind::Begin)),
        "path_end" => no_arg(Fetch::Path, Some(MatchKind::End)),
        "hdr" | "req.hdr" => header(None),
        "hdr_beg" => header(Some(MatchKind::Begin)),
        "hdr_end" => header(Some(MatchKind::End)),
        "src" => no_arg(Fetch::Src, Some(MatchKind::Exact)),
        "method" => no_arg(Fetch::Method, Some(MatchKind::Exact)),
        _ => Err(ctx.unsupported(format!(
            "acl criterion '{fetch}' (ha-lb has path, path_beg, path_end, hdr(), hdr_beg(), hdr_end(), src and method)"
        ))),
    }
}

fn option(
    p: &mut Proxy,
    out: &mut Vec<Warning>,
    args: &[String],
    enable: bool,
    ctx: &Ctx<'_>,
) -> Result<()> {
    let prefix = if enable { "option" } else { "no option" };
    let Some(name) = args.first() else {
        return Err(ctx.error(format!(
            "missing argument: '{prefix}' expects an option name, e.g. '{prefix} httplog'"
        )));
    };
    let name = name.as_str();
    let params = args.get(1..).unwrap_or_default();
    let what = format!("{prefix} {name}");
    let ignore_params = |out: &mut Vec<Warning>| {
        if !params.is_empty() {
            out.push(ctx.warning(format!(
                "parameters of '{what}' are not implemented by ha-lb; ignored: {}",
                params.join(" ")
            )));
        }
    };
    match name {
        "httpchk" => {
            let httpchk = if enable {
                Some(parse_httpchk(params, out, ctx)?)
            } else {
                None
            };
            if let Some(be) = p.back(&what, out, ctx) {
                be.check.httpchk = httpchk;
            }
        }
        "forwardfor" => {
            if enable {
                ignore_params(out);
            }
            if let Some(fe) = &mut p.fe {
                fe.fe.options.forwardfor = enable;
            }
            if let Some(be) = &mut p.be {
                be.be.options.forwardfor = enable;
            }
        }
        "redispatch" | "allbackups" => {
            ignore_params(out);
            if let Some(be) = p.back(&what, out, ctx) {
                if name == "redispatch" {
                    be.be.options.redispatch = enable;
                } else {
                    be.be.options.allbackups = enable;
                }
            }
        }
        "httplog" | "tcplog" => {
            ignore_params(out);
            if let Some(fe) = p.front(&what, out, ctx) {
                let options = &mut fe.fe.options;
                if name == "httplog" {
                    options.httplog = enable;
                    options.tcplog &= !enable;
                } else {
                    options.tcplog = enable;
                    options.httplog &= !enable;
                }
            }
        }
        // Without tcp-check rules (which are refused), this is the plain
        // connect check servers get anyway.
        "tcp-check" => {}
        "ssl-hello-chk" | "mysql-check" | "pgsql-check" | "redis-check" | "smtpchk"
        | "ldap-check" | "spop-check" | "external-check" => {
            if enable {
                return Err(ctx.unsupported(format!("health checks of type '{what}'")));
            }
        }
        "http-use-proxy-header"
        | "accept-invalid-http-request"
        | "accept-invalid-http-response"
        | "accept-unsafe-violations-in-http-request"
        | "accept-unsafe-violations-in-http-response"
        | "transparent"
        | "http_proxy"
        | "persist"
        | "originalto"
        | "checkcache"
        | "http-buffer-request"
        | "prefer-last-server"
        | "http-restrict-req-hdr-names"
        | "spop-check-disable" => {
            if enable {
                return Err(ctx.unsupported(format!("'{what}'")));
            }
        }
        "dontlognull"
        | "dontlog-normal"
        | "log-health-checks"
        | "log-separate-errors"
        | "logasap"
        | "http-server-close"
        | "http-keep-alive"
        | "httpclose"
        | "forceclose"
        | "http-pretend-keepalive"
        | "abortonclose"
        | "splice-auto"
        | "splice-request"
        | "splice-response"
        | "tcpka"
        | "clitcpka"
        | "srvtcpka"
        | "contstats"
        | "socket-stats"
        | "nolinger"
        | "independent-streams"
        | "http-no-delay"
        | "http-ignore-probes"
        | "tcp-smart-accept"
        | "tcp-smart-connect"
        | "disable-h2-upgrade"
        | "h1-case-adjust-bogus-client"
        | "h1-case-adjust-bogus-server"
        | "idle-close-on-response"
        | "httpslog"
        | "http-drop-request-trailers"
        | "http-drop-response-trailers" => {
            out.push(ctx.warning(format!("'{what}' is not implemented by ha-lb; ignored")));
        }
        _ => out.push(ctx.warning(format!("unknown option '{name}'; ignored"))),
    }
    Ok(())
}

fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn check_method(method: &str, what: &str, ctx: &Ctx<'_>) -> Result<()> {
    if is_token(method) {
        Ok(())
    } else {
        Err(ctx.error(format!(
            "{what}: invalid HTTP method '{}'",
            method.escape_debug()
        )))
    }
}

fn check_uri(uri: &str, what: &str, ctx: &Ctx<'_>) -> Result<()> {
    if uri.is_empty() || uri.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err(ctx.error(format!(
            "{what}: invalid URI '{}', expected a path such as /health (no spaces or control characters)",
            uri.escape_debug()
        )));
    }
    Ok(())
}

/// `option httpchk [[METHOD] URI [VERSION[\r\nHeader:\ value...]]]`.
fn parse_httpchk(params: &[String], out: &mut Vec<Warning>, ctx: &Ctx<'_>) -> Result<HttpChk> {
    let what = "option httpchk";
    let (method, uri, version) = match params {
        [] => ("OPTIONS", "/", None),
        [uri] => ("OPTIONS", uri.as_str(), None),
        [method, uri] => (method.as_str(), uri.as_str(), None),
        [method, uri, version] => (method.as_str(), uri.as_str(), Some(version.as_str())),
        _ => {
            return Err(ctx.error(
                "too many arguments: 'option httpchk' expects [METHOD] [URI] [VERSION]; escape spaces in headers as '\\ ' (HTTP/1.1\\r\\nHost:\\ www) or use 'http-check send'",
            ));
        }
    };
    check_method(method, what, ctx)?;
    check_uri(uri, what, ctx)?;
    let mut host = None;
    if let Some(version) = version {
        let mut lines = version.split("\r\n");
        let version = lines.next().unwrap_or_default();
        if version != "HTTP/1.0" && version != "HTTP/1.1" {
            out.push(ctx.warning(format!(
                "check version '{}' ignored: ha-lb sends HTTP/1.1 checks",
                version.escape_debug()
            )));
        }
        for header in lines.filter(|l| !l.is_empty()) {
            let Some((name, value)) = header.split_once(':') else {
                return Err(ctx.error(format!(
                    "{what}: invalid header '{}' after the version, expected 'Name: value'",
                    header.escape_debug()
                )));
            };
            let (name, value) = (name.trim(), value.trim());
            if name.eq_ignore_ascii_case("host") {
                host = Some(value.to_owned());
            } else {
                out.push(ctx.warning(format!(
                    "check header '{name}' ignored: ha-lb only sends a Host header with checks"
                )));
            }
        }
    }
    Ok(HttpChk {
        method: method.to_owned(),
        uri: uri.to_owned(),
        host,
    })
}

/// `http-check expect ...` and `http-check send ...`.
fn http_check(
    p: &mut Proxy,
    out: &mut Vec<Warning>,
    words: &[String],
    ctx: &Ctx<'_>,
) -> Result<()> {
    let Some(action) = words.get(1) else {
        return Err(ctx.error(
            "missing argument: 'http-check' expects 'expect status N', 'expect rstatus REGEX' or 'send meth M uri U hdr Host H'",
        ));
    };
    let args = words.get(2..).unwrap_or_default();
    let line = words.join(" ");
    enum Rule {
        Expect(StatusMatch),
        Send {
            method: Option<String>,
            uri: Option<String>,
            host: Option<String>,
        },
    }
    let rule = match action.as_str() {
        "expect" => Rule::Expect(parse_expect(args, &line, ctx)?),
        "send" => {
            let (mut method, mut uri, mut host) = (None, None, None);
            let mut words = args.iter();
            while let Some(key) = words.next() {
                let mut value = || {
                    words.next().cloned().ok_or_else(|| {
                        ctx.error(format!("http-check send: '{key}' expects a value"))
                    })
                };
                match key.as_str() {
                    "meth" => {
                        let m = value()?;
                        check_method(&m, "http-check send", ctx)?;
                        method = Some(m);
                    }
                    "uri" => {
                        let u = value()?;
                        check_uri(&u, "http-check send", ctx)?;
                        uri = Some(u);
                    }
                    "ver" => {
                        let v = value()?;
                        if v != "HTTP/1.0" && v != "HTTP/1.1" {
                            out.push(ctx.warning(format!(
                                "check version '{v}' ignored: ha-lb sends HTTP/1.1 checks"
                            )));
                        }
                    }
                    "hdr" => {
                        let name = value()?;
                        let v = value()?;
                        if name.eq_ignore_ascii_case("host") {
                            host = Some(v);
                        } else {
                            out.push(ctx.warning(format!(
                                "check header '{name}' ignored: ha-lb only sends a Host header with checks"
                            )));
                        }
                    }
                    "body" | "body-lf" | "uri-lf" => {
                        return Err(ctx.unsupported(format!("'{key}' in '{line}'")));
                    }
                    "comment" => {
                        value()?;
                    }
                    other => {
                        return Err(ctx.error(format!(
                            "http-check send: unknown parameter '{other}', expected meth, uri, ver, hdr or body"
                        )));
                    }
                }
            }
            Rule::Send { method, uri, host }
        }
        "disable-on-404" | "send-state" | "connect" | "set-var" | "unset-var" => {
            return Err(ctx.unsupported(format!("'{line}'")));
        }
        "comment" => return Ok(()),
        other => {
            return Err(ctx.error(format!(
                "unknown http-check action '{other}': expected expect or send"
            )));
        }
    };
    let Some(be) = p.back("http-check", out, ctx) else {
        return Ok(());
    };
    if !be.check_rules_here {
        // A proxy's own http-check rules replace the inherited ones.
        be.check_rules_here = true;
        let httpchk = be.check.httpchk.take();
        be.check = CheckDraft {
            httpchk,
            rules_at: Some(ctx.loc()),
            ..CheckDraft::default()
        };
    }
    match rule {
        Rule::Expect(expect) => {
            if be.check.expect.is_some() {
                return Err(
                    ctx.unsupported(format!("several 'http-check expect' rules ('{line}')"))
                );
            }
            be.check.expect = Some(expect);
        }
        Rule::Send { method, uri, host } => {
            let check = &mut be.check;
            check.send_method = method.or(check.send_method.take());
            check.send_uri = uri.or(check.send_uri.take());
            check.send_host = host.or(check.send_host.take());
        }
    }
    Ok(())
}

/// `http-check expect status N|LOW-HIGH` or `rstatus REGEX` (simple forms).
fn parse_expect(args: &[String], line: &str, ctx: &Ctx<'_>) -> Result<StatusMatch> {
    let usage =
        "'http-check expect' expects 'status N', 'status LOW-HIGH' or 'rstatus REGEX' (such as ^2)";
    let (matcher, pattern) = match args {
        [m, p] => (m.as_str(), p.as_str()),
        [] | [_] => return Err(ctx.error(format!("missing argument: {usage}"))),
        [first, ..] => {
            if first.starts_with('!')
                || [
                    "min-recv",
                    "comment",
                    "ok-status",
                    "error-status",
                    "tout-status",
                    "on-success",
                    "on-error",
                    "status-code",
                ]
                .contains(&first.as_str())
            {
                return Err(ctx.unsupported(format!("'{line}'")));
            }
            return Err(ctx.error(format!("too many arguments: {usage}")));
        }
    };
    match matcher {
        "status" => {
            let status = |text: &str| -> Result<u16> {
                match text.parse::<u16>() {
                    Ok(s @ 100..=599) if text.bytes().all(|b| b.is_ascii_digit()) => Ok(s),
                    _ => Err(ctx.error(format!(
                        "http-check expect status: invalid status '{text}', expected 100 to 599"
                    ))),
                }
            };
            if pattern.contains(',') {
                return Err(ctx.unsupported(format!("status lists ('{line}')")));
            }
            match pattern.split_once('-') {
                Some((lo, hi)) => {
                    let (lo, hi) = (status(lo)?, status(hi)?);
                    if lo > hi {
                        return Err(ctx.error(format!(
                            "http-check expect status: range {pattern} is reversed, expected LOW-HIGH"
                        )));
                    }
                    Ok(StatusMatch::Range(lo, hi))
                }
                None => Ok(StatusMatch::Exact(status(pattern)?)),
            }
        }
        "rstatus" => rstatus(pattern).ok_or_else(|| {
            ctx.unsupported(format!(
                "status regex '{pattern}' (ha-lb understands digit prefixes such as ^2, ^20 or 2..)"
            ))
        }),
        "!" => Err(ctx.unsupported(format!("'{line}'"))),
        "string" | "rstring" | "hdr" | "fhdr" | "custom" => {
            Err(ctx.unsupported(format!("'{line}'")))
        }
        other => Err(ctx.error(format!(
            "unknown http-check expect match '{other}': {usage}"
        ))),
    }
}

/// The status regexes that are a digit prefix: `^2`, `^20`, `^200$`, `2..`.
fn rstatus(regex: &str) -> Option<StatusMatch> {
    let (start, rest) = match regex.strip_prefix('^') {
        Some(rest) => (true, rest),
        None => (false, regex),
    };
    let (body, end) = match rest.strip_suffix('$') {
        Some(body) => (body, true),
        None => (rest, false),
    };
    let digits = body.bytes().take_while(u8::is_ascii_digit).count();
    let dots = body.get(digits..)?;
    if digits == 0 || body.len() > 3 || !dots.bytes().all(|b| b == b'.') {
        return None;
    }
    // Statuses are three digits: a shorter pattern is a prefix only when
    // anchored at the start and not at the end.
    if body.len() < 3 && (!start || end) {
        return None;
    }
    let prefix: u16 = body.get(..digits)?.parse().ok()?;
    let scale = 10u16.pow(3 - digits as u32);
    let low = prefix * scale;
    let high = low + scale - 1;
    Some(if low == high {
        StatusMatch::Exact(low)
    } else {
        StatusMatch::Range(low, high)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        split_words(line).unwrap()
    }

    fn ctx() -> Ctx<'static> {
        Ctx {
            file: Path::new("t.cfg"),
            line: 7,
        }
    }

    fn parse(text: &str) -> Result<Imported> {
        parse_str(text, Path::new("t.cfg"))
    }

    #[test]
    fn words_split_on_blanks_and_drop_comments() {
        assert_eq!(
            words("  server  web1\t10.0.0.1:80 check # comment"),
            ["server", "web1", "10.0.0.1:80", "check"]
        );
        assert_eq!(words("# only a comment"), Vec::<String>::new());
        assert_eq!(words("a#b c"), ["a"]);
        assert_eq!(words("   "), Vec::<String>::new());
    }

    #[test]
    fn words_quotes_and_escapes() {
        assert_eq!(
            words(r#"say "hello world" 'it''s' "#),
            ["say", "hello world", "its"]
        );
        assert_eq!(words(r#"a "" b"#), ["a", "", "b"]);
        assert_eq!(words(r#"x "a#b" 'c#d' e\#f"#), ["x", "a#b", "c#d", "e#f"]);
        assert_eq!(words(r"HTTP/1.1\r\nHost:\ www"), ["HTTP/1.1\r\nHost: www"]);
        assert_eq!(words(r"'\r\n'"), [r"\r\n"]);
        assert_eq!(words(r"^www\.example\.com$"), [r"^www\.example\.com$"]);
        assert_eq!(words(r"\x41\x62 \\ \t"), ["Ab", "\\", "\t"]);
        assert_eq!(
            words(r#""a\"b" mixed"quoted"'parts'"#),
            ["a\"b", "mixedquotedparts"]
        );
        assert_eq!(words("trailing\\"), ["trailing\\"]);
        assert_eq!(words("'$HOME' $HOME"), ["$HOME", "$HOME"]);
    }

    #[test]
    fn words_errors() {
        assert_eq!(split_words(r#"a "b"#), Err(LineError::UnmatchedQuote('"')));
        assert_eq!(split_words("a 'b"), Err(LineError::UnmatchedQuote('\'')));
        assert_eq!(split_words(r"\xZZ"), Err(LineError::BadHexEscape));
        assert_eq!(split_words(r"\x4"), Err(LineError::BadHexEscape));
        assert_eq!(split_words(r"\xff"), Err(LineError::InvalidUtf8));
        assert_eq!(
            split_words(r#"bind "${ADDR}:80""#),
            Err(LineError::EnvVar("${ADDR}".into()))
        );
        assert_eq!(
            split_words(r#""$PORT""#),
            Err(LineError::EnvVar("$PORT".into()))
        );
        assert_eq!(split_words(r#""100$""#).unwrap(), ["100$"]);
    }

    #[test]
    fn bind_address_forms() {
        let c = ctx();
        let one = |t: &str| bind_addresses(t, &c).unwrap();
        assert_eq!(one("*:80"), ["0.0.0.0:80".parse().unwrap()]);
        assert_eq!(one(":80"), ["0.0.0.0:80".parse().unwrap()]);
        assert_eq!(one("10.1.2.3:8080"), ["10.1.2.3:8080".parse().unwrap()]);
        assert_eq!(one("[::]:443"), ["[::]:443".parse().unwrap()]);
        assert_eq!(one(":::80"), ["[::]:80".parse().unwrap()]);
        assert_eq!(one("::1:80"), ["[::1]:80".parse().unwrap()]);
        assert_eq!(one("ipv6@:80"), ["[::]:80".parse().unwrap()]);
        assert_eq!(one("ipv4@*:80"), ["0.0.0.0:80".parse().unwrap()]);
        assert_eq!(one(":8000-8002").len(), 3);
        assert_eq!(one("127.0.0.1:0"), ["127.0.0.1:0".parse().unwrap()]);
        for bad in [
            "10.0.0.1",
            "*:0-2",
            "*:65536",
            "*:http",
            "10.0.0.1/8:80",
            ":90-80",
            "[::1]",
        ] {
            assert!(
                matches!(bind_addresses(bad, &c), Err(Error::Config { .. })),
                "{bad}"
            );
        }
        for unsupported in [
            "/run/x.sock",
            "unix@/x",
            "fd@3",
            "localhost:80",
            "1.2.3.4.5:80",
        ] {
            assert!(
                matches!(
                    bind_addresses(unsupported, &c),
                    Err(Error::Unsupported { .. })
                ),
                "{unsupported}"
            );
        }
        assert!(matches!(
            bind_addresses("ipv4@[::]:80", &c),
            Err(Error::Config { .. })
        ));
    }

    #[test]
    fn server_address_forms() {
        let c = ctx();
        assert_eq!(
            server_address("192.168.122.101:80", &c).unwrap(),
            ServerAddress::Socket("192.168.122.101:80".parse().unwrap())
        );
        assert_eq!(
            server_address("[2001:db8::1]:8080", &c).unwrap(),
            ServerAddress::Socket("[2001:db8::1]:8080".parse().unwrap())
        );
        assert_eq!(
            server_address("web-1.example.com:80", &c).unwrap(),
            ServerAddress::Name {
                host: "web-1.example.com".into(),
                port: 80
            }
        );
        for bad in [
            ":80",
            "*:80",
            "a b:80",
            "1.2.3.4:0",
            "1.2.3.4:99999",
            "[web]:80",
        ] {
            assert!(
                matches!(server_address(bad, &c), Err(Error::Config { .. })),
                "{bad}"
            );
        }
        for unsupported in ["10.0.0.1", "10.0.0.1:+1", "unix@/x.sock", "/x.sock"] {
            assert!(
                matches!(
                    server_address(unsupported, &c),
                    Err(Error::Unsupported { .. })
                ),
                "{unsupported}"
            );
        }
    }

    #[test]
    fn rstatus_simple_forms() {
        assert_eq!(rstatus("^2"), Some(StatusMatch::Range(200, 299)));
        assert_eq!(rstatus("^20"), Some(StatusMatch::Range(200, 209)));
        assert_eq!(rstatus("^200"), Some(StatusMatch::Exact(200)));
        assert_eq!(rstatus("^200$"), Some(StatusMatch::Exact(200)));
        assert_eq!(rstatus("2.."), Some(StatusMatch::Range(200, 299)));
        assert_eq!(rstatus("^3.."), Some(StatusMatch::Range(300, 399)));
        assert_eq!(rstatus("^2.$"), None);
        assert_eq!(rstatus("2"), None);
        assert_eq!(rstatus("^2$"), None);
        assert_eq!(rstatus("^(2|3)"), None);
        assert_eq!(rstatus("^2[0-9]"), None);
        assert_eq!(rstatus("^2000"), None);
        assert_eq!(rstatus("^.2"), None);
        assert_eq!(rstatus(""), None);
    }

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

    #[test]
    fn conditions() {
        let c = ctx();
        let acls: Vec<Acl> = ["a", "b", "c"]
            .iter()
            .map(|n| parse_acl(&words(&format!("acl {n} path /{n}")), &c).unwrap())
            .collect();
        let cond = |text: &str| parse_condition(false, &words(text), &acls, &c);
        let t = |name: &str, negated| AclTerm {
            name: name.into(),
            negated,
        };
        assert_eq!(
            cond("a b").unwrap().any_of,
            [vec![t("a", false), t("b", false)]]
        );
        assert_eq!(
            cond("a || !b c").unwrap().any_of,
            [vec![t("a", false)], vec![t("b", true), t("c", false)]]
        );
        assert_eq!(
            cond("! a or !!b").unwrap().any_of,
            [vec![t("a", true)], vec![t("b", false)]]
        );
        for bad in ["", "a ||", "|| a", "a || || b", "a !", "nope"] {
            assert!(matches!(cond(bad), Err(Error::Config { .. })), "{bad:?}");
        }
        assert!(matches!(
            cond("{ path /x }"),
            Err(Error::Unsupported { .. })
        ));
        assert!(matches!(cond("METH_GET"), Err(Error::Unsupported { .. })));
    }

    #[test]
    fn acl_forms() {
        let c = ctx();
        let acl = |line: &str| parse_acl(&words(line), &c);
        let a = acl("acl api path_beg -i /api /v1").unwrap();
        assert_eq!(a.criterion, Criterion::PathBeg);
        assert!(a.ignore_case);
        assert_eq!(a.values, ["/api", "/v1"]);
        assert_eq!(
            acl("acl x path -m beg /a").unwrap().criterion,
            Criterion::PathBeg
        );
        assert_eq!(
            acl("acl x path -m end .js").unwrap().criterion,
            Criterion::PathEnd
        );
        assert_eq!(
            acl("acl x hdr(host) -m beg www.").unwrap().criterion,
            Criterion::HdrBeg("host".into())
        );
        assert_eq!(
            acl("acl x req.hdr(Host) a").unwrap().criterion,
            Criterion::Hdr("Host".into())
        );
        assert_eq!(
            acl("acl x hdr_end(host) -i .example.com")
                .unwrap()
                .criterion,
            Criterion::HdrEnd("host".into())
        );
        assert_eq!(
            acl("acl x src 10.0.0.0/8 ::1").unwrap().criterion,
            Criterion::Src
        );
        assert_eq!(
            acl("acl x src -m ip 10.0.0.1").unwrap().criterion,
            Criterion::Src
        );
        assert_eq!(
            acl("acl x method GET HEAD").unwrap().criterion,
            Criterion::Method
        );
        assert_eq!(acl("acl x path -- -weird").unwrap().values, ["-weird"]);
        for bad in [
            "acl x",
            "acl x path",
            "acl x path -i",
            "acl x src 10.0.0.0/33",
            "acl x src example.com",
            "acl x hdr() a",
            "acl x hdr(a b) a",
            "acl x hdr(host a",
            "acl x path -q a",
            "acl x path -m",
            "acl bad/name path /",
        ] {
            assert!(matches!(acl(bad), Err(Error::Config { .. })), "{bad}");
        }
        for unsupported in [
            "acl x path_reg ^/a",
            "acl x path -m reg ^/a",
            "acl x path_beg -m end /a",
            "acl x hdr(host,1) a",
            "acl x hdr a",
            "acl x path -f /etc/paths",
            "acl x src -m str 1.2.3.4",
            "acl x ssl_fc",
        ] {
            assert!(
                matches!(acl(unsupported), Err(Error::Unsupported { .. })),
                "{unsupported}"
            );
        }
    }

    #[test]
    fn httpchk_forms() {
        fn chk_with(line: &str, out: &mut Vec<Warning>) -> Result<HttpChk> {
            parse_httpchk(&words(line), out, &ctx())
        }
        let mut out = Vec::new();
        let chk = |line: &str| chk_with(line, &mut Vec::new());
        assert_eq!(
            chk("").unwrap(),
            HttpChk {
                method: "OPTIONS".into(),
                uri: "/".into(),
                host: None
            }
        );
        assert_eq!(chk("/health").unwrap().uri, "/health");
        let old = chk(r"GET /health HTTP/1.1\r\nHost:\ www.example.com").unwrap();
        assert_eq!(old.method, "GET");
        assert_eq!(old.uri, "/health");
        assert_eq!(old.host.as_deref(), Some("www.example.com"));
        assert!(chk("GET /health HTTP/1.1 extra").is_err());
        assert!(chk("G(T /health").is_err());
        assert!(chk(r"GET /a\r\nb").is_err());
        assert!(chk(r"GET / HTTP/1.1\r\nnocolon").is_err());
        chk_with(r"GET / HTTP/1.1\r\nHost:\ a", &mut out).unwrap();
        assert!(out.is_empty());
        chk_with(r"GET / HTTP/1.1\r\nX-A:\ 1", &mut out).unwrap();
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn http_check_rules_build_the_check() {
        let cfg = "backend b\n option httpchk GET /h\n http-check send meth HEAD hdr Host example.org\n http-check expect rstatus ^2\n";
        let imported = parse(cfg).unwrap();
        let check = imported.config.backends[0].http_check.clone().unwrap();
        assert_eq!(check.method, "HEAD");
        assert_eq!(check.path, "/h");
        assert_eq!(check.host.as_deref(), Some("example.org"));
        assert_eq!(check.expect, StatusMatch::Range(200, 299));

        let cfg =
            "backend b\n timeout connect 1s\n timeout server 1s\n http-check expect status 200\n";
        let imported = parse(cfg).unwrap();
        assert_eq!(imported.config.backends[0].http_check, None);
        assert_eq!(imported.warnings.len(), 1, "{:?}", imported.warnings);
        assert_eq!(imported.warnings[0].location.line, 4);
        assert!(imported.warnings[0].message.contains("option httpchk"));

        let e = parse("backend b\n option httpchk\n http-check expect status 200\n http-check expect status 201\n")
            .unwrap_err();
        assert!(matches!(e, Error::Unsupported { ref location, .. } if location.line == 4));
    }

    #[test]
    fn proxy_rules_inherit_check_rules_only_without_their_own() {
        let cfg = "\
defaults
  option httpchk GET /d
  http-check expect status 204
backend inherits
backend own
  http-check send uri /own
";
        let imported = parse(cfg).unwrap();
        let inherits = imported
            .config
            .backend("inherits")
            .unwrap()
            .http_check
            .clone()
            .unwrap();
        assert_eq!(
            (inherits.path.as_str(), inherits.expect),
            ("/d", StatusMatch::Exact(204))
        );
        let own = imported
            .config
            .backend("own")
            .unwrap()
            .http_check
            .clone()
            .unwrap();
        assert_eq!(own.method, "GET");
        assert_eq!(
            (own.path.as_str(), own.expect),
            ("/own", StatusMatch::SuccessOrRedirect)
        );
    }

    #[test]
    fn tcp_mode_fallbacks_warn() {
        let cfg = "\
defaults
  option httplog
  option forwardfor
  timeout client 1s
  timeout connect 1s
  timeout server 1s
listen app
  bind :8080
  balance uri
  server a 10.0.0.1:80
";
        let imported = parse(cfg).unwrap();
        let fe = &imported.config.frontends[0];
        let be = &imported.config.backends[0];
        assert!(!fe.options.httplog && fe.options.tcplog && !fe.options.forwardfor);
        assert_eq!(be.balance, Balance::RoundRobin);
        assert!(!be.options.forwardfor);
        let messages: Vec<_> = imported
            .warnings
            .iter()
            .map(|w| w.message.as_str())
            .collect();
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert!(messages.iter().all(|m| m.contains("mode http")));
        assert!(imported.warnings.iter().all(|w| w.location.line == 7));
    }

    #[test]
    fn listen_is_a_frontend_and_a_backend_using_itself() {
        let cfg = "\
listen app
  mode http
  timeout client 5s
  timeout server 6s
  timeout connect 1s
  bind :8080
  server a 10.0.0.1:80 check
";
        let imported = parse(cfg).unwrap();
        assert!(imported.warnings.is_empty(), "{:?}", imported.warnings);
        let fe = &imported.config.frontends[0];
        let be = &imported.config.backends[0];
        assert_eq!((fe.name.as_str(), be.name.as_str()), ("app", "app"));
        assert_eq!(fe.default_backend.as_deref(), Some("app"));
        assert_eq!(fe.timeouts.client, Some(Duration::from_secs(5)));
        assert_eq!(fe.timeouts.server, None);
        assert_eq!(be.timeouts.server, Some(Duration::from_secs(6)));
        assert_eq!(be.timeouts.client, None);
        assert_eq!((fe.mode, be.mode), (Mode::Http, Mode::Http));
    }

    #[test]
    fn named_defaults_and_from() {
        let cfg = "\
defaults slow
  timeout connect 9s
defaults
  timeout connect 1s
backend a from slow
backend b
frontend f from nowhere
";
        let e = parse(cfg).unwrap_err();
        assert!(
            matches!(e, Error::Config { ref location, ref message } if location.line == 7 && message.contains("nowhere"))
        );
        let imported = parse(&cfg.replace("frontend f from nowhere\n", "")).unwrap();
        let connect = |n| imported.config.backend(n).unwrap().timeouts.connect;
        assert_eq!(connect("a"), Some(Duration::from_secs(9)));
        assert_eq!(connect("b"), Some(Duration::from_secs(1)));
    }

    #[test]
    fn frontend_and_backend_may_share_a_name() {
        let cfg = "frontend web\n bind :80\n default_backend web\nbackend web\n";
        let imported = parse(cfg).unwrap();
        assert_eq!(
            imported.config.frontends[0].default_backend.as_deref(),
            Some("web")
        );
        let e = parse("frontend web\nlisten web\n").unwrap_err();
        assert!(matches!(e, Error::Config { ref location, .. } if location.line == 2));
    }

    #[test]
    fn timeouts_zero_means_none_and_old_keywords_warn() {
        let cfg = "backend b\n timeout connect 0\n srvtimeout 30s\n";
        let imported = parse(cfg).unwrap();
        let t = imported.config.backends[0].timeouts;
        assert_eq!(t.connect, None);
        assert_eq!(t.server, Some(Duration::from_secs(30)));
        assert!(
            imported
                .warnings
                .iter()
                .any(|w| w.location.line == 3 && w.message.contains("timeout server"))
        );
    }

    #[test]
    fn directives_and_skipped_sections() {
        let cfg = "userlist admins\n user bob password x\n.notice hello\nglobal\n maxconn 10\n";
        let imported = parse(cfg).unwrap();
        assert_eq!(imported.config.global.maxconn, Some(10));
        assert_eq!(imported.warnings.len(), 2);
        assert_eq!(imported.warnings[1].message, "hello");
        assert!(matches!(
            parse(".if defined(X)\n"),
            Err(Error::Unsupported { .. })
        ));
        assert!(matches!(parse(".alert stop\n"), Err(Error::Config { .. })));
    }

    #[test]
    fn error_locations_name_the_file() {
        let e = parse_str(
            "global\n  maxconn many\n",
            Path::new("/etc/haproxy/haproxy.cfg"),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "/etc/haproxy/haproxy.cfg:2: 'maxconn' expects a whole number, found 'many'"
        );
    }
}
