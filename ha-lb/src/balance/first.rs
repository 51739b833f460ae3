//! `balance first`: fill the servers one after the other.
//!
//! The first server, in `id` (declaration) order, that is not full and not
//! tried takes the traffic; the next one only gets connections once the first
//! has reached its `maxconn`. A server without `maxconn` is never full, so it
//! takes everything (as in HAProxy, where `first` is meant for servers with a
//! `maxconn`). This keeps the fewest servers busy, so the others can be
//! powered down.

use super::{Balancer, Candidate, PickKey, ServerId, sanitize, usable};

/// The first server with free slots (`balance first`).
#[derive(Debug)]
pub struct First {
    /// Sorted by id.
    candidates: Vec<Candidate>,
}

impl First {
    /// Fill `candidates` in `id` order. Candidates of weight 0 are dropped;
    /// other weights play no part.
    pub fn new(candidates: Vec<Candidate>) -> Self {
        let mut candidates = sanitize(candidates);
        candidates.sort_by_key(|c| c.id);
        Self { candidates }
    }
}

impl Balancer for First {
    fn pick(&self, _key: &PickKey<'_>, tried: &[ServerId]) -> Option<ServerId> {
        self.candidates
            .iter()
            .find(|c| usable(c, tried))
            .map(|c| c.id)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::balance::testutil::{NO_KEY, candidates};

    #[test]
    fn fills_the_servers_in_id_order() {
        // Declared out of order: ids decide, not the order of the list.
        let mut cands = candidates(&[1, 1, 1]);
        cands.reverse();
        for c in &mut cands {
            c.maxconn = Some(2);
        }
        let first = First::new(cands.clone());
        let load = |id: usize| &cands.iter().find(|c| c.id == id).unwrap().load;
        let mut seq = Vec::new();
        while let Some(id) = first.pick(&NO_KEY, &[]) {
            load(id).fetch_add(1, Ordering::Relaxed);
            seq.push(id);
        }
        assert_eq!(seq, [0, 0, 1, 1, 2, 2]);
        // A connection to server 1 closes: it is first with room again.
        load(1).fetch_sub(1, Ordering::Relaxed);
        assert_eq!(first.pick(&NO_KEY, &[]), Some(1));
        assert_eq!(first.pick(&NO_KEY, &[1]), None);
    }

    #[test]
    fn without_maxconn_the_first_takes_everything() {
        let cands = candidates(&[1, 5]);
        cands[0].load.store(1000, Ordering::Relaxed);
        let first = First::new(cands);
        assert_eq!(first.pick(&NO_KEY, &[]), Some(0));
        assert_eq!(first.pick(&NO_KEY, &[0]), Some(1));
        assert_eq!(First::new(Vec::new()).pick(&NO_KEY, &[]), None);
    }
}
