//! The target's side of a session's life: NOP-In pings when the line is
//! quiet (an initiator that answers stays, one that does not is dropped),
//! and on stop an Async Message asking every initiator to log out.

use std::sync::Arc;
use std::time::Duration;

use ha_iscsi::backstore::MemoryBackstore;
use ha_iscsi::initiator::{InitiatorConfig, Session};
use ha_iscsi::login::Auth;
use ha_iscsi::pdu::{Bhs, Opcode, Pdu};
use ha_iscsi::scsi::LogicalUnit;
use ha_iscsi::target::PortalOptions;
use support::IQN;
use support::raw::Initiator;

mod support;

async fn portal(
    options: PortalOptions,
) -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let mut portal = support::bind(support::chapter_config(Auth::None, None)).await;
    portal.set_options(options);
    let store = Arc::new(MemoryBackstore::new(512, 64).unwrap());
    portal
        .map_lun(IQN, 0, LogicalUnit::new(store, "disk1"))
        .unwrap();
    let addr = portal.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(portal.serve_until(async move {
        let _ = stopped.await;
    }));
    (addr, stop, serving)
}

#[tokio::test]
async fn a_quiet_connection_is_pinged_and_dropped_if_it_does_not_answer() {
    let options = PortalOptions {
        nop_interval: Some(Duration::from_millis(100)),
        nop_timeout: Duration::from_millis(300),
        ..PortalOptions::default()
    };
    let (addr, _stop, _serving) = portal(options).await;
    let mut answers =
        Initiator::login_offering(addr, "iqn.2025-09.com.example:node1", &[], false).await;
    let mut silent =
        Initiator::login_offering(addr, "iqn.2025-09.com.example:node2", &[], false).await;
    for _ in 0..4 {
        let ping = answers
            .next_within(Duration::from_secs(1))
            .await
            .expect("a ping");
        assert_eq!(ping.bhs.opcode(), Ok(Opcode::NopIn));
        assert_eq!(ping.bhs.itt(), 0xffff_ffff, "the target's own ping");
        let ttt = ping.bhs.u32_at(20);
        assert_ne!(ttt, 0xffff_ffff, "one that wants an answer");
        let mut reply = Bhs::new(Opcode::NopOut);
        reply.set_immediate(true);
        reply.set_final(true);
        reply.set_itt(0xffff_ffff);
        reply.set_u32_at(20, ttt);
        answers.send(Pdu::new(reply)).await;
    }
    // The silent one got its ping and, unanswered, its connection closed.
    let ping = silent
        .next_within(Duration::from_secs(1))
        .await
        .expect("a ping");
    assert_eq!(ping.bhs.opcode(), Ok(Opcode::NopIn));
    assert!(
        silent.next_within(Duration::from_secs(2)).await.is_none(),
        "dropped"
    );
    // The answering one still works.
    let command = answers.command(9, &[0; 6], 0, false);
    answers.send(command).await;
    loop {
        let pdu = answers.next().await;
        if pdu.bhs.opcode() == Ok(Opcode::ScsiResponse) {
            assert_eq!(pdu.bhs.0[3], 0);
            break;
        }
    }
}

#[tokio::test]
async fn stopping_asks_initiators_to_log_out() {
    let options = PortalOptions {
        nop_interval: None,
        logout_wait: Duration::from_secs(2),
        ..PortalOptions::default()
    };
    let (addr, stop, serving) = portal(options).await;
    let mut session = Session::login(
        addr,
        IQN,
        &InitiatorConfig::new("iqn.2025-09.com.example:node1"),
    )
    .await
    .unwrap();
    assert_eq!(session.test_unit_ready(0).await.unwrap().0, 0);
    stop.send(()).unwrap();
    // The Async Message is read on the way to an answer: the commands
    // go on (still served) until one brings it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !session.logout_requested() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no Async Message asking for a logout"
        );
        assert_eq!(session.test_unit_ready(0).await.unwrap().0, 0);
    }
    session.logout().await.unwrap();
    tokio::time::timeout(Duration::from_secs(1), serving)
        .await
        .expect("the portal stops once its sessions logged out")
        .unwrap();
}
