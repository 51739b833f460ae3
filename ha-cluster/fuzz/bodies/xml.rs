//! The XML reader under the CIB: arbitrary text into elements, within its
//! depth and element limits. It must never panic, and a document it
//! accepts is no deeper than its limit.

use ha_cluster::xml::{self, Element, MAX_DEPTH};

/// The input as an XML document.
pub fn run(input: &[u8]) {
    let text = String::from_utf8_lossy(input);
    if let Ok(root) = xml::parse(&text) {
        let depth = depth(&root);
        assert!(depth <= MAX_DEPTH, "a document {depth} deep was read");
        let _ = root.location();
        let _ = root.id();
    }
}

/// The levels below and including `element`, without recursion (a deep
/// tree must not overflow the stack here either).
fn depth(element: &Element) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(element, 1)];
    while let Some((e, d)) = stack.pop() {
        deepest = deepest.max(d);
        stack.extend(e.children.iter().map(|c| (c, d + 1)));
    }
    deepest
}
