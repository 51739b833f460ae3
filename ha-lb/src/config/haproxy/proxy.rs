//! Keywords of `frontend`, `backend`, `listen` and `defaults` sections:
//! modes, `bind`, timeouts, `balance`, `hash-type`, options.

use std::time::Duration;

use super::Warning;
use super::acl::{parse_acl, use_backend};
use super::address::bind_addresses;
use super::check::{http_check, parse_httpchk};
use super::lexer::{Ctx, check_name, duration, number, one_arg};
use super::log::parse_log;
use super::section::Proxy;
use super::server::{server, server_options};
use crate::config::{Balance, Bind, HashType, Mode, Timeouts};
use crate::error::Result;

/// Proxy keywords HAProxy has that would change what happens to traffic,
/// with a description of the feature.
pub(super) fn unsupported_proxy_keyword(keyword: &str) -> Option<&'static str> {
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
pub(super) const PROXY_IGNORED: &[&str] = &[
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

pub(super) fn proxy_line(
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
                fe.fe.default_pool = Some(name.to_owned());
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

pub(super) fn timeout(
    p: &mut Proxy,
    out: &mut Vec<Warning>,
    words: &[String],
    ctx: &Ctx<'_>,
) -> Result<()> {
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
pub(super) const BIND_OPTIONS_WITH_VALUE: &[&str] = &[
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

pub(super) fn bind(
    p: &mut Proxy,
    out: &mut Vec<Warning>,
    words: &[String],
    ctx: &Ctx<'_>,
) -> Result<()> {
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

pub(super) fn parse_balance(words: &[String], ctx: &Ctx<'_>) -> Result<Balance> {
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

pub(super) fn parse_hash_type(
    words: &[String],
    out: &mut Vec<Warning>,
    ctx: &Ctx<'_>,
) -> Result<HashType> {
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

pub(super) fn option(
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
