//! The target's side of the login phase (RFC 7143 6.3, 11.12, 11.13), sans
//! IO: Login Requests in, Login Responses out, and at the end the session's
//! facts ([`Outcome`]).
//!
//! Stages: security (AuthMethod, then CHAP: algorithm, challenge, answer;
//! mutual CHAP if the initiator challenges back), operational (the keys of
//! [`negotiation`](crate::negotiation)), full feature. An initiator may
//! skip the security stage only where the target needs no authentication.
//! Text continued over several PDUs (the C bit) is joined first, up to
//! [`TargetLimits::max_login_text`] bytes and
//! [`TargetLimits::max_login_pdus`] PDUs: an unauthenticated peer must not
//! make the target hold unbounded text. Failures
//! answer with RFC 7143's status and end the login: 0x0201 authentication
//! failed, 0x0202 not authorized (ACL), 0x0203 target not found, 0x0205
//! unsupported version, 0x0207 missing parameter, 0x0200 any other
//! initiator error (an InitiatorName not of RFC 3720's forms, see
//! [`name`](crate::name), among them).

use std::sync::Arc;

use bytes::Bytes;

use crate::chap::{self, Authenticator, ChapError};
use crate::negotiation::{Negotiation, Params, TargetLimits};
use crate::pdu::{Bhs, Opcode, Pdu};
use crate::text;

/// How a target authenticates initiators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// None (targetcli's `authentication=0`, the chapter's demo mode).
    None,
    /// CHAP with these users and secrets; `mutual`: the target's own name
    /// and secret for initiators that challenge back.
    Chap {
        /// Initiator user names and secrets.
        users: Vec<(String, Vec<u8>)>,
        /// The target's credentials for mutual CHAP.
        mutual: Option<(String, Vec<u8>)>,
    },
}

/// One target a portal serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetEntry {
    /// Its IQN.
    pub name: String,
    /// How initiators authenticate.
    pub auth: Auth,
    /// Initiator IQNs allowed in; `None`: any (demo mode).
    pub allowed: Option<Vec<String>>,
    /// Per-initiator authentication (targetcli's node ACL `chap_userid`,
    /// `chap_password` and the mutual pair): an initiator named here logs
    /// in with its own credentials instead of the target's `auth`.
    pub initiator_auth: Vec<(String, Auth)>,
}

/// What logins are checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginConfig {
    /// The targets.
    pub targets: Vec<TargetEntry>,
    /// Authentication for discovery sessions.
    pub discovery_auth: Auth,
    /// The portal group's tag (TargetPortalGroupTag).
    pub portal_group_tag: u16,
    /// What the target negotiates up to.
    pub limits: TargetLimits,
}

impl LoginConfig {
    /// One target, open to every initiator with `auth`, no authentication
    /// for discovery, portal group 1, the default limits: a small lab's
    /// target.
    pub fn single(name: &str, auth: Auth) -> Self {
        Self {
            targets: vec![TargetEntry {
                name: name.to_owned(),
                auth,
                allowed: None,
                initiator_auth: Vec::new(),
            }],
            discovery_auth: Auth::None,
            portal_group_tag: 1,
            limits: TargetLimits::default(),
        }
    }
}

/// What kind of session logged in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionType {
    /// A normal session to the target with this index in the config.
    Normal(usize),
    /// A discovery session (SendTargets).
    Discovery,
}

/// A completed login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The initiator's IQN.
    pub initiator: String,
    /// Normal or discovery.
    pub session_type: SessionType,
    /// The negotiated parameters.
    pub params: Params,
    /// The initiator's session id.
    pub isid: [u8; 6],
    /// The session's handle given by the target.
    pub tsih: u16,
    /// The next StatSN the target sends.
    pub stat_sn: u32,
    /// The CmdSN the target expects next.
    pub exp_cmd_sn: u32,
}

/// What to do with a Login Request's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send the response; more requests follow.
    Continue(Pdu),
    /// Send the response; the connection is in full feature phase.
    Done(Pdu, Outcome),
    /// Send the response (a failure status); then close the connection.
    Fail(Pdu),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chap {
    /// AuthMethod not agreed yet.
    Start,
    /// AuthMethod=CHAP agreed; waiting for CHAP_A.
    Algorithm,
    /// Challenge sent; waiting for CHAP_N/CHAP_R.
    Answer,
    /// Authenticated (or no authentication needed).
    Done,
}

/// Commands the target lets an initiator have outstanding.
pub const COMMAND_WINDOW: u32 = 32;

/// One connection's login.
#[derive(Debug)]
pub struct Login {
    config: Arc<LoginConfig>,
    tsih: u16,
    stat_sn: u32,
    challenge: ([u8; 16], u8),
    authenticator: Option<Authenticator>,
    chap: Chap,
    negotiation: Negotiation,
    initiator: Option<String>,
    session_type: Option<SessionType>,
    declared_tpgt: bool,
    pending_text: Vec<u8>,
    /// Login PDUs joined into `pending_text` so far.
    pending_pdus: u32,
}

fn status(class: u8, detail: u8) -> u16 {
    u16::from(class) << 8 | u16::from(detail)
}

impl Login {
    /// A login that will give the session handle `tsih`, start StatSN at
    /// `stat_sn`, and challenge with `challenge` and `identifier` (from a
    /// secure random source: this module does no I/O).
    pub fn new(
        config: Arc<LoginConfig>,
        tsih: u16,
        stat_sn: u32,
        challenge: [u8; 16],
        identifier: u8,
    ) -> Self {
        let negotiation = Negotiation::new(config.limits.clone());
        Self {
            config,
            tsih,
            stat_sn,
            challenge: (challenge, identifier),
            authenticator: None,
            chap: Chap::Start,
            negotiation,
            initiator: None,
            session_type: None,
            declared_tpgt: false,
            pending_text: Vec::new(),
            pending_pdus: 0,
        }
    }

    fn auth(&self) -> &Auth {
        match self.session_type {
            Some(SessionType::Normal(i)) => {
                let target = &self.config.targets[i];
                target
                    .initiator_auth
                    .iter()
                    .find(|(name, _)| Some(name) == self.initiator.as_ref())
                    .map_or(&target.auth, |(_, auth)| auth)
            }
            _ => &self.config.discovery_auth,
        }
    }

    /// Answers one Login Request.
    pub fn handle_request(&mut self, request: &Pdu) -> Step {
        let b = &request.bhs;
        if b.opcode_byte() != Opcode::LoginRequest as u8 {
            return self.fail(request, status(2, 0));
        }
        let transit = b.0[1] & 0x80 != 0;
        let continued = b.0[1] & 0x40 != 0;
        let csg = (b.0[1] >> 2) & 3;
        let nsg = b.0[1] & 3;
        // Only version 0 exists.
        if b.0[3] > 0 {
            return self.fail(request, status(2, 5));
        }
        let limits = &self.config.limits;
        let total = self.pending_text.len().saturating_add(request.data.len());
        self.pending_pdus = self.pending_pdus.saturating_add(1);
        if total > limits.max_login_text || self.pending_pdus > limits.max_login_pdus {
            tracing::warn!(
                bytes = total,
                pdus = self.pending_pdus,
                max_bytes = limits.max_login_text,
                max_pdus = limits.max_login_pdus,
                "login text too long; ending the login"
            );
            self.pending_text = Vec::new();
            return self.fail(request, status(2, 0));
        }
        self.pending_text.extend_from_slice(&request.data);
        if continued {
            return Step::Continue(self.response(request, false, csg, nsg, 0, Vec::new()));
        }
        self.pending_pdus = 0;
        let keys = match text::parse(&std::mem::take(&mut self.pending_text)) {
            Ok(keys) => keys,
            Err(_) => return self.fail(request, status(2, 0)),
        };
        let get = |k: &str| {
            keys.iter()
                .rev()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        if self.initiator.is_none() {
            let Some(name) = get("InitiatorName") else {
                return self.fail(request, status(2, 7));
            };
            // Present but not a name: an initiator error (0x0207 is for a
            // missing one).
            if !crate::name::is_valid(&name) {
                tracing::warn!(initiator = %name.escape_debug(), "InitiatorName is not an iSCSI name");
                return self.fail(request, status(2, 0));
            }
            let session_type = match get("SessionType").as_deref() {
                None | Some("Normal") => {
                    let Some(target) = get("TargetName") else {
                        return self.fail(request, status(2, 7));
                    };
                    let Some(index) = self.config.targets.iter().position(|t| t.name == target)
                    else {
                        return self.fail(request, status(2, 3));
                    };
                    if let Some(allowed) = &self.config.targets[index].allowed
                        && !allowed.contains(&name)
                    {
                        return self.fail(request, status(2, 2));
                    }
                    SessionType::Normal(index)
                }
                Some("Discovery") => SessionType::Discovery,
                Some(_) => return self.fail(request, status(2, 0)),
            };
            self.initiator = Some(name);
            self.session_type = Some(session_type);
            if *self.auth() == Auth::None && csg == 1 {
                self.chap = Chap::Done;
            }
        }
        let mut answers: Vec<(String, String)> = Vec::new();
        // A normal session's first response names the portal group.
        if !self.declared_tpgt && matches!(self.session_type, Some(SessionType::Normal(_))) {
            self.declared_tpgt = true;
            answers.push((
                "TargetPortalGroupTag".into(),
                self.config.portal_group_tag.to_string(),
            ));
        }
        match csg {
            0 => {
                if let Err(fail) = self.security(&keys, &mut answers) {
                    return self.fail(request, fail);
                }
            }
            1 => {
                if self.chap != Chap::Done {
                    // Skipping authentication the target requires.
                    return self.fail(request, status(2, 1));
                }
                answers.extend(self.negotiation.handle_offer(&keys));
            }
            _ => return self.fail(request, status(2, 0)),
        }
        let may_transit = transit && self.chap == Chap::Done && nsg > csg && nsg != 2;
        let response = self.response(request, may_transit, csg, nsg, 0, answers);
        if may_transit && nsg == 3 {
            let outcome = Outcome {
                initiator: self.initiator.clone().unwrap_or_default(),
                session_type: self.session_type.clone().unwrap_or(SessionType::Discovery),
                params: self.negotiation.params().clone(),
                isid: request.bhs.0[8..14].try_into().unwrap_or_default(),
                tsih: self.tsih,
                stat_sn: self.stat_sn,
                exp_cmd_sn: request.bhs.u32_at(24),
            };
            return Step::Done(response, outcome);
        }
        Step::Continue(response)
    }

    /// The security stage: AuthMethod, then CHAP.
    fn security(
        &mut self,
        keys: &[(String, String)],
        answers: &mut Vec<(String, String)>,
    ) -> Result<(), u16> {
        let failed = status(2, 1);
        let get = |k: &str| {
            keys.iter()
                .rev()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        match self.chap {
            Chap::Start => {
                let offered: Vec<&str> =
                    get("AuthMethod").map_or(vec![], |v| v.split(',').collect());
                let want = match self.auth() {
                    Auth::None => "None",
                    Auth::Chap { .. } => "CHAP",
                };
                if offered.contains(&want) {
                    answers.push(("AuthMethod".into(), want.into()));
                    self.chap = if want == "None" {
                        Chap::Done
                    } else {
                        Chap::Algorithm
                    };
                } else if offered.is_empty() && want == "None" {
                    self.chap = Chap::Done;
                } else {
                    return Err(failed);
                }
                // Operational keys may come along in the security stage.
                answers.extend(self.negotiation.handle_offer(keys));
                Ok(())
            }
            Chap::Algorithm => {
                let algorithms = get("CHAP_A").ok_or(failed)?;
                if !algorithms.split(',').any(|a| a == chap::ALGORITHM_MD5) {
                    return Err(failed);
                }
                let (challenge, identifier) = self.challenge;
                let authenticator = Authenticator::new(identifier, challenge);
                answers.extend(authenticator.challenge());
                self.authenticator = Some(authenticator);
                self.chap = Chap::Answer;
                Ok(())
            }
            Chap::Answer => {
                let Auth::Chap { users, mutual } = self.auth().clone() else {
                    return Err(failed);
                };
                let authenticator = self.authenticator.take().ok_or(failed)?;
                let secret_of = |user: &str| {
                    users
                        .iter()
                        .find(|(u, _)| u == user)
                        .map(|(_, s)| s.clone())
                };
                let mutual = mutual.as_ref().map(|(u, s)| (u.as_str(), s.as_slice()));
                match authenticator.verify(keys, secret_of, mutual) {
                    Ok(reply) => {
                        answers.extend(reply);
                        self.chap = Chap::Done;
                        Ok(())
                    }
                    Err(ChapError::Malformed(_)) => Err(status(2, 0)),
                    Err(_) => Err(failed),
                }
            }
            Chap::Done => {
                answers.extend(self.negotiation.handle_offer(keys));
                Ok(())
            }
        }
    }

    fn response(
        &mut self,
        request: &Pdu,
        transit: bool,
        csg: u8,
        nsg: u8,
        status: u16,
        answers: Vec<(String, String)>,
    ) -> Pdu {
        let mut bhs = Bhs::new(Opcode::LoginResponse);
        bhs.0[1] = if transit {
            0x80 | csg << 2 | nsg
        } else {
            csg << 2
        };
        bhs.0[8..14].copy_from_slice(&request.bhs.0[8..14]);
        if transit && nsg == 3 {
            bhs.set_u16_at(14, self.tsih);
        }
        bhs.set_itt(request.bhs.itt());
        bhs.set_u32_at(24, self.stat_sn);
        self.stat_sn = self.stat_sn.wrapping_add(1);
        let exp_cmd_sn = request.bhs.u32_at(24);
        bhs.set_u32_at(28, exp_cmd_sn);
        bhs.set_u32_at(32, exp_cmd_sn.wrapping_add(COMMAND_WINDOW - 1));
        bhs.set_u16_at(36, status);
        let mut pdu = Pdu::new(bhs);
        pdu.data = Bytes::from(text::encode(&answers));
        pdu
    }

    /// Bytes of continued login text held until its last PDU.
    pub fn buffered(&self) -> usize {
        self.pending_text.len()
    }

    fn fail(&mut self, request: &Pdu, status: u16) -> Step {
        let csg = (request.bhs.0[1] >> 2) & 3;
        Step::Fail(self.response(request, false, csg, 0, status, Vec::new()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IQN: &str = "iqn.2025-09.com.example:storage";
    const NODE: &str = "iqn.2025-09.com.example:node1";

    fn config(auth: Auth, allowed: Option<Vec<String>>) -> Arc<LoginConfig> {
        let mut config = LoginConfig::single(IQN, auth);
        config.targets[0].allowed = allowed;
        Arc::new(config)
    }

    fn request(transit: bool, csg: u8, nsg: u8, keys: &[(&str, &str)]) -> Pdu {
        let mut bhs = Bhs::new(Opcode::LoginRequest);
        bhs.set_immediate(true);
        bhs.0[1] = if transit {
            0x80 | csg << 2 | nsg
        } else {
            csg << 2
        };
        bhs.0[8..14].copy_from_slice(&[0x80, 0, 0x02, 0x3d, 0, 1]);
        bhs.set_itt(1);
        bhs.set_u32_at(24, 100);
        let mut pdu = Pdu::new(bhs);
        pdu.data = Bytes::from(text::encode(keys));
        pdu
    }

    fn keys_of(pdu: &Pdu) -> Vec<(String, String)> {
        text::parse(&pdu.data).unwrap()
    }

    fn status_of(pdu: &Pdu) -> u16 {
        pdu.bhs.u16_at(36)
    }

    fn login(auth: Auth) -> Login {
        Login::new(config(auth, None), 7, 1000, [0x42; 16], 3)
    }

    #[test]
    fn the_chapters_demo_target_logs_in_without_authentication() {
        let mut l = login(Auth::None);
        let Step::Continue(r) = l.handle_request(&request(
            true,
            0,
            1,
            &[
                ("InitiatorName", NODE),
                ("TargetName", IQN),
                ("AuthMethod", "None"),
            ],
        )) else {
            panic!("security stage");
        };
        assert_eq!(status_of(&r), 0);
        assert_eq!(r.bhs.0[1], 0x80 | 1, "transit to operational");
        assert!(keys_of(&r).contains(&("AuthMethod".into(), "None".into())));
        assert_eq!(r.bhs.u32_at(24), 1000, "the first StatSN");
        let Step::Done(r, outcome) = l.handle_request(&request(
            true,
            1,
            3,
            &[("MaxRecvDataSegmentLength", "262144"), ("InitialR2T", "No")],
        )) else {
            panic!("operational stage");
        };
        assert_eq!(r.bhs.0[1], 0x80 | 1 << 2 | 3);
        assert_eq!(r.bhs.u16_at(14), 7, "TSIH given");
        assert_eq!(r.bhs.u32_at(24), 1001, "StatSN advances");
        assert_eq!(outcome.initiator, NODE);
        assert_eq!(outcome.session_type, SessionType::Normal(0));
        assert_eq!(outcome.params.initiator_max_recv, 262_144);
        assert_eq!(outcome.isid, [0x80, 0, 0x02, 0x3d, 0, 1]);
    }

    #[test]
    fn chap_logs_in_with_the_right_secret_only() {
        let auth = Auth::Chap {
            users: vec![("node1".into(), b"initiatorsecret".to_vec())],
            mutual: None,
        };
        for (secret, ok) in [(&b"initiatorsecret"[..], true), (&b"wrong"[..], false)] {
            let mut l = login(auth.clone());
            let first = request(
                false,
                0,
                1,
                &[
                    ("InitiatorName", NODE),
                    ("TargetName", IQN),
                    ("AuthMethod", "CHAP,None"),
                ],
            );
            let Step::Continue(r) = l.handle_request(&first) else {
                panic!()
            };
            assert!(keys_of(&r).contains(&("AuthMethod".into(), "CHAP".into())));
            let Step::Continue(r) = l.handle_request(&request(false, 0, 1, &[("CHAP_A", "5")]))
            else {
                panic!()
            };
            let k = keys_of(&r);
            assert!(k.contains(&("CHAP_I".into(), "3".into())));
            assert!(k.contains(&("CHAP_C".into(), chap::encode_hex(&[0x42; 16]))));
            let answer = chap::encode_hex(&chap::response(3, secret, &[0x42; 16]));
            let step = l.handle_request(&request(
                true,
                0,
                1,
                &[("CHAP_N", "node1"), ("CHAP_R", &answer)],
            ));
            match (step, ok) {
                (Step::Continue(r), true) => assert_eq!(r.bhs.0[1], 0x80 | 1),
                (Step::Fail(r), false) => assert_eq!(status_of(&r), 0x0201),
                (other, _) => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn an_initiator_with_its_own_credentials_must_use_them() {
        let chap = Auth::Chap {
            users: vec![("node1".into(), b"initiatorsecret".to_vec())],
            mutual: None,
        };
        let mut config = (*config(Auth::None, None)).clone();
        config.targets[0].initiator_auth = vec![(NODE.into(), chap)];
        let config = Arc::new(config);
        let plain = |initiator: &str| {
            let mut l = Login::new(config.clone(), 1, 100, [0x42; 16], 3);
            l.handle_request(&request(
                true,
                1,
                3,
                &[("InitiatorName", initiator), ("TargetName", IQN)],
            ))
        };
        assert!(matches!(plain(NODE), Step::Fail(r) if status_of(&r) == 0x0201));
        assert!(matches!(
            plain("iqn.2025-09.com.example:node2"),
            Step::Done(..)
        ));
    }

    #[test]
    fn skipping_required_authentication_fails() {
        let auth = Auth::Chap {
            users: vec![("node1".into(), b"initiatorsecret".to_vec())],
            mutual: None,
        };
        let mut l = login(auth);
        let step = l.handle_request(&request(
            true,
            1,
            3,
            &[("InitiatorName", NODE), ("TargetName", IQN)],
        ));
        assert!(matches!(step, Step::Fail(r) if status_of(&r) == 0x0201));
    }

    #[test]
    fn unknown_targets_missing_names_and_acls() {
        let mut l = login(Auth::None);
        let step = l.handle_request(&request(
            true,
            1,
            3,
            &[("InitiatorName", NODE), ("TargetName", "iqn.nope")],
        ));
        assert!(matches!(step, Step::Fail(r) if status_of(&r) == 0x0203));
        let mut l = login(Auth::None);
        let step = l.handle_request(&request(true, 1, 3, &[("TargetName", IQN)]));
        assert!(matches!(step, Step::Fail(r) if status_of(&r) == 0x0207));
        let mut l = Login::new(
            config(Auth::None, Some(vec!["iqn.other".into()])),
            7,
            0,
            [0; 16],
            0,
        );
        let step = l.handle_request(&request(
            true,
            1,
            3,
            &[("InitiatorName", NODE), ("TargetName", IQN)],
        ));
        assert!(matches!(step, Step::Fail(r) if status_of(&r) == 0x0202));
    }

    #[test]
    fn a_discovery_session_needs_no_target_name() {
        let mut l = login(Auth::None);
        let step = l.handle_request(&request(
            true,
            1,
            3,
            &[("InitiatorName", NODE), ("SessionType", "Discovery")],
        ));
        let Step::Done(_, outcome) = step else {
            panic!("{step:?}")
        };
        assert_eq!(outcome.session_type, SessionType::Discovery);
    }

    #[test]
    fn continued_text_is_joined_before_it_is_read() {
        let mut l = login(Auth::None);
        let whole = text::encode(&[("InitiatorName", NODE), ("TargetName", IQN)]);
        let (a, b) = whole.split_at(10);
        let mut first = request(false, 1, 3, &[]);
        first.bhs.0[1] |= 0x40;
        first.data = Bytes::copy_from_slice(a);
        assert!(matches!(l.handle_request(&first), Step::Continue(r) if r.data.is_empty()));
        let mut second = request(true, 1, 3, &[]);
        second.data = Bytes::copy_from_slice(b);
        assert!(matches!(l.handle_request(&second), Step::Done(..)));
    }

    #[test]
    fn a_flood_of_continued_login_pdus_is_refused_with_memory_bounded() {
        let mut l = login(Auth::None);
        let limit = TargetLimits::default().max_login_text;
        let mut continued = request(false, 1, 3, &[]);
        continued.bhs.0[1] |= 0x40;
        continued.data = Bytes::from(vec![b'a'; 8192]);
        let mut refused = None;
        for _ in 0..6000 {
            match l.handle_request(&continued) {
                Step::Continue(_) => assert!(l.buffered() <= limit),
                step => {
                    refused = Some(step);
                    break;
                }
            }
        }
        let Some(Step::Fail(r)) = refused else {
            panic!("the flood was not refused: {refused:?}")
        };
        assert_eq!(status_of(&r), 0x0200);
        assert_eq!(l.buffered(), 0);
    }

    #[test]
    fn empty_continued_login_pdus_are_counted() {
        let mut l = login(Auth::None);
        let max = TargetLimits::default().max_login_pdus;
        let mut continued = request(false, 1, 3, &[]);
        continued.bhs.0[1] |= 0x40;
        for _ in 0..max {
            assert!(matches!(l.handle_request(&continued), Step::Continue(_)));
        }
        let Step::Fail(r) = l.handle_request(&continued) else {
            panic!("PDU {} of a continued text was accepted", max + 1)
        };
        assert_eq!(status_of(&r), 0x0200);
    }

    #[test]
    fn a_continued_text_at_the_limit_logs_in() {
        let mut l = login(Auth::None);
        let keys = text::encode(&[("InitiatorName", NODE), ("TargetName", IQN)]);
        let mut whole = vec![0u8; 0];
        whole.extend_from_slice(&keys);
        let limits = TargetLimits::default();
        // Pad with harmless keys the negotiation answers NotUnderstood.
        let mut i = 0;
        while whole.len() < limits.max_login_text {
            let key = format!("X-com.example.Pad{i}=");
            let room = limits.max_login_text - whole.len() - key.len() - 1;
            whole.extend_from_slice(key.as_bytes());
            whole.extend(std::iter::repeat_n(b'p', room.min(4000)));
            whole.push(0);
            i += 1;
        }
        assert_eq!(whole.len(), limits.max_login_text);
        let chunks: Vec<&[u8]> = whole.chunks(8192).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            let last = i + 1 == chunks.len();
            let mut pdu = request(last, 1, 3, &[]);
            if !last {
                pdu.bhs.0[1] |= 0x40;
            }
            pdu.data = Bytes::copy_from_slice(chunk);
            let step = l.handle_request(&pdu);
            if last {
                assert!(matches!(step, Step::Done(..)), "{step:?}");
            } else {
                assert!(matches!(step, Step::Continue(_)), "{step:?}");
            }
        }
    }

    #[test]
    fn an_initiator_name_not_of_the_iscsi_forms_is_refused() {
        for bad in ["node1", "iqn.2025-09.com.example:a b", "eui.123"] {
            let mut l = login(Auth::None);
            let step = l.handle_request(&request(
                true,
                1,
                3,
                &[("InitiatorName", bad), ("TargetName", IQN)],
            ));
            let Step::Fail(r) = step else {
                panic!("{bad:?} logged in: {step:?}")
            };
            assert_eq!(status_of(&r), 0x0200, "{bad:?}");
        }
    }
}
