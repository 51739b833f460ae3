//! `balance static-rr`: weighted round robin over a fixed, interleaved table.
//!
//! At build time the servers are laid out in a table of `sum(weights)` slots,
//! each server in `weight` slots, interleaved by running smooth weighted
//! round robin (see [`RoundRobin`](super::RoundRobin)) for one cycle: weights
//! 5, 1, 1 give `a a b a c a a`. A pick takes the slot under an atomic cursor
//! and moves the cursor on, so picking never locks. A tried or full server's
//! slot falls through to the next slot holding a usable server.
//!
//! The same [`WeightedTable`] is the map of map-based hashing
//! ([`MapHash`](super::MapHash)), and the round-robin fallback of both hashing
//! balancers when a request has no key. Building it costs
//! O(`sum(weights)` × servers), like HAProxy's map; picking is O(1) unless
//! servers must be skipped.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Balancer, Candidate, PickKey, ServerId, sanitize, usable};

/// Weighted round robin fixed at build time (`balance static-rr`).
#[derive(Debug)]
pub struct StaticRr {
    table: WeightedTable,
    cursor: AtomicUsize,
}

impl StaticRr {
    /// Static round robin over `candidates` by weight. Candidates of weight
    /// 0 are dropped and weights above [`MAX_WEIGHT`](super::MAX_WEIGHT)
    /// clamped.
    pub fn new(candidates: Vec<Candidate>) -> Self {
        Self {
            table: WeightedTable::new(candidates),
            cursor: AtomicUsize::new(0),
        }
    }
}

impl Balancer for StaticRr {
    fn pick(&self, _key: &PickKey<'_>, tried: &[ServerId]) -> Option<ServerId> {
        // fetch_add wraps at usize::MAX; the one uneven step there is harmless.
        let slot = self.cursor.fetch_add(1, Ordering::Relaxed);
        self.table.pick_from(slot, tried)
    }
}

/// Servers laid out in `sum(weights)` interleaved slots, each server in
/// `weight` of them.
#[derive(Debug)]
pub(crate) struct WeightedTable {
    candidates: Vec<Candidate>,
    /// Indices into `candidates`.
    slots: Vec<u32>,
}

impl WeightedTable {
    /// The table over `candidates` (sanitized here).
    pub(crate) fn new(candidates: Vec<Candidate>) -> Self {
        let candidates = sanitize(candidates);
        let slots = interleave(&candidates);
        Self { candidates, slots }
    }

    /// The candidates, in the order the slots index them.
    pub(crate) fn candidates(&self) -> &[Candidate] {
        &self.candidates
    }

    /// The number of slots (0 when there is no candidate).
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// The server in slot `start % len` if it is usable, else the server in
    /// the next slot forward (wrapping) that is. `None` when no server is
    /// usable.
    pub(crate) fn pick_from(&self, start: usize, tried: &[ServerId]) -> Option<ServerId> {
        let len = self.slots.len();
        if len == 0 {
            return None;
        }
        let start = start % len;
        let first = self.slots[start];
        let c = self.candidates.get(first as usize)?;
        if usable(c, tried) {
            return Some(c.id);
        }
        first_usable(&self.candidates, &self.slots, start, first, tried)
    }
}

/// Walks `order` (indices into `candidates`) forward from `start + 1`,
/// wrapping, and returns the first usable candidate; `rejected` is the index
/// already found unusable at `start`. Shared by the table and the ring.
///
/// When nothing is usable this would visit every slot, so it checks the
/// (much shorter) candidate list first.
pub(crate) fn first_usable(
    candidates: &[Candidate],
    order: &[u32],
    start: usize,
    mut rejected: u32,
    tried: &[ServerId],
) -> Option<ServerId> {
    if !candidates.iter().any(|c| usable(c, tried)) {
        return None;
    }
    let (before, from) = order.split_at(start.min(order.len()));
    for &i in from.iter().skip(1).chain(before) {
        if i == rejected {
            continue;
        }
        let c = candidates.get(i as usize)?;
        if usable(c, tried) {
            return Some(c.id);
        }
        rejected = i;
    }
    None
}

/// One cycle of smooth weighted round robin: `sum(weights)` indices, each
/// candidate `weight` times, spread out.
fn interleave(candidates: &[Candidate]) -> Vec<u32> {
    let total: i64 = candidates.iter().map(|c| i64::from(c.weight)).sum();
    let mut current = vec![0i64; candidates.len()];
    let mut slots = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    for _ in 0..total {
        let mut best: Option<(usize, i64)> = None;
        for (i, (c, cur)) in candidates.iter().zip(current.iter_mut()).enumerate() {
            *cur += i64::from(c.weight);
            if best.is_none_or(|(_, value)| *cur > value) {
                best = Some((i, *cur));
            }
        }
        let Some((i, _)) = best else { break };
        current[i] -= total;
        // Candidate counts fit in u32: a table of 2^32 candidates would not
        // fit in memory anyway.
        slots.push(i as u32);
    }
    slots
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    use std::thread;

    use proptest::prelude::*;

    use super::*;
    use crate::balance::testutil::{NO_KEY, assert_within_one_percent, candidates, tally};

    #[test]
    fn the_table_is_interleaved() {
        let table = WeightedTable::new(candidates(&[5, 1, 1]));
        assert_eq!(table.slots, [0, 0, 1, 0, 2, 0, 0]);
        let s = StaticRr::new(candidates(&[5, 1, 1]));
        let seq: Vec<_> = (0..14).map(|_| s.pick(&NO_KEY, &[]).unwrap()).collect();
        assert_eq!(seq, [0, 0, 1, 0, 2, 0, 0, 0, 0, 1, 0, 2, 0, 0]);
    }

    #[test]
    fn every_server_gets_exactly_its_weight_in_slots() {
        let weights = [256, 1, 17, 3, 100];
        let table = WeightedTable::new(candidates(&weights));
        assert_eq!(table.len(), 377);
        for (i, &w) in weights.iter().enumerate() {
            let n = table.slots.iter().filter(|&&s| s as usize == i).count();
            assert_eq!(n, w as usize, "server {i}");
        }
    }

    #[test]
    fn a_skipped_slot_falls_through_to_the_next_usable_server() {
        let mut cands = candidates(&[1, 1, 1]);
        cands[1].maxconn = Some(2);
        cands[1].load.store(2, Ordering::Relaxed);
        let table = WeightedTable::new(cands);
        assert_eq!(table.pick_from(1, &[]), Some(2));
        assert_eq!(table.pick_from(1, &[2]), Some(0));
        assert_eq!(table.pick_from(4, &[0, 2]), None);
        assert_eq!(table.pick_from(usize::MAX, &[]), Some(0));
    }

    #[test]
    fn empty_and_weight_zero() {
        assert_eq!(StaticRr::new(Vec::new()).pick(&NO_KEY, &[]), None);
        let s = StaticRr::new(candidates(&[0, 0, 4]));
        for _ in 0..8 {
            assert_eq!(s.pick(&NO_KEY, &[]), Some(2));
        }
    }

    #[test]
    fn threads_share_the_cursor_without_losing_slots() {
        let weights = [9, 2, 5];
        let s = Arc::new(StaticRr::new(candidates(&weights)));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let s = Arc::clone(&s);
                thread::spawn(move || {
                    let mut counts = [0u32; 3];
                    for _ in 0..16 * 1000 {
                        counts[s.pick(&NO_KEY, &[]).unwrap()] += 1;
                    }
                    counts
                })
            })
            .collect();
        let mut counts = [0u32; 3];
        for h in handles {
            for (sum, c) in counts.iter_mut().zip(h.join().unwrap()) {
                *sum += c;
            }
        }
        // 32000 picks = 2000 whole cycles of 16 slots, each slot taken once
        // per cycle whatever the threads' interleaving.
        assert_eq!(counts, weights.map(|w| w * 2000));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn weights_are_respected_over_100k_picks(
            weights in prop::collection::vec(1u32..=256, 1..10),
        ) {
            let s = StaticRr::new(candidates(&weights));
            let counts = tally(&s, weights.len(), (0..100_000).map(|_| NO_KEY));
            assert_within_one_percent(&counts, &weights);
        }
    }
}
