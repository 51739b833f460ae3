//! The CIB from Pacemaker's XML, and what crm_simulate does with it:
//! arbitrary text read as a CIB (configuration and status), and a CIB
//! that reads scheduled, its transition printed, applied as if every
//! action succeeded, and the result printed and scheduled again. It must
//! never panic.

use ha_cluster::{Cib, schedule, simulate, status, summary};

/// The input as a CIB's XML.
pub fn run(input: &[u8]) {
    let text = String::from_utf8_lossy(input);
    let Ok(cib) = Cib::from_xml_at(&text, Some(1_700_000_000)) else {
        return;
    };
    let _ = status::preamble(&cib);
    let Ok(transition) = schedule(&cib) else {
        return;
    };
    let _ = summary::lines(&transition);
    let _ = transition.to_string();
    let _ = transition.graph.to_string();
    let _ = status::current(&cib, &transition);
    let revised = simulate::apply(&cib, &transition);
    let _ = status::revised(&revised);
    let _ = schedule(&revised);
}
