//! crm_simulate's allocation scores: each node's score for each primitive.
//!
//! As `crm_simulate -sS` prints them (and the `.scores` files of
//! Pacemaker's regression cases hold them): for each primitive, the score
//! of each node when it was assigned, one line per node, sorted.

use crate::scheduler::Transition;

/// The `pcmk__primitive_assign: RSC allocation score on NODE: SCORE`
/// lines, sorted as crm_simulate's tests keep them.
pub fn lines(transition: &Transition) -> Vec<String> {
    let mut out: Vec<String> = transition
        .scores
        .iter()
        .flat_map(|(rsc, nodes)| {
            nodes.iter().map(move |(node, score)| {
                format!("pcmk__primitive_assign: {rsc} allocation score on {node}: {score}")
            })
        })
        .collect();
    out.sort();
    out
}
