//! fence-agents' metadata XML (`fence_x -o metadata`, read for external
//! agents): arbitrary text through the reader, and what it accepts written
//! back and read again. It must never panic.

use ha_fence::Metadata;

/// The input as an agent's metadata output.
pub fn run(input: &[u8]) {
    let text = String::from_utf8_lossy(input);
    if let Ok(metadata) = Metadata::parse(&text) {
        let written = metadata.to_xml();
        assert!(
            Metadata::parse(&written).is_ok(),
            "written metadata reads back: {written}"
        );
    }
}
