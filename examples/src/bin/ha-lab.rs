//! `ha-lab`: the chapter's lab (two web servers, a load balancer, a floating
//! virtual IP) on one machine. It needs ha-vrrp's router, which does not
//! exist yet, so for now it says so instead of pretending to run.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!("ha-lab is not built yet: see the crates' status in README.md.");
    eprintln!(
        "It needs ha-lb (a load balancer) and ha-vrrp (a floating virtual IP), not written yet."
    );
    ExitCode::from(2)
}
