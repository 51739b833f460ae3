//! The `server` and `default-server` keywords and their options.

use super::address::server_address;
use super::lexer::{Ctx, check_name, duration, number, port};
use super::section::Proxy;
use crate::config::Server;
use crate::error::Result;

pub(super) fn server(p: &mut Proxy, words: &[String], ctx: &Ctx<'_>) -> Result<()> {
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
pub(super) const SERVER_UNSUPPORTED: &[&str] = &[
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

pub(super) fn server_feature(keyword: &str) -> String {
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

pub(super) const SERVER_KEYWORDS: &str = "check, no-check, inter, fastinter, downinter, rise, fall, port, addr, weight, backup, no-backup, maxconn, disabled or enabled";

/// The options after `server NAME ADDRESS`, or after `default-server`.
pub(super) fn server_options(server: &mut Server, args: &[String], ctx: &Ctx<'_>) -> Result<()> {
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
