//! A lab role that can hold the virtual IP (`lb`, and `web1` as its
//! backup): a VRRP daemon and an ha-lb that listens on the VIP exactly
//! while the daemon holds it. That is the chapter's keepalived.conf
//! (`notify_master` starts haproxy, `notify_backup` stops it) with, in
//! loopback mode, the listener standing in for the address: no interface
//! address or ARP entry moves.

use std::sync::Arc;
use std::time::Duration;

use ha_lb::config::Config;
use ha_lb::{LoadBalancer, Pool};
use tokio::sync::{mpsc, watch};

use super::vrrp::VipChange;

/// Whether the role holds the VIP, and its load balancer's pool.
#[derive(Debug, Clone, Default)]
pub struct Holding {
    /// Listening on the VIP.
    pub holds: bool,
    /// The running ha-lb's pool, for its servers' health.
    pub pool: Option<Arc<Pool>>,
}

/// Starts the task that follows `changes` with an ha-lb from `config`.
/// Binding is retried (every 20 ms) while it fails, as a daemon restarted
/// by systemd would be.
pub fn follow(
    name: &'static str,
    config: Config,
    pool: &'static str,
    mut changes: mpsc::UnboundedReceiver<VipChange>,
) -> watch::Receiver<Holding> {
    let (tx, rx) = watch::channel(Holding::default());
    tokio::spawn(async move {
        let mut running: Option<ha_lb::Running> = None;
        let mut want = false;
        loop {
            let change = if want && running.is_none() {
                match tokio::time::timeout(Duration::from_millis(20), changes.recv()).await {
                    Ok(change) => change,
                    Err(_) => {
                        running = listen(name, &config, pool, &tx).await;
                        continue;
                    }
                }
            } else {
                changes.recv().await
            };
            let Some(change) = change else { break };
            want = change.hold;
            if change.hold && running.is_none() {
                running = listen(name, &config, pool, &tx).await;
            } else if !change.hold
                && let Some(r) = running.take()
            {
                r.shutdown(Duration::from_secs(1)).await;
                tx.send_replace(Holding {
                    holds: false,
                    pool: None,
                });
            }
        }
        if let Some(r) = running.take() {
            r.shutdown(Duration::from_secs(1)).await;
        }
    });
    rx
}

/// Starts ha-lb on the VIP and says so; `None` if it cannot listen yet.
async fn listen(
    name: &str,
    config: &Config,
    pool: &str,
    tx: &watch::Sender<Holding>,
) -> Option<ha_lb::Running> {
    let running = start(name, config).await?;
    tx.send_replace(Holding {
        holds: true,
        pool: running.pool(pool),
    });
    Some(running)
}

async fn start(name: &str, config: &Config) -> Option<ha_lb::Running> {
    let bound = match LoadBalancer::bind(config.clone()) {
        Ok(bound) => bound,
        Err(e) => {
            tracing::debug!(role = name, error = %e, "cannot listen on the VIP yet");
            return None;
        }
    };
    match bound.start().await {
        Ok(running) => Some(running),
        Err(e) => {
            tracing::warn!(role = name, error = %e, "ha-lb failed to start");
            None
        }
    }
}
