//! The checker driver under tokio's paused clock: the schedule is checked to
//! the millisecond without waiting for it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use ha_core::{
    CheckError, Checker, Health, HealthCheck, HealthStatus, Phase, Schedule, State, Thresholds,
};
use tokio::sync::watch;
use tokio::time::Instant;

/// A check whose answer the test sets.
#[derive(Default)]
struct Switch {
    healthy: AtomicBool,
    probes: AtomicU32,
}

#[async_trait]
impl HealthCheck for Switch {
    async fn check(&self) -> Result<(), CheckError> {
        self.probes.fetch_add(1, Ordering::SeqCst);
        if self.healthy.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(CheckError::Connect("Connection refused".into()))
        }
    }
}

async fn wait_for(rx: &mut watch::Receiver<HealthStatus>, state: State) -> HealthStatus {
    rx.wait_for(|s| s.state == state).await.unwrap().clone()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[tokio::test(start_paused = true)]
async fn follows_inter_fastinter_and_downinter() {
    let switch = Arc::new(Switch::default());
    let schedule = Schedule::new(ms(2000))
        .unwrap()
        .fastinter(ms(500))
        .unwrap()
        .downinter(ms(5000))
        .unwrap();
    let health = Health::new(Thresholds::new(2, 3).unwrap(), State::Up);
    let start = Instant::now();
    let handle = Checker::new("web1", switch.clone(), health, schedule).spawn();
    let mut rx = handle.subscribe();

    // Failing from the start: probes at 0, 0.5 s and 1 s; down after the third.
    let down = wait_for(&mut rx, State::Down).await;
    assert_eq!(start.elapsed(), ms(1000));
    assert_eq!(down.checks, 3);
    assert_eq!(down.phase, Phase::Down);
    let t = down.last_transition.unwrap();
    assert_eq!((t.from, t.to), (State::Up, State::Down));
    assert_eq!(
        t.reason,
        Some(CheckError::Connect("Connection refused".into()))
    );

    // Healthy again at 3 s; the next probe is at 1 + 5 = 6 s (downinter),
    // then 6.5 s (fastinter) completes rise 2.
    tokio::time::sleep_until(start + ms(3000)).await;
    switch.healthy.store(true, Ordering::SeqCst);
    let up = wait_for(&mut rx, State::Up).await;
    assert_eq!(start.elapsed(), ms(6500));
    assert_eq!(up.checks, 5);
    assert_eq!(up.last_error, None);

    // Settled up: every 2 s.
    tokio::time::sleep_until(start + ms(6500 + 3 * 2000) + ms(1)).await;
    assert_eq!(switch.probes.load(Ordering::SeqCst), 8);
}

/// A check that never answers.
struct Hang;

#[async_trait]
impl HealthCheck for Hang {
    async fn check(&self) -> Result<(), CheckError> {
        std::future::pending().await
    }
}

#[tokio::test(start_paused = true)]
async fn a_probe_that_hangs_counts_as_a_timeout() {
    let schedule = Schedule::new(ms(1000)).unwrap().timeout(ms(300)).unwrap();
    let health = Health::provisional(Thresholds::default(), State::Up);
    let start = Instant::now();
    let handle = Checker::new("hang", Arc::new(Hang), health, schedule).spawn();
    let mut rx = handle.subscribe();
    let down = wait_for(&mut rx, State::Down).await;
    // Provisional up: the first failure is enough.
    assert_eq!(start.elapsed(), ms(300));
    assert_eq!(down.last_error, Some(CheckError::Timeout(ms(300))));
}

#[tokio::test(start_paused = true)]
async fn dropping_the_handle_stops_probing() {
    let switch = Arc::new(Switch::default());
    let health = Health::new(Thresholds::default(), State::Down);
    let handle = Checker::new("web1", switch.clone(), health, Schedule::default()).spawn();
    tokio::time::sleep(ms(4100)).await;
    let before = switch.probes.load(Ordering::SeqCst);
    assert_eq!(before, 3);
    drop(handle);
    tokio::time::sleep(ms(10_000)).await;
    assert_eq!(switch.probes.load(Ordering::SeqCst), before);
}

#[test]
fn zero_intervals_are_refused() {
    assert!(Schedule::new(Duration::ZERO).is_err());
    assert!(Schedule::default().fastinter(Duration::ZERO).is_err());
    assert!(Schedule::default().timeout(Duration::ZERO).is_err());
    assert_eq!(Schedule::default().probe_timeout(), ms(2000));
}
