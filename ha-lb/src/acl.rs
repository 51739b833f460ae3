//! Request routing: a frontend's ACLs and `use_backend` rules, compiled once
//! and evaluated on every request.
//!
//! [`Routing::compile`] resolves ACL names to indexes, parses `src`
//! networks and header names, and reports mistakes with the `file:line` of
//! the offending `acl` or `use_backend` line. [`Routing::route`] is then a
//! pure function of the [`Request`]: no allocation, no I/O. Rules are tried
//! in order and the first whose condition holds wins; otherwise the
//! `default_backend` is used, if any.
//!
//! Matching follows HAProxy:
//! - `path`, `path_beg` and `path_end` look at the path of the request
//!   target without its query string (`/a/b` of `/a/b?x=1`, and also of an
//!   absolute-form `http://host/a/b`); a target without a path (`*`) never
//!   matches.
//! - `hdr(NAME)`, `hdr_beg(NAME)` and `hdr_end(NAME)` look at every
//!   occurrence of the header, a comma-separated value counting as several
//!   occurrences (commas inside double quotes do not split), blanks around
//!   each trimmed. A header that is absent never matches. The value is
//!   compared raw: `hdr(host) example.com` does **not** match
//!   `Host: example.com:8080`, exactly as in HAProxy (write
//!   `hdr_beg(host) example.com:` or list both forms to accept a port).
//! - `src` holds when the client address is in one of the networks; IPv4
//!   networks also match IPv4-mapped IPv6 clients (`::ffff:10.0.0.1`) and
//!   the other way round.
//! - `method` compares the method exactly.
//! - `-i` makes string comparisons ASCII case-insensitive.
//! - the values of one ACL line are ORed, and so are several lines with the
//!   same name; names side by side in a condition are ANDed, `||` separates
//!   alternatives, `!` negates, `unless` inverts the whole condition.
//!
//! For a frontend in TCP mode, pass an empty method, path and header map:
//! only `src` ACLs are meaningful there.
//!
//! ```
//! use std::path::Path;
//! use ha_lb::acl::{Request, Routing};
//! use ha_lb::config::haproxy;
//!
//! let cfg = "\
//! frontend web
//!     mode http
//!     bind :80
//!     acl is_api path_beg /api
//!     acl internal src 10.0.0.0/8
//!     use_backend api if is_api internal
//!     default_backend site
//! backend api
//!     mode http
//! backend site
//!     mode http
//! ";
//! let config = haproxy::parse_str(cfg, Path::new("haproxy.cfg"))?.config;
//! let routing = Routing::compile(&config.frontends[0])?;
//! let headers = http::HeaderMap::new();
//! let request = Request {
//!     src: "10.1.2.3".parse().unwrap(),
//!     method: "GET",
//!     path: "/api/users?id=3",
//!     headers: &headers,
//! };
//! assert_eq!(routing.route(&request), Some("api"));
//! assert_eq!(routing.route(&Request { src: "192.0.2.1".parse().unwrap(), ..request }), Some("site"));
//! # Ok::<(), ha_lb::Error>(())
//! ```

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use http::{HeaderMap, HeaderName};

use crate::config::{Acl, Criterion, Frontend};
use crate::error::{Error, Result};

/// What routing looks at in a request.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The client's address.
    pub src: IpAddr,
    /// The request method as received (`GET`).
    pub method: &'a str,
    /// The request target as received: `/path?query`, or an absolute
    /// `http://host/path?query`.
    pub path: &'a str,
    /// The request headers (for HTTP/2, include `host` from `:authority`).
    pub headers: &'a HeaderMap,
}

/// An IPv4 or IPv6 network: `10.0.0.0/8`, `10.0.0.0/255.0.0.0`,
/// `2001:db8::/32`, or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    /// The address with the host bits cleared.
    addr: IpAddr,
    /// The prefix length.
    prefix: u8,
}

impl Network {
    /// Parses an address or a network as HAProxy's `src` ACL accepts it;
    /// host bits are cleared (`10.1.2.3/8` is `10.0.0.0/8`). `None` when
    /// `text` is not one.
    pub fn parse(text: &str) -> Option<Network> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().ok().filter(|&p| p <= max)?
            }
            Some(mask) if addr.is_ipv4() => {
                // A dotted mask, which must be contiguous.
                let mask = u32::from(mask.parse::<Ipv4Addr>().ok()?);
                let prefix = mask.leading_ones();
                if mask.checked_shl(prefix).unwrap_or(0) != 0 {
                    return None;
                }
                prefix as u8
            }
            Some(_) => return None,
        };
        let addr = match addr {
            IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask_v4(prefix))),
            IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask_v6(prefix))),
        };
        Some(Network { addr, prefix })
    }

    /// The network address (host bits cleared).
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length (32 or 128 for a single address).
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` is in this network. IPv4 networks match IPv4-mapped
    /// IPv6 addresses and IPv6 networks match IPv4 addresses through their
    /// mapped form, as in HAProxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => in_v4(net, self.prefix, ip),
            (IpAddr::V4(net), IpAddr::V6(ip)) => ip
                .to_ipv4_mapped()
                .is_some_and(|ip| in_v4(net, self.prefix, ip)),
            (IpAddr::V6(net), IpAddr::V6(ip)) => in_v6(net, self.prefix, ip),
            (IpAddr::V6(net), IpAddr::V4(ip)) => in_v6(net, self.prefix, ip.to_ipv6_mapped()),
        }
    }
}

fn mask_v4(prefix: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(prefix.min(32)))
        .unwrap_or(0)
}

fn mask_v6(prefix: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(prefix.min(128)))
        .unwrap_or(0)
}

fn in_v4(net: Ipv4Addr, prefix: u8, ip: Ipv4Addr) -> bool {
    u32::from(ip) & mask_v4(prefix) == u32::from(net)
}

fn in_v6(net: Ipv6Addr, prefix: u8, ip: Ipv6Addr) -> bool {
    u128::from(ip) & mask_v6(prefix) == u128::from(net)
}

/// How a string value is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Exact,
    Prefix,
    Suffix,
}

/// One compiled `acl` line.
#[derive(Debug, Clone)]
enum Test {
    Path {
        op: Op,
        ignore_case: bool,
        values: Vec<String>,
    },
    Header {
        name: HeaderName,
        op: Op,
        ignore_case: bool,
        values: Vec<String>,
    },
    Method {
        ignore_case: bool,
        values: Vec<String>,
    },
    Src(Vec<Network>),
}

impl Test {
    fn compile(acl: &Acl) -> Result<Test> {
        let error = |value: &str, expected: &'static str| Error::InvalidAcl {
            acl: acl.name.clone(),
            value: value.to_owned(),
            expected,
            location: acl.location.clone(),
        };
        let header = |name: &str| {
            HeaderName::from_bytes(name.as_bytes()).map_err(|_| error(name, "a header name"))
        };
        let ignore_case = acl.ignore_case;
        let values = acl.values.clone();
        Ok(match &acl.criterion {
            Criterion::Path => Test::Path {
                op: Op::Exact,
                ignore_case,
                values,
            },
            Criterion::PathBeg => Test::Path {
                op: Op::Prefix,
                ignore_case,
                values,
            },
            Criterion::PathEnd => Test::Path {
                op: Op::Suffix,
                ignore_case,
                values,
            },
            Criterion::Hdr(name) => Test::Header {
                name: header(name)?,
                op: Op::Exact,
                ignore_case,
                values,
            },
            Criterion::HdrBeg(name) => Test::Header {
                name: header(name)?,
                op: Op::Prefix,
                ignore_case,
                values,
            },
            Criterion::HdrEnd(name) => Test::Header {
                name: header(name)?,
                op: Op::Suffix,
                ignore_case,
                values,
            },
            Criterion::Method => Test::Method {
                ignore_case,
                values,
            },
            Criterion::Src => Test::Src(
                acl.values
                    .iter()
                    .map(|v| {
                        Network::parse(v).ok_or_else(|| {
                            error(v, "an IP address or a network such as 10.0.0.0/8")
                        })
                    })
                    .collect::<Result<_>>()?,
            ),
        })
    }

    fn matches(&self, request: &Request<'_>, path: Option<&str>) -> bool {
        match self {
            Test::Path {
                op,
                ignore_case,
                values,
            } => path.is_some_and(|path| {
                values
                    .iter()
                    .any(|v| compare(*op, *ignore_case, path.as_bytes(), v.as_bytes()))
            }),
            Test::Header {
                name,
                op,
                ignore_case,
                values,
            } => request.headers.get_all(name).iter().any(|value| {
                Occurrences(Some(value.as_bytes())).any(|occurrence| {
                    values
                        .iter()
                        .any(|v| compare(*op, *ignore_case, occurrence, v.as_bytes()))
                })
            }),
            Test::Method {
                ignore_case,
                values,
            } => values.iter().any(|v| {
                compare(
                    Op::Exact,
                    *ignore_case,
                    request.method.as_bytes(),
                    v.as_bytes(),
                )
            }),
            Test::Src(networks) => networks.iter().any(|n| n.contains(request.src)),
        }
    }
}

fn same(a: &[u8], b: &[u8], ignore_case: bool) -> bool {
    if ignore_case {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

fn compare(op: Op, ignore_case: bool, subject: &[u8], value: &[u8]) -> bool {
    match op {
        Op::Exact => same(subject, value, ignore_case),
        Op::Prefix => subject
            .get(..value.len())
            .is_some_and(|s| same(s, value, ignore_case)),
        Op::Suffix => subject
            .len()
            .checked_sub(value.len())
            .and_then(|start| subject.get(start..))
            .is_some_and(|s| same(s, value, ignore_case)),
    }
}

/// The comma-separated occurrences of a header value, trimmed; commas
/// inside double-quoted strings do not split. An empty value is one empty
/// occurrence.
struct Occurrences<'a>(Option<&'a [u8]>);

impl<'a> Iterator for Occurrences<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let bytes = self.0?;
        let mut quoted = false;
        let mut escaped = false;
        let mut end = None;
        for (i, &b) in bytes.iter().enumerate() {
            if escaped {
                escaped = false;
            } else if quoted && b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                quoted = !quoted;
            } else if b == b',' && !quoted {
                end = Some(i);
                break;
            }
        }
        let item = match end {
            Some(end) => {
                self.0 = bytes.get(end + 1..);
                bytes.get(..end).unwrap_or_default()
            }
            None => {
                self.0 = None;
                bytes
            }
        };
        Some(item.trim_ascii())
    }
}

/// The path of a request target without its query: `None` for `*` or an
/// authority-only target.
fn request_path(target: &str) -> Option<&str> {
    let target = target.split_once('?').map_or(target, |(path, _)| path);
    if target.starts_with('/') {
        return Some(target);
    }
    let (_, after_scheme) = target.split_once("://")?;
    after_scheme.find('/').and_then(|i| after_scheme.get(i..))
}

/// A reference to an ACL in a compiled condition.
#[derive(Debug, Clone, Copy)]
struct Term {
    acl: usize,
    negated: bool,
}

#[derive(Debug, Clone)]
struct Rule {
    pool: String,
    unless: bool,
    any_of: Vec<Vec<Term>>,
}

/// A named ACL: its lines, ORed.
#[derive(Debug, Clone)]
struct NamedAcl {
    name: String,
    tests: Vec<Test>,
}

/// A frontend's routing, compiled: its ACLs, `use_backend` rules and
/// `default_backend`.
#[derive(Debug, Clone)]
pub struct Routing {
    acls: Vec<NamedAcl>,
    rules: Vec<Rule>,
    default_pool: Option<String>,
}

impl Routing {
    /// Compiles `frontend`'s ACLs and rules: resolves ACL names, parses
    /// `src` networks (IPv4 and IPv6 CIDR) and header names. Errors name the
    /// offending `acl` or `use_backend` line.
    pub fn compile(frontend: &Frontend) -> Result<Routing> {
        let mut acls: Vec<NamedAcl> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for acl in &frontend.acls {
            let test = Test::compile(acl)?;
            let i = *index.entry(acl.name.as_str()).or_insert_with(|| {
                acls.push(NamedAcl {
                    name: acl.name.clone(),
                    tests: Vec::new(),
                });
                acls.len() - 1
            });
            if let Some(named) = acls.get_mut(i) {
                named.tests.push(test);
            }
        }
        let rules = frontend
            .use_pools
            .iter()
            .map(|rule| {
                let any_of = rule
                    .condition
                    .any_of
                    .iter()
                    .map(|all_of| {
                        all_of
                            .iter()
                            .map(|term| match index.get(term.name.as_str()) {
                                Some(&acl) => Ok(Term {
                                    acl,
                                    negated: term.negated,
                                }),
                                None => Err(Error::UnknownAcl {
                                    frontend: frontend.name.clone(),
                                    acl: term.name.clone(),
                                    location: rule.location.clone(),
                                }),
                            })
                            .collect::<Result<Vec<_>>>()
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(Rule {
                    pool: rule.pool.clone(),
                    unless: rule.condition.unless,
                    any_of,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Routing {
            acls,
            rules,
            default_pool: frontend.default_pool.clone(),
        })
    }

    /// The pool for this request: the first `use_backend` whose
    /// condition holds, else the `default_backend`, else `None`.
    pub fn route(&self, request: &Request<'_>) -> Option<&str> {
        let path = request_path(request.path);
        self.rules
            .iter()
            .find(|rule| self.holds(rule, request, path))
            .map(|rule| rule.pool.as_str())
            .or(self.default_pool.as_deref())
    }

    /// Whether the ACL called `name` holds for `request`; `None` if the
    /// frontend has no such ACL.
    pub fn acl_matches(&self, name: &str, request: &Request<'_>) -> Option<bool> {
        let path = request_path(request.path);
        let acl = self.acls.iter().position(|a| a.name == name)?;
        Some(self.acl(acl, request, path))
    }

    fn acl(&self, acl: usize, request: &Request<'_>, path: Option<&str>) -> bool {
        self.acls
            .get(acl)
            .is_some_and(|a| a.tests.iter().any(|t| t.matches(request, path)))
    }

    fn holds(&self, rule: &Rule, request: &Request<'_>, path: Option<&str>) -> bool {
        let any = rule.any_of.iter().any(|all_of| {
            all_of
                .iter()
                .all(|term| self.acl(term.acl, request, path) != term.negated)
        });
        any != rule.unless
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{AclTerm, Condition, Location, Mode, Options, Timeouts, UsePool};

    fn acl(name: &str, criterion: Criterion, ignore_case: bool, values: &[&str]) -> Acl {
        Acl {
            name: name.into(),
            criterion,
            ignore_case,
            values: values.iter().map(|v| v.to_string()).collect(),
            location: Location {
                file: "t.cfg".into(),
                line: 3,
            },
        }
    }

    fn rule(pool: &str, unless: bool, any_of: &[&[&str]]) -> UsePool {
        UsePool {
            pool: pool.into(),
            condition: Condition {
                unless,
                any_of: any_of
                    .iter()
                    .map(|all| {
                        all.iter()
                            .map(|t| AclTerm {
                                name: t.trim_start_matches('!').into(),
                                negated: t.starts_with('!'),
                            })
                            .collect()
                    })
                    .collect(),
            },
            location: Location {
                file: "t.cfg".into(),
                line: 9,
            },
        }
    }

    fn frontend(acls: Vec<Acl>, rules: Vec<UsePool>, default: Option<&str>) -> Frontend {
        Frontend {
            name: "fe".into(),
            binds: Vec::new(),
            mode: Mode::Http,
            timeouts: Timeouts::default(),
            maxconn: None,
            options: Options::default(),
            acls,
            use_pools: rules,
            default_pool: default.map(Into::into),
            location: Location::default(),
        }
    }

    fn request<'a>(path: &'a str, headers: &'a HeaderMap) -> Request<'a> {
        Request {
            src: "10.0.0.1".parse().unwrap(),
            method: "GET",
            path,
            headers,
        }
    }

    #[test]
    fn networks() {
        let n = |t: &str| Network::parse(t).unwrap();
        assert_eq!(
            n("10.1.2.3/8").addr(),
            "10.0.0.0".parse::<IpAddr>().unwrap()
        );
        assert_eq!(n("10.1.2.3/8").prefix(), 8);
        assert_eq!(n("10.0.0.0/255.255.0.0").prefix(), 16);
        assert_eq!(n("10.0.0.7").prefix(), 32);
        assert_eq!(n("2001:db8::/32").prefix(), 32);
        assert_eq!(n("0.0.0.0/0").prefix(), 0);
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/255.0.255.0",
            "::/ffff::",
            "10.0.0",
            "host",
            "10.0.0.0/+8",
        ] {
            assert_eq!(Network::parse(bad), None, "{bad}");
        }
        let ip = |t: &str| t.parse::<IpAddr>().unwrap();
        assert!(n("10.0.0.0/8").contains(ip("10.255.0.1")));
        assert!(!n("10.0.0.0/8").contains(ip("11.0.0.1")));
        assert!(n("0.0.0.0/0").contains(ip("192.0.2.1")));
        assert!(n("10.0.0.0/8").contains(ip("::ffff:10.9.9.9")));
        assert!(!n("10.0.0.0/8").contains(ip("2001:db8::1")));
        assert!(n("2001:db8::/32").contains(ip("2001:db8:1::5")));
        assert!(!n("2001:db8::/32").contains(ip("2001:db9::5")));
        assert!(n("::ffff:0:0/96").contains(ip("192.0.2.1")));
        assert!(n("::/0").contains(ip("::1")));
    }

    #[test]
    fn comparisons() {
        assert!(compare(Op::Exact, false, b"/a", b"/a"));
        assert!(!compare(Op::Exact, false, b"/A", b"/a"));
        assert!(compare(Op::Exact, true, b"/A", b"/a"));
        assert!(compare(Op::Prefix, false, b"/api/x", b"/api"));
        assert!(!compare(Op::Prefix, false, b"/ap", b"/api"));
        assert!(compare(Op::Suffix, true, b"/x.JS", b".js"));
        assert!(!compare(Op::Suffix, false, b"js", b".js"));
        assert!(compare(Op::Prefix, false, b"", b""));
    }

    #[test]
    fn header_occurrences() {
        fn all(v: &[u8]) -> Vec<&[u8]> {
            Occurrences(Some(v)).collect()
        }
        assert_eq!(all(b"a, b ,c"), [&b"a"[..], b"b", b"c"]);
        assert_eq!(all(b"one"), [&b"one"[..]]);
        assert_eq!(all(b"\"x,y\", z"), [&b"\"x,y\""[..], b"z"]);
        assert_eq!(all(b"a,"), [&b"a"[..], b""]);
        assert_eq!(all(b",a"), [&b""[..], b"a"]);
        assert_eq!(all(b"\"a\\\",b\",c"), [&b"\"a\\\",b\""[..], b"c"]);
        assert_eq!(all(b""), [&b""[..]]);
    }

    #[test]
    fn paths() {
        assert_eq!(request_path("/a/b?x=1"), Some("/a/b"));
        assert_eq!(request_path("/"), Some("/"));
        assert_eq!(request_path("http://h:8/a?q"), Some("/a"));
        assert_eq!(request_path("http://h"), None);
        assert_eq!(request_path("*"), None);
        assert_eq!(request_path(""), None);
    }

    #[test]
    fn first_matching_rule_wins_then_default() {
        let fe = frontend(
            vec![
                acl("api", Criterion::PathBeg, false, &["/api"]),
                acl("v2", Criterion::PathBeg, false, &["/api/v2"]),
            ],
            vec![
                rule("v2", false, &[&["v2"]]),
                rule("api", false, &[&["api"]]),
            ],
            Some("site"),
        );
        let routing = Routing::compile(&fe).unwrap();
        let h = HeaderMap::new();
        assert_eq!(routing.route(&request("/api/v2/x", &h)), Some("v2"));
        assert_eq!(routing.route(&request("/api/v1", &h)), Some("api"));
        assert_eq!(routing.route(&request("/index", &h)), Some("site"));
        assert_eq!(routing.route(&request("/index?/api", &h)), Some("site"));
        let no_default = frontend(fe.acls.clone(), fe.use_pools.clone(), None);
        assert_eq!(
            Routing::compile(&no_default)
                .unwrap()
                .route(&request("/", &h)),
            None
        );
    }

    #[test]
    fn unconditional_rule_and_empty_condition() {
        let mut fe = frontend(Vec::new(), vec![rule("all", false, &[&[]])], Some("d"));
        let h = HeaderMap::new();
        assert_eq!(
            Routing::compile(&fe).unwrap().route(&request("/", &h)),
            Some("all")
        );
        fe.use_pools = vec![rule("never", false, &[])];
        assert_eq!(
            Routing::compile(&fe).unwrap().route(&request("/", &h)),
            Some("d")
        );
    }

    #[test]
    fn headers_are_compared_raw() {
        let fe = frontend(
            vec![
                acl(
                    "site",
                    Criterion::Hdr("host".into()),
                    true,
                    &["example.com"],
                ),
                acl("www", Criterion::HdrBeg("Host".into()), false, &["www."]),
            ],
            vec![
                rule("site", false, &[&["site"]]),
                rule("www", false, &[&["www"]]),
            ],
            None,
        );
        let routing = Routing::compile(&fe).unwrap();
        let mut h = HeaderMap::new();
        assert_eq!(routing.route(&request("/", &h)), None, "absent header");
        h.insert("host", "Example.COM".parse().unwrap());
        assert_eq!(routing.route(&request("/", &h)), Some("site"));
        h.insert("host", "example.com:8080".parse().unwrap());
        assert_eq!(routing.route(&request("/", &h)), None, "no port stripping");
        h.insert("host", "www.example.com:8080".parse().unwrap());
        assert_eq!(routing.route(&request("/", &h)), Some("www"));
        h.insert("host", "WWW.example.com".parse().unwrap());
        assert_eq!(
            routing.route(&request("/", &h)),
            None,
            "case-sensitive without -i"
        );
    }

    #[test]
    fn compile_errors_name_the_line() {
        let fe = frontend(
            vec![acl("bad", Criterion::Src, false, &["10.0.0.0/40"])],
            Vec::new(),
            None,
        );
        let e = Routing::compile(&fe).unwrap_err();
        assert!(
            matches!(e, Error::InvalidAcl { ref location, ref value, .. } if location.line == 3 && value == "10.0.0.0/40"),
            "{e}"
        );
        let fe = frontend(
            vec![acl("h", Criterion::Hdr("bad header".into()), false, &["x"])],
            Vec::new(),
            None,
        );
        assert!(Routing::compile(&fe).is_err());
        let fe = frontend(Vec::new(), vec![rule("b", false, &[&["missing"]])], None);
        let e = Routing::compile(&fe).unwrap_err();
        assert!(
            matches!(e, Error::UnknownAcl { ref location, ref acl, .. } if location.line == 9 && acl == "missing"),
            "{e}"
        );
    }

    #[test]
    fn acl_matches_by_name() {
        let fe = frontend(
            vec![
                acl("m", Criterion::Method, false, &["POST"]),
                acl("m", Criterion::Method, true, &["put"]),
            ],
            Vec::new(),
            None,
        );
        let routing = Routing::compile(&fe).unwrap();
        let h = HeaderMap::new();
        let with = |method| Request {
            method,
            ..request("/", &h)
        };
        assert_eq!(routing.acl_matches("m", &with("POST")), Some(true));
        assert_eq!(routing.acl_matches("m", &with("post")), Some(false));
        assert_eq!(routing.acl_matches("m", &with("PuT")), Some(true));
        assert_eq!(routing.acl_matches("m", &with("GET")), Some(false));
        assert_eq!(routing.acl_matches("other", &with("GET")), None);
    }
}
