//! Task management (RFC 7143 11.5): abort task, abort and clear task set,
//! LUN reset, target warm and cold reset. Commands run one at a time in
//! CmdSN order, so a task still open is one waiting for data or for its
//! CmdSN.

use crate::pdu::{Bhs, Opcode, Pdu};
use crate::scsi::Sense;

use super::{CloseReason, Event, Session};

/// Task management responses (RFC 7143 11.6.1).
const TMF_COMPLETE: u8 = 0;
const TMF_NO_TASK: u8 = 1;
const TMF_NO_LUN: u8 = 2;
const TMF_NO_REASSIGN: u8 = 4;
const TMF_NOT_SUPPORTED: u8 = 5;

impl Session {
    pub(super) fn task_management(&mut self, pdu: &Pdu) {
        let b = &pdu.bhs;
        let function = b.0[1] & 0x7f;
        let unit = self.unit_index(b.lun());
        let mut cold_reset = false;
        let response = match function {
            // ABORT TASK.
            1 => {
                let referenced = b.u32_at(20);
                let queued = self
                    .phase
                    .as_ref()
                    .is_some_and(|p| p.window.holds(referenced));
                if self.tasks.remove(&referenced).is_some() {
                    TMF_COMPLETE
                } else if queued {
                    // Its CmdSN never arrived: it never runs.
                    if let Some(p) = self.phase.as_mut() {
                        p.window.retain(|p| p.bhs.itt() != referenced);
                    }
                    TMF_COMPLETE
                } else {
                    // Already answered (commands run in order), or unknown.
                    TMF_NO_TASK
                }
            }
            // ABORT TASK SET, CLEAR TASK SET, LOGICAL UNIT RESET.
            2 | 3 | 5 => match unit {
                None => TMF_NO_LUN,
                Some(index) => {
                    let field = b.lun();
                    self.tasks.retain(|_, t| t.command.lun_field != field);
                    if let Some(p) = self.phase.as_mut() {
                        p.window.retain(|p| {
                            p.bhs.opcode() != Ok(Opcode::ScsiCommand) || p.bhs.lun() != field
                        });
                    }
                    if function == 5 {
                        self.units()[index].1.handle_reset(Sense::LUN_RESET);
                    }
                    TMF_COMPLETE
                }
            },
            // TARGET WARM RESET, TARGET COLD RESET.
            6 | 7 => {
                self.tasks.clear();
                if let Some(p) = self.phase.as_mut() {
                    p.window.retain(|_| false);
                }
                for (_, unit) in self.units() {
                    unit.handle_reset(Sense::RESET);
                }
                cold_reset = function == 7;
                TMF_COMPLETE
            }
            // TASK REASSIGN needs ErrorRecoveryLevel 2.
            8 => TMF_NO_REASSIGN,
            _ => TMF_NOT_SUPPORTED,
        };
        let mut r = Bhs::new(Opcode::TaskManagementResponse);
        r.set_final(true);
        r.0[2] = response;
        r.set_itt(b.itt());
        self.numbers(&mut r);
        self.send(Pdu::new(r));
        if cold_reset {
            // Every connection to the target closes, this one after its
            // answer.
            if let Some(target) = self.target() {
                self.events.push_back(Event::ColdReset(target));
            }
            self.close(CloseReason::ColdReset);
        }
    }
}
