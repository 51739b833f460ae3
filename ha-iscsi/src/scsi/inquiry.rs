//! INQUIRY (SPC-4 6.6): standard data and the vital product data pages
//! initiators look for: 00 (the list), 80 (serial), 83 (a stable NAA
//! identifier, which multipath and ESXi key on), 86 (extended data), B0
//! (block limits), B1 (characteristics) and B2 (thin provisioning).

use super::sense::Sense;
use super::unit::LogicalUnit;
use super::{MAX_COMPARE_AND_WRITE, MAX_TRANSFER, MAX_UNMAP_DESCRIPTORS};

/// INQUIRY for `unit` (`None`: no unit at this LUN).
pub fn inquiry(unit: Option<&LogicalUnit>, cdb: &[u8]) -> Result<Vec<u8>, Sense> {
    let evpd = cdb[1] & 1 != 0;
    let page = cdb[2];
    // Peripheral qualifier 3 / type 0x1f: no unit at this LUN.
    let peripheral = if unit.is_some() { 0x00 } else { 0x7f };
    if !evpd {
        if page != 0 {
            return Err(Sense::INVALID_FIELD);
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
        return Ok(d);
    }
    let Some(unit) = unit else {
        return Err(Sense::INVALID_FIELD);
    };
    let thin = unit.storage.thin();
    let body: Vec<u8> = match page {
        0x00 => vec![0x00, 0x80, 0x83, 0x86, 0xb0, 0xb1, 0xb2],
        0x80 => unit.serial.as_bytes().to_vec(),
        0x83 => {
            let mut d = vec![0x01, 0x03, 0x00, 16]; // binary, NAA, LU-associated
            d.extend_from_slice(&unit.naa);
            d
        }
        0x86 => {
            // Extended INQUIRY: simple and ordered tasks; a volatile cache
            // (SYNCHRONIZE CACHE matters).
            let mut d = vec![0u8; 0x3c];
            d[1] = 0x03;
            d[2] = 0x01;
            d
        }
        0xb0 => {
            let mut d = vec![0u8; 0x3c];
            let block_size = unit.storage.block_size() as usize;
            let max_blocks = (MAX_TRANSFER / block_size) as u32;
            d[1] = MAX_COMPARE_AND_WRITE;
            d[4..8].copy_from_slice(&max_blocks.to_be_bytes());
            d[8..12].copy_from_slice(&max_blocks.to_be_bytes());
            if thin {
                // Unmap: any count in up to this many descriptors, one
                // block granularity.
                d[16..20].copy_from_slice(&u32::MAX.to_be_bytes());
                d[20..24].copy_from_slice(&MAX_UNMAP_DESCRIPTORS.to_be_bytes());
                d[24..28].copy_from_slice(&1u32.to_be_bytes());
            }
            d
        }
        0xb1 => {
            // Block Device Characteristics: not rotating.
            let mut d = vec![0u8; 0x3c];
            d[1] = 1;
            d
        }
        0xb2 => {
            if thin {
                // LBPU, LBPWS, LBPWS10, LBPRZ; provisioning type thin.
                vec![0, 0x80 | 0x40 | 0x20 | 0x04, 0x02, 0]
            } else {
                vec![0; 4]
            }
        }
        _ => return Err(Sense::INVALID_FIELD),
    };
    let mut d = vec![peripheral, page];
    d.extend_from_slice(&(body.len() as u16).to_be_bytes());
    d.extend_from_slice(&body);
    Ok(d)
}
