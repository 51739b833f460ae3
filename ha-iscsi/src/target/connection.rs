//! One connection of a portal: socket bytes through the [`Decoder`] into
//! its [`Session`], the session's PDUs out, its storage operations
//! performed on the backstores, its deadlines slept on, and the portal's
//! signals (a stop, a target cold reset) passed in.

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::Signals;
use super::stats::Admitted;
use crate::backstore;
use crate::error::{Error, Operation};
use crate::pdu::Decoder;
use crate::session::{CloseReason, Event, Session, SessionConfig};

/// Serves one connection: reads PDUs into its [`Session`], writes what it
/// sends, performs its storage operations, and wakes it at its deadlines,
/// until it closes.
pub(super) async fn serve_connection(
    mut stream: TcpStream,
    config: SessionConfig,
    tsih: u16,
    signals: &Signals,
    admitted: &mut Admitted,
) -> std::io::Result<()> {
    let seed: [u8; 17] = crate::random().map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut session = Session::new(config, tsih, seed, Instant::now().into_std());
    let result = drive(&mut stream, &mut session, signals, admitted).await;
    // Whatever ended the connection, the nexus is gone.
    session.handle_disconnect();
    result
}

async fn drive(
    stream: &mut TcpStream,
    session: &mut Session,
    signals: &Signals,
    admitted: &mut Admitted,
) -> std::io::Result<()> {
    let mut decoder = Decoder::new(8192);
    let mut out = BytesMut::new();
    let mut cold_reset = signals.cold_reset.subscribe();
    let mut stopping = signals.stopping.subscribe();
    loop {
        let mut closing = None;
        // The PDUs already read, while the session takes them: not while
        // a command waits for the unit's gate (the socket is not read
        // either then; TCP holds the initiator back).
        while session.wants_input() {
            let now = Instant::now().into_std();
            match decoder.poll_pdu() {
                Ok(Some(pdu)) => session.handle_pdu(now, pdu),
                Ok(None) => break,
                Err(e) => session.handle_decode_error(now, e, decoder.last_header()),
            }
            perform_io(session, stream, &mut out).await?;
            closing = drain(session, &mut decoder, &mut out, signals, admitted)?;
            if closing.is_some() {
                break;
            }
            if out.len() >= FLUSH_AT {
                stream.write_all(&out).await?;
                out.clear();
            }
        }
        if closing.is_none() {
            // What the PDUs' answers send goes out before waiting.
            if !out.is_empty() {
                stream.write_all(&out).await?;
                out.clear();
            }
            let wake = session.poll_timeout().map(Instant::from_std);
            tokio::select! {
                read = stream.read_buf(decoder.read_buffer()), if session.wants_input() => {
                    let n = read?;
                    if n == 0 {
                        return Ok(());
                    }
                    decoder.handle_read(n);
                }
                () = async { tokio::time::sleep_until(wake.unwrap_or_else(Instant::now)).await }, if wake.is_some() => {
                    session.handle_timeout(Instant::now().into_std());
                }
                Ok(()) = cold_reset.changed() => {
                    let (target, _) = *cold_reset.borrow_and_update();
                    session.handle_cold_reset(target);
                }
                Ok(()) = stopping.changed() => {
                    if *stopping.borrow_and_update() {
                        session.handle_stop(Instant::now().into_std());
                    }
                }
            }
            // A retried storage operation (the unit's gate let it start).
            perform_io(session, stream, &mut out).await?;
            closing = drain(session, &mut decoder, &mut out, signals, admitted)?;
        }
        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
        }
        match closing {
            None => {}
            // What was queued went out; the connection ends in error.
            Some(CloseReason::Malformed(e)) => {
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e));
            }
            Some(reason) => {
                tracing::debug!(?reason, "closing the connection");
                return Ok(());
            }
        }
    }
}

/// What is encoded to send goes out once it reaches this many bytes.
const FLUSH_AT: usize = 64 * 1024;

/// Performs the session's storage operations, one at a time, handing
/// each result back before the next (reads of a file in memory and
/// non-blocking reads complete on this task, without a hand-off). What
/// each answer sends is encoded as it comes and goes out past
/// [`FLUSH_AT`], so a run of reads the CmdSN window released does not
/// pile up its Data-In.
async fn perform_io(
    session: &mut Session,
    stream: &mut TcpStream,
    out: &mut BytesMut,
) -> std::io::Result<()> {
    while let Some(io) = session.poll_io() {
        let result = match session.units().get(io.unit) {
            Some((_, unit)) => backstore::perform(unit, io.op).await,
            None => Err(Error::Io {
                operation: Operation::Other,
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("no logical unit #{}", io.unit),
                ),
            }),
        };
        session.handle_io_done(Instant::now().into_std(), io.tag, result);
        encode(session, out)?;
        if out.len() >= FLUSH_AT {
            stream.write_all(out).await?;
            out.clear();
        }
    }
    Ok(())
}

/// Encodes what the session sends into `out`.
fn encode(session: &mut Session, out: &mut BytesMut) -> std::io::Result<()> {
    while let Some(transmit) = session.poll_transmit() {
        transmit
            .encode(out)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    }
    Ok(())
}

/// Encodes what the session sends into `out` and applies its events; why
/// it closed, once it did.
fn drain(
    session: &mut Session,
    decoder: &mut Decoder,
    out: &mut BytesMut,
    signals: &Signals,
    admitted: &mut Admitted,
) -> std::io::Result<Option<CloseReason>> {
    encode(session, out)?;
    admitted.report_buffer_full(session.buffer_full());
    let mut close = None;
    while let Some(event) = session.poll_event() {
        match event {
            Event::LoggedIn {
                digests,
                max_data_segment,
                ..
            } => {
                decoder.set_digests(digests);
                decoder.set_max_data_len(max_data_segment);
                admitted.handle_logged_in();
            }
            Event::ColdReset(target) => {
                signals.cold_reset.send_modify(|(t, n)| {
                    *t = target;
                    *n += 1;
                });
            }
            Event::Close(reason) => close = Some(reason),
        }
    }
    Ok(close)
}
