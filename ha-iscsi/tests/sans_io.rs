//! The initiator's handshake and tasks against the target's Session, both
//! sans IO, over the wire codec with digests, with no runtime: a login,
//! a write that needs R2Ts, a read back, and a logout, with the storage
//! operations performed by polling the memory backstore's futures once.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use ha_iscsi::backstore::{BlockTarget, MemoryBackstore};
use ha_iscsi::initiator::login::{Handshake, Next};
use ha_iscsi::initiator::task::{Command, Outcome, Task};
use ha_iscsi::initiator::{InitiatorConfig, lun_field};
use ha_iscsi::login::{Auth, LoginConfig};
use ha_iscsi::negotiation::Params;
use ha_iscsi::pdu::{Bhs, Decoder, Digests, Opcode, Pdu};
use ha_iscsi::scsi::{IoDone, IoOp, LogicalUnit};
use ha_iscsi::session::{CloseReason, Event, LunMap, PortalOptions, Session, SessionConfig};

const IQN: &str = "iqn.2025-09.com.example:storage";

/// Runs a future that never waits (the memory backstore's).
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the memory backstore waited"),
    }
}

/// The target's end: a Session, its decoder, and the storage it asks for.
struct Target {
    session: Session,
    decoder: Decoder,
    now: Instant,
    /// R2Ts sent.
    r2ts: usize,
}

impl Target {
    fn new() -> Self {
        let store = MemoryBackstore::new(512, 4096).unwrap();
        let mut luns = LunMap::default();
        luns.map_lun(0, 0, LogicalUnit::new(Arc::new(store), "disk1"));
        let config = SessionConfig {
            config: Arc::new(LoginConfig::single(IQN, Auth::None)),
            luns: Arc::new(luns),
            advertised: Arc::new(vec!["192.0.2.1:3260".into()]),
            options: PortalOptions::default(),
        };
        let now = Instant::now();
        Self {
            session: Session::new(config, 1, [9; 17], now),
            decoder: Decoder::new(8192),
            now,
            r2ts: 0,
        }
    }

    /// Takes the initiator's bytes; gives back the target's.
    fn exchange(&mut self, bytes: &[u8]) -> BytesMut {
        self.decoder.handle_bytes(bytes);
        let mut out = BytesMut::new();
        while let Some(pdu) = self.decoder.poll_pdu().unwrap() {
            self.session.handle_pdu(self.now, pdu);
            while let Some(io) = self.session.poll_io() {
                let (_, unit) = &self.session.units()[io.unit];
                let done = ready(perform(&*unit.storage, io.op));
                self.session.handle_io_done(self.now, io.tag, done);
            }
            while let Some(transmit) = self.session.poll_transmit() {
                self.r2ts += usize::from(transmit.pdu.bhs.opcode() == Ok(Opcode::R2t));
                transmit.encode(&mut out).unwrap();
            }
            while let Some(event) = self.session.poll_event() {
                if let Event::LoggedIn {
                    digests,
                    max_data_segment,
                    ..
                } = event
                {
                    self.decoder.set_digests(digests);
                    self.decoder.set_max_data_len(max_data_segment);
                } else {
                    assert_eq!(event, Event::Close(CloseReason::Logout));
                }
            }
        }
        out
    }
}

async fn perform(storage: &dyn BlockTarget, op: IoOp) -> ha_iscsi::Result<IoDone> {
    match op {
        IoOp::Read { lba, len } => {
            let mut data = vec![0; len];
            storage.read(lba, &mut data).await?;
            Ok(IoDone::Read(data))
        }
        IoOp::Write { lba, data, fua } => {
            storage.write(lba, &data, fua).await?;
            Ok(IoDone::Done)
        }
        IoOp::Flush => storage.flush().await.map(|()| IoDone::Done),
        other => panic!("not asked here: {other:?}"),
    }
}

fn encode(pdus: &[Pdu], digests: Digests) -> BytesMut {
    let mut out = BytesMut::new();
    for pdu in pdus {
        pdu.encode(digests, &mut out).unwrap();
    }
    out
}

/// Runs one command to its outcome.
fn run(
    target: &mut Target,
    params: &Params,
    numbers: &mut (u32, u32),
    itt: u32,
    command: Command<'_>,
) -> Outcome {
    let digests = Digests {
        header: params.header_digest,
        data: params.data_digest,
    };
    let (mut task, mut pdus) = Task::start(itt, command, params, numbers.0, numbers.1).unwrap();
    numbers.0 += 1;
    let mut decoder = Decoder::new(params.initiator_max_recv);
    decoder.set_digests(digests);
    loop {
        let answer = target.exchange(&encode(&pdus, digests));
        decoder.handle_bytes(&answer);
        pdus = Vec::new();
        while let Some(pdu) = decoder.poll_pdu().unwrap() {
            if matches!(pdu.bhs.opcode(), Ok(Opcode::ScsiResponse)) || pdu.bhs.0[1] & 0x01 != 0 {
                numbers.1 = pdu.bhs.u32_at(24).wrapping_add(1);
            }
            let (more, outcome) = task.handle_pdu(&pdu).unwrap();
            if let Some(outcome) = outcome {
                return outcome;
            }
            pdus.extend(more);
        }
        assert!(!pdus.is_empty(), "the exchange stalled");
    }
}

#[test]
fn an_initiator_and_the_target_talk_without_a_runtime() {
    let mut target = Target::new();
    let mut node1 = InitiatorConfig::new("iqn.2025-09.com.example:node1");
    node1.header_digest = true;
    node1.data_digest = true;
    node1.max_recv = 8192;
    let (mut handshake, first) =
        Handshake::new(node1, Some(IQN.into()), [0x40, 0, 0, 0, 0, 1], (0, [0; 16]));
    let mut request = first;
    let (params, exp_stat_sn) = loop {
        let answer = target.exchange(&encode(&[request], Digests::default()));
        let mut decoder = Decoder::new(8192);
        decoder.handle_bytes(&answer);
        let response = decoder.poll_pdu().unwrap().unwrap();
        match handshake.handle_response(&response).unwrap() {
            Next::Send(next) => request = next,
            Next::Done {
                params,
                exp_stat_sn,
                ..
            } => break (params, exp_stat_sn),
        }
    };
    assert!(params.header_digest && params.data_digest);
    let mut numbers = (1, exp_stat_sn);

    // 1 MiB: more than the first burst, so R2Ts ask for the rest.
    let data: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    let mut write = [0x2a, 0, 0, 0, 0, 16, 0, 0, 0, 0];
    write[7..9].copy_from_slice(&2048u16.to_be_bytes());
    let wrote = run(
        &mut target,
        &params,
        &mut numbers,
        1,
        Command {
            lun_field: lun_field(0),
            cdb: &write,
            data_out: Bytes::from(data.clone()),
            data_in_len: 0,
        },
    );
    assert_eq!((wrote.status, wrote.sense), (0, None));
    assert!(target.r2ts > 0, "the rest asked for");

    let mut read = write;
    read[0] = 0x28;
    let back = run(
        &mut target,
        &params,
        &mut numbers,
        2,
        Command {
            lun_field: lun_field(0),
            cdb: &read,
            data_out: Bytes::new(),
            data_in_len: 1 << 20,
        },
    );
    assert_eq!(back.status, 0);
    assert!(back.data == data, "read back what was written");

    let mut logout = Bhs::new(Opcode::LogoutRequest);
    logout.set_immediate(true);
    logout.set_final(true);
    logout.set_itt(3);
    logout.set_u32_at(24, numbers.0);
    let digests = Digests {
        header: true,
        data: true,
    };
    let answer = target.exchange(&encode(&[Pdu::new(logout)], digests));
    let mut decoder = Decoder::new(8192);
    decoder.set_digests(digests);
    decoder.handle_bytes(&answer);
    let response = decoder.poll_pdu().unwrap().unwrap();
    assert_eq!(response.bhs.opcode(), Ok(Opcode::LogoutResponse));
    assert!(target.session.is_closed());
}
