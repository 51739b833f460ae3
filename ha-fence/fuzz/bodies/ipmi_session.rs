//! The IPMI (RMCP+) session against a hostile or broken BMC: arbitrary
//! datagrams at every stage of the login, and, after a BMC that knows the
//! password completed it, arbitrary payloads in packets that carry the
//! right session keys, replayed and reordered sequence numbers, and time
//! passing. It must never panic.

use std::time::{Duration, Instant};

use ha_fence::ipmi::crypto::{SessionKeys, hmac_sha1};
use ha_fence::ipmi::packet::{self, Packet, payload};
use ha_fence::ipmi::session::{ADMINISTRATOR, Event, Seed, Session};
use ha_fence::ipmi::{Credentials, Timing};

const PASSWORD: &[u8] = b"fuzz-password";
const BMC_ID: u32 = 0x0bad_cafe;
const RC: [u8; 16] = [0x5c; 16];
const GUID: [u8; 16] = [0xa1; 16];

/// A BMC that knows the password: it answers the login honestly.
struct Bmc {
    console_id: u32,
    rm: [u8; 16],
    role: u8,
    user: Vec<u8>,
    keys: Option<SessionKeys>,
    /// The integrity and confidentiality algorithms agreed are not none.
    integrity: bool,
    confidentiality: bool,
}

fn u32_le(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn reply(payload_type: u8, payload: Vec<u8>) -> Vec<u8> {
    let packet = Packet {
        payload_type,
        encrypted: false,
        authenticated: false,
        session_id: 0,
        sequence: 0,
        payload,
    };
    packet::encode(&packet, None, [0; 16])
}

impl Bmc {
    /// Its answer to the console's login datagram.
    fn answer(&mut self, datagram: &[u8]) -> Option<Vec<u8>> {
        let p = packet::decode(datagram, self.keys.as_ref()).ok()?;
        let r = &p.payload;
        match p.payload_type {
            payload::OPEN_SESSION_REQUEST => {
                self.console_id = u32_le(&r[4..8]);
                self.integrity = r[20] != 0;
                self.confidentiality = r[28] != 0;
                let mut o = vec![r[0], 0, 4, 0];
                o.extend_from_slice(&self.console_id.to_le_bytes());
                o.extend_from_slice(&BMC_ID.to_le_bytes());
                o.extend_from_slice(&[
                    0, 0, 0, 8, r[12], 0, 0, 0, 1, 0, 0, 8, r[20], 0, 0, 0, 2, 0, 0, 8, r[28], 0,
                    0, 0,
                ]);
                Some(reply(payload::OPEN_SESSION_RESPONSE, o))
            }
            payload::RAKP1 => {
                self.rm.copy_from_slice(&r[8..24]);
                self.role = r[24];
                self.user = r[28..28 + usize::from(r[27])].to_vec();
                let code = hmac_sha1(
                    PASSWORD,
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
                Some(reply(payload::RAKP2, o))
            }
            payload::RAKP3 => {
                let keys = SessionKeys::derive(PASSWORD, &self.rm, &RC, self.role, &self.user);
                let icv = hmac_sha1(&keys.sik, &[&self.rm, &BMC_ID.to_le_bytes(), &GUID]);
                self.keys = Some(keys);
                let mut o = vec![r[0], 0, 0, 0];
                o.extend_from_slice(&self.console_id.to_le_bytes());
                o.extend_from_slice(&icv[..12]);
                Some(reply(payload::RAKP4, o))
            }
            payload::IPMI => {
                // Set Session Privilege Level: granted.
                let (netfn, seq, cmd) = (r[1] >> 2, r[4] >> 2, r[5]);
                Some(self.in_session(&response(netfn + 1, seq, cmd, &[0, ADMINISTRATOR]), 1))
            }
            _ => None,
        }
    }

    /// `message` in a packet protected with the session's keys.
    fn in_session(&self, message: &[u8], sequence: u32) -> Vec<u8> {
        let packet = Packet {
            payload_type: payload::IPMI,
            encrypted: self.confidentiality,
            authenticated: self.integrity,
            session_id: self.console_id,
            sequence,
            payload: message.to_vec(),
        };
        packet::encode(&packet, self.keys.as_ref(), [3; 16])
    }
}

/// An IPMI response message with its checksums: completion code and data
/// in `body`.
fn response(netfn: u8, seq: u8, cmd: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![0x81, netfn << 2];
    r.push(r.iter().fold(0u8, |a, b| a.wrapping_add(*b)).wrapping_neg());
    r.extend_from_slice(&[0x20, seq << 2, cmd]);
    r.extend_from_slice(body);
    let sum = r[3..]
        .iter()
        .fold(0u8, |a, b| a.wrapping_add(*b))
        .wrapping_neg();
    r.push(sum);
    r
}

/// `[flags, records..]`: flags bit 0 the login completed first by a BMC
/// that knows the password, bits 1-2 the cipher suite (3, 2, 1, 17).
/// Each record is `[kind, a, len, bytes (len)]`: kind % 5 is 0 `bytes` as
/// a datagram, 1 as a response message to the command in flight (or any
/// message with bit 7 of `kind`) protected with the session keys under
/// sequence number `a`, 2 a command sent, 3 `a` tenths of a second pass,
/// 4 Close Session.
pub fn run(input: &[u8]) {
    let [flags, records @ ..] = input else {
        return;
    };
    let cipher_suite = [3, 2, 1, 17][usize::from(flags >> 1 & 3)];
    let credentials = Credentials {
        user: b"admin".to_vec(),
        password: PASSWORD.to_vec(),
        privilege: ADMINISTRATOR,
        cipher_suite,
        kg: None,
        weak_cipher: true,
    };
    let seed = Seed {
        console_session_id: 0x1234,
        rm: [0x42; 16],
    };
    let mut now = Instant::now();
    let Ok(mut session) = Session::new(credentials, Timing::default(), seed, now) else {
        return;
    };
    let mut bmc = Bmc {
        console_id: 0,
        rm: [0; 16],
        role: 0,
        user: Vec::new(),
        keys: None,
        integrity: false,
        confidentiality: false,
    };
    if flags & 1 != 0 {
        while let Some(datagram) = session.poll_transmit() {
            if let Some(answer) = bmc.answer(&datagram) {
                session.handle_datagram(now, &answer);
            }
        }
        if !session.is_ready() {
            // A suite this BMC does not speak; the rest is still fuzzed.
            bmc.keys = None;
        }
    }
    let mut rest = records;
    let mut in_flight = None;
    while let &[kind, a, len, ref tail @ ..] = rest {
        let (bytes, next) = tail.split_at(usize::from(len).min(tail.len()));
        rest = next;
        match kind % 5 {
            0 => session.handle_datagram(now, bytes),
            1 => {
                let message = match in_flight {
                    Some((netfn, seq, cmd)) if kind & 0x80 == 0 => {
                        response(netfn + 1, seq, cmd, bytes)
                    }
                    _ => bytes.to_vec(),
                };
                let datagram = bmc.in_session(&message, u32::from(a));
                session.handle_datagram(now, &datagram);
            }
            2 => {
                let netfn = a & 0x3e;
                let cmd = bytes.first().copied().unwrap_or(1);
                let _ = session.send_command(now, netfn, cmd, bytes);
            }
            3 => {
                now += Duration::from_millis(100 * u64::from(a));
                session.handle_timeout(now);
            }
            _ => session.close(now),
        }
        while let Some(datagram) = session.poll_transmit() {
            // The request the console sent: what a response must name.
            if let Ok(p) = packet::decode(&datagram, bmc.keys.as_ref())
                && p.payload_type == payload::IPMI
                && p.payload.len() >= 6
            {
                let m = &p.payload;
                in_flight = Some((m[1] >> 2, m[4] >> 2, m[5]));
            }
        }
        while let Some(event) = session.poll_event() {
            if matches!(event, Event::Response(_) | Event::Failed(_) | Event::Closed) {
                in_flight = None;
            }
        }
    }
}
