//! R2T and Data-Out bookkeeping of one write (RFC 7143 10.7, 10.8):
//! immediate data, the unsolicited burst up to FirstBurstLength, then
//! R2Ts of at most MaxBurstLength, at most MaxOutstandingR2T at a time,
//! DataSN checked in each sequence.

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
    /// The data so far, as long as the Expected Data Transfer Length.
    buffer: Vec<u8>,
    received: usize,
    /// Where the next R2T starts.
    next_offset: usize,
    /// R2Ts in flight: TTT, end of what each asked for, next DataSN.
    outstanding: Vec<(u32, usize, u32)>,
    /// The DataSN expected in the unsolicited burst.
    unsolicited_data_sn: u32,
    r2t_sn: u32,
}

impl Transfer {
    /// A write of `expected` bytes that came with `immediate` data; what
    /// the initiator sends unsolicited reaches `unsolicited_end` (the
    /// immediate data with InitialR2T, FirstBurstLength otherwise).
    pub fn new(expected: usize, immediate: &[u8], initial_r2t: bool, first_burst: usize) -> Self {
        let immediate = &immediate[..immediate.len().min(expected)];
        let mut buffer = vec![0u8; expected];
        buffer[..immediate.len()].copy_from_slice(immediate);
        let next_offset = if initial_r2t {
            immediate.len()
        } else {
            first_burst.min(expected).max(immediate.len())
        };
        Self {
            buffer,
            received: immediate.len(),
            next_offset,
            outstanding: Vec::new(),
            unsolicited_data_sn: 0,
            r2t_sn: 0,
        }
    }

    /// Whether every byte came.
    pub fn complete(&self) -> bool {
        self.received >= self.buffer.len()
    }

    /// The next R2T, with `ttt`, if the write still needs data nobody
    /// asked for and fewer than `max_outstanding` are in flight.
    pub fn next_r2t(&mut self, ttt: u32, max_burst: usize, max_outstanding: usize) -> Option<R2t> {
        if self.outstanding.len() >= max_outstanding.max(1) || self.next_offset >= self.buffer.len()
        {
            return None;
        }
        let offset = self.next_offset;
        let len = max_burst.max(1).min(self.buffer.len() - offset);
        self.next_offset += len;
        self.outstanding.push((ttt, offset + len, 0));
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
    /// data); `final_pdu`: its F bit, which ends its R2T's sequence.
    pub fn accept(
        &mut self,
        ttt: u32,
        data_sn: u32,
        offset: usize,
        data: &[u8],
        final_pdu: bool,
    ) -> Result<(), OutOfSequence> {
        let in_sequence = if ttt == super::NO_TAG {
            let ok = data_sn == self.unsolicited_data_sn;
            self.unsolicited_data_sn = self.unsolicited_data_sn.wrapping_add(1);
            ok
        } else {
            match self.outstanding.iter_mut().find(|(t, ..)| *t == ttt) {
                Some((_, _, next)) if *next == data_sn => {
                    *next = next.wrapping_add(1);
                    true
                }
                _ => false,
            }
        };
        let end = offset
            .checked_add(data.len())
            .filter(|end| *end <= self.buffer.len() && in_sequence)
            .ok_or(OutOfSequence)?;
        self.buffer[offset..end].copy_from_slice(data);
        self.received += data.len();
        if final_pdu && ttt != super::NO_TAG {
            self.outstanding.retain(|(t, ..)| *t != ttt);
        }
        Ok(())
    }

    /// The data, once complete.
    pub fn into_data(self) -> Vec<u8> {
        self.buffer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
