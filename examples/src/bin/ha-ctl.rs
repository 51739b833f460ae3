//! `ha-ctl`: the cluster's command line. So far `simulate`, which
//! schedules a CIB file and prints the decisions in crm_simulate's format.
//!
//! ```text
//! ha-ctl simulate -x cib.xml
//! ```
//! Prints `Transition Summary:` and its lines exactly as `crm_simulate -x
//! cib.xml -S` does, so the two can be diffed (the current and revised
//! status blocks come with the rest of issue #7).

use std::process::ExitCode;

use ha_cluster::{Cib, schedule, summary};

const USAGE: &str = "usage: ha-ctl simulate -x CIB.xml";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let file = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["simulate", "-x", file] | ["simulate", "--xml-file", file] => (*file).to_owned(),
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
    let mut cib = match Cib::from_xml(&text) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ha-ctl: {file}: {e}");
            return ExitCode::from(1);
        }
    };
    // Failures expire against the CIB's execution-date, else the clock.
    cib.now.get_or_insert_with(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    });
    match schedule(&cib) {
        Ok(t) => {
            println!("Transition Summary:");
            for line in summary::lines(&t) {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ha-ctl: {file}: {e}");
            ExitCode::from(1)
        }
    }
}
