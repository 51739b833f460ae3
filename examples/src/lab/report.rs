//! What a person sees: the live status line while drills run and the final
//! table of drills; `--json` for machines.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use super::client::Client;
use super::drill::Outcome;
use super::stage::Stage;
use ha_vrrp::State;

/// A VRRP daemon's state and priority for the status line.
pub fn vrrp_word(status: Option<super::vrrp::Status>) -> String {
    match status {
        None => "stopped".into(),
        Some(s) if s.frozen => format!("FROZEN {}", s.priority),
        Some(s) => match s.state {
            State::Master => format!("MASTER {}", s.priority),
            State::Backup => format!("BACKUP {}", s.priority),
            State::Fault => format!("FAULT {}", s.priority),
            State::Initialize => "stopped".into(),
        },
    }
}

/// Prints the status line as drills run: rewritten in place every 250 ms
/// on a terminal, a new line every second otherwise.
#[derive(Debug)]
pub struct Progress {
    started: Instant,
    live: bool,
    last: Option<Instant>,
    shown: bool,
}

impl Progress {
    /// Timing from `started`; `live` when standard error is a terminal.
    pub fn new(started: Instant, live: bool) -> Self {
        Self {
            started,
            live,
            last: None,
            shown: false,
        }
    }

    /// The status line with the time since the start.
    pub fn line(&self, lab: &dyn Stage) -> String {
        format!(
            "[{:5.1}s] {}",
            self.started.elapsed().as_secs_f64(),
            lab.status_line()
        )
    }

    /// Shows the status if it is time to.
    pub fn show(&mut self, lab: &dyn Stage, client: Option<&Client>) {
        let every = Duration::from_millis(if self.live { 250 } else { 1000 });
        if self.last.is_some_and(|t| t.elapsed() < every) {
            return;
        }
        self.last = Some(Instant::now());
        let mut line = self.line(lab);
        if let Some(client) = client {
            let recent = client.since(Instant::now() - Duration::from_secs(1));
            let errors = recent.iter().filter(|s| s.result.is_err()).count();
            let _ = write!(line, " | client {} req/s, {errors} errors", recent.len());
        }
        if self.live {
            eprint!("\r\x1b[2K  {line}");
            self.shown = true;
        } else {
            eprintln!("  {line}");
        }
    }

    /// Ends a live line.
    pub fn clear(&mut self) {
        if self.shown {
            eprint!("\r\x1b[2K");
            self.shown = false;
        }
        self.last = None;
    }
}

/// The final table.
pub fn table(outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<10} {:>6} {:>6} {:>11} {:>10} {:>10}  {:<6} measured / bound",
        "drill", "sent", "failed", "longest gap", "measured", "bound", "result"
    );
    for o in outcomes {
        let ms = |v: Option<f64>| v.map_or("-".into(), |v| format!("{:.0} ms", v));
        let _ = writeln!(
            out,
            "{:<10} {:>6} {:>6} {:>8.0} ms {:>10} {:>10}  {:<6} {} / {}",
            o.drill,
            o.sent,
            o.failed,
            o.longest_gap_ms,
            ms(o.measured_ms),
            ms(o.bound_ms),
            if o.passed { "PASS" } else { "FAIL" },
            o.measured,
            o.bound
        );
        for note in &o.notes {
            let _ = writeln!(out, "{:<10} note: {note}", "");
        }
    }
    out
}
