//! VRRP advertisements on the wire.
//!
//! VRRPv2 (RFC 3768, with RFC 2338's clear-text password) and VRRPv3 (RFC
//! 9568, formerly 5798) for IPv4 and IPv6.
//!
//! Decoding checks what RFC 9568 7.1 asks of a receiver that the bytes alone
//! can tell (version, type, length, checksum, non-zero interval, at least
//! one address); what needs configuration (VRID, TTL 255, authentication)
//! is the router's business. Nothing here panics on any input.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use crate::checksum::{self, Sum, V3Checksum};
use crate::error::{Error, Result};

/// Fixed header length of both versions.
const HEADER: usize = 8;
/// VRRPv2 authentication data length.
const AUTH_DATA: usize = 8;
/// The only message type: advertisement.
const ADVERTISEMENT: u8 = 1;

/// The protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// RFC 3768: IPv4 only, interval in seconds, optional password.
    V2,
    /// RFC 9568: IPv4 and IPv6, interval in centiseconds.
    V3,
}

impl Version {
    fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
}

/// VRRPv2 authentication (RFC 2338; RFC 3768 keeps the field but drops the
/// schemes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Auth {
    /// Type 0.
    #[default]
    None,
    /// Type 1: a clear-text password, zero-padded to 8 bytes.
    Password([u8; 8]),
}

impl Auth {
    /// A password as keepalived takes it: the first 8 bytes, zero-padded.
    pub fn password(text: &str) -> Self {
        let mut bytes = [0u8; 8];
        for (b, t) in bytes.iter_mut().zip(text.bytes()) {
            *b = t;
        }
        Auth::Password(bytes)
    }
}

/// The advertisement interval, in the centiseconds VRRPv3 carries (VRRPv2
/// carries whole seconds, up to 255; VRRPv3 up to 40.95 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Interval(u16);

impl Interval {
    /// Largest interval either version carries: VRRPv2's 255 s.
    pub const MAX_CENTIS: u16 = 25_500;
    /// Largest interval VRRPv3's 12-bit field holds: 40.95 s.
    pub const MAX_V3_CENTIS: u16 = 4095;

    /// An interval of `centis` hundredths of a second (1..=25500).
    pub fn from_centis(centis: u16) -> Option<Self> {
        (1..=Self::MAX_CENTIS)
            .contains(&centis)
            .then_some(Self(centis))
    }

    /// The nearest interval to `d`, if it is representable (10 ms to 255 s).
    pub fn from_duration(d: Duration) -> Option<Self> {
        let centis = (d.as_millis() + 5) / 10;
        u16::try_from(centis).ok().and_then(Self::from_centis)
    }

    /// In centiseconds.
    pub fn centis(self) -> u16 {
        self.0
    }

    /// As a duration.
    pub fn duration(self) -> Duration {
        Duration::from_millis(u64::from(self.0) * 10)
    }
}

/// Where an advertisement travels: the IP source and destination that
/// VRRPv3's checksum covers, and that tell the address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Path {
    /// The sender's address (the interface's primary or link-local address).
    pub src: IpAddr,
    /// 224.0.0.18, ff02::12, or a unicast peer.
    pub dst: IpAddr,
}

impl Path {
    fn is_ipv4(&self) -> bool {
        self.src.is_ipv4()
    }
}

/// A VRRP advertisement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advert {
    /// Protocol version.
    pub version: Version,
    /// Virtual router id, 1..=255 (0 is decoded, and left to the router to refuse).
    pub vrid: u8,
    /// Priority: 255 = address owner, 0 = the master is leaving.
    pub priority: u8,
    /// (Maximum) advertisement interval.
    pub interval: Interval,
    /// The virtual addresses, all of the path's family.
    pub addresses: Vec<IpAddr>,
    /// VRRPv2 authentication; always [`Auth::None`] for VRRPv3.
    pub auth: Auth,
}

impl Advert {
    /// The message as sent in the IP payload.
    pub fn encode(&self, path: &Path, v3: V3Checksum) -> Result<Vec<u8>> {
        let ipv4 = path.is_ipv4();
        if path.src.is_ipv4() != path.dst.is_ipv4()
            || self.addresses.iter().any(|a| a.is_ipv4() != ipv4)
        {
            return Err(Error::Family);
        }
        if self.addresses.is_empty() {
            return Err(Error::NoAddresses);
        }
        let count = u8::try_from(self.addresses.len())
            .map_err(|_| Error::Unencodable("more than 255 addresses"))?;
        let mut out = Vec::with_capacity(HEADER + self.addresses.len() * 16 + AUTH_DATA);
        out.push((self.version.number() << 4) | ADVERTISEMENT);
        out.push(self.vrid);
        out.push(self.priority);
        out.push(count);
        match self.version {
            Version::V2 => {
                if !ipv4 {
                    return Err(Error::Unencodable("VRRPv2 carries IPv4 only"));
                }
                let centis = self.interval.centis();
                if !centis.is_multiple_of(100) {
                    return Err(Error::Unencodable("VRRPv2 intervals are whole seconds"));
                }
                let seconds = u8::try_from(centis / 100)
                    .map_err(|_| Error::Unencodable("VRRPv2 intervals are at most 255 s"))?;
                let auth_type = match self.auth {
                    Auth::None => 0,
                    Auth::Password(_) => 1,
                };
                out.extend_from_slice(&[auth_type, seconds, 0, 0]);
            }
            Version::V3 => {
                if self.auth != Auth::None {
                    return Err(Error::Unencodable("VRRPv3 has no authentication"));
                }
                if self.interval.centis() > Interval::MAX_V3_CENTIS {
                    return Err(Error::Unencodable("VRRPv3 intervals are at most 40.95 s"));
                }
                out.extend_from_slice(&self.interval.centis().to_be_bytes());
                out.extend_from_slice(&[0, 0]);
            }
        }
        for address in &self.addresses {
            match address {
                IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
                IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
            }
        }
        if self.version == Version::V2 {
            match self.auth {
                Auth::None => out.extend_from_slice(&[0; AUTH_DATA]),
                Auth::Password(p) => out.extend_from_slice(&p),
            }
        }
        let sum = checksum_of(&out, self.version, path, v3);
        out[6..8].copy_from_slice(&sum.to_be_bytes());
        Ok(out)
    }

    /// Parses the IP payload of a received advertisement.
    pub fn decode(payload: &[u8], path: &Path, v3: V3Checksum) -> Result<Self> {
        if payload.len() < HEADER {
            return Err(Error::Truncated {
                len: payload.len(),
                needed: HEADER,
            });
        }
        let version = match payload[0] >> 4 {
            2 => Version::V2,
            3 => Version::V3,
            other => return Err(Error::Version(other)),
        };
        let kind = payload[0] & 0x0f;
        if kind != ADVERTISEMENT {
            return Err(Error::Type(kind));
        }
        let ipv4 = path.is_ipv4();
        if version == Version::V2 && !ipv4 {
            return Err(Error::UnexpectedVersion { version: 2 });
        }
        let count = usize::from(payload[3]);
        if count == 0 {
            return Err(Error::NoAddresses);
        }
        let width = if ipv4 { 4 } else { 16 };
        let needed = HEADER + count * width + if version == Version::V2 { AUTH_DATA } else { 0 };
        if payload.len() < needed {
            return Err(Error::Truncated {
                len: payload.len(),
                needed,
            });
        }
        let received = u16::from_be_bytes([payload[6], payload[7]]);
        let mut zeroed = payload.to_vec();
        zeroed[6] = 0;
        zeroed[7] = 0;
        let computed = checksum_of(&zeroed, version, path, v3);
        if computed != received {
            return Err(Error::Checksum { computed, received });
        }
        let (interval, auth) = match version {
            Version::V2 => {
                let seconds = payload[5];
                let auth = match payload[4] {
                    0 => Auth::None,
                    1 => {
                        let start = HEADER + count * width;
                        let mut p = [0u8; 8];
                        p.copy_from_slice(&payload[start..start + AUTH_DATA]);
                        Auth::Password(p)
                    }
                    other => return Err(Error::AuthType(other)),
                };
                (u16::from(seconds) * 100, auth)
            }
            Version::V3 => (
                u16::from_be_bytes([payload[4], payload[5]]) & 0x0fff,
                Auth::None,
            ),
        };
        let interval = Interval::from_centis(interval).ok_or(Error::ZeroInterval)?;
        let addresses = payload[HEADER..HEADER + count * width]
            .chunks_exact(width)
            .map(|chunk| match chunk.len() {
                4 => IpAddr::V4(Ipv4Addr::new(chunk[0], chunk[1], chunk[2], chunk[3])),
                _ => {
                    let mut octets = [0u8; 16];
                    octets.copy_from_slice(chunk);
                    IpAddr::V6(Ipv6Addr::from(octets))
                }
            })
            .collect();
        Ok(Self {
            version,
            vrid: payload[1],
            priority: payload[2],
            interval,
            addresses,
            auth,
        })
    }
}

/// The checksum of `message` (its checksum field zero) as `version` computes it.
fn checksum_of(message: &[u8], version: Version, path: &Path, v3: V3Checksum) -> u16 {
    let with_pseudo = match version {
        Version::V2 => false,
        Version::V3 => !path.is_ipv4() || v3 == V3Checksum::PseudoHeader,
    };
    let sum = if with_pseudo {
        checksum::pseudo_header(Sum::default(), path.src, path.dst, message.len())
    } else {
        Sum::default()
    };
    sum.add(message).finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v4_path() -> Path {
        Path {
            src: "192.168.122.10".parse().unwrap(),
            dst: "224.0.0.18".parse().unwrap(),
        }
    }

    fn v6_path() -> Path {
        Path {
            src: "fe80::1".parse().unwrap(),
            dst: "ff02::12".parse().unwrap(),
        }
    }

    fn chapter_v2() -> Advert {
        Advert {
            version: Version::V2,
            vrid: 51,
            priority: 150,
            interval: Interval::from_centis(100).unwrap(),
            addresses: vec!["192.168.122.100".parse().unwrap()],
            auth: Auth::password("secret123"),
        }
    }

    #[test]
    fn the_chapters_v2_advert_byte_for_byte() {
        let bytes = chapter_v2()
            .encode(&v4_path(), V3Checksum::default())
            .unwrap();
        let mut expected = vec![
            0x21, 51, 150, 1, // version 2 type 1, vrid, priority, count
            1, 1, 0, 0, // auth type 1, interval 1 s, checksum (below)
            192, 168, 122, 100, // the VIP
        ];
        // keepalived truncates "secret123" to 8 bytes.
        expected.extend_from_slice(b"secret12");
        let sum = Sum::default().add(&expected).finish();
        expected[6..8].copy_from_slice(&sum.to_be_bytes());
        assert_eq!(bytes, expected);
        assert_eq!(
            Advert::decode(&bytes, &v4_path(), V3Checksum::default()).unwrap(),
            chapter_v2()
        );
    }

    #[test]
    fn v3_over_ipv4_checksum_modes_differ_and_must_match() {
        let advert = Advert {
            version: Version::V3,
            interval: Interval::from_centis(20).unwrap(),
            auth: Auth::None,
            ..chapter_v2()
        };
        let rfc = advert.encode(&v4_path(), V3Checksum::PseudoHeader).unwrap();
        let cisco = advert.encode(&v4_path(), V3Checksum::MessageOnly).unwrap();
        assert_ne!(rfc[6..8], cisco[6..8]);
        assert_eq!(rfc[4..6], [0x00, 20]);
        assert!(Advert::decode(&rfc, &v4_path(), V3Checksum::PseudoHeader).is_ok());
        assert!(Advert::decode(&cisco, &v4_path(), V3Checksum::MessageOnly).is_ok());
        assert!(matches!(
            Advert::decode(&rfc, &v4_path(), V3Checksum::MessageOnly),
            Err(Error::Checksum { .. })
        ));
        // The pseudo-header covers the destination: a unicast peer differs.
        let unicast = Path {
            dst: "192.168.122.11".parse().unwrap(),
            ..v4_path()
        };
        assert!(matches!(
            Advert::decode(&rfc, &unicast, V3Checksum::PseudoHeader),
            Err(Error::Checksum { .. })
        ));
    }

    #[test]
    fn v3_over_ipv6_always_uses_the_pseudo_header() {
        let advert = Advert {
            version: Version::V3,
            vrid: 7,
            priority: 100,
            interval: Interval::from_centis(100).unwrap(),
            addresses: vec![
                "fe80::100".parse().unwrap(),
                "2001:db8::100".parse().unwrap(),
            ],
            auth: Auth::None,
        };
        let a = advert.encode(&v6_path(), V3Checksum::PseudoHeader).unwrap();
        let b = advert.encode(&v6_path(), V3Checksum::MessageOnly).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), HEADER + 32);
        assert_eq!(
            Advert::decode(&a, &v6_path(), V3Checksum::MessageOnly).unwrap(),
            advert
        );
    }

    #[test]
    fn receivers_refuse_what_the_rfc_says_to_drop() {
        let path = v4_path();
        let good = chapter_v2().encode(&path, V3Checksum::default()).unwrap();
        let decode = |b: &[u8]| Advert::decode(b, &path, V3Checksum::default());
        assert!(matches!(decode(&good[..7]), Err(Error::Truncated { .. })));
        assert!(matches!(
            decode(&good[..good.len() - 1]),
            Err(Error::Truncated { .. })
        ));
        let mut bad = good.clone();
        bad[0] = 0x41;
        assert_eq!(decode(&bad), Err(Error::Version(4)));
        bad[0] = 0x22;
        assert_eq!(decode(&bad), Err(Error::Type(2)));
        let mut bad = good.clone();
        bad[3] = 0;
        assert_eq!(decode(&bad), Err(Error::NoAddresses));
        let mut bad = good.clone();
        bad[12] ^= 0x01;
        assert!(matches!(decode(&bad), Err(Error::Checksum { .. })));
        // v2 over IPv6 does not exist.
        assert_eq!(
            Advert::decode(&good, &v6_path(), V3Checksum::default()),
            Err(Error::UnexpectedVersion { version: 2 })
        );
        // Interval zero, with a checksum that is right for it.
        let mut zero = good.clone();
        zero[5] = 0;
        zero[6] = 0;
        zero[7] = 0;
        let sum = Sum::default().add(&zero).finish();
        zero[6..8].copy_from_slice(&sum.to_be_bytes());
        assert_eq!(decode(&zero), Err(Error::ZeroInterval));
    }

    #[test]
    fn what_cannot_be_sent_is_an_error() {
        let p = v4_path();
        let mut a = chapter_v2();
        a.interval = Interval::from_centis(50).unwrap();
        assert!(matches!(
            a.encode(&p, V3Checksum::default()),
            Err(Error::Unencodable(_))
        ));
        let mut a = chapter_v2();
        a.addresses.push("2001:db8::1".parse().unwrap());
        assert_eq!(a.encode(&p, V3Checksum::default()), Err(Error::Family));
        let mut a = chapter_v2();
        a.addresses.clear();
        assert_eq!(a.encode(&p, V3Checksum::default()), Err(Error::NoAddresses));
        assert!(Interval::from_centis(0).is_none());
        assert!(Interval::from_centis(25_501).is_none());
        let mut a = chapter_v2();
        a.version = Version::V3;
        a.auth = Auth::None;
        a.interval = Interval::from_centis(4096).unwrap();
        assert!(matches!(
            a.encode(&p, V3Checksum::default()),
            Err(Error::Unencodable(_))
        ));
        assert_eq!(
            Interval::from_duration(Duration::from_millis(200))
                .unwrap()
                .centis(),
            20
        );
    }

    fn any_advert(ipv4: bool) -> impl Strategy<Value = Advert> {
        let addr = if ipv4 {
            any::<[u8; 4]>().prop_map(IpAddr::from).boxed()
        } else {
            any::<[u8; 16]>().prop_map(IpAddr::from).boxed()
        };
        (
            any::<bool>(),
            any::<u8>(),
            any::<u8>(),
            1u16..=4095,
            prop::collection::vec(addr, 1..20),
            prop::option::of(any::<[u8; 8]>()),
        )
            .prop_map(move |(v2, vrid, priority, centis, addresses, password)| {
                let v2 = v2 && ipv4;
                Advert {
                    version: if v2 { Version::V2 } else { Version::V3 },
                    vrid,
                    priority,
                    interval: Interval::from_centis(if v2 {
                        (centis % 255 + 1) * 100
                    } else {
                        centis
                    })
                    .unwrap(),
                    addresses,
                    auth: match (v2, password) {
                        (true, Some(p)) => Auth::Password(p),
                        _ => Auth::None,
                    },
                }
            })
    }

    proptest! {
        #[test]
        fn round_trip_ipv4(advert in any_advert(true), cisco in any::<bool>()) {
            let mode = if cisco { V3Checksum::MessageOnly } else { V3Checksum::PseudoHeader };
            let bytes = advert.encode(&v4_path(), mode).unwrap();
            prop_assert_eq!(Advert::decode(&bytes, &v4_path(), mode).unwrap(), advert);
        }

        #[test]
        fn round_trip_ipv6(advert in any_advert(false)) {
            let bytes = advert.encode(&v6_path(), V3Checksum::PseudoHeader).unwrap();
            prop_assert_eq!(Advert::decode(&bytes, &v6_path(), V3Checksum::PseudoHeader).unwrap(), advert);
        }

        #[test]
        fn any_single_bit_flip_is_caught(advert in any_advert(true), bit in 0usize..96) {
            let mut bytes = advert.encode(&v4_path(), V3Checksum::PseudoHeader).unwrap();
            let bit = bit % (bytes.len() * 8);
            bytes[bit / 8] ^= 1 << (bit % 8);
            prop_assert_ne!(
                Advert::decode(&bytes, &v4_path(), V3Checksum::PseudoHeader).ok(),
                Some(advert)
            );
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
            for path in [v4_path(), v6_path()] {
                for mode in [V3Checksum::PseudoHeader, V3Checksum::MessageOnly] {
                    let _ = Advert::decode(&bytes, &path, mode);
                }
            }
        }
    }
}
