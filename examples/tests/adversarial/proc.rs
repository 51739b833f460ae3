//! What the kernel tells about a daemon under attack: its resident memory
//! (`/proc/PID/status`) and its TCP sockets' queues (`/proc/net/tcp`),
//! which say when it has taken in everything sent to it.

use std::time::{Duration, Instant};

/// One line of `/proc/PID/status` in KiB (`VmRSS`, `VmHWM`), if the
/// process is there.
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Resident memory now, in KiB (0 once the process is gone).
pub fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS").unwrap_or(0)
}

/// The most resident memory since the last [`reset_peak`], in KiB.
pub fn peak_kib(pid: u32) -> u64 {
    status_kib(pid, "VmHWM").unwrap_or(0)
}

/// Starts a new peak at the current resident memory (`clear_refs` 5,
/// Linux 4.0), so the peak measured covers one attack only.
pub fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// Whether the process runs (a zombie does not).
pub fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("State:"))
            .is_some_and(|state| !state.trim_start().starts_with(['Z', 'X']))
    })
}

/// One IPv4 TCP socket: ports, state (`0A` listening) and queued bytes.
#[derive(Debug, Clone, Copy)]
pub struct Socket {
    pub local_port: u16,
    pub remote_port: u16,
    pub state: u8,
    pub tx_queue: u64,
    pub rx_queue: u64,
    pub inode: u64,
}

const LISTEN: u8 = 0x0a;

/// Every IPv4 TCP socket of the host's (the test's) network namespace.
pub fn sockets() -> Vec<Socket> {
    let text = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let port = |addr: &str| u16::from_str_radix(addr.rsplit_once(':')?.1, 16).ok();
            let (tx, rx) = f.get(4)?.split_once(':')?;
            Some(Socket {
                local_port: port(f.get(1)?)?,
                remote_port: port(f.get(2)?)?,
                state: u8::from_str_radix(f.get(3)?, 16).ok()?,
                tx_queue: u64::from_str_radix(tx, 16).ok()?,
                rx_queue: u64::from_str_radix(rx, 16).ok()?,
                inode: f.get(9)?.parse().ok()?,
            })
        })
        .collect()
}

/// Waits until `what` holds, polling every 10 ms, for at most `limit`;
/// whether it held.
pub fn wait_until(limit: Duration, mut what: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if what() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until the daemon on `port` has read everything the client at
/// `client_port` sent it: nothing left in either socket's queue, or the
/// connection gone. Whether it did within `limit`.
pub fn wait_taken_in(port: u16, client_port: u16, limit: Duration) -> bool {
    wait_until(limit, || {
        sockets()
            .iter()
            .filter(|s| {
                (s.local_port, s.remote_port) == (port, client_port)
                    || (s.local_port, s.remote_port) == (client_port, port)
            })
            .all(|s| {
                let queued = if s.local_port == port {
                    s.rx_queue
                } else {
                    s.tx_queue
                };
                queued == 0
            })
    })
}

/// Waits until the daemon on `port` has accepted every connection
/// waiting for it (its listening socket's queue is empty).
pub fn wait_accepted(port: u16, limit: Duration) -> bool {
    wait_until(limit, || {
        sockets()
            .iter()
            .filter(|s| s.local_port == port && s.state == LISTEN)
            .all(|s| s.rx_queue == 0)
    })
}

/// Waits until the daemon on `port` has closed every connection its
/// clients closed: none of its sockets is still open on its side
/// (SYN_RECV, ESTABLISHED or CLOSE_WAIT). Whether it did within `limit`.
pub fn wait_closed(port: u16, limit: Duration) -> bool {
    const OPEN: [u8; 3] = [0x01, 0x03, 0x08];
    wait_until(limit, || {
        sockets()
            .iter()
            .all(|s| s.local_port != port || !OPEN.contains(&s.state))
    })
}

/// The process listening on loopback `port`: the owner of the
/// listening socket's inode.
pub fn listener_pid(port: u16) -> Option<u32> {
    let inode = sockets()
        .into_iter()
        .find(|s| s.local_port == port && s.state == LISTEN)?
        .inode;
    let wanted = format!("socket:[{inode}]");
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let fds = std::fs::read_dir(entry.path().join("fd")).ok()?;
            fds.flatten()
                .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l.to_str() == Some(&wanted)))
                .then_some(pid)
        })
}
