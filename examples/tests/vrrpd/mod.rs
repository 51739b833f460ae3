//! `ha-vrrpd` run by the examples' tests in a namespace they made.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// ha-vrrpd running a configuration in a namespace; killed on drop.
pub struct Daemon {
    child: Child,
    conf: PathBuf,
}

/// A directory of the test's own under the build's scratch directory.
pub fn scratch(tag: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("ha-vrrpd-{tag}"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Daemon {
    /// Writes `config` and runs `ha-vrrpd -n -f` on it in `ns`.
    pub fn start(ns: &str, config: &str) -> Self {
        let conf = scratch(ns).join("keepalived.conf");
        std::fs::write(&conf, config).unwrap();
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                ns,
                env!("CARGO_BIN_EXE_ha-vrrpd"),
                "-n",
                "-f",
            ])
            .arg(&conf)
            .spawn()
            .unwrap();
        Self { child, conf }
    }

    /// Sends `signal`.
    pub fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), signal).unwrap();
    }

    /// SIGTERM, then waits for the daemon to exit.
    pub fn stop(mut self) {
        self.signal(Signal::SIGTERM);
        let _ = self.child.wait();
    }

    /// Rewrites the configuration and sends SIGHUP.
    pub fn reload(&self, config: &str) {
        std::fs::write(&self.conf, config).unwrap();
        self.signal(Signal::SIGHUP);
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
