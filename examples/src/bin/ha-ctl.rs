//! `ha-ctl`: the cluster's command line: `simulate`, which
//! schedules a CIB file and prints the decisions in crm_simulate's format.
//!
//! ```text
//! ha-ctl simulate -x cib.xml [-R | -S] [--scores] [--graph]
//! ha-ctl --help | --version
//! ```
//! Prints what `crm_simulate -x cib.xml -S` prints, in its format, so the
//! two can be diffed: the current cluster status, `Transition Summary:`,
//! the actions executed (without crm_simulate's pseudo-actions) and the
//! revised cluster status once they all succeeded (`-S`, the default);
//! `-R` stops after the summary, as `crm_simulate -R` does. `--scores`
//! adds the allocation scores as `crm_simulate -s` prints them (before
//! the summary, its lines sorted as Pacemaker's `.scores` files keep
//! them); `--graph` also lists the transition's actions in an order that
//! keeps every ordering, each with the actions it waits for.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use ha_cluster::{Cib, Graph, Task, allocation, schedule, simulate, status, summary};

const USAGE: &str = "usage: ha-ctl simulate -x CIB.xml [-R | -S] [--scores] [--graph]
       ha-ctl --help | --version";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut file, mut graph, mut scores, mut run_only) = (None, false, false, false);
    let mut words = args.iter().map(String::as_str);
    match words.next() {
        Some("simulate") => {}
        Some("-h" | "--help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some("-V" | "--version") => {
            println!("ha-ctl {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("ha-ctl: {USAGE}");
            return ExitCode::from(2);
        }
    }
    while let Some(word) = words.next() {
        match word {
            "-x" | "--xml-file" if file.is_none() => file = words.next().map(str::to_owned),
            "--graph" => graph = true,
            "-s" | "--scores" | "--show-scores" => scores = true,
            "-R" | "--run" => run_only = true,
            "-S" | "--simulate" => run_only = false,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ => {
                eprintln!("ha-ctl: {USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let Some(file) = file else {
        eprintln!("ha-ctl: {USAGE}");
        return ExitCode::from(2);
    };
    // Failures expire and date rules are judged at the CIB's
    // execution-date, else now (as crm_simulate).
    let clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    // Errors name the file (and the line, for its text).
    let cib = match Cib::load(Path::new(&file), Some(clock)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ha-ctl: {e}");
            return ExitCode::from(1);
        }
    };
    match schedule(&cib) {
        Ok(t) => {
            let mut out = String::new();
            match status::preamble(&cib) {
                Ok(s) => out.push_str(&s),
                Err(e) => eprintln!("ha-ctl: {file}: status: {e}"),
            }
            match status::current(&cib, &t) {
                Ok(s) => {
                    out.push_str("Current cluster status:\n");
                    out.push_str(&s);
                    out.push('\n');
                }
                Err(e) => eprintln!("ha-ctl: {file}: status: {e}"),
            }
            if scores {
                out.push_str("Allocation scores:\n");
                for line in allocation::lines(&t) {
                    out.push_str(&line);
                    out.push('\n');
                }
                out.push('\n');
            }
            out.push_str("Transition Summary:\n");
            for line in summary::lines(&t) {
                out.push_str(&line);
                out.push('\n');
            }
            if !run_only {
                print_actions(&t.graph, &mut out);
            }
            if graph {
                print_graph(&t.graph, &mut out);
            }
            if !run_only {
                let revised = simulate::apply(&cib, &t);
                if let Some(line) = status::execution_date(&cib) {
                    out.push_str(&line);
                }
                match status::revised(&revised) {
                    Ok(s) => {
                        out.push_str("\nRevised Cluster Status:\n");
                        out.push_str(&s);
                    }
                    Err(e) => eprintln!("ha-ctl: {file}: revised status: {e}"),
                }
            }
            // A reader that stops early (`| head`) is not an error.
            match std::io::stdout().lock().write_all(out.as_bytes()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("ha-ctl: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Err(e) => {
            eprintln!("ha-ctl: {file}: {e}");
            ExitCode::from(1)
        }
    }
}

/// The actions as crm_simulate lists what it executes (without its
/// pseudo-actions), in an order that keeps every ordering.
fn print_actions(g: &Graph, out: &mut String) {
    out.push_str("\nExecuting Cluster Transition:\n");
    for i in g.run_order() {
        let a = &g.actions[i];
        let task = match a.task {
            Task::Fence => {
                let _ = writeln!(out, "  * Fencing {} (reboot)", a.node);
                continue;
            }
            Task::Unfence => {
                let _ = writeln!(out, "  * Fencing {} (on)", a.node);
                continue;
            }
            Task::Probe => "monitor".to_owned(),
            Task::Monitor { interval_ms } => format!("monitor={interval_ms}"),
            task => task_name(task).to_owned(),
        };
        let rsc = a.rsc.as_deref().unwrap_or_default();
        let _ = writeln!(out, "  * Resource action: {rsc:<15} {task} on {}", a.node);
    }
}

/// The actions in an order that keeps every ordering, numbered, each with
/// the numbers of those it waits for.
fn print_graph(g: &Graph, out: &mut String) {
    out.push_str("\nTransition Graph:\n");
    let Some(order) = g.order() else {
        out.push_str("  the orderings form a loop: this transition cannot finish\n");
        return;
    };
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); g.actions.len()];
    for &(a, b) in &g.edges {
        preds[b].push(a);
    }
    let number: Vec<usize> = {
        let mut n = vec![0; order.len()];
        for (k, &i) in order.iter().enumerate() {
            n[i] = k + 1;
        }
        n
    };
    for &i in &order {
        let a = &g.actions[i];
        let what = match (a.task, &a.rsc) {
            (Task::Fence, _) => format!("fence {}", a.node),
            (Task::Monitor { interval_ms }, Some(r)) => {
                format!("{r} monitor every {interval_ms}ms on {}", a.node)
            }
            (task, Some(r)) => format!("{r} {} on {}", task_name(task), a.node),
            (task, None) => format!("{} on {}", task_name(task), a.node),
        };
        let mut after: Vec<usize> = preds[i].iter().map(|&b| number[b]).collect();
        after.sort_unstable();
        let after: Vec<String> = after.iter().map(usize::to_string).collect();
        if after.is_empty() {
            let _ = writeln!(out, "  {:>3}. {what}", number[i]);
        } else {
            let _ = writeln!(
                out,
                "  {:>3}. {what} (after {})",
                number[i],
                after.join(", ")
            );
        }
    }
}

fn task_name(task: Task) -> &'static str {
    match task {
        Task::Fence => "fence",
        Task::Unfence => "unfence",
        Task::Probe => "probe",
        Task::Demote => "demote",
        Task::Stop => "stop",
        Task::MigrateTo => "migrate_to",
        Task::MigrateFrom => "migrate_from",
        Task::Start => "start",
        Task::Promote => "promote",
        Task::Reload => "reload-agent",
        Task::Monitor { .. } => "monitor",
    }
}
