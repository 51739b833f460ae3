//! A portal's connection without a socket, as `target::connection` drives
//! one: bytes through the decoder into a [`Session`], its storage
//! operations performed on memory at once, its output encoded, and time
//! moved by the input.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use ha_iscsi::backstore::{MemoryBackstore, perform};
use ha_iscsi::initiator::InitiatorConfig;
use ha_iscsi::initiator::login::{Handshake, Next};
use ha_iscsi::login::{Auth, LoginConfig, TargetEntry};
use ha_iscsi::negotiation::{Params, TargetLimits};
use ha_iscsi::pdu::{Decoder, Digests, Pdu};
use ha_iscsi::scsi::LogicalUnit;
use ha_iscsi::session::{Event, LunMap, PortalOptions, Session, SessionConfig};
use ha_iscsi::{Error, error::Operation};

/// A target open to every initiator without authentication.
pub const OPEN: &str = "iqn.2025-09.com.example:open";
/// A target with CHAP (mutual too) and an ACL naming [`INITIATOR`].
pub const GUARDED: &str = "iqn.2025-09.com.example:guarded";
/// The initiator the ACL and the seeds name.
pub const INITIATOR: &str = "iqn.2025-09.com.example:node1";
/// [`GUARDED`]'s CHAP user and secret.
pub const CHAP: (&str, &[u8]) = ("node1", b"initiator-secret");
/// [`GUARDED`]'s own name and secret for mutual CHAP.
pub const MUTUAL: (&str, &[u8]) = ("guarded", b"target-secret-1");

/// The session's random seed: fixed, so that a CHAP exchange in a seed
/// input answers the challenge the session makes.
const SEED: [u8; 17] = [7; 17];

/// One connection of the target.
pub struct Target {
    /// The connection's core.
    pub session: Session,
    /// The session reached its full feature phase.
    pub logged_in: bool,
    decoder: Decoder,
    now: Instant,
}

impl Target {
    /// A connection just accepted by a portal serving [`OPEN`] (LUN 0 on
    /// memory, LUN 1 read-only) and [`GUARDED`] (LUN 0).
    pub fn new() -> Self {
        let unit = |name: &str| {
            let store = MemoryBackstore::new(512, 64).expect("a valid size");
            LogicalUnit::new(Arc::new(store), name)
        };
        let mut luns = LunMap::default();
        luns.map_lun(0, 0, unit("open0"));
        luns.map_lun(0, 1, unit("open1").read_only(true));
        luns.map_lun(1, 0, unit("guarded0"));
        let config = LoginConfig {
            targets: vec![
                TargetEntry {
                    name: OPEN.into(),
                    auth: Auth::None,
                    allowed: None,
                    initiator_auth: Vec::new(),
                },
                TargetEntry {
                    name: GUARDED.into(),
                    auth: Auth::Chap {
                        users: vec![(CHAP.0.into(), CHAP.1.to_vec())],
                        mutual: Some((MUTUAL.0.into(), MUTUAL.1.to_vec())),
                    },
                    allowed: Some(vec![INITIATOR.into()]),
                    initiator_auth: Vec::new(),
                },
            ],
            discovery_auth: Auth::None,
            portal_group_tag: 1,
            limits: TargetLimits::default(),
        };
        let now = Instant::now();
        let config = SessionConfig {
            config: Arc::new(config),
            luns: Arc::new(luns),
            advertised: Arc::new(vec!["192.0.2.1:3260".into(), "[2001:db8::1]:3260".into()]),
            options: PortalOptions::default(),
        };
        Self {
            session: Session::new(config, 1, SEED, now),
            logged_in: false,
            decoder: Decoder::new(8192),
            now,
        }
    }

    /// Takes bytes from the initiator; gives back what the target sent.
    pub fn feed(&mut self, bytes: &[u8]) -> BytesMut {
        let mut out = BytesMut::new();
        if self.session.is_closed() {
            return out;
        }
        self.decoder.handle_bytes(bytes);
        // The driver stops reading once the session closes.
        while !self.session.is_closed() {
            match self.decoder.poll_pdu() {
                Ok(Some(pdu)) => self.session.handle_pdu(self.now, pdu),
                Ok(None) => break,
                Err(e) => {
                    let header = self.decoder.last_header();
                    self.session.handle_decode_error(self.now, e, header);
                }
            }
            self.drain(&mut out);
        }
        out
    }

    /// Lets `seconds` pass; gives back what the target sent.
    pub fn wait(&mut self, seconds: u8) -> BytesMut {
        self.now += Duration::from_secs(u64::from(seconds));
        self.session.handle_timeout(self.now);
        let mut out = BytesMut::new();
        self.drain(&mut out);
        out
    }

    /// Performs the session's storage operations, encodes what it sends
    /// and applies its events.
    fn drain(&mut self, out: &mut BytesMut) {
        while let Some(io) = self.session.poll_io() {
            let result = match self.session.units().get(io.unit) {
                Some((_, unit)) => ready(perform(unit, io.op)),
                None => Err(Error::Io {
                    operation: Operation::Other,
                    source: std::io::ErrorKind::NotFound.into(),
                }),
            };
            self.session.handle_io_done(self.now, io.tag, result);
        }
        while let Some(transmit) = self.session.poll_transmit() {
            transmit
                .encode(out)
                .expect("what the session sends encodes");
        }
        while let Some(event) = self.session.poll_event() {
            if let Event::LoggedIn {
                digests,
                max_data_segment,
                ..
            } = event
            {
                self.logged_in = true;
                self.decoder.set_digests(digests);
                self.decoder.set_max_data_len(max_data_segment);
            }
        }
    }

    /// Logs `initiator` in to `target` (`None`: discovery) as an initiator
    /// would; the parameters agreed, or `None` if the login failed. The
    /// bytes the initiator sent are appended to `sent`.
    pub fn log_in(
        &mut self,
        initiator: InitiatorConfig,
        target: Option<&str>,
        sent: &mut Vec<u8>,
    ) -> Option<Params> {
        let (mut handshake, first) = Handshake::new(
            initiator,
            target.map(str::to_owned),
            [0x40, 0, 0, 0, 0, 1],
            (3, [5; 16]),
        );
        let mut request = first;
        loop {
            let bytes = encode(&[request], Digests::default());
            sent.extend_from_slice(&bytes);
            let answer = self.feed(&bytes);
            let mut decoder = Decoder::new(1 << 24);
            decoder.handle_bytes(&answer);
            let response = decoder.poll_pdu().ok()??;
            match handshake.handle_response(&response).ok()? {
                Next::Send(next) => request = next,
                Next::Done { params, .. } => return Some(params),
            }
        }
    }
}

/// The wire form of `pdus`.
pub fn encode(pdus: &[Pdu], digests: Digests) -> BytesMut {
    let mut out = BytesMut::new();
    for pdu in pdus {
        pdu.encode(digests, &mut out)
            .expect("a PDU built here encodes");
    }
    out
}

/// An initiator named [`INITIATOR`], offering digests as `flags` say
/// (bit 0 header, bit 1 data) and CHAP with [`CHAP`], mutual with bit 2.
pub fn initiator(flags: u8) -> InitiatorConfig {
    let mut config = InitiatorConfig::new(INITIATOR)
        .with_isid([0x40, 0, 0, 0, 0, 1])
        .with_chap(CHAP.0, CHAP.1);
    if flags & 4 != 0 {
        config = config.with_mutual_chap(MUTUAL.0, MUTUAL.1);
    }
    config.header_digest = flags & 1 != 0;
    config.data_digest = flags & 2 != 0;
    config
}

/// The digests a login agreed on.
pub fn digests(params: &Params) -> Digests {
    Digests {
        header: params.header_digest,
        data: params.data_digest,
    }
}

/// Runs a future that never waits (the memory backstore's); a future that
/// would wait counts as a failed operation.
fn ready<F: Future<Output = ha_iscsi::Result<T>>, T>(future: F) -> ha_iscsi::Result<T> {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => Err(Error::Io {
            operation: Operation::Other,
            source: std::io::ErrorKind::WouldBlock.into(),
        }),
    }
}
