//! The state of a section being read: a proxy's frontend and backend halves,
//! the `defaults` they start from, and the section kinds.

use super::check::CheckDraft;

use super::Warning;
use super::lexer::Ctx;
use crate::config::{
    Balance, Frontend, HashType, Location, Mode, Options, Pool, Server, ServerAddress, Timeouts,
};
use crate::error::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Defaults,
    Frontend,
    Backend,
    Listen,
}

impl Kind {
    pub(super) fn word(self) -> &'static str {
        match self {
            Kind::Defaults => "defaults",
            Kind::Frontend => "frontend",
            Kind::Backend => "backend",
            Kind::Listen => "listen",
        }
    }
}

/// The frontend half of a proxy being read.
#[derive(Debug, Clone)]
pub(super) struct FrontSide {
    pub(super) fe: Frontend,
    /// Where `default_backend` was set (in the section or in defaults).
    pub(super) default_backend_at: Option<Location>,
    /// `default_backend` appears in this very section.
    pub(super) default_backend_here: bool,
}

/// The backend half of a proxy being read.
#[derive(Debug, Clone)]
pub(super) struct BackSide {
    pub(super) be: Pool,
    /// `default-server` settings for the servers that follow.
    pub(super) default_server: Server,
    pub(super) check: CheckDraft,
    /// An `http-check` line appeared in this very section (inherited rules
    /// are then dropped, as HAProxy does).
    pub(super) check_rules_here: bool,
}

/// A `defaults` section's settings, as proxies copy them.
#[derive(Debug, Clone)]
pub(super) struct Defaults {
    pub(super) fe: FrontSide,
    pub(super) be: BackSide,
}

impl Defaults {
    /// HAProxy's built-in settings, in force before any `defaults`.
    pub(super) fn builtin() -> Self {
        let fe = Frontend {
            name: String::new(),
            binds: Vec::new(),
            mode: Mode::Tcp,
            timeouts: Timeouts::default(),
            maxconn: None,
            options: Options::default(),
            acls: Vec::new(),
            use_pools: Vec::new(),
            default_pool: None,
            location: Location::default(),
        };
        let be = Pool {
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
pub(super) struct Proxy {
    pub(super) kind: Kind,
    pub(super) name: String,
    pub(super) location: Location,
    pub(super) fe: Option<FrontSide>,
    pub(super) be: Option<BackSide>,
}

impl Proxy {
    /// "frontend 'web'", "defaults section"...
    pub(super) fn describe(&self) -> String {
        match (self.kind, self.name.is_empty()) {
            (Kind::Defaults, true) => "defaults section".into(),
            (kind, _) => format!("{} '{}'", kind.word(), self.name),
        }
    }

    /// The frontend half, or a warning that `what` is ignored here.
    pub(super) fn front(
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
    pub(super) fn back(
        &mut self,
        what: &str,
        out: &mut Vec<Warning>,
        ctx: &Ctx<'_>,
    ) -> Option<&mut BackSide> {
        if self.be.is_none() {
            out.push(ctx.warning(format!(
                "'{what}' ignored because {} has no backend capability",
                self.describe()
            )));
        }
        self.be.as_mut()
    }

    /// Refuses `what` in a `defaults` section.
    pub(super) fn not_in_defaults(&self, what: &str, hint: &str, ctx: &Ctx<'_>) -> Result<()> {
        if self.kind == Kind::Defaults {
            return Err(ctx.error(format!(
                "'{what}' is not allowed in a defaults section{hint}"
            )));
        }
        Ok(())
    }
}
