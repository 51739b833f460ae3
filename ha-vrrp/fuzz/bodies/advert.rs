//! VRRPv2 and VRRPv3 receive: arbitrary bytes decoded as an advertisement
//! over IPv4 or IPv6, multicast or unicast, with either VRRPv3 checksum
//! convention, and with the checksum made right first (so the fuzzer gets
//! past it). It must never panic, and what it accepts must encode back to
//! an advertisement that decodes the same.

use std::net::IpAddr;

use ha_vrrp::packet::{Advert, Path};
use ha_vrrp::{Error, V3Checksum};

/// The paths an advertisement arrives on.
pub fn path(selector: u8) -> Path {
    let (src, dst) = match selector & 3 {
        0 => ("192.0.2.11", "224.0.0.18"),
        1 => ("fe80::11", "ff02::12"),
        2 => ("192.0.2.11", "192.0.2.12"),
        _ => ("fe80::11", "fe80::12"),
    };
    Path {
        src: src.parse::<IpAddr>().expect("an address"),
        dst: dst.parse::<IpAddr>().expect("an address"),
    }
}

/// The checksum convention `selector` names.
pub fn v3_checksum(selector: u8) -> V3Checksum {
    if selector & 4 == 0 {
        V3Checksum::PseudoHeader
    } else {
        V3Checksum::MessageOnly
    }
}

/// Decodes `payload`; with `fix`, a wrong checksum is replaced by the
/// right one first.
pub fn decode(payload: &[u8], path: &Path, v3: V3Checksum, fix: bool) -> Option<Advert> {
    match Advert::decode(payload, path, v3) {
        Ok(advert) => Some(advert),
        Err(Error::Checksum { computed, .. }) if fix => {
            let mut fixed = payload.to_vec();
            fixed[6..8].copy_from_slice(&computed.to_be_bytes());
            Advert::decode(&fixed, path, v3).ok()
        }
        Err(_) => None,
    }
}

/// `[selector, payload..]`: selector bits 0-1 the path, bit 2 the v3
/// checksum convention, bit 3 the checksum left as it is.
pub fn run(input: &[u8]) {
    let [selector, payload @ ..] = input else {
        return;
    };
    let path = path(*selector);
    let v3 = v3_checksum(*selector);
    let Some(advert) = decode(payload, &path, v3, selector & 8 == 0) else {
        return;
    };
    let encoded = advert
        .encode(&path, v3)
        .expect("a decoded advertisement encodes");
    let again = Advert::decode(&encoded, &path, v3).expect("an encoded advertisement decodes");
    assert_eq!(again, advert);
}
