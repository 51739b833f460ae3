//! `ha-lab --netns` (root): the chapter's lab with real addresses. Network
//! namespaces `lb`, `web1`, `web2` and `client` on one bridge, with the
//! chapter's addresses (192.168.122.10, .101, .102, .50) on `eth0`; the
//! real `ha-lb` binary runs the chapter's haproxy.cfg in `lb`, real
//! `ha-vrrpd` processes run its keepalived.conf files in `lb` and `web1`
//! (unchanged: the namespaces have the chapter's interface and addresses),
//! and move 192.168.122.200 with gratuitous ARP. The web servers listen on
//! port 80 in `web1` and `web2`, so when web1 holds the VIP its own server
//! answers, as Apache does in the chapter. The drills signal the daemons
//! with real SIGTERM, SIGSTOP and SIGCONT.
//!
//! Every namespace is made here and deleted on drop; the addresses exist
//! only inside them.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::TryStreamExt;
use nix::sys::signal::{Signal as Unix, kill};
use nix::unistd::Pid;
use rtnetlink::packet_route::address::AddressAttribute;
use tokio::runtime::Runtime;

use super::client::{self, Client};
use super::stage::{Daemon, Holder, Stage, Timing};
use super::vrrp::Signal;
use super::web::WebServer;
use super::{HAPROXY_CFG, KEEPALIVED_LB, KEEPALIVED_WEB1};

/// The chapter's addresses.
const VIP: Ipv4Addr = Ipv4Addr::new(192, 168, 122, 200);
const HOSTS: [(&str, Ipv4Addr); 4] = [
    ("lb", Ipv4Addr::new(192, 168, 122, 10)),
    ("web1", Ipv4Addr::new(192, 168, 122, 101)),
    ("web2", Ipv4Addr::new(192, 168, 122, 102)),
    ("client", Ipv4Addr::new(192, 168, 122, 50)),
];

/// What the watchers saw last.
#[derive(Debug, Default)]
struct Seen {
    lb_holds: AtomicBool,
    web1_holds: AtomicBool,
    /// ha-lb's view of its servers, from its log ("Server webs/web1 is DOWN").
    health: Mutex<HashMap<String, bool>>,
    /// Each ha-vrrpd's state, from its log ("(VI_1) Entering MASTER STATE").
    vrrp: Mutex<HashMap<&'static str, String>>,
}

/// The lab in network namespaces.
pub struct NetnsLab {
    prefix: String,
    dir: PathBuf,
    bin: PathBuf,
    runtimes: HashMap<&'static str, Runtime>,
    web1: WebServer,
    web2: WebServer,
    ha_lb: Option<Child>,
    lb_vrrp: Option<Child>,
    web1_vrrp: Option<Child>,
    lb_frozen: bool,
    seen: Arc<Seen>,
    timing: Timing,
}

impl std::fmt::Debug for NetnsLab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetnsLab")
            .field("prefix", &self.prefix)
            .finish()
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A tokio runtime whose threads live in namespace `ns`: sockets its tasks
/// open are that host's.
fn runtime_in(ns: &str) -> Result<Runtime, String> {
    let path = format!("/var/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = File::open(&path).map_err(|e| format!("{path}: {e}"))?;
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(|e| format!("setns {path}: {e}"))?;
        // Worker threads start here and inherit the namespace.
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    })
    .join()
    .map_err(|_| "the namespace thread panicked".to_string())?
}

impl NetnsLab {
    /// The namespace of `host`.
    fn ns(&self, host: &str) -> String {
        format!("{}{host}", self.prefix)
    }

    /// Makes the namespaces and starts the web servers, ha-lb and both
    /// VRRP daemons. `bin` is the directory holding `ha-lb` and `ha-vrrpd`.
    pub async fn start(bin: &Path, timing: Timing) -> Result<Self, String> {
        if !nix::unistd::Uid::effective().is_root() {
            return Err("--netns needs root (network namespaces, raw sockets)".into());
        }
        for tool in ["ha-lb", "ha-vrrpd"] {
            if !bin.join(tool).exists() {
                return Err(format!(
                    "{} is missing: build it first (cargo build --release --bins)",
                    bin.join(tool).display()
                ));
            }
        }
        let prefix = format!("hl{}", std::process::id() % 100_000);
        let dir = std::env::temp_dir().join(format!("ha-lab-{prefix}"));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut lab = Self {
            prefix,
            dir,
            bin: bin.to_path_buf(),
            runtimes: HashMap::new(),
            web1: WebServer::new(
                SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 80),
                "Welcome to Web1",
            ),
            web2: WebServer::new(
                SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 80),
                "Welcome to Web2",
            ),
            ha_lb: None,
            lb_vrrp: None,
            web1_vrrp: None,
            lb_frozen: false,
            seen: Arc::default(),
            timing,
        };
        lab.network()?;
        for (host, _) in HOSTS {
            let ns = lab.ns(host);
            lab.runtimes.insert(host, runtime_in(&ns)?);
        }
        lab.set_web1(true).await?;
        let web2 = std::mem::replace(&mut lab.web2, WebServer::new(lab.web1.addr(), ""));
        lab.web2 = lab
            .on("web2", async move {
                let mut web = web2;
                web.start().await.map(|()| web)
            })
            .await?
            .map_err(|e| format!("web2: {e}"))?;
        lab.watch_vip("lb");
        lab.watch_vip("web1");
        let cfg = lab.write("haproxy.cfg", HAPROXY_CFG)?;
        lab.ha_lb = Some(lab.spawn("lb", "ha-lb", &["-db", "-f", &cfg])?);
        let conf = lab.write("keepalived-web1.conf", KEEPALIVED_WEB1)?;
        lab.web1_vrrp = Some(lab.spawn("web1", "ha-vrrpd", &["-n", "-f", &conf])?);
        lab.start_lb().await?;
        Ok(lab)
    }

    fn network(&self) -> Result<(), String> {
        let switch = self.ns("switch");
        ip(&["netns", "add", &switch])?;
        ip(&["-n", &switch, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &switch, "link", "set", "br0", "up"])?;
        for (i, (host, addr)) in HOSTS.iter().enumerate() {
            let ns = self.ns(host);
            let port = format!("p{i}");
            ip(&["netns", "add", &ns])?;
            ip(&[
                "link", "add", "eth0", "netns", &ns, "type", "veth", "peer", "name", &port,
                "netns", &switch,
            ])?;
            ip(&["-n", &switch, "link", "set", &port, "master", "br0", "up"])?;
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                "eth0",
            ])?;
            ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        Ok(())
    }

    /// Runs `future` on `host`'s runtime.
    async fn on<T: Send + 'static>(
        &self,
        host: &str,
        future: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, String> {
        let runtime = self.runtimes.get(host).ok_or(format!("no host {host}"))?;
        runtime
            .spawn(future)
            .await
            .map_err(|e| format!("{host}: {e}"))
    }

    fn write(&self, name: &str, text: &str) -> Result<String, String> {
        let path = self.dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path.display().to_string())
    }

    /// Starts `tool` in `host`'s namespace, its log read by a watcher.
    fn spawn(&self, host: &'static str, tool: &str, args: &[&str]) -> Result<Child, String> {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.ns(host)])
            .arg(self.bin.join(tool))
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {tool} in {host}: {e}"))?;
        let log =
            File::create(self.dir.join(format!("{host}-{tool}.log"))).map_err(|e| e.to_string())?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let seen = self.seen.clone();
        std::thread::spawn(move || read_log(host, stderr, log, &seen));
        Ok(child)
    }

    /// Polls whether `host` has the VIP on eth0, every 10 ms, over rtnetlink
    /// in its namespace.
    fn watch_vip(&self, host: &'static str) {
        let Some(runtime) = self.runtimes.get(host) else {
            return;
        };
        let seen = self.seen.clone();
        runtime.spawn(async move {
            let Ok((connection, handle, _)) = rtnetlink::new_connection() else {
                return;
            };
            tokio::spawn(connection);
            loop {
                let holds = has_vip(&handle).await;
                let flag = if host == "lb" {
                    &seen.lb_holds
                } else {
                    &seen.web1_holds
                };
                flag.store(holds, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
    }
}

async fn has_vip(handle: &rtnetlink::Handle) -> bool {
    let mut addresses = handle.address().get().execute();
    while let Ok(Some(message)) = addresses.try_next().await {
        if message
            .attributes
            .iter()
            .any(|a| matches!(a, AddressAttribute::Address(ip) if *ip == IpAddr::V4(VIP)))
        {
            return true;
        }
    }
    false
}

/// Copies a daemon's log to a file and notes the lines the lab follows.
fn read_log(host: &'static str, stderr: impl std::io::Read, mut log: File, seen: &Seen) {
    use std::io::Write;
    for line in BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        let _ = writeln!(log, "{line}");
        if let Some(rest) = line.split("Server webs/").nth(1) {
            let mut words = rest.split_whitespace();
            if let (Some(server), Some("is"), Some(state)) =
                (words.next(), words.next(), words.next())
            {
                let up = state.trim_end_matches(['.', ',']) == "UP";
                seen.health
                    .lock()
                    .expect("not poisoned")
                    .insert(server.to_owned(), up);
            }
        }
        if let Some(rest) = line.split("Entering ").nth(1)
            && let Some(state) = rest.split_whitespace().next()
        {
            seen.vrrp
                .lock()
                .expect("not poisoned")
                .insert(host, state.to_owned());
        }
    }
}

fn terminate(child: &mut Child) {
    let pid = Pid::from_raw(child.id() as i32);
    let _ = kill(pid, Unix::SIGCONT);
    let _ = kill(pid, Unix::SIGTERM);
    for _ in 0..200 {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for NetnsLab {
    fn drop(&mut self) {
        for child in [&mut self.lb_vrrp, &mut self.web1_vrrp, &mut self.ha_lb]
            .into_iter()
            .flatten()
        {
            terminate(child);
        }
        for (_, runtime) in self.runtimes.drain() {
            runtime.shutdown_background();
        }
        for host in HOSTS.iter().map(|(h, _)| *h).chain(["switch"]) {
            let _ = ip(&["netns", "del", &self.ns(host)]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[async_trait]
impl Stage for NetnsLab {
    fn vip(&self) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(VIP), 80)
    }

    async fn get(&self) -> Result<String, String> {
        let vip = self.vip();
        self.on("client", client::get(vip)).await?
    }

    fn client(&self, pause: Duration) -> Client {
        let runtime = self.runtimes.get("client").expect("the client's runtime");
        Client::start(runtime.handle(), self.vip(), pause)
    }

    async fn set_web1(&mut self, run: bool) -> Result<(), String> {
        if run {
            if self.web1.is_running() {
                return Ok(());
            }
            let placeholder = WebServer::new(self.vip(), "");
            let web = std::mem::replace(&mut self.web1, placeholder);
            let (web, started) = self
                .on("web1", async move {
                    let mut web = web;
                    let started = web.start().await;
                    (web, started)
                })
                .await?;
            self.web1 = web;
            started.map_err(|e| format!("web1: {e}"))
        } else {
            self.web1.stop().await;
            Ok(())
        }
    }

    fn web1_running(&self) -> bool {
        self.web1.is_running()
    }

    fn web1_serves_vip(&self) -> bool {
        true
    }

    async fn signal_lb(&mut self, signal: Signal) -> Result<(), String> {
        let Some(child) = &mut self.lb_vrrp else {
            return Err("lb's ha-vrrpd is not running".into());
        };
        let pid = Pid::from_raw(child.id() as i32);
        match signal {
            Signal::Term => {
                kill(pid, Unix::SIGTERM).map_err(|e| e.to_string())?;
                let mut child = self.lb_vrrp.take().expect("checked above");
                tokio::task::spawn_blocking(move || child.wait())
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())?;
                self.seen
                    .vrrp
                    .lock()
                    .expect("not poisoned")
                    .insert("lb", "stopped".into());
            }
            Signal::Stop => {
                kill(pid, Unix::SIGSTOP).map_err(|e| e.to_string())?;
                self.lb_frozen = true;
            }
            Signal::Cont => {
                kill(pid, Unix::SIGCONT).map_err(|e| e.to_string())?;
                self.lb_frozen = false;
            }
        }
        Ok(())
    }

    async fn start_lb(&mut self) -> Result<(), String> {
        if let Some(mut old) = self.lb_vrrp.take() {
            terminate(&mut old);
        }
        let conf = self.write("keepalived-lb.conf", KEEPALIVED_LB)?;
        self.lb_vrrp = Some(self.spawn("lb", "ha-vrrpd", &["-n", "-f", &conf])?);
        self.lb_frozen = false;
        Ok(())
    }

    fn lb_daemon(&self) -> Daemon {
        match (&self.lb_vrrp, self.lb_frozen) {
            (None, _) => Daemon::Stopped,
            (Some(_), true) => Daemon::Frozen,
            (Some(_), false) => Daemon::Running,
        }
    }

    fn holder(&self) -> Holder {
        Holder {
            lb: self.seen.lb_holds.load(Ordering::Relaxed),
            web1: self.seen.web1_holds.load(Ordering::Relaxed),
        }
    }

    fn lb_sees_up(&self, server: &str) -> Option<bool> {
        self.ha_lb.as_ref()?;
        // Until its first report a server counts as up (ha-lb's own start).
        Some(
            self.seen
                .health
                .lock()
                .expect("not poisoned")
                .get(server)
                .copied()
                .unwrap_or(true),
        )
    }

    fn timing(&self) -> Timing {
        self.timing
    }

    fn status_line(&self) -> String {
        let vrrp = self.seen.vrrp.lock().expect("not poisoned");
        let state = |host: &str, priority: u8| match vrrp.get(host).map(String::as_str) {
            Some("stopped") | None => "stopped".to_string(),
            Some(state) if host == "lb" && self.lb_frozen => format!("FROZEN ({state}) {priority}"),
            Some(state) => format!("{state} {priority}"),
        };
        let health = self.seen.health.lock().expect("not poisoned");
        let server = |name: &str| {
            let up = health.get(name).copied().unwrap_or(true);
            format!("{name} {}", if up { "UP" } else { "DOWN" })
        };
        format!(
            "lb: {} | web1: {} | VIP on {} | ha-lb on lb: {}, {}",
            state("lb", self.timing.lb_priority),
            state("web1", self.timing.web1_priority),
            self.holder().word(),
            server("web1"),
            server("web2"),
        )
    }
}
