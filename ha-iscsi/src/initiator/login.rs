//! The initiator's side of the login phase, sans IO: Login Requests out,
//! Login Responses in, and at the end the negotiated [`Params`].
//!
//! The security stage offers `AuthMethod=CHAP,None` when credentials are
//! set (answering the target's challenge, and with mutual CHAP challenging
//! it back and checking its answer), `None` otherwise; the operational
//! stage offers the keys below and takes the target's answers by RFC
//! 7143's rules; then the full feature phase.

use bytes::Bytes;

use crate::chap;
use crate::negotiation::Params;
use crate::pdu::{Bhs, Opcode, Pdu};
use crate::text;
use crate::{Error, Result};

use super::InitiatorConfig;

/// What to do after a Login Response.
#[derive(Debug)]
pub enum Next {
    /// Send this request.
    Send(Pdu),
    /// Logged in: the session's parameters, TSIH and the StatSN to expect.
    Done {
        /// The negotiated parameters.
        params: Params,
        /// The session handle the target gave.
        tsih: u16,
        /// The next StatSN.
        exp_stat_sn: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// AuthMethod offered.
    Method,
    /// CHAP_A sent.
    Algorithm,
    /// CHAP_N/CHAP_R sent.
    Answered,
    /// Operational keys offered.
    Operational,
}

/// One connection's login, from the initiator.
#[derive(Debug)]
pub struct Handshake {
    config: InitiatorConfig,
    /// `None`: a discovery session.
    target: Option<String>,
    isid: [u8; 6],
    itt: u32,
    cmd_sn: u32,
    exp_stat_sn: u32,
    stage: Stage,
    /// Our challenge to the target (mutual CHAP): identifier, bytes.
    challenge: Option<(u8, [u8; 16])>,
    params: Params,
    offered_max_recv: u32,
    /// Keys answered over several responses (the C bit).
    pending: Vec<u8>,
}

/// The operational keys offered.
fn offer(config: &InitiatorConfig) -> Vec<(String, String)> {
    let digest = |on: bool| if on { "CRC32C,None" } else { "None" };
    [
        ("HeaderDigest", digest(config.header_digest).to_owned()),
        ("DataDigest", digest(config.data_digest).to_owned()),
        ("MaxConnections", "1".to_owned()),
        ("InitialR2T", "No".to_owned()),
        ("ImmediateData", "Yes".to_owned()),
        ("MaxRecvDataSegmentLength", config.max_recv.to_string()),
        ("MaxBurstLength", "1048576".to_owned()),
        ("FirstBurstLength", "262144".to_owned()),
        ("DefaultTime2Wait", "2".to_owned()),
        ("DefaultTime2Retain", "0".to_owned()),
        ("MaxOutstandingR2T", "1".to_owned()),
        ("DataPDUInOrder", "Yes".to_owned()),
        ("DataSequenceInOrder", "Yes".to_owned()),
        ("ErrorRecoveryLevel", "0".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

impl Handshake {
    /// A login to `target` (`None`: discovery) with session id `isid`
    /// and, for mutual CHAP, a challenge from a secure random source
    /// (this module does no I/O); its first request.
    pub fn new(
        config: InitiatorConfig,
        target: Option<String>,
        isid: [u8; 6],
        challenge: (u8, [u8; 16]),
    ) -> (Self, Pdu) {
        let mutual = config.mutual.is_some();
        let handshake = Self {
            offered_max_recv: config.max_recv,
            config,
            target,
            isid,
            itt: 0,
            cmd_sn: 1,
            exp_stat_sn: 0,
            stage: Stage::Method,
            challenge: mutual.then_some(challenge),
            params: Params::default(),
            pending: Vec::new(),
        };
        let mut keys = vec![("InitiatorName".to_owned(), handshake.config.name.clone())];
        match &handshake.target {
            Some(t) => {
                keys.push(("SessionType".into(), "Normal".into()));
                keys.push(("TargetName".into(), t.clone()));
            }
            None => keys.push(("SessionType".into(), "Discovery".into())),
        }
        let first = if handshake.config.chap.is_some() {
            keys.push(("AuthMethod".into(), "CHAP,None".into()));
            handshake.request(0, 1, false, &keys)
        } else {
            keys.push(("AuthMethod".into(), "None".into()));
            handshake.request(0, 1, true, &keys)
        };
        (handshake, first)
    }

    fn request(&self, csg: u8, nsg: u8, transit: bool, keys: &[(String, String)]) -> Pdu {
        let mut bhs = Bhs::new(Opcode::LoginRequest);
        bhs.set_immediate(true);
        bhs.0[1] = u8::from(transit) << 7 | csg << 2 | if transit { nsg } else { 0 };
        bhs.0[8..14].copy_from_slice(&self.isid);
        bhs.set_itt(self.itt);
        bhs.set_u32_at(24, self.cmd_sn);
        bhs.set_u32_at(28, self.exp_stat_sn);
        let mut pdu = Pdu::new(bhs);
        pdu.data = Bytes::from(text::encode(keys));
        pdu
    }

    /// Takes a Login Response; what to send next, or the outcome.
    pub fn handle_response(&mut self, response: &Pdu) -> Result<Next> {
        let b = &response.bhs;
        if b.opcode() != Ok(Opcode::LoginResponse) {
            return Err(Error::Protocol(format!("{:?} during login", b.opcode())));
        }
        let (class, detail) = (b.0[36], b.0[37]);
        if class != 0 {
            return Err(Error::LoginRefused { class, detail });
        }
        self.exp_stat_sn = b.u32_at(24).wrapping_add(1);
        let transit = b.0[1] & 0x80 != 0;
        let continued = b.0[1] & 0x40 != 0;
        let nsg = b.0[1] & 0x03;
        self.pending.extend_from_slice(&response.data);
        if continued {
            // More text follows: ask for it with an empty request.
            let csg = (b.0[1] >> 2) & 0x03;
            return Ok(Next::Send(self.request(csg, nsg, false, &[])));
        }
        let keys = text::parse(&std::mem::take(&mut self.pending))
            .map_err(|e| Error::Protocol(format!("login text: {e:?}")))?;
        let get = |k: &str| {
            keys.iter()
                .rev()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        match self.stage {
            Stage::Method => {
                if transit && nsg == 1 {
                    // No authentication: on to the operational stage.
                    return Ok(self.operational());
                }
                match get("AuthMethod") {
                    Some("CHAP") if self.config.chap.is_some() => {
                        self.stage = Stage::Algorithm;
                        let keys = [("CHAP_A".to_owned(), chap::ALGORITHM_MD5.to_owned())];
                        Ok(Next::Send(self.request(0, 1, false, &keys)))
                    }
                    Some("None") => Ok(Next::Send(self.request(0, 1, true, &[]))),
                    other => Err(Error::Protocol(format!("AuthMethod answered {other:?}"))),
                }
            }
            Stage::Algorithm => {
                if get("CHAP_A") != Some(chap::ALGORITHM_MD5) {
                    return Err(Error::Protocol(
                        "the target wants a CHAP algorithm other than MD5".into(),
                    ));
                }
                let identifier = get("CHAP_I")
                    .and_then(|i| i.parse::<u8>().ok())
                    .ok_or_else(|| Error::Protocol("CHAP_I missing".into()))?;
                let challenge = get("CHAP_C")
                    .and_then(chap::decode_binary)
                    .ok_or_else(|| Error::Protocol("CHAP_C missing".into()))?;
                let Some((user, secret)) = &self.config.chap else {
                    return Err(Error::Protocol("CHAP without credentials".into()));
                };
                let answer = chap::response(identifier, secret, &challenge);
                let mut keys = vec![
                    ("CHAP_N".to_owned(), user.clone()),
                    ("CHAP_R".to_owned(), chap::encode_hex(&answer)),
                ];
                if let Some((id, ours)) = self.challenge {
                    if ours[..] == challenge[..] {
                        return Err(Error::Protocol("the target sent our own challenge".into()));
                    }
                    keys.push(("CHAP_I".into(), id.to_string()));
                    keys.push(("CHAP_C".into(), chap::encode_hex(&ours)));
                }
                self.stage = Stage::Answered;
                Ok(Next::Send(self.request(0, 1, true, &keys)))
            }
            Stage::Answered => {
                if let (Some((id, ours)), Some((name, secret))) =
                    (self.challenge, &self.config.mutual)
                {
                    let expected = chap::response(id, secret, &ours);
                    let given = get("CHAP_R").and_then(chap::decode_binary);
                    if get("CHAP_N") != Some(name.as_str())
                        || given.as_deref() != Some(&expected[..])
                    {
                        return Err(Error::Protocol(
                            "the target's mutual CHAP answer does not verify".into(),
                        ));
                    }
                }
                if !transit {
                    return Ok(Next::Send(self.request(0, 1, true, &[])));
                }
                Ok(self.operational())
            }
            Stage::Operational => {
                self.take_answers(&keys)?;
                if transit && nsg == 3 {
                    return Ok(Next::Done {
                        params: self.params.clone(),
                        tsih: b.u16_at(14),
                        exp_stat_sn: self.exp_stat_sn,
                    });
                }
                Ok(Next::Send(self.request(1, 3, true, &[])))
            }
        }
    }

    fn operational(&mut self) -> Next {
        self.stage = Stage::Operational;
        let keys = offer(&self.config);
        Next::Send(self.request(1, 3, true, &keys))
    }

    /// The target's answers to our offer (and its declarations).
    fn take_answers(&mut self, keys: &[(String, String)]) -> Result<()> {
        let p = &mut self.params;
        p.initiator_max_recv = self.offered_max_recv;
        for (k, v) in keys {
            let number = || {
                v.parse::<u32>()
                    .map_err(|_| Error::Protocol(format!("{k}={v} is not a number")))
            };
            match k.as_str() {
                "HeaderDigest" => p.header_digest = v == "CRC32C",
                "DataDigest" => p.data_digest = v == "CRC32C",
                "InitialR2T" => p.initial_r2t = v == "Yes",
                "ImmediateData" => p.immediate_data = v == "Yes",
                "MaxRecvDataSegmentLength" => p.target_max_recv = number()?.clamp(512, 16_777_215),
                "MaxBurstLength" => p.max_burst = number()?.clamp(512, 16_777_215),
                "FirstBurstLength" => p.first_burst = number()?.clamp(512, 16_777_215),
                "MaxOutstandingR2T" => p.max_outstanding_r2t = number()?.max(1),
                "ErrorRecoveryLevel" => p.error_recovery_level = number()?,
                "DataPDUInOrder" => p.data_pdu_in_order = v == "Yes",
                "DataSequenceInOrder" => p.data_sequence_in_order = v == "Yes",
                "MaxConnections" => p.max_connections = number()?.max(1),
                "DefaultTime2Wait" => p.time2wait = number()?,
                "DefaultTime2Retain" => p.time2retain = number()?,
                _ => {}
            }
        }
        if p.first_burst > p.max_burst {
            p.first_burst = p.max_burst;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::login::{Auth, Login, LoginConfig, Step};
    use crate::negotiation::TargetLimits;
    use std::sync::Arc;

    const IQN: &str = "iqn.2025-09.com.example:storage";

    fn target(auth: Auth) -> Login {
        let config = LoginConfig::single(IQN, auth);
        Login::new(Arc::new(config), 9, 500, [0x33; 16], 7)
    }

    /// Both sides' state machines talking to each other, no sockets.
    fn converse(initiator: InitiatorConfig, auth: Auth) -> Result<Params> {
        let mut login = target(auth);
        let (mut handshake, mut request) = Handshake::new(
            initiator,
            Some(IQN.into()),
            [0x80, 1, 2, 3, 4, 5],
            (9, [0x77; 16]),
        );
        for _ in 0..10 {
            let response = match login.handle_request(&request) {
                Step::Continue(r) | Step::Done(r, _) | Step::Fail(r) => r,
            };
            match handshake.handle_response(&response)? {
                Next::Send(next) => request = next,
                Next::Done { params, tsih, .. } => {
                    assert_eq!(tsih, 9);
                    return Ok(params);
                }
            }
        }
        panic!("the login did not finish");
    }

    #[test]
    fn logs_in_to_our_target_without_and_with_chap() {
        let node = InitiatorConfig::new("iqn.2025-09.com.example:node1");
        let p = converse(node.clone(), Auth::None).unwrap();
        assert!(!p.initial_r2t && p.immediate_data);
        assert_eq!(p.target_max_recv, TargetLimits::default().max_recv);
        let auth = Auth::Chap {
            users: vec![("node1".into(), b"initiatorsecret".to_vec())],
            mutual: Some(("storage".into(), b"targetsecret12".to_vec())),
        };
        let chap = node.clone().with_chap("node1", b"initiatorsecret");
        converse(chap.clone(), auth.clone()).unwrap();
        converse(
            chap.clone().with_mutual_chap("storage", b"targetsecret12"),
            auth.clone(),
        )
        .unwrap();
        assert!(matches!(
            converse(
                chap.with_mutual_chap("storage", b"nottheone1234"),
                auth.clone()
            ),
            Err(Error::Protocol(_))
        ));
        assert_eq!(
            converse(node.with_chap("node1", b"wrongsecret12"), auth),
            Err(Error::LoginRefused {
                class: 2,
                detail: 1
            })
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_responses_never_panic(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 48..200),
        ) {
            let config = InitiatorConfig::new("iqn.x:y").with_chap("u", b"secretsecret").with_mutual_chap("t", b"s");
            let (mut h, _) = Handshake::new(config, Some("iqn.t:t".into()), [0x80, 0, 0, 0, 0, 1], (1, [2; 16]));
            let mut bhs = Bhs([0; 48]);
            bhs.0.copy_from_slice(&bytes[..48]);
            bhs.0[0] = Opcode::LoginResponse as u8;
            let mut pdu = Pdu::new(bhs);
            pdu.data = Bytes::copy_from_slice(&bytes[48..]);
            for _ in 0..4 {
                let _ = h.handle_response(&pdu);
            }
        }
    }
}
