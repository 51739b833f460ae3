//! An RMCP+ session from the remote console's side, sans IO.
//!
//! The handshake (Open Session, RAKP 1-4, Set Session Privilege Level),
//! then one command at a time, then Close Session (IPMI 2.0 13.15-13.20).
//!
//! Inputs carry `now`; outputs are datagrams ([`Session::poll_transmit`]),
//! a deadline ([`Session::poll_timeout`]) and [`Event`]s. A request not
//! answered by its deadline is sent again (a fresh session sequence
//! number, the same IPMI sequence), up to the retry limit; then the
//! session fails with [`Error::Timeout`]. The BMC must agree to exactly
//! the algorithms asked for: a BMC that answers with cipher suite 0 (no
//! authentication) or anything weaker is refused, and so is any packet
//! whose integrity code does not verify or whose session sequence number
//! the [`ReplayWindow`] does not take (counted in
//! [`Session::replays_dropped`]).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::error::{Error, ProtocolError, Result};

use super::crypto::{SessionKeys, hmac_sha1};
use super::packet::{self, Packet, Response, payload};
use super::replay::ReplayWindow;

/// Privilege levels (IPMI 2.0 table 22-23).
pub const ADMINISTRATOR: u8 = 0x04;
/// Operator privilege.
pub const OPERATOR: u8 = 0x03;
/// User privilege.
pub const USER: u8 = 0x02;

/// NetFn App; its commands used here.
const APP: u8 = 0x06;
const SET_SESSION_PRIVILEGE: u8 = 0x3b;
const CLOSE_SESSION: u8 = 0x3c;

/// Who logs in and how.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name (up to 16 bytes).
    pub user: Vec<u8>,
    /// Password (up to 20 bytes).
    pub password: Vec<u8>,
    /// Privilege level asked for.
    pub privilege: u8,
    /// Cipher suite: 1 (HMAC-SHA1 authentication only), 2 (+ HMAC-SHA1-96
    /// integrity), 3 (+ AES-CBC-128 confidentiality).
    pub cipher_suite: u8,
    /// The BMC key Kg, if the BMC has one (else the password serves).
    pub kg: Option<Vec<u8>>,
    /// Whether suites 1 and 2 may be used: without this opt-in they are
    /// refused, since inside the session they leave the commands readable
    /// (and, with suite 1, forgeable).
    pub weak_cipher: bool,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password or the Kg: whether there is one is all a log
        // needs.
        f.debug_struct("Credentials")
            .field("user", &String::from_utf8_lossy(&self.user))
            .field("password", &crate::REDACTED)
            .field("privilege", &self.privilege)
            .field("cipher_suite", &self.cipher_suite)
            .field("kg", &self.kg.as_ref().map(|_| crate::REDACTED))
            .field("weak_cipher", &self.weak_cipher)
            .finish()
    }
}

impl Credentials {
    /// Checks the suite and the lengths: suite 0 (no authentication) and
    /// the suites without HMAC-SHA1 are refused, and suites 1 and 2 unless
    /// `weak_cipher` opts in.
    pub fn validate(&self) -> Result<()> {
        if !(1..=3).contains(&self.cipher_suite) {
            return Err(Error::BadParameter(format!(
                "cipher suite {} is not supported (1, 2 or 3; 0 has no authentication)",
                self.cipher_suite
            )));
        }
        if self.is_weak() && !self.weak_cipher {
            return Err(Error::BadParameter(format!(
                "cipher suite {} is weak ({}): set weak_cipher=1 \
                 (--weak-cipher) to use it anyway, or use suite 3",
                self.cipher_suite,
                self.weakness()
            )));
        }
        if self.user.len() > 16
            || self.password.len() > 20
            || self.kg.as_ref().is_some_and(|k| k.len() > 20)
        {
            return Err(Error::BadParameter(
                "IPMI user names are at most 16 bytes, passwords and Kg 20".into(),
            ));
        }
        if !(USER..=ADMINISTRATOR).contains(&self.privilege) {
            return Err(Error::BadParameter(format!(
                "privilege level {}",
                self.privilege
            )));
        }
        Ok(())
    }

    /// Whether the suite leaves the session's commands unprotected.
    fn is_weak(&self) -> bool {
        self.cipher_suite < 3
    }

    /// What a weak suite lacks inside the session.
    fn weakness(&self) -> &'static str {
        if self.cipher_suite == 1 {
            "no integrity and no confidentiality inside the session"
        } else {
            "no confidentiality inside the session"
        }
    }

    /// (integrity algorithm, confidentiality algorithm) of the suite.
    fn algorithms(&self) -> (u8, u8) {
        match self.cipher_suite {
            1 => (0, 0),
            2 => (1, 0),
            _ => (1, 1),
        }
    }

    /// The RAKP role byte: the privilege, looked up by name only.
    fn role(&self) -> u8 {
        0x10 | self.privilege
    }
}

/// Retransmission settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Time to wait for an answer before sending again.
    pub retransmit: Duration,
    /// Sends of one request before giving up.
    pub attempts: u32,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            retransmit: Duration::from_millis(500),
            attempts: 4,
        }
    }
}

/// What a session reports.
#[derive(Debug)]
pub enum Event {
    /// Logged in: commands may be sent.
    Established,
    /// The answer to the command sent.
    Response(Response),
    /// The session failed; it is over.
    Failed(Error),
    /// Closed at our request.
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    OpenSession,
    Rakp1,
    Rakp3,
    Privilege,
    Active,
    Command,
    Closing,
    Done,
}

/// Randomness the session needs, from the caller (this module does no
/// I/O): the console's session id and random number.
#[derive(Debug, Clone, Copy)]
pub struct Seed {
    /// Remote console session id (non-zero).
    pub console_session_id: u32,
    /// Rm, the remote console random number.
    pub rm: [u8; 16],
}

/// One RMCP+ session.
#[derive(Debug)]
pub struct Session {
    credentials: Credentials,
    timing: Timing,
    state: State,
    tag: u8,
    console_id: u32,
    bmc_id: u32,
    rm: [u8; 16],
    rc: [u8; 16],
    guid: [u8; 16],
    keys: Option<SessionKeys>,
    /// Our next session sequence number.
    sequence: u32,
    /// The IPMI request sequence number.
    rq_seq: u8,
    /// The BMC's session sequence numbers seen inside the session.
    inbound: ReplayWindow,
    /// Packets dropped by `inbound`.
    replays_dropped: u64,
    /// IVs drawn so far (IVs come from a PRF under the session key).
    ivs: u64,
    /// The request in flight: its payload type and payload, deadline, sends.
    pending: Option<(u8, Vec<u8>, Instant, u32)>,
    transmit: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
}

fn u32_le(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// RMCP+ status codes (IPMI 2.0 table 13-15) worth naming.
fn status_text(code: u8) -> String {
    match code {
        0x01 => "insufficient resources".into(),
        0x02 => "invalid session id".into(),
        0x09 => "requested privilege level not available".into(),
        0x0d => "unauthorized name (no such user)".into(),
        0x0e => "unauthorized GUID".into(),
        0x0f => "invalid integrity check value (wrong password?)".into(),
        0x10 => "invalid confidentiality algorithm".into(),
        0x11 => "no cipher suite match".into(),
        0x12 => "illegal or unrecognized parameter".into(),
        other => format!("status {other:#04x}"),
    }
}

impl Session {
    /// Starts a session at `now`: the Open Session Request is queued.
    pub fn new(credentials: Credentials, timing: Timing, seed: Seed, now: Instant) -> Result<Self> {
        credentials.validate()?;
        if credentials.is_weak() {
            // Opted in (validate refuses otherwise); said once per session
            // so that a log shows which fencing ran unprotected.
            tracing::warn!(
                cipher_suite = credentials.cipher_suite,
                "IPMI session with a weak cipher suite: {}",
                credentials.weakness()
            );
        }
        let mut session = Self {
            credentials,
            timing,
            state: State::OpenSession,
            tag: 0,
            console_id: seed.console_session_id.max(1),
            bmc_id: 0,
            rm: seed.rm,
            rc: [0; 16],
            guid: [0; 16],
            keys: None,
            sequence: 1,
            rq_seq: 0,
            inbound: ReplayWindow::default(),
            replays_dropped: 0,
            ivs: 0,
            pending: None,
            transmit: VecDeque::new(),
            events: VecDeque::new(),
        };
        let (integrity, confidentiality) = session.credentials.algorithms();
        let mut p = vec![session.tag, session.credentials.privilege, 0, 0];
        p.extend_from_slice(&session.console_id.to_le_bytes());
        // Authentication RAKP-HMAC-SHA1, then integrity and confidentiality.
        p.extend_from_slice(&[0x00, 0, 0, 8, 0x01, 0, 0, 0]);
        p.extend_from_slice(&[0x01, 0, 0, 8, integrity, 0, 0, 0]);
        p.extend_from_slice(&[0x02, 0, 0, 8, confidentiality, 0, 0, 0]);
        session.send(payload::OPEN_SESSION_REQUEST, p, now);
        Ok(session)
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    /// When [`Session::handle_timeout`] is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending.as_ref().map(|(_, _, deadline, _)| *deadline)
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Whether commands may be sent now.
    pub fn is_ready(&self) -> bool {
        self.state == State::Active
    }

    fn fail(&mut self, error: Error) {
        self.state = State::Done;
        self.pending = None;
        self.events.push_back(Event::Failed(error));
    }

    fn next_iv(&mut self) -> [u8; 16] {
        let Some(keys) = &self.keys else {
            return [0; 16];
        };
        self.ivs += 1;
        let block = hmac_sha1(&keys.sik, &[b"ha-fence cbc iv", &self.ivs.to_le_bytes()]);
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&block[..16]);
        iv
    }

    /// Encodes and queues a payload, and remembers it for retransmission.
    fn send(&mut self, kind: u8, body: Vec<u8>, now: Instant) {
        self.pending = Some((kind, body, now + self.timing.retransmit, 1));
        self.emit();
    }

    fn emit(&mut self) {
        let Some((kind, body, ..)) = self.pending.clone() else {
            return;
        };
        let in_session = kind == payload::IPMI;
        let (integrity, confidentiality) = self.credentials.algorithms();
        let packet = Packet {
            payload_type: kind,
            encrypted: in_session && confidentiality != 0,
            authenticated: in_session && integrity != 0,
            session_id: if in_session { self.bmc_id } else { 0 },
            sequence: if in_session { self.sequence } else { 0 },
            payload: body,
        };
        if in_session {
            self.sequence = self.sequence.wrapping_add(1).max(1);
        }
        let iv = self.next_iv();
        let wire = packet::encode(&packet, self.keys.as_ref(), iv);
        self.transmit.push_back(wire);
    }

    /// Sends an IPMI command (`netfn`, `cmd`, `data`); its answer comes as
    /// [`Event::Response`]. Only when [`Session::is_ready`].
    pub fn send_command(&mut self, now: Instant, netfn: u8, cmd: u8, data: &[u8]) -> Result<()> {
        if self.state != State::Active {
            return Err(ProtocolError::OutOfTurn("a command before the session is ready").into());
        }
        self.state = State::Command;
        self.request(netfn, cmd, data, now);
        Ok(())
    }

    fn request(&mut self, netfn: u8, cmd: u8, data: &[u8], now: Instant) {
        self.rq_seq = (self.rq_seq + 1) & 0x3f;
        let message = packet::request(netfn, cmd, self.rq_seq, data);
        self.send(payload::IPMI, message, now);
    }

    /// Closes the session (Close Session); [`Event::Closed`] follows.
    pub fn close(&mut self, now: Instant) {
        match self.state {
            State::Active | State::Command => {
                self.state = State::Closing;
                let id = self.bmc_id.to_le_bytes();
                self.request(APP, CLOSE_SESSION, &id, now);
            }
            State::Done | State::Closing => {}
            _ => {
                // Not established: nothing to close on the BMC.
                self.state = State::Done;
                self.pending = None;
                self.events.push_back(Event::Closed);
            }
        }
    }

    /// Time passed: the request in flight is sent again, or the session
    /// fails when it has been sent often enough.
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some((kind, body, deadline, sends)) = self.pending.clone() else {
            return;
        };
        if now < deadline {
            return;
        }
        if sends >= self.timing.attempts {
            let what = match self.state {
                State::OpenSession | State::Rakp1 | State::Rakp3 | State::Privilege => "the login",
                State::Closing => "Close Session",
                _ => "the command",
            };
            self.fail(Error::Timeout(format!(
                "no answer to {what} after {sends} sends {:?} apart",
                self.timing.retransmit
            )));
            return;
        }
        tracing::debug!(sends, "IPMI retransmission");
        self.pending = Some((kind, body, now + self.timing.retransmit, sends + 1));
        self.emit();
    }

    /// How many packets from the BMC were dropped as replays or as outside
    /// the sequence number window.
    pub fn replays_dropped(&self) -> u64 {
        self.replays_dropped
    }

    /// A datagram from the BMC.
    pub fn handle_datagram(&mut self, now: Instant, bytes: &[u8]) {
        if self.state == State::Done {
            return;
        }
        let packet = match packet::decode(bytes, self.keys.as_ref()) {
            Ok(p) => p,
            Err(e) => {
                // A bad integrity code or a stray packet: dropped, not
                // trusted (a retransmission may still bring the answer).
                tracing::warn!(error = %e, "IPMI packet dropped");
                return;
            }
        };
        let result = match (self.state, packet.payload_type) {
            (State::OpenSession, payload::OPEN_SESSION_RESPONSE) => {
                self.open_session_response(&packet.payload, now)
            }
            (State::Rakp1, payload::RAKP2) => self.rakp2(&packet.payload, now),
            (State::Rakp3, payload::RAKP4) => self.rakp4(&packet.payload, now),
            (State::Privilege | State::Command | State::Closing, payload::IPMI) => {
                self.ipmi(&packet, now)
            }
            _ => Ok(()),
        };
        if let Err(e) = result {
            self.fail(e);
        }
    }

    fn open_session_response(&mut self, p: &[u8], now: Instant) -> Result<()> {
        if p.len() < 8 || p[0] != self.tag {
            return Ok(());
        }
        if p[1] != 0 {
            return Err(Error::LoginRefused(format!(
                "Open Session: {}",
                status_text(p[1])
            )));
        }
        if p.len() < 36 || u32_le(&p[4..8]) != self.console_id {
            return Err(ProtocolError::MalformedLogin("Open Session Response").into());
        }
        let (integrity, confidentiality) = self.credentials.algorithms();
        // Exactly what was asked: a BMC may not pick weaker algorithms
        // (cipher suite 0 has none at all).
        // Payload types at 12, 20, 28; algorithms at 16, 24, 32.
        let chosen = (p[16], p[24], p[32]);
        if (p[12], p[20], p[28]) != (0x00, 0x01, 0x02)
            || chosen != (0x01, integrity, confidentiality)
        {
            return Err(Error::LoginRefused(format!(
                "the BMC chose other algorithms than cipher suite {} asks for \
                 (authentication {}, integrity {}, confidentiality {})",
                self.credentials.cipher_suite, chosen.0, chosen.1, chosen.2
            )));
        }
        self.bmc_id = u32_le(&p[8..12]);
        self.state = State::Rakp1;
        self.tag = self.tag.wrapping_add(1);
        let c = &self.credentials;
        let mut r = vec![self.tag, 0, 0, 0];
        r.extend_from_slice(&self.bmc_id.to_le_bytes());
        r.extend_from_slice(&self.rm);
        r.extend_from_slice(&[c.role(), 0, 0, c.user.len() as u8]);
        r.extend_from_slice(&c.user);
        self.send(payload::RAKP1, r, now);
        Ok(())
    }

    fn rakp2(&mut self, p: &[u8], now: Instant) -> Result<()> {
        if p.len() < 8 || p[0] != self.tag {
            return Ok(());
        }
        if p[1] != 0 {
            return Err(Error::LoginRefused(format!(
                "RAKP 2: {}",
                status_text(p[1])
            )));
        }
        if p.len() < 60 || u32_le(&p[4..8]) != self.console_id {
            return Err(ProtocolError::MalformedLogin("RAKP Message 2").into());
        }
        self.rc.copy_from_slice(&p[8..24]);
        self.guid.copy_from_slice(&p[24..40]);
        let c = self.credentials.clone();
        let (sid_m, sid_c) = (self.console_id.to_le_bytes(), self.bmc_id.to_le_bytes());
        let expected = hmac_sha1(
            &c.password,
            &[
                &sid_m,
                &sid_c,
                &self.rm,
                &self.rc,
                &self.guid,
                &[c.role(), c.user.len() as u8],
                &c.user,
            ],
        );
        if expected[..] != p[40..60] {
            return Err(Error::LoginRefused(
                "RAKP 2 does not verify: wrong password (or a BMC that is not who it says)".into(),
            ));
        }
        let kg = c.kg.as_deref().unwrap_or(&c.password);
        self.keys = Some(SessionKeys::derive(
            kg,
            &self.rm,
            &self.rc,
            c.role(),
            &c.user,
        ));
        let code = hmac_sha1(
            &c.password,
            &[&self.rc, &sid_m, &[c.role(), c.user.len() as u8], &c.user],
        );
        self.state = State::Rakp3;
        self.tag = self.tag.wrapping_add(1);
        let mut r = vec![self.tag, 0, 0, 0];
        r.extend_from_slice(&sid_c);
        r.extend_from_slice(&code);
        self.send(payload::RAKP3, r, now);
        Ok(())
    }

    fn rakp4(&mut self, p: &[u8], now: Instant) -> Result<()> {
        if p.len() < 8 || p[0] != self.tag {
            return Ok(());
        }
        if p[1] != 0 {
            return Err(Error::LoginRefused(format!(
                "RAKP 4: {}",
                status_text(p[1])
            )));
        }
        let keys = self
            .keys
            .clone()
            .ok_or(ProtocolError::OutOfTurn("RAKP Message 4"))?;
        if p.len() < 20 || u32_le(&p[4..8]) != self.console_id {
            return Err(ProtocolError::MalformedLogin("RAKP Message 4").into());
        }
        let icv = hmac_sha1(
            &keys.sik,
            &[&self.rm, &self.bmc_id.to_le_bytes(), &self.guid],
        );
        if icv[..12] != p[8..20] {
            return Err(Error::LoginRefused("RAKP 4 does not verify".into()));
        }
        self.state = State::Privilege;
        let privilege = self.credentials.privilege;
        self.request(APP, SET_SESSION_PRIVILEGE, &[privilege], now);
        Ok(())
    }

    fn ipmi(&mut self, packet: &Packet, _now: Instant) -> Result<()> {
        let (integrity, confidentiality) = self.credentials.algorithms();
        // Inside the session, the BMC must use the agreed protection.
        if packet.session_id != self.console_id
            || packet.authenticated != (integrity != 0)
            || packet.encrypted != (confidentiality != 0)
        {
            return Ok(());
        }
        // Only now, with the packet's integrity checked: a forged number
        // must not move the window.
        if let Err(why) = self.inbound.check(packet.sequence) {
            self.replays_dropped += 1;
            tracing::warn!(
                sequence = packet.sequence,
                reason = ?why,
                "IPMI packet outside the replay window dropped"
            );
            return Ok(());
        }
        let response = match packet::response(&packet.payload) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "IPMI response dropped");
                return Ok(());
            }
        };
        if response.seq != self.rq_seq {
            // An answer to an earlier send: already handled.
            return Ok(());
        }
        self.pending = None;
        match self.state {
            State::Privilege => {
                if response.completion != 0 {
                    return Err(Error::LoginRefused(format!(
                        "privilege level {} refused (completion code {:#04x})",
                        self.credentials.privilege, response.completion
                    )));
                }
                self.state = State::Active;
                self.events.push_back(Event::Established);
            }
            State::Command => {
                self.state = State::Active;
                self.events.push_back(Event::Response(response));
            }
            State::Closing => {
                self.state = State::Done;
                self.events.push_back(Event::Closed);
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipmi::packet::{Packet, decode, encode, payload};

    /// A BMC, sans IO too: enough of one to log in and answer commands.
    struct FakeBmc {
        password: Vec<u8>,
        /// Algorithms it answers Open Session with (auth, integrity, conf).
        chooses: Option<(u8, u8, u8)>,
        /// Corrupt the integrity code of its in-session answers.
        bad_integrity: bool,
        console_id: u32,
        rm: [u8; 16],
        role: u8,
        user: Vec<u8>,
        keys: Option<SessionKeys>,
    }

    const RC: [u8; 16] = [0x5c; 16];
    const GUID: [u8; 16] = [0xa1; 16];
    const BMC_ID: u32 = 0x0bad_cafe;

    impl FakeBmc {
        fn new(password: &[u8]) -> Self {
            Self {
                password: password.to_vec(),
                chooses: None,
                bad_integrity: false,
                console_id: 0,
                rm: [0; 16],
                role: 0,
                user: Vec::new(),
                keys: None,
            }
        }

        fn answer(&mut self, datagram: &[u8]) -> Option<Vec<u8>> {
            let p = decode(datagram, self.keys.as_ref()).ok()?;
            let reply = |kind, payload: Vec<u8>| Packet {
                payload_type: kind,
                encrypted: false,
                authenticated: false,
                session_id: 0,
                sequence: 0,
                payload,
            };
            match p.payload_type {
                payload::OPEN_SESSION_REQUEST => {
                    let r = &p.payload;
                    self.console_id = u32_le(&r[4..8]);
                    let (a, i, c) = self.chooses.unwrap_or((r[12], r[20], r[28]));
                    let mut o = vec![r[0], 0, 4, 0];
                    o.extend_from_slice(&self.console_id.to_le_bytes());
                    o.extend_from_slice(&BMC_ID.to_le_bytes());
                    o.extend_from_slice(&[
                        0, 0, 0, 8, a, 0, 0, 0, 1, 0, 0, 8, i, 0, 0, 0, 2, 0, 0, 8, c, 0, 0, 0,
                    ]);
                    Some(encode(
                        &reply(payload::OPEN_SESSION_RESPONSE, o),
                        None,
                        [0; 16],
                    ))
                }
                payload::RAKP1 => {
                    let r = &p.payload;
                    self.rm.copy_from_slice(&r[8..24]);
                    self.role = r[24];
                    self.user = r[28..28 + r[27] as usize].to_vec();
                    let code = hmac_sha1(
                        &self.password,
                        &[
                            &self.console_id.to_le_bytes(),
                            &BMC_ID.to_le_bytes(),
                            &self.rm,
                            &RC,
                            &GUID,
                            &[self.role, self.user.len() as u8],
                            &self.user,
                        ],
                    );
                    let mut o = vec![r[0], 0, 0, 0];
                    o.extend_from_slice(&self.console_id.to_le_bytes());
                    o.extend_from_slice(&RC);
                    o.extend_from_slice(&GUID);
                    o.extend_from_slice(&code);
                    Some(encode(&reply(payload::RAKP2, o), None, [0; 16]))
                }
                payload::RAKP3 => {
                    let keys =
                        SessionKeys::derive(&self.password, &self.rm, &RC, self.role, &self.user);
                    let icv = hmac_sha1(&keys.sik, &[&self.rm, &BMC_ID.to_le_bytes(), &GUID]);
                    self.keys = Some(keys);
                    let mut o = vec![p.payload[0], 0, 0, 0];
                    o.extend_from_slice(&self.console_id.to_le_bytes());
                    o.extend_from_slice(&icv[..12]);
                    Some(encode(&reply(payload::RAKP4, o), None, [0; 16]))
                }
                payload::IPMI => {
                    let m = &p.payload;
                    let (netfn, seq, cmd) = (m[1] >> 2, m[4] >> 2, m[5]);
                    let mut r = vec![0x81, (netfn + 1) << 2];
                    r.push(r.iter().fold(0u8, |a, b| a.wrapping_add(*b)).wrapping_neg());
                    r.extend_from_slice(&[0x20, seq << 2, cmd, 0]);
                    if (netfn, cmd) == (0x00, 0x01) {
                        r.extend_from_slice(&[0x01, 0, 0]);
                    }
                    let sum = r[3..]
                        .iter()
                        .fold(0u8, |a, b| a.wrapping_add(*b))
                        .wrapping_neg();
                    r.push(sum);
                    let packet = Packet {
                        payload_type: payload::IPMI,
                        encrypted: true,
                        authenticated: true,
                        session_id: self.console_id,
                        sequence: p.sequence,
                        payload: r,
                    };
                    let mut wire = encode(&packet, self.keys.as_ref(), [3; 16]);
                    if self.bad_integrity {
                        let last = wire.len() - 1;
                        wire[last] ^= 1;
                    }
                    Some(wire)
                }
                _ => None,
            }
        }
    }

    fn credentials(password: &[u8]) -> Credentials {
        Credentials {
            user: b"admin".to_vec(),
            password: password.to_vec(),
            privilege: ADMINISTRATOR,
            cipher_suite: 3,
            kg: None,
            weak_cipher: false,
        }
    }

    #[test]
    fn debug_redacts_the_password_and_the_kg() {
        let mut c = credentials(b"hunter2pw");
        c.kg = Some(b"kgsecret".to_vec());
        let session = Session::new(c.clone(), Timing::default(), SEED, Instant::now()).unwrap();
        for shown in [
            format!("{c:?}"),
            format!("{session:?}"),
            format!("{session:#?}"),
        ] {
            assert!(
                !shown.contains("hunter2pw") && !shown.contains("kgsecret"),
                "{shown}"
            );
            // Nor their bytes, as a derived Debug of a Vec<u8> would show.
            assert!(
                !shown.contains("104, 117, 110") && !shown.contains("107, 103, 115"),
                "{shown}"
            );
            assert!(shown.contains("<redacted>"), "{shown}");
        }
        let shown = format!("{c:?}");
        assert!(shown.contains("password: \"<redacted>\""), "{shown}");
        assert!(shown.contains("kg: Some(\"<redacted>\")"), "{shown}");
        assert!(format!("{:?}", credentials(b"x")).contains("kg: None"));
    }

    const SEED: Seed = Seed {
        console_session_id: 0x1234,
        rm: [0x42; 16],
    };

    /// Runs session and BMC against each other; `drop_first` datagrams
    /// from the BMC are lost. The events seen.
    fn run(bmc: &mut FakeBmc, password: &[u8], drop_first: usize, command: bool) -> Vec<Event> {
        let mut now = Instant::now();
        let mut s = Session::new(credentials(password), Timing::default(), SEED, now).unwrap();
        let mut events = Vec::new();
        let mut dropped = 0;
        for _ in 0..50 {
            while let Some(datagram) = s.poll_transmit() {
                if let Some(answer) = bmc.answer(&datagram) {
                    if dropped < drop_first {
                        dropped += 1;
                    } else {
                        s.handle_datagram(now, &answer);
                    }
                }
            }
            while let Some(e) = s.poll_event() {
                if matches!(e, Event::Established) && command {
                    s.send_command(now, 0x00, 0x01, &[]).unwrap();
                }
                let done = matches!(e, Event::Failed(_) | Event::Response(_));
                events.push(e);
                if done {
                    return events;
                }
            }
            match s.poll_timeout() {
                Some(deadline) => {
                    now = deadline;
                    s.handle_timeout(now);
                }
                None => break,
            }
        }
        events
    }

    #[test]
    fn a_replayed_answer_is_dropped_and_counted() {
        let mut bmc = FakeBmc::new(b"password");
        let now = Instant::now();
        let mut s = Session::new(credentials(b"password"), Timing::default(), SEED, now).unwrap();
        let mut answers = Vec::new();
        let mut events = Vec::new();
        for _ in 0..10 {
            while let Some(datagram) = s.poll_transmit() {
                if let Some(answer) = bmc.answer(&datagram) {
                    s.handle_datagram(now, &answer);
                    answers.push(answer);
                }
            }
            while let Some(e) = s.poll_event() {
                if matches!(e, Event::Established) {
                    s.send_command(now, 0x00, 0x01, &[]).unwrap();
                }
                events.push(e);
            }
        }
        assert!(
            matches!(&events[..], [Event::Established, Event::Response(_)]),
            "{events:?}"
        );
        assert_eq!(s.replays_dropped(), 0);
        // A second command, answered first by a replay of the answer to
        // the first one (authenticated and encrypted as it was): dropped
        // and counted, not taken as the answer.
        let old = answers.last().unwrap().clone();
        s.send_command(now, 0x00, 0x01, &[]).unwrap();
        let request = s.poll_transmit().unwrap();
        s.handle_datagram(now, &old);
        assert_eq!(s.replays_dropped(), 1);
        assert!(s.poll_event().is_none());
        let answer = bmc.answer(&request).unwrap();
        s.handle_datagram(now, &answer);
        assert!(matches!(s.poll_event(), Some(Event::Response(_))));
        assert_eq!(s.replays_dropped(), 1);
    }

    #[test]
    fn logs_in_and_gets_an_answer() {
        let mut bmc = FakeBmc::new(b"password");
        let events = run(&mut bmc, b"password", 0, true);
        assert!(matches!(events[0], Event::Established), "{events:?}");
        assert!(matches!(&events[1], Event::Response(r) if r.data == [1, 0, 0]));
    }

    #[test]
    fn lost_answers_are_asked_for_again() {
        let mut bmc = FakeBmc::new(b"password");
        let events = run(&mut bmc, b"password", 2, true);
        assert!(matches!(&events[1], Event::Response(_)), "{events:?}");
    }

    #[test]
    fn a_bmc_that_picks_cipher_suite_0_is_refused() {
        let mut bmc = FakeBmc::new(b"password");
        bmc.chooses = Some((0, 0, 0));
        let events = run(&mut bmc, b"password", 0, true);
        assert!(
            matches!(&events[..], [Event::Failed(Error::LoginRefused(m))] if m.contains("cipher suite 3")),
            "{events:?}"
        );
    }

    #[test]
    fn a_wrong_password_is_caught_at_rakp2() {
        let mut bmc = FakeBmc::new(b"password");
        let events = run(&mut bmc, b"guessing", 0, true);
        assert!(
            matches!(&events[..], [Event::Failed(Error::LoginRefused(m))] if m.contains("RAKP 2")),
            "{events:?}"
        );
    }

    #[test]
    fn answers_with_a_bad_integrity_code_are_not_believed() {
        let mut bmc = FakeBmc::new(b"password");
        bmc.bad_integrity = true;
        let events = run(&mut bmc, b"password", 0, true);
        // Set Session Privilege's answers never verify: the login times out.
        assert!(
            matches!(&events[..], [Event::Failed(Error::Timeout(_))]),
            "{events:?}"
        );
    }

    #[test]
    fn suite_0_and_long_names_are_refused_before_sending_anything() {
        let mut c = credentials(b"password");
        c.cipher_suite = 0;
        assert!(matches!(
            Session::new(c, Timing::default(), SEED, Instant::now()),
            Err(Error::BadParameter(_))
        ));
        let mut c = credentials(b"password");
        c.user = vec![b'a'; 17];
        assert!(Session::new(c, Timing::default(), SEED, Instant::now()).is_err());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_datagrams_never_panic(
            junk in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..120),
            at_step in 0usize..4,
        ) {
            // Walk a real login to some step, then feed junk.
            let mut bmc = FakeBmc::new(b"password");
            let now = Instant::now();
            let mut s = Session::new(credentials(b"password"), Timing::default(), SEED, now).unwrap();
            for _ in 0..at_step {
                if let Some(d) = s.poll_transmit()
                    && let Some(answer) = bmc.answer(&d)
                {
                    s.handle_datagram(now, &answer);
                }
            }
            s.handle_datagram(now, &junk);
            let mut framed = vec![0x06, 0x00, 0xff, 0x07, 0x06];
            framed.extend_from_slice(&junk);
            s.handle_datagram(now, &framed);
            s.handle_timeout(now + Duration::from_secs(60));
        }
    }
}
