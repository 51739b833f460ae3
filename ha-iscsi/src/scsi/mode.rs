//! MODE SENSE and MODE SELECT (6 and 10; SPC-4 6.11-6.14, SBC-3 6.5): the
//! caching page (WCE, changeable), the control page and the informational
//! exceptions page, with a block descriptor unless DBD.
//!
//! Saved pages are not kept (PC 3 and SP answer SAVING PARAMETERS NOT
//! SUPPORTED); only WCE may change. Turning the write cache off makes
//! every later write a forced unit access.

use super::sense::Sense;
use super::unit::LogicalUnit;

/// Page codes served.
const CACHING: u8 = 0x08;
const CONTROL: u8 = 0x0a;
const INFORMATIONAL_EXCEPTIONS: u8 = 0x1c;
const ALL_PAGES: u8 = 0x3f;

/// Which values MODE SENSE reports (the PC field).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Values {
    Current,
    Changeable,
    Default,
}

fn page(code: u8, values: Values, wce: bool) -> Vec<u8> {
    match code {
        CACHING => {
            let mut p = vec![0u8; 20];
            p[0] = CACHING;
            p[1] = 18;
            p[2] = match values {
                Values::Current => u8::from(wce) << 2,
                Values::Changeable => 0x04,
                Values::Default => 0x04,
            };
            p
        }
        CONTROL => {
            let mut p = vec![0u8; 12];
            p[0] = CONTROL;
            p[1] = 10;
            if values != Values::Changeable {
                // Unrestricted reordering; busy timeout unlimited.
                p[3] = 0x10;
                p[8..10].copy_from_slice(&0xffffu16.to_be_bytes());
            }
            p
        }
        _ => {
            let mut p = vec![0u8; 12];
            p[0] = INFORMATIONAL_EXCEPTIONS;
            p[1] = 10;
            if values != Values::Changeable {
                // DEXCPT: no failure prediction to report.
                p[2] = 0x08;
            }
            p
        }
    }
}

/// MODE SENSE (6) when `ten` is false, else MODE SENSE (10).
pub fn sense(unit: &LogicalUnit, cdb: &[u8], ten: bool) -> Result<Vec<u8>, Sense> {
    let dbd = cdb[1] & 0x08 != 0;
    let long_lba = ten && cdb[1] & 0x10 != 0;
    let values = match cdb[2] >> 6 {
        0 => Values::Current,
        1 => Values::Changeable,
        2 => Values::Default,
        _ => return Err(Sense::SAVING_NOT_SUPPORTED),
    };
    let code = cdb[2] & 0x3f;
    let subpage = cdb[3];
    let wce = unit.lock().wce;
    let codes: Vec<u8> = match (code, subpage) {
        (ALL_PAGES, 0x00 | 0xff) => vec![CACHING, CONTROL, INFORMATIONAL_EXCEPTIONS],
        (CACHING | CONTROL | INFORMATIONAL_EXCEPTIONS, 0x00) => vec![code],
        _ => return Err(Sense::INVALID_FIELD),
    };
    let pages: Vec<u8> = codes
        .into_iter()
        .flat_map(|c| page(c, values, wce))
        .collect();
    let storage = &unit.storage;
    let descriptor: Vec<u8> = if dbd {
        Vec::new()
    } else if long_lba {
        let mut d = storage.block_count().to_be_bytes().to_vec();
        d.extend_from_slice(&[0; 4]);
        d.extend_from_slice(&storage.block_size().to_be_bytes());
        d
    } else {
        let blocks = u32::try_from(storage.block_count()).unwrap_or(u32::MAX);
        let mut d = blocks.to_be_bytes().to_vec();
        d.extend_from_slice(&storage.block_size().to_be_bytes());
        d[4] = 0;
        d
    };
    // Device-specific parameter: WP, and DPOFUA (FUA is honoured).
    let device = u8::from(unit.read_only) << 7 | 0x10;
    let mut d = if ten {
        let mut h = vec![0u8; 8];
        h[3] = device;
        h[4] = u8::from(long_lba && !dbd);
        h[6..8].copy_from_slice(&(descriptor.len() as u16).to_be_bytes());
        h
    } else {
        vec![0, 0, device, descriptor.len() as u8]
    };
    d.extend_from_slice(&descriptor);
    d.extend_from_slice(&pages);
    if ten {
        let len = (d.len() - 2) as u16;
        d[0..2].copy_from_slice(&len.to_be_bytes());
    } else {
        d[0] = (d.len() - 1) as u8;
    }
    Ok(d)
}

/// MODE SELECT (6) or (10) with its parameter list: `Ok(true)` if a
/// parameter changed (other nexuses get a unit attention).
pub fn select(unit: &LogicalUnit, cdb: &[u8], ten: bool, data: &[u8]) -> Result<bool, Sense> {
    if cdb[1] & 0x01 != 0 {
        return Err(Sense::SAVING_NOT_SUPPORTED);
    }
    let header = if ten { 8 } else { 4 };
    if data.is_empty() {
        return Ok(false);
    }
    if data.len() < header {
        return Err(Sense::PARAMETER_LENGTH);
    }
    let descriptors = if ten {
        u16::from_be_bytes([data[6], data[7]]) as usize
    } else {
        data[3] as usize
    };
    let mut at = header + descriptors;
    if at > data.len() {
        return Err(Sense::PARAMETER_LENGTH);
    }
    // A block descriptor may only restate the block length.
    if descriptors >= 8 {
        let d = &data[header..header + descriptors];
        let length = if descriptors >= 16 {
            u32::from_be_bytes([d[12], d[13], d[14], d[15]])
        } else {
            u32::from_be_bytes([0, d[5], d[6], d[7]])
        };
        if length != 0 && length != unit.storage.block_size() {
            return Err(Sense::INVALID_PARAMETER);
        }
    }
    let mut wce = None;
    while at < data.len() {
        if data.len() - at < 2 {
            return Err(Sense::PARAMETER_LENGTH);
        }
        let code = data[at] & 0x3f;
        if data[at] & 0x40 != 0 {
            // No subpages here.
            return Err(Sense::INVALID_PARAMETER);
        }
        let len = data[at + 1] as usize + 2;
        let Some(given) = data.get(at..at + len) else {
            return Err(Sense::PARAMETER_LENGTH);
        };
        if !matches!(code, CACHING | CONTROL | INFORMATIONAL_EXCEPTIONS) {
            return Err(Sense::INVALID_PARAMETER);
        }
        let current = page(code, Values::Current, unit.lock().wce);
        let changeable = page(code, Values::Changeable, false);
        if given.len() != current.len() {
            return Err(Sense::INVALID_PARAMETER);
        }
        // Bytes after the header: only changeable bits may differ (PS, bit
        // 7 of the first byte, is reserved in MODE SELECT).
        for i in 2..len {
            if (given[i] ^ current[i]) & !changeable[i] != 0 {
                return Err(Sense::INVALID_PARAMETER);
            }
        }
        if code == CACHING {
            wce = Some(given[2] & 0x04 != 0);
        }
        at += len;
    }
    let mut state = unit.lock();
    match wce {
        Some(wce) if wce != state.wce => {
            state.wce = wce;
            Ok(true)
        }
        _ => Ok(false),
    }
}
