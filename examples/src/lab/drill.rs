//! The lab's drills: each breaks or restores one thing the chapter's
//! section 7.10 breaks, while a client keeps requesting the VIP, and judges
//! what happened against a bound derived from the configuration.

use std::time::{Duration, Instant};

use super::client::{Client, Sample, tally};
use super::report::Progress;
use super::stage::{Daemon, Stage};
use super::vrrp::Signal;

/// The drills, in the order they run.
pub const DRILLS: [(&str, &str); 5] = [
    ("alternate", "curl the VIP 4 times: Web1 and Web2 alternate"),
    (
        "web-down",
        "stop web1's web server: failures only until ha-lb marks it DOWN",
    ),
    (
        "vrrp-term",
        "SIGTERM lb's VRRP daemon: the VIP moves to web1 after the skew",
    ),
    (
        "vrrp-stop",
        "SIGSTOP lb's VRRP daemon: the VIP moves to web1 after Master_Down_Interval",
    ),
    (
        "restore",
        "restore everything: lb takes the VIP back, web1 UP again",
    ),
];

/// Scheduling, polling (10 ms) and the loopback client's own latency.
const SLACK: Duration = Duration::from_millis(250);

/// One drill's outcome.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    /// The drill's name.
    pub drill: String,
    /// What it does and expects.
    pub what: String,
    /// Requests the client sent during the drill.
    pub sent: usize,
    /// Of which failed.
    pub failed: usize,
    /// Longest time without a successful answer, in ms.
    pub longest_gap_ms: f64,
    /// The measured time (failover, DOWN, preemption), in ms.
    pub measured_ms: Option<f64>,
    /// What was measured.
    pub measured: String,
    /// The bound it is judged against, in ms.
    pub bound_ms: Option<f64>,
    /// Where the bound comes from.
    pub bound: String,
    /// Whether everything the drill checks held.
    pub passed: bool,
    /// Details.
    pub notes: Vec<String>,
}

/// Records what the client saw from `start`: counts, the longest gap and
/// how the failed requests failed.
fn record(out: &mut Outcome, samples: &[Sample], start: Instant) {
    let tally = tally(samples, start);
    out.sent = tally.sent;
    out.failed = tally.failed;
    out.longest_gap_ms = ms(tally.longest_gap);
    failures(out, samples);
}

/// How many requests sent after `at` failed.
fn failed_after(samples: &[Sample], at: Instant) -> usize {
    samples
        .iter()
        .filter(|s| s.started > at && s.result.is_err())
        .count()
}

/// Notes how the failed requests failed, most common first.
fn failures(out: &mut Outcome, samples: &[Sample]) {
    let mut kinds: Vec<(String, usize)> = Vec::new();
    for e in samples.iter().filter_map(|s| s.result.as_ref().err()) {
        match kinds.iter_mut().find(|(k, _)| k == e) {
            Some((_, n)) => *n += 1,
            None => kinds.push((e.clone(), 1)),
        }
    }
    kinds.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    for (kind, n) in kinds.into_iter().take(3) {
        out.notes.push(format!("{n} x {kind}"));
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn outcome(name: &str) -> Outcome {
    let what = DRILLS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("", |(_, w)| w);
    Outcome {
        drill: name.to_owned(),
        what: what.to_owned(),
        sent: 0,
        failed: 0,
        longest_gap_ms: 0.0,
        measured_ms: None,
        measured: String::new(),
        bound_ms: None,
        bound: String::new(),
        passed: false,
        notes: Vec::new(),
    }
}

/// Polls `ok` every 10 ms for up to `limit`, showing progress; when it
/// first held.
async fn wait_for(
    p: &mut Progress,
    lab: &dyn Stage,
    client: Option<&Client>,
    limit: Duration,
    mut ok: impl FnMut(&dyn Stage) -> bool,
) -> Option<Instant> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if ok(lab) {
            return Some(Instant::now());
        }
        p.show(lab, client);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    ok(lab).then(Instant::now)
}

/// Waits `time`, showing progress.
async fn settle(p: &mut Progress, lab: &dyn Stage, client: Option<&Client>, time: Duration) {
    wait_for(p, lab, client, time, |_| false).await;
}

fn lb_alone(lab: &dyn Stage) -> bool {
    lab.holder().lb_alone()
}

/// Runs drill `name`, showing progress through `p`.
pub async fn run(lab: &mut dyn Stage, name: &str, p: &mut Progress) -> Outcome {
    let outcome = match name {
        "alternate" => alternate(lab).await,
        "web-down" => web_down(lab, p).await,
        "vrrp-term" => vrrp_failover(lab, p, Signal::Term).await,
        "vrrp-stop" => vrrp_failover(lab, p, Signal::Stop).await,
        _ => restore(lab, p).await,
    };
    p.clear();
    outcome
}

async fn alternate(lab: &mut dyn Stage) -> Outcome {
    let mut out = outcome("alternate");
    let start = Instant::now();
    let mut pages = Vec::new();
    for _ in 0..4 {
        let result = lab.get().await;
        out.sent += 1;
        match result {
            Ok(page) => pages.push(page),
            Err(e) => {
                out.failed += 1;
                out.notes.push(e);
            }
        }
    }
    out.longest_gap_ms = ms(start.elapsed());
    let alternates = pages.len() == 4
        && pages.windows(2).all(|w| w[0] != w[1])
        && pages.iter().any(|p| p == "Welcome to Web1")
        && pages.iter().any(|p| p == "Welcome to Web2");
    out.measured = "pages".into();
    out.bound = "Web1 and Web2 alternate".into();
    out.notes.push(pages.join(" | "));
    out.passed = out.failed == 0 && alternates;
    out
}

/// Starts web1's web server if a drill before stopped it, and waits for
/// lb's ha-lb to see it.
async fn web1_up(lab: &mut dyn Stage, p: &mut Progress, out: &mut Outcome) {
    if lab.web1_running() {
        return;
    }
    if let Err(e) = lab.set_web1(true).await {
        out.notes
            .push(format!("cannot start web1's web server: {e}"));
    }
    let t = lab.timing();
    wait_for(p, lab, None, t.inter * t.rise + t.inter * 2, |lab| {
        lab.lb_sees_up("web1") == Some(true)
    })
    .await;
}

async fn web_down(lab: &mut dyn Stage, p: &mut Progress) -> Outcome {
    let mut out = outcome("web-down");
    let t = lab.timing();
    let bound = t.inter * t.fall + t.inter;
    out.bound = format!(
        "fall x inter + inter = {} x {:?} + {:?}",
        t.fall, t.inter, t.inter
    );
    out.bound_ms = Some(ms(bound));
    out.measured = "web1 DOWN in lb's ha-lb".into();
    web1_up(lab, p, &mut out).await;
    let client = lab.client(Duration::from_millis(10));
    settle(p, lab, Some(&client), Duration::from_millis(500)).await;
    let stopped = Instant::now();
    if let Err(e) = lab.set_web1(false).await {
        out.notes
            .push(format!("cannot stop web1's web server: {e}"));
    }
    let down = wait_for(
        p,
        lab,
        Some(&client),
        bound + Duration::from_secs(2),
        |lab| lab.lb_sees_up("web1") == Some(false),
    )
    .await;
    settle(p, lab, Some(&client), Duration::from_secs(1)).await;
    let samples = client.since(stopped);
    drop(client);
    record(&mut out, &samples, stopped);
    match down {
        Some(at) => {
            let took = at - stopped;
            out.measured_ms = Some(ms(took));
            let after = failed_after(&samples, at);
            if after > 0 {
                out.notes
                    .push(format!("{after} failures after web1 was DOWN"));
            }
            out.passed = took <= bound + SLACK && after == 0;
        }
        None => out.notes.push("web1 was never marked DOWN".into()),
    }
    out
}

/// Thaws or restarts lb's VRRP daemon, whichever an earlier drill did to it.
async fn wake_lb(lab: &mut dyn Stage, out: &mut Outcome) {
    let woke = match lab.lb_daemon() {
        Daemon::Frozen => lab.signal_lb(Signal::Cont).await,
        Daemon::Running => Ok(()),
        Daemon::Stopped => lab.start_lb().await,
    };
    if let Err(e) = woke {
        out.notes.push(format!("cannot bring lb's VRRP back: {e}"));
    }
}

/// Brings lb back to master if an earlier drill stopped or froze it.
async fn lb_master(lab: &mut dyn Stage, p: &mut Progress, out: &mut Outcome) {
    wake_lb(lab, out).await;
    let limit = lab.timing().lb_master_down() + Duration::from_secs(2);
    if wait_for(p, lab, None, limit, lb_alone).await.is_none() {
        out.notes
            .push("lb did not become master before the drill".into());
    }
}

async fn vrrp_failover(lab: &mut dyn Stage, p: &mut Progress, signal: Signal) -> Outcome {
    let name = if signal == Signal::Term {
        "vrrp-term"
    } else {
        "vrrp-stop"
    };
    let mut out = outcome(name);
    // Where web1 answers on the VIP itself once it holds it (the chapter's
    // network), its web server must be up for that.
    if lab.web1_serves_vip() {
        web1_up(lab, p, &mut out).await;
    }
    lb_master(lab, p, &mut out).await;
    let t = lab.timing();
    let bound = if signal == Signal::Term {
        out.bound = format!("web1's skew (256 - {}) / 256 s", t.web1_priority);
        t.web1_skew()
    } else {
        out.bound = format!(
            "3 x advert_int + skew = 3 x {:?} + {:?}",
            t.advert,
            t.web1_skew()
        );
        t.web1_master_down()
    };
    out.bound_ms = Some(ms(bound));
    out.measured = "VIP on web1".into();
    let client = lab.client(Duration::from_millis(10));
    settle(p, lab, Some(&client), Duration::from_millis(500)).await;
    let signalled = Instant::now();
    if let Err(e) = lab.signal_lb(signal).await {
        out.notes
            .push(format!("cannot signal lb's VRRP daemon: {e}"));
    }
    let moved = wait_for(
        p,
        lab,
        Some(&client),
        bound + Duration::from_secs(3),
        |lab| lab.holder().web1,
    )
    .await;
    settle(p, lab, Some(&client), Duration::from_secs(1)).await;
    let samples = client.since(signalled);
    drop(client);
    record(&mut out, &samples, signalled);
    match moved {
        Some(at) => {
            let took = at - signalled;
            out.measured_ms = Some(ms(took));
            let after = failed_after(&samples, at);
            if after > 0 {
                out.notes
                    .push(format!("{after} failures after the VIP moved"));
            }
            if signal == Signal::Stop && lab.holder().lb {
                out.notes.push(
                    "lb's frozen daemon still holds the VIP too, as a frozen keepalived keeps it on its interface"
                        .into(),
                );
            }
            out.passed = took <= bound + SLACK && after == 0;
        }
        None => out.notes.push("the VIP never reached web1".into()),
    }
    out
}

async fn restore(lab: &mut dyn Stage, p: &mut Progress) -> Outcome {
    let mut out = outcome("restore");
    let t = lab.timing();
    let preempt = t.lb_master_down();
    let up_bound = t.inter * t.rise + t.inter;
    out.bound = format!(
        "lb back within 3 x advert_int + skew ({preempt:?}); web1 UP within rise x inter + inter ({up_bound:?})"
    );
    out.bound_ms = Some(ms(preempt));
    out.measured = "VIP back on lb".into();
    let client = lab.client(Duration::from_millis(10));
    settle(p, lab, Some(&client), Duration::from_millis(200)).await;
    let started = Instant::now();
    if !lab.web1_running()
        && let Err(e) = lab.set_web1(true).await
    {
        out.notes
            .push(format!("cannot start web1's web server: {e}"));
    }
    wake_lb(lab, &mut out).await;
    let back = wait_for(
        p,
        lab,
        Some(&client),
        preempt + Duration::from_secs(3),
        lb_alone,
    )
    .await;
    let up = wait_for(
        p,
        lab,
        Some(&client),
        up_bound + Duration::from_secs(3),
        |lab| lab.lb_sees_up("web1") == Some(true),
    )
    .await;
    settle(p, lab, Some(&client), Duration::from_millis(500)).await;
    let samples = client.since(started);
    drop(client);
    record(&mut out, &samples, started);
    let back_ok = back.is_some_and(|at| at - started <= preempt + SLACK);
    let up_ok = up.is_some_and(|at| at - started <= up_bound + SLACK);
    out.measured_ms = back.map(|at| ms(at - started));
    match up {
        Some(at) => out.notes.push(format!(
            "web1 UP after {:.1} s",
            (at - started).as_secs_f64()
        )),
        None => out.notes.push("web1 never came back UP".into()),
    }
    if back.is_none() {
        out.notes.push("lb did not take the VIP back".into());
    }
    // Judged on its times; failures are counted and explained in the notes
    // (in loopback mode a connection the kernel had just queued on web1's
    // listener is reset when web1 gives the VIP back).
    out.passed = back_ok && up_ok;
    out
}
