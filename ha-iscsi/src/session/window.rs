//! The command window (RFC 7143 3.2.2.1): commands run in CmdSN order,
//! those ahead of a gap wait for it, those outside [ExpCmdSN, MaxCmdSN]
//! are ignored.

use std::collections::BTreeMap;

use crate::pdu::Pdu;

/// Commands the target lets an initiator have outstanding.
pub use crate::login::COMMAND_WINDOW;

/// Serial number arithmetic (RFC 1982) on 32 bits: `a < b`.
pub(crate) fn sn_lt(a: u32, b: u32) -> bool {
    a != b && b.wrapping_sub(a) < 1 << 31
}

/// ExpCmdSN and the commands that came ahead of a gap.
#[derive(Debug, Default)]
pub(crate) struct CommandWindow {
    /// The CmdSN the target expects next.
    exp: u32,
    /// Commands ahead of a gap, by CmdSN.
    queued: BTreeMap<u32, Pdu>,
}

impl CommandWindow {
    pub fn new(exp_cmd_sn: u32) -> Self {
        Self {
            exp: exp_cmd_sn,
            queued: BTreeMap::new(),
        }
    }

    pub fn exp_cmd_sn(&self) -> u32 {
        self.exp
    }

    pub fn max_cmd_sn(&self) -> u32 {
        self.exp.wrapping_add(COMMAND_WINDOW - 1)
    }

    /// Whether `cmd_sn` is inside [ExpCmdSN, MaxCmdSN].
    pub fn inside(&self, cmd_sn: u32) -> bool {
        !sn_lt(cmd_sn, self.exp) && !sn_lt(self.max_cmd_sn(), cmd_sn)
    }

    /// A non-immediate command: given back if it runs now (ExpCmdSN
    /// moves past it), kept if it is ahead of a gap, dropped if it is
    /// outside the window.
    pub fn admit(&mut self, cmd_sn: u32, pdu: Pdu) -> Option<Pdu> {
        if !self.inside(cmd_sn) {
            tracing::debug!(cmd_sn, exp = self.exp, "CmdSN outside the window: ignored");
            return None;
        }
        if cmd_sn != self.exp {
            self.queued.insert(cmd_sn, pdu);
            return None;
        }
        self.exp = self.exp.wrapping_add(1);
        Some(pdu)
    }

    /// The queued command whose turn has come, if any.
    pub fn take_ready(&mut self) -> Option<Pdu> {
        let pdu = self.queued.remove(&self.exp)?;
        self.exp = self.exp.wrapping_add(1);
        Some(pdu)
    }

    /// Drops the queued commands `keep` refuses.
    pub fn retain(&mut self, mut keep: impl FnMut(&Pdu) -> bool) {
        self.queued.retain(|_, p| keep(p));
    }

    /// Bytes of data the queued commands carry.
    pub fn buffered(&self) -> usize {
        self.queued.values().map(|p| p.data.len()).sum()
    }

    /// Whether a queued command has this Initiator Task Tag.
    pub fn holds(&self, itt: u32) -> bool {
        self.queued.values().any(|p| p.bhs.itt() == itt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdu::{Bhs, Opcode};

    fn command(cmd_sn: u32) -> Pdu {
        let mut b = Bhs::new(Opcode::ScsiCommand);
        b.set_u32_at(24, cmd_sn);
        b.set_itt(cmd_sn);
        Pdu::new(b)
    }

    #[test]
    fn commands_run_in_order_and_outside_ones_are_dropped() {
        let mut w = CommandWindow::new(u32::MAX);
        assert!(w.admit(0, command(0)).is_none(), "ahead of the gap");
        assert!(w.admit(u32::MAX - 1, command(1)).is_none(), "behind");
        assert!(w.admit(40, command(40)).is_none(), "beyond MaxCmdSN");
        assert!(w.admit(u32::MAX, command(2)).is_some());
        assert_eq!(w.take_ready().map(|p| p.bhs.itt()), Some(0));
        assert_eq!(w.take_ready(), None);
        assert_eq!(w.exp_cmd_sn(), 1);
        assert!(!w.holds(40));
    }
}
