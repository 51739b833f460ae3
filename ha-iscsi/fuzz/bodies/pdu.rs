//! Arbitrary bytes into the PDU decoder, in arbitrary chunks, with any
//! digest setting: it must never panic, and whatever it accepts must encode
//! again.

use bytes::BytesMut;
use ha_iscsi::pdu::{Decoder, Digests};

/// `[flags, chunk, stream..]`: flags bit 0 header digests, bit 1 data
/// digests; the stream arrives `chunk` bytes at a time.
pub fn run(input: &[u8]) {
    let [flags, chunk, rest @ ..] = input else {
        return;
    };
    let digests = Digests {
        header: flags & 1 != 0,
        data: flags & 2 != 0,
    };
    let mut decoder = Decoder::new(8192);
    decoder.set_digests(digests);
    for piece in rest.chunks(usize::from(*chunk).max(1)) {
        decoder.handle_bytes(piece);
        loop {
            match decoder.poll_pdu() {
                Ok(Some(pdu)) => {
                    let mut out = BytesMut::new();
                    pdu.encode(digests, &mut out)
                        .expect("a decoded PDU encodes");
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
}
