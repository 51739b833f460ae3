//! A logical unit: its storage, the identity it reports, and the state
//! every I_T nexus shares (mode parameters, unit attentions, reservations).
//!
//! State lives behind a mutex that is never held across an await: commands
//! from many sessions run at once and only take it for bookkeeping, and
//! none of it waits for storage (the driver performs the storage
//! operations the emulation asks for; the gate here says which may
//! start).

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::backstore::BlockTarget;
use crate::error::{Error, Result};

use super::reservation::{Attentions, Refusal, ReservationChange, Reservations};
use super::sense::Sense;
use super::{IoDone, IoOp};

/// An I_T nexus: one initiator port (the initiator's name and the
/// session's ISID) talking through one target port. Reservations and unit
/// attentions belong to a nexus.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nexus {
    /// The initiator's iSCSI name.
    pub initiator: String,
    /// The session's ISID.
    pub isid: [u8; 6],
    /// The target port's relative identifier (the portal group tag).
    pub target_port: u16,
}

impl Nexus {
    /// The initiator port's name (RFC 7143 13.16): `NAME,i,0xISID`.
    pub fn port_name(&self) -> String {
        let mut name = format!("{},i,0x", self.initiator);
        for b in self.isid {
            name.push_str(&format!("{b:02x}"));
        }
        name
    }

    /// The iSCSI TransportID of the initiator port (SPC-4 7.6.4.6, format
    /// 01b), as PERSISTENT RESERVE IN reports it.
    pub fn transport_id(&self) -> Vec<u8> {
        let mut name = self.port_name().into_bytes();
        name.push(0);
        // At least 20 bytes of name, padded to a multiple of 4.
        let len = name.len().max(20).next_multiple_of(4);
        name.resize(len, 0);
        let mut id = vec![0x40 | 0x05, 0];
        id.extend_from_slice(&(len as u16).to_be_bytes());
        id.extend_from_slice(&name);
        id
    }
}

/// Mode parameters, unit attentions and reservations of a unit.
#[derive(Debug)]
pub(crate) struct UnitState {
    /// Write cache enabled (caching mode page): when off, every write is
    /// forced to stable storage.
    pub wce: bool,
    /// Stopped by START STOP UNIT: media access is refused.
    pub stopped: bool,
    /// Nexuses that prevent medium removal.
    pub prevent: HashSet<Nexus>,
    /// Unit attentions waiting for each nexus, oldest first.
    pub attentions: HashMap<Nexus, VecDeque<Sense>>,
    /// Every nexus that has sent a command: those that get unit attentions.
    pub known: HashSet<Nexus>,
    /// The holder of a RESERVE(6) reservation.
    pub reserve6: Option<Nexus>,
    /// Persistent reservations.
    pub pr: Reservations,
    /// Storage operations in flight.
    pub gate: IoGate,
}

/// Which storage operations of a unit are in flight, so that COMPARE AND
/// WRITE and ORWRITE ([`IoOp::exclusive`]) see no other write between
/// their read and their write: writes share the unit, those have it alone.
/// An exclusive operation that waits holds off new writes, so a stream of
/// writes cannot starve it.
#[derive(Debug, Default)]
pub(crate) struct IoGate {
    /// Writes in flight.
    shared: u32,
    /// An exclusive operation in flight.
    exclusive: bool,
    /// Exclusive operations waiting for the writes in flight to end.
    waiting: u32,
}

/// What a session holds of a unit's [`IoGate`] for its operation in
/// flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hold {
    /// Nothing: a read, a flush, a status query.
    Free,
    /// A share, with the other writes.
    Shared,
    /// The unit alone.
    Exclusive,
}

impl IoGate {
    /// Lets `op` start, or not yet; `waiting` notes (and is cleared) that
    /// this exclusive operation counts among those waiting.
    pub fn try_begin(&mut self, op: &IoOp, waiting: &mut bool) -> Option<Hold> {
        if op.exclusive() {
            if self.exclusive || self.shared > 0 {
                if !*waiting {
                    self.waiting += 1;
                    *waiting = true;
                }
                return None;
            }
            if *waiting {
                self.waiting -= 1;
                *waiting = false;
            }
            self.exclusive = true;
            return Some(Hold::Exclusive);
        }
        if !op.writes() {
            return Some(Hold::Free);
        }
        if self.exclusive || self.waiting > 0 {
            return None;
        }
        self.shared += 1;
        Some(Hold::Shared)
    }

    /// The operation begun with `hold` ended.
    pub fn end(&mut self, hold: Hold) {
        match hold {
            Hold::Free => {}
            Hold::Shared => self.shared = self.shared.saturating_sub(1),
            Hold::Exclusive => self.exclusive = false,
        }
    }

    /// An exclusive operation stopped waiting without starting (its
    /// session ended).
    pub fn give_up(&mut self) {
        self.waiting = self.waiting.saturating_sub(1);
    }
}

/// A reservation change computed on a copy of the unit's reservations:
/// the new reservations and the unit attentions they raise, or why the
/// command is refused.
fn stage(
    state: &UnitState,
    change: &ReservationChange,
) -> std::result::Result<(Reservations, Attentions), Refusal> {
    if state.reserve6.is_some() {
        return Err(Refusal::Conflict);
    }
    let known: Vec<Nexus> = state.known.iter().cloned().collect();
    let mut pr = state.pr.clone();
    let attentions = pr.handle_out(
        &change.nexus,
        change.service,
        change.scope_type,
        &change.params,
        true,
        &known,
    )?;
    Ok((pr, attentions))
}

impl UnitState {
    /// Queues `sense` for every known nexus except `except`.
    pub fn attention_all(&mut self, sense: Sense, except: Option<&Nexus>) {
        let targets: Vec<Nexus> = self
            .known
            .iter()
            .filter(|n| Some(*n) != except)
            .cloned()
            .collect();
        for nexus in targets {
            self.attention(&nexus, sense);
        }
    }

    /// Queues `sense` for `nexus` (once: a condition already pending is not
    /// repeated).
    pub fn attention(&mut self, nexus: &Nexus, sense: Sense) {
        let queue = self.attentions.entry(nexus.clone()).or_default();
        if !queue.contains(&sense) {
            queue.push_back(sense);
        }
    }
}

/// A logical unit: storage plus the identity it reports.
#[derive(Clone)]
pub struct LogicalUnit {
    /// The blocks.
    pub storage: Arc<dyn BlockTarget>,
    /// Unit serial number (VPD 80).
    pub serial: String,
    /// NAA IEEE Registered identifier, type 6 (VPD 83): stable across
    /// restarts, as multipath and ESXi need.
    pub naa: [u8; 16],
    /// Refuse writes (DATA PROTECT), as targetcli's `write_protect`.
    pub read_only: bool,
    pub(crate) state: Arc<Mutex<UnitState>>,
    /// Where persistent reservations are kept across restarts (APTPL).
    pub(crate) pr_file: Option<Arc<ReservationFile>>,
}

/// A unit's reservation file and the lock its changes take.
#[derive(Debug)]
pub(crate) struct ReservationFile {
    path: PathBuf,
    /// Held by every change of the persistent reservations from its
    /// computation through its save to its taking effect, so changes, and
    /// their saves, happen one at a time in the order they take effect.
    /// Never held with the unit's state lock for longer than a copy: the
    /// unit's other commands do not wait for a save.
    writer: Mutex<()>,
}

impl std::fmt::Debug for LogicalUnit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogicalUnit")
            .field("serial", &self.serial)
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

impl LogicalUnit {
    /// A unit whose identifiers derive from `name` (say the backstore's
    /// name), so they stay the same across restarts.
    pub fn new(storage: Arc<dyn BlockTarget>, name: &str) -> Self {
        let digest = crate::digest::crc32c(name.as_bytes());
        let digest2 = crate::digest::crc32c(format!("{name}/naa").as_bytes());
        let mut naa = [0u8; 16];
        // NAA 6, then an OUI-like company id (locally administered), then
        // the vendor-specific part from the name's checksums.
        naa[0] = 0x60;
        naa[1..4].copy_from_slice(&[0x01, 0x40, 0x05]);
        naa[4..8].copy_from_slice(&digest.to_be_bytes());
        naa[8..12].copy_from_slice(&digest2.to_be_bytes());
        naa[12..16].copy_from_slice(&(digest ^ digest2.rotate_left(7)).to_be_bytes());
        Self {
            storage,
            serial: format!("{digest:08x}{digest2:08x}"),
            naa,
            read_only: false,
            state: Arc::new(Mutex::new(UnitState {
                wce: true,
                stopped: false,
                prevent: HashSet::new(),
                attentions: HashMap::new(),
                known: HashSet::new(),
                reserve6: None,
                pr: Reservations::default(),
                gate: IoGate::default(),
            })),
            pr_file: None,
        }
    }

    /// Refuses writes (the LUN is reported write-protected).
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// Keeps persistent reservations in `path` (the driver writes them
    /// there when [`IoOp::SaveReservations`]
    /// asks), starting from `saved`, what the file held (`None`: no file
    /// yet).
    pub fn with_reservations(
        mut self,
        path: impl Into<PathBuf>,
        saved: Option<&str>,
    ) -> Result<Self> {
        let path = path.into();
        if let Some(text) = saved {
            let pr =
                Reservations::parse(text).map_err(|(line, message)| Error::ReservationFile {
                    location: ha_core::Location {
                        file: path.clone(),
                        line: u32::try_from(line).unwrap_or(u32::MAX),
                    },
                    message,
                })?;
            self.lock().pr = pr;
        }
        self.pr_file = Some(Arc::new(ReservationFile {
            path,
            writer: Mutex::new(()),
        }));
        Ok(self)
    }

    /// The file persistent reservations are kept in, if any.
    pub fn reservation_file(&self) -> Option<&Path> {
        self.pr_file.as_deref().map(|f| f.path.as_path())
    }

    /// The persistent reservations in force.
    pub fn reservations(&self) -> Reservations {
        self.lock().pr.clone()
    }

    /// Makes a PERSISTENT RESERVE OUT on a unit with a reservation file
    /// (what [`IoOp::SaveReservations`] asks the driver for): holding the
    /// unit's reservation lock, the change is computed on a copy of the
    /// reservations, its text handed to `save` (with the file's path),
    /// and only once `save` succeeded does it take effect, with its unit
    /// attentions. Changes wait for each other on that lock, so no two
    /// saves race and the file holds the state in force; a failed save
    /// leaves the previous state in force, in memory as on disk (`save`
    /// must replace the file atomically or not at all). Blocks while
    /// another change is saved: call it off an async runtime's threads.
    ///
    /// [`IoDone::Done`]: made and saved; [`IoDone::Refused`]: refused by
    /// the reservation rules, nothing changed or saved; an error: not
    /// saved (an initiator name that cannot be written counts as one).
    pub fn change_reservations(
        &self,
        change: &ReservationChange,
        save: impl FnOnce(&Path, &str) -> std::io::Result<()>,
    ) -> Result<IoDone> {
        let Some(file) = self.pr_file.as_deref() else {
            return Err(Error::Config(
                "a reservation change for a unit without a reservation file".into(),
            ));
        };
        let _writer = file.writer.lock().unwrap_or_else(|e| e.into_inner());
        let staged = {
            let state = self.lock();
            stage(&state, change)
        };
        let (pr, attentions) = match staged {
            Ok(staged) => staged,
            Err(refusal) => return Ok(IoDone::Refused(refusal)),
        };
        let failed = |e| Error::io(crate::error::Operation::SaveReservations(file.path.clone()))(e);
        let text = pr.to_text().map_err(|name| {
            failed(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("initiator name {name:?} is not an iSCSI name"),
            ))
        })?;
        save(&file.path, &text).map_err(failed)?;
        let mut state = self.lock();
        state.pr = pr;
        for (nexus, sense) in &attentions {
            state.attention(nexus, *sense);
        }
        Ok(IoDone::Done)
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, UnitState> {
        // A panic while holding the lock leaves bookkeeping that is still
        // consistent field by field: keep serving.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a reservation file is configured.
    pub(crate) fn persists(&self) -> bool {
        self.pr_file.is_some()
    }

    /// A LUN reset (task management) or a target reset: RESERVE(6) and
    /// medium-removal prevention are dropped, every nexus gets a unit
    /// attention. Persistent reservations survive (SPC-4 5.13.1).
    pub fn handle_reset(&self, sense: Sense) {
        let mut state = self.lock();
        state.reserve6 = None;
        state.prevent.clear();
        state.stopped = false;
        state.attention_all(sense, None);
    }

    /// The nexus is gone (logout or a dropped connection): what it held
    /// that does not outlive it is released.
    pub fn handle_nexus_loss(&self, nexus: &Nexus) {
        let mut state = self.lock();
        if state.reserve6.as_ref() == Some(nexus) {
            state.reserve6 = None;
        }
        state.prevent.remove(nexus);
        state.attentions.remove(nexus);
        state.known.remove(nexus);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::backstore::MemoryBackstore;

    fn register(key: u64, sa_key: u64) -> ReservationChange {
        let mut params = key.to_be_bytes().to_vec();
        params.extend_from_slice(&sa_key.to_be_bytes());
        params.extend_from_slice(&[0, 0, 0, 0, 0x01, 0, 0, 0]);
        ReservationChange {
            nexus: Nexus {
                initiator: "iqn.2025-09.com.example:node1".into(),
                isid: [0x40, 0, 0, 0, 0, 1],
                target_port: 1,
            },
            service: 0,
            scope_type: 0,
            params: params.into(),
        }
    }

    #[test]
    fn a_change_takes_effect_only_once_saved() {
        let store = Arc::new(MemoryBackstore::new(512, 8).unwrap());
        let unit = LogicalUnit::new(store, "d")
            .with_reservations("/nowhere/d.pr", None)
            .unwrap();
        let mut disk = String::new();
        let done = unit.change_reservations(&register(0, 7), |path, text| {
            assert_eq!(path, Path::new("/nowhere/d.pr"));
            disk = text.to_owned();
            Ok(())
        });
        assert_eq!(done.unwrap(), IoDone::Done);
        let in_force = unit.reservations();
        assert_eq!(Reservations::parse(&disk).unwrap(), in_force);
        // The save fails: neither memory nor the file changes.
        let failed = unit.change_reservations(&register(7, 9), |_, _| {
            Err(std::io::Error::other("no space left"))
        });
        assert!(failed.unwrap_err().to_string().contains("no space left"));
        assert_eq!(unit.reservations(), in_force);
        // A change the rules refuse is not saved at all.
        let refused = unit.change_reservations(&register(5, 9), |_, _| {
            panic!("a refused change is saved");
        });
        assert_eq!(
            refused.unwrap(),
            IoDone::Refused(super::super::reservation::Refusal::Conflict)
        );
        assert_eq!(unit.reservations(), in_force);
    }
}
