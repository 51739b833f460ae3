//! The Internet checksum (RFC 1071) and the pseudo-headers VRRP uses.
//!
//! VRRPv2 checksums the VRRP message alone. VRRPv3 (RFC 9568 5.2.8)
//! prepends a pseudo-header: for IPv6 the one of RFC 8200 8.1, for IPv4 the
//! classic source/destination/zero/protocol/length block. Some IPv4
//! implementations (Cisco; keepalived with `v3_checksum_as_v2`) leave the
//! pseudo-header out, so that is a setting ([`V3Checksum`]).

use std::net::IpAddr;

/// The IP protocol number of VRRP.
pub const PROTOCOL: u8 = 112;

/// How a VRRPv3 message over IPv4 is checksummed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum V3Checksum {
    /// With the IPv4 pseudo-header, as RFC 9568 and keepalived 2.2.7 do.
    #[default]
    PseudoHeader,
    /// The message alone, as VRRPv2 and Cisco do.
    MessageOnly,
}

/// Running one's-complement sum over 16-bit words.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Sum(u32);

impl Sum {
    pub fn add(mut self, bytes: &[u8]) -> Self {
        let mut chunks = bytes.chunks_exact(2);
        for pair in &mut chunks {
            self.0 += u32::from(u16::from_be_bytes([pair[0], pair[1]]));
        }
        if let [last] = chunks.remainder() {
            self.0 += u32::from(*last) << 8;
        }
        self.fold()
    }

    fn fold(mut self) -> Self {
        while self.0 > 0xffff {
            self.0 = (self.0 & 0xffff) + (self.0 >> 16);
        }
        self
    }

    /// The checksum to put in a header: the complement of the sum.
    pub fn finish(self) -> u16 {
        !(self.fold().0 as u16)
    }
}

/// Adds the pseudo-header for a message of `length` bytes from `src` to
/// `dst` (both of one family; the caller checks).
pub(crate) fn pseudo_header(sum: Sum, src: IpAddr, dst: IpAddr, length: usize) -> Sum {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => sum
            .add(&s.octets())
            .add(&d.octets())
            .add(&[0, PROTOCOL])
            .add(&(length as u16).to_be_bytes()),
        (s, d) => {
            let (s, d) = (to_v6(s), to_v6(d));
            sum.add(&s)
                .add(&d)
                .add(&(length as u32).to_be_bytes())
                .add(&[0, 0, 0, PROTOCOL])
        }
    }
}

fn to_v6(addr: IpAddr) -> [u8; 16] {
    match addr {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: the sum of 0001 f203 f4f5 f6f7 is ddf2.
        let sum = Sum::default().add(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
        assert_eq!(sum.finish(), !0xddf2);
    }

    #[test]
    fn odd_lengths_pad_with_zero() {
        assert_eq!(
            Sum::default().add(&[0x12, 0x34, 0x56]).finish(),
            Sum::default().add(&[0x12, 0x34, 0x56, 0x00]).finish()
        );
    }

    #[test]
    fn a_message_with_its_checksum_sums_to_zero() {
        let mut message = vec![
            0x21, 0x33, 0x64, 0x01, 0x00, 0x01, 0x00, 0x00, 192, 168, 1, 100,
        ];
        let checksum = Sum::default().add(&message).finish();
        message[6..8].copy_from_slice(&checksum.to_be_bytes());
        assert_eq!(Sum::default().add(&message).finish(), 0);
    }
}
