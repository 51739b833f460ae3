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
//!   bind options other than TLS...), and an address bound by two
//!   frontends (HAProxy starts, and the kernel splits the connections): a
//!   [`Warning`] with `file:line`, and parsing goes on;
//! - invalid values (bad numbers or durations, missing arguments, unknown
//!   algorithms, a server weight above 256, duplicate names, references to
//!   backends or ACLs that do not exist, a frontend using a backend of the
//!   other mode...): [`Error::Config`] naming the file and line and what was
//!   expected (a tcp frontend may use an http backend in HAProxy, which
//!   upgrades the connections to HTTP; ha-lb does not, so refuses it);
//! - features that would change what happens to traffic and that ha-lb does
//!   not have (TLS, cookies, stick tables, `http-request` rules, the
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
//! let server = &imported.config.pool("webs").unwrap().servers[0];
//! assert_eq!(server.address, ServerAddress::Socket("192.168.122.101:80".parse().unwrap()));
//! // No timeouts set: HAProxy warns, and so does ha-lb.
//! assert!(imported.warnings[0].to_string().starts_with("haproxy.cfg:1: missing timeouts"));
//! # Ok::<(), ha_lb::Error>(())
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ha_core::StatusMatch;

mod acl;
mod address;
mod check;
mod global;
mod lexer;
mod log;
mod proxy;
mod section;
mod server;

use self::global::global_line;
use self::lexer::{Ctx, check_name, split_words};
use self::proxy::proxy_line;
use self::section::{Defaults, Kind, Proxy};
use super::{Balance, Config, Criterion, Frontend, HttpCheck, Location, Mode, Pool};
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
        return Err(Error::NoConfigFile);
    }
    let mut importer = Importer::new();
    for path in paths {
        for file in config_files(path)? {
            let text = ha_core::config_text::read(&file).map_err(|e| match e {
                ha_core::Error::ReadConfig { path, source } => Error::ReadConfig { path, source },
                ha_core::Error::NotUtf8(location) => Error::Config {
                    location,
                    message: "this line is not valid UTF-8".into(),
                },
                other => Error::Core(other),
            })?;
            importer.feed(&text, &file)?;
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
    if files.is_empty() {
        // HAProxy refuses it too (it prints its usage): nothing would load.
        return Err(read_error(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "the directory holds no *.cfg file",
        )));
    }
    files.sort();
    Ok(files)
}

/// The section being read.
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
            self.config.pools.push(be.be);
        }
        if let Some(mut fe) = proxy.fe {
            if proxy.kind == Kind::Listen && !fe.default_backend_here {
                fe.fe.default_pool = Some(proxy.name.clone());
                fe.default_backend_at = None;
            }
            if fe.fe.binds.is_empty() {
                self.warnings.push(at(format!(
                    "{describe} has no 'bind' line, so it does not listen; declare it as a backend if that was intended"
                )));
            }
            if fe.fe.default_pool.is_none() && fe.fe.use_pools.is_empty() {
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
        let backends: HashMap<&str, &Pool> = self
            .config
            .pools
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
            if fe.mode == Mode::Tcp && backend.mode == Mode::Http {
                // HAProxy accepts it and upgrades the connections to HTTP;
                // ha-lb would forward bytes and skip the backend's HTTP
                // settings (its rules among them) without a word.
                return Err(Error::Config {
                    location: location.clone(),
                    message: format!(
                        "frontend '{}' is in tcp mode and cannot use backend '{name}' (declared at {}), which is in http mode: HAProxy would upgrade its connections to HTTP, which ha-lb does not; set 'mode http' in the frontend or 'mode tcp' in the backend",
                        fe.name, backend.location
                    ),
                });
            }
            Ok(())
        };
        // HAProxy binds both (SO_REUSEPORT) and the kernel then splits the
        // connections between the two frontends: almost surely a mistake.
        let mut bound: HashMap<std::net::SocketAddr, (&str, &Location)> = HashMap::new();
        for fe in &self.config.frontends {
            for bind in &fe.binds {
                if let Some((first, at)) = bound.insert(bind.addr, (&fe.name, &bind.location)) {
                    self.warnings.push(Warning {
                        location: bind.location.clone(),
                        message: format!(
                            "{} is bound twice: by '{}' here and by '{first}' at {at}; the kernel splits connections between them",
                            bind.addr, fe.name
                        ),
                    });
                    bound.insert(bind.addr, (first, at));
                }
            }
        }
        for (fe, at) in self.config.frontends.iter().zip(&self.default_backend_at) {
            if let (Some(name), Some(location)) = (&fe.default_pool, at) {
                check(fe, name, location)?;
            }
            for rule in &fe.use_pools {
                check(fe, &rule.pool, &rule.location)?;
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

#[cfg(test)]
mod test_support {
    use super::*;

    pub(super) fn words(line: &str) -> Vec<String> {
        split_words(line).unwrap()
    }

    pub(super) fn ctx() -> Ctx<'static> {
        Ctx {
            file: Path::new("t.cfg"),
            line: 7,
        }
    }

    pub(super) fn parse(text: &str) -> Result<Imported> {
        parse_str(text, Path::new("t.cfg"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use test_support::*;

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
        let be = &imported.config.pools[0];
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
        let be = &imported.config.pools[0];
        assert_eq!((fe.name.as_str(), be.name.as_str()), ("app", "app"));
        assert_eq!(fe.default_pool.as_deref(), Some("app"));
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
        let connect = |n| imported.config.pool(n).unwrap().timeouts.connect;
        assert_eq!(connect("a"), Some(Duration::from_secs(9)));
        assert_eq!(connect("b"), Some(Duration::from_secs(1)));
    }

    #[test]
    fn a_tcp_frontend_cannot_use_an_http_backend() {
        let cfg =
            "frontend f\n mode tcp\n bind :80\n\n default_backend web\nbackend web\n mode http\n";
        let e = parse(cfg).unwrap_err();
        assert!(
            matches!(e, Error::Config { ref location, ref message } if location.line == 5
                && message.contains("tcp mode") && message.contains("t.cfg:6")),
            "{e}"
        );
        parse(&cfg.replace(" mode http\n", " mode tcp\n")).unwrap();
    }

    #[test]
    fn a_bind_address_used_twice_warns_at_the_second_bind() {
        let cfg = "frontend a\n bind 127.0.0.1:80\n default_backend b\nfrontend c\n bind :81\n bind 127.0.0.1:80\n default_backend b\nbackend b\n";
        let imported = parse(cfg).unwrap();
        let twice: Vec<_> = imported
            .warnings
            .iter()
            .filter(|w| w.message.contains("bound twice"))
            .collect();
        assert_eq!(twice.len(), 1);
        assert_eq!(twice[0].location.line, 6);
        assert!(
            twice[0].message.contains("'a' at t.cfg:2"),
            "{}",
            twice[0].message
        );
    }

    #[test]
    fn a_directory_without_cfg_files_is_refused() {
        let dir = std::env::temp_dir().join(format!("ha-lb-empty-dir-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("notes.txt"), "frontend x\n").unwrap();
        let e = load(std::slice::from_ref(&dir)).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            matches!(e, Error::ReadConfig { ref path, .. } if *path == dir),
            "{e}"
        );
        assert!(e.to_string().contains("no *.cfg file"), "{e}");
    }

    #[test]
    fn frontend_and_backend_may_share_a_name() {
        let cfg = "frontend web\n bind :80\n default_backend web\nbackend web\n";
        let imported = parse(cfg).unwrap();
        assert_eq!(
            imported.config.frontends[0].default_pool.as_deref(),
            Some("web")
        );
        let e = parse("frontend web\nlisten web\n").unwrap_err();
        assert!(matches!(e, Error::Config { ref location, .. } if location.line == 2));
    }

    #[test]
    fn timeouts_zero_means_none_and_old_keywords_warn() {
        let cfg = "backend b\n timeout connect 0\n srvtimeout 30s\n";
        let imported = parse(cfg).unwrap();
        let t = imported.config.pools[0].timeouts;
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
