//! The RMCP+ wire format, sans IO.
//!
//! RMCP, the IPMI 2.0 RMCP+ session wrapper with its integrity trailer and
//! encrypted payloads, and IPMI LAN messages with their checksums (IPMI 2.0
//! 13.6, 13.8, 13.28).

use crate::error::{ProtocolError, Result};

use super::crypto::SessionKeys;

/// RMCP header: version 6, reserved, no ACK (sequence 0xFF), class IPMI.
const RMCP: [u8; 4] = [0x06, 0x00, 0xff, 0x07];
/// Authentication type "RMCP+" in the session header.
const RMCP_PLUS: u8 = 0x06;

/// RMCP+ payload types.
pub mod payload {
    /// An IPMI message.
    pub const IPMI: u8 = 0x00;
    /// RMCP+ Open Session Request.
    pub const OPEN_SESSION_REQUEST: u8 = 0x10;
    /// RMCP+ Open Session Response.
    pub const OPEN_SESSION_RESPONSE: u8 = 0x11;
    /// RAKP Message 1.
    pub const RAKP1: u8 = 0x12;
    /// RAKP Message 2.
    pub const RAKP2: u8 = 0x13;
    /// RAKP Message 3.
    pub const RAKP3: u8 = 0x14;
    /// RAKP Message 4.
    pub const RAKP4: u8 = 0x15;
}

/// An RMCP+ packet, decrypted and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Payload type (low six bits).
    pub payload_type: u8,
    /// Encrypted on the wire.
    pub encrypted: bool,
    /// Carries an integrity AuthCode.
    pub authenticated: bool,
    /// The receiver's session id (0 before the session).
    pub session_id: u32,
    /// Session sequence number (0 outside a session).
    pub sequence: u32,
    /// The payload, in clear.
    pub payload: Vec<u8>,
}

fn u32_le(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Encodes `packet`; with `keys`, an encrypted payload is sealed with
/// `iv` and an authenticated one gets its integrity trailer.
pub fn encode(packet: &Packet, keys: Option<&SessionKeys>, iv: [u8; 16]) -> Vec<u8> {
    let mut out = RMCP.to_vec();
    out.push(RMCP_PLUS);
    out.push(
        u8::from(packet.encrypted) << 7
            | u8::from(packet.authenticated) << 6
            | (packet.payload_type & 0x3f),
    );
    out.extend_from_slice(&packet.session_id.to_le_bytes());
    out.extend_from_slice(&packet.sequence.to_le_bytes());
    let body = match (packet.encrypted, keys) {
        (true, Some(k)) => k.encrypt(iv, &packet.payload),
        _ => packet.payload.clone(),
    };
    out.extend_from_slice(&(body.len() as u16).to_le_bytes());
    out.extend_from_slice(&body);
    if let (true, Some(k)) = (packet.authenticated, keys) {
        // Pad so that everything from the auth type byte to the next
        // header byte is a multiple of four bytes.
        let covered = out.len() - RMCP.len();
        let pad = (4 - (covered + 2) % 4) % 4;
        out.extend(std::iter::repeat_n(0xff, pad));
        out.push(pad as u8);
        out.push(0x07);
        let code = k.integrity(&out[RMCP.len()..]);
        out.extend_from_slice(&code);
    }
    out
}

/// Decodes an RMCP+ datagram. An authenticated packet needs `keys` and
/// a matching AuthCode; an encrypted one is decrypted with them.
pub fn decode(bytes: &[u8], keys: Option<&SessionKeys>) -> Result<Packet> {
    if bytes.len() < 16 || bytes[..4] != RMCP {
        return Err(ProtocolError::NotRmcp.into());
    }
    if bytes[4] != RMCP_PLUS {
        return Err(ProtocolError::NotRmcpPlus.into());
    }
    let kind = bytes[5];
    let (encrypted, authenticated, payload_type) =
        (kind & 0x80 != 0, kind & 0x40 != 0, kind & 0x3f);
    if payload_type == 0x02 {
        return Err(ProtocolError::OemPayload.into());
    }
    let session_id = u32_le(&bytes[6..10]);
    let sequence = u32_le(&bytes[10..14]);
    let len = u16::from_le_bytes([bytes[14], bytes[15]]) as usize;
    let end = 16 + len;
    let body = bytes
        .get(16..end)
        .ok_or(ProtocolError::Truncated("RMCP+ payload"))?;
    if authenticated {
        let keys = keys.ok_or(ProtocolError::ProtectedOutsideSession)?;
        if bytes.len() < end + 2 + 12 {
            return Err(ProtocolError::Truncated("integrity trailer").into());
        }
        let code_at = bytes.len() - 12;
        let pad = bytes[code_at - 2] as usize;
        if bytes[code_at - 1] != 0x07 || code_at - 2 != end + pad {
            return Err(ProtocolError::MalformedTrailer.into());
        }
        let expected = keys.integrity(&bytes[4..code_at]);
        if expected[..] != bytes[code_at..] {
            return Err(ProtocolError::IntegrityCheckFailed.into());
        }
    } else if bytes.len() != end {
        return Err(ProtocolError::TrailingBytes.into());
    }
    let payload = if encrypted {
        let keys = keys.ok_or(ProtocolError::ProtectedOutsideSession)?;
        keys.decrypt(body).ok_or(ProtocolError::Undecryptable)?
    } else {
        body.to_vec()
    };
    Ok(Packet {
        payload_type,
        encrypted,
        authenticated,
        session_id,
        sequence,
        payload,
    })
}

/// Two's complement checksum: the bytes plus it sum to zero.
fn checksum(bytes: &[u8]) -> u8 {
    bytes
        .iter()
        .fold(0u8, |a, b| a.wrapping_add(*b))
        .wrapping_neg()
}

/// The BMC's slave address and the remote console's software id.
const BMC: u8 = 0x20;
const CONSOLE: u8 = 0x81;

/// An IPMI request message: `netfn`/`cmd` with `data`, sequence `seq`.
pub fn request(netfn: u8, cmd: u8, seq: u8, data: &[u8]) -> Vec<u8> {
    let mut m = vec![BMC, netfn << 2];
    m.push(checksum(&m));
    let body_start = m.len();
    m.extend_from_slice(&[CONSOLE, (seq & 0x3f) << 2, cmd]);
    m.extend_from_slice(data);
    let sum = checksum(&m[body_start..]);
    m.push(sum);
    m
}

/// An IPMI response: what it answers and with what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Network function (the request's + 1).
    pub netfn: u8,
    /// The request's sequence number.
    pub seq: u8,
    /// Command.
    pub cmd: u8,
    /// Completion code (0 = success).
    pub completion: u8,
    /// Response data.
    pub data: Vec<u8>,
}

/// Parses an IPMI response message, checking both checksums.
pub fn response(m: &[u8]) -> Result<Response> {
    if m.len() < 8 {
        return Err(ProtocolError::Truncated("IPMI response").into());
    }
    if checksum(&m[..2]) != m[2] || checksum(&m[3..m.len() - 1]) != m[m.len() - 1] {
        return Err(ProtocolError::BadChecksum.into());
    }
    Ok(Response {
        netfn: m[1] >> 2,
        seq: m[4] >> 2,
        cmd: m[5],
        completion: m[6],
        data: m[7..m.len() - 1].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use proptest::prelude::*;

    fn keys() -> SessionKeys {
        SessionKeys::derive(b"password", &[3; 16], &[4; 16], 0x14, b"admin")
    }

    #[test]
    fn a_get_chassis_status_request_is_laid_out_as_the_spec_says() {
        let m = request(0x00, 0x01, 5, &[]);
        assert_eq!(m, [0x20, 0x00, 0xe0, 0x81, 0x14, 0x01, 0x6a]);
        let mut r = vec![0x81, 0x04];
        r.push(checksum(&r));
        r.extend_from_slice(&[0x20, 0x14, 0x01, 0x00, 0x01, 0x00, 0x00]);
        let sum = checksum(&r[3..]);
        r.push(sum);
        let parsed = response(&r).unwrap();
        assert_eq!(
            (parsed.netfn, parsed.seq, parsed.cmd, parsed.completion),
            (1, 5, 1, 0)
        );
        assert_eq!(parsed.data, [1, 0, 0]);
        r[7] ^= 1;
        assert!(response(&r).is_err(), "checksum");
    }

    #[test]
    fn sealed_packets_round_trip_and_tampering_is_caught() {
        let k = keys();
        let packet = Packet {
            payload_type: payload::IPMI,
            encrypted: true,
            authenticated: true,
            session_id: 0x1234_5678,
            sequence: 9,
            payload: request(0x00, 0x02, 1, &[0x00]),
        };
        let wire = encode(&packet, Some(&k), [7; 16]);
        assert_eq!((wire.len() - 4) % 4, 0, "integrity padding");
        assert_eq!(decode(&wire, Some(&k)).unwrap(), packet);
        let mut tampered = wire.clone();
        tampered[20] ^= 1;
        assert!(matches!(
            decode(&tampered, Some(&k)),
            Err(Error::Protocol(ProtocolError::IntegrityCheckFailed))
        ));
        let other = SessionKeys::derive(b"wrong", &[3; 16], &[4; 16], 0x14, b"admin");
        assert!(
            decode(&wire, Some(&other)).is_err(),
            "a bad HMAC is refused"
        );
        assert!(matches!(
            decode(&wire, None),
            Err(Error::Protocol(ProtocolError::ProtectedOutsideSession))
        ));
    }

    proptest! {
        #[test]
        fn round_trips(
            kind in prop::sample::select(vec![0x00u8, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15]),
            encrypted: bool, authenticated: bool, session_id: u32, sequence: u32,
            payload in prop::collection::vec(any::<u8>(), 0..200),
            iv: [u8; 16],
        ) {
            let packet = Packet { payload_type: kind, encrypted, authenticated, session_id, sequence, payload };
            let k = keys();
            let wire = encode(&packet, Some(&k), iv);
            prop_assert_eq!(decode(&wire, Some(&k)).unwrap(), packet);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let k = keys();
            let _ = decode(&bytes, Some(&k));
            let _ = decode(&bytes, None);
            let _ = response(&bytes);
            let mut rmcp = RMCP.to_vec();
            rmcp.push(RMCP_PLUS);
            rmcp.extend_from_slice(&bytes);
            let _ = decode(&rmcp, Some(&k));
        }
    }
}
