//! What the adversarial suite shares: a daemon under attack (ha-target,
//! or tgtd to compare with), what an attack did to it (resident memory
//! before, at its peak and after, whether it still runs and serves), and
//! a normal client's round trip.
#![allow(dead_code)]

pub mod proc;
pub mod raw;
#[path = "../../../ha-iscsi/tests/support/tgtd.rs"]
pub mod tgtd;

use std::any::Any;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ha_iscsi::initiator::Lun;
use ha_iscsi::{InitiatorConfig, InitiatorSession};

/// ha-target's target name.
pub const IQN: &str = "iqn.2025-09.com.example:storage";
/// tgtd's target name.
pub const TGT_IQN: &str = "iqn.2025-09.com.example:tgt";
/// The normal client's name.
pub const CLIENT: &str = "iqn.2025-09.com.example:client";
/// The LUN's size: room for a 64 MiB write.
pub const LUN_BYTES: u64 = 128 << 20;

/// How long anything the suite waits for may take on a busy machine.
pub const PATIENCE: Duration = Duration::from_secs(30);

enum Process {
    Child(Child),
    Tgtd(tgtd::Tgtd),
}

/// A target under attack, stopped (and its files removed) on drop.
pub struct Daemon {
    /// `ha-target` or `tgtd`.
    pub name: &'static str,
    pub addr: SocketAddr,
    pub iqn: &'static str,
    /// The LUN the normal client uses.
    pub lun: u64,
    pub pid: u32,
    process: Process,
    dir: PathBuf,
    /// Whether the scratch directory goes with the daemon.
    owns_dir: bool,
    /// tgtd's control port number.
    control: u32,
}

/// A scratch directory for one test.
pub fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ha-attack-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A loopback port nobody uses, held until the daemon is started.
pub fn hold_port() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").unwrap()
}

impl Daemon {
    /// ha-target on a fresh scratch directory and port.
    pub fn ha_target(test: &str) -> Self {
        let dir = scratch(test);
        let mut daemon = Self::ha_target_in(&dir, hold_port(), None);
        daemon.owns_dir = true;
        daemon
    }

    /// ha-target serving a 128 MiB file LUN in `dir` on the port `held`
    /// (released just before the start), with persistent reservations
    /// in `state_dir` if given; its stderr goes to `dir/stderr.log`,
    /// and `dir` stays when it stops (to start it again). HA_TARGET=PATH
    /// runs that build instead of this one's.
    pub fn ha_target_in(dir: &Path, held: TcpListener, state_dir: Option<&Path>) -> Self {
        let addr = held.local_addr().unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("stderr.log"))
            .unwrap();
        let binary = std::env::var_os("HA_TARGET")
            .map_or_else(|| env!("CARGO_BIN_EXE_ha-target").into(), PathBuf::from);
        let mut command = Command::new(binary);
        command
            .args(["--iqn", IQN, "--portal", &addr.to_string(), "--lun"])
            .arg(format!(
                "disk1={}:{LUN_BYTES}",
                dir.join("disk1.img").display()
            ))
            .stdout(Stdio::null())
            .stderr(log);
        if let Some(state) = state_dir {
            command.arg("--state-dir").arg(state);
        }
        drop(held);
        let mut child = command.spawn().unwrap();
        let listening = proc::wait_until(PATIENCE, || {
            std::net::TcpStream::connect(addr).is_ok() || child.try_wait().unwrap().is_some()
        });
        assert!(
            listening && child.try_wait().unwrap().is_none(),
            "ha-target did not start: {}",
            std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default()
        );
        Self {
            name: "ha-target",
            addr,
            iqn: IQN,
            lun: 0,
            pid: child.id(),
            process: Process::Child(child),
            dir: dir.to_owned(),
            owns_dir: false,
            control: 0,
        }
    }

    /// tgtd with a 128 MiB file LUN (LUN 1), controlled through
    /// `control` (each test its own number).
    pub fn tgtd(control: u32) -> Self {
        let (guard, addr) = tgtd::tgtd(TGT_IQN, LUN_BYTES / 512, control);
        let pid = proc::listener_pid(addr.port()).expect("tgtd's pid");
        Self {
            name: "tgtd",
            addr,
            iqn: TGT_IQN,
            lun: 1,
            pid,
            process: Process::Tgtd(guard),
            dir: PathBuf::new(),
            owns_dir: false,
            control,
        }
    }

    /// Sets tgtd's target parameter `name` (as `tgtadm --op update`).
    pub fn set_tgtd_param(&self, name: &str, value: &str) {
        let Process::Tgtd(_) = &self.process else {
            panic!("a tgtd parameter for {}", self.name);
        };
        let out = Command::new("tgtadm")
            .args(["-C", &self.control.to_string(), "--lld", "iscsi"])
            .args(["--op", "update", "--mode", "target", "--tid", "1"])
            .args(["--name", name, "--value", value])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tgtadm: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The LUN field of the normal client's LUN, as a PDU carries it.
    pub fn lun_field(&self) -> u64 {
        ha_iscsi::initiator::lun_field(self.lun)
    }

    /// Whether the process still runs.
    pub fn alive(&mut self) -> bool {
        match &mut self.process {
            Process::Child(child) => child.try_wait().unwrap().is_none(),
            Process::Tgtd(_) => proc::running(self.pid),
        }
    }

    /// ha-target's stderr so far (empty for tgtd).
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default()
    }

    /// Stops ha-target with SIGTERM and waits for it to exit; its exit
    /// status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let Process::Child(child) = &mut self.process else {
            panic!("only ha-target is stopped and started again");
        };
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let mut status = None;
        let stopped = proc::wait_until(PATIENCE, || {
            status = child.try_wait().unwrap();
            status.is_some()
        });
        assert!(stopped, "ha-target did not stop on SIGTERM");
        status.unwrap()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Process::Child(child) = &mut self.process {
            let _ = child.kill();
            let _ = child.wait();
            if self.owns_dir && !std::thread::panicking() {
                let _ = std::fs::remove_dir_all(&self.dir);
            }
        }
    }
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// A normal client's round trip: login as `name`, TEST UNIT READY, a
/// 4 KiB write and its read back, logout, all within `limit`.
pub fn round_trip(daemon: &Daemon, name: &str, limit: Duration) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (addr, iqn, lun) = (daemon.addr, daemon.iqn, Lun(daemon.lun));
    runtime.block_on(async {
        let trip = async {
            let config = InitiatorConfig::new(name);
            let mut session = InitiatorSession::login(addr, iqn, &config).await?;
            // A new nexus may first get a UNIT ATTENTION (tgtd's power
            // on): TEST UNIT READY takes it, as initiators do.
            session.test_unit_ready(lun).await?;
            let data = pattern(4096, 7);
            session.write(lun, 64, &data, true).await?;
            let back = session.read(lun, 64, 8).await?;
            session.logout().await?;
            Ok::<_, ha_iscsi::Error>(back == data)
        };
        match tokio::time::timeout(limit, trip).await {
            Ok(Ok(true)) => Ok(()),
            Ok(Ok(false)) => Err("read back other data than written".into()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {limit:?}")),
        }
    })
}

/// What an attack leaves while it goes on.
pub struct Attacked {
    /// Connections the attack keeps open until measured.
    pub held: Box<dyn Any>,
    /// How many connections it holds open (idle or logged in), for
    /// memory per connection.
    pub connections: Option<usize>,
    /// What happened, in a few words.
    pub note: String,
}

/// What one attack did to one daemon. Memory in KiB.
#[derive(Debug, Clone)]
pub struct Measured {
    pub attack: &'static str,
    pub target: &'static str,
    pub before_kib: u64,
    /// The most resident memory while the attack ran.
    pub peak_kib: u64,
    /// Resident memory with the attack's connections still open.
    pub held_kib: u64,
    /// Resident memory once the attack's connections are closed.
    pub after_kib: u64,
    pub alive: bool,
    pub serves: bool,
    /// Memory per connection held open (per session, when each is
    /// logged in).
    pub per_connection_kib: Option<f64>,
    pub panicked: bool,
    pub note: String,
}

impl Measured {
    /// How far the attack took resident memory above where it started.
    pub fn growth_kib(&self) -> u64 {
        self.peak_kib.saturating_sub(self.before_kib)
    }

    /// Holds: alive, serving, no panic.
    pub fn held(&self) -> bool {
        self.alive && self.serves && !self.panicked
    }
}

/// Runs `attack` on `daemon`: a normal round trip first (the daemon
/// must serve before it is attacked, and the first session's one-time
/// allocations are not counted), then the attack while the peak of
/// resident memory is kept, then the attack's connections closed and a
/// normal client again. Prints the result and, with ATTACK_REPORT=FILE,
/// appends it there as a JSON line (bench/attacks.py reads them).
pub fn under_attack(
    daemon: &mut Daemon,
    attack: &'static str,
    run: impl FnOnce(&Daemon) -> Attacked,
) -> Measured {
    round_trip(daemon, CLIENT, PATIENCE)
        .unwrap_or_else(|e| panic!("{} does not serve before the attack: {e}", daemon.name));
    assert!(proc::wait_closed(daemon.port(), PATIENCE));
    let pid = daemon.pid;
    let before_kib = proc::rss_kib(pid);
    proc::reset_peak(pid);
    let attacked = run(daemon);
    let held_kib = proc::rss_kib(pid);
    let peak_kib = proc::peak_kib(pid).max(held_kib);
    drop(attacked.held);
    let closed = proc::wait_closed(daemon.port(), PATIENCE);
    let after_kib = proc::rss_kib(pid);
    let alive = daemon.alive();
    let served = if alive {
        round_trip(daemon, CLIENT, PATIENCE)
    } else {
        Err("not running".into())
    };
    let stderr = daemon.stderr();
    let panicked = stderr.contains("panicked");
    let mut note = attacked.note;
    if !closed {
        note.push_str("; kept connections the attacker closed");
    }
    if let Err(e) = &served {
        note.push_str(&format!("; normal client: {e}"));
    }
    let measured = Measured {
        attack,
        target: daemon.name,
        before_kib,
        peak_kib,
        held_kib,
        after_kib,
        alive,
        serves: served.is_ok(),
        per_connection_kib: attacked
            .connections
            .filter(|n| *n > 0)
            .map(|n| held_kib.saturating_sub(before_kib) as f64 / n as f64),
        panicked,
        note,
    };
    report(&measured);
    if panicked {
        eprintln!("{} stderr:\n{stderr}", daemon.name);
    }
    measured
}

fn report(m: &Measured) {
    eprintln!(
        "{} / {}: RSS {} KiB before, {} peak (+{}), {} held, {} after; alive {}, serves {}{}; {}",
        m.attack,
        m.target,
        m.before_kib,
        m.peak_kib,
        m.growth_kib(),
        m.held_kib,
        m.after_kib,
        m.alive,
        m.serves,
        m.per_connection_kib
            .map(|k| format!(", {k:.1} KiB per connection"))
            .unwrap_or_default(),
        m.note
    );
    let Some(path) = std::env::var_os("ATTACK_REPORT") else {
        return;
    };
    let line = serde_json::json!({
        "attack": m.attack,
        "target": m.target,
        "before_kib": m.before_kib,
        "peak_kib": m.peak_kib,
        "held_kib": m.held_kib,
        "after_kib": m.after_kib,
        "alive": m.alive,
        "serves": m.serves,
        "panicked": m.panicked,
        "per_connection_kib": m.per_connection_kib,
        "note": m.note,
    });
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    writeln!(file, "{line}").unwrap();
}
