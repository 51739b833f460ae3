//! SBD's on-disk format: arbitrary sectors read as a header, a slot and a
//! mailbox, as a node reads a shared disk another node (or a broken one)
//! wrote. It must never panic, and what it reads must write back.

use ha_fence::sbd::format::{Header, Mailbox, Slot};

/// The input as a sector of the disk.
pub fn run(input: &[u8]) {
    if let Ok(header) = Header::decode(input) {
        assert_eq!(Header::decode(&header.encode()).ok(), Some(header));
        let slot = Slot::decode(input);
        let _ = slot.encode(header.sector_size);
        let mailbox = Mailbox::decode(input);
        let _ = mailbox.encode(header.sector_size);
    }
    let slot = Slot::decode(input);
    let _ = slot.encode(512);
    let mailbox = Mailbox::decode(input);
    let _ = mailbox.encode(512);
}
