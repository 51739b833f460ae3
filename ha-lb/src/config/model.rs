//! The typed configuration of a running ha-lb.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use ha_core::{HealthCheck, StatusMatch};
use serde::{Deserialize, Serialize};

use super::Shared;
use crate::backend::Backend;

pub use ha_core::Location;

/// A whole load-balancer configuration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Config {
    /// Process-wide settings.
    pub global: Global,
    /// Where clients connect. A haproxy.cfg `listen` section yields one
    /// frontend and one pool of the same name.
    pub frontends: Vec<Frontend>,
    /// Where traffic goes: haproxy.cfg's `backend` sections.
    pub pools: Vec<Pool>,
}

impl Config {
    /// The pool called `name`.
    pub fn pool(&self, name: &str) -> Option<&Pool> {
        self.pools.iter().find(|b| b.name == name)
    }
}

/// The `global` section.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Global {
    /// Process-wide connection limit (`maxconn`); `None`: computed from
    /// the open file limit, as HAProxy does ([`maxconn::automatic`](crate::maxconn::automatic)).
    pub maxconn: Option<u32>,
    /// User to switch to after binding (`user`).
    pub user: Option<String>,
    /// Group to switch to after binding (`group`).
    pub group: Option<String>,
    /// Run in the background (`daemon`).
    pub daemon: bool,
    /// Where logs go (`log`).
    pub log: Vec<LogTarget>,
    /// Worker threads (`nbthread`); `None` = one per core.
    pub nbthread: Option<u32>,
}

/// A `log` destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogTarget {
    /// A syslog socket (`log /dev/log local0`) or UDP server (`log 127.0.0.1:514 local0`).
    Syslog {
        /// Unix socket path or UDP address.
        address: SyslogAddress,
        /// Syslog facility (`local0`...).
        facility: String,
        /// Highest level sent, if given.
        level: Option<String>,
    },
    /// Standard output (`log stdout format raw local0`).
    Stdout,
    /// Standard error.
    Stderr,
}

/// Where a syslog server listens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyslogAddress {
    /// A Unix datagram socket such as `/dev/log`.
    Unix(PathBuf),
    /// A UDP address.
    Udp(SocketAddr),
}

/// Whether a proxy works on HTTP messages or on raw bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Mode {
    /// Raw TCP streams (HAProxy's default when no mode is given).
    #[default]
    Tcp,
    /// HTTP/1.1 requests and responses.
    Http,
}

/// The `timeout` settings. `None` means no limit, as in HAProxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Timeouts {
    /// `timeout connect`: to establish a server connection.
    pub connect: Option<Duration>,
    /// `timeout client`: client inactivity.
    pub client: Option<Duration>,
    /// `timeout server`: server inactivity.
    pub server: Option<Duration>,
    /// `timeout queue`: waiting for a free server slot.
    pub queue: Option<Duration>,
    /// `timeout check`: how long one health probe may take (unset: the
    /// server's `inter`). It does not turn checks on: a server's
    /// [`check`](Server::check) does.
    pub check: Option<Duration>,
    /// `timeout http-request`: to receive a complete request head.
    pub http_request: Option<Duration>,
    /// `timeout http-keep-alive`: idle time between requests.
    pub http_keep_alive: Option<Duration>,
    /// `timeout tunnel`: inactivity once a connection is a tunnel.
    pub tunnel: Option<Duration>,
}

/// Options that are either on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Options {
    /// `option forwardfor`: add `X-Forwarded-For`.
    pub forwardfor: bool,
    /// `option redispatch`: retry on another server after a connect failure.
    /// Off in `Options::default()`, as in HAProxy. The haproxy.cfg importer
    /// departs from HAProxy here: it turns it on for every pool unless
    /// `no option redispatch` says otherwise (nothing was sent on a failed
    /// connect, so another server is always safe).
    pub redispatch: bool,
    /// `option httplog`: HTTP access log lines.
    pub httplog: bool,
    /// `option tcplog`: TCP connection log lines.
    pub tcplog: bool,
    /// `option allbackups`: use all backup servers at once, not only the first.
    pub allbackups: bool,
}

/// A `frontend` (or the listening half of a `listen`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Frontend {
    /// The section name.
    pub name: String,
    /// Addresses to listen on.
    pub binds: Vec<Bind>,
    /// HTTP or TCP.
    pub mode: Mode,
    /// Timeouts in force (client side ones apply here).
    pub timeouts: Timeouts,
    /// Connection limit of this frontend; `None`: only the global one.
    pub maxconn: Option<u32>,
    /// Options in force.
    pub options: Options,
    /// Named ACLs.
    pub acls: Vec<Acl>,
    /// `use_backend` rules, tried in order.
    pub use_pools: Vec<UsePool>,
    /// `default_backend`: the pool used when no `use_backend` rule applies.
    pub default_pool: Option<String>,
    /// Where the section starts.
    pub location: Location,
}

/// One `bind` address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bind {
    /// The address; `*:80` is `0.0.0.0:80`, `[::]:80` is IPv6 any.
    pub addr: SocketAddr,
    /// Where the `bind` line is.
    pub location: Location,
}

/// A pool of servers and how traffic is balanced over them: haproxy.cfg's
/// `backend` section (or the server half of a `listen`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pool {
    /// The section name.
    pub name: String,
    /// HTTP or TCP.
    pub mode: Mode,
    /// The balancing algorithm.
    pub balance: Balance,
    /// `hash-type`: how hash-based algorithms map keys to servers.
    pub hash_type: HashType,
    /// Timeouts in force (server side ones apply here).
    pub timeouts: Timeouts,
    /// `retries`: connection attempts after the first fails (default 3).
    pub retries: u32,
    /// Options in force.
    pub options: Options,
    /// `option httpchk`: probe servers with HTTP instead of a TCP connect.
    pub http_check: Option<HttpCheck>,
    /// The servers.
    pub servers: Vec<Server>,
    /// Where the section starts.
    pub location: Location,
}

/// The balancing algorithm (`balance`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Balance {
    /// Smooth weighted round robin; weights can change at run time.
    #[default]
    RoundRobin,
    /// Weighted round robin fixed at start.
    StaticRr,
    /// Fewest active connections (relative to weight).
    LeastConn,
    /// The first server (in declaration order) with free slots.
    First,
    /// Hash of the client's IP address.
    Source,
    /// Hash of the request path (before `?`).
    Uri,
    /// Random by weight, keeping the least loaded of `draws` picks
    /// (`random(2)`: power of two choices).
    Random {
        /// How many servers are drawn (at least 1).
        draws: u32,
    },
}

/// How hash-based algorithms map keys to servers (`hash-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum HashType {
    /// Key modulo the weighted server list: even, but a change moves most keys.
    #[default]
    MapBased,
    /// A hash ring: a server leaving moves only its own keys.
    Consistent,
}

/// `option httpchk` and `http-check expect`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpCheck {
    /// Request method (default `OPTIONS`).
    pub method: String,
    /// Request path (default `/`).
    pub path: String,
    /// `Host` header to send, if any.
    pub host: Option<String>,
    /// Statuses that count as healthy.
    pub expect: StatusMatch,
}

impl Default for HttpCheck {
    fn default() -> Self {
        Self {
            method: "OPTIONS".into(),
            path: "/".into(),
            host: None,
            expect: StatusMatch::SuccessOrRedirect,
        }
    }
}

/// Where a server is, or how it is reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServerAddress {
    /// An IP address and port.
    Socket(SocketAddr),
    /// A host name resolved when the proxy starts, and a port.
    Name {
        /// The host name.
        host: String,
        /// The port.
        port: u16,
    },
    /// Reached through a [`Backend`] given in code: an
    /// [`InProcessBackend`](crate::InProcessBackend), or any other
    /// implementation. Never read from a file; not serializable.
    #[serde(skip)]
    Backend(Shared<dyn Backend>),
}

impl fmt::Display for ServerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerAddress::Socket(addr) => write!(f, "{addr}"),
            ServerAddress::Name { host, port } => write!(f, "{host}:{port}"),
            ServerAddress::Backend(backend) => f.write_str(&backend.describe()),
        }
    }
}

/// A `server` line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Server {
    /// The server name.
    pub name: String,
    /// Where it is.
    pub address: ServerAddress,
    /// `check`: health checks on (the server is probed, and taken out of
    /// rotation when probes fail; see [`Timeouts::check`] for one probe's
    /// time limit). Probed with [`health_check`](Self::health_check) if set,
    /// else with a TCP connect (or the pool's [`HttpCheck`]) to its network
    /// address, else, for a [`Backend`] without one, by opening a connection
    /// through the backend.
    pub check: bool,
    /// A health check given in code, used instead of the built-in probes
    /// when `check` is on. Never read from a file.
    #[serde(skip)]
    pub health_check: Option<Shared<dyn HealthCheck>>,
    /// `inter` (default 2 s).
    pub inter: Duration,
    /// `fastinter`, if set.
    pub fastinter: Option<Duration>,
    /// `downinter`, if set.
    pub downinter: Option<Duration>,
    /// `rise` (default 2).
    pub rise: u32,
    /// `fall` (default 3).
    pub fall: u32,
    /// `port`: probe this port instead of the server's.
    pub check_port: Option<u16>,
    /// `addr`: probe this address instead of the server's.
    pub check_addr: Option<IpAddr>,
    /// `weight` 0..=256 (default 1).
    pub weight: u32,
    /// `backup`: only used when no normal server is usable.
    pub backup: bool,
    /// `maxconn`: concurrent connections to it; `None` = unlimited.
    pub maxconn: Option<u32>,
    /// `disabled`: starts in maintenance.
    pub disabled: bool,
    /// Where the `server` line is.
    pub location: Location,
}

impl Server {
    /// A server at `address` with HAProxy's defaults and no check.
    pub fn new(name: impl Into<String>, address: ServerAddress) -> Self {
        Self {
            name: name.into(),
            address,
            check: false,
            health_check: None,
            inter: Duration::from_millis(2000),
            fastinter: None,
            downinter: None,
            rise: 2,
            fall: 3,
            check_port: None,
            check_addr: None,
            weight: 1,
            backup: false,
            maxconn: None,
            disabled: false,
            location: Location::default(),
        }
    }
}

/// `acl NAME CRITERION [FLAGS] VALUE...`: a named test on a request.
/// Several values, or several `acl` lines with the same name, are ORed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acl {
    /// The ACL name.
    pub name: String,
    /// What is tested.
    pub criterion: Criterion,
    /// `-i`: compare case-insensitively.
    pub ignore_case: bool,
    /// The values; any one matching makes the ACL true.
    pub values: Vec<String>,
    /// Where the `acl` line is.
    pub location: Location,
}

/// What an ACL tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Criterion {
    /// `path`: the path equals a value.
    Path,
    /// `path_beg`: the path starts with a value.
    PathBeg,
    /// `path_end`: the path ends with a value.
    PathEnd,
    /// `hdr(NAME)`: a header equals a value, compared raw as in HAProxy
    /// (`hdr(host) example.com` does not match `Host: example.com:8080`).
    Hdr(String),
    /// `hdr_beg(NAME)`: a header starts with a value.
    HdrBeg(String),
    /// `hdr_end(NAME)`: a header ends with a value.
    HdrEnd(String),
    /// `src`: the client address is in a network (`10.0.0.0/8`) or equals an address.
    Src,
    /// `method`: the request method equals a value.
    Method,
}

/// `use_backend NAME if|unless CONDITION`: send to pool `NAME` when the
/// condition holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsePool {
    /// The pool to use when the condition holds.
    pub pool: String,
    /// When.
    pub condition: Condition,
    /// Where the rule is.
    pub location: Location,
}

/// A condition over named ACLs: an OR (`||`, `or`) of ANDs (names side by
/// side), each name possibly negated (`!`), the whole possibly inverted
/// (`unless`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    /// `unless` instead of `if`.
    pub unless: bool,
    /// Alternatives; the condition holds if all terms of any one hold.
    pub any_of: Vec<Vec<AclTerm>>,
}

/// A reference to a named ACL inside a condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclTerm {
    /// The ACL name.
    pub name: String,
    /// `!name`.
    pub negated: bool,
}
