//! `ha-lb`: the load balancer daemon, reading haproxy.cfg.
//!
//! ```text
//! ha-lb -f /etc/haproxy/haproxy.cfg [-f more.cfg ...] [-c] [-d | -db] [-D] [-p PIDFILE]
//! ```
//! `-c` checks the configuration and exits 0 (valid), 1 (invalid) or 2
//! (valid but nothing listens), like `haproxy -c`. `-h`/`--help` prints the
//! usage, `-v`/`-vv`/`--version` the version.
//! `-d` runs in the foreground with debug logs on standard error, `-db` in
//! the foreground (ignoring `daemon`), `-D` in the background. SIGTERM,
//! SIGINT and SIGUSR1 stop gracefully: no new connections, requests in
//! flight finish (up to 30 s); a second signal stops at once. (HAProxy
//! treats SIGTERM as an immediate stop; ha-lb keeps connections safe.)

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use ha_examples::logging::{Syslog, facility};
use ha_examples::privileges::{self, Outcome};
use ha_lb::LoadBalancer;
use ha_lb::config::{Config, LogTarget, SyslogAddress, haproxy};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer as _};

const GRACE: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
struct Args {
    files: Vec<PathBuf>,
    check_only: bool,
    help: bool,
    version: bool,
    debug: bool,
    foreground: bool,
    background: bool,
    pidfile: Option<PathBuf>,
}

const USAGE: &str = "usage: ha-lb -f CONFIG [-f CONFIG ...] [-c] [-d | -db] [-D] [-p PIDFILE]
  -f FILE  configuration file (haproxy.cfg syntax) or directory of *.cfg; may be repeated
  -c       check the configuration and exit (0 valid, 1 invalid, 2 nothing listens)
  -d       foreground, debug logs on stderr
  -db      foreground (ignore 'daemon')
  -D       run in the background (as 'daemon' does)
  -p FILE  write the process id to FILE once running
  -v       print the version and exit (also -vv, --version)
  -h       print this help and exit (also --help)";

fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args::default();
    while let Some(arg) = argv.next() {
        match arg.as_str() {
            "-f" => match argv.next() {
                Some(file) => args.files.push(file.into()),
                None => return Err("-f needs a file name".into()),
            },
            "-c" => args.check_only = true,
            "-d" => {
                args.debug = true;
                args.foreground = true;
            }
            "-db" => args.foreground = true,
            "-D" => args.background = true,
            "-p" => match argv.next() {
                Some(file) => args.pidfile = Some(file.into()),
                None => return Err("-p needs a file name".into()),
            },
            "-h" | "--help" => args.help = true,
            "-v" | "-vv" | "--version" => args.version = true,
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    if args.files.is_empty() && !args.help && !args.version {
        return Err("no configuration file given (-f)".into());
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("ha-lb: {message}");
            eprintln!("{USAGE}");
            return ExitCode::from(1);
        }
    };
    if args.help {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    if args.version {
        println!("ha-lb version {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let imported = match haproxy::load(&args.files) {
        Ok(imported) => imported,
        Err(e) => {
            eprintln!("[ALERT] config : {e}");
            eprintln!("[ALERT] config : Fatal errors found in configuration.");
            return ExitCode::from(1);
        }
    };
    for warning in &imported.warnings {
        eprintln!("[WARNING] config : {warning}");
    }
    let config = imported.config;
    let listens = config.frontends.iter().any(|f| !f.binds.is_empty());
    if args.check_only {
        // Everything start-up would check, short of binding.
        if let Err(e) = LoadBalancer::check(&config) {
            eprintln!("[ALERT] config : {e}");
            eprintln!("[ALERT] config : Fatal errors found in configuration.");
            return ExitCode::from(1);
        }
        if !listens {
            // HAProxy's words and status for a configuration without a bind.
            println!(
                "Configuration file has no error but will not start (no listener) => exit(2)."
            );
            return ExitCode::from(2);
        }
        println!("Configuration file is valid");
        return ExitCode::SUCCESS;
    }
    if !listens {
        eprintln!("[ALERT] No enabled listener found (check for 'bind' directives) ! Exiting.");
        return ExitCode::from(1);
    }
    match run(config, &args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("[ALERT] {message}");
            ExitCode::from(1)
        }
    }
}

fn run(config: Config, args: &Args) -> Result<(), String> {
    let daemonize = (config.global.daemon || args.background) && !args.foreground;
    init_logging(&config, args, daemonize)?;
    let nbthread = config.global.nbthread;
    let (user, group) = (config.global.user.clone(), config.global.group.clone());
    // As HAProxy: use every descriptor the hard limit allows; the
    // automatic global maxconn is computed from the result.
    if let Err(e) = ha_lb::maxconn::raise_fd_limit() {
        tracing::warn!("cannot raise the open file limit: {e}");
    }
    // Bind first: privileged ports need root, which is dropped next.
    let lb = LoadBalancer::bind(config).map_err(|e| e.to_string())?;
    for (frontend, addr) in lb.local_addrs() {
        tracing::info!("frontend '{frontend}' listening on {addr}");
    }
    tracing::info!("global maxconn {}", lb.maxconn());
    // Created while still root and before `daemon()` moves to `/`, as
    // HAProxy does; written once the final process id is known.
    let mut pidfile = match &args.pidfile {
        Some(path) => Some(
            std::fs::File::create(path)
                .map_err(|e| format!("cannot create pid file {}: {e}", path.display()))?,
        ),
        None => None,
    };
    match privileges::drop_to(user.as_deref(), group.as_deref())? {
        Outcome::NotRoot => tracing::warn!(
            "'user'/'group' in global ignored: not running as root, staying uid {}",
            nix::unistd::Uid::effective()
        ),
        Outcome::Switched | Outcome::NothingAsked => {}
    }
    if daemonize {
        // Before any runtime thread exists: fork only copies the caller.
        nix::unistd::daemon(false, false).map_err(|e| format!("cannot daemonize: {e}"))?;
    }
    if let Some(file) = &mut pidfile {
        use std::io::Write as _;
        writeln!(file, "{}", std::process::id())
            .map_err(|e| format!("cannot write pid file: {e}"))?;
    }
    let runtime = match nbthread {
        Some(1) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        Some(n) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n as usize)
            .enable_all()
            .build(),
        None => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    }
    .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async move {
        let running = lb.start().await.map_err(|e| e.to_string())?;
        let mut signals = Signals::new().map_err(|e| e.to_string())?;
        signals.next().await;
        tracing::warn!(
            "stopping: no new connections, {GRACE:?} for those in flight (signal again to stop now)"
        );
        tokio::select! {
            _ = running.shutdown(GRACE) => {}
            () = signals.next() => tracing::warn!("stopping now"),
        }
        Ok(())
    })
}

fn init_logging(config: &Config, args: &Args, daemonize: bool) -> Result<(), String> {
    let default = if args.debug { "debug" } else { "info" };
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let mut layers: Vec<Box<dyn tracing_subscriber::Layer<_> + Send + Sync>> = Vec::new();
    for target in &config.global.log {
        match target {
            LogTarget::Syslog {
                address,
                facility: name,
                ..
            } => {
                let facility =
                    facility(name).ok_or_else(|| format!("unknown syslog facility '{name}'"))?;
                let syslog = match address {
                    SyslogAddress::Unix(path) => Syslog::unix(path, facility, "ha-lb"),
                    SyslogAddress::Udp(addr) => Syslog::udp(*addr, facility, "ha-lb"),
                };
                match syslog {
                    Ok(syslog) => layers.push(Box::new(
                        tracing_subscriber::fmt::layer()
                            .without_time()
                            .with_ansi(false)
                            .with_target(false)
                            .with_writer(syslog)
                            .with_filter(filter()),
                    )),
                    // HAProxy also starts when the syslog socket is missing.
                    Err(e) => eprintln!(
                        "[WARNING] cannot open syslog {address:?}: {e}; those logs are dropped"
                    ),
                }
            }
            LogTarget::Stdout => layers.push(Box::new(
                tracing_subscriber::fmt::layer()
                    .with_ansi(std::io::stdout().is_terminal())
                    .with_writer(std::io::stdout)
                    .with_filter(filter()),
            )),
            LogTarget::Stderr => layers.push(Box::new(
                tracing_subscriber::fmt::layer()
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_writer(std::io::stderr)
                    .with_filter(filter()),
            )),
        }
    }
    let has_stderr = config.global.log.contains(&LogTarget::Stderr);
    if !daemonize && !has_stderr {
        layers.push(Box::new(
            tracing_subscriber::fmt::layer()
                .with_ansi(std::io::stderr().is_terminal())
                .with_writer(std::io::stderr)
                .with_filter(filter()),
        ));
    }
    tracing_subscriber::registry()
        .with(layers)
        .try_init()
        .map_err(|e| e.to_string())
}

/// The signals that stop ha-lb: SIGTERM, SIGINT and SIGUSR1 (HAProxy's soft
/// stop) all stop gracefully; a second one stops at once. SIGHUP and SIGUSR2
/// (HAProxy's reload) are logged and ignored: reloading is not supported
/// yet, and their default action would kill the process.
struct Signals {
    term: Signal,
    int: Signal,
    usr1: Signal,
    hup: Signal,
    usr2: Signal,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            usr1: signal(SignalKind::user_defined1())?,
            hup: signal(SignalKind::hangup())?,
            usr2: signal(SignalKind::user_defined2())?,
        })
    }

    /// Waits for a stopping signal.
    async fn next(&mut self) {
        loop {
            tokio::select! {
                _ = self.term.recv() => return,
                _ = self.int.recv() => return,
                _ = self.usr1.recv() => return,
                _ = self.hup.recv() => tracing::warn!("SIGHUP ignored: reloading is not supported yet"),
                _ = self.usr2.recv() => tracing::warn!("SIGUSR2 ignored: reloading is not supported yet"),
            }
        }
    }
}
