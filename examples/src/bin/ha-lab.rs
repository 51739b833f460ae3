//! `ha-lab`: the chapter's lab (two web servers, a load balancer, a floating
//! virtual IP) on one machine. It needs ha-vrrp's router, which does not
//! exist yet, so for now it says so instead of pretending to run.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!("ha-lab is not built yet: see the crates' status in README.md.");
    eprintln!(
        "ha-lb (the load balancer) works; ha-vrrp (the floating virtual IP) is not finished."
    );
    eprintln!("Meanwhile: cargo run --release --bin ha-lb -- -f haproxy.cfg -db");
    ExitCode::from(2)
}
