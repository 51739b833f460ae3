//! `mode http` end to end: a client sends arbitrary bytes to a running
//! balancer (request heads, bodies with any framing, pipelined requests,
//! upgrades), and its server answers with arbitrary bytes (response heads,
//! bodies with any framing). hyper parses and frames both sides; the
//! balancer's own rules (Host, absolute-form targets, hop-by-hop headers,
//! `X-Forwarded-For`, upgrades, error answers) run on what it lets
//! through. Neither side may make the balancer panic (in any of its
//! tasks), and every exchange ends: answered or closed, within the
//! configured timeouts.

use std::panic;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use ha_lb::config::{Config, Defaults, Mode, Server, Timeouts};
use ha_lb::{InProcessBackend, LoadBalancer, Running};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::runtime::Runtime;

/// What every exchange shares: the runtime, the running balancer, and the
/// answer its server gives next.
struct Harness {
    runtime: Runtime,
    /// Kept running for the process's life.
    _running: Running,
    addr: std::net::SocketAddr,
    answer: Arc<Mutex<Vec<u8>>>,
}

/// How long the client waits for more of an answer before it closes.
const IDLE: Duration = Duration::from_millis(25);

/// Set by the panic hook: a task of the balancer panicked.
static PANICKED: AtomicBool = AtomicBool::new(false);

/// The name of the runtime's threads, which the panic hook looks for.
const WORKER: &str = "ha-lb-fuzz-worker";

/// One exchange at a time (tests run in parallel): the server's answer is
/// the one the running input set.
static EXCHANGE: Mutex<()> = Mutex::new(());

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        // A panic in a spawned task is caught by tokio: note it (and let
        // the previous hook, libFuzzer's abort, run too).
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() == Some(WORKER) {
                PANICKED.store(true, Ordering::SeqCst);
            }
            previous(info);
        }));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(WORKER)
            .enable_all()
            .build()
            .expect("a runtime");
        let answer = Arc::new(Mutex::new(Vec::new()));
        let served = answer.clone();
        let server = InProcessBackend::from_fn(move |mut stream| {
            let answer = served.lock().expect("not poisoned").clone();
            tokio::spawn(async move {
                // Read the request's head (or what comes), answer, close.
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65_536 {
                    match tokio::time::timeout(Duration::from_millis(500), stream.read(&mut buf))
                        .await
                    {
                        Ok(Ok(n)) if n > 0 => head.extend_from_slice(&buf[..n]),
                        _ => break,
                    }
                }
                let _ = stream.write_all(&answer).await;
                let _ = stream.shutdown().await;
            });
        });
        let timeouts = Timeouts::new()
            .connect(Duration::from_secs(1))
            .client(Duration::from_secs(2))
            .server(Duration::from_secs(2))
            .http_request(Duration::from_secs(2));
        let defaults = Defaults::new(Mode::Http, timeouts);
        let config: Config = Config::builder()
            .frontend(
                defaults
                    .frontend("web")
                    .bind("127.0.0.1:0".parse().expect("an address"))
                    .default_pool("webs"),
            )
            .pool(
                defaults
                    .pool("webs")
                    .server(Server::with_backend("inside", server)),
            )
            .build();
        let running = runtime.block_on(async {
            LoadBalancer::bind(config)
                .expect("the configuration binds")
                .start()
                .await
                .expect("the balancer starts")
        });
        let addr = running.local_addrs()[0].1;
        Harness {
            runtime,
            _running: running,
            addr,
            answer,
        }
    })
}

/// `[split (2 bytes, big-endian), request (split bytes), answer]`: what the
/// client sends, then what the server answers.
pub fn run(input: &[u8]) {
    let [hi, lo, rest @ ..] = input else {
        return;
    };
    let split = usize::from(u16::from_be_bytes([*hi, *lo])).min(rest.len());
    let (request, answer) = rest.split_at(split);
    let harness = harness();
    let _turn = EXCHANGE.lock().unwrap_or_else(|e| e.into_inner());
    *harness.answer.lock().expect("not poisoned") = answer.to_vec();
    let ended = harness.runtime.block_on(async {
        let mut client = TcpStream::connect(harness.addr)
            .await
            .expect("the balancer accepts");
        let exchange = async {
            // The balancer may close before it read it all.
            let _ = client.write_all(request).await;
            // The answer comes at once (the server is in this process) and
            // the connection stays open for the next request; a request
            // left incomplete gets none. Either way the client closes its
            // side once nothing came for a moment: closing at once would
            // end the exchange before the answer (the balancer takes a
            // half-close as the end of the connection).
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                match tokio::time::timeout(IDLE, client.read(&mut buf)).await {
                    Ok(Ok(0) | Err(_)) => return,
                    Ok(Ok(_)) => {}
                    Err(_) => break,
                }
            }
            let _ = client.shutdown().await;
            let _ = client.read_to_end(&mut Vec::new()).await;
        };
        tokio::time::timeout(Duration::from_secs(20), exchange).await
    });
    assert!(!PANICKED.load(Ordering::SeqCst), "the balancer panicked");
    assert!(
        ended.is_ok(),
        "the exchange neither ended nor timed out within 20 s"
    );
}
