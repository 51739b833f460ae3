//! One SCSI command from the initiator, sans IO: the Command PDU with its
//! immediate data and unsolicited Data-Out, Data-Out answering each R2T,
//! Data-In gathered, and the outcome from the status.

use bytes::Bytes;

use crate::negotiation::Params;
use crate::pdu::{Bhs, Opcode, Pdu};
use crate::scsi::Sense;
use crate::{Error, Result};

/// What a command ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// SCSI status (0 GOOD, 2 CHECK CONDITION, 0x18 RESERVATION CONFLICT).
    pub status: u8,
    /// Sense data with CHECK CONDITION (fixed format).
    pub sense: Option<Sense>,
    /// Data-In received.
    pub data: Vec<u8>,
    /// Residual count and whether it is an overflow (else underflow).
    pub residual: Option<(u32, bool)>,
}

/// A command to send.
#[derive(Debug, Clone)]
pub struct Command<'a> {
    /// The LUN field (SAM encoding; see [`lun_field`](super::lun_field)).
    pub lun_field: u64,
    /// The CDB (at most 16 bytes).
    pub cdb: &'a [u8],
    /// Data to write (empty for none).
    pub data_out: Bytes,
    /// The most Data-In to accept (0 for none).
    pub data_in_len: usize,
}

/// A command in flight.
#[derive(Debug)]
pub struct Task {
    itt: u32,
    lun_field: u64,
    data_out: Bytes,
    data_in: Vec<u8>,
    /// The most Data-In the command accepts (its Expected Data Transfer
    /// Length): a target sending past it is refused, not buffered.
    data_in_len: usize,
    /// The most the target receives in one PDU.
    max_send: usize,
    data_digest: bool,
}

/// Splits `data[offset..offset + len]` into Data-Out PDUs of at most
/// `max` bytes, DataSN from 0, F on the last.
fn data_outs(task: &Task, ttt: u32, offset: usize, len: usize) -> Vec<Pdu> {
    let mut pdus = Vec::new();
    let end = (offset + len).min(task.data_out.len());
    let mut at = offset;
    let mut data_sn = 0u32;
    while at < end {
        let piece = task.max_send.min(end - at);
        let mut bhs = Bhs::new(Opcode::DataOut);
        bhs.set_final(at + piece == end);
        bhs.set_lun(task.lun_field);
        bhs.set_itt(task.itt);
        bhs.set_u32_at(20, ttt);
        bhs.set_u32_at(36, data_sn);
        bhs.set_u32_at(40, at as u32);
        let mut pdu = Pdu::new(bhs);
        pdu.data = task.data_out.slice(at..at + piece);
        pdus.push(pdu);
        at += piece;
        data_sn += 1;
    }
    pdus
}

impl Task {
    /// Starts `command` as task `itt`; the PDUs to send now (the command,
    /// then unsolicited Data-Out). `cmd_sn`, `exp_stat_sn`: the session's
    /// numbers.
    pub fn start(
        itt: u32,
        command: Command<'_>,
        params: &Params,
        cmd_sn: u32,
        exp_stat_sn: u32,
    ) -> Result<(Self, Vec<Pdu>)> {
        let Command {
            lun_field,
            cdb,
            data_out,
            data_in_len,
        } = command;
        if cdb.len() > 16 {
            return Err(Error::Protocol("CDBs over 16 bytes need an AHS".into()));
        }
        let task = Self {
            itt,
            lun_field,
            data_out,
            data_in: Vec::new(),
            data_in_len,
            max_send: params.target_max_recv as usize,
            data_digest: params.data_digest,
        };
        let writes = !task.data_out.is_empty();
        let len = task.data_out.len();
        let immediate = if writes && params.immediate_data {
            len.min(params.first_burst as usize).min(task.max_send)
        } else {
            0
        };
        let unsolicited = if writes && !params.initial_r2t {
            len.min(params.first_burst as usize)
        } else {
            immediate
        };
        let mut bhs = Bhs::new(Opcode::ScsiCommand);
        // F when no unsolicited Data-Out follows; W/R; simple task.
        let follows = unsolicited > immediate;
        bhs.0[1] =
            u8::from(!follows) << 7 | u8::from(writes) << 5 | u8::from(data_in_len > 0) << 6 | 0x01;
        bhs.set_lun(lun_field);
        bhs.set_itt(itt);
        bhs.set_u32_at(20, if writes { len } else { data_in_len } as u32);
        bhs.set_u32_at(24, cmd_sn);
        bhs.set_u32_at(28, exp_stat_sn);
        bhs.0[32..32 + cdb.len()].copy_from_slice(cdb);
        let mut command = Pdu::new(bhs);
        command.data = task.data_out.slice(..immediate);
        let mut pdus = vec![command];
        if follows {
            pdus.extend(data_outs(
                &task,
                0xffff_ffff,
                immediate,
                unsolicited - immediate,
            ));
        }
        Ok((task, pdus))
    }

    /// Its Initiator Task Tag.
    pub fn itt(&self) -> u32 {
        self.itt
    }

    /// Whether the data digest was negotiated (the PDUs' encoding needs it).
    pub fn data_digest(&self) -> bool {
        self.data_digest
    }

    /// Takes a PDU for this task: Data-Out to send (for an R2T), or the
    /// outcome once the status is in.
    pub fn handle_pdu(&mut self, pdu: &Pdu) -> Result<(Vec<Pdu>, Option<Outcome>)> {
        let b = &pdu.bhs;
        match b.opcode() {
            Ok(Opcode::R2t) => {
                let (offset, len) = (b.u32_at(40) as usize, b.u32_at(44) as usize);
                if offset
                    .checked_add(len)
                    .is_none_or(|end| end > self.data_out.len())
                {
                    return Err(Error::Protocol(format!(
                        "R2T for {offset}+{len} beyond the data"
                    )));
                }
                Ok((data_outs(self, b.u32_at(20), offset, len), None))
            }
            Ok(Opcode::DataIn) => {
                let offset = b.u32_at(40) as usize;
                let end = offset.saturating_add(pdu.data.len());
                if end > self.data_in_len {
                    return Err(Error::Protocol(format!(
                        "Data-In for {offset}+{} beyond the {} bytes expected",
                        pdu.data.len(),
                        self.data_in_len
                    )));
                }
                if self.data_in.len() < end {
                    self.data_in.resize(end, 0);
                }
                self.data_in[offset..end].copy_from_slice(&pdu.data);
                if b.0[1] & 0x01 == 0 {
                    return Ok((Vec::new(), None));
                }
                Ok((Vec::new(), Some(self.outcome(b.0[3], None, b))))
            }
            Ok(Opcode::ScsiResponse) => {
                if b.0[2] != 0 {
                    return Err(Error::Protocol(format!(
                        "target failure (response {:#04x})",
                        b.0[2]
                    )));
                }
                let sense = (pdu.data.len() >= 2 + 14).then(|| {
                    let s = &pdu.data[2..];
                    let info =
                        (s[0] & 0x80 != 0).then(|| u32::from_be_bytes([s[3], s[4], s[5], s[6]]));
                    Sense {
                        key: s[2] & 0x0f,
                        asc: s[12],
                        ascq: s[13],
                        info,
                    }
                });
                Ok((Vec::new(), Some(self.outcome(b.0[3], sense, b))))
            }
            other => Err(Error::Protocol(format!("{other:?} for a SCSI command"))),
        }
    }

    fn outcome(&mut self, status: u8, sense: Option<Sense>, b: &Bhs) -> Outcome {
        let flags = b.0[1];
        let residual = (flags & 0x06 != 0).then(|| (b.u32_at(44), flags & 0x04 != 0));
        Outcome {
            status,
            sense,
            data: std::mem::take(&mut self.data_in),
            residual,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Params {
        Params {
            initial_r2t: false,
            first_burst: 1024,
            target_max_recv: 512,
            ..Params::default()
        }
    }

    #[test]
    fn a_write_sends_immediate_unsolicited_then_answers_r2ts() {
        let data = Bytes::from((0..4096).map(|i| i as u8).collect::<Vec<u8>>());
        let command = Command {
            lun_field: 0,
            cdb: &[0x2a, 0, 0, 0, 0, 0, 0, 0, 8, 0],
            data_out: data.clone(),
            data_in_len: 0,
        };
        let (mut task, pdus) = Task::start(7, command, &params(), 1, 1).unwrap();
        // Command with 512 immediate bytes, then 512 unsolicited (to 1024).
        assert_eq!(pdus.len(), 2);
        assert_eq!(pdus[0].data.len(), 512);
        assert!(!pdus[0].bhs.is_final(), "unsolicited data follows");
        assert_eq!(
            (pdus[1].bhs.u32_at(40), pdus[1].bhs.u32_at(20)),
            (512, 0xffff_ffff)
        );
        let mut r2t = Bhs::new(Opcode::R2t);
        r2t.set_itt(7);
        r2t.set_u32_at(20, 99);
        r2t.set_u32_at(40, 1024);
        r2t.set_u32_at(44, 3072);
        let (outs, done) = task.handle_pdu(&Pdu::new(r2t.clone())).unwrap();
        assert!(done.is_none());
        assert_eq!(outs.len(), 6);
        assert_eq!(
            outs.iter().map(|p| p.bhs.u32_at(36)).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4, 5]
        );
        assert!(outs[5].bhs.is_final() && !outs[4].bhs.is_final());
        assert_eq!(outs[5].data, data.slice(3584..4096));
        r2t.set_u32_at(44, 8000);
        assert!(task.handle_pdu(&Pdu::new(r2t)).is_err(), "beyond the data");
        let mut response = Bhs::new(Opcode::ScsiResponse);
        response.0[3] = 0;
        let (_, done) = task.handle_pdu(&Pdu::new(response)).unwrap();
        assert_eq!(done.unwrap().status, 0);
    }

    #[test]
    fn data_in_is_gathered_until_the_status() {
        let command = Command {
            lun_field: 0,
            cdb: &[0x28, 0, 0, 0, 0, 0, 0, 0, 2, 0],
            data_out: Bytes::new(),
            data_in_len: 1024,
        };
        let (mut task, pdus) = Task::start(3, command, &params(), 1, 1).unwrap();
        assert_eq!(pdus[0].bhs.0[1] & 0xe0, 0xc0, "F and R");
        // The status comes with the last piece.
        let mut outcome = None;
        for (offset, last) in [(0u32, false), (512, true)] {
            let mut bhs = Bhs::new(Opcode::DataIn);
            bhs.set_u32_at(40, offset);
            if last {
                bhs.0[1] = 0x81;
            }
            let mut pdu = Pdu::new(bhs);
            pdu.data = Bytes::from(vec![offset as u8 + 1; 512]);
            let (_, done) = task.handle_pdu(&pdu).unwrap();
            assert_eq!(done.is_some(), last);
            outcome = done;
        }
        let data = outcome.unwrap().data;
        assert_eq!((data[0], data[511], data[512], data.len()), (1, 1, 1, 1024));
    }

    #[test]
    fn data_in_beyond_the_expected_length_is_refused() {
        // A hostile target must not make the initiator buffer what it
        // chooses: Data-In far past the command's length once grew the
        // buffer to its offset.
        let command = Command {
            lun_field: 0,
            cdb: &[0x28, 0, 0, 0, 0, 0, 0, 0, 2, 0],
            data_out: Bytes::new(),
            data_in_len: 1024,
        };
        let (mut task, _) = Task::start(3, command, &params(), 1, 1).unwrap();
        for (offset, len) in [(1 << 24, 512), (1024, 1), (u32::MAX, 512)] {
            let mut bhs = Bhs::new(Opcode::DataIn);
            bhs.0[1] = 0x81;
            bhs.set_u32_at(40, offset);
            let mut pdu = Pdu::new(bhs);
            pdu.data = Bytes::from(vec![1; len]);
            assert!(task.handle_pdu(&pdu).is_err(), "{offset}+{len}");
        }
    }
}
