//! Measures one VRRP failover precisely, for `bench/vrrp.sh` (root only).
//!
//! ```text
//! failover_probe --pid PID --signal term|stop --backup-ns NS --dev DEV \
//!     --vip ADDR --client-ns NS --serve NS=NAME --serve NS=NAME --expect NAME \
//!     [--phase F]
//! ```
//! Serves each host's name on TCP port 8080 in its namespace, watches the
//! backup's namespace for adverts (raw socket on 224.0.0.18) and for the
//! VIP being added (rtnetlink address events, no polling), waits for the
//! master to advertise, signals it a fraction F (0..1, default 0) of an
//! advert interval after an advert (the same F for every implementation
//! makes their times comparable), and reports as one JSON line: signal
//! to VIP added, last advert heard to VIP added, and signal to the first
//! reply from the new master (`--expect`) to a client in `--client-ns`
//! connecting every millisecond. Timestamps come from one monotonic clock.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use rtnetlink::packet_core::NetlinkPayload;
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::packet_route::address::AddressAttribute;
use rtnetlink::sys::AsyncSocket;
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};

const PORT: u16 = 8080;

struct Args {
    pid: i32,
    stop: bool,
    backup_ns: String,
    dev: String,
    vip: IpAddr,
    client_ns: String,
    serve: Vec<(String, String)>,
    expect: String,
    phase: f64,
}

fn parse() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let (mut pid, mut stop, mut backup_ns, mut dev, mut vip) = (None, None, None, None, None);
    let (mut client_ns, mut serve, mut expect, mut phase) = (None, Vec::new(), None, 0.0);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--pid" => pid = Some(value.parse().map_err(|_| "--pid: a number")?),
            "--signal" => {
                stop = Some(match value.as_str() {
                    "term" => false,
                    "stop" => true,
                    _ => return Err("--signal: term or stop".into()),
                })
            }
            "--backup-ns" => backup_ns = Some(value),
            "--dev" => dev = Some(value),
            "--vip" => vip = Some(value.parse().map_err(|_| "--vip: an address")?),
            "--client-ns" => client_ns = Some(value),
            "--serve" => {
                let (ns, name) = value.split_once('=').ok_or("--serve NS=NAME")?;
                serve.push((ns.to_owned(), name.to_owned()));
            }
            "--expect" => expect = Some(value),
            "--phase" => {
                phase = value
                    .parse()
                    .ok()
                    .filter(|f: &f64| (0.0..1.0).contains(f))
                    .ok_or("--phase: a fraction in [0, 1)")?
            }
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(Args {
        pid: pid.ok_or("--pid")?,
        stop: stop.ok_or("--signal")?,
        backup_ns: backup_ns.ok_or("--backup-ns")?,
        dev: dev.ok_or("--dev")?,
        vip: vip.ok_or("--vip")?,
        client_ns: client_ns.ok_or("--client-ns")?,
        serve,
        expect: expect.ok_or("--expect")?,
        phase,
    })
}

/// Moves the calling thread into namespace `ns`.
fn enter(ns: &str) {
    let file = File::open(format!("/var/run/netns/{ns}")).expect("namespace exists");
    nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
}

fn main() {
    let args = match parse() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("failover_probe: {e}");
            std::process::exit(2);
        }
    };
    for (ns, name) in &args.serve {
        let (ns, name) = (ns.clone(), name.clone());
        let (ready_tx, ready) = mpsc::channel();
        std::thread::spawn(move || {
            enter(&ns);
            let listener = TcpListener::bind(("0.0.0.0", PORT)).expect("bind 8080");
            ready_tx.send(()).unwrap();
            for stream in listener.incoming().flatten() {
                let _ = (&stream).write_all(name.as_bytes());
            }
        });
        ready.recv().unwrap();
    }

    // Adverts heard in the backup's namespace.
    let adverts: Arc<Mutex<Vec<Instant>>> = Arc::default();
    {
        let (adverts, ns, dev) = (adverts.clone(), args.backup_ns.clone(), args.dev.clone());
        let (ready_tx, ready) = mpsc::channel();
        std::thread::spawn(move || {
            enter(&ns);
            let socket = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(112))).unwrap();
            socket.bind_device(Some(dev.as_bytes())).unwrap();
            let index = nix::net::if_::if_nametoindex(dev.as_str()).unwrap();
            socket
                .join_multicast_v4_n(
                    &Ipv4Addr::new(224, 0, 0, 18),
                    &InterfaceIndexOrAddress::Index(index),
                )
                .unwrap();
            ready_tx.send(()).unwrap();
            let mut buf = [0u8; 1500];
            let mut socket = socket;
            while let Ok(n) = socket.read(&mut buf) {
                let header = usize::from(buf[0] & 0x0f) * 4;
                // Priority 0 is a resignation, not a sign of life.
                if n > header + 2 && buf[header + 2] != 0 {
                    adverts.lock().unwrap().push(Instant::now());
                }
            }
        });
        ready.recv().unwrap();
    }

    // The VIP appearing in the backup's namespace.
    let (added_tx, added) = mpsc::channel::<Instant>();
    {
        let (ns, vip) = (args.backup_ns.clone(), args.vip);
        let (ready_tx, ready) = mpsc::channel();
        std::thread::spawn(move || {
            enter(&ns);
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let (mut connection, _, mut messages) = rtnetlink::new_connection().unwrap();
                let groups = rtnetlink::constants::RTMGRP_IPV4_IFADDR
                    | rtnetlink::constants::RTMGRP_IPV6_IFADDR;
                connection
                    .socket_mut()
                    .socket_mut()
                    .bind(&rtnetlink::sys::SocketAddr::new(0, groups))
                    .unwrap();
                tokio::spawn(connection);
                ready_tx.send(()).unwrap();
                while let Some((message, _)) = messages.next().await {
                    let at = Instant::now();
                    if let NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewAddress(m)) =
                        message.payload
                        && m.attributes.iter().any(|a| {
                            matches!(a, AddressAttribute::Address(ip) | AddressAttribute::Local(ip) if *ip == vip)
                        })
                    {
                        let _ = added_tx.send(at);
                        return;
                    }
                }
            });
        });
        ready.recv().unwrap();
    }

    // Wait for two adverts, then signal at the asked phase after the next.
    let deadline = Instant::now() + Duration::from_secs(15);
    while adverts.lock().unwrap().len() < 2 {
        assert!(Instant::now() < deadline, "the master is not advertising");
        std::thread::sleep(Duration::from_millis(1));
    }
    let seen = adverts.lock().unwrap().len();
    while adverts.lock().unwrap().len() == seen {
        assert!(Instant::now() < deadline, "the master stopped advertising");
        std::thread::sleep(Duration::from_micros(200));
    }
    let (last, gap) = {
        let adverts = adverts.lock().unwrap();
        let n = adverts.len();
        (adverts[n - 1], adverts[n - 1] - adverts[n - 2])
    };
    std::thread::sleep((last + gap.mul_f64(args.phase)).saturating_duration_since(Instant::now()));
    let signal = if args.stop {
        nix::sys::signal::Signal::SIGSTOP
    } else {
        nix::sys::signal::Signal::SIGTERM
    };
    let signalled = Instant::now();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(args.pid), signal).expect("kill");

    // The client asks the VIP until the new master answers.
    let (reply_tx, reply) = mpsc::channel::<Instant>();
    {
        let (ns, vip, expect) = (args.client_ns.clone(), args.vip, args.expect.clone());
        std::thread::spawn(move || {
            enter(&ns);
            let to = SocketAddr::new(vip, PORT);
            loop {
                if let Ok(mut s) = TcpStream::connect_timeout(&to, Duration::from_millis(20)) {
                    let _ = s.set_read_timeout(Some(Duration::from_millis(50)));
                    let mut name = String::new();
                    if s.read_to_string(&mut name).is_ok() && name == expect {
                        let _ = reply_tx.send(Instant::now());
                        return;
                    }
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        });
    }
    let added = added
        .recv_timeout(Duration::from_secs(15))
        .expect("the backup adds the VIP");
    let replied = reply.recv_timeout(Duration::from_secs(15)).ok();
    let last_advert = adverts
        .lock()
        .unwrap()
        .iter()
        .rev()
        .find(|t| **t < added)
        .copied();
    let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1000.0);
    println!(
        "{{\"signal_to_vip_ms\": {}, \"last_advert_to_vip_ms\": {}, \"signal_to_reply_ms\": {}}}",
        ms(added - signalled),
        last_advert.map_or("null".into(), |t| ms(added - t)),
        replied.map_or(
            "null".into(),
            |t| ms(t.saturating_duration_since(signalled))
        ),
    );
}
