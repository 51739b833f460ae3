//! One connection of the target, from its login through the full feature
//! phase, as a state machine without I/O or clock: PDUs, storage
//! completions and the time go in; PDUs to send, storage operations to
//! perform, the next deadline and events come out.
//!
//! ```text
//! if session.wants_input() {                     // not while a command waits
//!     session.handle_pdu(now, pdu);              // decoded from the socket
//! }
//! while let Some(t) = session.poll_transmit() { t.encode(&mut out)? }
//! while let Some(io) = session.poll_io() {       // a read, a write, a flush...
//!     let done = perform(&session.units()[io.unit].1, io.op).await;
//!     session.handle_io_done(now, io.tag, done);
//! }
//! session.handle_timeout(now);                   // at poll_timeout()
//! while let Some(event) = session.poll_event() { /* LoggedIn, Close... */ }
//! ```
//!
//! The full feature phase: Text (`SendTargets`, continued over several
//! PDUs), NOP-Out answered and NOP-In keep-alive pings sent by the target
//! (a connection that stops answering them is closed), SCSI commands
//! through [`scsi`] one at a time in CmdSN order (`window.rs`), Data-In split
//! to the initiator's MaxRecvDataSegmentLength and MaxBurstLength with the
//! status in the last PDU, Data-Out (`transfer.rs`), task management
//! (`task_mgmt.rs`), Logout, Reject for what is malformed, and an Async
//! Message asking the initiator to log out when the portal stops.
//!
//! While a command waits for its storage operation, the PDUs that arrive
//! wait too, so commands run, and are answered, in the order they came;
//! the driver stops handing them in ([`Session::wants_input`]). What a
//! connection holds ([`Session::buffered`]) stays under the options'
//! `max_buffered`: a command that would take it past is answered TASK SET
//! FULL before any of its data is asked for.

mod command;
mod luns;
mod task_mgmt;
pub(crate) mod transfer;
pub(crate) mod window;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

pub use luns::LunMap;

use crate::discovery;
use crate::error::{Error, Result};
use crate::login::{Login, LoginConfig, Outcome, SessionType, Step as LoginStep};
use crate::pdu::{Bhs, Digests, Opcode, Pdu};
use crate::scsi::unit::Hold;
use crate::scsi::{self, Completion, IoDone, IoOp, LogicalUnit, Nexus, Pending, Sense, Step};
use crate::text;
use transfer::Transfer;
use window::{COMMAND_WINDOW, CommandWindow};

/// The Target Transfer Tag (and Initiator Task Tag) meaning "none".
pub(crate) const NO_TAG: u32 = 0xffff_ffff;
/// Reject reasons (RFC 7143 11.17.1).
const REJECT_DIGEST: u8 = 0x02;
const REJECT_PROTOCOL: u8 = 0x04;
const REJECT_NOT_SUPPORTED: u8 = 0x05;

/// How a portal keeps connections alive and how it stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortalOptions {
    /// A NOP-In ping is sent after this long without traffic (`None`: no
    /// pings).
    pub nop_interval: Option<Duration>,
    /// A ping unanswered this long closes the connection.
    pub nop_timeout: Duration,
    /// On stop, how long initiators get to log out after the Async Message
    /// asking them to.
    pub logout_wait: Duration,
    /// A connection not logged in this long after it was accepted closes:
    /// an unauthenticated peer must not hold a connection open forever.
    pub login_timeout: Duration,
    /// A write that gets none of the data it waits for this long closes
    /// the connection, as LIO does at ErrorRecoveryLevel 0 (the only
    /// level this target offers): its data can no longer be recovered.
    pub data_out_timeout: Duration,
    /// How many connections the portal holds, in all, per initiator
    /// address, and not logged in yet.
    pub connections: crate::admission::ConnectionLimits,
    /// Bytes one connection holds at most ([`Session::buffered`]): the
    /// data of its writes (collected, or with the storage), the Data-In
    /// of its reads, the PDUs waiting for their turn and the responses
    /// waiting to be sent. A command that would take it past (less the
    /// room kept for PDUs that cannot be refused: a command window's
    /// worth and pings) is answered TASK SET FULL; one that could never
    /// fit, CHECK CONDITION. The default, 64 MiB, holds a command window
    /// of 1 MiB writes and reads, or one of the largest a command may
    /// move (32 MiB), with room to spare.
    pub max_buffered: usize,
}

impl Default for PortalOptions {
    fn default() -> Self {
        // LIO's defaults: nopin_timeout 15 s, nopin_response_timeout 30 s,
        // login_timeout 15 s. LIO's Data-Out timeout is 3 s; 30 s spares a
        // slow or congested link a session reinstatement, while a write
        // that never gets its data is still let go.
        Self {
            nop_interval: Some(Duration::from_secs(15)),
            nop_timeout: Duration::from_secs(30),
            logout_wait: Duration::from_secs(2),
            login_timeout: Duration::from_secs(15),
            data_out_timeout: Duration::from_secs(30),
            connections: crate::admission::ConnectionLimits::default(),
            max_buffered: 64 << 20,
        }
    }
}

/// What a session serves: the same for every connection of a portal.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The targets and their authentication.
    pub config: Arc<LoginConfig>,
    /// Their LUNs and who sees which.
    pub luns: Arc<LunMap>,
    /// The addresses SendTargets reports (`ip:port`).
    pub advertised: Arc<Vec<String>>,
    /// Keep-alive and stop behaviour.
    pub options: PortalOptions,
}

/// A PDU to send, with the digests it goes out with (a login's last
/// response goes without the digests it agreed on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The PDU.
    pub pdu: Pdu,
    /// Its digests.
    pub digests: Digests,
}

impl Transmit {
    /// Appends its wire form to `out`.
    pub fn encode(&self, out: &mut BytesMut) -> Result<()> {
        self.pdu.encode(self.digests, out)
    }
}

/// A storage operation for the driver; its result goes back with
/// [`Session::handle_io_done`] and `tag`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoRequest {
    /// Names the operation in [`Session::handle_io_done`].
    pub tag: u64,
    /// The unit: an index into [`Session::units`].
    pub unit: usize,
    /// What to do.
    pub op: IoOp,
}

/// Why a session ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The login failed (its answer was sent).
    LoginFailed,
    /// The initiator logged out.
    Logout,
    /// A NOP-In ping went unanswered.
    PingUnanswered,
    /// Asked to log out, the initiator did not in time.
    LogoutTimeout,
    /// A TARGET COLD RESET of its target.
    ColdReset,
    /// The portal stops before the initiator logged in.
    Stopped,
    /// The login did not complete within the options' `login_timeout`.
    LoginTimeout,
    /// A write got none of its data within the options'
    /// `data_out_timeout`.
    DataOutTimeout,
    /// PDUs kept coming while a command waited for storage
    /// ([`Session::wants_input`] said to stop), past a command window's
    /// worth.
    BufferFull,
    /// What the initiator sent cannot be read on.
    Malformed(Error),
}

/// What the driver hears from a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The full feature phase begins: the PDUs that follow carry these
    /// digests and data segments of up to `max_data_segment` bytes.
    LoggedIn {
        /// The initiator's name.
        initiator: String,
        /// Normal (with the target's index) or discovery.
        session_type: SessionType,
        /// Header and data digests.
        digests: Digests,
        /// The MaxRecvDataSegmentLength the target declared.
        max_data_segment: u32,
    },
    /// A TARGET COLD RESET of the target at this index: every connection
    /// to it closes ([`Session::handle_cold_reset`]).
    ColdReset(usize),
    /// Close the connection once what is queued is sent.
    Close(CloseReason),
}

/// A command past its data phase: running, or about to.
#[derive(Debug, Clone, Copy)]
struct Command {
    itt: u32,
    lun_field: u64,
    cdb: [u8; 16],
    /// Expected Data Transfer Length from the initiator.
    expected: usize,
    /// The R bit: the initiator takes Data-In.
    reads: bool,
    /// Its unit, an index into `visible` (`None`: no such LUN).
    unit: Option<usize>,
    /// Bytes it holds while it runs: a write's data, a read's Data-In to
    /// come (its Expected Data Transfer Length).
    held: usize,
}

/// A write collecting its data.
#[derive(Debug)]
struct Task {
    command: Command,
    transfer: Transfer,
    /// When its command or its latest Data-Out came.
    heard: Instant,
}

/// The command whose storage operation is out, or waits to start.
#[derive(Debug)]
struct Executing {
    command: Command,
    /// The Data-Out the command takes.
    wanted: usize,
    pending: Pending,
    flight: Flight,
}

/// Where a command's storage operation stands.
#[derive(Debug)]
enum Flight {
    /// With the driver, as `tag`, holding the unit's gate so.
    Out { tag: u64, hold: Hold },
    /// Waiting for the unit's gate (other sessions' writes, or a COMPARE
    /// AND WRITE) until `retry`; `waiting`: counted among the exclusive
    /// operations waiting.
    Held {
        op: IoOp,
        waiting: bool,
        retry: Instant,
    },
}

/// How long an operation the unit's gate held back waits before it tries
/// again (the operations in the way are single storage calls).
const GATE_RETRY: Duration = Duration::from_millis(1);

/// The full feature phase's state.
#[derive(Debug)]
struct Phase {
    outcome: Outcome,
    nexus: Nexus,
    /// The LUNs this session sees.
    visible: Vec<(u64, LogicalUnit)>,
    /// Their numbers (REPORT LUNS).
    numbers: Vec<u64>,
    window: CommandWindow,
    stat_sn: u32,
}

/// One connection's session, sans I/O.
#[derive(Debug)]
pub struct Session {
    portal: SessionConfig,
    login: Login,
    digests: Digests,
    phase: Option<Phase>,
    /// The rest of a Text answer too long for one PDU.
    pending_text: Bytes,
    /// Writes waiting for their data, by ITT.
    tasks: HashMap<u32, Task>,
    executing: Option<Executing>,
    /// PDUs that came while a command waited for storage.
    backlog: VecDeque<Pdu>,
    next_ttt: u32,
    next_tag: u64,
    /// The TTT of the NOP-In ping waiting for its answer, and since when.
    ping: Option<(u32, Instant)>,
    last_heard: Instant,
    /// The latest time an input brought.
    now: Instant,
    logout_deadline: Option<Instant>,
    /// When a connection still logging in closes.
    login_deadline: Instant,
    /// Whether TASK SET FULL was logged (once per connection).
    task_set_full_logged: bool,
    /// Commands refused, or the connection closed, for the options'
    /// `max_buffered`.
    buffer_full: u64,
    closed: bool,
    transmit: VecDeque<Transmit>,
    io: VecDeque<IoRequest>,
    events: VecDeque<Event>,
}

impl Session {
    /// A connection accepted at `now`, which will give the session handle
    /// `tsih`; `seed` (random bytes) starts StatSN and makes the CHAP
    /// challenge.
    pub fn new(portal: SessionConfig, tsih: u16, seed: [u8; 17], now: Instant) -> Self {
        let mut challenge = [0u8; 16];
        challenge.copy_from_slice(&seed[..16]);
        let stat_sn = u32::from_be_bytes([seed[0], seed[1], seed[2], seed[3]]);
        let login = Login::new(portal.config.clone(), tsih, stat_sn, challenge, seed[16]);
        let login_deadline = now + portal.options.login_timeout;
        Self {
            portal,
            login,
            digests: Digests::default(),
            phase: None,
            pending_text: Bytes::new(),
            tasks: HashMap::new(),
            executing: None,
            backlog: VecDeque::new(),
            next_ttt: 1,
            next_tag: 0,
            ping: None,
            last_heard: now,
            now,
            logout_deadline: None,
            login_deadline,
            task_set_full_logged: false,
            buffer_full: 0,
            closed: false,
            transmit: VecDeque::new(),
            io: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The target this session logged in to (its index), if a normal one.
    pub fn target(&self) -> Option<usize> {
        match self.phase.as_ref()?.outcome.session_type {
            SessionType::Normal(t) => Some(t),
            SessionType::Discovery => None,
        }
    }

    /// The LUNs this session sees, by number ([`IoRequest::unit`]
    /// indexes it).
    pub fn units(&self) -> &[(u64, LogicalUnit)] {
        self.phase.as_ref().map_or(&[], |p| &p.visible)
    }

    /// Whether the session has ended (after [`Event::Close`]).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The next PDU to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmit.pop_front()
    }

    /// The next storage operation to perform.
    pub fn poll_io(&mut self) -> Option<IoRequest> {
        self.io.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Bytes the connection holds: continued login text, the data of
    /// writes (as it arrives, and with the storage), the Data-In of the
    /// read running, the data of PDUs waiting (the CmdSN window, those that
    /// came while a command waited for storage), and the responses waiting
    /// to be sent (their data segments; headers are 48 bytes each).
    /// Bounded by the options' `max_buffered` after every input, as long
    /// as the driver takes what the session sends after each and stops
    /// reading while [`Session::wants_input`] says so.
    pub fn buffered(&self) -> usize {
        self.waiting()
            + self
                .tasks
                .values()
                .map(|t| t.transfer.buffered())
                .sum::<usize>()
    }

    /// Bytes of data in everything but the writes collecting theirs.
    fn waiting(&self) -> usize {
        self.login.buffered()
            + self.pending_text.len()
            + self.phase.as_ref().map_or(0, |p| p.window.buffered())
            + self.backlog.iter().map(|p| p.data.len()).sum::<usize>()
            + self
                .transmit
                .iter()
                .map(|t| t.pdu.data.len())
                .sum::<usize>()
            + self.executing.as_ref().map_or(0, |e| e.command.held)
    }

    /// [`Session::buffered`] with each write collecting data counted at
    /// the most it will hold.
    fn committed(&self) -> usize {
        self.waiting()
            + self
                .tasks
                .values()
                .map(|t| t.transfer.expected())
                .sum::<usize>()
    }

    /// Room kept under the options' `max_buffered` for PDUs the session
    /// cannot refuse: a command window of PDUs waiting for their turn and
    /// as many arrived while a command waited for storage (each at most
    /// the target's MaxRecvDataSegmentLength), a ping's echo, a Reject,
    /// and the sense data of a window of answers.
    fn headroom(&self) -> usize {
        let max_recv = self
            .phase
            .as_ref()
            .map_or(0, |p| p.outcome.params.target_max_recv as usize);
        (2 * COMMAND_WINDOW as usize + 2) * max_recv + COMMAND_WINDOW as usize * 64 + 4096
    }

    /// Whether a command needing `need` more bytes fits under the
    /// options' `max_buffered`: `Err(true)` if it never could.
    pub(crate) fn room_for(&mut self, need: usize) -> std::result::Result<(), bool> {
        let cap = self
            .portal
            .options
            .max_buffered
            .saturating_sub(self.headroom());
        if self.committed().saturating_add(need) <= cap {
            return Ok(());
        }
        self.note_buffer_full(need);
        Err(need > cap)
    }

    /// Counts (and logs, once per connection) the options' `max_buffered`
    /// reached.
    fn note_buffer_full(&mut self, need: usize) {
        self.buffer_full += 1;
        if self.buffer_full == 1 {
            tracing::warn!(
                buffered = self.buffered(),
                need,
                max = self.portal.options.max_buffered,
                "bytes held by the connection at the limit: command refused"
            );
        }
    }

    /// Commands refused, or the connection closed, because it held the
    /// options' `max_buffered`.
    pub fn buffer_full(&self) -> u64 {
        self.buffer_full
    }

    /// Whether the driver should hand the session more PDUs: not while a
    /// command waits for storage (the PDUs would only wait too; TCP holds
    /// them back instead). A driver that does anyway may give a command
    /// window's worth before the connection is closed.
    pub fn wants_input(&self) -> bool {
        !self.closed && self.executing.is_none()
    }

    /// When [`Session::handle_timeout`] is due: the login's deadline
    /// (before the full feature phase), the keep-alive ping, its answer's
    /// deadline, the logout deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        if self.phase.is_none() {
            return Some(self.login_deadline);
        }
        let keepalive = match (self.ping, self.portal.options.nop_interval) {
            (Some((_, sent)), _) => Some(sent + self.portal.options.nop_timeout),
            (None, Some(interval)) => Some(self.last_heard + interval),
            (None, None) => None,
        };
        let retry = match &self.executing {
            Some(Executing {
                flight: Flight::Held { retry, .. },
                ..
            }) => Some(*retry),
            _ => None,
        };
        let data_out = self.data_out_deadline();
        [keepalive, self.logout_deadline, retry, data_out]
            .into_iter()
            .flatten()
            .min()
    }

    /// When the write waiting longest for data times out. None while a
    /// storage operation is out: the session reads no Data-Out then, so
    /// the wait is the target's, not the initiator's.
    fn data_out_deadline(&self) -> Option<Instant> {
        if self.executing.is_some() {
            return None;
        }
        let oldest = self.tasks.values().map(|t| t.heard).min()?;
        Some(oldest + self.portal.options.data_out_timeout)
    }

    /// Time passed: closes a connection whose login took too long or a
    /// write of which waited too long for its data, pings
    /// the initiator after a quiet interval, closes when a ping went
    /// unanswered or a requested logout did not come, retries a storage
    /// operation the unit's gate held back.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        if self.closed {
            return;
        }
        if self.phase.is_none() {
            if now >= self.login_deadline {
                tracing::warn!(
                    timeout = ?self.portal.options.login_timeout,
                    "login not completed in time: closing the connection"
                );
                self.close(CloseReason::LoginTimeout);
            }
            return;
        }
        let due =
            |e: &mut Executing| matches!(e.flight, Flight::Held { retry, .. } if now >= retry);
        if let Some(executing) = self.executing.take_if(due) {
            self.begin_io(executing);
            self.pump();
        }
        if self.data_out_deadline().is_some_and(|d| now >= d) {
            tracing::warn!(
                timeout = ?self.portal.options.data_out_timeout,
                "a write waited too long for its data: closing the connection"
            );
            return self.close(CloseReason::DataOutTimeout);
        }
        if self.logout_deadline.is_some_and(|d| now >= d) {
            tracing::info!("initiator did not log out in time");
            return self.close(CloseReason::LogoutTimeout);
        }
        match (self.ping, self.portal.options.nop_interval) {
            (Some((_, sent)), _) if now >= sent + self.portal.options.nop_timeout => {
                tracing::warn!("NOP-In ping unanswered: closing the connection");
                self.close(CloseReason::PingUnanswered);
            }
            (None, Some(interval)) if now >= self.last_heard + interval => self.send_ping(now),
            _ => {}
        }
    }

    /// The portal stops: the initiator is asked to log out (an Async
    /// Message) and given the options' `logout_wait`; a connection not
    /// logged in yet closes.
    pub fn handle_stop(&mut self, now: Instant) {
        if self.closed || self.logout_deadline.is_some() {
            return;
        }
        if self.phase.is_none() {
            return self.close(CloseReason::Stopped);
        }
        let mut r = Bhs::new(Opcode::AsyncMessage);
        r.set_final(true);
        r.set_itt(NO_TAG);
        self.current_stat_sn(&mut r);
        r.0[36] = 1;
        // Parameter3: seconds the initiator has to log out.
        let wait = self.portal.options.logout_wait.as_secs().clamp(1, 3600) as u16;
        r.0[42..44].copy_from_slice(&wait.to_be_bytes());
        self.send(Pdu::new(r));
        self.logout_deadline = Some(now + self.portal.options.logout_wait);
    }

    /// A TARGET COLD RESET of the target at index `target` (from any
    /// session of the portal): a session to it closes.
    pub fn handle_cold_reset(&mut self, target: usize) {
        if !self.closed && self.target() == Some(target) {
            tracing::info!("target cold reset: closing the connection");
            self.close(CloseReason::ColdReset);
        }
    }

    /// The connection is gone (closed, failed, or dropped): what the nexus
    /// held that does not outlive it is released, and the unit's gate if a
    /// storage operation held it.
    pub fn handle_disconnect(&mut self) {
        self.closed = true;
        if let Some(executing) = self.executing.take() {
            self.release(&executing);
        }
        if let Some(phase) = self.phase.take() {
            for (_, unit) in &phase.visible {
                unit.handle_nexus_loss(&phase.nexus);
            }
        }
    }

    /// The decoder refused what came: a PDU whose header was sound but its
    /// data digest or opcode was not is rejected and the connection goes
    /// on (RFC 7143 7.8, 11.17); anything else closes it.
    pub fn handle_decode_error(&mut self, now: Instant, error: Error, header: Option<Bhs>) {
        if self.closed {
            return;
        }
        let reason = match error {
            Error::Opcode(_) => REJECT_NOT_SUPPORTED,
            Error::DataDigest { .. } => REJECT_DIGEST,
            _ => return self.close(CloseReason::Malformed(error)),
        };
        if self.phase.is_none() {
            return self.close(CloseReason::Malformed(error));
        }
        self.last_heard = now;
        if let Some(bhs) = header {
            self.reject_header(&bhs, reason);
            // Data lost to a digest error: its command cannot complete
            // (ErrorRecoveryLevel 0).
            if bhs.opcode() == Ok(Opcode::DataOut) {
                self.fail_task(bhs.itt(), Sense::CRC_ERROR);
            }
        }
    }

    /// A PDU from the initiator.
    pub fn handle_pdu(&mut self, now: Instant, pdu: Pdu) {
        self.now = now;
        if self.closed {
            return;
        }
        self.last_heard = now;
        if self.phase.is_none() {
            return self.handle_login(pdu);
        }
        let max_recv = self
            .phase
            .as_ref()
            .map_or(0, |p| p.outcome.params.target_max_recv as usize);
        if pdu.data.len() > max_recv {
            // The decoder refuses these; a driver without one may not.
            let error = Error::DataSegmentTooLong {
                len: u32::try_from(pdu.data.len()).unwrap_or(u32::MAX),
                max: max_recv as u32,
            };
            return self.close(CloseReason::Malformed(error));
        }
        if self.executing.is_some() {
            if self.backlog.len() >= COMMAND_WINDOW as usize {
                self.note_buffer_full(pdu.data.len());
                tracing::warn!("PDUs kept coming while a command waited: closing the connection");
                return self.close(CloseReason::BufferFull);
            }
            self.backlog.push_back(pdu);
            return;
        }
        self.full_feature(pdu);
        self.pump();
    }

    /// The storage operation `tag` completed at `now`.
    pub fn handle_io_done(&mut self, now: Instant, tag: u64, result: Result<IoDone>) {
        self.now = now;
        let out = |e: &mut Executing| matches!(e.flight, Flight::Out { tag: t, .. } if t == tag);
        let Some(executing) = self.executing.take_if(out) else {
            tracing::debug!(tag, "completion of no operation in flight: ignored");
            return;
        };
        self.release(&executing);
        let step = match executing.command.unit.and_then(|i| self.units().get(i)) {
            Some((_, unit)) => scsi::resume(unit, executing.pending, result),
            None => Step::Done(Completion::check(Sense::NO_SUCH_LUN)),
        };
        self.advance(executing.command, executing.wanted, step);
        // The session reads again: the writes' wait for data restarts.
        for task in self.tasks.values_mut() {
            task.heard = now;
        }
        self.pump();
    }

    /// Gives back what a command's storage operation held of its unit's
    /// gate.
    fn release(&self, executing: &Executing) {
        let Some((_, unit)) = executing.command.unit.and_then(|i| self.units().get(i)) else {
            return;
        };
        match executing.flight {
            Flight::Out {
                hold: Hold::Free, ..
            } => {}
            Flight::Out { hold, .. } => unit.lock().gate.end(hold),
            Flight::Held { waiting: true, .. } => unit.lock().gate.give_up(),
            Flight::Held { .. } => {}
        }
    }

    fn close(&mut self, reason: CloseReason) {
        self.closed = true;
        self.events.push_back(Event::Close(reason));
    }

    /// Runs what waited: commands whose CmdSN came up, then the PDUs that
    /// arrived while a command waited for storage.
    fn pump(&mut self) {
        while !self.closed && self.executing.is_none() {
            let ready = self.phase.as_mut().and_then(|p| p.window.take_ready());
            if let Some(pdu) = ready {
                self.dispatch(pdu);
            } else if let Some(pdu) = self.backlog.pop_front() {
                self.full_feature(pdu);
            } else {
                return;
            }
        }
    }

    fn handle_login(&mut self, pdu: Pdu) {
        match self.login.handle_request(&pdu) {
            LoginStep::Continue(r) => self.send(r),
            LoginStep::Done(r, outcome) => {
                self.send(r);
                self.enter_full_feature(outcome);
            }
            LoginStep::Fail(r) => {
                self.send(r);
                self.close(CloseReason::LoginFailed);
            }
        }
    }

    fn enter_full_feature(&mut self, outcome: Outcome) {
        self.digests = Digests {
            header: outcome.params.header_digest,
            data: outcome.params.data_digest,
        };
        tracing::info!(initiator = %outcome.initiator, session = ?outcome.session_type, "iSCSI login");
        let nexus = Nexus {
            initiator: outcome.initiator.clone(),
            isid: outcome.isid,
            target_port: self.portal.config.portal_group_tag,
        };
        let visible = match outcome.session_type {
            SessionType::Normal(target) => self.portal.luns.visible(target, &outcome.initiator),
            SessionType::Discovery => Vec::new(),
        };
        self.events.push_back(Event::LoggedIn {
            initiator: outcome.initiator.clone(),
            session_type: outcome.session_type.clone(),
            digests: self.digests,
            max_data_segment: outcome.params.target_max_recv,
        });
        self.phase = Some(Phase {
            numbers: visible.iter().map(|(n, _)| *n).collect(),
            visible,
            nexus,
            window: CommandWindow::new(outcome.exp_cmd_sn),
            stat_sn: outcome.stat_sn,
            outcome,
        });
    }

    fn send(&mut self, pdu: Pdu) {
        self.transmit.push_back(Transmit {
            pdu,
            digests: self.digests,
        });
    }

    /// Sets ExpCmdSN and MaxCmdSN of a target PDU.
    fn window(&self, bhs: &mut Bhs) {
        if let Some(p) = &self.phase {
            bhs.set_u32_at(28, p.window.exp_cmd_sn());
            bhs.set_u32_at(32, p.window.max_cmd_sn());
        }
    }

    /// Sets StatSN, ExpCmdSN and MaxCmdSN of a response and advances StatSN.
    fn numbers(&mut self, bhs: &mut Bhs) {
        self.window(bhs);
        if let Some(p) = &mut self.phase {
            bhs.set_u32_at(24, p.stat_sn);
            p.stat_sn = p.stat_sn.wrapping_add(1);
        }
    }

    /// StatSN without taking one (R2T, NOP-In pings, Async Messages).
    fn current_stat_sn(&self, bhs: &mut Bhs) {
        self.window(bhs);
        if let Some(p) = &self.phase {
            bhs.set_u32_at(24, p.stat_sn);
        }
    }

    fn send_ping(&mut self, now: Instant) {
        let ttt = self.take_ttt();
        let mut r = Bhs::new(Opcode::NopIn);
        r.set_final(true);
        r.set_itt(NO_TAG);
        r.set_u32_at(20, ttt);
        self.current_stat_sn(&mut r);
        self.ping = Some((ttt, now));
        self.send(Pdu::new(r));
    }

    fn take_ttt(&mut self) -> u32 {
        let ttt = self.next_ttt;
        self.next_ttt = self.next_ttt.wrapping_add(1).max(1);
        if self.next_ttt == NO_TAG {
            self.next_ttt = 1;
        }
        ttt
    }

    /// One PDU of the full feature phase: a non-immediate command goes
    /// through the command window; the rest runs at once.
    fn full_feature(&mut self, pdu: Pdu) {
        let b = &pdu.bhs;
        let opcode = b.opcode();
        // Commands (not Data-Out, not SNACK) carry a CmdSN; a non-immediate
        // one runs in CmdSN order.
        let numbered = matches!(
            opcode,
            Ok(Opcode::ScsiCommand
                | Opcode::TaskManagement
                | Opcode::TextRequest
                | Opcode::LogoutRequest
                | Opcode::NopOut)
        ) && !(opcode == Ok(Opcode::NopOut) && b.itt() == NO_TAG);
        if numbered && !b.immediate() {
            let cmd_sn = b.u32_at(24);
            let Some(phase) = self.phase.as_mut() else {
                return;
            };
            if let Some(pdu) = phase.window.admit(cmd_sn, pdu) {
                self.dispatch(pdu);
            }
            return;
        }
        self.dispatch(pdu);
    }

    fn dispatch(&mut self, pdu: Pdu) {
        let b = &pdu.bhs;
        match b.opcode() {
            Ok(Opcode::TextRequest) => self.text(&pdu),
            Ok(Opcode::NopOut) => self.nop_out(&pdu),
            Ok(Opcode::ScsiCommand) => self.scsi_command(&pdu),
            Ok(Opcode::DataOut) => self.data_out(&pdu),
            Ok(Opcode::TaskManagement) => self.task_management(&pdu),
            Ok(Opcode::LogoutRequest) => {
                let mut r = Bhs::new(Opcode::LogoutResponse);
                r.set_final(true);
                r.set_itt(b.itt());
                self.numbers(&mut r);
                self.send(Pdu::new(r));
                self.close(CloseReason::Logout);
            }
            // ErrorRecoveryLevel is 0: no SNACK (RFC 7143 11.16).
            Ok(Opcode::Snack) | Err(_) => self.reject_header(&pdu.bhs, REJECT_NOT_SUPPORTED),
            Ok(_) => self.reject_header(&pdu.bhs, REJECT_PROTOCOL),
        }
    }

    fn nop_out(&mut self, pdu: &Pdu) {
        let b = &pdu.bhs;
        if b.itt() == NO_TAG {
            // The answer to our ping.
            if self.ping.is_some_and(|(ttt, _)| ttt == b.u32_at(20)) {
                self.ping = None;
            }
            return;
        }
        let mut r = Bhs::new(Opcode::NopIn);
        r.set_final(true);
        r.set_lun(b.lun());
        r.set_itt(b.itt());
        r.set_u32_at(20, NO_TAG);
        self.numbers(&mut r);
        let mut response = Pdu::new(r);
        response.data = pdu.data.clone();
        self.send(response);
    }

    fn text(&mut self, pdu: &Pdu) {
        let b = &pdu.bhs;
        let Some(phase) = &self.phase else { return };
        let max = phase.outcome.params.initiator_max_recv as usize;
        if b.u32_at(20) == NO_TAG {
            let Ok(keys) = text::parse(&pdu.data) else {
                return self.reject_header(&pdu.bhs, REJECT_PROTOCOL);
            };
            let answer = match keys.iter().find(|(k, _)| k == "SendTargets") {
                Some((_, value)) => discovery::send_targets(
                    &self.portal.config,
                    value,
                    &self.portal.advertised,
                    &phase.outcome.initiator,
                ),
                None => keys
                    .iter()
                    .map(|(k, _)| (k.clone(), "NotUnderstood".to_owned()))
                    .collect(),
            };
            self.pending_text = Bytes::from(text::encode(&answer));
        }
        let take = self.pending_text.len().min(max.max(512));
        let chunk = self.pending_text.split_to(take);
        let more = !self.pending_text.is_empty();
        let mut r = Bhs::new(Opcode::TextResponse);
        r.set_final(!more);
        r.set_bit(1, 0x40, more);
        r.set_itt(b.itt());
        r.set_u32_at(20, if more { 1 } else { NO_TAG });
        self.numbers(&mut r);
        let mut response = Pdu::new(r);
        response.data = chunk;
        self.send(response);
    }

    fn reject_header(&mut self, bhs: &Bhs, reason: u8) {
        let mut r = Bhs::new(Opcode::Reject);
        r.set_final(true);
        r.0[2] = reason;
        r.set_itt(NO_TAG);
        self.numbers(&mut r);
        let mut response = Pdu::new(r);
        response.data = Bytes::copy_from_slice(&bhs.0);
        self.send(response);
    }
}

impl Drop for Session {
    /// A session dropped without [`Session::handle_disconnect`] (its task
    /// aborted) still gives back what it held.
    fn drop(&mut self) {
        self.handle_disconnect();
    }
}
