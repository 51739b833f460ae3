//! R2T and Data-Out bookkeeping of one write (RFC 7143 10.7, 10.8):
//! immediate data, the unsolicited burst up to FirstBurstLength (only
//! when InitialR2T is No), then R2Ts of at most MaxBurstLength, at most
//! MaxOutstandingR2T at a time. DataPDUInOrder and DataSequenceInOrder are
//! Yes: in each sequence the DataSN counts from 0 and each PDU starts where
//! the one before ended, so the ranges never overlap and every byte is
//! counted once.
//!
//! The data is kept as it arrives, never allocated to the announced
//! length up front: a command announcing a large write and sending nothing
//! costs nothing, and a write holds exactly the bytes it was sent. Room is
//! reserved (not touched) when its first data comes, for the whole
//! transfer up to [`RESERVE_AHEAD`], so a write of ordinary size is copied
//! once into place, never zeroed first and never moved as it grows.

/// Room reserved for a write's data when its first bytes arrive: the
/// whole transfer up to this, more (in doublings) only as data comes.
/// Initiators write at most a few MiB at a time (Linux's default
/// max_sectors_kb is 512 KiB to 1,280 KiB, qemu's 1 MiB); reserving is
/// address space, not memory, until data fills it, and this bounds what a
/// write that trickles bytes can claim to 4 MiB.
pub(crate) const RESERVE_AHEAD: usize = 4 << 20;

/// One R2T asked for a range of the write's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct R2t {
    /// Its Target Transfer Tag.
    pub ttt: u32,
    /// R2TSN.
    pub r2t_sn: u32,
    /// First byte asked for.
    pub offset: usize,
    /// Bytes asked for.
    pub len: usize,
}

/// Data-Out that cannot be taken: its command ends without running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OutOfSequence;

/// A write collecting its Data-Out.
#[derive(Debug)]
pub(crate) struct Transfer {
    /// The data so far, each byte at its offset. It only reaches
    /// the end of the furthest range received, and ranges are what the
    /// target asked for (R2Ts) or the unsolicited burst, so it never grows
    /// to an announced length nobody sends.
    buffer: Vec<u8>,
    /// The Expected Data Transfer Length.
    expected: usize,
    received: usize,
    /// Where the next R2T starts.
    next_offset: usize,
    /// R2Ts in flight.
    outstanding: Vec<Sequence>,
    /// The unsolicited burst.
    unsolicited: Sequence,
    r2t_sn: u32,
}

/// One sequence of Data-Out: what it may carry and where it stands.
#[derive(Debug, Clone, Copy)]
struct Sequence {
    /// The R2T's TTT (the reserved tag for the unsolicited burst).
    ttt: u32,
    /// Where the next PDU starts.
    next: usize,
    /// The end of the range.
    end: usize,
    /// The next DataSN.
    data_sn: u32,
}

impl Transfer {
    /// A write of `expected` bytes that came with `immediate` data; what
    /// the initiator sends unsolicited reaches `unsolicited_end` (the
    /// immediate data with InitialR2T, FirstBurstLength otherwise).
    pub fn new(expected: usize, immediate: &[u8], initial_r2t: bool, first_burst: usize) -> Self {
        let immediate = &immediate[..immediate.len().min(expected)];
        let next_offset = if initial_r2t {
            immediate.len()
        } else {
            first_burst.min(expected).max(immediate.len())
        };
        let mut transfer = Self {
            buffer: Vec::new(),
            expected,
            received: immediate.len(),
            next_offset,
            outstanding: Vec::new(),
            unsolicited: Sequence {
                ttt: super::NO_TAG,
                next: immediate.len(),
                end: next_offset,
                data_sn: 0,
            },
            r2t_sn: 0,
        };
        if !immediate.is_empty() {
            transfer.place(0, immediate);
        }
        transfer
    }

    /// Whether every byte came.
    pub fn complete(&self) -> bool {
        self.received >= self.expected
    }

    /// Bytes of the write's data received. (The buffer holding them
    /// reaches the end of the furthest range received, which the target
    /// asked for.)
    pub fn buffered(&self) -> usize {
        self.received
    }

    /// The most it will hold: its Expected Data Transfer Length.
    pub fn expected(&self) -> usize {
        self.expected
    }

    /// The next R2T, with `ttt`, if the write still needs data nobody
    /// asked for and fewer than `max_outstanding` are in flight.
    pub fn next_r2t(&mut self, ttt: u32, max_burst: usize, max_outstanding: usize) -> Option<R2t> {
        if self.outstanding.len() >= max_outstanding.max(1) || self.next_offset >= self.expected {
            return None;
        }
        let offset = self.next_offset;
        let len = max_burst.max(1).min(self.expected - offset);
        self.next_offset += len;
        self.outstanding.push(Sequence {
            ttt,
            next: offset,
            end: offset + len,
            data_sn: 0,
        });
        let r2t = R2t {
            ttt,
            r2t_sn: self.r2t_sn,
            offset,
            len,
        };
        self.r2t_sn = self.r2t_sn.wrapping_add(1);
        Some(r2t)
    }

    /// Takes one Data-Out (`ttt` [`NO_TAG`](super::NO_TAG) for unsolicited
    /// data); `final_pdu`: its F bit, which must be on the PDU that ends
    /// its sequence.
    pub fn accept(
        &mut self,
        ttt: u32,
        data_sn: u32,
        offset: usize,
        data: &[u8],
        final_pdu: bool,
    ) -> Result<(), OutOfSequence> {
        let index = self.outstanding.iter().position(|s| s.ttt == ttt);
        let sequence = match index {
            _ if ttt == super::NO_TAG => &mut self.unsolicited,
            Some(i) => &mut self.outstanding[i],
            None => return Err(OutOfSequence),
        };
        let end = offset.checked_add(data.len()).ok_or(OutOfSequence)?;
        let fits = data_sn == sequence.data_sn
            && offset == sequence.next
            && end <= sequence.end
            && (!final_pdu || end == sequence.end);
        if !fits {
            return Err(OutOfSequence);
        }
        sequence.next = end;
        sequence.data_sn = sequence.data_sn.wrapping_add(1);
        self.place(offset, data);
        self.received += data.len();
        if final_pdu && let Some(i) = index.filter(|_| ttt != super::NO_TAG) {
            self.outstanding.remove(i);
        }
        Ok(())
    }

    /// Copies `data` to `at` in the buffer: appended when it continues
    /// the buffer (the usual, in-order case, with nothing zeroed first),
    /// over the zeroed gap a range ahead of it left otherwise.
    fn place(&mut self, at: usize, data: &[u8]) {
        if self.buffer.capacity() == 0 {
            self.buffer.reserve_exact(self.expected.min(RESERVE_AHEAD));
        }
        if at > self.buffer.len() {
            self.buffer.resize(at, 0);
        }
        let overlap = (self.buffer.len() - at).min(data.len());
        self.buffer[at..at + overlap].copy_from_slice(&data[..overlap]);
        self.buffer.extend_from_slice(&data[overlap..]);
    }

    /// The data, once complete.
    pub fn into_data(mut self) -> Vec<u8> {
        self.buffer.resize(self.expected, 0);
        self.buffer
    }
}

#[cfg(test)]
mod tests {
    use super::super::NO_TAG;
    use super::*;

    #[test]
    fn a_large_announced_write_holds_only_what_arrived() {
        let mut t = Transfer::new(64 << 20, &[1; 512], true, 0);
        assert_eq!(t.buffered(), 512);
        let r2t = t.next_r2t(1, 4096, 1).unwrap();
        assert_eq!(t.buffered(), 512, "asking holds nothing");
        t.accept(1, 0, r2t.offset, &[2; 1024], false).unwrap();
        assert_eq!(t.buffered(), 512 + 1024);
    }

    #[test]
    fn data_is_placed_once_without_the_buffer_moving() {
        let mut t = Transfer::new(1 << 20, &[1; 8192], false, 65536);
        let start = t.buffer.as_ptr();
        t.accept(NO_TAG, 0, 8192, &[2; 57344], true).unwrap();
        let mut ttt = 1;
        while let Some(r2t) = t.next_r2t(ttt, 262144, 1) {
            for (sn, at) in (r2t.offset..r2t.offset + r2t.len).step_by(8192).enumerate() {
                let last = at + 8192 == r2t.offset + r2t.len;
                t.accept(ttt, sn as u32, at, &[3; 8192], last).unwrap();
            }
            ttt += 1;
        }
        assert!(t.complete());
        assert_eq!(t.buffer.as_ptr(), start, "reserved once, never moved");
        let data = t.into_data();
        assert_eq!(
            (data[0], data[8192], data[65536], data.len()),
            (1, 2, 3, 1 << 20)
        );
    }

    #[test]
    fn ranges_may_arrive_out_of_order() {
        let mut t = Transfer::new(8192, &[], true, 0);
        let a = t.next_r2t(1, 4096, 2).unwrap();
        let b = t.next_r2t(2, 4096, 2).unwrap();
        t.accept(2, 0, b.offset, &[2; 4096], true).unwrap();
        t.accept(1, 0, a.offset, &[1; 2048], false).unwrap();
        t.accept(1, 1, a.offset + 2048, &[9; 2048], true).unwrap();
        let data = t.into_data();
        assert_eq!(&data[..2048], &[1; 2048][..]);
        assert_eq!(&data[2048..4096], &[9; 2048][..]);
        assert_eq!(&data[4096..], &[2; 4096][..]);
    }

    #[test]
    fn r2ts_cover_the_rest_in_bursts() {
        let mut t = Transfer::new(10_000, &[1; 1000], true, 0);
        let a = t.next_r2t(1, 4096, 2).unwrap();
        let b = t.next_r2t(2, 4096, 2).unwrap();
        assert_eq!((a.offset, a.len, b.offset, b.len), (1000, 4096, 5096, 4096));
        assert_eq!(t.next_r2t(3, 4096, 2), None, "MaxOutstandingR2T");
        t.accept(1, 0, 1000, &[2; 4096], true).unwrap();
        let c = t.next_r2t(3, 4096, 2).unwrap();
        assert_eq!((c.offset, c.len, c.r2t_sn), (9192, 808, 2));
        assert_eq!(t.accept(2, 1, 5096, &[0; 10], false), Err(OutOfSequence));
        assert!(!t.complete());
    }

    #[test]
    fn data_must_come_in_order_once() {
        let mut t = Transfer::new(4096, &[], true, 0);
        t.next_r2t(1, 4096, 1).unwrap();
        t.accept(1, 0, 0, &[1; 1024], false).unwrap();
        assert_eq!(
            t.accept(1, 1, 0, &[1; 1024], false),
            Err(OutOfSequence),
            "the same range again"
        );
        assert_eq!(
            t.accept(1, 1, 1024, &[1; 1024], true),
            Err(OutOfSequence),
            "F before the end of the sequence"
        );
        assert_eq!(
            t.accept(NO_TAG, 0, 1024, &[1; 1024], false),
            Err(OutOfSequence),
            "unsolicited data with InitialR2T"
        );
        t.accept(1, 1, 1024, &[1; 3072], true).unwrap();
        assert!(t.complete());
    }

    #[test]
    fn the_unsolicited_burst_reaches_first_burst_length() {
        let mut t = Transfer::new(8192, &[1; 512], false, 2048);
        t.accept(NO_TAG, 0, 512, &[1; 1536], true).unwrap();
        let r2t = t.next_r2t(1, 65536, 1).unwrap();
        assert_eq!((r2t.offset, r2t.len), (2048, 6144));
        assert_eq!(
            t.accept(NO_TAG, 1, 2048, &[1; 512], false),
            Err(OutOfSequence)
        );
    }
}
