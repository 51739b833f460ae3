//! SCSI commands in the full feature phase: a write's data collected
//! (immediate, unsolicited, solicited by R2Ts), the command run through the
//! emulation with its storage operation handed to the driver, and its
//! Data-In and status sent with residuals.

use bytes::Bytes;

use super::transfer::{OutOfSequence, Transfer};
use super::window::COMMAND_WINDOW;
use super::{
    Command, Executing, Flight, GATE_RETRY, IoRequest, NO_TAG, REJECT_PROTOCOL, Session, Task,
};
use crate::pdu::{Bhs, Opcode, Pdu};
use crate::scsi::unit::Hold;
use crate::scsi::{self, Completion, Request, Sense, Step};

impl Session {
    /// The index of the unit a LUN field names, if this session sees it.
    pub(super) fn unit_index(&self, lun_field: u64) -> Option<usize> {
        let lun = scsi::lun_number(lun_field);
        self.units().iter().position(|(n, _)| *n == lun)
    }

    /// Starts a SCSI command: runs it if all its data is here, otherwise
    /// keeps it and asks for the rest.
    pub(super) fn scsi_command(&mut self, pdu: &Pdu) {
        let b = &pdu.bhs;
        let Some(phase) = &self.phase else { return };
        if self.target().is_none() {
            // A discovery session has no LUNs.
            return self.reject_header(&pdu.bhs, REJECT_PROTOCOL);
        }
        let params = &phase.outcome.params;
        let (initial_r2t, first_burst) = (params.initial_r2t, params.first_burst as usize);
        let expected = b.u32_at(20) as usize;
        let writes = b.0[1] & 0x20 != 0;
        let mut cdb = [0u8; 16];
        cdb.copy_from_slice(&b.0[32..48]);
        let command = Command {
            itt: b.itt(),
            lun_field: b.lun(),
            cdb,
            expected,
            reads: b.0[1] & 0x40 != 0,
            unit: self.unit_index(b.lun()),
            held: 0,
        };
        if !writes || expected == 0 {
            // A read holds its Data-In until it is sent.
            if command.reads && expected > 0 && !self.admit(&command) {
                return;
            }
            return self.execute(command, Bytes::new());
        }
        // A command that cannot run is answered at once, without asking
        // for its data (what comes unsolicited is dropped).
        let unit = command.unit.map(|i| &phase.visible[i].1);
        let refused = scsi::precheck(unit, &phase.nexus, &command.cdb).or_else(|| {
            (expected > scsi::MAX_TRANSFER * 2 + 4096)
                .then(|| Completion::check(Sense::INVALID_FIELD))
        });
        if let Some(completion) = refused {
            return self.respond(command.itt, &completion, 0, 0);
        }
        if !self.admit(&command) {
            return;
        }
        if pdu.data.len() >= expected {
            // Everything came as immediate data.
            return self.execute(command, pdu.data.slice(..expected));
        }
        // Immediate commands skip the CmdSN window, so the window alone
        // does not bound the writes waiting for data: at most a window's
        // worth, the rest answered TASK SET FULL (SAM-5 5.3.1) for the
        // initiator to retry.
        if self.tasks.len() >= COMMAND_WINDOW as usize {
            if !self.task_set_full_logged {
                self.task_set_full_logged = true;
                tracing::warn!(
                    tasks = self.tasks.len(),
                    "writes waiting for data at the limit: answering TASK SET FULL"
                );
            }
            return self.respond(command.itt, &task_set_full(), 0, 0);
        }
        let transfer = Transfer::new(expected, &pdu.data, initial_r2t, first_burst);
        let heard = self.now;
        self.tasks.insert(
            command.itt,
            Task {
                command,
                transfer,
                heard,
            },
        );
        self.request_data(command.itt);
    }

    /// Whether the bytes `command` will hold (its Expected Data Transfer
    /// Length: its data, or its Data-In) fit under the options'
    /// `max_buffered`; if not it is answered: TASK SET FULL, or CHECK
    /// CONDITION (INVALID FIELD IN CDB) for one that never could fit.
    fn admit(&mut self, command: &Command) -> bool {
        match self.room_for(command.expected) {
            Ok(()) => true,
            Err(never) => {
                let refused = if never {
                    Completion::check(Sense::INVALID_FIELD)
                } else {
                    task_set_full()
                };
                self.respond(command.itt, &refused, 0, 0);
                false
            }
        }
    }

    /// Sends R2Ts for write `itt` while it needs data and fewer than
    /// MaxOutstandingR2T are in flight.
    fn request_data(&mut self, itt: u32) {
        let Some(phase) = &self.phase else { return };
        let max_burst = phase.outcome.params.max_burst as usize;
        let max_outstanding = phase.outcome.params.max_outstanding_r2t.max(1) as usize;
        loop {
            let ttt = self.next_ttt;
            let Some(task) = self.tasks.get_mut(&itt) else {
                return;
            };
            let Some(r2t) = task.transfer.next_r2t(ttt, max_burst, max_outstanding) else {
                return;
            };
            let lun_field = task.command.lun_field;
            self.take_ttt();
            let mut r = Bhs::new(Opcode::R2t);
            r.set_final(true);
            r.set_lun(lun_field);
            r.set_itt(itt);
            r.set_u32_at(20, r2t.ttt);
            r.set_u32_at(36, r2t.r2t_sn);
            r.set_u32_at(40, r2t.offset as u32);
            r.set_u32_at(44, r2t.len as u32);
            self.current_stat_sn(&mut r);
            self.send(Pdu::new(r));
        }
    }

    /// Takes a Data-Out; runs the command once all its data is in. A
    /// DataSN out of sequence or data outside the transfer ends the command
    /// without running it (nothing is written); its later Data-Out is
    /// dropped and the connection goes on.
    pub(super) fn data_out(&mut self, pdu: &Pdu) {
        let b = &pdu.bhs;
        let itt = b.itt();
        let Some(task) = self.tasks.get_mut(&itt) else {
            // For a command already answered (refused, aborted): dropped.
            return;
        };
        task.heard = self.now;
        let (ttt, data_sn, offset) = (b.u32_at(20), b.u32_at(36), b.u32_at(40) as usize);
        if let Err(OutOfSequence) =
            task.transfer
                .accept(ttt, data_sn, offset, &pdu.data, b.is_final())
        {
            tracing::warn!(
                itt,
                data_sn,
                offset,
                "Data-Out out of sequence or range: command aborted"
            );
            return self.fail_task(itt, Sense::DATA_PHASE_ERROR);
        }
        if !task.transfer.complete() {
            return self.request_data(itt);
        }
        if let Some(task) = self.tasks.remove(&itt) {
            self.execute(task.command, Bytes::from(task.transfer.into_data()));
        }
    }

    /// Ends a command still collecting data with CHECK CONDITION.
    pub(super) fn fail_task(&mut self, itt: u32, sense: Sense) {
        if self.tasks.remove(&itt).is_some() {
            self.respond(itt, &Completion::check(sense), 0, 0);
        }
    }

    /// Runs a command whose data is all in.
    fn execute(&mut self, mut command: Command, data: Bytes) {
        command.held = if command.reads {
            command.expected
        } else {
            data.len()
        };
        let Some(phase) = &self.phase else { return };
        let unit = command.unit.map(|i| &phase.visible[i].1);
        let block_size = unit.map_or(512, |u| u.storage.block_size());
        let wanted =
            usize::try_from(scsi::data_out_length(&command.cdb, block_size)).unwrap_or(usize::MAX);
        let announced = if data.is_empty() { 0 } else { command.expected };
        let request = Request {
            nexus: &phase.nexus,
            cdb: &command.cdb,
            data: data.slice(..data.len().min(wanted)),
            announced,
        };
        let step = scsi::start(unit, &phase.numbers, request);
        self.advance(command, wanted, step);
    }

    /// Sends a command's answer, or its storage operation.
    pub(super) fn advance(&mut self, command: Command, wanted: usize, step: Step) {
        match (step, command.unit) {
            (Step::Done(completion), _) => self.complete(&command, wanted, completion),
            (Step::Io(op, pending), Some(_)) => self.begin_io(Executing {
                command,
                wanted,
                pending,
                flight: Flight::Held {
                    op,
                    waiting: false,
                    retry: self.now,
                },
            }),
            // Only a unit asks for storage.
            (Step::Io(..), None) => {
                self.complete(&command, wanted, Completion::check(Sense::NO_SUCH_LUN));
            }
        }
    }

    /// Hands a command's storage operation to the driver if the unit's gate
    /// lets it start; otherwise it waits for [`GATE_RETRY`].
    pub(super) fn begin_io(&mut self, mut executing: Executing) {
        let Flight::Held { op, waiting, .. } = executing.flight else {
            self.executing = Some(executing);
            return;
        };
        let Some(unit) = executing.command.unit else {
            let wanted = executing.wanted;
            return self.complete(
                &executing.command,
                wanted,
                Completion::check(Sense::NO_SUCH_LUN),
            );
        };
        let mut waiting = waiting;
        // Reads need no turn: the unit's state is not locked for them.
        let hold = if op.writes() || op.exclusive() {
            self.units()
                .get(unit)
                .and_then(|(_, u)| u.lock().gate.try_begin(&op, &mut waiting))
        } else {
            Some(Hold::Free)
        };
        executing.flight = match hold {
            Some(hold) => {
                let tag = self.next_tag;
                self.next_tag = self.next_tag.wrapping_add(1);
                self.io.push_back(IoRequest { tag, unit, op });
                Flight::Out { tag, hold }
            }
            None => Flight::Held {
                op,
                waiting,
                retry: self.now + GATE_RETRY,
            },
        };
        self.executing = Some(executing);
    }

    /// Sends a command's Data-In and status, with residuals: against the
    /// Data-Out the command takes for a write, against the Data-In it
    /// produced otherwise.
    fn complete(&mut self, command: &Command, wanted: usize, mut completion: Completion) {
        let (flags, residual) = if wanted > 0 {
            residual(command.expected, wanted)
        } else if command.reads {
            residual(command.expected, completion.data.len())
        } else {
            completion.data.clear();
            residual(command.expected, 0)
        };
        let mut data = std::mem::take(&mut completion.data);
        data.truncate(command.expected);
        if completion.status == scsi::GOOD && !data.is_empty() {
            let data = Bytes::from(data);
            return self.send_data_in(command, data, flags, residual);
        }
        self.respond(command.itt, &completion, flags, residual);
    }

    /// Data-In PDUs of at most MaxRecvDataSegmentLength, F at the end of
    /// each MaxBurstLength, GOOD status in the last one.
    fn send_data_in(&mut self, command: &Command, data: Bytes, flags: u8, residual: usize) {
        let Some(phase) = &self.phase else { return };
        let max = (phase.outcome.params.initiator_max_recv as usize).max(512);
        let burst = (phase.outcome.params.max_burst as usize).max(max);
        let mut offset = 0;
        let mut data_sn = 0u32;
        while offset < data.len() {
            // A PDU never crosses a burst boundary.
            let burst_end = (offset / burst + 1) * burst;
            let end = (offset + max).min(burst_end).min(data.len());
            let last = end == data.len();
            let mut r = Bhs::new(Opcode::DataIn);
            r.set_lun(command.lun_field);
            r.set_itt(command.itt);
            r.set_u32_at(20, NO_TAG);
            r.set_u32_at(36, data_sn);
            r.set_u32_at(40, offset as u32);
            if last {
                // Status with the last Data-In (phase collapse).
                r.0[1] = 0x80 | flags | 0x01;
                r.0[3] = scsi::GOOD;
                r.set_u32_at(44, residual as u32);
                self.numbers(&mut r);
            } else {
                r.set_final(end == burst_end);
                self.window(&mut r);
            }
            let mut piece = Pdu::new(r);
            piece.data = data.slice(offset..end);
            self.send(piece);
            offset = end;
            data_sn += 1;
        }
    }

    /// Sends a SCSI Response: status, residual flags, sense data.
    fn respond(&mut self, itt: u32, completion: &Completion, flags: u8, residual: usize) {
        let mut r = Bhs::new(Opcode::ScsiResponse);
        r.0[1] = 0x80 | flags;
        r.0[3] = completion.status;
        r.set_itt(itt);
        r.set_u32_at(44, residual as u32);
        self.numbers(&mut r);
        let mut response = Pdu::new(r);
        if let Some(sense) = completion.sense {
            let mut d = 18u16.to_be_bytes().to_vec();
            d.extend_from_slice(&sense.fixed());
            response.data = Bytes::from(d);
        }
        self.send(response);
    }
}

/// TASK SET FULL: the initiator retries later (SAM-5 5.3.1).
fn task_set_full() -> Completion {
    Completion {
        status: scsi::TASK_SET_FULL,
        data: Vec::new(),
        sense: None,
    }
}

/// Residual flags (O 0x04, U 0x02) and count for `expected` bytes
/// announced by the initiator against `actual` bytes of the command.
fn residual(expected: usize, actual: usize) -> (u8, usize) {
    match expected.cmp(&actual) {
        std::cmp::Ordering::Less => (0x04, actual - expected),
        std::cmp::Ordering::Greater => (0x02, expected - actual),
        std::cmp::Ordering::Equal => (0, 0),
    }
}
