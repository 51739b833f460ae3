//! The initiator's side against a hostile target: a SCSI command's task
//! (a read or a write, with the session's parameters from the input) or
//! a login handshake, answered by arbitrary PDUs decoded from the input.
//! It must never panic, send only what encodes within the target's
//! MaxRecvDataSegmentLength, and never gather more Data-In than the
//! command accepts.

use bytes::Bytes;
use ha_iscsi::initiator::login::{Handshake, Next};
use ha_iscsi::initiator::lun_field;
use ha_iscsi::initiator::task::{Command, Task};
use ha_iscsi::negotiation::Params;
use ha_iscsi::pdu::{Decoder, Digests, Pdu};

use super::target::{OPEN, encode, initiator};

/// `[flags, size, answers..]`: flags bit 7 a handshake (bits 0-2 the
/// initiator's digests and mutual CHAP, bit 3 a normal session), else a
/// task of `size` blocks (bit 0 ImmediateData, 1 InitialR2T, 2 data
/// digests, 3-4 the target's MaxRecvDataSegmentLength, 5 header digests,
/// 6 a write).
pub fn run(input: &[u8]) {
    let [flags, size, answers @ ..] = input else {
        return;
    };
    if flags & 0x80 != 0 {
        handshake(*flags, answers);
    } else {
        task(*flags, *size, answers);
    }
}

fn task(flags: u8, size: u8, answers: &[u8]) {
    let params = Params {
        immediate_data: flags & 1 != 0,
        initial_r2t: flags & 2 != 0,
        data_digest: flags & 4 != 0,
        header_digest: flags & 0x20 != 0,
        target_max_recv: 512 << (flags >> 3 & 3),
        first_burst: 1024,
        ..Params::default()
    };
    let digests = Digests {
        header: params.header_digest,
        data: params.data_digest,
    };
    let writes = flags & 0x40 != 0;
    let len = usize::from(size) * 512;
    let cdb = [
        if writes { 0x2a } else { 0x28 },
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        size,
        0,
    ];
    let command = Command {
        lun_field: lun_field(0),
        cdb: &cdb,
        data_out: if writes {
            Bytes::from(vec![0xa5; len])
        } else {
            Bytes::new()
        },
        data_in_len: if writes { 0 } else { len },
    };
    let accepted = command.data_in_len;
    let (mut task, first) = Task::start(1, command, &params, 1, 1).expect("a 10-byte CDB");
    check_sent(&first, &params, digests);
    let mut decoder = Decoder::new(8192);
    decoder.set_digests(digests);
    decoder.handle_bytes(answers);
    while let Ok(Some(pdu)) = decoder.poll_pdu() {
        let Ok((sent, outcome)) = task.handle_pdu(&pdu) else {
            return;
        };
        check_sent(&sent, &params, digests);
        if let Some(outcome) = outcome {
            assert!(
                outcome.data.len() <= accepted,
                "{} bytes of Data-In gathered for a command accepting {accepted}",
                outcome.data.len()
            );
            return;
        }
    }
}

fn check_sent(pdus: &[Pdu], params: &Params, digests: Digests) {
    for pdu in pdus {
        assert!(pdu.data.len() <= params.target_max_recv as usize);
    }
    encode(pdus, digests);
}

fn handshake(flags: u8, answers: &[u8]) {
    let (mut handshake, first) = Handshake::new(
        initiator(flags & 7),
        (flags & 8 != 0).then(|| OPEN.to_owned()),
        [0x40, 0, 0, 0, 0, 1],
        (3, [5; 16]),
    );
    encode(&[first], Digests::default());
    let mut decoder = Decoder::new(8192);
    decoder.handle_bytes(answers);
    while let Ok(Some(pdu)) = decoder.poll_pdu() {
        match handshake.handle_response(&pdu) {
            Ok(Next::Send(request)) => {
                encode(&[request], Digests::default());
            }
            Ok(Next::Done { .. }) | Err(_) => return,
        }
    }
}
