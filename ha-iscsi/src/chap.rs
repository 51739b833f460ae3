//! CHAP as iSCSI uses it (RFC 1994, RFC 7143 12.1.3): MD5 only
//! (`CHAP_A=5`), response = MD5(identifier || secret || challenge), binary
//! values written in hex (`0x...`) or base64 (`0b...`).
//!
//! The target challenges the initiator; with mutual CHAP the initiator
//! challenges back, and a target must refuse a challenge that is its own
//! sent back (a reflection attack lets an attacker get the target to
//! compute the answer it needs).

use md5::{Digest, Md5};

/// CHAP_A value for MD5, the only algorithm RFC 7143 requires.
pub const ALGORITHM_MD5: &str = "5";
/// Shortest challenge accepted (RFC 7143 12.1.3: at least as long as the
/// response, 16 bytes).
pub const MIN_CHALLENGE: usize = 16;
/// Longest binary value accepted (1024 bytes, the RFC's limit for CHAP_C).
pub const MAX_BINARY: usize = 1024;

/// The response to `challenge` with `identifier` and `secret`.
pub fn response(identifier: u8, secret: &[u8], challenge: &[u8]) -> [u8; 16] {
    let mut md5 = Md5::new();
    md5.update([identifier]);
    md5.update(secret);
    md5.update(challenge);
    md5.finalize().into()
}

/// Writes binary data as iSCSI hex (`0x` and lowercase digits).
pub fn encode_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(2 + bytes.len() * 2);
    s.push_str("0x");
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Reads an iSCSI binary value: `0x`/`0X` hex (an odd digit count has a
/// leading 0 implied) or `0b`/`0B` base64. `None` for anything else or
/// over [`MAX_BINARY`] bytes.
pub fn decode_binary(value: &str) -> Option<Vec<u8>> {
    let (kind, digits) = value.split_at_checked(2)?;
    let bytes = match kind {
        "0x" | "0X" => {
            let padded = if digits.len() % 2 == 1 {
                format!("0{digits}")
            } else {
                digits.to_owned()
            };
            (0..padded.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(padded.get(i..i + 2)?, 16).ok())
                .collect::<Option<Vec<u8>>>()?
        }
        "0b" | "0B" => base64(digits)?,
        _ => return None,
    };
    (!bytes.is_empty() && bytes.len() <= MAX_BINARY).then_some(bytes)
}

fn base64(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes() {
        acc = acc << 6 | u32::from(value(c)?);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// Why a CHAP exchange failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChapError {
    /// A value that is not CHAP_A=5, a number or a binary value, or is
    /// missing.
    Malformed(&'static str),
    /// Unknown user name.
    UnknownUser,
    /// The response does not match.
    WrongResponse,
    /// The initiator's challenge is the target's own, sent back.
    ReflectedChallenge,
    /// A challenge shorter than 16 bytes.
    ShortChallenge,
}

/// The target's side of one CHAP exchange: its challenge, then the
/// initiator's answer checked, and, for mutual CHAP, the target's answer
/// to the initiator's challenge.
#[derive(Debug, Clone)]
pub struct Authenticator {
    identifier: u8,
    challenge: Vec<u8>,
}

impl Authenticator {
    /// An exchange with this identifier and challenge (from a secure random
    /// source: the caller's, as this module does no I/O).
    pub fn new(identifier: u8, challenge: [u8; MIN_CHALLENGE]) -> Self {
        Self {
            identifier,
            challenge: challenge.to_vec(),
        }
    }

    /// The keys to send: `CHAP_A=5`, `CHAP_I`, `CHAP_C`.
    pub fn challenge(&self) -> Vec<(String, String)> {
        vec![
            ("CHAP_A".into(), ALGORITHM_MD5.into()),
            ("CHAP_I".into(), self.identifier.to_string()),
            ("CHAP_C".into(), encode_hex(&self.challenge)),
        ]
    }

    /// Checks the initiator's `CHAP_N`/`CHAP_R` against `secret_of(user)`
    /// and, if it sent `CHAP_I`/`CHAP_C` (mutual CHAP), answers with
    /// `CHAP_N = target_user` and the response computed with
    /// `target_secret`. Returns the keys to send back (empty without
    /// mutual CHAP).
    pub fn verify(
        &self,
        keys: &[(String, String)],
        secret_of: impl Fn(&str) -> Option<Vec<u8>>,
        mutual: Option<(&str, &[u8])>,
    ) -> Result<Vec<(String, String)>, ChapError> {
        let get = |k: &str| {
            keys.iter()
                .rev()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        let user = get("CHAP_N").ok_or(ChapError::Malformed("CHAP_N missing"))?;
        let answer = get("CHAP_R")
            .and_then(decode_binary)
            .ok_or(ChapError::Malformed("CHAP_R missing or not binary"))?;
        let secret = secret_of(user).ok_or(ChapError::UnknownUser)?;
        let expected = response(self.identifier, &secret, &self.challenge);
        // Compare without an early exit, so timing says nothing.
        let differs = answer.len() != expected.len()
            || answer
                .iter()
                .zip(expected)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                != 0;
        if differs {
            return Err(ChapError::WrongResponse);
        }
        match (get("CHAP_I"), get("CHAP_C")) {
            (None, None) => Ok(Vec::new()),
            (Some(id), Some(challenge)) => {
                let id: u8 = id
                    .parse()
                    .map_err(|_| ChapError::Malformed("CHAP_I is not 0..=255"))?;
                let challenge =
                    decode_binary(challenge).ok_or(ChapError::Malformed("CHAP_C is not binary"))?;
                if challenge == self.challenge {
                    return Err(ChapError::ReflectedChallenge);
                }
                if challenge.len() < MIN_CHALLENGE {
                    return Err(ChapError::ShortChallenge);
                }
                let (target_user, target_secret) =
                    mutual.ok_or(ChapError::Malformed("mutual CHAP is not configured"))?;
                Ok(vec![
                    ("CHAP_N".into(), target_user.into()),
                    (
                        "CHAP_R".into(),
                        encode_hex(&response(id, target_secret, &challenge)),
                    ),
                ])
            }
            _ => Err(ChapError::Malformed("CHAP_I and CHAP_C come together")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn keys(pairs: &[(&str, String)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn the_response_is_md5_of_identifier_secret_and_challenge() {
        // MD5(0x01 || "secret" || 0x00..0x0f), computed independently.
        let challenge: Vec<u8> = (0..16).collect();
        let r = response(1, b"secret", &challenge);
        let mut md5 = Md5::new();
        md5.update([1u8]);
        md5.update(b"secret");
        md5.update(&challenge);
        assert_eq!(r.to_vec(), md5.finalize().to_vec());
        assert_eq!(encode_hex(&[0xde, 0xad]), "0xdead");
    }

    #[test]
    fn binary_values_in_hex_and_base64() {
        assert_eq!(
            decode_binary("0xdeadBEEF"),
            Some(vec![0xde, 0xad, 0xbe, 0xef])
        );
        assert_eq!(decode_binary("0xabc"), Some(vec![0x0a, 0xbc]));
        assert_eq!(
            decode_binary("0b3q2+7w=="),
            Some(vec![0xde, 0xad, 0xbe, 0xef])
        );
        assert_eq!(decode_binary("deadbeef"), None);
        assert_eq!(decode_binary("0x"), None);
        assert_eq!(decode_binary("0xzz"), None);
    }

    fn exchange() -> Authenticator {
        Authenticator::new(7, [0x5a; 16])
    }

    fn secrets(user: &str) -> Option<Vec<u8>> {
        (user == "node1").then(|| b"initiatorsecret".to_vec())
    }

    #[test]
    fn a_right_answer_passes_and_a_wrong_one_does_not() {
        let a = exchange();
        let right = encode_hex(&response(7, b"initiatorsecret", &[0x5a; 16]));
        let ok = keys(&[("CHAP_N", "node1".into()), ("CHAP_R", right.clone())]);
        assert_eq!(a.verify(&ok, secrets, None), Ok(vec![]));
        let wrong = encode_hex(&response(7, b"guess", &[0x5a; 16]));
        let bad = keys(&[("CHAP_N", "node1".into()), ("CHAP_R", wrong)]);
        assert_eq!(a.verify(&bad, secrets, None), Err(ChapError::WrongResponse));
        let stranger = keys(&[("CHAP_N", "node9".into()), ("CHAP_R", right)]);
        assert_eq!(
            a.verify(&stranger, secrets, None),
            Err(ChapError::UnknownUser)
        );
    }

    #[test]
    fn mutual_chap_answers_and_refuses_a_reflected_challenge() {
        let a = exchange();
        let right = encode_hex(&response(7, b"initiatorsecret", &[0x5a; 16]));
        let theirs = [0x11u8; 16];
        let mutual = keys(&[
            ("CHAP_N", "node1".into()),
            ("CHAP_R", right.clone()),
            ("CHAP_I", "9".into()),
            ("CHAP_C", encode_hex(&theirs)),
        ]);
        let answer = a
            .verify(&mutual, secrets, Some(("storage", b"targetsecret12")))
            .unwrap();
        assert_eq!(answer[0], ("CHAP_N".into(), "storage".into()));
        assert_eq!(
            answer[1].1,
            encode_hex(&response(9, b"targetsecret12", &theirs))
        );
        let reflected = keys(&[
            ("CHAP_N", "node1".into()),
            ("CHAP_R", right),
            ("CHAP_I", "7".into()),
            ("CHAP_C", encode_hex(&[0x5a; 16])),
        ]);
        assert_eq!(
            a.verify(&reflected, secrets, Some(("storage", b"targetsecret12"))),
            Err(ChapError::ReflectedChallenge)
        );
    }

    proptest! {
        #[test]
        fn hex_round_trips(bytes in prop::collection::vec(any::<u8>(), 1..MAX_BINARY)) {
            prop_assert_eq!(decode_binary(&encode_hex(&bytes)), Some(bytes));
        }

        #[test]
        fn arbitrary_values_never_panic(value in "\\PC{0,80}") {
            let _ = decode_binary(&value);
            let a = exchange();
            let _ = a.verify(&keys(&[("CHAP_N", value.clone()), ("CHAP_R", value.clone()),
                ("CHAP_I", value.clone()), ("CHAP_C", value)]), secrets, Some(("t", b"s")));
        }
    }
}
