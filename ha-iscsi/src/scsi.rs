//! SCSI command emulation (SPC-4, SBC-3) over a [`BlockTarget`].
//!
//! **So far**: TEST UNIT READY, INQUIRY (standard data and VPD pages 00,
//! 80, 83 with a stable NAA identifier, B0, B1, B2), READ CAPACITY (10) and (16),
//! REPORT LUNS, READ and WRITE (6/10/12/16, WRITE with FUA) and
//! SYNCHRONIZE CACHE (10/16). Anything else ends in CHECK CONDITION,
//! ILLEGAL REQUEST / INVALID COMMAND OPERATION CODE, as SPC requires for an
//! unsupported command; the rest comes next.

use std::sync::Arc;

use crate::backstore::BlockTarget;

/// GOOD status.
pub const GOOD: u8 = 0x00;
/// CHECK CONDITION status.
pub const CHECK_CONDITION: u8 = 0x02;

/// Sense data: key, additional sense code and qualifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sense {
    /// Sense key.
    pub key: u8,
    /// Additional sense code.
    pub asc: u8,
    /// Its qualifier.
    pub ascq: u8,
}

impl Sense {
    /// ILLEGAL REQUEST, INVALID COMMAND OPERATION CODE.
    pub const INVALID_OPCODE: Sense = Sense {
        key: 0x05,
        asc: 0x20,
        ascq: 0x00,
    };
    /// ILLEGAL REQUEST, INVALID FIELD IN CDB.
    pub const INVALID_FIELD: Sense = Sense {
        key: 0x05,
        asc: 0x24,
        ascq: 0x00,
    };
    /// ILLEGAL REQUEST, LOGICAL BLOCK ADDRESS OUT OF RANGE.
    pub const LBA_OUT_OF_RANGE: Sense = Sense {
        key: 0x05,
        asc: 0x21,
        ascq: 0x00,
    };
    /// MEDIUM ERROR, WRITE ERROR.
    pub const WRITE_ERROR: Sense = Sense {
        key: 0x03,
        asc: 0x0c,
        ascq: 0x00,
    };
    /// MEDIUM ERROR, UNRECOVERED READ ERROR.
    pub const READ_ERROR: Sense = Sense {
        key: 0x03,
        asc: 0x11,
        ascq: 0x00,
    };

    /// Fixed-format sense data (SPC-4 4.5.3), 18 bytes.
    pub fn fixed(&self) -> [u8; 18] {
        let mut s = [0u8; 18];
        s[0] = 0x70;
        s[2] = self.key;
        s[7] = 10;
        s[12] = self.asc;
        s[13] = self.ascq;
        s
    }
}

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
    fn good(data: Vec<u8>) -> Self {
        Self {
            status: GOOD,
            data,
            sense: None,
        }
    }

    fn check(sense: Sense) -> Self {
        Self {
            status: CHECK_CONDITION,
            data: Vec::new(),
            sense: Some(sense),
        }
    }
}

/// The most one command transfers (advertised in VPD B0).
pub const MAX_TRANSFER: usize = 32 << 20;

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
}

impl std::fmt::Debug for LogicalUnit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogicalUnit")
            .field("serial", &self.serial)
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
        }
    }
}

/// The LUN numbers of a target, for REPORT LUNS.
pub type LunList = Vec<u64>;

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn be_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

/// Executes `cdb` on `unit` (`None`: a LUN that does not exist, which
/// answers only INQUIRY and REPORT LUNS). `luns` lists the target's LUNs.
pub async fn execute(unit: Option<&LogicalUnit>, luns: &[u64], cdb: &[u8]) -> Completion {
    let Some(&opcode) = cdb.first() else {
        return Completion::check(Sense::INVALID_OPCODE);
    };
    let need = |len: usize| cdb.len() >= len;
    match opcode {
        0x12 if need(6) => inquiry(unit, cdb),
        0xa0 if need(12) => report_luns(luns),
        _ => {
            let Some(unit) = unit else {
                // LOGICAL UNIT NOT SUPPORTED.
                return Completion::check(Sense {
                    key: 0x05,
                    asc: 0x25,
                    ascq: 0x00,
                });
            };
            let s = &unit.storage;
            // RDPROTECT/WRPROTECT need protection information, which no
            // backstore has (SBC-3 5.16: INVALID FIELD IN CDB).
            if matches!(opcode, 0x28 | 0xa8 | 0x88 | 0x2a | 0xaa | 0x8a)
                && cdb.get(1).is_some_and(|b| b & 0xe0 != 0)
            {
                return Completion::check(Sense::INVALID_FIELD);
            }
            match opcode {
                0x00 if need(6) => Completion::good(Vec::new()),
                0x25 if need(10) => {
                    let last = s.block_count().saturating_sub(1).min(u64::from(u32::MAX));
                    let mut d = (last as u32).to_be_bytes().to_vec();
                    d.extend_from_slice(&s.block_size().to_be_bytes());
                    Completion::good(d)
                }
                0x9e if need(16) && cdb[1] & 0x1f == 0x10 => {
                    let mut d = vec![0u8; 32];
                    d[..8].copy_from_slice(&s.block_count().saturating_sub(1).to_be_bytes());
                    d[8..12].copy_from_slice(&s.block_size().to_be_bytes());
                    Completion::good(d)
                }
                0x08 if need(6) => {
                    let lba = u64::from(be_u32(&[0, cdb[1] & 0x1f, cdb[2], cdb[3]]));
                    let blocks = if cdb[4] == 0 { 256 } else { u64::from(cdb[4]) };
                    read(unit, lba, blocks).await
                }
                0x28 if need(10) => {
                    let blocks = u64::from(u16::from_be_bytes([cdb[7], cdb[8]]));
                    read(unit, u64::from(be_u32(&cdb[2..6])), blocks).await
                }
                0xa8 if need(12) => {
                    read(
                        unit,
                        u64::from(be_u32(&cdb[2..6])),
                        u64::from(be_u32(&cdb[6..10])),
                    )
                    .await
                }
                0x88 if need(16) => {
                    read(unit, be_u64(&cdb[2..10]), u64::from(be_u32(&cdb[10..14]))).await
                }
                // A write without data: nothing to write, but the range
                // is still checked (SBC-3: a transfer length of 0 is not
                // an error).
                0x0a | 0x2a | 0xaa | 0x8a => match write_extent(cdb) {
                    Some((lba, 0, _)) if lba <= s.block_count() => Completion::good(Vec::new()),
                    Some((_, 0, _)) => Completion::check(Sense::LBA_OUT_OF_RANGE),
                    _ => Completion::check(Sense::INVALID_FIELD),
                },
                0x35 | 0x91 => match s.flush().await {
                    Ok(()) => Completion::good(Vec::new()),
                    Err(e) => {
                        tracing::warn!(error = %e, "flush failed");
                        Completion::check(Sense::WRITE_ERROR)
                    }
                },
                _ => Completion::check(Sense::INVALID_OPCODE),
            }
        }
    }
}

/// A write command's extent: `(lba, blocks, fua)`; `None` if `cdb` is not
/// a WRITE (6/10/12/16).
pub fn write_extent(cdb: &[u8]) -> Option<(u64, u64, bool)> {
    let fua = cdb.get(1).is_some_and(|b| b & 0x08 != 0);
    match *cdb.first()? {
        0x0a if cdb.len() >= 6 => {
            let lba = u64::from(be_u32(&[0, cdb[1] & 0x1f, cdb[2], cdb[3]]));
            Some((
                lba,
                if cdb[4] == 0 { 256 } else { u64::from(cdb[4]) },
                false,
            ))
        }
        0x2a if cdb.len() >= 10 => Some((
            u64::from(be_u32(&cdb[2..6])),
            u64::from(u16::from_be_bytes([cdb[7], cdb[8]])),
            fua,
        )),
        0xaa if cdb.len() >= 12 => Some((
            u64::from(be_u32(&cdb[2..6])),
            u64::from(be_u32(&cdb[6..10])),
            fua,
        )),
        0x8a if cdb.len() >= 16 => {
            Some((be_u64(&cdb[2..10]), u64::from(be_u32(&cdb[10..14])), fua))
        }
        _ => None,
    }
}

/// Checks a write's extent against the unit and the data it will bring;
/// the sense to answer with if it cannot be done.
pub fn check_write(
    unit: &LogicalUnit,
    lba: u64,
    blocks: u64,
    expected: usize,
) -> Result<(), Sense> {
    let s = &unit.storage;
    if lba
        .checked_add(blocks)
        .is_none_or(|end| end > s.block_count())
    {
        return Err(Sense::LBA_OUT_OF_RANGE);
    }
    match blocks.checked_mul(u64::from(s.block_size())) {
        Some(len) if len == expected as u64 && len <= MAX_TRANSFER as u64 => Ok(()),
        _ => Err(Sense::INVALID_FIELD),
    }
}

/// Writes `data` (checked by [`check_write`]) at `lba`.
pub async fn write(unit: &LogicalUnit, lba: u64, data: &[u8], fua: bool) -> Completion {
    match unit.storage.write(lba, data, fua).await {
        Ok(()) => Completion::good(Vec::new()),
        Err(e) => {
            tracing::warn!(lba, error = %e, "write failed");
            Completion::check(Sense::WRITE_ERROR)
        }
    }
}

async fn read(unit: &LogicalUnit, lba: u64, blocks: u64) -> Completion {
    let s = &unit.storage;
    if lba
        .checked_add(blocks)
        .is_none_or(|end| end > s.block_count())
    {
        return Completion::check(Sense::LBA_OUT_OF_RANGE);
    }
    // One command reads at most MAX_TRANSFER: more is refused, not
    // allocated.
    let Some(len) = blocks
        .checked_mul(u64::from(s.block_size()))
        .filter(|len| *len <= MAX_TRANSFER as u64)
    else {
        return Completion::check(Sense::INVALID_FIELD);
    };
    let mut data = vec![0u8; len as usize];
    match s.read(lba, &mut data).await {
        Ok(()) => Completion::good(data),
        Err(e) => {
            tracing::warn!(lba, blocks, error = %e, "read failed");
            Completion::check(Sense::READ_ERROR)
        }
    }
}

fn inquiry(unit: Option<&LogicalUnit>, cdb: &[u8]) -> Completion {
    let evpd = cdb[1] & 1 != 0;
    let page = cdb[2];
    // Peripheral qualifier 3 / type 0x1f: no unit at this LUN.
    let peripheral = if unit.is_some() { 0x00 } else { 0x7f };
    if !evpd {
        if page != 0 {
            return Completion::check(Sense::INVALID_FIELD);
        }
        let mut d = vec![0u8; 96];
        d[0] = peripheral;
        d[2] = 0x06; // SPC-4
        d[3] = 0x02; // response data format 2
        d[4] = 91; // additional length
        d[7] = 0x02; // CmdQue
        d[8..16].copy_from_slice(b"HA-RS   ");
        d[16..32].copy_from_slice(b"ha-iscsi        ");
        d[32..36].copy_from_slice(
            env!("CARGO_PKG_VERSION")
                .as_bytes()
                .get(..4)
                .unwrap_or(b"0.1 "),
        );
        // Version descriptors: SAM-5, iSCSI, SPC-4, SBC-3.
        for (i, v) in [0x00a0u16, 0x0960, 0x0460, 0x04c0].iter().enumerate() {
            d[58 + 2 * i..60 + 2 * i].copy_from_slice(&v.to_be_bytes());
        }
        return Completion::good(d);
    }
    let Some(unit) = unit else {
        return Completion::check(Sense::INVALID_FIELD);
    };
    let body: Vec<u8> = match page {
        0x00 => vec![0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2],
        0x80 => unit.serial.as_bytes().to_vec(),
        0x83 => {
            let mut d = vec![0x01, 0x03, 0x00, 16]; // binary, NAA, LU-associated
            d.extend_from_slice(&unit.naa);
            d
        }
        0xb0 => {
            // Block Limits: transfers up to what one command may read.
            let mut d = vec![0u8; 0x3c];
            let max_blocks = (MAX_TRANSFER / unit.storage.block_size() as usize) as u32;
            d[4..8].copy_from_slice(&max_blocks.to_be_bytes());
            d[8..12].copy_from_slice(&max_blocks.to_be_bytes());
            d
        }
        0xb1 => {
            // Block Device Characteristics: not rotating.
            let mut d = vec![0u8; 0x3c];
            d[1] = 1;
            d
        }
        // Logical Block Provisioning: nothing advertised until UNMAP and
        // WRITE SAME are served.
        0xb2 => vec![0u8; 4],
        _ => return Completion::check(Sense::INVALID_FIELD),
    };
    let mut d = vec![peripheral, page];
    d.extend_from_slice(&(body.len() as u16).to_be_bytes());
    d.extend_from_slice(&body);
    Completion::good(d)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backstore::MemoryBackstore;

    fn unit() -> LogicalUnit {
        let store = MemoryBackstore::new(512, 2048).unwrap();
        LogicalUnit::new(Arc::new(store), "disk1")
    }

    #[tokio::test]
    async fn capacity_inquiry_and_luns() {
        let u = unit();
        let c = execute(Some(&u), &[0], &[0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0]).await;
        assert_eq!(c.data, [0, 0, 0x07, 0xff, 0, 0, 0x02, 0]);
        let mut cdb16 = [0u8; 16];
        cdb16[0] = 0x9e;
        cdb16[1] = 0x10;
        let c = execute(Some(&u), &[0], &cdb16).await;
        assert_eq!(
            &c.data[..12],
            &[0, 0, 0, 0, 0, 0, 0x07, 0xff, 0, 0, 0x02, 0]
        );
        assert_eq!(c.data[14] & 0x80, 0, "no LBPME until UNMAP is served");
        let c = execute(Some(&u), &[0], &[0x12, 1, 0xb0, 0, 255, 0]).await;
        assert_eq!((c.data[1], c.data[3]), (0xb0, 0x3c));
        assert_eq!(
            &c.data[8..12],
            &65_536u32.to_be_bytes(),
            "32 MiB of 512-byte blocks"
        );
        let c = execute(Some(&u), &[0], &[0x12, 1, 0x00, 0, 255, 0]).await;
        assert_eq!(&c.data[4..], &[0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2]);
        let c = execute(Some(&u), &[0], &[0x12, 0, 0, 0, 36, 0]).await;
        assert_eq!(&c.data[8..16], b"HA-RS   ");
        let c = execute(Some(&u), &[0], &[0x12, 1, 0x83, 0, 255, 0]).await;
        assert_eq!(&c.data[8..24], &u.naa);
        assert_eq!(u.naa, unit().naa, "stable across restarts");
        let c = execute(None, &[0, 1], &[0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]).await;
        assert_eq!(&c.data[..4], &[0, 0, 0, 16]);
        assert_eq!(
            lun_number(u64::from_be_bytes(c.data[16..24].try_into().unwrap())),
            1
        );
        let c = execute(None, &[0], &[0x00, 0, 0, 0, 0, 0]).await;
        assert_eq!(c.sense.map(|s| s.asc), Some(0x25), "no such LUN");
    }

    #[tokio::test]
    async fn reads_and_their_errors() {
        let u = unit();
        u.storage.write(10, &[7u8; 1024], false).await.unwrap();
        let c = execute(Some(&u), &[0], &[0x28, 0, 0, 0, 0, 10, 0, 0, 2, 0]).await;
        assert_eq!((c.status, c.data.len()), (GOOD, 1024));
        assert!(c.data.iter().all(|b| *b == 7));
        let c = execute(Some(&u), &[0], &[0x28, 0, 0, 0, 0x07, 0xff, 0, 0, 2, 0]).await;
        assert_eq!(c.sense, Some(Sense::LBA_OUT_OF_RANGE));
        let c = execute(Some(&u), &[0], &[0xff, 0, 0, 0, 0, 0]).await;
        assert_eq!(c.sense, Some(Sense::INVALID_OPCODE));
        assert_eq!(c.sense.unwrap().fixed()[2], 0x05);
        let c = execute(Some(&u), &[0], &[0x28]).await;
        assert_eq!(c.sense, Some(Sense::INVALID_OPCODE), "a short CDB");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_cdbs_never_panic(cdb in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..20)) {
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let u = unit();
            runtime.block_on(async {
                let _ = execute(Some(&u), &[0], &cdb).await;
                let _ = execute(None, &[0], &cdb).await;
            });
            let _ = write_extent(&cdb);
        }
    }
}
