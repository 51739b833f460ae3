//! Watching what an instance tracks.
//!
//! What it finds is reported to the instance driver, which passes it on to
//! [`Router::handle_track`] and [`Router::handle_track_value`].
//!
//! - Interfaces: rtnetlink link notifications (no polling); an interface is
//!   up while it is administratively up and running (carrier), as keepalived
//!   judges it, and down while it is missing.
//! - Scripts (`vrrp_script`): ha-core's [`Checker`] running the command on
//!   its `interval`, with its `timeout`, `rise` and `fall`; the first result
//!   decides at once.
//! - Files (`vrrp_track_file`): the whole number written in the file, read
//!   every [`FILE_POLL`] (a missing or unreadable file counts as 0, as in
//!   keepalived; anything else unparsable is logged and ignored).
//!
//! [`Router::handle_track`]: crate::Router::handle_track
//! [`Router::handle_track_value`]: crate::Router::handle_track_value

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use ha_core::{
    Checker, CheckerHandle, CommandCheck, Health, Schedule, State as HealthState, Thresholds,
};
use rtnetlink::packet_core::NetlinkPayload;
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use rtnetlink::sys::AsyncSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::security::ScriptPolicy;
use crate::config::{TrackSource, VrrpTrackFile};
use crate::error::{Error, Result};

/// How often tracked files are read.
pub const FILE_POLL: Duration = Duration::from_millis(100);

/// A tracked object's state, for the router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// An interface or script is up (`true`) or down.
    Up(bool),
    /// A tracked file's number.
    Value(i64),
}

/// The running watchers of one instance; they stop when this is dropped.
#[derive(Debug)]
pub struct Tracking {
    readings: mpsc::UnboundedReceiver<(usize, Reading)>,
    tasks: Vec<JoinHandle<()>>,
    /// Script checkers stop when their handle drops.
    _checkers: Vec<CheckerHandle>,
}

impl Tracking {
    /// Starts a watcher per source; readings carry the source's index.
    /// Must be called within a tokio runtime, in the instance's namespace.
    pub fn start(sources: &[TrackSource], policy: &ScriptPolicy) -> Result<Self> {
        let (tx, readings) = mpsc::unbounded_channel();
        let mut tracking = Self {
            readings,
            tasks: Vec::new(),
            _checkers: Vec::new(),
        };
        for (index, source) in sources.iter().enumerate() {
            let tx = tx.clone();
            match source {
                TrackSource::Interface(name) => {
                    let watch = watch_interface(name.clone(), index, tx)?;
                    tracking.tasks.push(tokio::spawn(watch));
                }
                TrackSource::Script(script) => {
                    let command =
                        policy
                            .script(&script.script)
                            .map_err(|message| Error::Config {
                                location: script.location.clone(),
                                message,
                            })?;
                    let fail = |e: ha_core::Error| Error::Config {
                        location: script.location.clone(),
                        message: e.to_string(),
                    };
                    let mut schedule = Schedule::new(script.interval).map_err(fail)?;
                    if let Some(timeout) = script.timeout {
                        schedule = schedule.timeout(timeout).map_err(fail)?;
                    }
                    let thresholds = Thresholds::new(script.rise, script.fall).map_err(fail)?;
                    let health = Health::provisional(thresholds, HealthState::Up);
                    let check = Arc::new(CommandCheck::new(command));
                    let handle = Checker::new(&script.name, check, health, schedule).spawn();
                    let mut status = handle.subscribe();
                    tracking._checkers.push(handle);
                    tracking.tasks.push(tokio::spawn(async move {
                        let mut last = None;
                        loop {
                            let (up, checks) = {
                                let s = status.borrow_and_update();
                                (s.state == HealthState::Up, s.checks)
                            };
                            if checks > 0 && last != Some(up) {
                                last = Some(up);
                                if tx.send((index, Reading::Up(up))).is_err() {
                                    return;
                                }
                            }
                            if status.changed().await.is_err() {
                                return;
                            }
                        }
                    }));
                }
                TrackSource::File(file) => {
                    init_file(file);
                    tracking
                        .tasks
                        .push(tokio::spawn(watch_file(file.clone(), index, tx)));
                }
            }
        }
        Ok(tracking)
    }

    /// The next reading; pending forever when nothing is tracked.
    pub async fn next(&mut self) -> (usize, Reading) {
        match self.readings.recv().await {
            Some(reading) => reading,
            None => std::future::pending().await,
        }
    }
}

impl Drop for Tracking {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Subscribes to link notifications, then reads the link's current state
/// (in that order, so no change falls between the two).
fn watch_interface(
    name: String,
    index: usize,
    tx: mpsc::UnboundedSender<(usize, Reading)>,
) -> Result<impl Future<Output = ()>> {
    let netlink = |e: std::io::Error| Error::Address {
        action: "watch",
        address: format!("interface {name}"),
        message: e.to_string(),
    };
    let (mut connection, handle, mut messages) = rtnetlink::new_connection().map_err(netlink)?;
    let groups = rtnetlink::sys::SocketAddr::new(0, rtnetlink::constants::RTMGRP_LINK);
    connection
        .socket_mut()
        .socket_mut()
        .bind(&groups)
        .map_err(netlink)?;
    let connection = tokio::spawn(connection);
    Ok(async move {
        let _connection = AbortOnDrop(connection);
        let mut current = {
            let mut links = handle.link().get().match_name(name.clone()).execute();
            match links.next().await {
                Some(Ok(link)) => link_up(&link),
                _ => false,
            }
        };
        if tx.send((index, Reading::Up(current))).is_err() {
            return;
        }
        while let Some((message, _)) = messages.next().await {
            let up = match message.payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(link))
                    if link_name(&link) == Some(&name) =>
                {
                    link_up(&link)
                }
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(link))
                    if link_name(&link) == Some(&name) =>
                {
                    false
                }
                _ => continue,
            };
            if up != current {
                current = up;
                tracing::info!(interface = %name, up, "tracked interface changed");
                if tx.send((index, Reading::Up(up))).is_err() {
                    return;
                }
            }
        }
    })
}

fn link_name(link: &LinkMessage) -> Option<&String> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(name) => Some(name),
        _ => None,
    })
}

fn link_up(link: &LinkMessage) -> bool {
    link.header.flags.contains(LinkFlags::Up) && link.header.flags.contains(LinkFlags::Running)
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// keepalived's `init_file`: write the initial value if asked to.
fn init_file(file: &VrrpTrackFile) {
    let Some(init) = file.init else { return };
    if (init.overwrite || !file.file.exists())
        && let Err(e) = std::fs::write(&file.file, format!("{}\n", init.value))
    {
        tracing::warn!(file = %file.file.display(), error = %e, "cannot initialise a track file");
    }
}

async fn watch_file(
    file: VrrpTrackFile,
    index: usize,
    tx: mpsc::UnboundedSender<(usize, Reading)>,
) {
    let mut last = None;
    loop {
        if let Some(value) = read_value(&file).await
            && last != Some(value)
        {
            last = Some(value);
            if tx.send((index, Reading::Value(value))).is_err() {
                return;
            }
        }
        tokio::time::sleep(FILE_POLL).await;
    }
}

/// The number in the file: 0 when it is missing or empty; `None` (ignored)
/// when it holds something else.
async fn read_value(file: &VrrpTrackFile) -> Option<i64> {
    let text = match tokio::fs::read_to_string(&file.file).await {
        Ok(text) => text,
        Err(_) => return Some(0),
    };
    let word = text.split_whitespace().next().unwrap_or("0");
    match word.parse() {
        Ok(value) => Some(value),
        Err(_) => {
            tracing::warn!(file = %file.file.display(), content = %word, "track file does not hold a whole number");
            None
        }
    }
}
