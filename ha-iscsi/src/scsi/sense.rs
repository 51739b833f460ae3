//! Sense data (SPC-4 4.5): what a CHECK CONDITION says went wrong, in the
//! fixed format (the control mode page's D_SENSE is 0 and not changeable).

use std::fmt;

/// Sense key, additional sense code and qualifier, and the INFORMATION
/// field where the standard wants one (the offset of a miscompare).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sense {
    /// Sense key.
    pub key: u8,
    /// Additional sense code.
    pub asc: u8,
    /// Its qualifier.
    pub ascq: u8,
    /// The INFORMATION field (VALID set when present).
    pub info: Option<u32>,
}

/// NOT READY.
const NOT_READY: u8 = 0x02;
/// MEDIUM ERROR.
const MEDIUM_ERROR: u8 = 0x03;
/// ILLEGAL REQUEST.
const ILLEGAL_REQUEST: u8 = 0x05;
/// UNIT ATTENTION.
const UNIT_ATTENTION: u8 = 0x06;
/// DATA PROTECT.
const DATA_PROTECT: u8 = 0x07;
/// ABORTED COMMAND.
const ABORTED_COMMAND: u8 = 0x0b;
/// MISCOMPARE.
const MISCOMPARE: u8 = 0x0e;

impl Sense {
    /// A sense without INFORMATION.
    pub const fn new(key: u8, asc: u8, ascq: u8) -> Self {
        Self {
            key,
            asc,
            ascq,
            info: None,
        }
    }

    /// ILLEGAL REQUEST, INVALID COMMAND OPERATION CODE.
    pub const INVALID_OPCODE: Sense = Sense::new(ILLEGAL_REQUEST, 0x20, 0x00);
    /// ILLEGAL REQUEST, INVALID FIELD IN CDB.
    pub const INVALID_FIELD: Sense = Sense::new(ILLEGAL_REQUEST, 0x24, 0x00);
    /// ILLEGAL REQUEST, INVALID FIELD IN PARAMETER LIST.
    pub const INVALID_PARAMETER: Sense = Sense::new(ILLEGAL_REQUEST, 0x26, 0x00);
    /// ILLEGAL REQUEST, PARAMETER LIST LENGTH ERROR.
    pub const PARAMETER_LENGTH: Sense = Sense::new(ILLEGAL_REQUEST, 0x1a, 0x00);
    /// ILLEGAL REQUEST, INVALID FIELD IN INFORMATION UNIT: the transfer
    /// the initiator announced does not fit the command.
    pub const INVALID_INFORMATION_UNIT: Sense = Sense::new(ILLEGAL_REQUEST, 0x0e, 0x03);
    /// ILLEGAL REQUEST, LOGICAL BLOCK ADDRESS OUT OF RANGE.
    pub const LBA_OUT_OF_RANGE: Sense = Sense::new(ILLEGAL_REQUEST, 0x21, 0x00);
    /// ILLEGAL REQUEST, LOGICAL UNIT NOT SUPPORTED.
    pub const NO_SUCH_LUN: Sense = Sense::new(ILLEGAL_REQUEST, 0x25, 0x00);
    /// ILLEGAL REQUEST, SAVING PARAMETERS NOT SUPPORTED.
    pub const SAVING_NOT_SUPPORTED: Sense = Sense::new(ILLEGAL_REQUEST, 0x39, 0x00);
    /// ILLEGAL REQUEST, INVALID RELEASE OF PERSISTENT RESERVATION.
    pub const INVALID_RELEASE: Sense = Sense::new(ILLEGAL_REQUEST, 0x26, 0x04);
    /// ILLEGAL REQUEST, MEDIUM REMOVAL PREVENTED.
    pub const REMOVAL_PREVENTED: Sense = Sense::new(ILLEGAL_REQUEST, 0x53, 0x02);
    /// NOT READY, INITIALIZING COMMAND REQUIRED (stopped by START STOP UNIT).
    pub const STOPPED: Sense = Sense::new(NOT_READY, 0x04, 0x02);
    /// NOT READY, LOGICAL UNIT COMMUNICATION FAILURE: the unit could not
    /// save its persistent reservations (LIO's answer to an APTPL file it
    /// could not write).
    pub const COMMUNICATION_FAILURE: Sense = Sense::new(NOT_READY, 0x08, 0x00);
    /// HARDWARE ERROR, INTERNAL TARGET FAILURE.
    pub const INTERNAL_TARGET_FAILURE: Sense = Sense::new(0x04, 0x44, 0x00);
    /// MEDIUM ERROR, WRITE ERROR.
    pub const WRITE_ERROR: Sense = Sense::new(MEDIUM_ERROR, 0x0c, 0x00);
    /// MEDIUM ERROR, UNRECOVERED READ ERROR.
    pub const READ_ERROR: Sense = Sense::new(MEDIUM_ERROR, 0x11, 0x00);
    /// DATA PROTECT, WRITE PROTECTED.
    pub const WRITE_PROTECTED: Sense = Sense::new(DATA_PROTECT, 0x27, 0x00);
    /// ABORTED COMMAND, DATA PHASE ERROR: Data-Out out of sequence.
    pub const DATA_PHASE_ERROR: Sense = Sense::new(ABORTED_COMMAND, 0x4b, 0x00);
    /// ABORTED COMMAND, PROTOCOL SERVICE CRC ERROR: a data digest failed.
    pub const CRC_ERROR: Sense = Sense::new(ABORTED_COMMAND, 0x47, 0x05);
    /// UNIT ATTENTION, POWER ON, RESET, OR BUS DEVICE RESET OCCURRED.
    pub const RESET: Sense = Sense::new(UNIT_ATTENTION, 0x29, 0x00);
    /// UNIT ATTENTION, BUS DEVICE RESET FUNCTION OCCURRED (a LUN reset).
    pub const LUN_RESET: Sense = Sense::new(UNIT_ATTENTION, 0x29, 0x03);
    /// UNIT ATTENTION, I_T NEXUS LOSS OCCURRED.
    pub const NEXUS_LOSS: Sense = Sense::new(UNIT_ATTENTION, 0x29, 0x07);
    /// UNIT ATTENTION, MODE PARAMETERS CHANGED.
    pub const MODE_CHANGED: Sense = Sense::new(UNIT_ATTENTION, 0x2a, 0x01);
    /// UNIT ATTENTION, RESERVATIONS PREEMPTED.
    pub const RESERVATIONS_PREEMPTED: Sense = Sense::new(UNIT_ATTENTION, 0x2a, 0x03);
    /// UNIT ATTENTION, RESERVATIONS RELEASED.
    pub const RESERVATIONS_RELEASED: Sense = Sense::new(UNIT_ATTENTION, 0x2a, 0x04);
    /// UNIT ATTENTION, REGISTRATIONS PREEMPTED.
    pub const REGISTRATIONS_PREEMPTED: Sense = Sense::new(UNIT_ATTENTION, 0x2a, 0x05);

    /// MISCOMPARE, MISCOMPARE DURING VERIFY OPERATION, at byte `offset`.
    pub const fn miscompare(offset: u32) -> Self {
        Self {
            key: MISCOMPARE,
            asc: 0x1d,
            ascq: 0x00,
            info: Some(offset),
        }
    }

    /// The sense key's name (SPC-4 4.5.6): "ILLEGAL REQUEST", "UNIT
    /// ATTENTION"...
    pub fn key_name(&self) -> &'static str {
        match self.key {
            0x00 => "NO SENSE",
            0x01 => "RECOVERED ERROR",
            NOT_READY => "NOT READY",
            MEDIUM_ERROR => "MEDIUM ERROR",
            0x04 => "HARDWARE ERROR",
            ILLEGAL_REQUEST => "ILLEGAL REQUEST",
            UNIT_ATTENTION => "UNIT ATTENTION",
            DATA_PROTECT => "DATA PROTECT",
            0x08 => "BLANK CHECK",
            0x09 => "VENDOR SPECIFIC",
            0x0a => "COPY ABORTED",
            ABORTED_COMMAND => "ABORTED COMMAND",
            0x0d => "VOLUME OVERFLOW",
            MISCOMPARE => "MISCOMPARE",
            0x0f => "COMPLETED",
            _ => "RESERVED",
        }
    }

    /// The name of the additional sense code and qualifier, for the ones
    /// this crate's target reports (the constants above); `None` for
    /// others.
    pub fn code_name(&self) -> Option<&'static str> {
        Some(match (self.asc, self.ascq) {
            (0x04, 0x02) => "INITIALIZING COMMAND REQUIRED",
            (0x0c, 0x00) => "WRITE ERROR",
            (0x0e, 0x03) => "INVALID FIELD IN INFORMATION UNIT",
            (0x11, 0x00) => "UNRECOVERED READ ERROR",
            (0x1a, 0x00) => "PARAMETER LIST LENGTH ERROR",
            (0x1d, 0x00) => "MISCOMPARE DURING VERIFY OPERATION",
            (0x20, 0x00) => "INVALID COMMAND OPERATION CODE",
            (0x21, 0x00) => "LOGICAL BLOCK ADDRESS OUT OF RANGE",
            (0x24, 0x00) => "INVALID FIELD IN CDB",
            (0x25, 0x00) => "LOGICAL UNIT NOT SUPPORTED",
            (0x26, 0x00) => "INVALID FIELD IN PARAMETER LIST",
            (0x26, 0x04) => "INVALID RELEASE OF PERSISTENT RESERVATION",
            (0x27, 0x00) => "WRITE PROTECTED",
            (0x29, 0x00) => "POWER ON, RESET, OR BUS DEVICE RESET OCCURRED",
            (0x29, 0x03) => "BUS DEVICE RESET FUNCTION OCCURRED",
            (0x29, 0x07) => "I_T NEXUS LOSS OCCURRED",
            (0x2a, 0x01) => "MODE PARAMETERS CHANGED",
            (0x2a, 0x03) => "RESERVATIONS PREEMPTED",
            (0x2a, 0x04) => "RESERVATIONS RELEASED",
            (0x2a, 0x05) => "REGISTRATIONS PREEMPTED",
            (0x39, 0x00) => "SAVING PARAMETERS NOT SUPPORTED",
            (0x44, 0x00) => "INTERNAL TARGET FAILURE",
            (0x47, 0x05) => "PROTOCOL SERVICE CRC ERROR",
            (0x4b, 0x00) => "DATA PHASE ERROR",
            (0x53, 0x02) => "MEDIUM REMOVAL PREVENTED",
            _ => return None,
        })
    }

    /// Whether this is a unit attention condition.
    pub fn is_unit_attention(&self) -> bool {
        self.key == UNIT_ATTENTION
    }

    /// Fixed-format sense data (SPC-4 4.5.3), 18 bytes.
    pub fn fixed(&self) -> [u8; 18] {
        let mut s = [0u8; 18];
        s[0] = 0x70;
        s[2] = self.key;
        if let Some(info) = self.info {
            s[0] |= 0x80;
            s[3..7].copy_from_slice(&info.to_be_bytes());
        }
        s[7] = 10;
        s[12] = self.asc;
        s[13] = self.ascq;
        s
    }
}

impl fmt::Display for Sense {
    /// Names and numbers: "ILLEGAL REQUEST/LOGICAL BLOCK ADDRESS OUT OF
    /// RANGE (5/21/00)"; the key's name alone when the code has none here.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key_name())?;
        if let Some(code) = self.code_name() {
            write!(f, "/{code}")?;
        }
        write!(f, " ({:x}/{:02x}/{:02x})", self.key, self.asc, self.ascq)
    }
}

#[cfg(test)]
mod tests {
    use super::Sense;

    #[test]
    fn display_names_key_and_code() {
        assert_eq!(
            Sense::LBA_OUT_OF_RANGE.to_string(),
            "ILLEGAL REQUEST/LOGICAL BLOCK ADDRESS OUT OF RANGE (5/21/00)"
        );
        assert_eq!(
            Sense::WRITE_PROTECTED.to_string(),
            "DATA PROTECT/WRITE PROTECTED (7/27/00)"
        );
        assert_eq!(
            Sense::new(0x03, 0x31, 0x00).to_string(),
            "MEDIUM ERROR (3/31/00)"
        );
    }
}
