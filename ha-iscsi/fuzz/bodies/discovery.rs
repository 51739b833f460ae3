//! Discovery: an initiator logs in to a discovery session, then sends Text
//! Requests built from the input (SendTargets and any other keys, over one
//! PDU or continued over several, with any tags), or raw bytes. It must
//! never panic.

use bytes::Bytes;
use ha_iscsi::pdu::{Bhs, Opcode, Pdu};

use super::target::{Target, digests, encode, initiator};

/// `[flags, requests..]`, flags bits 0-1 the digests offered. Each request
/// is `[bits, ttt, len, text (len bytes)]`: bits 0-1 the F and C bits, 2
/// immediate, 3 an unknown TTT (else `ttt` or none), 4-5 the ITT, 6 let a
/// minute pass first, 7 send `text` as raw bytes instead of as a PDU.
pub fn run(input: &[u8]) {
    let [flags, requests @ ..] = input else {
        return;
    };
    let mut rest = requests;
    let mut target = Target::new();
    let Some(params) = target.log_in(initiator(flags & 3), None, &mut Vec::new()) else {
        panic!("a discovery login succeeds");
    };
    let digests = digests(&params);
    let mut cmd_sn = 1u32;
    while let &[bits, ttt, len, ref tail @ ..] = rest {
        let (text, next) = tail.split_at(usize::from(len).min(tail.len()));
        rest = next;
        if bits & 0x40 != 0 {
            target.wait(60);
        }
        if bits & 0x80 != 0 {
            target.feed(text);
            continue;
        }
        let mut bhs = Bhs::new(Opcode::TextRequest);
        bhs.0[1] = (bits & 1) << 7 | (bits & 2) << 5;
        bhs.set_immediate(bits & 4 != 0);
        bhs.set_itt(u32::from(bits >> 4 & 3));
        let ttt = if bits & 8 != 0 {
            u32::from(ttt)
        } else {
            0xffff_ffff
        };
        bhs.set_u32_at(20, ttt);
        bhs.set_u32_at(24, cmd_sn);
        if bits & 4 == 0 {
            cmd_sn = cmd_sn.wrapping_add(1);
        }
        let mut pdu = Pdu::new(bhs);
        pdu.data = Bytes::copy_from_slice(text);
        target.feed(&encode(&[pdu], digests));
    }
}
