//! Reservations: SCSI-3 persistent reservations (PERSISTENT RESERVE IN and
//! OUT, SPC-4 5.13, 6.15, 6.16) with every service action and type, and
//! the older RESERVE(6)/RELEASE(6) (SPC-2), sans IO.
//!
//! [`Reservations`] is the persistent state of one unit: registered keys
//! per I_T nexus, the reservation and its holder, the generation counter.
//! `fence_scsi` and Windows failover clusters fence by registering keys,
//! reserving with type 5 or 7 and preempting the victim's key: after that
//! the victim's writes end in RESERVATION CONFLICT. With APTPL the state
//! is written to the unit's reservation file and read back at start-up.

use super::sense::Sense;
use super::unit::Nexus;

/// RESERVATION CONFLICT status.
pub const RESERVATION_CONFLICT: u8 = 0x18;

/// A persistent reservation's type (SPC-4 table 170).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReservationType {
    /// Write Exclusive: only the holder writes.
    WriteExclusive = 1,
    /// Exclusive Access: only the holder reads or writes.
    ExclusiveAccess = 3,
    /// Write Exclusive, Registrants Only.
    WriteExclusiveRegistrantsOnly = 5,
    /// Exclusive Access, Registrants Only.
    ExclusiveAccessRegistrantsOnly = 6,
    /// Write Exclusive, All Registrants (every registrant is a holder).
    WriteExclusiveAllRegistrants = 7,
    /// Exclusive Access, All Registrants.
    ExclusiveAccessAllRegistrants = 8,
}

impl ReservationType {
    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Self::WriteExclusive,
            3 => Self::ExclusiveAccess,
            5 => Self::WriteExclusiveRegistrantsOnly,
            6 => Self::ExclusiveAccessRegistrantsOnly,
            7 => Self::WriteExclusiveAllRegistrants,
            8 => Self::ExclusiveAccessAllRegistrants,
            _ => return None,
        })
    }

    fn all_registrants(self) -> bool {
        matches!(
            self,
            Self::WriteExclusiveAllRegistrants | Self::ExclusiveAccessAllRegistrants
        )
    }

    fn registrants_only(self) -> bool {
        matches!(
            self,
            Self::WriteExclusiveRegistrantsOnly | Self::ExclusiveAccessRegistrantsOnly
        )
    }

    fn exclusive_access(self) -> bool {
        matches!(
            self,
            Self::ExclusiveAccess
                | Self::ExclusiveAccessRegistrantsOnly
                | Self::ExclusiveAccessAllRegistrants
        )
    }
}

/// What a command does to the medium, for reservation conflicts (SPC-4
/// table 66).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Allowed whatever the reservation (INQUIRY, REPORT LUNS, TEST UNIT
    /// READY, READ CAPACITY, PERSISTENT RESERVE IN/OUT...).
    Always,
    /// Reads the medium or its settings.
    Read,
    /// Changes the medium or its settings.
    Write,
}

/// One registered key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The I_T nexus it was made through.
    pub nexus: Nexus,
    /// The reservation key.
    pub key: u64,
    /// Registered for every target port (ALL_TG_PT).
    pub all_target_ports: bool,
}

/// The reservation and who holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The nexus that reserved (for all-registrants types, every
    /// registrant holds it).
    pub nexus: Nexus,
    /// Its type.
    pub kind: ReservationType,
}

/// A unit's persistent reservation state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reservations {
    /// PRgeneration: bumped by every change of the registrations.
    pub generation: u32,
    /// The registered keys.
    pub registrations: Vec<Registration>,
    /// The reservation, if any.
    pub holder: Option<Holder>,
    /// Activate Persist Through Power Loss: the last REGISTER asked for it.
    pub aptpl: bool,
}

/// Why a PERSISTENT RESERVE OUT failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// RESERVATION CONFLICT status.
    Conflict,
    /// CHECK CONDITION with this sense.
    Check(Sense),
}

/// Unit attentions a PERSISTENT RESERVE OUT raises: for these nexuses.
pub type Attentions = Vec<(Nexus, Sense)>;

/// A PERSISTENT RESERVE OUT for a unit with a reservation file, to be
/// made by [`LogicalUnit::change_reservations`](super::LogicalUnit::change_reservations)
/// when the driver performs [`IoOp::SaveReservations`](super::IoOp::SaveReservations):
/// it takes effect only once saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservationChange {
    /// Who sent it.
    pub nexus: Nexus,
    /// The CDB's service action (byte 1).
    pub service: u8,
    /// The CDB's scope and type (byte 2).
    pub scope_type: u8,
    /// The parameter list.
    pub params: bytes::Bytes,
}

fn be_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

fn same_port(reg: &Registration, nexus: &Nexus) -> bool {
    reg.nexus.initiator == nexus.initiator
        && reg.nexus.isid == nexus.isid
        && (reg.all_target_ports || reg.nexus.target_port == nexus.target_port)
}

impl Reservations {
    /// The key `nexus` registered, if any.
    pub fn key_of(&self, nexus: &Nexus) -> Option<u64> {
        self.registrations
            .iter()
            .find(|r| same_port(r, nexus))
            .map(|r| r.key)
    }

    /// Whether `nexus` holds the reservation.
    pub fn is_holder(&self, nexus: &Nexus) -> bool {
        match &self.holder {
            Some(h) if h.kind.all_registrants() => self.key_of(nexus).is_some(),
            Some(h) => {
                h.nexus.initiator == nexus.initiator
                    && h.nexus.isid == nexus.isid
                    && self
                        .registrations
                        .iter()
                        .any(|r| same_port(r, nexus) && r.nexus == h.nexus)
            }
            None => false,
        }
    }

    /// Whether a command with `access` from `nexus` conflicts with the
    /// reservation.
    pub fn conflicts(&self, nexus: &Nexus, access: Access) -> bool {
        let Some(holder) = &self.holder else {
            return false;
        };
        if access == Access::Always || self.is_holder(nexus) {
            return false;
        }
        let kind = holder.kind;
        let registered = self.key_of(nexus).is_some();
        let excluded = access == Access::Write || kind.exclusive_access();
        let exempt = (kind.registrants_only() || kind.all_registrants()) && registered;
        excluded && !exempt
    }

    fn unregister_where(&mut self, keep: impl Fn(&Registration) -> bool) -> Vec<Nexus> {
        let (kept, gone): (Vec<_>, Vec<_>) = std::mem::take(&mut self.registrations)
            .into_iter()
            .partition(keep);
        self.registrations = kept;
        gone.into_iter().map(|r| r.nexus).collect()
    }

    /// Drops the reservation if its holder is no longer registered.
    fn settle_holder(&mut self, attentions: &mut Attentions) {
        let lost = match &self.holder {
            Some(h) if h.kind.all_registrants() => self.registrations.is_empty(),
            Some(h) => !self.registrations.iter().any(|r| r.nexus == h.nexus),
            None => false,
        };
        if lost {
            let kind = self.holder.take().map(|h| h.kind);
            // Registrants learn a registrants-only reservation is gone.
            if kind.is_some_and(ReservationType::registrants_only) {
                for r in &self.registrations {
                    attentions.push((r.nexus.clone(), Sense::RESERVATIONS_RELEASED));
                }
            }
        }
    }

    /// PERSISTENT RESERVE OUT: `service` (cdb byte 1), `scope_type` (cdb
    /// byte 2), the parameter list. `can_persist`: the unit has a
    /// reservation file (APTPL may be asked for). `known`: the nexuses that
    /// REGISTER AND MOVE may name.
    pub fn handle_out(
        &mut self,
        nexus: &Nexus,
        service: u8,
        scope_type: u8,
        params: &[u8],
        can_persist: bool,
        known: &[Nexus],
    ) -> Result<Attentions, Refusal> {
        use Refusal::{Check, Conflict};
        let service = service & 0x1f;
        if service == 7 {
            return self.register_and_move(nexus, scope_type, params, can_persist, known);
        }
        if params.len() != 24 {
            return Err(Check(Sense::PARAMETER_LENGTH));
        }
        let key = be_u64(&params[0..8]);
        let sa_key = be_u64(&params[8..16]);
        let flags = params[20];
        let (spec_i_pt, all_tg_pt, aptpl) =
            (flags & 0x08 != 0, flags & 0x04 != 0, flags & 0x01 != 0);
        if spec_i_pt {
            // SIP_C is 0 in REPORT CAPABILITIES.
            return Err(Check(Sense::INVALID_PARAMETER));
        }
        let mine = self.key_of(nexus);
        let mut attentions = Vec::new();
        match service {
            // REGISTER, REGISTER AND IGNORE EXISTING KEY.
            0 | 6 => {
                if aptpl && !can_persist {
                    return Err(Check(Sense::INVALID_PARAMETER));
                }
                if service == 0 {
                    match mine {
                        None if key != 0 => return Err(Conflict),
                        Some(k) if k != key => return Err(Conflict),
                        _ => {}
                    }
                }
                match (mine, sa_key) {
                    (None, 0) => return Ok(attentions),
                    (None, _) => self.registrations.push(Registration {
                        nexus: nexus.clone(),
                        key: sa_key,
                        all_target_ports: all_tg_pt,
                    }),
                    (Some(_), 0) => {
                        let holder_before = self.is_holder(nexus);
                        self.unregister_where(|r| !same_port(r, nexus));
                        if holder_before {
                            self.settle_holder(&mut attentions);
                        }
                    }
                    (Some(_), _) => {
                        for r in &mut self.registrations {
                            if same_port(r, nexus) {
                                r.key = sa_key;
                            }
                        }
                    }
                }
                self.aptpl = aptpl;
                self.generation = self.generation.wrapping_add(1);
            }
            // RESERVE.
            1 => {
                if mine != Some(key) {
                    return Err(Conflict);
                }
                let kind = parse_type(scope_type)?;
                match &self.holder {
                    None => {
                        self.holder = Some(Holder {
                            nexus: self.registered_nexus(nexus),
                            kind,
                        });
                    }
                    Some(h) if self.is_holder(nexus) && h.kind == kind => {}
                    Some(_) => return Err(Conflict),
                }
            }
            // RELEASE.
            2 => {
                if mine != Some(key) {
                    return Err(Conflict);
                }
                if !self.is_holder(nexus) {
                    return Ok(attentions);
                }
                let kind = parse_type(scope_type)?;
                let held = self.holder.as_ref().map(|h| h.kind);
                if held != Some(kind) {
                    return Err(Check(Sense::INVALID_RELEASE));
                }
                self.holder = None;
                if kind.registrants_only() || kind.all_registrants() {
                    for r in &self.registrations {
                        if !same_port(r, nexus) {
                            attentions.push((r.nexus.clone(), Sense::RESERVATIONS_RELEASED));
                        }
                    }
                }
            }
            // CLEAR.
            3 => {
                if mine != Some(key) {
                    return Err(Conflict);
                }
                for r in &self.registrations {
                    if !same_port(r, nexus) {
                        attentions.push((r.nexus.clone(), Sense::RESERVATIONS_PREEMPTED));
                    }
                }
                self.registrations.clear();
                self.holder = None;
                self.generation = self.generation.wrapping_add(1);
            }
            // PREEMPT, PREEMPT AND ABORT.
            4 | 5 => {
                if mine != Some(key) {
                    return Err(Conflict);
                }
                let kind = parse_type(scope_type)?;
                let me = self.registered_nexus(nexus);
                let preempted = match self.holder.clone() {
                    Some(h) if h.kind.all_registrants() => {
                        if sa_key == 0 {
                            // Everybody else goes; this nexus reserves.
                            let gone = self.unregister_where(|r| same_port(r, nexus));
                            self.holder = Some(Holder { nexus: me, kind });
                            gone
                        } else {
                            // Only the key's registrations go, never the
                            // preempter's own (SPC-4 5.13.11.2.4.4; LIO
                            // skips the calling nexus the same way); a key
                            // nobody holds is a conflict.
                            if !self.registrations.iter().any(|r| r.key == sa_key) {
                                return Err(Conflict);
                            }
                            self.unregister_where(|r| r.key != sa_key || same_port(r, nexus))
                        }
                    }
                    Some(h) if self.key_of(&h.nexus) == Some(sa_key) => {
                        let gone =
                            self.unregister_where(|r| r.key != sa_key || same_port(r, nexus));
                        self.holder = Some(Holder { nexus: me, kind });
                        gone
                    }
                    _ => {
                        if sa_key == 0 {
                            return Err(Check(Sense::INVALID_PARAMETER));
                        }
                        let gone = self.unregister_where(|r| r.key != sa_key);
                        if gone.is_empty() {
                            return Err(Conflict);
                        }
                        self.settle_holder(&mut attentions);
                        gone
                    }
                };
                for n in preempted {
                    if &n != nexus {
                        attentions.push((n, Sense::REGISTRATIONS_PREEMPTED));
                    }
                }
                self.generation = self.generation.wrapping_add(1);
            }
            _ => return Err(Check(Sense::INVALID_FIELD)),
        }
        Ok(attentions)
    }

    /// The registration's own nexus for `nexus` (the same port; the target
    /// port it registered through).
    fn registered_nexus(&self, nexus: &Nexus) -> Nexus {
        self.registrations
            .iter()
            .find(|r| same_port(r, nexus))
            .map_or_else(|| nexus.clone(), |r| r.nexus.clone())
    }

    /// REGISTER AND MOVE (SPC-4 5.13.8): the holder registers another
    /// nexus, named by a TransportID, and hands it the reservation.
    fn register_and_move(
        &mut self,
        nexus: &Nexus,
        scope_type: u8,
        params: &[u8],
        can_persist: bool,
        known: &[Nexus],
    ) -> Result<Attentions, Refusal> {
        use Refusal::{Check, Conflict};
        if params.len() < 24 {
            return Err(Check(Sense::PARAMETER_LENGTH));
        }
        let key = be_u64(&params[0..8]);
        let sa_key = be_u64(&params[8..16]);
        let (unreg, aptpl) = (params[17] & 0x02 != 0, params[17] & 0x01 != 0);
        let target_port = u16::from_be_bytes([params[18], params[19]]);
        let id_len = u32::from_be_bytes([params[20], params[21], params[22], params[23]]) as usize;
        if params.len() < 24 + id_len {
            return Err(Check(Sense::PARAMETER_LENGTH));
        }
        if self.key_of(nexus) != Some(key) {
            return Err(Conflict);
        }
        let Some(holder) = self.holder.clone() else {
            return Err(Conflict);
        };
        if !self.is_holder(nexus) || holder.kind.all_registrants() {
            return Err(Conflict);
        }
        if sa_key == 0 || (aptpl && !can_persist) {
            return Err(Check(Sense::INVALID_PARAMETER));
        }
        let kind = parse_type(scope_type)?;
        let Some(dest) = parse_transport_id(&params[24..24 + id_len], target_port, known) else {
            return Err(Check(Sense::INVALID_PARAMETER));
        };
        if dest.port_name() == nexus.port_name() {
            return Err(Check(Sense::INVALID_PARAMETER));
        }
        self.unregister_where(|r| !same_port(r, &dest));
        self.registrations.push(Registration {
            nexus: dest.clone(),
            key: sa_key,
            all_target_ports: false,
        });
        self.holder = Some(Holder { nexus: dest, kind });
        if unreg {
            self.unregister_where(|r| !same_port(r, nexus));
        }
        self.aptpl = aptpl;
        self.generation = self.generation.wrapping_add(1);
        Ok(Vec::new())
    }

    /// PERSISTENT RESERVE IN: the parameter data of `service`, or `None`
    /// for a service action that does not exist.
    pub fn handle_in(&self, service: u8, can_persist: bool) -> Option<Vec<u8>> {
        let mut d = self.generation.to_be_bytes().to_vec();
        match service & 0x1f {
            // READ KEYS.
            0 => {
                d.extend_from_slice(&((self.registrations.len() * 8) as u32).to_be_bytes());
                for r in &self.registrations {
                    d.extend_from_slice(&r.key.to_be_bytes());
                }
            }
            // READ RESERVATION.
            1 => match &self.holder {
                None => d.extend_from_slice(&0u32.to_be_bytes()),
                Some(h) => {
                    d.extend_from_slice(&16u32.to_be_bytes());
                    let key = if h.kind.all_registrants() {
                        0
                    } else {
                        self.key_of(&h.nexus).unwrap_or(0)
                    };
                    d.extend_from_slice(&key.to_be_bytes());
                    d.extend_from_slice(&[0, 0, 0, 0, 0, h.kind as u8, 0, 0]);
                }
            },
            // REPORT CAPABILITIES.
            2 => {
                d = vec![0, 8];
                // CRH: RESERVE(6)/RELEASE(6) with registrations present
                // end in conflict; ATP_C: ALL_TG_PT; PTPL_C.
                d.push(0x10 | 0x04 | u8::from(can_persist));
                // TMV: the type mask is valid; ALLOW COMMANDS 001b.
                d.push(0x80 | 0x10 | u8::from(self.aptpl));
                d.extend_from_slice(&[0x80 | 0x40 | 0x20 | 0x08 | 0x02, 0x01, 0, 0]);
            }
            // READ FULL STATUS.
            3 => {
                let mut body = Vec::new();
                for r in &self.registrations {
                    body.extend_from_slice(&r.key.to_be_bytes());
                    body.extend_from_slice(&[0; 4]);
                    let holds = match &self.holder {
                        Some(h) if h.kind.all_registrants() => true,
                        Some(h) => h.nexus == r.nexus,
                        None => false,
                    };
                    body.push(u8::from(r.all_target_ports) << 1 | u8::from(holds));
                    body.push(match (&self.holder, holds) {
                        (Some(h), true) => h.kind as u8,
                        _ => 0,
                    });
                    body.extend_from_slice(&[0; 4]);
                    body.extend_from_slice(&r.nexus.target_port.to_be_bytes());
                    let id = r.nexus.transport_id();
                    body.extend_from_slice(&(id.len() as u32).to_be_bytes());
                    body.extend_from_slice(&id);
                }
                d.extend_from_slice(&(body.len() as u32).to_be_bytes());
                d.extend_from_slice(&body);
            }
            _ => return None,
        }
        Some(d)
    }

    /// The text kept in the reservation file: empty of registrations
    /// unless APTPL was asked for. One record a line, its words separated
    /// by one space; an initiator name is written only if it is an iSCSI
    /// name ([`crate::name::is_valid`]: no space, no line break, nothing
    /// that could end a word or a line), so nothing an initiator sends
    /// becomes syntax in the file. `Err`: the name that cannot be written.
    pub fn to_text(&self) -> Result<String, &str> {
        let mut text = String::from(HEADER);
        text.push('\n');
        if !self.aptpl {
            return Ok(text);
        }
        fn port(nexus: &Nexus) -> Result<String, &str> {
            if crate::name::is_valid(&nexus.initiator) {
                Ok(nexus.port_name())
            } else {
                Err(nexus.initiator.as_str())
            }
        }
        text.push_str(&format!("generation {}\naptpl\n", self.generation));
        for r in &self.registrations {
            text.push_str(&format!(
                "register {:016x} {} {} {}\n",
                r.key,
                r.nexus.target_port,
                u8::from(r.all_target_ports),
                port(&r.nexus)?
            ));
        }
        if let Some(h) = &self.holder {
            text.push_str(&format!(
                "reserve {} {} {}\n",
                h.kind as u8,
                h.nexus.target_port,
                port(&h.nexus)?
            ));
        }
        Ok(text)
    }

    /// Reads [`Reservations::to_text`] back, strictly: every line is a
    /// comment, empty, or a record in exactly the form written (words
    /// separated by one space, keys of 16 hex digits, valid iSCSI names),
    /// `generation` and `aptpl` at most once, records only with `aptpl`,
    /// a nexus registered once, one reservation, held by a registrant. An
    /// error names the line (from 1).
    pub fn parse(text: &str) -> Result<Self, (usize, String)> {
        let mut pr = Self::default();
        let (mut generation_seen, mut records) = (false, false);
        for (i, line) in text.split('\n').enumerate() {
            let line_no = i + 1;
            let shown: String = line.chars().take(120).collect();
            let bad = |what: &str| (line_no, format!("{what}: '{}'", shown.escape_debug()));
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = line.split(' ').collect();
            match words.as_slice() {
                ["generation", n] if !generation_seen => {
                    generation_seen = true;
                    pr.generation = parse_decimal(n).ok_or_else(|| bad("bad generation"))?;
                }
                ["aptpl"] if !pr.aptpl => pr.aptpl = true,
                ["register", key, port, all, name] => {
                    records = true;
                    let key = parse_key(key).ok_or_else(|| bad("bad key"))?;
                    let target_port = parse_decimal(port).ok_or_else(|| bad("bad target port"))?;
                    let all_target_ports = match *all {
                        "0" => false,
                        "1" => true,
                        _ => return Err(bad("bad all-target-ports flag (0 or 1)")),
                    };
                    let nexus = parse_port_name(name, target_port)
                        .ok_or_else(|| bad("bad initiator port"))?;
                    if pr.registrations.iter().any(|r| r.nexus == nexus) {
                        return Err(bad("initiator port registered twice"));
                    }
                    pr.registrations.push(Registration {
                        nexus,
                        key,
                        all_target_ports,
                    });
                }
                ["reserve", kind, port, name] if pr.holder.is_none() => {
                    records = true;
                    let kind = parse_decimal(kind)
                        .and_then(ReservationType::from_code)
                        .ok_or_else(|| bad("bad reservation type"))?;
                    let target_port = parse_decimal(port).ok_or_else(|| bad("bad target port"))?;
                    let nexus = parse_port_name(name, target_port)
                        .ok_or_else(|| bad("bad initiator port"))?;
                    pr.holder = Some(Holder { nexus, kind });
                }
                _ => return Err(bad("unknown or repeated line")),
            }
            if records && !pr.aptpl {
                return Err(bad("a record before 'aptpl'"));
            }
        }
        // A reservation outlives its holder's registration only for the
        // all-registrants types (every registrant holds those).
        let orphan = pr.holder.as_ref().is_some_and(|h| {
            let registered = pr.registrations.iter().any(|r| r.nexus == h.nexus);
            pr.registrations.is_empty() || (!h.kind.all_registrants() && !registered)
        });
        if orphan {
            let line = text
                .split('\n')
                .position(|l| l.starts_with("reserve "))
                .map_or(1, |i| i + 1);
            return Err((
                line,
                "the reservation's holder is not registered".to_owned(),
            ));
        }
        Ok(pr)
    }
}

/// The first line of a reservation file.
const HEADER: &str = "# ha-iscsi persistent reservations";

/// A decimal number as [`Reservations::to_text`] writes it: digits only,
/// no sign, no leading zero.
fn parse_decimal<T: std::str::FromStr>(s: &str) -> Option<T> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    canonical.then(|| s.parse().ok()).flatten()
}

/// A reservation key: exactly 16 hex digits.
fn parse_key(s: &str) -> Option<u64> {
    (s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| u64::from_str_radix(s, 16).ok())
        .flatten()
}

fn parse_type(scope_type: u8) -> Result<ReservationType, Refusal> {
    // Only LU_SCOPE (0) exists in SPC-4.
    if scope_type >> 4 != 0 {
        return Err(Refusal::Check(Sense::INVALID_FIELD));
    }
    ReservationType::from_code(scope_type & 0x0f).ok_or(Refusal::Check(Sense::INVALID_FIELD))
}

/// `NAME,i,0xISID` back into a nexus through `target_port`.
fn parse_port_name(name: &str, target_port: u16) -> Option<Nexus> {
    let (initiator, isid_hex) = name.rsplit_once(",i,0x")?;
    // The name may come from an initiator's TransportID (REGISTER AND
    // MOVE) and goes into the reservation file: only an iSCSI name.
    let hex = isid_hex.len() == 12 && isid_hex.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex || !crate::name::is_valid(initiator) {
        return None;
    }
    let mut isid = [0u8; 6];
    for (i, b) in isid.iter_mut().enumerate() {
        *b = u8::from_str_radix(isid_hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(Nexus {
        initiator: initiator.to_owned(),
        isid,
        target_port,
    })
}

/// An iSCSI TransportID (format 00b: a name; 01b: an initiator port) to
/// a nexus; a bare name must match exactly one known nexus.
fn parse_transport_id(id: &[u8], target_port: u16, known: &[Nexus]) -> Option<Nexus> {
    if id.len() < 4 || id[0] & 0x0f != 0x05 {
        return None;
    }
    let len = u16::from_be_bytes([id[2], id[3]]) as usize;
    let text = id.get(4..4 + len)?;
    let end = text.iter().position(|b| *b == 0).unwrap_or(text.len());
    let name = std::str::from_utf8(&text[..end]).ok()?;
    match id[0] >> 6 {
        1 => parse_port_name(name, target_port),
        0 => {
            let mut matching = known.iter().filter(|n| n.initiator == name);
            let first = matching.next()?;
            matching.next().is_none().then(|| Nexus {
                target_port,
                ..first.clone()
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nexus(name: &str, isid: u8) -> Nexus {
        Nexus {
            initiator: format!("iqn.2025-09.com.example:{name}"),
            isid: [0x40, 0, 0, 0, 0, isid],
            target_port: 1,
        }
    }

    fn params(key: u64, sa_key: u64, flags: u8) -> Vec<u8> {
        let mut p = key.to_be_bytes().to_vec();
        p.extend_from_slice(&sa_key.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 0, flags, 0, 0, 0]);
        p
    }

    #[test]
    fn fence_scsi_register_reserve_preempt() {
        let (a, b) = (nexus("node1", 1), nexus("node2", 2));
        let mut pr = Reservations::default();
        // Each node registers its key (register-and-ignore), node1 reserves
        // type 5 (Write Exclusive, Registrants Only).
        pr.handle_out(&a, 6, 0, &params(0, 0xa, 0), false, &[])
            .unwrap();
        pr.handle_out(&b, 6, 0, &params(0, 0xb, 0), false, &[])
            .unwrap();
        pr.handle_out(&a, 1, 5, &params(0xa, 0, 0), false, &[])
            .unwrap();
        assert!(!pr.conflicts(&b, Access::Write), "registrants write");
        let stranger = nexus("other", 3);
        assert!(pr.conflicts(&stranger, Access::Write));
        assert!(!pr.conflicts(&stranger, Access::Read));
        // node1 fences node2: its key is preempted, its writes conflict.
        let ua = pr
            .handle_out(&a, 5, 5, &params(0xa, 0xb, 0), false, &[])
            .unwrap();
        assert_eq!(ua, vec![(b.clone(), Sense::REGISTRATIONS_PREEMPTED)]);
        assert!(pr.conflicts(&b, Access::Write));
        assert_eq!(pr.key_of(&b), None);
        // Preempting a key nobody has: conflict.
        assert_eq!(
            pr.handle_out(&a, 4, 5, &params(0xa, 0xb, 0), false, &[]),
            Err(Refusal::Conflict)
        );
        let keys = pr.handle_in(0, false).unwrap();
        assert_eq!(&keys[4..8], &8u32.to_be_bytes());
        assert_eq!(&keys[8..16], &0xau64.to_be_bytes());
        let res = pr.handle_in(1, false).unwrap();
        assert_eq!((res[8 + 7], res[8 + 13]), (0xa, 5));
    }

    #[test]
    fn register_rules() {
        let a = nexus("a", 1);
        let mut pr = Reservations::default();
        // REGISTER with a key while unregistered: conflict.
        assert_eq!(
            pr.handle_out(&a, 0, 0, &params(1, 2, 0), false, &[]),
            Err(Refusal::Conflict)
        );
        pr.handle_out(&a, 0, 0, &params(0, 2, 0), false, &[])
            .unwrap();
        assert_eq!(pr.generation, 1);
        // Wrong key: conflict; right key: changed.
        assert_eq!(
            pr.handle_out(&a, 0, 0, &params(9, 3, 0), false, &[]),
            Err(Refusal::Conflict)
        );
        pr.handle_out(&a, 0, 0, &params(2, 3, 0), false, &[])
            .unwrap();
        assert_eq!(pr.key_of(&a), Some(3));
        // APTPL without a reservation file: refused.
        assert_eq!(
            pr.handle_out(&a, 0, 0, &params(3, 4, 1), false, &[]),
            Err(Refusal::Check(Sense::INVALID_PARAMETER))
        );
        assert_eq!(
            pr.handle_out(&a, 0, 0, &params(3, 4, 0)[..20], false, &[]),
            Err(Refusal::Check(Sense::PARAMETER_LENGTH))
        );
        // The holder unregistering releases the reservation.
        pr.handle_out(&a, 1, 1, &params(3, 0, 0), false, &[])
            .unwrap();
        assert!(pr.holder.is_some());
        assert_eq!(
            pr.handle_out(&a, 2, 3, &params(3, 0, 0), false, &[]),
            Err(Refusal::Check(Sense::INVALID_RELEASE)),
            "release with the wrong type"
        );
        pr.handle_out(&a, 0, 0, &params(3, 0, 0), false, &[])
            .unwrap();
        assert_eq!((pr.holder.clone(), pr.registrations.len()), (None, 0));
    }

    #[test]
    fn all_registrants_and_exclusive_access() {
        let (a, b, c) = (nexus("a", 1), nexus("b", 2), nexus("c", 3));
        let mut pr = Reservations::default();
        pr.handle_out(&a, 6, 0, &params(0, 1, 0), false, &[])
            .unwrap();
        pr.handle_out(&b, 6, 0, &params(0, 2, 0), false, &[])
            .unwrap();
        pr.handle_out(&a, 1, 8, &params(1, 0, 0), false, &[])
            .unwrap();
        assert!(
            pr.is_holder(&b),
            "every registrant holds an all-registrants reservation"
        );
        assert!(pr.conflicts(&c, Access::Read), "exclusive access");
        assert!(!pr.conflicts(&c, Access::Always));
        let full = pr.handle_in(3, false).unwrap();
        assert_eq!(
            u32::from_be_bytes(full[4..8].try_into().unwrap()) as usize,
            full.len() - 8
        );
        // PREEMPT with key 0 takes it over for the preempter alone.
        let ua = pr
            .handle_out(&b, 4, 3, &params(2, 0, 0), false, &[])
            .unwrap();
        assert_eq!(ua, vec![(a.clone(), Sense::REGISTRATIONS_PREEMPTED)]);
        assert!(pr.is_holder(&b) && !pr.is_holder(&a));
        assert!(pr.conflicts(&a, Access::Read));
    }

    #[test]
    fn preempting_ones_own_key_under_an_all_registrants_reservation_keeps_ones_registration() {
        // Found by the file property: both registered with key 2, a
        // reserves Write Exclusive All Registrants and preempts key 2.
        let (a, b) = (nexus("a", 1), nexus("b", 2));
        let mut pr = Reservations::default();
        pr.handle_out(&a, 0, 0, &params(0, 2, 0), false, &[])
            .unwrap();
        pr.handle_out(&b, 0, 0, &params(0, 2, 0), false, &[])
            .unwrap();
        pr.handle_out(&a, 1, 7, &params(2, 0, 0), false, &[])
            .unwrap();
        let ua = pr
            .handle_out(&a, 4, 5, &params(2, 2, 0), false, &[])
            .unwrap();
        assert_eq!(ua, vec![(b.clone(), Sense::REGISTRATIONS_PREEMPTED)]);
        assert_eq!(pr.key_of(&a), Some(2), "the preempter stays registered");
        assert_eq!(pr.key_of(&b), None);
        assert!(pr.is_holder(&a));
        // A key nobody holds is a conflict.
        assert_eq!(
            pr.handle_out(&a, 4, 5, &params(2, 9, 0), false, &[]),
            Err(Refusal::Conflict)
        );
    }

    #[test]
    fn register_and_move_hands_over() {
        let (a, b) = (nexus("a", 1), nexus("b", 2));
        let mut pr = Reservations::default();
        pr.handle_out(&a, 6, 0, &params(0, 1, 0), false, &[])
            .unwrap();
        pr.handle_out(&a, 1, 1, &params(1, 0, 0), false, &[])
            .unwrap();
        let id = b.transport_id();
        let mut p = params(1, 7, 0);
        p[17] = 0x02; // UNREG
        p[18..20].copy_from_slice(&1u16.to_be_bytes());
        p[20..24].copy_from_slice(&(id.len() as u32).to_be_bytes());
        p.extend_from_slice(&id);
        pr.handle_out(&a, 7, 1, &p, false, &[]).unwrap();
        assert!(pr.is_holder(&b));
        assert_eq!((pr.key_of(&a), pr.key_of(&b)), (None, Some(7)));
    }

    #[test]
    fn the_file_round_trips_only_with_aptpl() {
        let (a, b) = (nexus("a", 1), nexus("b", 2));
        let mut pr = Reservations::default();
        pr.handle_out(&a, 6, 0, &params(0, 1, 1), true, &[])
            .unwrap();
        pr.handle_out(&b, 6, 0, &params(0, 2, 1), true, &[])
            .unwrap();
        pr.handle_out(&a, 1, 5, &params(1, 0, 0), true, &[])
            .unwrap();
        let back = Reservations::parse(&pr.to_text().unwrap()).unwrap();
        assert_eq!(back, pr);
        pr.handle_out(&b, 0, 0, &params(2, 3, 0), true, &[])
            .unwrap();
        assert_eq!(
            Reservations::parse(&pr.to_text().unwrap()).unwrap(),
            Reservations::default()
        );
        assert_eq!(Reservations::parse("register zz 1 0 x").unwrap_err().0, 1);
        assert_eq!(Reservations::parse("\n\nbogus").unwrap_err().0, 3);
    }

    /// A REGISTER AND MOVE whose TransportID names `name` (format 01b).
    fn move_to(name: &str, key: u64, sa_key: u64) -> Vec<u8> {
        let mut id = vec![0x40 | 0x05, 0];
        let mut text = name.as_bytes().to_vec();
        text.push(0);
        text.resize(text.len().next_multiple_of(4), 0);
        id.extend_from_slice(&(text.len() as u16).to_be_bytes());
        id.extend_from_slice(&text);
        let mut p = params(key, sa_key, 0);
        p[17] = 0x01; // APTPL
        p[18..20].copy_from_slice(&1u16.to_be_bytes());
        p[20..24].copy_from_slice(&(id.len() as u32).to_be_bytes());
        p.extend_from_slice(&id);
        p
    }

    #[test]
    fn a_transport_id_cannot_forge_lines_of_the_file() {
        let a = nexus("a", 1);
        let mut pr = Reservations::default();
        pr.handle_out(&a, 6, 0, &params(0, 1, 1), true, &[])
            .unwrap();
        pr.handle_out(&a, 1, 1, &params(1, 0, 0), true, &[])
            .unwrap();
        let before = pr.clone();
        for forged in [
            "iqn.2025-09.com.example:b\nregister 00000000000000ff 1 0 iqn.2025-09.com.evil:x,i,0x400000000009",
            "iqn.2025-09.com.example:b register,i,0x400000000009",
            "iqn.2025-09.com.example:b\r",
        ] {
            let port = format!("{forged},i,0x400000000002");
            assert_eq!(
                pr.handle_out(&a, 7, 1, &move_to(&port, 1, 2), true, &[]),
                Err(Refusal::Check(Sense::INVALID_PARAMETER)),
                "{forged:?}"
            );
            assert_eq!(pr, before);
        }
        // A proper name moves, and the file reads back the same.
        let port = "iqn.2025-09.com.example:b,i,0x400000000002";
        pr.handle_out(&a, 7, 1, &move_to(port, 1, 2), true, &[])
            .unwrap();
        assert_eq!(Reservations::parse(&pr.to_text().unwrap()).unwrap(), pr);
    }

    #[test]
    fn a_name_that_is_no_iscsi_name_is_never_written() {
        for name in [
            "iqn.2025-09.com.example:a\nreserve 1 1 iqn.2025-09.com.example:a,i,0x400000000001",
            "iqn.2025-09.com.example:a b",
        ] {
            let mut evil = nexus("a", 1);
            evil.initiator = name.to_owned();
            let mut pr = Reservations::default();
            pr.handle_out(&evil, 6, 0, &params(0, 1, 1), true, &[])
                .unwrap();
            assert_eq!(pr.to_text(), Err(name), "{name:?}");
        }
    }

    #[test]
    fn the_file_is_read_strictly_naming_the_line() {
        let port = "iqn.2025-09.com.example:a,i,0x400000000001";
        let good = format!(
            "# ha-iscsi persistent reservations\ngeneration 3\naptpl\nregister 0000000000000001 1 0 {port}\nreserve 1 1 {port}\n"
        );
        assert_eq!(Reservations::parse(&good).unwrap().generation, 3);
        let head = "generation 1\naptpl\n";
        let reg = format!("register 0000000000000001 1 0 {port}");
        for (text, line) in [
            ("aptpl\naptpl".to_owned(), 2),
            ("generation 1\ngeneration 2".to_owned(), 2),
            ("generation +1".to_owned(), 1),
            ("generation 01".to_owned(), 1),
            ("generation -1".to_owned(), 1),
            (reg.clone(), 1),
            (format!("{head}register 1 1 0 {port}"), 3),
            (format!("{head}register +000000000000001 1 0 {port}"), 3),
            (format!("{head}register 0000000000000001 1 2 {port}"), 3),
            (format!("{head}register  0000000000000001 1 0 {port}"), 3),
            (format!("{head}register\t0000000000000001 1 0 {port}"), 3),
            (format!("{head}{reg} "), 3),
            (format!("{head}{reg}\n{reg}"), 4),
            (
                format!(
                    "{head}register 0000000000000001 1 0 iqn.2025-09.com.example:a,i,0x+00000000001"
                ),
                3,
            ),
            (
                format!("{head}register 0000000000000001 1 0 node1,i,0x400000000001"),
                3,
            ),
            (
                format!("{head}{reg}\nreserve 1 1 {port}\nreserve 1 1 {port}"),
                5,
            ),
            (format!("{head}{reg}\nreserve 1 2 {port}"), 4),
            (format!("{head}reserve 7 1 {port}"), 3),
            (format!("{head}{reg}\nbogus"), 4),
        ] {
            let err = Reservations::parse(&text).unwrap_err();
            assert_eq!(err.0, line, "{text:?}: {err:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn the_file_holds_what_is_in_force(
            ops in proptest::collection::vec((0u8..8, 0u8..9, 0u64..4, 0u64..4, proptest::prelude::any::<bool>(), 0u8..3), 0..40),
        ) {
            let who = [nexus("a", 1), nexus("b", 2), nexus("c", 3)];
            let mut pr = Reservations::default();
            for (service, kind, key, sa_key, aptpl, from) in ops {
                let flags = u8::from(aptpl);
                let _ = pr.handle_out(&who[from as usize], service, kind, &params(key, sa_key, flags), true, &who);
                let text = pr.to_text().unwrap();
                let back = Reservations::parse(&text).unwrap();
                if pr.aptpl {
                    proptest::prop_assert_eq!(&back, &pr);
                } else {
                    proptest::prop_assert_eq!(back, Reservations::default());
                }
            }
        }

        #[test]
        fn arbitrary_parameters_never_panic(
            service in 0u8..=255, scope_type in 0u8..=255,
            p in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80),
            text in ".{0,200}",
        ) {
            let a = nexus("a", 1);
            let mut pr = Reservations::default();
            let _ = pr.handle_out(&a, service, scope_type, &p, true, std::slice::from_ref(&a));
            let _ = pr.to_text();
            let _ = pr.handle_in(service, true);
            let _ = Reservations::parse(&text);
        }
    }
}
