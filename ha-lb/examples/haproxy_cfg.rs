//! The README's second example: a load balancer from haproxy.cfg files.

use ha_lb::{LoadBalancer, ServerState, config::haproxy};
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), ha_lb::Error> {
    let imported = haproxy::load(&["/etc/haproxy/haproxy.cfg".into()])?;
    for warning in &imported.warnings {
        eprintln!("{warning}");
    }
    let running = LoadBalancer::bind(imported.config)?.start().await?;
    // Take web1 out of rotation without dropping its connections:
    let webs = running.pool("web_servers").expect("in haproxy.cfg");
    webs.set_state("web1", ServerState::Drain)?;
    tokio::signal::ctrl_c().await?;
    running.shutdown(Duration::from_secs(10)).await;
    Ok(())
}
