//! The chapter's load-balancer lab, with the real `ha-lb` binary started from
//! the chapter's haproxy.cfg (only addresses rewritten to loopback ports):
//! requests alternate, a killed server is taken out without client errors,
//! and it comes back after `rise x inter`.

#[path = "../../ha-lb/tests/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::{Web, free_port, get, wait_listening};

const CHAPTER_CONFIG: &str = include_str!("../../ha-lb/tests/fixtures/chapter.cfg");

/// The running binary; its stderr lines arrive on a channel with the time
/// they were read.
struct HaLb {
    child: Child,
    lines: mpsc::Receiver<(Instant, String)>,
}

impl HaLb {
    fn start(config: &str) -> Self {
        Self::start_with(Command::new(env!("CARGO_BIN_EXE_ha-lb")), config)
    }

    /// Starts ha-lb through `command` (the binary, or a wrapper such as
    /// `prlimit` with the binary as its first argument).
    fn start_with(mut command: Command, config: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("ha-lb-lab-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("haproxy.cfg");
        std::fs::write(&path, config).unwrap();
        let mut child = command
            .arg("-f")
            .arg(&path)
            .arg("-db")
            .env("RUST_LOG", "info")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("ha-lb: {line}");
                if tx.send((Instant::now(), line)).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// Waits for a line containing `text`; returns when it was read.
    fn wait_for(&self, text: &str, limit: Duration) -> Instant {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((at, line)) if line.contains(text) => return at,
                Ok(_) => {}
                Err(_) => panic!("no line containing {text:?} within {limit:?}"),
            }
        }
    }
}

impl Drop for HaLb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn user_exists(name: &str) -> bool {
    std::fs::read_to_string("/etc/passwd")
        .map(|p| p.lines().any(|l| l.starts_with(&format!("{name}:"))))
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chapter_lab_alternates_survives_a_kill_and_recovers() {
    // The chapter's config switches to user haproxy; as root that user must
    // exist (the haproxy package creates it), as it must for HAProxy.
    if nix::unistd::Uid::effective().is_root()
        && !user_exists("haproxy")
        && support::skip("user 'haproxy' does not exist (apt-get install haproxy)")
    {
        return;
    }
    let mut web1 = Web::start("Welcome to Web1").await;
    let web2 = Web::start("Welcome to Web2").await;
    let port = free_port();
    let config = CHAPTER_CONFIG
        .replace("bind *:80", &format!("bind 127.0.0.1:{port}"))
        .replace("192.168.122.101:80", &web1.addr.to_string())
        .replace("192.168.122.102:80", &web2.addr.to_string());
    let lb = HaLb::start(&config);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    wait_listening(addr).await;

    // 1. Four requests alternate.
    let bodies = support::bodies(addr, 4).await;
    assert_eq!(
        bodies,
        [
            "Welcome to Web1",
            "Welcome to Web2",
            "Welcome to Web1",
            "Welcome to Web2"
        ]
    );

    // 2. A client requests continuously (one at a time, keep-alive) while
    //    web1 is killed.
    //    When a connection closes the client opens another, as a browser does.
    let client = tokio::spawn(async move {
        let (mut ok, mut failed) = (0u32, 0u32);
        let until = Instant::now() + Duration::from_secs(8);
        let mut sender = None;
        while Instant::now() < until {
            if sender
                .as_ref()
                .is_none_or(|s: &hyper::client::conn::http1::SendRequest<_>| s.is_closed())
            {
                let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
                let (s, conn) =
                    hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                        .await
                        .unwrap();
                tokio::spawn(conn);
                sender = Some(s);
            }
            match support::request(sender.as_mut().unwrap(), addr).await {
                Ok((200, _)) => ok += 1,
                _ => failed += 1,
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        (ok, failed)
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    web1.kill().await;
    let killed = Instant::now();
    let down = lb.wait_for("Server web_servers/web1 is DOWN", Duration::from_secs(10));
    let detection = down.duration_since(killed);
    let (ok, failed) = client.await.unwrap();
    eprintln!("detection {detection:?}, {ok} requests ok, {failed} failed");
    // fall 3 x inter 2 s; the first probe after the kill comes within one inter.
    assert!(detection <= Duration::from_millis(6500), "{detection:?}");
    // One request at a time: at most the one in flight on web1 may fail.
    assert!(failed <= 1, "{failed} failed requests");
    assert!(ok > 100, "{ok}");
    for _ in 0..4 {
        assert_eq!(get(addr).await.unwrap().1, "Welcome to Web2");
    }

    // 3. web1 comes back after rise 2 x inter 2 s.
    web1.restart().await;
    let restarted = Instant::now();
    let up = lb.wait_for("Server web_servers/web1 is UP", Duration::from_secs(10));
    let recovery = up.duration_since(restarted);
    eprintln!("recovery {recovery:?}");
    assert!(recovery <= Duration::from_millis(6500), "{recovery:?}");
    let bodies = support::bodies(addr, 4).await;
    assert!(bodies.contains(&"Welcome to Web1".to_owned()), "{bodies:?}");
    assert!(bodies.contains(&"Welcome to Web2".to_owned()), "{bodies:?}");
}

#[test]
fn check_mode_accepts_the_chapter_config_and_rejects_a_broken_one() {
    let dir = std::env::temp_dir().join(format!("ha-lb-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.cfg");
    std::fs::write(&good, CHAPTER_CONFIG).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ha-lb"))
        .args(["-c", "-f"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("Configuration file is valid"));

    let bad = dir.join("bad.cfg");
    std::fs::write(
        &bad,
        CHAPTER_CONFIG.replace("balance roundrobin", "balance sometimes"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ha-lb"))
        .args(["-c", "-f"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.cfg:21"), "{stderr}");

    // -c checks what start-up would: a server name that does not resolve.
    let unresolvable = dir.join("unresolvable.cfg");
    std::fs::write(
        &unresolvable,
        CHAPTER_CONFIG.replace("192.168.122.102:80", "web2.invalid:80"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ha-lb"))
        .args(["-c", "-f"])
        .arg(&unresolvable)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unresolvable.cfg:23") && stderr.contains("web2.invalid"),
        "{stderr}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_ha-lb")).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage"));
}

#[test]
fn check_mode_refuses_what_would_not_listen_and_says_what_is_twice_bound() {
    let dir = std::env::temp_dir().join(format!("ha-lb-check-empty-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("conf.d")).unwrap();
    let check = |path: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_ha-lb"))
            .args(["-c", "-f"])
            .arg(path)
            .output()
            .unwrap()
    };
    // As haproxy -c: no error, but nothing would listen.
    let empty = dir.join("empty.cfg");
    std::fs::write(&empty, "").unwrap();
    let out = check(&empty);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(
            "Configuration file has no error but will not start (no listener) => exit(2)."
        ),
        "{out:?}"
    );
    // A directory without a *.cfg file loads nothing.
    let out = check(&dir.join("conf.d"));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no *.cfg file"),
        "{out:?}"
    );
    // Start-up refuses it too.
    let out = Command::new(env!("CARGO_BIN_EXE_ha-lb"))
        .args(["-db", "-f"])
        .arg(&empty)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("No enabled listener"));

    let twice = dir.join("twice.cfg");
    std::fs::write(
        &twice,
        CHAPTER_CONFIG.to_owned() + "\nlisten again\n  bind *:80\n  server s 127.0.0.1:8080\n",
    )
    .unwrap();
    let out = check(&twice);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("[WARNING]") && stderr.contains("bound twice"),
        "{stderr}"
    );
    let line = CHAPTER_CONFIG.lines().count() + 3;
    assert!(stderr.contains(&format!("twice.cfg:{line}")), "{stderr}");

    let weight = dir.join("weight.cfg");
    std::fs::write(
        &weight,
        CHAPTER_CONFIG.replace("192.168.122.102:80", "192.168.122.102:80 weight 257"),
    )
    .unwrap();
    let out = check(&weight);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("weight.cfg:23") && stderr.contains("0 to 256"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn help_and_version_print_on_stdout_and_succeed() {
    for flag in ["-h", "--help"] {
        let out = Command::new(env!("CARGO_BIN_EXE_ha-lb"))
            .arg(flag)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).starts_with("usage: ha-lb"),
            "{out:?}"
        );
    }
    for flag in ["-v", "-vv", "--version"] {
        let out = Command::new(env!("CARGO_BIN_EXE_ha-lb"))
            .arg(flag)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).starts_with("ha-lb version "),
            "{out:?}"
        );
    }
}

#[tokio::test]
async fn daemon_mode_detaches_writes_its_pid_and_stops_on_sigterm() {
    let web = Web::start("Welcome to Web1").await;
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("ha-lb-daemon-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("lb.cfg");
    let pidfile = dir.join("lb.pid");
    let _ = std::fs::remove_file(&pidfile);
    std::fs::write(
        &cfg,
        format!(
            "global\n  daemon\ndefaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
             frontend web\n  bind 127.0.0.1:{port}\n  default_backend webs\nbackend webs\n  server web1 {}\n",
            web.addr
        ),
    )
    .unwrap();
    // The parent returns at once; the daemon keeps running.
    // A relative pid file is relative to where ha-lb was started, although
    // the daemon itself moves to `/`.
    let status = Command::new(env!("CARGO_BIN_EXE_ha-lb"))
        .current_dir(&dir)
        .arg("-f")
        .arg(&cfg)
        .arg("-p")
        .arg("lb.pid")
        .status()
        .unwrap();
    assert!(status.success());
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    wait_listening(addr).await;
    assert_eq!(get(addr).await.unwrap().1, "Welcome to Web1");
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let pid = nix::unistd::Pid::from_raw(pid);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    // Gone, or a zombie waiting for a reaper that containers may lack.
    let stopped = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
            stat.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
    };
    for _ in 0..200 {
        if stopped() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the daemon did not stop on SIGTERM");
}

#[test]
fn without_maxconn_the_limit_comes_from_the_open_file_limit_as_haproxy_computes_it() {
    if !have_prlimit() {
        return;
    }
    // One listener, no checked server: (400 - 1 - 16 reserved) / 2. The
    // hard limit is 400 too, so raising the soft limit to it changes
    // nothing.
    let mut command = Command::new("prlimit");
    command.args(["--nofile=400:400", "--", env!("CARGO_BIN_EXE_ha-lb")]);
    let config = "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
                  listen l\n    bind 127.0.0.1:0\n    server s 127.0.0.1:9\n";
    let lb = HaLb::start_with(command, config);
    lb.wait_for("global maxconn 191", Duration::from_secs(20));
}

/// Whether util-linux's `prlimit` is here (Debian always has util-linux).
fn have_prlimit() -> bool {
    let found = Command::new("prlimit").arg("--version").output().is_ok();
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "prlimit is missing under CI"
        );
        eprintln!("skipped: prlimit (util-linux) is not installed");
    }
    found
}
