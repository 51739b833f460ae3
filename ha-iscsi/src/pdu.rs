//! iSCSI PDUs on the wire (RFC 7143 11), sans IO.
//!
//! A PDU is a 48-byte Basic Header Segment ([`Bhs`]), optional Additional
//! Header Segments, an optional header digest, a data segment padded to a
//! multiple of 4 bytes and an optional data digest (present only when the
//! data segment is not empty). [`Decoder`] takes bytes as they arrive, in
//! any chunks, and yields whole [`Pdu`]s, checking digests and the
//! receiver's MaxRecvDataSegmentLength; [`Pdu::encode`] writes one. The
//! lengths in the BHS are always derived from the segments, so they cannot
//! disagree with them.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::digest::crc32c_of;
use crate::error::{Error, Result};

/// Length of the Basic Header Segment.
pub const BHS_LEN: usize = 48;
/// Largest AHS: TotalAHSLength is one byte of 4-byte words.
pub const MAX_AHS_LEN: usize = 255 * 4;
/// Largest data segment: DataSegmentLength is 24 bits.
pub const MAX_DATA_LEN: usize = (1 << 24) - 1;

/// PDU opcodes (RFC 7143 11.2.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Opcode {
    /// Initiator: NOP-Out.
    NopOut = 0x00,
    /// Initiator: SCSI Command.
    ScsiCommand = 0x01,
    /// Initiator: Task Management Function Request.
    TaskManagement = 0x02,
    /// Initiator: Login Request.
    LoginRequest = 0x03,
    /// Initiator: Text Request.
    TextRequest = 0x04,
    /// Initiator: SCSI Data-Out.
    DataOut = 0x05,
    /// Initiator: Logout Request.
    LogoutRequest = 0x06,
    /// Initiator: SNACK Request.
    Snack = 0x10,
    /// Target: NOP-In.
    NopIn = 0x20,
    /// Target: SCSI Response.
    ScsiResponse = 0x21,
    /// Target: Task Management Function Response.
    TaskManagementResponse = 0x22,
    /// Target: Login Response.
    LoginResponse = 0x23,
    /// Target: Text Response.
    TextResponse = 0x24,
    /// Target: SCSI Data-In.
    DataIn = 0x25,
    /// Target: Logout Response.
    LogoutResponse = 0x26,
    /// Target: Ready To Transfer.
    R2t = 0x31,
    /// Target: Asynchronous Message.
    AsyncMessage = 0x32,
    /// Target: Reject.
    Reject = 0x3f,
}

impl Opcode {
    /// The opcode with this value.
    pub fn from_u8(value: u8) -> Result<Self> {
        use Opcode::*;
        Ok(match value {
            0x00 => NopOut,
            0x01 => ScsiCommand,
            0x02 => TaskManagement,
            0x03 => LoginRequest,
            0x04 => TextRequest,
            0x05 => DataOut,
            0x06 => LogoutRequest,
            0x10 => Snack,
            0x20 => NopIn,
            0x21 => ScsiResponse,
            0x22 => TaskManagementResponse,
            0x23 => LoginResponse,
            0x24 => TextResponse,
            0x25 => DataIn,
            0x26 => LogoutResponse,
            0x31 => R2t,
            0x32 => AsyncMessage,
            0x3f => Reject,
            other => return Err(Error::Opcode(other)),
        })
    }

    /// Whether initiators send it (targets send the others).
    pub fn from_initiator(self) -> bool {
        (self as u8) < 0x20
    }
}

/// The Basic Header Segment: the 48 bytes every PDU starts with. Fields
/// common to all PDUs have accessors; opcode-specific ones are read and
/// written by offset (`u32_at`, `set_u32_at`...) by the typed PDUs.
#[derive(Clone, PartialEq, Eq)]
pub struct Bhs(pub [u8; BHS_LEN]);

impl std::fmt::Debug for Bhs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bhs")
            .field("opcode", &format_args!("{:#04x}", self.opcode_byte()))
            .field("immediate", &self.immediate())
            .field("final", &self.is_final())
            .field("itt", &format_args!("{:#010x}", self.itt()))
            .finish_non_exhaustive()
    }
}

impl Bhs {
    /// A zeroed header with `opcode`.
    pub fn new(opcode: Opcode) -> Self {
        let mut bhs = Self([0; BHS_LEN]);
        bhs.0[0] = opcode as u8;
        bhs
    }

    /// The raw opcode (low 6 bits of byte 0).
    pub fn opcode_byte(&self) -> u8 {
        self.0[0] & 0x3f
    }

    /// The opcode, if RFC 7143 defines it.
    pub fn opcode(&self) -> Result<Opcode> {
        Opcode::from_u8(self.opcode_byte())
    }

    /// The I bit: an immediate command.
    pub fn immediate(&self) -> bool {
        self.0[0] & 0x40 != 0
    }

    /// Sets the I bit.
    pub fn set_immediate(&mut self, on: bool) {
        self.set_bit(0, 0x40, on);
    }

    /// The F bit: the final PDU of a sequence.
    pub fn is_final(&self) -> bool {
        self.0[1] & 0x80 != 0
    }

    /// Sets the F bit.
    pub fn set_final(&mut self, on: bool) {
        self.set_bit(1, 0x80, on);
    }

    /// TotalAHSLength in bytes.
    pub fn ahs_len(&self) -> usize {
        usize::from(self.0[4]) * 4
    }

    /// DataSegmentLength in bytes (without padding).
    pub fn data_len(&self) -> usize {
        usize::from(self.0[5]) << 16 | usize::from(self.0[6]) << 8 | usize::from(self.0[7])
    }

    /// The LUN field (bytes 8-15), for the PDUs that carry one.
    pub fn lun(&self) -> u64 {
        self.u64_at(8)
    }

    /// Sets the LUN field.
    pub fn set_lun(&mut self, lun: u64) {
        self.set_u64_at(8, lun);
    }

    /// The Initiator Task Tag.
    pub fn itt(&self) -> u32 {
        self.u32_at(16)
    }

    /// Sets the Initiator Task Tag.
    pub fn set_itt(&mut self, itt: u32) {
        self.set_u32_at(16, itt);
    }

    /// Sets or clears `mask` in byte `at`.
    pub fn set_bit(&mut self, at: usize, mask: u8, on: bool) {
        if on {
            self.0[at] |= mask;
        } else {
            self.0[at] &= !mask;
        }
    }

    /// The big-endian u16 at byte `at`.
    pub fn u16_at(&self, at: usize) -> u16 {
        u16::from_be_bytes([self.0[at], self.0[at + 1]])
    }

    /// Writes a big-endian u16 at byte `at`.
    pub fn set_u16_at(&mut self, at: usize, value: u16) {
        self.0[at..at + 2].copy_from_slice(&value.to_be_bytes());
    }

    /// The big-endian u32 at byte `at`.
    pub fn u32_at(&self, at: usize) -> u32 {
        let mut b = [0; 4];
        b.copy_from_slice(&self.0[at..at + 4]);
        u32::from_be_bytes(b)
    }

    /// Writes a big-endian u32 at byte `at`.
    pub fn set_u32_at(&mut self, at: usize, value: u32) {
        self.0[at..at + 4].copy_from_slice(&value.to_be_bytes());
    }

    /// The big-endian u64 at byte `at`.
    pub fn u64_at(&self, at: usize) -> u64 {
        let mut b = [0; 8];
        b.copy_from_slice(&self.0[at..at + 8]);
        u64::from_be_bytes(b)
    }

    /// Writes a big-endian u64 at byte `at`.
    pub fn set_u64_at(&mut self, at: usize, value: u64) {
        self.0[at..at + 8].copy_from_slice(&value.to_be_bytes());
    }
}

/// Which digests a connection uses (HeaderDigest / DataDigest =
/// CRC32C after login negotiation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Digests {
    /// A CRC32C after the header.
    pub header: bool,
    /// A CRC32C after each non-empty data segment.
    pub data: bool,
}

/// One PDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pdu {
    /// The Basic Header Segment. Its AHS and data lengths are set from
    /// `ahs` and `data` when the PDU is encoded.
    pub bhs: Bhs,
    /// Additional Header Segments, a multiple of 4 bytes.
    pub ahs: Bytes,
    /// The data segment, without padding.
    pub data: Bytes,
}

fn padding(len: usize) -> usize {
    (4 - len % 4) % 4
}

impl Pdu {
    /// A PDU with header `bhs` and no segments.
    pub fn new(bhs: Bhs) -> Self {
        Self {
            bhs,
            ahs: Bytes::new(),
            data: Bytes::new(),
        }
    }

    /// Bytes on the wire with `digests`.
    pub fn wire_len(&self, digests: Digests) -> usize {
        let data = self.data.len();
        BHS_LEN
            + self.ahs.len()
            + if digests.header { 4 } else { 0 }
            + data
            + padding(data)
            + if digests.data && data > 0 { 4 } else { 0 }
    }

    /// Appends the PDU to `out`.
    pub fn encode(&self, digests: Digests, out: &mut BytesMut) -> Result<()> {
        if !self.ahs.len().is_multiple_of(4) || self.ahs.len() > MAX_AHS_LEN {
            return Err(Error::Unencodable(
                "the AHS must be a multiple of 4 bytes, at most 1020",
            ));
        }
        let data_len = self.data.len();
        if data_len > MAX_DATA_LEN {
            return Err(Error::Unencodable("the data segment must be under 16 MiB"));
        }
        let mut bhs = self.bhs.clone();
        bhs.0[4] = (self.ahs.len() / 4) as u8;
        bhs.0[5..8].copy_from_slice(&(data_len as u32).to_be_bytes()[1..]);
        out.reserve(self.wire_len(digests));
        out.put_slice(&bhs.0);
        out.put_slice(&self.ahs);
        if digests.header {
            out.put_u32_le(crc32c_of(&[&bhs.0, &self.ahs]));
        }
        if data_len > 0 {
            let pad = [0u8; 3];
            let pad = &pad[..padding(data_len)];
            out.put_slice(&self.data);
            out.put_slice(pad);
            if digests.data {
                out.put_u32_le(crc32c_of(&[&self.data, pad]));
            }
        }
        Ok(())
    }
}

/// Room a [`Decoder`] first offers for a read: a login's or a small
/// command's PDUs, and what a connection that idles holds.
pub const READ_AHEAD: usize = 4096;

/// The most room a [`Decoder`] offers beyond the PDU arriving.
pub const MAX_READ_AHEAD: usize = 256 * 1024;

/// Reassembles PDUs from a byte stream.
#[derive(Debug)]
pub struct Decoder {
    buf: BytesMut,
    /// Room to offer a read beyond the PDU arriving.
    read_ahead: usize,
    /// Room the last [`read_buffer`](Self::read_buffer) offered.
    offered: usize,
    digests: Digests,
    max_data_len: u32,
    last_header: Option<Bhs>,
}

impl Decoder {
    /// A decoder accepting data segments up to `max_data_len` bytes (the
    /// MaxRecvDataSegmentLength this side declared; 8192 by default during
    /// login).
    pub fn new(max_data_len: u32) -> Self {
        Self {
            buf: BytesMut::new(),
            read_ahead: READ_AHEAD,
            offered: 0,
            digests: Digests::default(),
            max_data_len,
            last_header: None,
        }
    }

    /// Digests from the next PDU on (after login negotiation).
    pub fn set_digests(&mut self, digests: Digests) {
        self.digests = digests;
    }

    /// A new MaxRecvDataSegmentLength from the next PDU on.
    pub fn set_max_data_len(&mut self, max: u32) {
        self.max_data_len = max;
    }

    /// Bytes received and not yet part of a returned PDU.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The header of the PDU the last error was about, when the header
    /// itself was sound (a data digest mismatch, an unknown opcode): what a
    /// Reject quotes.
    pub fn last_header(&self) -> Option<Bhs> {
        self.last_header.clone()
    }

    /// Takes bytes as they arrive.
    pub fn handle_bytes(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The buffer to read the next bytes into (with tokio's `read_buf`
    /// or by appending), so they arrive in place without a copy; say how
    /// many came with [`handle_read`](Self::handle_read). It has room for
    /// the rest of the PDU arriving now and at least the read-ahead: 4 KiB
    /// ([`READ_AHEAD`]) at first, doubled up to [`MAX_READ_AHEAD`] each
    /// time a read fills all the room offered. A connection that idles
    /// holds a few KiB; a busy one reads many PDUs, or a large one, at
    /// once.
    pub fn read_buffer(&mut self) -> &mut BytesMut {
        let rest = self
            .arriving_len()
            .map_or(0, |total| total.saturating_sub(self.buf.len()));
        self.buf.reserve(rest.max(self.read_ahead));
        self.offered = self.buf.capacity() - self.buf.len();
        &mut self.buf
    }

    /// `n` bytes were read into [`read_buffer`](Self::read_buffer).
    pub fn handle_read(&mut self, n: usize) {
        if n >= self.offered {
            self.read_ahead = (self.read_ahead * 2).min(MAX_READ_AHEAD);
        }
    }

    /// The whole length of the PDU whose header has arrived, when its data
    /// segment is within what this side accepts (else [`poll_pdu`]
    /// refuses it without waiting for its data).
    ///
    /// [`poll_pdu`]: Self::poll_pdu
    fn arriving_len(&self) -> Option<usize> {
        let header: &[u8; BHS_LEN] = self.buf.get(..BHS_LEN)?.try_into().ok()?;
        let bhs = Bhs(*header);
        let data_len = bhs.data_len();
        (data_len <= self.max_data_len as usize).then(|| self.pdu_len(&bhs))
    }

    /// The bytes a PDU with header `bhs` takes on the wire, with this
    /// connection's digests.
    fn pdu_len(&self, bhs: &Bhs) -> usize {
        let data_len = bhs.data_len();
        let header_digest = if self.digests.header { 4 } else { 0 };
        let data_digest = if self.digests.data && data_len > 0 {
            4
        } else {
            0
        };
        BHS_LEN + bhs.ahs_len() + header_digest + data_len + padding(data_len) + data_digest
    }

    /// The next whole PDU, if one has arrived. An error means the stream
    /// cannot be trusted from here on: the connection should be closed
    /// (or, for a data digest error, the PDU rejected; its bytes are
    /// consumed either way).
    pub fn poll_pdu(&mut self) -> Result<Option<Pdu>> {
        if self.buf.len() < BHS_LEN {
            return Ok(None);
        }
        let mut bhs = Bhs([0; BHS_LEN]);
        bhs.0.copy_from_slice(&self.buf[..BHS_LEN]);
        let data_len = bhs.data_len();
        // Checked before waiting for the data, so a peer cannot make us
        // buffer more than we declared.
        if data_len > self.max_data_len as usize {
            return Err(Error::DataSegmentTooLong {
                len: data_len as u32,
                max: self.max_data_len,
            });
        }
        let ahs_len = bhs.ahs_len();
        let data_digest = if self.digests.data && data_len > 0 {
            4
        } else {
            0
        };
        let total = self.pdu_len(&bhs);
        if self.buf.len() < total {
            return Ok(None);
        }
        let mut pdu = self.buf.split_to(total).freeze();
        let header = pdu.split_to(BHS_LEN + ahs_len);
        if self.digests.header {
            let received = pdu.get_u32_le();
            let computed = crc32c_of(&[&header]);
            if received != computed {
                return Err(Error::HeaderDigest { received, computed });
            }
        }
        let padded = pdu.split_to(data_len + padding(data_len));
        if data_digest > 0 {
            let received = pdu.get_u32_le();
            let computed = crc32c_of(&[&padded]);
            if received != computed {
                self.last_header = Some(bhs);
                return Err(Error::DataDigest { received, computed });
            }
        }
        if let Err(e) = bhs.opcode() {
            self.last_header = Some(bhs);
            return Err(e);
        }
        Ok(Some(Pdu {
            bhs,
            ahs: header.slice(BHS_LEN..),
            data: padded.slice(..data_len),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn login() -> Pdu {
        let mut bhs = Bhs::new(Opcode::LoginRequest);
        bhs.set_immediate(true);
        bhs.set_final(true);
        bhs.set_itt(0x1234_5678);
        let mut pdu = Pdu::new(bhs);
        pdu.data = Bytes::from_static(b"InitiatorName=iqn.2025-09.com.example:node1\0");
        pdu
    }

    #[test]
    fn reads_land_in_place_with_room_that_grows_only_when_filled() {
        let mut decoder = Decoder::new(1 << 20);
        let room = |d: &mut Decoder| {
            let buf = d.read_buffer();
            buf.capacity() - buf.len()
        };
        let idle = room(&mut decoder);
        assert!((READ_AHEAD..2 * READ_AHEAD).contains(&idle), "{idle}");
        decoder.handle_read(10);
        assert!(
            room(&mut decoder) < 2 * READ_AHEAD,
            "a short read grows nothing"
        );
        for _ in 0..20 {
            let offered = room(&mut decoder);
            decoder.handle_read(offered);
        }
        let busy = room(&mut decoder);
        assert!(busy >= MAX_READ_AHEAD, "{busy}");

        // A header announcing a large segment gets room for all of it.
        let mut decoder = Decoder::new(1 << 20);
        let mut pdu = Pdu::new(Bhs::new(Opcode::DataOut));
        pdu.data = Bytes::from(vec![7; 512 * 1024]);
        let mut wire = BytesMut::new();
        pdu.encode(Digests::default(), &mut wire).unwrap();
        decoder.read_buffer().extend_from_slice(&wire[..BHS_LEN]);
        decoder.handle_read(BHS_LEN);
        let buf = decoder.read_buffer();
        assert!(buf.capacity() >= wire.len(), "{}", buf.capacity());
        buf.extend_from_slice(&wire[BHS_LEN..]);
        let got = decoder.poll_pdu().unwrap().unwrap();
        assert_eq!(got.data.len(), 512 * 1024);
    }

    #[test]
    fn a_login_request_is_laid_out_as_rfc_7143_says() {
        let mut out = BytesMut::new();
        login().encode(Digests::default(), &mut out).unwrap();
        assert_eq!(out[0], 0x43, "immediate + opcode 0x03");
        assert_eq!(out[1] & 0x80, 0x80, "final");
        assert_eq!(out[4], 0, "no AHS");
        assert_eq!(&out[5..8], &[0, 0, 44], "DataSegmentLength");
        assert_eq!(&out[16..20], &[0x12, 0x34, 0x56, 0x78], "ITT");
        assert_eq!(out.len(), 48 + 44, "44 bytes need no padding");
        let mut decoder = Decoder::new(8192);
        decoder.handle_bytes(&out);
        let got = decoder.poll_pdu().unwrap().expect("a whole PDU");
        assert_eq!(got.bhs.opcode(), Ok(Opcode::LoginRequest));
        assert!(got.bhs.immediate() && got.bhs.is_final());
        assert_eq!((got.bhs.itt(), got.bhs.data_len()), (0x1234_5678, 44));
        assert_eq!(got.data, login().data);
        assert_eq!(decoder.buffered(), 0);
    }

    #[test]
    fn data_is_padded_and_digested_with_its_padding() {
        let mut pdu = login();
        pdu.data = Bytes::from_static(b"abcde");
        let digests = Digests {
            header: true,
            data: true,
        };
        let mut out = BytesMut::new();
        pdu.encode(digests, &mut out).unwrap();
        assert_eq!(out.len(), 48 + 4 + 8 + 4);
        assert_eq!(&out[52..60], b"abcde\0\0\0");
        let digest = u32::from_le_bytes(out[60..64].try_into().unwrap());
        assert_eq!(digest, crate::digest::crc32c(b"abcde\0\0\0"));
    }

    #[test]
    fn an_oversized_data_segment_is_refused_before_it_arrives() {
        let mut pdu = login();
        pdu.data = Bytes::from(vec![0u8; 9000]);
        let mut out = BytesMut::new();
        pdu.encode(Digests::default(), &mut out).unwrap();
        let mut decoder = Decoder::new(8192);
        decoder.handle_bytes(&out[..BHS_LEN]);
        assert_eq!(
            decoder.poll_pdu(),
            Err(Error::DataSegmentTooLong {
                len: 9000,
                max: 8192
            })
        );
    }

    #[test]
    fn unknown_opcodes_and_bad_ahs_are_errors() {
        let mut out = BytesMut::new();
        Pdu::new(Bhs([0x3e; 48].map(|b| b & 0x3f)))
            .encode(Digests::default(), &mut out)
            .unwrap();
        let mut decoder = Decoder::new(8192);
        decoder.handle_bytes(&out);
        assert_eq!(decoder.poll_pdu(), Err(Error::Opcode(0x3e)));
        let mut pdu = login();
        pdu.ahs = Bytes::from_static(b"abc");
        assert!(pdu.encode(Digests::default(), &mut out).is_err());
    }

    fn opcode() -> impl Strategy<Value = Opcode> {
        prop::sample::select(vec![
            Opcode::NopOut,
            Opcode::ScsiCommand,
            Opcode::TaskManagement,
            Opcode::LoginRequest,
            Opcode::TextRequest,
            Opcode::DataOut,
            Opcode::LogoutRequest,
            Opcode::Snack,
            Opcode::NopIn,
            Opcode::ScsiResponse,
            Opcode::TaskManagementResponse,
            Opcode::LoginResponse,
            Opcode::TextResponse,
            Opcode::DataIn,
            Opcode::LogoutResponse,
            Opcode::R2t,
            Opcode::AsyncMessage,
            Opcode::Reject,
        ])
    }

    prop_compose! {
        fn pdu()(
            opcode in opcode(),
            header in prop::array::uniform32(any::<u8>()),
            tail in prop::array::uniform16(any::<u8>()),
            ahs_words in 0usize..4,
            ahs_byte in any::<u8>(),
            data in prop::collection::vec(any::<u8>(), 0..300),
        ) -> Pdu {
            let mut bytes = [0u8; 48];
            bytes[..32].copy_from_slice(&header);
            bytes[32..].copy_from_slice(&tail);
            bytes[0] = (bytes[0] & 0x40) | opcode as u8;
            let mut bhs = Bhs(bytes);
            // The lengths are the encoder's to set.
            bhs.0[4] = (ahs_words) as u8;
            bhs.0[5..8].copy_from_slice(&(data.len() as u32).to_be_bytes()[1..]);
            Pdu { bhs, ahs: Bytes::from(vec![ahs_byte; ahs_words * 4]), data: Bytes::from(data) }
        }
    }

    fn digests() -> impl Strategy<Value = Digests> {
        (any::<bool>(), any::<bool>()).prop_map(|(header, data)| Digests { header, data })
    }

    proptest! {
        #[test]
        fn pdus_round_trip_in_any_chunks(
            pdus in prop::collection::vec(pdu(), 1..5),
            digests in digests(),
            chunk in 1usize..100,
        ) {
            let mut wire = BytesMut::new();
            for pdu in &pdus {
                pdu.encode(digests, &mut wire).unwrap();
            }
            let mut decoder = Decoder::new(8192);
            decoder.set_digests(digests);
            let mut got = Vec::new();
            for piece in wire.chunks(chunk) {
                decoder.handle_bytes(piece);
                while let Some(pdu) = decoder.poll_pdu().unwrap() {
                    got.push(pdu);
                }
            }
            prop_assert_eq!(got, pdus);
            prop_assert_eq!(decoder.buffered(), 0);
        }

        #[test]
        fn a_flipped_bit_is_caught_by_the_digests(
            pdu in pdu(),
            bit in any::<prop::sample::Index>(),
        ) {
            let digests = Digests { header: true, data: true };
            let mut wire = BytesMut::new();
            pdu.encode(digests, &mut wire).unwrap();
            // Flip a bit outside the length fields (bytes 4-7), which would
            // only change where the PDU ends.
            let mut positions: Vec<usize> = (0..wire.len() * 8)
                .filter(|b| !(32..64).contains(b))
                .collect();
            if pdu.data.is_empty() {
                positions.retain(|b| *b < (48 + pdu.ahs.len() + 4) * 8);
            }
            let at = positions[bit.index(positions.len())];
            wire[at / 8] ^= 1 << (at % 8);
            let mut decoder = Decoder::new(8192);
            decoder.set_digests(digests);
            decoder.handle_bytes(&wire);
            let result = decoder.poll_pdu();
            let caught = matches!(
                result,
                Err(Error::HeaderDigest { .. } | Error::DataDigest { .. } | Error::Opcode(_))
            );
            prop_assert!(caught, "undetected: {result:?}");
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            bytes in prop::collection::vec(any::<u8>(), 0..400),
            digests in digests(),
            max in 0u32..10_000,
        ) {
            let mut decoder = Decoder::new(max);
            decoder.set_digests(digests);
            decoder.handle_bytes(&bytes);
            for _ in 0..10 {
                match decoder.poll_pdu() {
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break,
                }
            }
        }
    }
}
