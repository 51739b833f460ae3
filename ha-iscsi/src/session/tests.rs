//! The session driven by generated PDU sequences, its storage operations
//! completed at once or held back: it never panics, runs commands only
//! from inside the command window and in CmdSN order, keeps its R2Ts
//! within the negotiated limits, and writes nothing for a command whose
//! data did not all arrive.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use proptest::prelude::*;

use super::window::{COMMAND_WINDOW, sn_lt};
use super::*;
use crate::backstore::MemoryBackstore;
use crate::login::{Auth, LoginConfig};
use crate::negotiation::Params;

const BLOCK: usize = 512;
/// SCSI commands' ITTs are below this; NOP-Out and task management above.
const OTHER_ITT: u32 = 1 << 20;

/// The byte at `offset` of command `itt`'s Data-Out.
fn pattern(itt: u32, offset: usize) -> u8 {
    (itt as usize).wrapping_mul(31).wrapping_add(offset / 7) as u8
}

fn session(params: Params, exp_cmd_sn: u32) -> Session {
    let store = MemoryBackstore::new(BLOCK as u32, 4096).unwrap();
    session_on(
        LogicalUnit::new(Arc::new(store), "disk1"),
        params,
        exp_cmd_sn,
    )
}

/// A logged-in session seeing `unit` as LUN 0.
fn session_on(unit: LogicalUnit, params: Params, exp_cmd_sn: u32) -> Session {
    let options = PortalOptions {
        nop_interval: Some(Duration::from_secs(5)),
        ..PortalOptions::default()
    };
    session_with(unit, params, exp_cmd_sn, options)
}

/// [`session_on`] with the portal's `options`.
fn session_with(
    unit: LogicalUnit,
    params: Params,
    exp_cmd_sn: u32,
    options: PortalOptions,
) -> Session {
    let mut luns = LunMap::default();
    luns.map_lun(0, 0, unit);
    let config = SessionConfig {
        config: Arc::new(LoginConfig::single("iqn.2025-09.com.example:t", Auth::None)),
        luns: Arc::new(luns),
        advertised: Arc::new(vec!["127.0.0.1:3260".into()]),
        options,
    };
    let mut s = Session::new(config, 1, [7; 17], Instant::now());
    s.enter_full_feature(Outcome {
        initiator: "iqn.2025-09.com.example:i".into(),
        session_type: SessionType::Normal(0),
        params,
        isid: [0x40, 0, 0, 0, 0, 1],
        tsih: 1,
        stat_sn: 100,
        exp_cmd_sn,
    });
    assert!(matches!(s.poll_event(), Some(Event::LoggedIn { .. })));
    s
}

/// What the generated initiator does.
#[derive(Debug, Clone)]
enum Op {
    /// A READ (10) or WRITE (10) of `blocks` blocks (a TEST UNIT READY for
    /// 0), `sn` ahead of (or behind) the CmdSN the session expects.
    Command {
        write: bool,
        blocks: u8,
        sn: i8,
        immediate: bool,
        /// Blocks of immediate data with a write.
        with_data: u8,
        /// The unsolicited burst follows (InitialR2T No).
        unsolicited: bool,
        no_such_lun: bool,
    },
    /// Answers the `pick`-th open R2T: in whole, in two PDUs, or broken.
    Answer { pick: usize, how: Answer },
    /// Task management: function, the `pick`-th command it names.
    Manage { function: u8, pick: usize },
    /// A NOP-Out ping.
    Ping,
    /// Storage completions wait (or flow again, completing what waited).
    HoldIo(bool),
    /// Time passes.
    Wait(u8),
}

#[derive(Debug, Clone, Copy)]
enum Answer {
    Whole,
    Split,
    WrongDataSn,
    WrongOffset,
    EarlyFinal,
    Unsolicited,
    /// The first half twice, as if it were all.
    Repeat,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (any::<bool>(), 0u8..9, prop_oneof![4 => Just(0i8), 1 => -3i8..40], prop::bool::weighted(0.1), 0u8..9, any::<bool>(), prop::bool::weighted(0.05))
            .prop_map(|(write, blocks, sn, immediate, with_data, unsolicited, no_such_lun)| Op::Command {
                write, blocks, sn, immediate, with_data, unsolicited, no_such_lun,
            }),
        6 => (any::<usize>(), prop_oneof![
            6 => Just(Answer::Whole), 2 => Just(Answer::Split), 1 => Just(Answer::WrongDataSn),
            1 => Just(Answer::WrongOffset), 1 => Just(Answer::EarlyFinal), 1 => Just(Answer::Unsolicited),
            1 => Just(Answer::Repeat),
        ]).prop_map(|(pick, how)| Op::Answer { pick, how }),
        1 => (prop::sample::select(vec![1u8, 2, 3, 5, 6, 7, 8, 14]), any::<usize>())
            .prop_map(|(function, pick)| Op::Manage { function, pick }),
        1 => Just(Op::Ping),
        1 => any::<bool>().prop_map(Op::HoldIo),
        1 => (0u8..40).prop_map(Op::Wait),
    ]
}

fn params() -> impl Strategy<Value = Params> {
    (
        any::<bool>(),
        any::<bool>(),
        1u32..9,
        1u32..9,
        1u32..4,
        1u32..5,
    )
        .prop_map(
            |(initial_r2t, immediate_data, first, burst, outstanding, recv)| Params {
                initial_r2t,
                immediate_data,
                first_burst: first * BLOCK as u32,
                max_burst: burst * BLOCK as u32,
                max_outstanding_r2t: outstanding,
                initiator_max_recv: recv * BLOCK as u32,
                ..Params::default()
            },
        )
}

/// A command the initiator sent.
#[derive(Debug)]
struct Sent {
    cmd_sn: u32,
    immediate: bool,
    expected: usize,
    /// Data-Out bytes sent in sequence, by offset.
    covered: Vec<bool>,
    /// CmdSN the session expected when it took the command at once (no
    /// command waiting for storage), for the window check.
    window_at_arrival: Option<u32>,
}

/// An R2T the initiator has not answered in full.
#[derive(Debug, Clone, Copy)]
struct OpenR2t {
    itt: u32,
    ttt: u32,
    offset: usize,
    len: usize,
}

struct Harness {
    session: Session,
    params: Params,
    now: Instant,
    exp0: u32,
    next_itt: u32,
    sent: HashMap<u32, Sent>,
    /// Commands in the order the session started them.
    started: Vec<u32>,
    seen: HashSet<u32>,
    answered: HashSet<u32>,
    open: Vec<OpenR2t>,
    /// R2T ranges asked, by ITT.
    asked: HashMap<u32, Vec<(usize, usize)>>,
    hold: bool,
    held: Vec<IoRequest>,
}

impl Harness {
    fn new(params: Params, exp0: u32) -> Self {
        Self {
            session: session(params.clone(), exp0),
            params,
            now: Instant::now(),
            exp0,
            next_itt: 1,
            sent: HashMap::new(),
            started: Vec::new(),
            seen: HashSet::new(),
            answered: HashSet::new(),
            open: Vec::new(),
            asked: HashMap::new(),
            hold: false,
            held: Vec::new(),
        }
    }

    /// CmdSN the session expects now, as the initiator can tell: one past
    /// each non-immediate command started.
    fn exp_now(&self) -> u32 {
        let ordered = self
            .started
            .iter()
            .filter(|itt| !self.sent[itt].immediate)
            .count();
        self.exp0.wrapping_add(ordered as u32)
    }

    fn busy(&self) -> bool {
        self.session.executing.is_some()
    }

    fn run(&mut self, op: Op) {
        match op {
            Op::Command {
                write,
                blocks,
                sn,
                immediate,
                with_data,
                unsolicited,
                no_such_lun,
            } => self.command(
                write,
                blocks,
                sn,
                immediate,
                with_data,
                unsolicited,
                no_such_lun,
            ),
            Op::Answer { pick, how } => self.answer(pick, how),
            Op::Manage { function, pick } => {
                let itts: Vec<u32> = self.sent.keys().copied().collect();
                let referenced = if itts.is_empty() {
                    0
                } else {
                    itts[pick % itts.len()]
                };
                let mut b = Bhs::new(Opcode::TaskManagement);
                b.set_immediate(true);
                b.set_final(true);
                b.0[1] = 0x80 | function;
                b.set_itt(OTHER_ITT + self.next_itt);
                b.set_u32_at(20, referenced);
                b.set_u32_at(24, self.exp_now());
                self.next_itt += 1;
                self.deliver(Pdu::new(b));
            }
            Op::Ping => {
                let mut b = Bhs::new(Opcode::NopOut);
                b.set_immediate(true);
                b.set_final(true);
                b.set_itt(OTHER_ITT + self.next_itt);
                b.set_u32_at(20, NO_TAG);
                b.set_u32_at(24, self.exp_now());
                self.next_itt += 1;
                self.deliver(Pdu::new(b));
            }
            Op::HoldIo(hold) => {
                self.hold = hold;
                self.observe();
            }
            Op::Wait(secs) => {
                self.now += Duration::from_secs(u64::from(secs));
                self.session.handle_timeout(self.now);
                self.observe();
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn command(
        &mut self,
        write: bool,
        blocks: u8,
        sn: i8,
        immediate: bool,
        with_data: u8,
        unsolicited: bool,
        no_such_lun: bool,
    ) {
        let itt = self.next_itt;
        self.next_itt += 1;
        let cmd_sn = self.exp_now().wrapping_add(sn as i32 as u32);
        let expected = usize::from(blocks) * BLOCK;
        // A write that needs no R2T (its unsolicited burst covers it) shows
        // nothing when it starts: such a write carries all its data.
        let mut write = write;
        let mut with_data = with_data;
        if !self.params.initial_r2t && self.params.first_burst as usize >= expected {
            if self.params.immediate_data {
                with_data = blocks;
            } else {
                write = false;
            }
        }
        let mut b = Bhs::new(Opcode::ScsiCommand);
        b.set_immediate(immediate);
        b.set_final(true);
        b.set_itt(itt);
        b.set_lun(if no_such_lun { 5 << 48 } else { 0 });
        b.set_u32_at(20, expected as u32);
        b.set_u32_at(24, cmd_sn);
        let lba = itt;
        b.0[32] = if blocks == 0 {
            0x00
        } else if write {
            0x2a
        } else {
            0x28
        };
        if blocks > 0 {
            b.0[34..38].copy_from_slice(&lba.to_be_bytes());
            b.0[39..41].copy_from_slice(&u16::from(blocks).to_be_bytes());
        }
        b.0[1] |= if write && blocks > 0 { 0x20 } else { 0x40 };
        let mut pdu = Pdu::new(b);
        let mut covered = vec![false; expected];
        let writes = write && blocks > 0;
        if writes && self.params.immediate_data {
            let len = (usize::from(with_data) * BLOCK)
                .min(expected)
                .min(self.params.first_burst as usize);
            pdu.data = (0..len)
                .map(|i| pattern(itt, i))
                .collect::<Vec<u8>>()
                .into();
            covered[..len].fill(true);
        }
        let immediate_len = pdu.data.len();
        self.sent.insert(
            itt,
            Sent {
                cmd_sn,
                immediate,
                expected,
                covered,
                window_at_arrival: (!self.busy()).then(|| self.exp_now()),
            },
        );
        self.deliver(pdu);
        if writes && unsolicited && !self.params.initial_r2t {
            let end = (self.params.first_burst as usize).min(expected);
            if end > immediate_len {
                self.data_out(itt, NO_TAG, 0, immediate_len, end - immediate_len, true);
            }
        }
    }

    fn data_out(
        &mut self,
        itt: u32,
        ttt: u32,
        data_sn: u32,
        offset: usize,
        len: usize,
        last: bool,
    ) {
        let mut b = Bhs::new(Opcode::DataOut);
        b.set_final(last);
        b.set_itt(itt);
        b.set_u32_at(20, ttt);
        b.set_u32_at(36, data_sn);
        b.set_u32_at(40, offset as u32);
        let mut pdu = Pdu::new(b);
        pdu.data = (offset..offset + len)
            .map(|i| pattern(itt, i))
            .collect::<Vec<u8>>()
            .into();
        if let Some(sent) = self.sent.get_mut(&itt) {
            for c in sent.covered.iter_mut().skip(offset).take(len) {
                *c = true;
            }
        }
        self.deliver(pdu);
    }

    fn answer(&mut self, pick: usize, how: Answer) {
        if self.open.is_empty() {
            return;
        }
        let r2t = self.open.remove(pick % self.open.len());
        let OpenR2t {
            itt,
            ttt,
            offset,
            len,
        } = r2t;
        match how {
            Answer::Whole => self.data_out(itt, ttt, 0, offset, len, true),
            Answer::Split => {
                let half = len / 2;
                if half > 0 {
                    self.data_out(itt, ttt, 0, offset, half, false);
                    self.data_out(itt, ttt, 1, offset + half, len - half, true);
                } else {
                    self.data_out(itt, ttt, 0, offset, len, true);
                }
            }
            Answer::WrongDataSn => self.data_out(itt, ttt, 3, offset, len, true),
            Answer::WrongOffset => self.data_out(itt, ttt, 0, offset + 1, len - 1, true),
            Answer::EarlyFinal => {
                if len > 1 {
                    self.data_out(itt, ttt, 0, offset, len / 2, true);
                }
            }
            Answer::Unsolicited => self.data_out(itt, NO_TAG, 0, offset, len, true),
            Answer::Repeat => {
                let half = len / 2;
                self.data_out(itt, ttt, 0, offset, half, false);
                self.data_out(itt, ttt, 1, offset, len - half, false);
            }
        }
    }

    fn deliver(&mut self, pdu: Pdu) {
        self.session.handle_pdu(self.now, pdu);
        self.observe();
    }

    /// Takes what the session sent and asked, completing its storage
    /// operations unless they are held, and checks the invariants.
    fn observe(&mut self) {
        loop {
            while let Some(t) = self.session.poll_transmit() {
                self.check_sent(&t.pdu);
            }
            while let Some(io) = self.session.poll_io() {
                self.check_io(&io);
                self.held.push(io);
            }
            if self.hold || self.held.is_empty() {
                return;
            }
            for io in std::mem::take(&mut self.held) {
                let done = match io.op {
                    IoOp::Read { len, .. } => IoDone::Read(vec![0; len]),
                    _ => IoDone::Done,
                };
                self.session.handle_io_done(self.now, io.tag, Ok(done));
            }
        }
    }

    fn start(&mut self, itt: u32) {
        if itt < OTHER_ITT && self.sent.contains_key(&itt) && self.seen.insert(itt) {
            self.started.push(itt);
        }
    }

    fn check_sent(&mut self, pdu: &Pdu) {
        let b = &pdu.bhs;
        match b.opcode() {
            Ok(Opcode::R2t) => {
                let itt = b.itt();
                self.start(itt);
                assert!(
                    !self.answered.contains(&itt),
                    "an R2T for an answered command"
                );
                let (offset, len) = (b.u32_at(40) as usize, b.u32_at(44) as usize);
                let sent = &self.sent[&itt];
                assert!(len > 0, "an empty R2T");
                assert!(offset + len <= sent.expected, "R2T beyond the transfer");
                assert!(
                    len <= self.params.max_burst as usize,
                    "R2T over MaxBurstLength"
                );
                let unsolicited_end = if self.params.initial_r2t {
                    0
                } else {
                    (self.params.first_burst as usize).min(sent.expected)
                };
                assert!(offset >= unsolicited_end, "R2T for the unsolicited burst");
                let asked = self.asked.entry(itt).or_default();
                assert!(
                    asked
                        .iter()
                        .all(|(o, l)| offset + len <= *o || o + l <= offset),
                    "R2Ts overlap"
                );
                asked.push((offset, len));
                self.open.push(OpenR2t {
                    itt,
                    ttt: b.u32_at(20),
                    offset,
                    len,
                });
                let outstanding = self.open.iter().filter(|r| r.itt == itt).count();
                assert!(
                    outstanding <= self.params.max_outstanding_r2t as usize,
                    "{outstanding} R2Ts outstanding"
                );
            }
            Ok(Opcode::ScsiResponse) => {
                self.start(b.itt());
                self.answered.insert(b.itt());
                self.open.retain(|r| r.itt != b.itt());
            }
            Ok(Opcode::DataIn) => {
                self.start(b.itt());
                assert!(pdu.data.len() <= self.params.initiator_max_recv as usize);
                if b.0[1] & 0x01 != 0 {
                    self.answered.insert(b.itt());
                }
            }
            _ => {}
        }
    }

    fn check_io(&mut self, io: &IoRequest) {
        match &io.op {
            IoOp::Read { lba, .. } => self.start(*lba as u32),
            IoOp::Write { lba, data, .. } => {
                let itt = *lba as u32;
                self.start(itt);
                let sent = &self.sent[&itt];
                assert!(
                    sent.covered.iter().all(|c| *c),
                    "command {itt} written without all its data"
                );
                assert_eq!(data.len(), sent.expected);
                assert!(
                    data.iter().enumerate().all(|(i, b)| *b == pattern(itt, i)),
                    "command {itt} written with data it was not sent"
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    /// The window: the non-immediate commands started are those of
    /// consecutive CmdSNs from the first expected, and each taken at once
    /// was inside [ExpCmdSN, MaxCmdSN] when it came.
    fn check_order(&self) {
        let mut exp = self.exp0;
        for itt in &self.started {
            let sent = &self.sent[itt];
            if sent.immediate {
                continue;
            }
            assert_eq!(sent.cmd_sn, exp, "command {itt} out of CmdSN order");
            exp = exp.wrapping_add(1);
            if let Some(at) = sent.window_at_arrival {
                let max = at.wrapping_add(COMMAND_WINDOW - 1);
                assert!(
                    !sn_lt(sent.cmd_sn, at) && !sn_lt(max, sent.cmd_sn),
                    "command {itt} ran from outside the window"
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn generated_initiators_keep_the_invariants(
        params in params(),
        exp0 in prop_oneof![Just(0u32), Just(u32::MAX - 3), any::<u32>()],
        ops in prop::collection::vec(op(), 1..60),
    ) {
        let mut h = Harness::new(params, exp0);
        for op in ops {
            h.run(op);
            h.check_order();
            prop_assert!(h.session.tasks.len() <= COMMAND_WINDOW as usize);
        }
        h.run(Op::HoldIo(false));
        h.check_order();
    }

    #[test]
    fn arbitrary_pdus_never_panic(
        params in params(),
        pdus in prop::collection::vec(
            (prop::collection::vec(any::<u8>(), 48), prop::collection::vec(any::<u8>(), 0..600), any::<bool>()),
            1..40,
        ),
    ) {
        let mut s = session(params, 0);
        let now = Instant::now();
        let mut fed = 0;
        for (header, data, complete) in pdus {
            fed += data.len();
            let mut bhs = Bhs::new(Opcode::NopOut);
            bhs.0.copy_from_slice(&header);
            let mut pdu = Pdu::new(bhs);
            pdu.data = Bytes::from(data);
            s.handle_pdu(now, pdu);
            while s.poll_transmit().is_some() {}
            while let Some(io) = s.poll_io() {
                if complete {
                    let done = match io.op {
                        IoOp::Read { len, .. } => IoDone::Read(vec![0; len]),
                        IoOp::Provisioning { max, .. } => IoDone::Provisioning { mapped: true, run: max },
                        IoOp::CompareAndWrite { .. } => IoDone::Compared(None),
                        _ => IoDone::Done,
                    };
                    s.handle_io_done(now, io.tag, Ok(done));
                } else {
                    s.handle_io_done(now, io.tag, Err(Error::Io { operation: crate::error::Operation::Write, source: std::io::Error::other("failed") }));
                }
            }
            s.handle_timeout(now + Duration::from_secs(1));
            while s.poll_event().is_some() {}
            prop_assert!(s.buffered() <= fed, "{} bytes held of {fed} sent", s.buffered());
            prop_assert!(s.tasks.len() <= COMMAND_WINDOW as usize);
        }
        s.handle_disconnect();
    }
}

#[test]
fn a_ping_goes_out_after_a_quiet_interval_and_an_unanswered_one_closes() {
    let mut s = session(Params::default(), 0);
    let start = Instant::now();
    let due = s.poll_timeout().unwrap();
    assert!(due > start);
    s.handle_timeout(due);
    let ping = s.poll_transmit().unwrap().pdu;
    assert_eq!(ping.bhs.opcode(), Ok(Opcode::NopIn));
    let deadline = s.poll_timeout().unwrap();
    assert_eq!(deadline, due + PortalOptions::default().nop_timeout);
    s.handle_timeout(deadline);
    assert_eq!(
        s.poll_event(),
        Some(Event::Close(CloseReason::PingUnanswered))
    );
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn a_stopping_portal_asks_for_a_logout_and_closes_when_none_comes() {
    let mut s = session(Params::default(), 0);
    let now = Instant::now();
    s.handle_stop(now);
    let asked = s.poll_transmit().unwrap().pdu;
    assert_eq!(asked.bhs.opcode(), Ok(Opcode::AsyncMessage));
    let deadline = now + PortalOptions::default().logout_wait;
    assert_eq!(s.poll_timeout(), Some(deadline), "before the next ping");
    s.handle_timeout(deadline);
    assert_eq!(
        s.poll_event(),
        Some(Event::Close(CloseReason::LogoutTimeout))
    );
}

#[test]
fn a_connection_not_logged_in_in_time_closes() {
    let config = SessionConfig {
        config: Arc::new(LoginConfig::single("iqn.2025-09.com.example:t", Auth::None)),
        luns: Arc::new(LunMap::default()),
        advertised: Arc::new(vec!["127.0.0.1:3260".into()]),
        options: PortalOptions::default(),
    };
    let accepted = Instant::now();
    let mut s = Session::new(config, 1, [7; 17], accepted);
    let deadline = accepted + PortalOptions::default().login_timeout;
    assert_eq!(s.poll_timeout(), Some(deadline));
    s.handle_timeout(deadline - Duration::from_millis(1));
    assert_eq!(s.poll_event(), None, "still in time");
    assert!(!s.is_closed());
    s.handle_timeout(deadline);
    assert_eq!(
        s.poll_event(),
        Some(Event::Close(CloseReason::LoginTimeout))
    );
    assert!(s.is_closed());
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn a_logged_in_connection_has_no_login_deadline() {
    let mut s = session(Params::default(), 0);
    s.handle_timeout(Instant::now() + PortalOptions::default().login_timeout);
    assert_ne!(
        s.poll_event(),
        Some(Event::Close(CloseReason::LoginTimeout))
    );
    assert!(!s.is_closed());
}

#[test]
fn writes_announcing_data_they_never_send_hold_nothing_and_are_capped() {
    let mut s = session(Params::default(), 0);
    let now = Instant::now();
    // 1 MiB each: a window of them fits the options' max_buffered (the
    // byte bound has its own test).
    let blocks = 2048u16;
    let mut full = 0;
    for itt in 0..COMMAND_WINDOW + 8 {
        s.handle_pdu(now, immediate_write(itt, blocks));
        while let Some(t) = s.poll_transmit() {
            if t.pdu.bhs.opcode() == Ok(Opcode::ScsiResponse) {
                assert_eq!(t.pdu.bhs.0[3], scsi::TASK_SET_FULL);
                full += 1;
            }
        }
        assert_eq!(s.buffered(), 0, "nothing was sent, nothing is held");
    }
    assert_eq!(full, 8, "the writes beyond a window's worth");
    assert_eq!(s.tasks.len(), COMMAND_WINDOW as usize);
}

/// An immediate WRITE(10) of `blocks` blocks at LBA 0 with no data
/// attached: what announces a transfer and then waits for Data-Out.
fn immediate_write(itt: u32, blocks: u16) -> Pdu {
    let mut b = Bhs::new(Opcode::ScsiCommand);
    b.set_final(true);
    b.set_immediate(true);
    b.set_itt(itt);
    b.0[1] |= 0x20;
    b.set_u32_at(20, u32::from(blocks) * BLOCK as u32);
    b.0[32] = 0x2a;
    b.0[39..41].copy_from_slice(&blocks.to_be_bytes());
    Pdu::new(b)
}

#[test]
fn a_write_waiting_too_long_for_its_data_closes_the_connection() {
    let mut s = session(Params::default(), 0);
    let start = Instant::now();
    s.handle_pdu(start, immediate_write(1, 8));
    let r2t = s.poll_transmit().unwrap().pdu;
    assert_eq!(r2t.bhs.opcode(), Ok(Opcode::R2t));
    let timeout = PortalOptions::default().data_out_timeout;
    // Half the data, later: the wait starts again.
    let later = start + timeout / 2;
    let mut d = Bhs::new(Opcode::DataOut);
    d.set_itt(1);
    d.set_u32_at(20, r2t.bhs.u32_at(20));
    let mut data_out = Pdu::new(d);
    data_out.data = Bytes::from(vec![1; 4 * BLOCK]);
    s.handle_pdu(later, data_out);
    assert_eq!(s.buffered(), 4 * BLOCK);
    let deadline = later + timeout;
    assert!(s.poll_timeout().unwrap() <= deadline);
    s.handle_timeout(deadline - Duration::from_millis(1));
    assert!(!s.is_closed());
    while s.poll_event().is_some() {}
    s.handle_timeout(deadline);
    assert_eq!(
        s.poll_event(),
        Some(Event::Close(CloseReason::DataOutTimeout))
    );
}

#[test]
fn a_slow_storage_operation_does_not_time_writes_out() {
    let mut s = session(Params::default(), 0);
    let start = Instant::now();
    s.handle_pdu(start, immediate_write(1, 8));
    while s.poll_transmit().is_some() {}
    s.handle_pdu(start, scsi(2, 0, &[0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0], &[]));
    let io = s.poll_io().expect("the READ goes to storage");
    let timeout = PortalOptions::default().data_out_timeout;
    let late = start + timeout * 2;
    s.handle_timeout(late);
    assert!(!s.is_closed(), "the write waited on the target's storage");
    s.handle_io_done(late, io.tag, Ok(IoDone::Read(vec![0; BLOCK])));
    while s.poll_event().is_some() {}
    s.handle_timeout(late + timeout - Duration::from_millis(1));
    assert!(!s.is_closed());
    while s.poll_event().is_some() {}
    s.handle_timeout(late + timeout);
    assert_eq!(
        s.poll_event(),
        Some(Event::Close(CloseReason::DataOutTimeout))
    );
}

/// A SCSI command with its data, immediate, at CmdSN `cmd_sn`.
fn scsi(itt: u32, cmd_sn: u32, cdb: &[u8], data: &[u8]) -> Pdu {
    let mut b = Bhs::new(Opcode::ScsiCommand);
    b.set_final(true);
    b.set_itt(itt);
    b.0[1] |= if data.is_empty() { 0x40 } else { 0x20 };
    b.set_u32_at(20, data.len() as u32);
    b.set_u32_at(24, cmd_sn);
    b.0[32..32 + cdb.len()].copy_from_slice(cdb);
    let mut pdu = Pdu::new(b);
    pdu.data = Bytes::copy_from_slice(data);
    pdu
}

#[test]
fn a_compare_and_write_has_the_unit_alone() {
    let store = MemoryBackstore::new(BLOCK as u32, 64).unwrap();
    let unit = LogicalUnit::new(Arc::new(store), "disk1");
    let mut a = session_on(unit.clone(), Params::default(), 0);
    let mut b = session_on(unit, Params::default(), 0);
    let now = Instant::now();
    let mut caw = [0u8; 16];
    caw[0] = 0x89;
    caw[13] = 1;
    a.handle_pdu(now, scsi(1, 0, &caw, &[0; 2 * BLOCK]));
    let compare = a.poll_io().unwrap();
    assert!(compare.op.exclusive());
    let write = [0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0];
    b.handle_pdu(now, scsi(1, 0, &write, &[1; BLOCK]));
    assert_eq!(b.poll_io(), None, "held off while the compare runs");
    let retry = b.poll_timeout().unwrap();
    assert_eq!(retry, now + GATE_RETRY);
    b.handle_timeout(retry);
    assert_eq!(b.poll_io(), None, "still held off");
    a.handle_io_done(now, compare.tag, Ok(IoDone::Compared(None)));
    let retry = b.poll_timeout().unwrap();
    b.handle_timeout(retry);
    let write = b.poll_io().expect("goes once the compare is done");
    // A compare now waits for the write, and holds off the writes after it.
    a.handle_pdu(now, scsi(2, 1, &caw, &[0; 2 * BLOCK]));
    assert_eq!(a.poll_io(), None);
    let mut c = session_on(b.units()[0].1.clone(), Params::default(), 0);
    c.handle_pdu(
        now,
        scsi(1, 0, &[0x2a, 0, 0, 0, 0, 2, 0, 0, 1, 0], &[2; BLOCK]),
    );
    assert_eq!(c.poll_io(), None, "a waiting compare goes first");
    b.handle_io_done(now, write.tag, Ok(IoDone::Done));
    a.handle_timeout(a.poll_timeout().unwrap());
    let second = a.poll_io().expect("the compare's turn");
    // A session that ends gives its turn back.
    drop(a);
    let _ = second;
    c.handle_timeout(c.poll_timeout().unwrap());
    assert!(c.poll_io().is_some(), "the unit is free again");
}

/// A session whose connection may hold `extra` bytes beyond the room it
/// keeps for what it cannot refuse; that cap.
fn capped(extra: usize) -> (Session, usize) {
    let store = MemoryBackstore::new(BLOCK as u32, 4096).unwrap();
    let unit = LogicalUnit::new(Arc::new(store), "disk1");
    let probe = session_on(unit.clone(), Params::default(), 0);
    let cap = probe.headroom() + extra;
    let options = PortalOptions {
        max_buffered: cap,
        ..PortalOptions::default()
    };
    (session_with(unit, Params::default(), 0, options), cap)
}

/// A READ (10) or WRITE (10) of `blocks` at LBA 0, immediate, with
/// `data`.
fn transfer(itt: u32, write: bool, blocks: u16, data: &[u8]) -> Pdu {
    let mut b = Bhs::new(Opcode::ScsiCommand);
    b.set_final(true);
    b.set_immediate(true);
    b.set_itt(itt);
    b.0[1] |= if write { 0x20 } else { 0x40 };
    b.set_u32_at(20, u32::from(blocks) * BLOCK as u32);
    b.0[32] = if write { 0x2a } else { 0x28 };
    b.0[39..41].copy_from_slice(&blocks.to_be_bytes());
    let mut pdu = Pdu::new(b);
    pdu.data = Bytes::copy_from_slice(data);
    pdu
}

/// The status of the SCSI Response to `itt` among what `s` sent.
fn status_of(s: &mut Session, itt: u32) -> Option<(u8, Option<u8>)> {
    let mut status = None;
    while let Some(t) = s.poll_transmit() {
        if t.pdu.bhs.opcode() == Ok(Opcode::ScsiResponse) && t.pdu.bhs.itt() == itt {
            let sense_key = t.pdu.data.get(4).map(|k| k & 0x0f);
            status = Some((t.pdu.bhs.0[3], sense_key));
        }
    }
    status
}

#[test]
fn commands_past_the_byte_bound_are_refused_and_counted() {
    let (mut s, _) = capped(1 << 20);
    let now = Instant::now();
    // 768 KiB of write announced: kept, though nothing came yet.
    s.handle_pdu(now, transfer(1, true, 1536, &[]));
    assert_eq!(status_of(&mut s, 1), None);
    // 512 KiB more does not fit beside it: TASK SET FULL.
    s.handle_pdu(now, transfer(2, true, 1024, &[]));
    assert_eq!(status_of(&mut s, 2), Some((scsi::TASK_SET_FULL, None)));
    // Nor does a read of 512 KiB, whose Data-In would wait to be sent.
    s.handle_pdu(now, transfer(3, false, 1024, &[]));
    assert_eq!(status_of(&mut s, 3), Some((scsi::TASK_SET_FULL, None)));
    // A read larger than the bound could never fit: CHECK CONDITION.
    s.handle_pdu(now, transfer(4, false, 4096, &[]));
    assert_eq!(
        status_of(&mut s, 4),
        Some((scsi::CHECK_CONDITION, Some(0x05)))
    );
    assert_eq!(s.buffer_full(), 3);
    // 128 KiB fits.
    s.handle_pdu(now, transfer(5, false, 256, &[]));
    let io = s.poll_io().expect("the read runs");
    assert!(!s.wants_input(), "not while it waits for storage");
    s.handle_io_done(now, io.tag, Ok(IoDone::Read(vec![0; 256 * BLOCK])));
    assert!(s.wants_input());
    assert_eq!(s.buffer_full(), 3);
}

#[test]
fn pdus_pressed_on_a_waiting_command_close_the_connection() {
    let (mut s, cap) = capped(1 << 20);
    let now = Instant::now();
    s.handle_pdu(now, transfer(1, false, 8, &[]));
    assert!(s.poll_io().is_some());
    // The storage operation is out; a driver ignoring wants_input()
    // presses on with pings.
    for itt in 0..=COMMAND_WINDOW {
        let mut b = Bhs::new(Opcode::NopOut);
        b.set_immediate(true);
        b.set_final(true);
        b.set_itt(OTHER_ITT + itt);
        let mut ping = Pdu::new(b);
        ping.data = Bytes::from(vec![0; 8192]);
        s.handle_pdu(now, ping);
        assert!(s.buffered() <= cap);
    }
    assert_eq!(s.poll_event(), Some(Event::Close(CloseReason::BufferFull)));
    assert_eq!(s.buffer_full(), 1);
}

/// What an initiator bent on making the target hold bytes sends.
#[derive(Debug, Clone)]
enum Press {
    /// A WRITE or READ (10) of `blocks`, with `data` blocks of immediate
    /// data, immediate or at a CmdSN `sn` ahead.
    Command {
        write: bool,
        blocks: u16,
        data: u8,
        sn: Option<u8>,
    },
    /// Data-Out for the `pick`-th open R2T: `len` bytes from `offset`.
    DataOut {
        pick: usize,
        offset: u32,
        len: u16,
        last: bool,
    },
    /// A ping with `len` bytes to echo.
    Ping { len: u16 },
    /// Any PDU at all.
    Raw { header: Vec<u8>, data: Vec<u8> },
    /// Storage answers wait, or flow again.
    HoldIo(bool),
    /// Time passes.
    Wait(u8),
}

fn press() -> impl Strategy<Value = Press> {
    prop_oneof![
        4 => (any::<bool>(), 0u16..1200, 0u8..20, prop::option::of(0u8..40))
            .prop_map(|(write, blocks, data, sn)| Press::Command { write, blocks, data, sn }),
        4 => (any::<usize>(), 0u32..700_000, 0u16..8300, any::<bool>())
            .prop_map(|(pick, offset, len, last)| Press::DataOut { pick, offset, len, last }),
        1 => (0u16..9000).prop_map(|len| Press::Ping { len }),
        1 => (prop::collection::vec(any::<u8>(), 48), prop::collection::vec(any::<u8>(), 0..600))
            .prop_map(|(header, data)| Press::Raw { header, data }),
        1 => any::<bool>().prop_map(Press::HoldIo),
        1 => (0u8..40).prop_map(Press::Wait),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the initiator sends, the connection holds at most the
    /// options' max_buffered, counting responses not yet taken by the
    /// driver (a driver taking them after every input, and reading only
    /// while the session wants input, unless `heed` is off).
    #[test]
    fn the_bytes_held_never_pass_the_bound(
        extra in 0usize..(1 << 20),
        heed in prop::bool::weighted(0.9),
        presses in prop::collection::vec(press(), 1..80),
    ) {
        let (mut s, cap) = capped(extra);
        let mut now = Instant::now();
        let mut hold = false;
        let mut held: Vec<IoRequest> = Vec::new();
        let mut r2ts: Vec<(u32, u32, u32)> = Vec::new();
        let mut itt = 1u32;
        let mut cmd_sn = 0u32;
        for press in presses {
            let pdu = match press {
                Press::Command { write, blocks, data, sn } => {
                    itt += 1;
                    let immediate = vec![7u8; usize::from(data) * BLOCK];
                    let mut pdu = transfer(itt, write, blocks, if write { &immediate } else { &[] });
                    if let Some(ahead) = sn {
                        pdu.bhs.set_immediate(false);
                        pdu.bhs.set_u32_at(24, cmd_sn.wrapping_add(u32::from(ahead)));
                        if ahead == 0 {
                            cmd_sn = cmd_sn.wrapping_add(1);
                        }
                    }
                    Some(pdu)
                }
                Press::DataOut { pick, offset, len, last } if !r2ts.is_empty() => {
                    let (itt, ttt, asked) = r2ts[pick % r2ts.len()];
                    // Half the time where the R2T asked, so data piles up.
                    let offset = if pick % 2 == 0 { asked } else { offset };
                    let mut d = Bhs::new(Opcode::DataOut);
                    d.set_itt(itt);
                    d.set_u32_at(20, ttt);
                    d.set_u32_at(40, offset);
                    d.set_final(last);
                    let mut pdu = Pdu::new(d);
                    pdu.data = Bytes::from(vec![1u8; usize::from(len)]);
                    Some(pdu)
                }
                Press::DataOut { .. } => None,
                Press::Ping { len } => {
                    let mut b = Bhs::new(Opcode::NopOut);
                    b.set_immediate(true);
                    b.set_final(true);
                    b.set_itt(OTHER_ITT + itt);
                    itt += 1;
                    let mut ping = Pdu::new(b);
                    ping.data = Bytes::from(vec![0u8; usize::from(len)]);
                    Some(ping)
                }
                Press::Raw { header, data } => {
                    let mut bhs = Bhs::new(Opcode::NopOut);
                    bhs.0.copy_from_slice(&header);
                    let mut pdu = Pdu::new(bhs);
                    pdu.data = Bytes::from(data);
                    Some(pdu)
                }
                Press::HoldIo(h) => { hold = h; None }
                Press::Wait(secs) => {
                    now += Duration::from_millis(u64::from(secs) * 250);
                    s.handle_timeout(now);
                    None
                }
            };
            if let Some(pdu) = pdu
                && (s.wants_input() || !heed)
            {
                s.handle_pdu(now, pdu);
            }
            loop {
                prop_assert!(s.buffered() <= cap, "{} held, bound {cap}", s.buffered());
                while let Some(t) = s.poll_transmit() {
                    if t.pdu.bhs.opcode() == Ok(Opcode::R2t) {
                        r2ts.push((t.pdu.bhs.itt(), t.pdu.bhs.u32_at(20), t.pdu.bhs.u32_at(40)));
                    }
                }
                held.extend(std::iter::from_fn(|| s.poll_io()));
                if hold || held.is_empty() {
                    break;
                }
                for io in std::mem::take(&mut held) {
                    let done = match io.op {
                        IoOp::Read { len, .. } => IoDone::Read(vec![0; len]),
                        _ => IoDone::Done,
                    };
                    s.handle_io_done(now, io.tag, Ok(done));
                    prop_assert!(s.buffered() <= cap, "{} held, bound {cap}", s.buffered());
                }
            }
            while s.poll_event().is_some() {}
        }
    }
}
