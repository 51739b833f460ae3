//! Building a [`Config`] in code, without haproxy.cfg: [`Config::builder`]
//! and chainable setters on [`Frontend`], [`Pool`], [`Server`],
//! [`Timeouts`], [`Acl`] and [`Condition`], named after the haproxy.cfg
//! keywords they stand for, and [`Defaults`] for what a `defaults` section
//! gives every frontend and pool.
//!
//! ```
//! use std::time::Duration;
//! use ha_lb::config::{
//!     Acl, Balance, Condition, Config, Criterion, Frontend, Mode, Pool, Server, Timeouts,
//! };
//!
//! let config = Config::builder()
//!     .frontend(
//!         Frontend::new("web")
//!             .mode(Mode::Http)
//!             .bind("127.0.0.1:8080".parse().unwrap())
//!             .acl(Acl::new("is_api", Criterion::PathBeg, ["/api/"]))
//!             .use_pool("api", Condition::all(["is_api"]))
//!             .default_pool("webs"),
//!     )
//!     .pool(
//!         Pool::new("api")
//!             .mode(Mode::Http)
//!             .server(Server::at("api1", "127.0.0.1:9001".parse().unwrap())),
//!     )
//!     .pool(
//!         Pool::new("webs")
//!             .mode(Mode::Http)
//!             .balance(Balance::LeastConn)
//!             .timeouts(Timeouts::new().connect(Duration::from_secs(5)))
//!             .server(Server::at("web1", "127.0.0.1:8081".parse().unwrap()).check())
//!             .server(Server::at("web2", "127.0.0.1:8082".parse().unwrap()).weight(2)),
//!     )
//!     .build();
//! assert_eq!(config.pool("webs").unwrap().servers[1].weight, 2);
//! ha_lb::LoadBalancer::check(&config)?;
//! # Ok::<(), ha_lb::Error>(())
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ha_core::HealthCheck;

use super::{
    Acl, AclTerm, Balance, Condition, Config, Criterion, Frontend, HashType, HttpCheck, Mode,
    Options, Pool, Server, ServerAddress, Shared, Timeouts, UsePool,
};
use crate::backend::Backend;

/// haproxy.cfg's `defaults` section for a configuration built in code: the
/// mode and timeouts that frontends and pools made with
/// [`Defaults::frontend`] and [`Defaults::pool`] start from, so they are
/// written once. A section's own [`mode`](Frontend::mode) or
/// [`timeouts`](Frontend::timeouts) set afterwards replace them.
///
/// ```
/// use std::time::Duration;
/// use ha_lb::config::{Config, Defaults, Mode, Server, Timeouts};
///
/// let timeouts = Timeouts::new()
///     .connect(Duration::from_secs(5))
///     .client(Duration::from_secs(30))
///     .server(Duration::from_secs(30));
/// let defaults = Defaults::new(Mode::Http, timeouts);
/// let config = Config::builder()
///     .frontend(defaults.frontend("web").default_pool("webs"))
///     .pool(defaults.pool("webs").server(Server::at("web1", "127.0.0.1:8081".parse().unwrap())))
///     .build();
/// assert_eq!(config.pool("webs").unwrap().mode, Mode::Http);
/// assert_eq!(config.frontends[0].timeouts, timeouts);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Defaults {
    /// `mode`.
    pub mode: Mode,
    /// The `timeout` settings (each section uses those that apply to it).
    pub timeouts: Timeouts,
}

impl Defaults {
    /// `defaults` with `mode` and `timeouts`.
    pub fn new(mode: Mode, timeouts: Timeouts) -> Self {
        Self { mode, timeouts }
    }

    /// A frontend called `name` with this mode and these timeouts, else
    /// as [`Frontend::new`].
    pub fn frontend(&self, name: impl Into<String>) -> Frontend {
        Frontend::new(name).mode(self.mode).timeouts(self.timeouts)
    }

    /// A pool called `name` with this mode and these timeouts, else as
    /// [`Pool::new`].
    pub fn pool(&self, name: impl Into<String>) -> Pool {
        Pool::new(name).mode(self.mode).timeouts(self.timeouts)
    }
}

/// Builds a [`Config`] from frontends and pools; see [`Config::builder`].
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct ConfigBuilder {
    config: Config,
}

impl Config {
    /// Starts a configuration built in code.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }
}

impl ConfigBuilder {
    /// Adds a frontend.
    pub fn frontend(mut self, frontend: Frontend) -> Self {
        self.config.frontends.push(frontend);
        self
    }

    /// Adds a pool (haproxy.cfg's `backend` section).
    pub fn pool(mut self, pool: Pool) -> Self {
        self.config.pools.push(pool);
        self
    }

    /// The process-wide connection limit (`global` `maxconn`).
    pub fn maxconn(mut self, maxconn: u32) -> Self {
        self.config.global.maxconn = Some(maxconn);
        self
    }

    /// The configuration. [`LoadBalancer::check`](crate::LoadBalancer::check)
    /// (also run by `bind`) finds what is wrong with it, such as a frontend
    /// naming a pool that does not exist.
    pub fn build(self) -> Config {
        self.config
    }
}

impl Frontend {
    /// A frontend called `name` with HAProxy's defaults: `mode tcp`, no
    /// address, no timeouts, no limit, no pool. [`Defaults::frontend`]
    /// starts from a mode and timeouts of your own.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            binds: Vec::new(),
            mode: Mode::Tcp,
            timeouts: Timeouts::default(),
            maxconn: None,
            options: Options::default(),
            acls: Vec::new(),
            use_pools: Vec::new(),
            default_pool: None,
            location: super::Location::default(),
        }
    }

    /// `mode`: HTTP or TCP.
    #[must_use]
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// `bind`: one more address to listen on (port 0 lets the system choose;
    /// see [`LoadBalancer::local_addrs`](crate::LoadBalancer::local_addrs)).
    #[must_use]
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.binds.push(super::Bind {
            addr,
            location: super::Location::default(),
        });
        self
    }

    /// `default_backend`: the pool for traffic no `use_backend` rule takes.
    #[must_use]
    pub fn default_pool(mut self, pool: impl Into<String>) -> Self {
        self.default_pool = Some(pool.into());
        self
    }

    /// `acl`: one more named test for [`use_pool`](Self::use_pool) rules.
    #[must_use]
    pub fn acl(mut self, acl: Acl) -> Self {
        self.acls.push(acl);
        self
    }

    /// `use_backend POOL if|unless CONDITION`: one more routing rule, tried
    /// after the earlier ones.
    #[must_use]
    pub fn use_pool(mut self, pool: impl Into<String>, condition: Condition) -> Self {
        self.use_pools.push(UsePool {
            pool: pool.into(),
            condition,
            location: super::Location::default(),
        });
        self
    }

    /// The `timeout` settings (`client`, `http-request`, `tunnel` apply here).
    #[must_use]
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// `maxconn`: this frontend's connection limit.
    #[must_use]
    pub fn maxconn(mut self, maxconn: u32) -> Self {
        self.maxconn = Some(maxconn);
        self
    }

    /// The on/off options (`forwardfor`, `httplog`...).
    #[must_use]
    pub fn options(mut self, options: Options) -> Self {
        self.options = options;
        self
    }
}

impl Pool {
    /// A pool called `name` with HAProxy's defaults: `mode tcp`,
    /// `balance roundrobin`, `retries 3`, no timeouts, no servers, options
    /// off (`option redispatch` included). [`Defaults::pool`] starts from
    /// a mode and timeouts of your own.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            mode: Mode::Tcp,
            balance: Balance::RoundRobin,
            hash_type: HashType::MapBased,
            timeouts: Timeouts::default(),
            retries: 3,
            options: Options::default(),
            http_check: None,
            servers: Vec::new(),
            location: super::Location::default(),
        }
    }

    /// `mode`: HTTP or TCP.
    #[must_use]
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// `balance`: the algorithm.
    #[must_use]
    pub fn balance(mut self, balance: Balance) -> Self {
        self.balance = balance;
        self
    }

    /// `hash-type`: how `source` and `uri` map keys to servers.
    #[must_use]
    pub fn hash_type(mut self, hash_type: HashType) -> Self {
        self.hash_type = hash_type;
        self
    }

    /// The `timeout` settings (`connect`, `server`, `queue`, `check` apply
    /// here).
    #[must_use]
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// `retries`: connection attempts after the first fails.
    #[must_use]
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// The on/off options (`redispatch`, `allbackups`, `forwardfor`...).
    #[must_use]
    pub fn options(mut self, options: Options) -> Self {
        self.options = options;
        self
    }

    /// `option httpchk`: probe servers with this HTTP request instead of a
    /// TCP connect.
    #[must_use]
    pub fn http_check(mut self, check: HttpCheck) -> Self {
        self.http_check = Some(check);
        self
    }

    /// `server`: one more server.
    #[must_use]
    pub fn server(mut self, server: Server) -> Self {
        self.servers.push(server);
        self
    }
}

impl Server {
    /// A server at a network address, with HAProxy's defaults and no check.
    pub fn at(name: impl Into<String>, addr: SocketAddr) -> Self {
        Self::new(name, ServerAddress::Socket(addr))
    }

    /// A server reached through `backend`, such as an
    /// [`InProcessBackend`](crate::InProcessBackend), with HAProxy's
    /// defaults and no check.
    pub fn with_backend(name: impl Into<String>, backend: impl Backend + 'static) -> Self {
        Self::new(name, ServerAddress::Backend(Shared(Arc::new(backend))))
    }

    /// `check` on a `server` line: turns health checks on for this server
    /// (it is probed every [`inter`](Self::inter) and taken out of
    /// rotation after [`fall`](Self::fall) failed probes). The probe is the
    /// [`health_check`](Self::health_check) if one is given, else the
    /// pool's [`http_check`](Pool::http_check) request, else a TCP connect
    /// to the server's address (or, for a [`Backend`] without one, opening
    /// a connection through it). Without `check` the server is always
    /// considered up.
    ///
    /// Not to be confused with [`Timeouts::check`], the pool's `timeout
    /// check`: how long one probe may take.
    #[must_use]
    pub fn check(mut self) -> Self {
        self.check = true;
        self
    }

    /// Probes the server with `check` instead of the built-in probes, and
    /// turns checking on.
    #[must_use]
    pub fn health_check(mut self, check: impl HealthCheck + 'static) -> Self {
        self.health_check = Some(Shared(Arc::new(check)));
        self.check = true;
        self
    }

    /// `inter`: time between probes.
    #[must_use]
    pub fn inter(mut self, inter: Duration) -> Self {
        self.inter = inter;
        self
    }

    /// `rise`: consecutive good probes that make a down server up.
    #[must_use]
    pub fn rise(mut self, rise: u32) -> Self {
        self.rise = rise;
        self
    }

    /// `fall`: consecutive failed probes that make an up server down.
    #[must_use]
    pub fn fall(mut self, fall: u32) -> Self {
        self.fall = fall;
        self
    }

    /// `weight` (0 to 256).
    #[must_use]
    pub fn weight(mut self, weight: u32) -> Self {
        self.weight = weight;
        self
    }

    /// `backup`: used only when no normal server is usable.
    #[must_use]
    pub fn backup(mut self) -> Self {
        self.backup = true;
        self
    }

    /// `maxconn`: concurrent connections to the server.
    #[must_use]
    pub fn maxconn(mut self, maxconn: u32) -> Self {
        self.maxconn = Some(maxconn);
        self
    }

    /// `disabled`: start in maintenance.
    #[must_use]
    pub fn disabled(mut self) -> Self {
        self.disabled = true;
        self
    }
}

impl Acl {
    /// `acl NAME CRITERION VALUE...`: true when any value matches.
    pub fn new(
        name: impl Into<String>,
        criterion: Criterion,
        values: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            name: name.into(),
            criterion,
            ignore_case: false,
            values: values.into_iter().map(Into::into).collect(),
            location: super::Location::default(),
        }
    }

    /// `-i`: compare case-insensitively.
    #[must_use]
    pub fn ignore_case(mut self) -> Self {
        self.ignore_case = true;
        self
    }
}

impl Condition {
    /// `if A B ...`: holds when every named ACL matches; a name written
    /// `!name` must not match.
    pub fn all(names: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        Self {
            unless: false,
            any_of: vec![terms(names)],
        }
    }

    /// `... || A B ...`: also holds when every one of these matches.
    #[must_use]
    pub fn or_all(mut self, names: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        self.any_of.push(terms(names));
        self
    }

    /// `unless` instead of `if`: the rule applies when the condition does
    /// not hold.
    #[must_use]
    pub fn unless(mut self) -> Self {
        self.unless = true;
        self
    }
}

fn terms(names: impl IntoIterator<Item = impl AsRef<str>>) -> Vec<AclTerm> {
    names
        .into_iter()
        .map(|name| {
            let name = name.as_ref();
            match name.strip_prefix('!') {
                Some(name) => AclTerm {
                    name: name.to_owned(),
                    negated: true,
                },
                None => AclTerm {
                    name: name.to_owned(),
                    negated: false,
                },
            }
        })
        .collect()
}

impl Timeouts {
    /// No timeouts, as in HAProxy when none is set.
    pub fn new() -> Self {
        Self::default()
    }

    /// `timeout connect`.
    #[must_use]
    pub fn connect(mut self, limit: Duration) -> Self {
        self.connect = Some(limit);
        self
    }

    /// `timeout client`.
    #[must_use]
    pub fn client(mut self, limit: Duration) -> Self {
        self.client = Some(limit);
        self
    }

    /// `timeout server`.
    #[must_use]
    pub fn server(mut self, limit: Duration) -> Self {
        self.server = Some(limit);
        self
    }

    /// `timeout queue`.
    #[must_use]
    pub fn queue(mut self, limit: Duration) -> Self {
        self.queue = Some(limit);
        self
    }

    /// `timeout check`: how long one health probe may take before it
    /// counts as failed (unset: the server's `inter`). Set on a pool, it
    /// applies to the probes of its servers that have checks on.
    ///
    /// It does not turn checks on: [`Server::check`] does.
    #[must_use]
    pub fn check(mut self, limit: Duration) -> Self {
        self.check = Some(limit);
        self
    }

    /// `timeout http-request`.
    #[must_use]
    pub fn http_request(mut self, limit: Duration) -> Self {
        self.http_request = Some(limit);
        self
    }

    /// `timeout tunnel`.
    #[must_use]
    pub fn tunnel(mut self, limit: Duration) -> Self {
        self.tunnel = Some(limit);
        self
    }
}
