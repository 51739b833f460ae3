//! The stable 64-bit hash behind every hash-based balancer.
//!
//! `balance source` and `balance uri` must send a client (or a path) to the
//! same server on every ha-lb instance and after every restart or upgrade, and
//! a server must keep its points on a consistent-hash ring. So the hash is
//! written down here rather than borrowed from `std` (whose `DefaultHasher`
//! may change between releases): FNV-1a over the bytes, then the MurmurHash3
//! 64-bit finalizer (`fmix64`) so that every input bit moves about half of
//! the output bits, which FNV alone does not do for short keys.
//!
//! [`HashOn`] says which part of a [`PickKey`] a hashing balancer uses.

use std::net::IpAddr;

use super::PickKey;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// What a hashing balancer ([`MapHash`](super::MapHash),
/// [`Consistent`](super::Consistent)) hashes to choose a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashOn {
    /// The client's IP address (`balance source`). An IPv4-mapped IPv6
    /// address hashes as the IPv4 address.
    Source,
    /// The request path (`balance uri`).
    Uri,
}

impl HashOn {
    /// The hash of the part of `key` this balancer uses, or `None` when the
    /// key lacks it (then HAProxy, and ha-lb, fall back to round robin).
    pub(crate) fn hash(self, key: &PickKey<'_>) -> Option<u64> {
        match self {
            HashOn::Source => key.src.map(hash_ip),
            HashOn::Uri => key.uri.map(|uri| stable_hash(uri.as_bytes())),
        }
    }
}

/// A 64-bit hash of `bytes` that is the same on every platform, build and
/// release: FNV-1a followed by the MurmurHash3 `fmix64` finalizer.
///
/// Use it to derive [`Candidate::key`](super::Candidate::key) from a
/// server's name, so that the server keeps its place on a hash ring.
pub fn stable_hash(bytes: &[u8]) -> u64 {
    Fnv::new().write(bytes).finish()
}

/// The hash of a client address.
pub(crate) fn hash_ip(ip: IpAddr) -> u64 {
    match ip.to_canonical() {
        IpAddr::V4(v4) => stable_hash(&v4.octets()),
        IpAddr::V6(v6) => stable_hash(&v6.octets()),
    }
}

/// The hash of two words, for the points of a hash ring (`a` = server key,
/// `b` = point number).
pub(crate) fn hash_pair(a: u64, b: u64) -> u64 {
    Fnv::new()
        .write(&a.to_le_bytes())
        .write(&b.to_le_bytes())
        .finish()
}

/// FNV-1a state; [`Fnv::finish`] applies the finalizer.
#[derive(Debug, Clone, Copy)]
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(FNV_OFFSET)
    }

    fn write(mut self, bytes: &[u8]) -> Self {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(FNV_PRIME);
        }
        self
    }

    fn finish(self) -> u64 {
        fmix64(self.0)
    }
}

/// MurmurHash3's 64-bit finalizer: a bijection with full avalanche.
fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    #[test]
    fn fnv_matches_the_published_vectors() {
        // Reference values of 64-bit FNV-1a (draft-eastlake-fnv).
        assert_eq!(Fnv::new().write(b"").0, 0xcbf2_9ce4_8422_2325);
        assert_eq!(Fnv::new().write(b"a").0, 0xaf63_dc4c_8601_ec8c);
        assert_eq!(Fnv::new().write(b"foobar").0, 0x8594_4171_f739_67e8);
    }

    #[test]
    fn stable_hash_is_pinned() {
        // These values must never change: other ha-lb instances, and this
        // one after an upgrade, must map clients and servers the same way.
        // Computed independently (Python) from FNV-1a + fmix64.
        assert_eq!(stable_hash(b""), 0xefd0_1f60_ba99_2926);
        assert_eq!(stable_hash(b"a"), 0x82a2_a958_a9be_ce5b);
        assert_eq!(stable_hash(b"/index.html"), 0x43f3_e2a1_af9f_1352);
    }

    #[test]
    fn every_input_bit_moves_about_half_the_output() {
        // Full avalanche: flipping one input bit flips each output bit with
        // probability 1/2, so on average 32 of 64 bits.
        let base = 0x0123_4567_89ab_cdefu64.to_le_bytes();
        let h0 = stable_hash(&base);
        let mut total = 0u32;
        for bit in 0..64 {
            let mut flipped = base;
            flipped[bit / 8] ^= 1 << (bit % 8);
            let d = (stable_hash(&flipped) ^ h0).count_ones();
            assert!(d >= 12, "bit {bit} moved only {d} output bits");
            total += d;
        }
        let mean = f64::from(total) / 64.0;
        assert!((28.0..=36.0).contains(&mean), "mean {mean}");
    }

    #[test]
    fn mapped_ipv6_hashes_as_ipv4() {
        let v4 = Ipv4Addr::new(192, 0, 2, 7);
        assert_eq!(
            hash_ip(IpAddr::V6(v4.to_ipv6_mapped())),
            hash_ip(IpAddr::V4(v4))
        );
        assert_ne!(
            hash_ip(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            hash_ip(IpAddr::V4(Ipv4Addr::LOCALHOST))
        );
    }

    #[test]
    fn hash_on_reads_the_right_field() {
        let key = PickKey {
            src: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))),
            uri: Some("/a"),
        };
        assert_eq!(HashOn::Uri.hash(&key), Some(stable_hash(b"/a")));
        assert_eq!(HashOn::Source.hash(&key), Some(stable_hash(&[10, 0, 0, 1])));
        assert_eq!(HashOn::Source.hash(&PickKey::default()), None);
        assert_eq!(HashOn::Uri.hash(&PickKey::default()), None);
    }

    #[test]
    fn pair_hash_depends_on_both_words_and_their_order() {
        assert_ne!(hash_pair(1, 2), hash_pair(2, 1));
        assert_ne!(hash_pair(1, 2), hash_pair(1, 3));
        assert_ne!(hash_pair(0, 0), hash_pair(0, 1));
    }
}
