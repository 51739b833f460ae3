//! The replay window over the BMC's session sequence numbers.
//!
//! Inside an RMCP+ session every packet carries a session sequence number
//! that the sender increments; a packet whose number was already seen, or
//! that lies far from the highest seen, is a replay or a stray and is
//! dropped before anything in it is believed. The IPMI v2.0 specification
//! (section 6.12.13, session sequence number handling) asks the receiver
//! for such a sliding window; 0 is not a session sequence number in RMCP+
//! (the numbers wrap from 2^32 - 1 to 1). Behind, the window is 8 wide, as
//! FreeIPMI's ipmipower takes it (`IPMIPOWER_SEQUENCE_NUMBER_WINDOW`);
//! ahead, 15, so that a run of lost answers to retransmissions (each
//! answered under a new number) does not stall the session.

/// How far ahead of the highest number seen a packet may be.
const AHEAD: u32 = 15;
/// How far behind the highest number seen a packet may be.
const BEHIND: u32 = 8;

/// Why a sequence number was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Seen before: a replay or a network duplicate.
    Duplicate,
    /// Too far ahead or behind the highest number seen.
    OutOfWindow,
}

/// The inbound session sequence numbers seen lately.
#[derive(Debug, Clone, Default)]
pub struct ReplayWindow {
    /// The highest number taken, once one was.
    highest: Option<u32>,
    /// Bit `i` set: `highest - i` was taken.
    seen: u32,
}

impl ReplayWindow {
    /// Takes `sequence` if it is new and within the window, and remembers
    /// it; numbers wrap around 2^32, and 0 is never taken.
    pub fn check(&mut self, sequence: u32) -> Result<(), Rejection> {
        if sequence == 0 {
            return Err(Rejection::OutOfWindow);
        }
        let Some(highest) = self.highest else {
            self.highest = Some(sequence);
            self.seen = 1;
            return Ok(());
        };
        // Distances skip 0, which no sender uses.
        let distance = |from: u32, to: u32| {
            let d = to.wrapping_sub(from);
            if to < from { d.wrapping_sub(1) } else { d }
        };
        let ahead = distance(highest, sequence);
        if (1..=AHEAD).contains(&ahead) {
            self.seen = (self.seen << ahead) | 1;
            self.highest = Some(sequence);
            return Ok(());
        }
        let behind = distance(sequence, highest);
        if behind > BEHIND {
            return Err(Rejection::OutOfWindow);
        }
        let bit = 1u32 << behind;
        if self.seen & bit != 0 {
            return Err(Rejection::Duplicate);
        }
        self.seen |= bit;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_window_takes_new_numbers_near_the_highest_only() {
        let mut w = ReplayWindow::default();
        assert_eq!(w.check(100), Ok(()));
        assert_eq!(w.check(100), Err(Rejection::Duplicate));
        assert_eq!(w.check(102), Ok(()));
        assert_eq!(w.check(101), Ok(()), "reordered by one");
        assert_eq!(w.check(101), Err(Rejection::Duplicate));
        assert_eq!(w.check(94), Ok(()), "8 behind");
        assert_eq!(w.check(93), Err(Rejection::OutOfWindow), "9 behind");
        assert_eq!(w.check(118), Err(Rejection::OutOfWindow), "16 ahead");
        assert_eq!(w.check(117), Ok(()), "15 ahead");
        assert_eq!(w.check(102), Err(Rejection::OutOfWindow));
    }

    #[test]
    fn numbers_wrap_around() {
        let mut w = ReplayWindow::default();
        assert_eq!(w.check(u32::MAX - 1), Ok(()));
        assert_eq!(w.check(2), Ok(()), "3 ahead: 0 is skipped");
        assert_eq!(w.check(u32::MAX), Ok(()));
        assert_eq!(w.check(u32::MAX), Err(Rejection::Duplicate));
        assert_eq!(w.check(0), Err(Rejection::OutOfWindow));
        assert_eq!(w.check(1), Ok(()));
        assert_eq!(w.check(u32::MAX - 6), Ok(()), "8 behind, across 0");
        assert_eq!(w.check(u32::MAX - 7), Err(Rejection::OutOfWindow));
    }

    proptest! {
        /// In-order numbers, each swapped with its neighbour or not, are
        /// all taken; any of them sent again is dropped.
        #[test]
        fn reordered_numbers_pass_and_replays_do_not(
            start in any::<u32>(),
            swaps in proptest::collection::vec(any::<bool>(), 1..64),
            replay in any::<prop::sample::Index>(),
        ) {
            // Consecutive session sequence numbers, 0 skipped.
            let mut order = Vec::new();
            let mut n = start;
            while order.len() <= swaps.len() {
                if n != 0 {
                    order.push(n);
                }
                n = n.wrapping_add(1);
            }
            for (i, swap) in swaps.iter().enumerate() {
                if *swap && i % 2 == 0 {
                    order.swap(i, i + 1);
                }
            }
            let mut w = ReplayWindow::default();
            for (i, n) in order.iter().enumerate() {
                prop_assert_eq!(w.check(*n), Ok(()), "#{} ({})", i, n);
            }
            let again = order[replay.index(order.len())];
            prop_assert!(w.check(again).is_err());
        }
    }
}
