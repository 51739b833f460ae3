//! SCSI command emulation (SPC-4, SBC-3) over a
//! [`BlockTarget`](crate::backstore::BlockTarget): what a
//! logical unit answers, whoever carries the commands (the iSCSI
//! [`target`](crate::target) today).
//!
//! [`execute`] takes a command from an I_T nexus and returns its
//! [`Completion`]. Before a command runs, a pending unit attention for the
//! nexus is reported (SAM-5 5.14) and reservations are checked
//! ([`reservation`]); then it goes to its family: [`inquiry`], [`mode`],
//! [`block`] and [`reservation`]. [`opcodes`] lists what is served; any
//! other command ends in CHECK CONDITION, ILLEGAL REQUEST / INVALID COMMAND
//! OPERATION CODE, as SPC requires.
//!
//! Served: TEST UNIT READY, REQUEST SENSE, INQUIRY (standard, VPD 00, 80,
//! 83, 86, B0, B1, B2), MODE SENSE/SELECT (6/10), READ CAPACITY (10/16),
//! READ and WRITE (6/10/12/16), WRITE AND VERIFY and VERIFY (10/12/16),
//! ORWRITE, WRITE SAME (10/16), UNMAP, COMPARE AND WRITE, GET LBA STATUS,
//! PRE-FETCH (10/16), SYNCHRONIZE CACHE (10/16), START STOP UNIT, PREVENT
//! ALLOW MEDIUM REMOVAL, RESERVE(6)/RELEASE(6), PERSISTENT RESERVE IN/OUT,
//! REPORT LUNS and REPORT SUPPORTED OPERATION CODES.

pub mod block;
pub mod inquiry;
pub mod io;
pub mod mode;
pub mod opcodes;
pub mod reservation;
pub mod sense;
pub mod unit;

#[cfg(feature = "tokio")]
pub use crate::backstore::execute;
pub use block::data_out_length;
pub use io::{IoDone, IoOp, Pending, Step};
pub use reservation::{Access, RESERVATION_CONFLICT};
pub use sense::Sense;
pub use unit::{LogicalUnit, Nexus};

/// GOOD status.
pub const GOOD: u8 = 0x00;
/// CHECK CONDITION status.
pub const CHECK_CONDITION: u8 = 0x02;
/// TASK SET FULL status: the initiator retries later.
pub const TASK_SET_FULL: u8 = 0x28;

/// The name of SCSI status `status` (SAM-5 5.3): "GOOD", "CHECK
/// CONDITION", "RESERVATION CONFLICT"...
pub fn status_name(status: u8) -> &'static str {
    match status {
        GOOD => "GOOD",
        CHECK_CONDITION => "CHECK CONDITION",
        0x04 => "CONDITION MET",
        0x08 => "BUSY",
        RESERVATION_CONFLICT => "RESERVATION CONFLICT",
        0x28 => "TASK SET FULL",
        0x30 => "ACA ACTIVE",
        0x40 => "TASK ABORTED",
        _ => "RESERVED STATUS",
    }
}

/// The most one command transfers (advertised in VPD B0).
pub const MAX_TRANSFER: usize = 32 << 20;
/// The most blocks one COMPARE AND WRITE compares (VPD B0).
pub const MAX_COMPARE_AND_WRITE: u8 = 255;
/// The most block descriptors one UNMAP carries (VPD B0).
pub const MAX_UNMAP_DESCRIPTORS: u32 = 256;

/// A command's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// SCSI status.
    pub status: u8,
    /// Data for the initiator (Data-In), before truncation to the
    /// allocation or expected length.
    pub data: Vec<u8>,
    /// Sense data with CHECK CONDITION.
    pub sense: Option<Sense>,
}

impl Completion {
    /// GOOD with `data`.
    pub fn good(data: Vec<u8>) -> Self {
        Self {
            status: GOOD,
            data,
            sense: None,
        }
    }

    /// CHECK CONDITION with `sense`.
    pub fn check(sense: Sense) -> Self {
        Self {
            status: CHECK_CONDITION,
            data: Vec::new(),
            sense: Some(sense),
        }
    }

    /// RESERVATION CONFLICT.
    pub fn conflict() -> Self {
        Self {
            status: RESERVATION_CONFLICT,
            data: Vec::new(),
            sense: None,
        }
    }

    fn from_result(result: Result<Vec<u8>, Sense>) -> Self {
        match result {
            Ok(data) => Self::good(data),
            Err(sense) => Self::check(sense),
        }
    }
}

/// One command as the transport delivers it.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// Who sends it.
    pub nexus: &'a Nexus,
    /// The CDB.
    pub cdb: &'a [u8],
    /// Its Data-Out (at most [`data_out_length`] bytes).
    pub data: bytes::Bytes,
    /// The length of Data-Out the initiator announced (iSCSI's Expected
    /// Data Transfer Length), which may differ from what the CDB asks for.
    pub announced: usize,
}

pub(crate) fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

pub(crate) fn be_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

/// Commands that never see a unit attention or a RESERVE(6) conflict.
fn exempt(opcode: u8) -> bool {
    matches!(opcode, 0x12 | 0xa0 | 0x03)
}

/// Starts a command on `unit` (`None`: a LUN that does not exist, which
/// answers only INQUIRY, REPORT LUNS and REQUEST SENSE). `luns` lists the
/// target's LUNs for REPORT LUNS. Either it is answered at once, or it
/// asks for a storage operation and goes on in [`resume`] with its
/// result. Data-In is cut to the command's allocation length.
pub fn start(unit: Option<&LogicalUnit>, luns: &[u64], req: Request<'_>) -> Step {
    let allocation = opcodes::allocation_length(req.cdb);
    match run(unit, luns, req) {
        Step::Done(completion) => Step::Done(truncated(completion, allocation)),
        Step::Io(op, mut pending) => {
            pending.allocation = allocation;
            Step::Io(op, pending)
        }
    }
}

/// Goes on with a command of `unit` after the storage operation it asked
/// for completed with `result`.
pub fn resume(unit: &LogicalUnit, pending: Pending, result: crate::Result<IoDone>) -> Step {
    let allocation = pending.allocation;
    match block::resume(unit, pending.then, result) {
        Step::Done(completion) => Step::Done(truncated(completion, allocation)),
        Step::Io(op, mut pending) => {
            pending.allocation = allocation;
            Step::Io(op, pending)
        }
    }
}

fn truncated(mut completion: Completion, allocation: Option<usize>) -> Completion {
    if let Some(max) = allocation {
        completion.data.truncate(max);
    }
    completion
}

/// What can be answered from the CDB alone, before a command's Data-Out
/// is asked for: no such LUN, a unit attention, an unknown command, a
/// reservation conflict, a stopped unit, an extent outside the unit. The
/// transport answers with it at once instead of collecting data for a
/// command that cannot run (a pending unit attention is reported, and so
/// cleared, here).
pub fn precheck(unit: Option<&LogicalUnit>, nexus: &Nexus, cdb: &[u8]) -> Option<Completion> {
    let Some(unit) = unit else {
        return Some(Completion::check(Sense::NO_SUCH_LUN));
    };
    if let Some(refused) = gate(unit, nexus, cdb) {
        return Some(refused);
    }
    // WRITE SAME with 0 blocks means "to the end": checked when it runs.
    let same_to_end = matches!(cdb[0], 0x41 | 0x93);
    match block::extent(cdb) {
        Some(e) if !same_to_end || e.blocks > 0 => {
            let end = e.lba.checked_add(e.blocks);
            end.is_none_or(|end| end > unit.storage.block_count())
                .then(|| Completion::check(Sense::LBA_OUT_OF_RANGE))
        }
        _ => None,
    }
}

/// The checks every command passes before it runs: a pending unit
/// attention (reported and cleared), an unknown command, a reservation
/// conflict, a stopped unit.
fn gate(unit: &LogicalUnit, nexus: &Nexus, cdb: &[u8]) -> Option<Completion> {
    let opcode = *cdb.first()?;
    let mut state = unit.lock();
    if !state.known.contains(nexus) {
        state.known.insert(nexus.clone());
    }
    // Unit attentions come before anything else, even before an unknown
    // opcode is refused.
    if !exempt(opcode)
        && let Some(sense) = state
            .attentions
            .get_mut(nexus)
            .and_then(std::collections::VecDeque::pop_front)
    {
        return Some(Completion::check(sense));
    }
    let command = match opcodes::lookup(cdb, unit.storage.thin()) {
        Ok(command) => command,
        Err(sense) => return Some(Completion::check(sense)),
    };
    let reserved_by_other = state
        .reserve6
        .as_ref()
        .is_some_and(|holder| holder != nexus);
    // RELEASE(6) from another nexus succeeds without effect.
    if reserved_by_other && !exempt(opcode) && opcode != 0x17 {
        return Some(Completion::conflict());
    }
    if state.pr.conflicts(nexus, command.access) {
        return Some(Completion::conflict());
    }
    if state.stopped && command.access != Access::Always && !matches!(opcode, 0x1b | 0x5e | 0x5f) {
        return Some(Completion::check(Sense::STOPPED));
    }
    None
}

/// A command answered at once, or its first storage operation.
fn run(unit: Option<&LogicalUnit>, luns: &[u64], req: Request<'_>) -> Step {
    let cdb = req.cdb;
    let Some(&opcode) = cdb.first() else {
        return Step::Done(Completion::check(Sense::INVALID_OPCODE));
    };
    let Some(unit) = unit else {
        return Step::Done(match opcode {
            0x12 if cdb.len() >= 6 => Completion::from_result(inquiry::inquiry(None, cdb)),
            0xa0 if cdb.len() >= 12 => report_luns(luns),
            0x03 if cdb.len() >= 6 => Completion::good(Sense::NO_SUCH_LUN.fixed().to_vec()),
            _ => Completion::check(Sense::NO_SUCH_LUN),
        });
    };
    let thin = unit.storage.thin();
    if let Some(refused) = gate(unit, req.nexus, cdb) {
        return Step::Done(refused);
    }
    Step::Done(match opcode {
        0x00 => Completion::good(Vec::new()),
        0x03 => request_sense(unit, req.nexus, cdb),
        0x12 => Completion::from_result(inquiry::inquiry(Some(unit), cdb)),
        0xa0 => report_luns(luns),
        0x08 | 0x28 | 0xa8 | 0x88 => return block::read(unit, cdb),
        0x0a | 0x2a | 0xaa | 0x8a | 0x2e | 0xae | 0x8e => {
            return block::write(unit, cdb, &req.data);
        }
        0x2f | 0xaf | 0x8f => return block::verify(unit, cdb, &req.data),
        0x8b => return block::or_write(unit, cdb, &req.data),
        0x89 => {
            return block::compare_and_write(unit, cdb, &req.data, req.announced);
        }
        0x41 | 0x93 => return block::write_same(unit, cdb, &req.data),
        0x42 => return block::unmap(unit, cdb, &req.data),
        0x34 | 0x90 => block::prefetch(unit, cdb),
        0x35 | 0x91 => return block::synchronize(unit, cdb),
        0x25 => block::capacity(unit, false),
        0x9e if cdb[1] & 0x1f == 0x10 => block::capacity(unit, true),
        0x9e => return block::lba_status(unit, cdb),
        0x1a | 0x5a => Completion::from_result(mode::sense(unit, cdb, opcode == 0x5a)),
        0x15 | 0x55 => match mode::select(unit, cdb, opcode == 0x55, &req.data) {
            Ok(changed) => {
                if changed {
                    unit.lock()
                        .attention_all(Sense::MODE_CHANGED, Some(req.nexus));
                }
                Completion::good(Vec::new())
            }
            Err(s) => Completion::check(s),
        },
        0x1b => start_stop(unit, cdb),
        0x1e => {
            let mut state = unit.lock();
            match cdb[4] & 0x03 {
                0 => {
                    state.prevent.remove(req.nexus);
                }
                1 => {
                    state.prevent.insert(req.nexus.clone());
                }
                _ => return Step::Done(Completion::check(Sense::INVALID_FIELD)),
            }
            Completion::good(Vec::new())
        }
        0x16 | 0x17 => reserve6(unit, req.nexus, opcode == 0x16),
        0x5e => persistent_in(unit, cdb),
        0x5f => return persistent_out(unit, &req),
        0xa3 => Completion::from_result(opcodes::report(cdb, thin)),
        _ => Completion::check(Sense::INVALID_OPCODE),
    })
}

/// REQUEST SENSE: the oldest pending unit attention (now cleared) or NO
/// SENSE.
fn request_sense(unit: &LogicalUnit, nexus: &Nexus, cdb: &[u8]) -> Completion {
    if cdb[1] & 0x01 != 0 {
        // DESC: descriptor format is not supported.
        return Completion::check(Sense::INVALID_FIELD);
    }
    let pending = unit
        .lock()
        .attentions
        .get_mut(nexus)
        .and_then(std::collections::VecDeque::pop_front);
    let sense = pending.unwrap_or(Sense::new(0, 0, 0));
    Completion::good(sense.fixed().to_vec())
}

/// START STOP UNIT: START 0 stops media access (NOT READY until started
/// again); the medium is not removable, so LOEJ ejects nothing, and an
/// eject is refused while removal is prevented.
fn start_stop(unit: &LogicalUnit, cdb: &[u8]) -> Completion {
    let (power, loej, start) = (cdb[4] >> 4, cdb[4] & 0x02 != 0, cdb[4] & 0x01 != 0);
    if power != 0 {
        return Completion::check(Sense::INVALID_FIELD);
    }
    let mut state = unit.lock();
    if loej && !start && !state.prevent.is_empty() {
        return Completion::check(Sense::REMOVAL_PREVENTED);
    }
    state.stopped = !start;
    Completion::good(Vec::new())
}

/// RESERVE(6) and RELEASE(6) (SPC-2): one nexus has the unit to itself.
/// Refused while persistent registrations exist (CRH).
fn reserve6(unit: &LogicalUnit, nexus: &Nexus, reserve: bool) -> Completion {
    let mut state = unit.lock();
    if !state.pr.registrations.is_empty() || state.pr.holder.is_some() {
        return Completion::conflict();
    }
    match (reserve, &state.reserve6) {
        (true, Some(holder)) if holder != nexus => return Completion::conflict(),
        (true, _) => state.reserve6 = Some(nexus.clone()),
        (false, Some(holder)) if holder == nexus => state.reserve6 = None,
        (false, _) => {}
    }
    Completion::good(Vec::new())
}

fn persistent_in(unit: &LogicalUnit, cdb: &[u8]) -> Completion {
    let can_persist = unit.persists();
    match unit.lock().pr.handle_in(cdb[1], can_persist) {
        Some(data) => Completion::good(data),
        None => Completion::check(Sense::INVALID_FIELD),
    }
}

fn persistent_out(unit: &LogicalUnit, req: &Request<'_>) -> Step {
    let cdb = req.cdb;
    let declared = be_u32(&cdb[5..9]) as usize;
    if req.data.len() != declared {
        return Step::check(Sense::PARAMETER_LENGTH);
    }
    if unit.persists() {
        // Made by the driver under the unit's reservation lock, in force
        // only once saved (an empty file when APTPL is off: nothing
        // persists).
        let change = reservation::ReservationChange {
            nexus: req.nexus.clone(),
            service: cdb[1],
            scope_type: cdb[2],
            params: req.data.clone(),
        };
        return Step::io(IoOp::SaveReservations { change }, io::Then::Saved);
    }
    let mut state = unit.lock();
    if state.reserve6.is_some() {
        return Step::Done(Completion::conflict());
    }
    let known: Vec<Nexus> = state.known.iter().cloned().collect();
    match state
        .pr
        .handle_out(req.nexus, cdb[1], cdb[2], &req.data, false, &known)
    {
        Ok(attentions) => {
            for (nexus, sense) in attentions {
                state.attention(&nexus, sense);
            }
            Step::good()
        }
        Err(refusal) => Step::Done(refused(refusal)),
    }
}

/// The answer to a PERSISTENT RESERVE OUT the reservation rules refused.
pub(crate) fn refused(refusal: reservation::Refusal) -> Completion {
    match refusal {
        reservation::Refusal::Conflict => Completion::conflict(),
        reservation::Refusal::Check(s) => Completion::check(s),
    }
}

fn report_luns(luns: &[u64]) -> Completion {
    let mut d = ((luns.len() * 8) as u32).to_be_bytes().to_vec();
    d.extend_from_slice(&[0; 4]);
    for lun in luns {
        // Peripheral device addressing for LUNs under 256, flat above.
        let encoded: u64 = if *lun < 256 {
            lun << 48
        } else {
            (0x4000 | (lun & 0x3fff)) << 48
        };
        d.extend_from_slice(&encoded.to_be_bytes());
    }
    Completion::good(d)
}

/// The LUN number in an iSCSI LUN field (SAM: the first level's
/// peripheral or flat addressing).
pub fn lun_number(field: u64) -> u64 {
    let first = (field >> 48) as u16;
    match first >> 14 {
        0 => u64::from(first & 0xff),
        1 => u64::from(first & 0x3fff),
        _ => u64::MAX,
    }
}

#[cfg(all(test, feature = "tokio"))]
mod tests {
    use super::*;
    use crate::backstore::{BlockTarget, MemoryBackstore};
    use std::sync::Arc;

    fn unit() -> LogicalUnit {
        let store = MemoryBackstore::new(512, 2048).unwrap();
        LogicalUnit::new(Arc::new(store), "disk1")
    }

    fn nexus(name: &str) -> Nexus {
        Nexus {
            initiator: format!("iqn.2025-09.com.example:{name}"),
            isid: [0x40, 0, 0, 0, 0, 1],
            target_port: 1,
        }
    }

    async fn send(u: Option<&LogicalUnit>, who: &str, cdb: &[u8], data: &[u8]) -> Completion {
        let nexus = nexus(who);
        let request = Request {
            nexus: &nexus,
            cdb,
            data: bytes::Bytes::copy_from_slice(data),
            announced: data.len(),
        };
        execute(u, &[0, 1], request).await
    }

    async fn run(u: &LogicalUnit, cdb: &[u8]) -> Completion {
        send(Some(u), "a", cdb, &[]).await
    }

    fn cdb16(opcode: u8, lba: u64, blocks: u32) -> [u8; 16] {
        let mut c = [0u8; 16];
        c[0] = opcode;
        c[2..10].copy_from_slice(&lba.to_be_bytes());
        c[10..14].copy_from_slice(&blocks.to_be_bytes());
        c
    }

    #[tokio::test]
    async fn capacity_inquiry_and_luns() {
        let u = unit();
        let c = run(&u, &[0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0]).await;
        assert_eq!(c.data, [0, 0, 0x07, 0xff, 0, 0, 0x02, 0]);
        let mut cap16 = [0u8; 16];
        cap16[0] = 0x9e;
        cap16[1] = 0x10;
        cap16[13] = 32;
        let c = run(&u, &cap16).await;
        assert_eq!(
            &c.data[..12],
            &[0, 0, 0, 0, 0, 0, 0x07, 0xff, 0, 0, 0x02, 0]
        );
        assert_eq!(c.data[14] & 0xc0, 0xc0, "thin: LBPME and LBPRZ");
        let c = run(&u, &[0x12, 1, 0xb0, 0, 255, 0]).await;
        assert_eq!((c.data[1], c.data[3]), (0xb0, 0x3c));
        assert_eq!(
            &c.data[8..12],
            &65_536u32.to_be_bytes(),
            "32 MiB of 512-byte blocks"
        );
        let c = run(&u, &[0x12, 1, 0x00, 0, 255, 0]).await;
        assert_eq!(&c.data[4..], &[0x00, 0x80, 0x83, 0x86, 0xb0, 0xb1, 0xb2]);
        let c = run(&u, &[0x12, 0, 0, 0, 36, 0]).await;
        assert_eq!(&c.data[8..16], b"HA-RS   ");
        let c = run(&u, &[0x12, 1, 0x83, 0, 255, 0]).await;
        assert_eq!(&c.data[8..24], &u.naa);
        assert_eq!(u.naa, unit().naa, "stable across restarts");
        let c = send(None, "a", &[0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0], &[]).await;
        assert_eq!(&c.data[..4], &[0, 0, 0, 16]);
        assert_eq!(
            lun_number(u64::from_be_bytes(c.data[16..24].try_into().unwrap())),
            1
        );
        let c = send(None, "a", &[0x00, 0, 0, 0, 0, 0], &[]).await;
        assert_eq!(c.sense, Some(Sense::NO_SUCH_LUN));
    }

    #[tokio::test]
    async fn reads_writes_and_their_errors() {
        let u = unit();
        u.storage.write(10, &[7u8; 1024], false).await.unwrap();
        let c = run(&u, &[0x28, 0, 0, 0, 0, 10, 0, 0, 2, 0]).await;
        assert_eq!((c.status, c.data.len()), (GOOD, 1024));
        assert!(c.data.iter().all(|b| *b == 7));
        let c = run(&u, &[0x28, 0, 0, 0, 0x07, 0xff, 0, 0, 2, 0]).await;
        assert_eq!(c.sense, Some(Sense::LBA_OUT_OF_RANGE));
        let c = run(&u, &[0xff, 0, 0, 0, 0, 0]).await;
        assert_eq!(c.sense, Some(Sense::INVALID_OPCODE));
        let c = run(&u, &[0x28]).await;
        assert_eq!(c.sense, Some(Sense::INVALID_OPCODE), "a short CDB");
        // Fewer whole blocks than the CDB asks for: those are written.
        let write2 = [0x2a, 0, 0, 0, 0, 20, 0, 0, 2, 0];
        assert_eq!(data_out_length(&write2, 512), 1024);
        let c = send(Some(&u), "a", &write2, &[9u8; 512]).await;
        assert_eq!(c.status, GOOD);
        let mut back = [0u8; 1024];
        u.storage.read(20, &mut back).await.unwrap();
        assert!(back[..512].iter().all(|b| *b == 9) && back[512..].iter().all(|b| *b == 0));
        let c = send(Some(&u), "a", &write2, &[9u8; 200]).await;
        assert_eq!(
            c.sense,
            Some(Sense::INVALID_INFORMATION_UNIT),
            "a partial block"
        );
    }

    #[tokio::test]
    async fn compare_and_write_is_all_or_nothing() {
        let u = unit();
        u.storage.write(5, &[1u8; 512], false).await.unwrap();
        let mut cdb = [0u8; 16];
        cdb[0] = 0x89;
        cdb[2..10].copy_from_slice(&5u64.to_be_bytes());
        cdb[13] = 1;
        let mut data = vec![1u8; 512];
        data[100] = 2;
        data.extend_from_slice(&[3u8; 512]);
        let c = send(Some(&u), "a", &cdb, &data).await;
        assert_eq!(c.sense, Some(Sense::miscompare(100)));
        assert_eq!(c.sense.unwrap().fixed()[3..7], 100u32.to_be_bytes());
        data[100] = 1;
        let c = send(Some(&u), "a", &cdb, &data).await;
        assert_eq!(c.status, GOOD);
        let mut back = [0u8; 512];
        u.storage.read(5, &mut back).await.unwrap();
        assert_eq!(back, [3u8; 512]);
    }

    #[tokio::test]
    async fn write_same_unmap_and_lba_status() {
        let u = unit();
        let c = send(Some(&u), "a", &cdb16(0x93, 0, 64), &[0xaa; 512]).await;
        assert_eq!(c.status, GOOD);
        let mut back = vec![0u8; 64 * 512];
        u.storage.read(0, &mut back).await.unwrap();
        assert!(back.iter().all(|b| *b == 0xaa));
        // UNMAP blocks 8..16.
        let mut list = vec![0, 22, 0, 16, 0, 0, 0, 0];
        list.extend_from_slice(&8u64.to_be_bytes());
        list.extend_from_slice(&8u32.to_be_bytes());
        list.extend_from_slice(&[0; 4]);
        let c = send(Some(&u), "a", &[0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0], &list).await;
        assert_eq!(c.status, GOOD);
        let mut status = [0u8; 16];
        status[0] = 0x9e;
        status[1] = 0x12;
        status[13] = 255;
        let c = run(&u, &status).await;
        let first = &c.data[8..24];
        assert_eq!(
            (be_u64(&first[0..8]), be_u32(&first[8..12]), first[12]),
            (0, 8, 0)
        );
        let second = &c.data[24..40];
        assert_eq!(
            (be_u64(&second[0..8]), be_u32(&second[8..12]), second[12]),
            (8, 8, 1)
        );
    }

    #[tokio::test]
    async fn mode_select_changes_the_cache_and_tells_the_others() {
        let u = unit();
        run(&u, &[0x00, 0, 0, 0, 0, 0]).await;
        send(Some(&u), "b", &[0x00, 0, 0, 0, 0, 0], &[]).await;
        let c = run(&u, &[0x1a, 0, 0x08, 0, 255, 0]).await;
        assert_eq!(c.status, GOOD);
        assert_eq!(c.data[3], 8, "a block descriptor");
        assert_eq!(c.data[2] & 0x10, 0x10, "DPOFUA");
        let page = &c.data[12..];
        assert_eq!((page[0], page[2] & 0x04), (0x08, 0x04), "WCE");
        let mut select = vec![0, 0, 0, 0];
        let mut new_page = page.to_vec();
        new_page[2] &= !0x04;
        select.extend_from_slice(&new_page);
        let c = send(
            Some(&u),
            "a",
            &[0x15, 0x10, 0, 0, select.len() as u8, 0],
            &select,
        )
        .await;
        assert_eq!(c.status, GOOD);
        assert!(!u.lock().wce);
        let c = send(Some(&u), "b", &[0x00, 0, 0, 0, 0, 0], &[]).await;
        assert_eq!(c.sense, Some(Sense::MODE_CHANGED));
        assert_eq!(
            run(&u, &[0x00, 0, 0, 0, 0, 0]).await.status,
            GOOD,
            "not for the changer"
        );
        // A non-changeable bit: refused.
        let mut bad = select.clone();
        bad[4 + 3] ^= 0x01;
        let c = send(Some(&u), "a", &[0x15, 0x10, 0, 0, bad.len() as u8, 0], &bad).await;
        assert_eq!(c.sense, Some(Sense::INVALID_PARAMETER));
        let c = run(&u, &[0x1a, 0, 0xc8, 0, 255, 0]).await;
        assert_eq!(c.sense, Some(Sense::SAVING_NOT_SUPPORTED));
    }

    #[tokio::test]
    async fn reservations_keep_others_out() {
        let u = unit();
        // RESERVE(6): the other nexus conflicts until RELEASE.
        assert_eq!(run(&u, &[0x16, 0, 0, 0, 0, 0]).await.status, GOOD);
        let read = [0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0];
        assert_eq!(
            send(Some(&u), "b", &read, &[]).await.status,
            RESERVATION_CONFLICT
        );
        assert_eq!(
            send(Some(&u), "b", &[0x12, 0, 0, 0, 36, 0], &[])
                .await
                .status,
            GOOD
        );
        assert_eq!(run(&u, &[0x17, 0, 0, 0, 0, 0]).await.status, GOOD);
        assert_eq!(send(Some(&u), "b", &read, &[]).await.status, GOOD);
        // Persistent: register, reserve Exclusive Access; the other conflicts.
        let mut p = vec![0u8; 24];
        p[8..16].copy_from_slice(&0xabu64.to_be_bytes());
        let prout = |action: u8, kind: u8| [0x5f, action, kind, 0, 0, 0, 0, 0, 24, 0];
        assert_eq!(send(Some(&u), "a", &prout(0, 0), &p).await.status, GOOD);
        let mut r = vec![0u8; 24];
        r[0..8].copy_from_slice(&0xabu64.to_be_bytes());
        assert_eq!(send(Some(&u), "a", &prout(1, 3), &r).await.status, GOOD);
        assert_eq!(
            send(Some(&u), "b", &read, &[]).await.status,
            RESERVATION_CONFLICT
        );
        assert_eq!(run(&u, &read).await.status, GOOD);
        let c = run(&u, &[0x5e, 1, 0, 0, 0, 0, 0, 0, 255, 0]).await;
        assert_eq!((c.data[7], c.data[21]), (16, 3), "READ RESERVATION");
        assert_eq!(
            run(&u, &[0x16, 0, 0, 0, 0, 0]).await.status,
            RESERVATION_CONFLICT
        );
        // A LUN reset keeps persistent reservations and raises a unit attention.
        u.handle_reset(Sense::LUN_RESET);
        assert_eq!(run(&u, &read).await.sense, Some(Sense::LUN_RESET));
        assert_eq!(
            send(Some(&u), "b", &read, &[]).await.sense,
            Some(Sense::LUN_RESET)
        );
        assert_eq!(
            send(Some(&u), "b", &read, &[]).await.status,
            RESERVATION_CONFLICT
        );
    }

    #[tokio::test]
    async fn reservations_persist_through_a_restart() {
        let dir = std::env::temp_dir().join(format!("ha-iscsi-pr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("disk1.pr");
        let _ = std::fs::remove_file(&file);
        let store: Arc<dyn BlockTarget> = Arc::new(MemoryBackstore::new(512, 64).unwrap());
        let u = LogicalUnit::new(store.clone(), "disk1")
            .with_reservation_file(&file)
            .unwrap();
        let mut p = vec![0u8; 24];
        p[8..16].copy_from_slice(&7u64.to_be_bytes());
        p[20] = 0x01; // APTPL
        let c = send(Some(&u), "a", &[0x5f, 6, 0, 0, 0, 0, 0, 0, 24, 0], &p).await;
        assert_eq!(c.status, GOOD);
        drop(u);
        let again = LogicalUnit::new(store, "disk1")
            .with_reservation_file(&file)
            .unwrap();
        let c = run(&again, &[0x5e, 0, 0, 0, 0, 0, 0, 0, 255, 0]).await;
        assert_eq!(&c.data[8..16], &7u64.to_be_bytes());
        std::fs::write(&file, "register nonsense").unwrap();
        let store: Arc<dyn BlockTarget> = Arc::new(MemoryBackstore::new(512, 64).unwrap());
        let err = LogicalUnit::new(store, "d")
            .with_reservation_file(&file)
            .unwrap_err();
        assert!(err.to_string().contains("disk1.pr:1"), "{err}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn supported_opcodes_are_reported() {
        let u = unit();
        let c = run(&u, &[0xa3, 0x0c, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0]).await;
        let len = be_u32(&c.data[0..4]) as usize;
        assert_eq!(len, c.data.len() - 4);
        assert_eq!(len / 8, opcodes::COMMANDS.len());
        // One command: READ (10).
        let c = run(&u, &[0xa3, 0x0c, 0x01, 0x28, 0, 0, 0, 0, 0x10, 0, 0, 0]).await;
        assert_eq!((c.data[1] & 0x07, c.data[3], c.data[4]), (3, 10, 0x28));
        // PERSISTENT RESERVE IN has service actions: option 1 refused.
        let c = run(&u, &[0xa3, 0x0c, 0x01, 0x5e, 0, 0, 0, 0, 0x10, 0, 0, 0]).await;
        assert_eq!(c.sense, Some(Sense::INVALID_FIELD));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_cdbs_never_panic(
            cdb in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..20),
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..1100),
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let u = unit();
            runtime.block_on(async {
                let _ = send(Some(&u), "a", &cdb, &data).await;
                let _ = send(None, "a", &cdb, &data).await;
            });
            let _ = data_out_length(&cdb, 512);
        }
    }
}
