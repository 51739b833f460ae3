//! haproxy.cfg import and ACL routing, end to end: the two-server example
//! (`fixtures/chapter.cfg`) and the lab's configurations, a corpus of broken
//! files, warnings, `defaults` inheritance, fuzzing, and routing decisions.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use ha_core::StatusMatch;
use ha_lb::Error;
use ha_lb::acl::{Request, Routing};
use ha_lb::config::haproxy::{self, Imported};
use ha_lb::config::{Balance, Criterion, HashType, LogTarget, Mode, ServerAddress, SyslogAddress};
use proptest::prelude::*;

fn parse(text: &str) -> Result<Imported, Error> {
    haproxy::parse_str(text, Path::new("haproxy.cfg"))
}

fn ms(n: u64) -> Option<Duration> {
    Some(Duration::from_millis(n))
}

/// A two-server HTTP load balancer with syslog, a user switch and daemon
/// mode, as the guide the lab follows prints it.
const CHAPTER: &str = include_str!("fixtures/chapter.cfg");

const LAB: &str = "\
frontend web
    bind *:80
    default_backend webs
backend webs
    balance roundrobin
    server web1 192.168.122.101:80 check
    server web2 192.168.122.102:80 check
";

// (a) -----------------------------------------------------------------------

#[test]
fn chapter_config_parses_to_the_expected_model() {
    let Imported { config, warnings } = parse(CHAPTER).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");

    let g = &config.global;
    assert_eq!(g.maxconn, Some(4096));
    assert_eq!(g.user.as_deref(), Some("haproxy"));
    assert_eq!(g.group.as_deref(), Some("haproxy"));
    assert!(g.daemon);
    assert_eq!(g.nbthread, None);
    assert_eq!(
        g.log,
        [LogTarget::Syslog {
            address: SyslogAddress::Unix("/dev/log".into()),
            facility: "local0".into(),
            level: None,
        }]
    );

    assert_eq!(config.frontends.len(), 1);
    let fe = &config.frontends[0];
    assert_eq!(fe.name, "web_frontend");
    assert_eq!(fe.location.line, 16);
    assert_eq!(fe.location.file, Path::new("haproxy.cfg"));
    assert_eq!(fe.binds.len(), 1);
    assert_eq!(fe.binds[0].addr, "0.0.0.0:80".parse().unwrap());
    assert_eq!(fe.binds[0].location.line, 17);
    assert_eq!(fe.mode, Mode::Http);
    assert_eq!(fe.timeouts.client, ms(30_000));
    assert_eq!(fe.timeouts.connect, None, "a backend-side timeout");
    assert_eq!(fe.maxconn, None);
    assert!(fe.options.httplog);
    assert!(!fe.options.tcplog && !fe.options.forwardfor);
    assert!(fe.acls.is_empty() && fe.use_pools.is_empty());
    assert_eq!(fe.default_pool.as_deref(), Some("web_servers"));

    assert_eq!(config.pools.len(), 1);
    let be = config.pool("web_servers").unwrap();
    assert_eq!(be.location.line, 20);
    assert_eq!(be.mode, Mode::Http);
    assert_eq!(be.balance, Balance::RoundRobin);
    assert_eq!(be.hash_type, HashType::MapBased);
    assert_eq!(be.timeouts.connect, ms(5000));
    assert_eq!(be.timeouts.server, ms(30_000));
    assert_eq!(be.timeouts.client, None, "a frontend-side timeout");
    assert_eq!(be.timeouts.queue, None);
    assert_eq!(be.timeouts.check, None);
    assert_eq!(be.retries, 3);
    assert_eq!(
        be.options,
        ha_lb::config::Options {
            redispatch: true,
            ..Default::default()
        },
        "httplog is frontend-side; redispatch is ha-lb's default"
    );
    assert_eq!(be.http_check, None);
    assert_eq!(be.servers.len(), 2);
    for (server, (name, addr, line)) in be.servers.iter().zip([
        ("web1", "192.168.122.101:80", 22),
        ("web2", "192.168.122.102:80", 23),
    ]) {
        assert_eq!(server.name, name);
        assert_eq!(server.address, ServerAddress::Socket(addr.parse().unwrap()));
        assert!(server.check);
        assert_eq!(server.inter, Duration::from_secs(2));
        assert_eq!((server.rise, server.fall, server.weight), (2, 3, 1));
        assert_eq!((server.fastinter, server.downinter), (None, None));
        assert_eq!((server.check_port, server.check_addr), (None, None));
        assert!(!server.backup && !server.disabled);
        assert_eq!(server.maxconn, None);
        assert_eq!(server.location.line, line);
    }
}

#[test]
fn lab_config_is_tcp_without_defaults_and_warns_about_timeouts() {
    let Imported { config, warnings } = parse(LAB).unwrap();
    assert_eq!(config.global, Default::default());
    let fe = &config.frontends[0];
    assert_eq!(fe.name, "web");
    assert_eq!(fe.mode, Mode::Tcp);
    assert_eq!(fe.binds[0].addr, "0.0.0.0:80".parse().unwrap());
    assert_eq!(fe.default_pool.as_deref(), Some("webs"));
    assert_eq!(fe.timeouts, Default::default());
    assert_eq!(fe.options, Default::default());
    let be = &config.pools[0];
    assert_eq!(be.name, "webs");
    assert_eq!(be.mode, Mode::Tcp);
    assert_eq!(be.balance, Balance::RoundRobin);
    assert_eq!(be.timeouts, Default::default());
    assert_eq!(be.retries, 3);
    let names: Vec<_> = be.servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["web1", "web2"]);
    assert!(be.servers.iter().all(|s| s.check));
    assert_eq!(
        be.servers[1].address,
        ServerAddress::Socket("192.168.122.102:80".parse().unwrap())
    );
    // HAProxy says "missing timeouts" for both proxies; so does ha-lb.
    let lines: Vec<_> = warnings.iter().map(|w| w.location.line).collect();
    assert_eq!(lines, [1, 4], "{warnings:?}");
    assert!(warnings[0].message.contains("'timeout client'"));
    assert!(
        warnings[1]
            .message
            .contains("'timeout connect', 'timeout server'")
    );
    assert_eq!(
        warnings[0].to_string(),
        format!("haproxy.cfg:1: {}", warnings[0].message)
    );
}

#[test]
fn a_fuller_configuration() {
    let cfg = r"
global
    log 127.0.0.1:514 local0 notice
    log stdout format raw local1
    nbthread 2

defaults
    mode http
    timeout connect 5s
    timeout client 1m
    timeout server 1m
    timeout queue 30s
    timeout check 3s
    timeout http-request 10s
    timeout http-keep-alive 2s
    timeout tunnel 1h
    maxconn 1000
    retries 2
    option forwardfor
    option redispatch
    default-server inter 3s fall 2

frontend www
    bind :80,[::]:80
    bind 127.0.0.1:8080-8081 name local accept-proxy
    maxconn 500
    acl is_api path_beg /api
    acl is_api hdr(host) -i api.example.com
    acl admin src 10.0.0.0/8 2001:db8::/32
    acl static path_end .css .js
    use_backend api if is_api !static || admin
    use_backend static unless !static
    default_backend site

backend api
    balance random(3)
    option httpchk GET /health HTTP/1.1\r\nHost:\ api.example.com
    http-check expect status 200
    server a1 10.0.1.1:8080 check weight 10 maxconn 50 port 9000 addr 10.0.9.1
    server a2 api2.internal:8080 check backup disabled

backend static
    balance uri
    hash-type consistent
    option allbackups
    server s1 [2001:db8::10]:80 check inter 1s fastinter 250 downinter 10s rise 3 fall 1

backend site
    balance leastconn
    no option redispatch
    option httpchk /alive
    http-check expect rstatus ^3
    server w1 10.0.2.1:80 weight 0
";
    let Imported { config, warnings } = parse(cfg).unwrap();
    assert_eq!(config.global.nbthread, Some(2));
    assert_eq!(config.global.log.len(), 2);
    assert_eq!(
        config.global.log[0],
        LogTarget::Syslog {
            address: SyslogAddress::Udp("127.0.0.1:514".parse().unwrap()),
            facility: "local0".into(),
            level: Some("notice".into()),
        }
    );
    assert_eq!(config.global.log[1], LogTarget::Stdout);

    let fe = &config.frontends[0];
    let binds: Vec<String> = fe.binds.iter().map(|b| b.addr.to_string()).collect();
    assert_eq!(
        binds,
        ["0.0.0.0:80", "[::]:80", "127.0.0.1:8080", "127.0.0.1:8081"]
    );
    assert_eq!(fe.maxconn, Some(500));
    assert!(fe.options.forwardfor);
    assert!(!fe.options.redispatch, "backend-side option");
    assert_eq!(fe.timeouts.client, ms(60_000));
    assert_eq!(fe.timeouts.http_request, ms(10_000));
    assert_eq!(fe.timeouts.http_keep_alive, ms(2000));
    assert_eq!(fe.acls.len(), 4);
    assert_eq!(fe.acls[1].criterion, Criterion::Hdr("host".into()));
    assert!(fe.acls[1].ignore_case && !fe.acls[0].ignore_case);
    assert_eq!(fe.acls[2].values, ["10.0.0.0/8", "2001:db8::/32"]);
    let rule = &fe.use_pools[0];
    assert_eq!(rule.pool, "api");
    assert!(!rule.condition.unless);
    let terms: Vec<Vec<(&str, bool)>> = rule
        .condition
        .any_of
        .iter()
        .map(|all| all.iter().map(|t| (t.name.as_str(), t.negated)).collect())
        .collect();
    assert_eq!(
        terms,
        [
            vec![("is_api", false), ("static", true)],
            vec![("admin", false)]
        ]
    );
    assert!(fe.use_pools[1].condition.unless);
    assert_eq!(fe.use_pools[1].location.line, 32);

    let api = config.pool("api").unwrap();
    assert_eq!(api.balance, Balance::Random { draws: 3 });
    assert_eq!(api.retries, 2);
    assert!(api.options.forwardfor && api.options.redispatch);
    assert_eq!(api.timeouts.queue, ms(30_000));
    assert_eq!(api.timeouts.check, ms(3000));
    assert_eq!(api.timeouts.tunnel, Some(Duration::from_secs(3600)));
    assert_eq!(api.timeouts.http_request, ms(10_000));
    let check = api.http_check.as_ref().unwrap();
    assert_eq!(check.method, "GET");
    assert_eq!(check.path, "/health");
    assert_eq!(check.host.as_deref(), Some("api.example.com"));
    assert_eq!(check.expect, StatusMatch::Exact(200));
    let a1 = &api.servers[0];
    assert_eq!(a1.inter, Duration::from_secs(3), "from default-server");
    assert_eq!((a1.rise, a1.fall), (2, 2));
    assert_eq!(a1.weight, 10);
    assert_eq!(a1.maxconn, Some(50));
    assert_eq!(a1.check_port, Some(9000));
    assert_eq!(a1.check_addr, Some("10.0.9.1".parse::<IpAddr>().unwrap()));
    let a2 = &api.servers[1];
    assert_eq!(
        a2.address,
        ServerAddress::Name {
            host: "api2.internal".into(),
            port: 8080
        }
    );
    assert!(a2.backup && a2.disabled && a2.check);

    let st = config.pool("static").unwrap();
    assert_eq!(st.balance, Balance::Uri);
    assert_eq!(st.hash_type, HashType::Consistent);
    assert!(st.options.allbackups);
    let s1 = &st.servers[0];
    assert_eq!(
        s1.address,
        ServerAddress::Socket("[2001:db8::10]:80".parse().unwrap())
    );
    assert_eq!(s1.inter, Duration::from_secs(1));
    assert_eq!(s1.fastinter, ms(250));
    assert_eq!(s1.downinter, Some(Duration::from_secs(10)));
    assert_eq!((s1.rise, s1.fall), (3, 1));

    let site = config.pool("site").unwrap();
    assert_eq!(site.balance, Balance::LeastConn);
    assert!(!site.options.redispatch, "no option redispatch");
    assert!(site.options.forwardfor);
    let check = site.http_check.as_ref().unwrap();
    assert_eq!(
        (check.method.as_str(), check.path.as_str()),
        ("OPTIONS", "/alive")
    );
    assert_eq!(check.expect, StatusMatch::Range(300, 399));
    assert_eq!(site.servers[0].weight, 0);

    // The only remark: the ignored bind options.
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].location.line, 25);
    assert!(warnings[0].message.contains("name local, accept-proxy"));
}

// (b) -----------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Config,
    Unsupported,
}

/// (what, configuration, line of the error, kind, words the message must contain)
#[rustfmt::skip]
const BROKEN: &[(&str, &str, u32, Kind, &str)] = &[
    ("bad global maxconn", "global\n  maxconn lots\n", 2, Kind::Config, "whole number, found 'lots'"),
    ("keyword out of section", "# header\nmaxconn 10\n", 2, Kind::Config, "out of section"),
    ("bad duration", "defaults\n  timeout client 10x\n", 2, Kind::Config, "timeout client"),
    ("timeout too long", "defaults\n  timeout client 30d\n", 2, Kind::Config, "24.8 days"),
    ("unknown timeout", "defaults\n  timeout nap 5s\n", 2, Kind::Config, "unknown timeout 'nap'"),
    ("timeout without value", "defaults\n  timeout client\n", 2, Kind::Config, "missing argument"),
    ("weight above 256", "backend b\n  server s 10.0.0.1:80 weight 257\n", 2, Kind::Config, "0 to 256"),
    ("server port 0", "backend b\n  server s 10.0.0.1:0\n", 2, Kind::Config, "expected 1 to 65535"),
    ("bind port too big", "frontend f\n  bind *:70000\n", 2, Kind::Config, "expected 1 to 65535"),
    ("bind without port", "frontend f\n  bind 10.0.0.1\n", 2, Kind::Config, "missing port"),
    ("server without address", "backend b\n\n  server web1\n", 3, Kind::Config, "expects NAME ADDRESS:PORT"),
    ("unknown balance", "backend b\n  balance fastest\n", 2, Kind::Config, "unknown balance algorithm 'fastest'"),
    ("random(0)", "backend b\n  balance random(0)\n", 2, Kind::Config, "at least 1"),
    ("bad hash-type", "backend b\n  hash-type ring\n", 2, Kind::Config, "map-based or consistent"),
    ("duplicate backend", "backend b\nbackend c\nbackend b\n", 3, Kind::Config, "already declared at haproxy.cfg:1"),
    ("default_backend to nowhere", "frontend f\n  bind :80\n  default_backend nope\nbackend b\n", 3, Kind::Config, "backend 'nope', which does not exist (backends: b)"),
    ("use_backend to nowhere", "frontend f\n  acl a path /\n  use_backend nope if a\n", 3, Kind::Config, "'nope', which does not exist"),
    ("undefined ACL", "frontend f\n  use_backend b if is_api\nbackend b\n", 2, Kind::Config, "unknown ACL 'is_api'"),
    ("ACL used before declared", "frontend f\n  use_backend b if a\n  acl a path /\nbackend b\n", 2, Kind::Config, "before the rule"),
    ("server in a frontend", "frontend f\n  bind :80\n  server s 10.0.0.1:80\n", 3, Kind::Config, "not allowed in frontend 'f'"),
    ("bind in a backend", "backend b\n  bind :80\n", 2, Kind::Config, "not allowed in backend 'b'"),
    ("server in defaults", "defaults\n  server s 10.0.0.1:80\n", 2, Kind::Config, "default-server"),
    ("bad src value", "frontend f\n  acl a src 10.0.0.300\n", 2, Kind::Config, "invalid src value '10.0.0.300'"),
    ("acl without value", "frontend f\n  acl a path_beg\n", 2, Kind::Config, "missing value"),
    ("unmatched quote", "global\n  user \"haproxy\n", 2, Kind::Config, "unmatched \" quote"),
    ("bad hex escape", "global\n  user ha\\xZZ\n", 2, Kind::Config, "two hexadecimal digits"),
    ("unknown mode", "defaults\n  mode https\n", 2, Kind::Config, "expected 'http' or 'tcp'"),
    ("rise 0", "backend b\n  server s 10.0.0.1:80 check rise 0\n", 2, Kind::Config, "at least 1"),
    ("inter 0", "backend b\n  default-server inter 0\n", 2, Kind::Config, "positive"),
    ("unknown server option", "backend b\n  server s 10.0.0.1:80 chek\n", 2, Kind::Config, "unknown server option 'chek'"),
    ("server option without value", "backend b\n  server s 10.0.0.1:80 weight\n", 2, Kind::Config, "expects a value"),
    ("frontend without name", "frontend\n", 1, Kind::Config, "expects a name"),
    ("invalid proxy name", "backend a/b\n", 1, Kind::Config, "invalid backend name"),
    ("address on the listen line", "listen app 0.0.0.0:80\n", 1, Kind::Config, "'bind' line"),
    ("dangling ||", "frontend f\n  acl a path /\n  use_backend b if a ||\nbackend b\n", 3, Kind::Config, "after it"),
    ("not if nor unless", "frontend f\n  acl a path /\n  use_backend b when a\nbackend b\n", 3, Kind::Config, "expected 'if' or 'unless'"),
    ("http frontend, tcp backend", "frontend f\n  mode http\n  bind :80\n  default_backend b\nbackend b\n  mode tcp\n", 4, Kind::Config, "in tcp mode"),
    ("duplicate server", "backend b\n  server s 10.0.0.1:80\n  server s 10.0.0.2:80\n", 3, Kind::Config, "already has a server named 's'"),
    ("nbthread 0", "global\n  nbthread 0\n", 2, Kind::Config, "1 to 4096"),
    ("bad facility", "global\n  log /dev/log local9\n", 2, Kind::Config, "unknown syslog facility 'local9'"),
    ("daemon with argument", "global\n  daemon yes\n", 2, Kind::Config, "takes none"),
    ("bad expect status", "backend b\n  http-check expect status 2xx\n", 2, Kind::Config, "100 to 599"),
    ("unknown defaults", "backend b from base\n", 1, Kind::Config, "no defaults section named 'base'"),
    ("ssl bind", "frontend f\n  bind *:443 ssl crt /etc/ssl/site.pem\n", 2, Kind::Unsupported, "TLS"),
    ("server ssl", "backend b\n  server s 10.0.0.1:443 ssl verify none\n", 2, Kind::Unsupported, "TLS to servers"),
    ("cookie", "backend b\n  cookie SERVERID insert indirect nocache\n", 2, Kind::Unsupported, "cookie SERVERID insert"),
    ("server cookie", "backend b\n  server s 10.0.0.1:80 cookie s1\n", 2, Kind::Unsupported, "cookie"),
    ("stick table", "backend b\n  stick-table type ip size 1m\n", 2, Kind::Unsupported, "stick tables"),
    ("http-request rule", "frontend f\n  http-request deny if { src 1.2.3.4 }\n", 2, Kind::Unsupported, "HTTP rules"),
    ("stats page", "listen stats\n  stats enable\n", 2, Kind::Unsupported, "statistics"),
    ("rstatus regex", "backend b\n  http-check expect rstatus ^(2|3)\n", 2, Kind::Unsupported, "^(2|3)"),
    ("anonymous ACL", "frontend f\n  use_backend b if { path_beg /a }\n", 2, Kind::Unsupported, "anonymous ACLs"),
    ("regex ACL", "frontend f\n  acl a path_reg ^/a\n", 2, Kind::Unsupported, "path_reg"),
    ("env variable", "frontend f\n  bind \"${ADDR}:80\"\n", 2, Kind::Unsupported, "${ADDR}"),
    ("balance hdr", "backend b\n  balance hdr(host)\n", 2, Kind::Unsupported, "balance hdr(host)"),
    ("server without port", "backend b\n  server s 10.0.0.1\n", 2, Kind::Unsupported, "without a port"),
    ("mysql check", "backend b\n  option mysql-check user haproxy\n", 2, Kind::Unsupported, "mysql-check"),
];

#[test]
fn broken_configurations_name_the_line_and_say_what_was_expected() {
    assert!(BROKEN.len() >= 25);
    for &(what, text, line, kind, needle) in BROKEN {
        let error = match parse(text) {
            Ok(imported) => panic!("{what}: accepted, warnings {:?}", imported.warnings),
            Err(e) => e,
        };
        let (location, got) = match &error {
            Error::Config { location, .. } => (location, Kind::Config),
            Error::Unsupported { location, .. } => (location, Kind::Unsupported),
            other => panic!("{what}: unexpected error {other:?}"),
        };
        assert_eq!(got, kind, "{what}: {error}");
        assert_eq!(location.line, line, "{what}: {error}");
        assert_eq!(location.file, Path::new("haproxy.cfg"), "{what}");
        let message = error.to_string();
        assert!(
            message.starts_with(&format!("haproxy.cfg:{line}: ")),
            "{what}: {message}"
        );
        assert!(
            message.contains(needle),
            "{what}: {message:?} lacks {needle:?}"
        );
    }
}

// (c) -----------------------------------------------------------------------

#[test]
fn unknown_keywords_warn_with_their_line_and_parsing_goes_on() {
    let cfg = "\
global
    frobnicate yes
    chroot /var/lib/haproxy
    maxconn 100
defaults
    mode http
    option dontlognull
    option sparkles
    timeout connect 1s
    timeout client 1s
    timeout server 1s
    errorfile 503 /etc/haproxy/errors/503.http
frontend f
    bind :80 v4v6
    wobble 3
    no frobs
    default_backend b
backend b
    server s 10.0.0.1:80 check
";
    let Imported { config, warnings } = parse(cfg).unwrap();
    let got: Vec<(u32, &str)> = warnings
        .iter()
        .map(|w| (w.location.line, w.message.as_str()))
        .collect();
    let expected_lines = [2, 3, 7, 8, 12, 14, 15, 16];
    assert_eq!(
        got.iter().map(|(l, _)| *l).collect::<Vec<_>>(),
        expected_lines,
        "{got:?}"
    );
    assert!(got[0].1.contains("unknown keyword 'frobnicate'"));
    assert!(got[1].1.contains("'chroot' is not implemented"));
    assert!(got[2].1.contains("'option dontlognull' is not implemented"));
    assert!(got[3].1.contains("unknown option 'sparkles'"));
    assert!(got[4].1.contains("'errorfile'"));
    assert!(got[5].1.contains("v4v6"));
    assert!(
        got[6]
            .1
            .contains("unknown keyword 'wobble' in frontend 'f'")
    );
    assert!(got[7].1.contains("no frobs"));
    assert_eq!(
        warnings[6].to_string(),
        "haproxy.cfg:15: unknown keyword 'wobble' in frontend 'f'; ignored"
    );
    // Everything around the unknown lines was read.
    assert_eq!(config.global.maxconn, Some(100));
    assert_eq!(config.frontends[0].default_pool.as_deref(), Some("b"));
    assert_eq!(config.pools[0].servers.len(), 1);
}

#[test]
fn settings_in_the_wrong_kind_of_proxy_warn() {
    let cfg = "\
frontend f
    bind :80
    balance leastconn
    timeout server 5s
    timeout client 5s
    default_backend b
backend b
    timeout connect 1s
    timeout server 1s
    maxconn 10
    default_backend c
    acl x path /
";
    let Imported { config, warnings } = parse(cfg).unwrap();
    let lines: Vec<u32> = warnings.iter().map(|w| w.location.line).collect();
    assert_eq!(lines, [3, 4, 10, 11, 12], "{warnings:?}");
    assert!(
        warnings[0]
            .message
            .contains("'balance' ignored because frontend 'f' has no backend capability")
    );
    assert!(warnings[2].message.contains("no frontend capability"));
    assert_eq!(config.pools[0].balance, Balance::RoundRobin);
}

#[test]
fn several_files_read_as_one_configuration() {
    let dir = std::env::temp_dir().join(format!("ha-lb-haproxy-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let a = dir.join("a.cfg");
    let b = dir.join("b.cfg");
    std::fs::write(
        &a,
        "global\n  maxconn 50\ndefaults\n  mode http\n  timeout client 1s\n",
    )
    .unwrap();
    std::fs::write(
        &b,
        "frontend f\n  bind :80\n  default_backend b\nbackend b\n  timeout connect 1s\n  timeout server 1s\n",
    )
    .unwrap();
    let imported = haproxy::load(&[a.clone(), b.clone()]).unwrap();
    assert_eq!(imported.config.global.maxconn, Some(50));
    assert_eq!(
        imported.config.frontends[0].mode,
        Mode::Http,
        "defaults carry over files"
    );
    assert_eq!(imported.config.frontends[0].location.file, b);
    assert!(imported.warnings.is_empty(), "{:?}", imported.warnings);

    // A directory stands for its *.cfg files in name order.
    let from_dir = haproxy::load(std::slice::from_ref(&dir)).unwrap();
    assert_eq!(from_dir.config, imported.config);

    // Sections end with their file: b.cfg cannot continue a.cfg's global.
    std::fs::write(&b, "  nbthread 2\n").unwrap();
    let error = haproxy::load(&[a.clone(), b.clone()]).unwrap_err();
    assert!(
        matches!(&error, Error::Config { location, .. } if location.file == b && location.line == 1),
        "{error}"
    );

    // A reference is checked once every file is read, and blamed on its line.
    std::fs::write(&b, "frontend f\n  bind :80\n  default_backend late\n").unwrap();
    let c = dir.join("c.cfg");
    std::fs::write(&c, "backend late\n").unwrap();
    assert!(haproxy::load(&[a.clone(), b.clone(), c.clone()]).is_ok());
    let error = haproxy::load(&[a.clone(), b.clone()]).unwrap_err();
    assert!(
        matches!(&error, Error::Config { location, .. } if location.file == b && location.line == 3),
        "{error}"
    );

    std::fs::write(&c, b"backend ok\n  server s\xff 10.0.0.1:80\n").unwrap();
    let error = haproxy::load(std::slice::from_ref(&c)).unwrap_err();
    assert!(
        matches!(&error, Error::Config { location, .. } if location.line == 2),
        "{error}"
    );

    let missing = dir.join("missing.cfg");
    assert!(matches!(
        haproxy::load(&[missing]),
        Err(Error::ReadConfig { .. })
    ));
    assert!(haproxy::load(&[]).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

// (d) -----------------------------------------------------------------------

#[test]
fn defaults_are_inherited_and_replaced_and_no_option_turns_off() {
    let cfg = "\
defaults
    mode http
    option httplog
    option forwardfor
    option redispatch
    option httpchk GET /ping
    timeout connect 1s
    timeout client 2s
    timeout server 3s
    retries 5
    balance leastconn
    default-server inter 5s rise 4 weight 7
    default_backend common

frontend first
    bind :80
    no option httplog
    option tcplog

backend common
    no option redispatch
    server a 10.0.0.1:80 check
    default-server weight 9
    server b 10.0.0.2:80 rise 1

backend other
    no option httpchk
    server c 10.0.0.3:80

defaults
    timeout client 9s
    timeout connect 9s
    timeout server 9s

frontend second
    bind :81
    default_backend plain

backend plain
    server d 10.0.0.4:80
";
    let Imported { config, warnings } = parse(cfg).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");

    let first = &config.frontends[0];
    assert_eq!(first.mode, Mode::Http);
    assert!(!first.options.httplog && first.options.tcplog);
    assert!(first.options.forwardfor);
    assert_eq!(first.timeouts.client, ms(2000));
    assert_eq!(
        first.default_pool.as_deref(),
        Some("common"),
        "from defaults"
    );

    let common = config.pool("common").unwrap();
    assert_eq!(common.retries, 5);
    assert_eq!(common.balance, Balance::LeastConn);
    assert!(!common.options.redispatch && common.options.forwardfor);
    assert_eq!(common.http_check.as_ref().unwrap().path, "/ping");
    assert_eq!(
        (common.timeouts.connect, common.timeouts.server),
        (ms(1000), ms(3000))
    );
    let a = &common.servers[0];
    assert_eq!((a.inter, a.rise, a.weight), (Duration::from_secs(5), 4, 7));
    let b = &common.servers[1];
    assert_eq!((b.rise, b.weight, b.check), (1, 9, false));

    let other = config.pool("other").unwrap();
    assert_eq!(other.http_check, None, "no option httpchk");
    assert!(other.options.redispatch);
    assert_eq!(
        other.servers[0].weight, 7,
        "default-server of defaults, not of common"
    );

    // The second defaults section starts from HAProxy's built-in settings.
    let second = &config.frontends[1];
    assert_eq!(second.mode, Mode::Tcp);
    assert_eq!(second.options, Default::default());
    assert_eq!(second.timeouts.client, ms(9000));
    let plain = config.pool("plain").unwrap();
    assert_eq!(plain.retries, 3);
    assert_eq!(plain.balance, Balance::RoundRobin);
    assert_eq!(plain.http_check, None);
    let d = &plain.servers[0];
    assert_eq!((d.inter, d.rise, d.weight), (Duration::from_secs(2), 2, 1));
}

// (e) -----------------------------------------------------------------------

const TOKENS: &[&str] = &[
    "global",
    "defaults",
    "frontend",
    "backend",
    "listen",
    "from",
    "web",
    "b",
    "maxconn",
    "user",
    "group",
    "daemon",
    "nbthread",
    "log",
    "global",
    "/dev/log",
    "local0",
    "stdout",
    "format",
    "raw",
    "bind",
    "*:80",
    ":80",
    "[::]:80",
    ":::80",
    "1.2.3.4:8000-8002",
    "ssl",
    "crt",
    "mode",
    "http",
    "tcp",
    "timeout",
    "client",
    "connect",
    "server",
    "queue",
    "check",
    "tunnel",
    "http-request",
    "5000",
    "5s",
    "0",
    "-1",
    "99999999999",
    "balance",
    "roundrobin",
    "random(2)",
    "random(",
    "uri",
    "hash-type",
    "consistent",
    "web1",
    "10.0.0.1:80",
    "host:80",
    "inter",
    "fastinter",
    "rise",
    "fall",
    "weight",
    "256",
    "257",
    "port",
    "addr",
    "backup",
    "disabled",
    "default-server",
    "default_backend",
    "use_backend",
    "if",
    "unless",
    "!",
    "!a",
    "||",
    "or",
    "{",
    "}",
    "acl",
    "a",
    "path_beg",
    "hdr(host)",
    "hdr_beg(",
    "src",
    "10.0.0.0/8",
    "::/0",
    "method",
    "-i",
    "-m",
    "beg",
    "--",
    "option",
    "no",
    "httpchk",
    "forwardfor",
    "httplog",
    "http-check",
    "expect",
    "status",
    "rstatus",
    "^2",
    "send",
    "meth",
    "hdr",
    "retries",
    "cookie",
    "stats",
    "\"",
    "'",
    "\\",
    "\\x4",
    "#",
    "\"${X}\"",
    ".if",
    "userlist",
    "\r\n",
];

fn soup() -> impl Strategy<Value = String> {
    let line = prop::collection::vec(prop::sample::select(TOKENS), 0..8).prop_map(|t| t.join(" "));
    prop::collection::vec(line, 0..24).prop_map(|lines| lines.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        let _ = parse(&text);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse(&text);
    }

    #[test]
    fn keyword_soups_never_panic(text in soup()) {
        if let Ok(imported) = parse(&text) {
            // Whatever is accepted also compiles into routing.
            for frontend in &imported.config.frontends {
                prop_assert!(Routing::compile(frontend).is_ok(), "{}", text);
            }
        }
    }

    #[test]
    fn valid_skeletons_with_soup_lines_parse_or_fail_cleanly(extra in soup()) {
        let text = format!("{LAB}{extra}");
        match parse(&text) {
            Ok(imported) => prop_assert!(imported.config.pool("webs").is_some()),
            Err(Error::Config { location, .. } | Error::Unsupported { location, .. }) => {
                prop_assert!(location.line >= 1);
                prop_assert!(location.line as usize <= text.split('\n').count());
            }
            Err(other) => prop_assert!(false, "unexpected error {other:?}"),
        }
    }
}

// (f) -----------------------------------------------------------------------

const ROUTED: &str = "\
defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s

frontend www
    bind :80
    acl is_api path_beg /api/
    acl is_api hdr_beg(host) -i api.
    acl is_admin path_beg /admin
    acl trusted src 10.0.0.0/8 192.168.1.7 2001:db8::/32
    acl is_static path_end -i .css .js .png
    acl exact_home path /
    acl write method POST PUT DELETE
    acl www hdr(host) -i www.example.com
    use_backend denied if is_admin !trusted
    use_backend admin if is_admin
    use_backend api if is_api write || is_api trusted
    use_backend api_ro if is_api
    use_backend static if is_static or exact_home
    use_backend legacy unless www
    default_backend site

backend denied
backend admin
backend api
backend api_ro
backend static
backend legacy
backend site
";

struct Probe {
    src: &'static str,
    method: &'static str,
    path: &'static str,
    host: Option<&'static str>,
}

fn route(routing: &Routing, p: &Probe) -> Option<String> {
    let mut headers = http::HeaderMap::new();
    if let Some(host) = p.host {
        headers.insert(http::header::HOST, host.parse().unwrap());
    }
    let request = Request {
        src: p.src.parse().unwrap(),
        method: p.method,
        path: p.path,
        headers: &headers,
    };
    routing.route(&request).map(str::to_owned)
}

const WWW: Option<&str> = Some("www.example.com");

/// (what, request, expected backend)
#[rustfmt::skip]
const ROUTES: &[(&str, Probe, Option<&str>)] = &[
    ("admin from outside: '!' negation", Probe { src: "203.0.113.5", method: "GET", path: "/admin/users", host: WWW }, Some("denied")),
    ("admin from 10/8", Probe { src: "10.20.30.40", method: "GET", path: "/admin", host: WWW }, Some("admin")),
    ("admin from the single address", Probe { src: "192.168.1.7", method: "GET", path: "/admin", host: WWW }, Some("admin")),
    ("admin from its neighbour", Probe { src: "192.168.1.8", method: "GET", path: "/admin", host: WWW }, Some("denied")),
    ("admin from an IPv6 network", Probe { src: "2001:db8:5::1", method: "GET", path: "/admin", host: WWW }, Some("admin")),
    ("admin from another IPv6 network", Probe { src: "2001:db9::1", method: "GET", path: "/admin", host: WWW }, Some("denied")),
    ("admin from IPv4-mapped IPv6", Probe { src: "::ffff:10.1.1.1", method: "GET", path: "/admin", host: WWW }, Some("admin")),
    ("api write: AND within an alternative", Probe { src: "203.0.113.5", method: "POST", path: "/api/items", host: WWW }, Some("api")),
    ("api read from trusted: second alternative", Probe { src: "10.0.0.9", method: "GET", path: "/api/items", host: WWW }, Some("api")),
    ("api read from outside", Probe { src: "203.0.113.5", method: "GET", path: "/api/items", host: WWW }, Some("api_ro")),
    ("api by host, -i", Probe { src: "203.0.113.5", method: "GET", path: "/x", host: Some("API.example.com") }, Some("api_ro")),
    ("method is case-sensitive", Probe { src: "203.0.113.5", method: "post", path: "/api/x", host: WWW }, Some("api_ro")),
    ("path_beg needs the slash", Probe { src: "203.0.113.5", method: "GET", path: "/apiary", host: WWW }, Some("site")),
    ("query is not part of the path", Probe { src: "203.0.113.5", method: "GET", path: "/x?to=/api/", host: WWW }, Some("site")),
    ("static, -i", Probe { src: "203.0.113.5", method: "GET", path: "/css/site.CSS?v=3", host: WWW }, Some("static")),
    ("'or' alternative", Probe { src: "203.0.113.5", method: "GET", path: "/", host: WWW }, Some("static")),
    ("exact path only", Probe { src: "203.0.113.5", method: "GET", path: "/index.html", host: WWW }, Some("site")),
    ("unless: other host", Probe { src: "203.0.113.5", method: "GET", path: "/index.html", host: Some("old.example.com") }, Some("legacy")),
    ("unless: absent host never matches, so unless holds", Probe { src: "203.0.113.5", method: "GET", path: "/about", host: None }, Some("legacy")),
    ("host compared raw, port included", Probe { src: "203.0.113.5", method: "GET", path: "/about", host: Some("www.example.com:80") }, Some("legacy")),
    ("absolute-form target", Probe { src: "203.0.113.5", method: "GET", path: "http://www.example.com/api/v", host: WWW }, Some("api_ro")),
];

#[test]
fn acl_routing_decisions() {
    let imported = parse(ROUTED).unwrap();
    let routing = Routing::compile(&imported.config.frontends[0]).unwrap();
    for (what, probe, expected) in ROUTES {
        assert_eq!(route(&routing, probe).as_deref(), *expected, "{what}");
    }
}

#[test]
fn routing_without_default_backend_can_be_none() {
    let cfg = "\
frontend f
    mode http
    bind :80
    acl api path_beg /api
    use_backend b if api
backend b
    mode http
";
    let imported = parse(cfg).unwrap();
    let routing = Routing::compile(&imported.config.frontends[0]).unwrap();
    let probe = |path| Probe {
        src: "127.0.0.1",
        method: "GET",
        path,
        host: None,
    };
    assert_eq!(route(&routing, &probe("/api/x")).as_deref(), Some("b"));
    assert_eq!(route(&routing, &probe("/x")), None);
}

#[test]
fn tcp_frontends_route_on_src_and_warn_about_http_acls() {
    let cfg = "\
frontend f
    bind :5432
    acl office src 10.1.0.0/16
    acl api path_beg /api
    use_backend primary if office
    default_backend replica
backend primary
backend replica
";
    let imported = parse(cfg).unwrap();
    let warned: Vec<u32> = imported
        .warnings
        .iter()
        .filter(|w| w.message.contains("tcp mode"))
        .map(|w| w.location.line)
        .collect();
    assert_eq!(warned, [4]);
    let routing = Routing::compile(&imported.config.frontends[0]).unwrap();
    let probe = |src| Probe {
        src,
        method: "",
        path: "",
        host: None,
    };
    assert_eq!(
        route(&routing, &probe("10.1.200.3")).as_deref(),
        Some("primary")
    );
    assert_eq!(
        route(&routing, &probe("10.2.0.1")).as_deref(),
        Some("replica")
    );
}
