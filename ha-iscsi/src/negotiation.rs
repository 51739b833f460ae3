//! Negotiating the operational keys of a session (RFC 7143 13), from the
//! target's side, sans IO: the initiator offers, the target answers each
//! key by its rule and both arrive at the same [`Params`].
//!
//! Rules: list keys (the digests) take the first offered value the target
//! supports; numbers are `min` (MaxConnections, MaxBurstLength,
//! FirstBurstLength, DefaultTime2Retain, MaxOutstandingR2T,
//! ErrorRecoveryLevel) or `max` (DefaultTime2Wait); booleans are OR
//! (InitialR2T, DataPDUInOrder, DataSequenceInOrder) or AND
//! (ImmediateData); MaxRecvDataSegmentLength is declarative (each side
//! states what it receives). Out-of-range or malformed values are answered
//! `Reject`; IFMarker/OFMarker (and their intervals, dropped from RFC 7143)
//! are answered `Reject`; unknown keys `NotUnderstood`. Keys the login
//! state machine handles (names, SessionType, CHAP...) are left to it.

use crate::text;

/// The negotiated operational parameters, starting from RFC 7143's
/// defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// HeaderDigest=CRC32C.
    pub header_digest: bool,
    /// DataDigest=CRC32C.
    pub data_digest: bool,
    /// MaxConnections (1).
    pub max_connections: u32,
    /// InitialR2T (Yes).
    pub initial_r2t: bool,
    /// ImmediateData (Yes).
    pub immediate_data: bool,
    /// What the initiator receives: the most the target may put in one
    /// PDU's data segment (8192).
    pub initiator_max_recv: u32,
    /// What the target receives (declared by the target, 8192 unless set).
    pub target_max_recv: u32,
    /// MaxBurstLength (262144).
    pub max_burst: u32,
    /// FirstBurstLength (65536).
    pub first_burst: u32,
    /// DefaultTime2Wait (2).
    pub time2wait: u32,
    /// DefaultTime2Retain (20).
    pub time2retain: u32,
    /// MaxOutstandingR2T (1).
    pub max_outstanding_r2t: u32,
    /// DataPDUInOrder (Yes).
    pub data_pdu_in_order: bool,
    /// DataSequenceInOrder (Yes).
    pub data_sequence_in_order: bool,
    /// ErrorRecoveryLevel (0).
    pub error_recovery_level: u32,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            header_digest: false,
            data_digest: false,
            max_connections: 1,
            initial_r2t: true,
            immediate_data: true,
            initiator_max_recv: 8192,
            target_max_recv: 8192,
            max_burst: 262_144,
            first_burst: 65_536,
            time2wait: 2,
            time2retain: 20,
            max_outstanding_r2t: 1,
            data_pdu_in_order: true,
            data_sequence_in_order: true,
            error_recovery_level: 0,
        }
    }
}

/// What the target is willing to do: the values it offers in answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetLimits {
    /// Accept CRC32C header digests.
    pub header_digest: bool,
    /// Accept CRC32C data digests.
    pub data_digest: bool,
    /// Most connections per session.
    pub max_connections: u32,
    /// The target's own InitialR2T wish.
    pub initial_r2t: bool,
    /// The target's own ImmediateData wish.
    pub immediate_data: bool,
    /// What the target receives in one data segment.
    pub max_recv: u32,
    /// Largest burst.
    pub max_burst: u32,
    /// Largest unsolicited burst.
    pub first_burst: u32,
    /// Most R2Ts outstanding per task.
    pub max_outstanding_r2t: u32,
    /// Highest error recovery level supported.
    pub error_recovery_level: u32,
    /// Most bytes of login text continued over several PDUs (the C bit)
    /// the target joins before it answers; more ends the login with status
    /// 0x0200 (initiator error). Not negotiated: it bounds what an
    /// unauthenticated peer can make the target hold. The default, 64 KiB,
    /// is eight of RFC 7143's largest values (8192 bytes) at once, far
    /// beyond any real login.
    pub max_login_text: usize,
    /// Most Login PDUs one continued text may span; more ends the login
    /// like [`max_login_text`](Self::max_login_text). The default, 64,
    /// lets an initiator with the smallest sensible data segment (1 KiB)
    /// still send the whole 64 KiB, and stops a flood of empty continued
    /// PDUs early.
    pub max_login_pdus: u32,
}

impl Default for TargetLimits {
    fn default() -> Self {
        Self {
            header_digest: true,
            data_digest: true,
            max_connections: 1,
            initial_r2t: false,
            immediate_data: true,
            max_recv: 262_144,
            max_burst: 1_048_576,
            first_burst: 262_144,
            max_outstanding_r2t: 1,
            error_recovery_level: 0,
            max_login_text: 65_536,
            max_login_pdus: 64,
        }
    }
}

/// Keys the login state machine answers itself, not this module.
pub const LOGIN_KEYS: [&str; 10] = [
    "InitiatorName",
    "InitiatorAlias",
    "TargetName",
    "TargetAlias",
    "TargetAddress",
    "TargetPortalGroupTag",
    "SessionType",
    "AuthMethod",
    "SendTargets",
    "TaskReporting",
];

fn number(value: &str) -> Option<u64> {
    match value
        .strip_prefix("0x")
        .or_else(|| value.strip_prefix("0X"))
    {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
            value.parse().ok()
        }
        None => None,
    }
}

fn boolean(value: &str) -> Option<bool> {
    match value {
        "Yes" => Some(true),
        "No" => Some(false),
        _ => None,
    }
}

fn yes_no(on: bool) -> String {
    if on { "Yes" } else { "No" }.to_owned()
}

/// A negotiation in progress on the target.
#[derive(Debug, Clone)]
pub struct Negotiation {
    limits: TargetLimits,
    params: Params,
    /// MaxRecvDataSegmentLength declared already.
    declared: bool,
}

impl Negotiation {
    /// Starts from RFC 7143's defaults with the target's `limits`.
    pub fn new(limits: TargetLimits) -> Self {
        let params = Params {
            target_max_recv: limits.max_recv,
            ..Params::default()
        };
        Self {
            limits,
            params,
            declared: false,
        }
    }

    /// The parameters as negotiated so far.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Answers the initiator's operational keys (others are skipped:
    /// [`LOGIN_KEYS`] are the login state machine's). Returns the pairs to
    /// send back. A key offered twice is answered once, `Reject`.
    pub fn handle_offer(&mut self, offer: &[(String, String)]) -> Vec<(String, String)> {
        let mut answers: Vec<(String, String)> = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for (key, value) in offer {
            if LOGIN_KEYS.contains(&key.as_str()) || key.starts_with("CHAP_") {
                continue;
            }
            if seen.contains(&key.as_str()) {
                if let Some(answer) = answers.iter_mut().find(|(k, _)| k == key) {
                    answer.1 = "Reject".into();
                }
                continue;
            }
            seen.push(key);
            let answer = self.answer(key, value);
            answers.push((key.clone(), answer));
        }
        // The target declares once what it receives.
        if answers.iter().any(|(k, _)| k == "MaxRecvDataSegmentLength") {
            self.declared = true;
        } else if !self.declared {
            self.declared = true;
            answers.push((
                "MaxRecvDataSegmentLength".into(),
                self.limits.max_recv.to_string(),
            ));
        }
        // FirstBurstLength may not exceed MaxBurstLength (RFC 7143 13.14).
        self.params.first_burst = self.params.first_burst.min(self.params.max_burst);
        answers
    }

    fn answer(&mut self, key: &str, value: &str) -> String {
        let p = &mut self.params;
        let l = &self.limits;
        let reject = || "Reject".to_owned();
        let ranged = |min: u64, max: u64| number(value).filter(|n| (min..=max).contains(n));
        match key {
            "HeaderDigest" | "DataDigest" => {
                let supported = if key == "HeaderDigest" {
                    l.header_digest
                } else {
                    l.data_digest
                };
                let choice = value
                    .split(',')
                    .find(|v| *v == "None" || (*v == "CRC32C" && supported));
                match choice {
                    Some(v) => {
                        let on = v == "CRC32C";
                        if key == "HeaderDigest" {
                            p.header_digest = on;
                        } else {
                            p.data_digest = on;
                        }
                        v.to_owned()
                    }
                    None => reject(),
                }
            }
            "MaxConnections" => ranged(1, 65_535).map_or_else(reject, |n| {
                p.max_connections = (n as u32).min(l.max_connections);
                p.max_connections.to_string()
            }),
            "InitialR2T" => boolean(value).map_or_else(reject, |b| {
                p.initial_r2t = b || l.initial_r2t;
                yes_no(p.initial_r2t)
            }),
            "ImmediateData" => boolean(value).map_or_else(reject, |b| {
                p.immediate_data = b && l.immediate_data;
                yes_no(p.immediate_data)
            }),
            // This target only works in order: OR with its Yes is Yes.
            "DataPDUInOrder" => boolean(value).map_or_else(reject, |_| {
                p.data_pdu_in_order = true;
                yes_no(true)
            }),
            "DataSequenceInOrder" => boolean(value).map_or_else(reject, |_| {
                p.data_sequence_in_order = true;
                yes_no(true)
            }),
            "MaxRecvDataSegmentLength" => ranged(512, (1 << 24) - 1).map_or_else(reject, |n| {
                p.initiator_max_recv = n as u32;
                l.max_recv.to_string()
            }),
            "MaxBurstLength" => ranged(512, (1 << 24) - 1).map_or_else(reject, |n| {
                p.max_burst = (n as u32).min(l.max_burst);
                p.max_burst.to_string()
            }),
            "FirstBurstLength" => ranged(512, (1 << 24) - 1).map_or_else(reject, |n| {
                p.first_burst = (n as u32).min(l.first_burst);
                p.first_burst.to_string()
            }),
            // max: the target's own wish is 0 (reconnect at once), so the
            // initiator's value stands.
            "DefaultTime2Wait" => ranged(0, 3600).map_or_else(reject, |n| {
                p.time2wait = n as u32;
                p.time2wait.to_string()
            }),
            "DefaultTime2Retain" => ranged(0, 3600).map_or_else(reject, |n| {
                p.time2retain = (n as u32).min(Params::default().time2retain);
                p.time2retain.to_string()
            }),
            "MaxOutstandingR2T" => ranged(1, 65_535).map_or_else(reject, |n| {
                p.max_outstanding_r2t = (n as u32).min(l.max_outstanding_r2t);
                p.max_outstanding_r2t.to_string()
            }),
            "ErrorRecoveryLevel" => ranged(0, 2).map_or_else(reject, |n| {
                p.error_recovery_level = (n as u32).min(l.error_recovery_level);
                p.error_recovery_level.to_string()
            }),
            // Markers are gone from RFC 7143; the notes say answer Reject,
            // never NotUnderstood (some initiators give up on that).
            "IFMarker" | "OFMarker" | "IFMarkInt" | "OFMarkInt" => reject(),
            _ => "NotUnderstood".to_owned(),
        }
    }
}

/// Parses a text segment and answers it: the answering pairs as a text
/// segment, or why the text is malformed.
pub fn answer_text(negotiation: &mut Negotiation, data: &[u8]) -> Result<Vec<u8>, text::TextError> {
    let offer = text::parse(data)?;
    Ok(text::encode(&negotiation.handle_offer(&offer)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn offer(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn answer_of<'a>(answers: &'a [(String, String)], key: &str) -> Option<&'a str> {
        answers
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_linux_initiator_offer_is_answered_by_the_rules() {
        // What open-iscsi offers by default.
        let mut n = Negotiation::new(TargetLimits::default());
        let answers = n.handle_offer(&offer(&[
            ("HeaderDigest", "None"),
            ("DataDigest", "None"),
            ("DefaultTime2Wait", "2"),
            ("DefaultTime2Retain", "0"),
            ("IFMarker", "No"),
            ("OFMarker", "No"),
            ("ErrorRecoveryLevel", "0"),
            ("InitialR2T", "No"),
            ("ImmediateData", "Yes"),
            ("MaxBurstLength", "16776192"),
            ("FirstBurstLength", "262144"),
            ("MaxOutstandingR2T", "1"),
            ("MaxConnections", "1"),
            ("DataPDUInOrder", "Yes"),
            ("DataSequenceInOrder", "Yes"),
            ("MaxRecvDataSegmentLength", "262144"),
        ]));
        assert_eq!(answer_of(&answers, "HeaderDigest"), Some("None"));
        assert_eq!(answer_of(&answers, "IFMarker"), Some("Reject"));
        assert_eq!(answer_of(&answers, "InitialR2T"), Some("No"));
        assert_eq!(answer_of(&answers, "MaxBurstLength"), Some("1048576"));
        assert_eq!(answer_of(&answers, "DefaultTime2Retain"), Some("0"));
        assert_eq!(
            answer_of(&answers, "MaxRecvDataSegmentLength"),
            Some("262144")
        );
        let p = n.params();
        assert_eq!((p.max_burst, p.first_burst), (1_048_576, 262_144));
        assert!(!p.initial_r2t && p.immediate_data);
        assert_eq!(p.initiator_max_recv, 262_144);
    }

    #[test]
    fn digests_take_the_first_supported_offer() {
        let mut n = Negotiation::new(TargetLimits::default());
        let answers = n.handle_offer(&offer(&[
            ("HeaderDigest", "CRC32C,None"),
            ("DataDigest", "Bogus,None"),
        ]));
        assert_eq!(answer_of(&answers, "HeaderDigest"), Some("CRC32C"));
        assert_eq!(answer_of(&answers, "DataDigest"), Some("None"));
        assert!(n.params().header_digest && !n.params().data_digest);
        let mut n = Negotiation::new(TargetLimits {
            header_digest: false,
            ..TargetLimits::default()
        });
        let answers = n.handle_offer(&offer(&[("HeaderDigest", "CRC32C")]));
        assert_eq!(answer_of(&answers, "HeaderDigest"), Some("Reject"));
    }

    #[test]
    fn bad_values_unknown_keys_and_repeats() {
        let mut n = Negotiation::new(TargetLimits::default());
        let answers = n.handle_offer(&offer(&[
            ("MaxBurstLength", "100"),
            ("InitialR2T", "Maybe"),
            ("X-com.example.Thing", "1"),
            ("MaxConnections", "1"),
            ("MaxConnections", "2"),
            ("InitiatorName", "iqn.x"),
        ]));
        assert_eq!(answer_of(&answers, "MaxBurstLength"), Some("Reject"));
        assert_eq!(answer_of(&answers, "InitialR2T"), Some("Reject"));
        assert_eq!(
            answer_of(&answers, "X-com.example.Thing"),
            Some("NotUnderstood")
        );
        assert_eq!(answer_of(&answers, "MaxConnections"), Some("Reject"));
        assert_eq!(
            answer_of(&answers, "InitiatorName"),
            None,
            "the login's key"
        );
        assert_eq!(
            n.params(),
            &Params {
                target_max_recv: 262_144,
                ..Params::default()
            }
        );
    }

    #[test]
    fn a_text_segment_is_answered_with_a_text_segment() {
        let mut n = Negotiation::new(TargetLimits::default());
        let reply = answer_text(&mut n, b"InitialR2T=Yes\0OFMarker=No\0").unwrap();
        assert_eq!(
            reply,
            b"InitialR2T=Yes\0OFMarker=Reject\0MaxRecvDataSegmentLength=262144\0"
        );
        assert!(answer_text(&mut n, b"InitialR2T").is_err());
    }

    proptest! {
        #[test]
        fn numbers_follow_min_and_first_burst_stays_within_max_burst(
            max_burst in 512u32..(1 << 24),
            first_burst in 512u32..(1 << 24),
            r2t in 1u32..65_535,
        ) {
            let mut n = Negotiation::new(TargetLimits::default());
            let answers = n.handle_offer(&offer(&[
                ("MaxBurstLength", &max_burst.to_string()),
                ("FirstBurstLength", &first_burst.to_string()),
                ("MaxOutstandingR2T", &r2t.to_string()),
            ]));
            let p = n.params();
            let l = TargetLimits::default();
            prop_assert_eq!(p.max_burst, max_burst.min(l.max_burst));
            prop_assert!(p.first_burst <= p.max_burst);
            prop_assert_eq!(p.max_outstanding_r2t, r2t.min(l.max_outstanding_r2t));
            let answered: u32 = answer_of(&answers, "MaxBurstLength").unwrap().parse().unwrap();
            prop_assert_eq!(answered, p.max_burst);
        }

        #[test]
        fn any_offer_gets_an_answer_per_operational_key(
            pairs in prop::collection::vec(("[A-Za-z]{1,20}", "[ -~]{0,20}"), 0..20)
        ) {
            let mut n = Negotiation::new(TargetLimits::default());
            let answers = n.handle_offer(&pairs);
            for (key, _) in &pairs {
                if !LOGIN_KEYS.contains(&key.as_str()) && !key.starts_with("CHAP_") {
                    prop_assert!(answers.iter().any(|(k, _)| k == key), "{} unanswered", key);
                }
            }
        }
    }
}
