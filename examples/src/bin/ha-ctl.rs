//! `ha-ctl`: the cluster's command line. So far `simulate`, which
//! schedules a CIB file and prints the decisions in crm_simulate's format.
//!
//! ```text
//! ha-ctl simulate -x cib.xml [--graph]
//! ```
//! Prints `Transition Summary:` and its lines exactly as `crm_simulate -x
//! cib.xml -S` does, so the two can be diffed (the current and revised
//! status blocks come with the rest of issue #7). `--graph` then lists the
//! transition's actions in an order that keeps every ordering, each with
//! the actions it waits for.

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

use ha_cluster::{Cib, Graph, Task, schedule, summary};

const USAGE: &str = "usage: ha-ctl simulate -x CIB.xml [--graph]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (file, graph) = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["simulate", "-x" | "--xml-file", file] => ((*file).to_owned(), false),
        ["simulate", "-x" | "--xml-file", file, "--graph"]
        | ["simulate", "--graph", "-x" | "--xml-file", file] => ((*file).to_owned(), true),
        ["-h" | "--help"] => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("ha-ctl: {USAGE}");
            return ExitCode::from(2);
        }
    };
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("ha-ctl: {file}: {e}");
            return ExitCode::from(1);
        }
    };
    // Failures expire and date rules are judged at the CIB's
    // execution-date, else now (as crm_simulate).
    let clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let cib = match Cib::from_xml_at(&text, Some(clock)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ha-ctl: {file}: {e}");
            return ExitCode::from(1);
        }
    };
    match schedule(&cib) {
        Ok(t) => {
            let mut out = String::from("Transition Summary:\n");
            for line in summary::lines(&t) {
                out.push_str(&line);
                out.push('\n');
            }
            if graph {
                print_graph(&t.graph, &mut out);
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
