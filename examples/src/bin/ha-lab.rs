//! `ha-lab`: the chapter's lab (two web servers behind a load balancer, a
//! floating virtual IP) on one machine, with drills that break it and
//! measure the recovery. See `docs/lab.md`.
//!
//! ```text
//! ha-lab [--netns] [--drill NAME] [--keep-running] [--json] [--base-port PORT]
//! ```
//! Exits 0 only if every drill passed (1 if one failed, 2 if the lab could
//! not be set up).

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use ha_examples::lab::drill::{self, DRILLS, Outcome};
use ha_examples::lab::stage::Stage;
use ha_examples::lab::{Lab, Plan, report};

const USAGE: &str =
    "usage: ha-lab [--netns] [--drill NAME] [--keep-running] [--json] [--base-port PORT]
  --netns           real addresses, ARP and VRRP in network namespaces (root; needs
                    the ha-lb and ha-vrrpd binaries next to ha-lab: cargo build --release --bins)
  --drill NAME      run one drill: alternate, web-down, vrrp-term, vrrp-stop, restore
  --keep-running    stay up after the drills for manual curls (Ctrl-C stops)
  --json            print the results as JSON on standard output
  --base-port PORT  loopback mode: VIP port (default 18080); web1 +1, web2 +2, VRRP +32";

struct Options {
    netns: bool,
    drills: Vec<&'static str>,
    keep_running: bool,
    json: bool,
    base: u16,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        netns: false,
        drills: DRILLS.iter().map(|(n, _)| *n).collect(),
        keep_running: false,
        json: false,
        base: 18080,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--netns" => o.netns = true,
            "--drill" => {
                let name = args.next().ok_or("--drill needs a name")?;
                let (name, _) = DRILLS
                    .iter()
                    .find(|(n, _)| *n == name)
                    .ok_or(format!("no drill called '{name}'"))?;
                o.drills = vec![name];
            }
            "--keep-running" => o.keep_running = true,
            "--json" => o.json = true,
            "--base-port" => {
                o.base = args
                    .next()
                    .and_then(|p| p.parse().ok())
                    .filter(|p| *p > 0 && *p < 65535 - 32)
                    .ok_or("--base-port needs a port below 65503")?;
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    Ok(o)
}

fn main() -> ExitCode {
    let options = match options() {
        Ok(o) => o,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("ha-lab: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    ha_examples::logging::to_stderr("warn");
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ha-lab: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = if options.netns {
        runtime.block_on(netns(&options))
    } else {
        runtime.block_on(loopback(&options))
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("ha-lab: {e}");
            ExitCode::from(2)
        }
    }
}

/// Progress lines go to stderr, so `--json` output stays clean.
macro_rules! say {
    ($($t:tt)*) => { eprintln!($($t)*) };
}

async fn loopback(options: &Options) -> Result<bool, String> {
    let plan = Plan::new(options.base).ok_or("ports out of range")?;
    let mut lab = Lab::new(plan)?;
    let started = Instant::now();
    say!("ha-lab: the chapter's section 7.10 lab, on loopback (no privileges needed).");
    say!(
        "  Mode: loopback. The VIP {} is a listening address: the VRRP master's ha-lb listens on it,",
        plan.vip
    );
    say!("  the backup's does not. No interface address or ARP entry moves in this mode.");
    for (name, web) in [("web1", &mut lab.web1), ("web2", &mut lab.web2)] {
        eprint!("starting {name} on {} ... ", web.addr());
        web.start()
            .await
            .map_err(|e| format!("{name}: cannot listen on {}: {e}", web.addr()))?;
        say!("ok");
    }
    for role in [&mut lab.lb, &mut lab.web1_role] {
        eprint!(
            "starting VRRP on {} (priority {}, unicast from {}) ... ",
            role.name, role.router.priority, role.local
        );
        role.start_vrrp()
            .await
            .map_err(|e| format!("{}: cannot open {}: {e}", role.name, role.local))?;
        say!("ok");
    }
    let json = serde_json::json!({ "mode": "loopback", "vip": plan.vip.to_string() });
    drive(&mut lab, options, started, json).await
}

#[cfg(target_os = "linux")]
async fn netns(options: &Options) -> Result<bool, String> {
    use ha_examples::lab::netns::NetnsLab;
    let started = Instant::now();
    say!("ha-lab --netns: the chapter's section 7.10 lab in network namespaces.");
    say!(
        "  lb 192.168.122.10, web1 .101, web2 .102, client .50 on one bridge; VIP 192.168.122.200."
    );
    say!(
        "  ha-vrrpd moves the VIP (address and gratuitous ARP); ha-lb runs the chapter's haproxy.cfg."
    );
    let bin = std::env::current_exe()
        .map_err(|e| e.to_string())?
        .parent()
        .ok_or("no directory for ha-lab")?
        .to_path_buf();
    let timing = ha_examples::lab::chapter_timing()?;
    eprint!("creating the namespaces and starting web1, web2, ha-lb and two ha-vrrpd ... ");
    let mut lab = NetnsLab::start(&bin, timing).await?;
    say!("ok");
    let json = serde_json::json!({ "mode": "netns", "vip": lab.vip().to_string() });
    drive(&mut lab, options, started, json).await
}

#[cfg(not(target_os = "linux"))]
async fn netns(_: &Options) -> Result<bool, String> {
    Err("--netns needs Linux network namespaces".into())
}

/// Election, drills, table: the same on every stage.
async fn drive(
    lab: &mut dyn Stage,
    options: &Options,
    started: Instant,
    mut json: serde_json::Value,
) -> Result<bool, String> {
    let timing = lab.timing();
    let election = timing.lb_master_down();
    eprint!(
        "electing a master (3 x advert_int + skew = {:.2} s) ... ",
        election.as_secs_f64()
    );
    let deadline = Instant::now() + election + Duration::from_secs(3);
    while !lab.holder().lb_alone() {
        if Instant::now() > deadline {
            say!("failed");
            return Err(format!("no master elected: {}", lab.status_line()));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    say!(
        "lb is MASTER after {:.2} s and holds the VIP {}",
        started.elapsed().as_secs_f64(),
        lab.vip()
    );
    eprint!("waiting for ha-lb's health checks ... ");
    let deadline = Instant::now() + timing.inter * (timing.rise + 1);
    while !(lab.lb_sees_up("web1") == Some(true) && lab.lb_sees_up("web2") == Some(true)) {
        if Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut progress = report::Progress::new(started, std::io::stderr().is_terminal());
    say!("{}", progress.line(lab));

    let mut outcomes: Vec<Outcome> = Vec::new();
    for name in &options.drills {
        let what = DRILLS
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, w)| w);
        say!("\ndrill {name}: {what}");
        let outcome = drill::run(lab, name, &mut progress).await;
        say!(
            "  {}: sent {}, failed {}, longest gap {:.0} ms{}",
            if outcome.passed { "PASS" } else { "FAIL" },
            outcome.sent,
            outcome.failed,
            outcome.longest_gap_ms,
            outcome
                .measured_ms
                .map(|m| format!(
                    ", {} after {:.0} ms (bound {:.0} ms)",
                    outcome.measured,
                    m,
                    outcome.bound_ms.unwrap_or(0.0)
                ))
                .unwrap_or_default()
        );
        say!("  {}", progress.line(lab));
        outcomes.push(outcome);
    }
    let passed = outcomes.iter().all(|o| o.passed);
    say!("\n{}", report::table(&outcomes));
    say!(
        "{} of {} drills passed in {:.1} s.",
        outcomes.iter().filter(|o| o.passed).count(),
        outcomes.len(),
        started.elapsed().as_secs_f64()
    );
    if options.json {
        json["passed"] = passed.into();
        json["drills"] = serde_json::to_value(&outcomes).map_err(|e| e.to_string())?;
        println!("{json:#}");
    }
    if options.keep_running {
        say!(
            "\nStill running: curl http://{}/  (Ctrl-C stops)",
            lab.vip()
        );
        let _ = tokio::signal::ctrl_c().await;
    }
    Ok(passed)
}
