//! The commands a logical unit serves: for each, its CDB length, what it
//! does to the medium (for reservations) and its CDB usage data, which
//! REPORT SUPPORTED OPERATION CODES (SPC-4 6.35) returns.

use super::reservation::Access;
use super::sense::Sense;

/// One supported command.
#[derive(Debug)]
pub struct Command {
    /// Operation code.
    pub opcode: u8,
    /// Service action, for opcodes that have them.
    pub service_action: Option<u16>,
    /// What it does, for reservation conflicts.
    pub access: Access,
    /// CDB usage data: the bits of the CDB the target looks at (its
    /// length is the CDB's).
    pub usage: &'static [u8],
}

const fn cmd(opcode: u8, access: Access, usage: &'static [u8]) -> Command {
    Command {
        opcode,
        service_action: None,
        access,
        usage,
    }
}

const fn sa(opcode: u8, action: u16, access: Access, usage: &'static [u8]) -> Command {
    Command {
        opcode,
        service_action: Some(action),
        access,
        usage,
    }
}

use Access::{Always, Read, Write};

/// Every command served, in opcode order.
pub const COMMANDS: &[Command] = &[
    cmd(0x00, Always, &[0x00, 0, 0, 0, 0, 0]),
    cmd(0x03, Always, &[0x03, 0x01, 0, 0, 0xff, 0]),
    cmd(0x08, Read, &[0x08, 0x1f, 0xff, 0xff, 0xff, 0]),
    cmd(0x0a, Write, &[0x0a, 0x1f, 0xff, 0xff, 0xff, 0]),
    cmd(0x12, Always, &[0x12, 0x01, 0xff, 0xff, 0xff, 0]),
    cmd(0x15, Write, &[0x15, 0x11, 0, 0, 0xff, 0]),
    cmd(0x16, Write, &[0x16, 0, 0, 0, 0, 0]),
    cmd(0x17, Write, &[0x17, 0, 0, 0, 0, 0]),
    cmd(0x1a, Read, &[0x1a, 0x08, 0xff, 0xff, 0xff, 0]),
    cmd(0x1b, Write, &[0x1b, 0x01, 0, 0, 0xf3, 0]),
    cmd(0x1e, Always, &[0x1e, 0, 0, 0, 0x03, 0]),
    cmd(
        0x25,
        Always,
        &[0x25, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0x01, 0],
    ),
    cmd(
        0x28,
        Read,
        &[0x28, 0xfa, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0],
    ),
    cmd(
        0x2a,
        Write,
        &[0x2a, 0xfa, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0],
    ),
    cmd(
        0x2e,
        Write,
        &[0x2e, 0xf2, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0],
    ),
    cmd(
        0x2f,
        Read,
        &[0x2f, 0xf6, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0],
    ),
    cmd(
        0x34,
        Read,
        &[0x34, 0x02, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0],
    ),
    cmd(
        0x35,
        Write,
        &[0x35, 0x02, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0],
    ),
    cmd(
        0x41,
        Write,
        &[0x41, 0xf8, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0],
    ),
    cmd(0x42, Write, &[0x42, 0, 0, 0, 0, 0, 0x1f, 0xff, 0xff, 0]),
    cmd(0x55, Write, &[0x55, 0x11, 0, 0, 0, 0, 0, 0xff, 0xff, 0]),
    cmd(
        0x5a,
        Read,
        &[0x5a, 0x18, 0xff, 0xff, 0, 0, 0, 0xff, 0xff, 0],
    ),
    sa(
        0x5e,
        0x00,
        Always,
        &[0x5e, 0x1f, 0, 0, 0, 0, 0, 0xff, 0xff, 0],
    ),
    sa(
        0x5e,
        0x01,
        Always,
        &[0x5e, 0x1f, 0, 0, 0, 0, 0, 0xff, 0xff, 0],
    ),
    sa(
        0x5e,
        0x02,
        Always,
        &[0x5e, 0x1f, 0, 0, 0, 0, 0, 0xff, 0xff, 0],
    ),
    sa(
        0x5e,
        0x03,
        Always,
        &[0x5e, 0x1f, 0, 0, 0, 0, 0, 0xff, 0xff, 0],
    ),
    sa(
        0x5f,
        0x00,
        Always,
        &[0x5f, 0x1f, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0],
    ),
    sa(
        0x5f,
        0x01,
        Always,
        &[0x5f, 0x1f, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0],
    ),
    sa(
        0x5f,
        0x02,
        Always,
        &[0x5f, 0x1f, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0],
    ),
    sa(
        0x5f,
        0x03,
        Always,
        &[0x5f, 0x1f, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0],
    ),
    sa(
        0x5f,
        0x04,
        Always,
        &[0x5f, 0x1f, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0],
    ),
    sa(
        0x5f,
        0x05,
        Always,
        &[0x5f, 0x1f, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0],
    ),
    sa(
        0x5f,
        0x06,
        Always,
        &[0x5f, 0x1f, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0],
    ),
    sa(
        0x5f,
        0x07,
        Always,
        &[0x5f, 0x1f, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0],
    ),
    cmd(
        0x88,
        Read,
        &[
            0x88, 0xfa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0x1f, 0,
        ],
    ),
    cmd(
        0x89,
        Write,
        &[
            0x89, 0xfa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0xff, 0x1f, 0,
        ],
    ),
    cmd(
        0x8a,
        Write,
        &[
            0x8a, 0xfa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0x1f, 0,
        ],
    ),
    cmd(
        0x8b,
        Write,
        &[
            0x8b, 0xfa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0x1f, 0,
        ],
    ),
    cmd(
        0x8e,
        Write,
        &[
            0x8e, 0xf2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0x1f, 0,
        ],
    ),
    cmd(
        0x8f,
        Read,
        &[
            0x8f, 0xf6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0x1f, 0,
        ],
    ),
    cmd(
        0x90,
        Read,
        &[
            0x90, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0x1f, 0,
        ],
    ),
    cmd(
        0x91,
        Write,
        &[
            0x91, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0x1f, 0,
        ],
    ),
    cmd(
        0x93,
        Write,
        &[
            0x93, 0xf9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0x1f, 0,
        ],
    ),
    sa(
        0x9e,
        0x10,
        Always,
        &[
            0x9e, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0,
        ],
    ),
    sa(
        0x9e,
        0x12,
        Read,
        &[
            0x9e, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0,
            0,
        ],
    ),
    cmd(
        0xa0,
        Always,
        &[0xa0, 0, 0xff, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0],
    ),
    sa(
        0xa3,
        0x0c,
        Always,
        &[
            0xa3, 0x1f, 0x87, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0,
        ],
    ),
    cmd(
        0xa8,
        Read,
        &[
            0xa8, 0xfa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0,
        ],
    ),
    cmd(
        0xaa,
        Write,
        &[
            0xaa, 0xfa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0,
        ],
    ),
    cmd(
        0xae,
        Write,
        &[
            0xae, 0xf2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0,
        ],
    ),
    cmd(
        0xaf,
        Read,
        &[
            0xaf, 0xf6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0,
        ],
    ),
];

/// Opcodes whose commands are told apart by a service action (in the low
/// five bits of byte 1).
fn has_service_actions(opcode: u8) -> bool {
    COMMANDS
        .iter()
        .any(|c| c.opcode == opcode && c.service_action.is_some())
}

/// The command `cdb` asks for, if served. `unmap`: the unit is thin
/// (UNMAP is served only then). An unknown opcode is INVALID COMMAND
/// OPERATION CODE; an unknown service action of a known one, INVALID FIELD
/// IN CDB.
pub fn lookup(cdb: &[u8], unmap: bool) -> Result<&'static Command, Sense> {
    let opcode = *cdb.first().ok_or(Sense::INVALID_OPCODE)?;
    if opcode == 0x42 && !unmap {
        return Err(Sense::INVALID_OPCODE);
    }
    let action = u16::from(cdb.get(1).copied().unwrap_or(0) & 0x1f);
    let mut known = false;
    for c in COMMANDS
        .iter()
        .filter(|c| c.opcode == opcode && cdb.len() >= c.usage.len())
    {
        known = true;
        if c.service_action.is_none_or(|a| a == action) {
            return Ok(c);
        }
    }
    Err(if known {
        Sense::INVALID_FIELD
    } else {
        Sense::INVALID_OPCODE
    })
}

/// The ALLOCATION LENGTH of a command that has one: the most Data-In the
/// initiator takes (SPC-4 4.2.5.6).
pub fn allocation_length(cdb: &[u8]) -> Option<usize> {
    let field = |from: usize, to: usize| {
        cdb.get(from..to)
            .map(|b| b.iter().fold(0usize, |n, x| n << 8 | usize::from(*x)))
    };
    match *cdb.first()? {
        0x03 | 0x1a => field(4, 5),
        0x12 => field(3, 5),
        0x5a | 0x5e => field(7, 9),
        0xa0 | 0xa3 => field(6, 10),
        0x9e => field(10, 14),
        _ => None,
    }
}

/// REPORT SUPPORTED OPERATION CODES.
pub fn report(cdb: &[u8], unmap: bool) -> Result<Vec<u8>, Sense> {
    let rctd = cdb[2] & 0x80 != 0;
    let options = cdb[2] & 0x07;
    let opcode = cdb[3];
    let action = u16::from_be_bytes([cdb[4], cdb[5]]);
    let served = |c: &&Command| unmap || c.opcode != 0x42;
    // Command timeouts descriptor: none recommended.
    let timeouts = [0u8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    match options {
        0 => {
            let mut body = Vec::new();
            for c in COMMANDS.iter().filter(served) {
                body.push(c.opcode);
                body.push(0);
                body.extend_from_slice(&c.service_action.unwrap_or(0).to_be_bytes());
                body.push(0);
                body.push(u8::from(rctd) << 1 | u8::from(c.service_action.is_some()));
                body.extend_from_slice(&(c.usage.len() as u16).to_be_bytes());
                if rctd {
                    body.extend_from_slice(&timeouts);
                }
            }
            let mut d = (body.len() as u32).to_be_bytes().to_vec();
            d.extend_from_slice(&body);
            Ok(d)
        }
        1..=3 => {
            let with_actions = has_service_actions(opcode);
            match options {
                1 if with_actions => return Err(Sense::INVALID_FIELD),
                2 if !with_actions => return Err(Sense::INVALID_FIELD),
                _ => {}
            }
            let found = COMMANDS
                .iter()
                .filter(served)
                .find(|c| c.opcode == opcode && c.service_action.is_none_or(|a| a == action));
            let mut d = vec![0, u8::from(rctd) << 7];
            match found {
                Some(c) => {
                    d[1] |= 0x03;
                    d.extend_from_slice(&(c.usage.len() as u16).to_be_bytes());
                    d.extend_from_slice(c.usage);
                }
                None => {
                    d[1] |= 0x01;
                    d.extend_from_slice(&[0, 0]);
                }
            }
            if rctd {
                d.extend_from_slice(&timeouts);
            }
            Ok(d)
        }
        _ => Err(Sense::INVALID_FIELD),
    }
}
