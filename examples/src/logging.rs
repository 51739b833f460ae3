//! Where the daemons' logs go: syslog (a Unix datagram socket such as
//! `/dev/log`, or UDP), standard output or standard error, as the classic
//! configuration files say (`log /dev/log local0`, `log stdout ...`).
//!
//! Each log event becomes one RFC 3164-style datagram `<PRI>tag[pid]: text`,
//! which rsyslog and journald accept.

use std::io::{self, Write};
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::sync::Arc;

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// Logs to standard error at `default_level` (`RUST_LOG` overrides it),
/// in colour on a terminal: what the daemons do in the foreground.
pub fn to_stderr(default_level: &str) {
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .init();
}

/// Syslog facilities by name, as configuration files write them.
pub fn facility(name: &str) -> Option<u8> {
    const NAMES: [&str; 24] = [
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "auth2",
        "ftp", "ntp", "audit", "alert", "cron2", "local0", "local1", "local2", "local3", "local4",
        "local5", "local6", "local7",
    ];
    NAMES.iter().position(|n| *n == name).map(|i| i as u8)
}

#[derive(Debug)]
enum Socket {
    Unix(UnixDatagram),
    Udp(UdpSocket, SocketAddr),
}

/// Sends log lines to a syslog server.
#[derive(Debug, Clone)]
pub struct Syslog {
    socket: Arc<Socket>,
    facility: u8,
    tag: Arc<str>,
    path: Option<Arc<Path>>,
}

impl Syslog {
    /// Connects to the syslog socket at `path` (usually `/dev/log`).
    pub fn unix(path: &Path, facility: u8, tag: &str) -> io::Result<Self> {
        let socket = UnixDatagram::unbound()?;
        socket.connect(path)?;
        // Logging must never stall the proxy: when the syslog daemon is
        // slow, lines are dropped rather than waited for.
        socket.set_nonblocking(true)?;
        let mut syslog = Self::with(Socket::Unix(socket), facility, tag);
        syslog.path = Some(path.into());
        Ok(syslog)
    }

    /// Sends to a syslog server over UDP.
    pub fn udp(addr: SocketAddr, facility: u8, tag: &str) -> io::Result<Self> {
        let local: SocketAddr = if addr.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(local)?;
        socket.set_nonblocking(true)?;
        Ok(Self::with(Socket::Udp(socket, addr), facility, tag))
    }

    fn with(socket: Socket, facility: u8, tag: &str) -> Self {
        Self {
            socket: Arc::new(socket),
            facility,
            tag: tag.into(),
            path: None,
        }
    }
}

/// One log line on its way to syslog.
#[derive(Debug)]
pub struct SyslogLine {
    syslog: Syslog,
    severity: u8,
    buffer: Vec<u8>,
}

impl Write for SyslogLine {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for SyslogLine {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.buffer);
        let text = text.trim_end();
        if text.is_empty() {
            return;
        }
        let pri = u16::from(self.syslog.facility) * 8 + u16::from(self.severity);
        // The pid is read per line: the daemon forks after logging starts.
        let datagram = format!("<{pri}>{}[{}]: {text}", self.syslog.tag, std::process::id());
        // A log line that cannot be delivered is dropped: logging must never
        // stop the proxy.
        let sent = match &*self.syslog.socket {
            Socket::Unix(s) => s.send(datagram.as_bytes()),
            Socket::Udp(s, to) => s.send_to(datagram.as_bytes(), to),
        };
        // A restarted syslog daemon has a new socket: reconnect once.
        if let (Err(e), Socket::Unix(s), Some(path)) =
            (&sent, &*self.syslog.socket, &self.syslog.path)
            && e.kind() != io::ErrorKind::WouldBlock
            && s.connect(path).is_ok()
        {
            let _ = s.send(datagram.as_bytes());
        }
    }
}

impl<'a> MakeWriter<'a> for Syslog {
    type Writer = SyslogLine;

    fn make_writer(&'a self) -> SyslogLine {
        self.line(6)
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> SyslogLine {
        let severity = match *meta.level() {
            Level::ERROR => 3,
            Level::WARN => 4,
            Level::INFO => 6,
            Level::DEBUG | Level::TRACE => 7,
        };
        self.line(severity)
    }
}

impl Syslog {
    fn line(&self, severity: u8) -> SyslogLine {
        SyslogLine {
            syslog: self.clone(),
            severity,
            buffer: Vec::with_capacity(256),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_reach_a_unix_syslog_socket_with_priority() {
        let dir = std::env::temp_dir().join(format!("ha-syslog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log");
        let _ = std::fs::remove_file(&path);
        let server = UnixDatagram::bind(&path).unwrap();
        let syslog = Syslog::unix(&path, facility("local0").unwrap(), "ha-lb").unwrap();
        {
            let mut line = syslog.line(4);
            line.write_all(b"Server webs/web1 is DOWN\n").unwrap();
        }
        let mut buf = [0u8; 512];
        let n = server.recv(&mut buf).unwrap();
        let got = std::str::from_utf8(&buf[..n]).unwrap();
        assert_eq!(
            got,
            format!(
                "<132>ha-lb[{}]: Server webs/web1 is DOWN",
                std::process::id()
            )
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn facilities_by_name() {
        assert_eq!(facility("local0"), Some(16));
        assert_eq!(facility("daemon"), Some(3));
        assert_eq!(facility("local7"), Some(23));
        assert_eq!(facility("bogus"), None);
    }
}
