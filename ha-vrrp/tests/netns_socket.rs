//! The advertisement socket between two network namespaces this test makes
//! (root only; skipped with a reason otherwise, required under CI=true).

#![cfg(target_os = "linux")]

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use ha_vrrp::V3Checksum;
use ha_vrrp::linux::socket::{AdvertSocket, GROUP_V4, Peers};
use ha_vrrp::packet::{Advert, Auth, Interval, Path, Version};
use support::{Pair, have_root, in_netns};

#[tokio::test]
async fn an_advert_crosses_namespaces_with_ttl_255() {
    if !have_root() {
        return;
    }
    let pair = Pair::new("havs");
    let handle = tokio::runtime::Handle::current();
    let h = handle.clone();
    let sender = in_netns(&pair.a, move || {
        let _guard = h.enter();
        AdvertSocket::open("vra", Peers::Multicast("10.199.0.1".parse().unwrap())).unwrap()
    });
    let mut receiver = in_netns(&pair.b, move || {
        let _guard = handle.enter();
        AdvertSocket::open("vrb", Peers::Multicast("10.199.0.2".parse().unwrap())).unwrap()
    });
    let advert = Advert {
        version: Version::V2,
        vrid: 51,
        priority: 150,
        interval: Interval::from_centis(100).unwrap(),
        addresses: vec!["10.199.0.100".parse().unwrap()],
        auth: Auth::password("secret123"),
    };
    let src: IpAddr = Ipv4Addr::new(10, 199, 0, 1).into();
    let path = Path {
        src,
        dst: GROUP_V4.into(),
    };
    let bytes = advert.encode(&path, V3Checksum::default()).unwrap();
    sender.send(&bytes, GROUP_V4.into()).unwrap();
    let received = tokio::time::timeout(Duration::from_secs(2), receiver.recv())
        .await
        .expect("the advert arrives")
        .unwrap();
    assert_eq!(received.src, src);
    assert_eq!(received.dst, IpAddr::from(GROUP_V4));
    assert_eq!(received.ttl, 255);
    assert_eq!(
        Advert::decode(&received.payload, &path, V3Checksum::default()).unwrap(),
        advert
    );
}
