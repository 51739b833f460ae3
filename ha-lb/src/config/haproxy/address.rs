//! Addresses in haproxy.cfg: `bind` addresses (port ranges, `*`, IPv6)
//! and `server` addresses (IP or host name, with a port).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::lexer::{Ctx, port};
use crate::config::ServerAddress;
use crate::error::Result;

/// Which address family an `ipv4@`-style prefix asks for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Family {
    Any,
    V4,
    V6,
}

/// Strips `ipv4@`, `ipv6@`, `tcp@`, `tcp4@`, `tcp6@`; refuses other prefixes.
pub(super) fn strip_family<'t>(
    text: &'t str,
    what: &str,
    ctx: &Ctx<'_>,
) -> Result<(Family, &'t str)> {
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
pub(super) fn split_host_port(text: &str) -> Option<(&str, Option<&str>)> {
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

pub(super) fn family_ok(ip: IpAddr, family: Family) -> bool {
    match family {
        Family::Any => true,
        Family::V4 => ip.is_ipv4(),
        Family::V6 => ip.is_ipv6(),
    }
}

/// One `bind` address, a port range giving several.
pub(super) fn bind_addresses(text: &str, ctx: &Ctx<'_>) -> Result<Vec<SocketAddr>> {
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
pub(super) fn is_host_name(text: &str) -> bool {
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
pub(super) fn server_address(text: &str, ctx: &Ctx<'_>) -> Result<ServerAddress> {
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

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::error::Error;

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
}
