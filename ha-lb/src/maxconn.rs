//! The process-wide connection limit (`global` `maxconn`) when the
//! configuration sets none: computed from the file-descriptor limit, as
//! HAProxy does.
//!
//! HAProxy (2.6 and later; `compute_ideal_maxconn` in its `src/limits.c`)
//! starts from the larger of the soft and hard `RLIMIT_NOFILE` it had at
//! boot (it raises its soft limit to what it needs), capped at
//! `DEFAULT_MAXFD` (1,048,576) when no limit is configured at all, so that
//! an enormous hard limit does not size its tables for a billion
//! descriptors. From that it subtracts the descriptors the configuration
//! itself holds (listeners, checks) and, when splicing, two per pipe, then
//! divides by two: each proxied connection holds a client and a server
//! socket. The result is never below `DEFAULT_MAXCONN` (100): HAProxy then
//! still starts on a tight limit and warns.
//!
//! ha-lb computes the same from the *soft* limit, the one the process can
//! use without changing it (the `ha-lb` binary raises its soft limit to the
//! hard one first, as HAProxy does): the same 1,048,576 cap, one descriptor
//! per listener and per checked server, a fixed reserve of
//! [`RESERVED_FDS`] for the process itself (standard streams, the runtime's
//! poller and wake-up descriptors, log sockets, the pid file), no pipes
//! (ha-lb does not splice), divided by two, and at least [`FLOOR`].

/// Descriptors counted as the fd limit when the limit is higher or
/// unlimited: HAProxy's `DEFAULT_MAXFD`.
pub const FD_CAP: u64 = 1_048_576;

/// The least automatic limit, however few descriptors there are:
/// HAProxy's `DEFAULT_MAXCONN`.
pub const FLOOR: u32 = 100;

/// Descriptors kept for the process itself rather than for connections.
pub const RESERVED_FDS: u64 = 16;

/// The automatic `maxconn` for a process allowed `fd_limit` open
/// descriptors whose configuration holds `config_fds` of them (one per
/// listener and per checked server).
///
/// ```
/// use ha_lb::maxconn;
/// // ulimit -n 1024, two listeners, two checked servers:
/// assert_eq!(maxconn::automatic(1024, 4), (1024 - 4 - 16) / 2);
/// assert_eq!(maxconn::automatic(64, 1), maxconn::FLOOR);
/// ```
pub fn automatic(fd_limit: u64, config_fds: u64) -> u32 {
    let remain = fd_limit
        .min(FD_CAP)
        .saturating_sub(config_fds)
        .saturating_sub(RESERVED_FDS);
    u32::try_from(remain / 2).unwrap_or(u32::MAX).max(FLOOR)
}

/// This process's soft `RLIMIT_NOFILE` (`ulimit -n`); unlimited, or
/// unreadable, reads as [`FD_CAP`].
pub fn fd_limit() -> u64 {
    match nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE) {
        Ok((soft, _hard)) if soft != nix::sys::resource::RLIM_INFINITY => soft,
        _ => FD_CAP,
    }
}

/// Raises this process's soft `RLIMIT_NOFILE` to its hard limit (at most
/// [`FD_CAP`]), as HAProxy does at start, and returns the soft limit now in
/// force. Meant for a daemon's `main`, before [`LoadBalancer::bind`](crate::LoadBalancer::bind):
/// a library embedding ha-lb keeps whatever limit its process chose.
pub fn raise_fd_limit() -> std::io::Result<u64> {
    use nix::sys::resource::{RLIM_INFINITY, Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    let wanted = if hard == RLIM_INFINITY {
        FD_CAP
    } else {
        hard.min(FD_CAP)
    };
    if soft != RLIM_INFINITY && soft < wanted {
        setrlimit(Resource::RLIMIT_NOFILE, wanted, hard)?;
    }
    Ok(fd_limit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_fd_limit_between_the_floor_and_the_cap() {
        // Half of what is left once the configuration and the process took theirs.
        assert_eq!(automatic(4096, 0), (4096 - RESERVED_FDS as u32) / 2);
        assert_eq!(automatic(4096, 100), (4096 - 100 - RESERVED_FDS as u32) / 2);
        // A tight limit still gets HAProxy's 100.
        assert_eq!(automatic(150, 0), FLOOR);
        assert_eq!(automatic(0, 10), FLOOR);
        // An unlimited or huge limit counts as 1,048,576 descriptors.
        let capped = (FD_CAP - RESERVED_FDS) / 2;
        assert_eq!(u64::from(automatic(u64::MAX, 0)), capped);
        assert_eq!(u64::from(automatic(1 << 40, 0)), capped);
    }

    /// One test, so that no other test of this process changes the limit
    /// between reading and comparing.
    #[test]
    fn the_limit_read_is_the_soft_one_and_raising_reaches_the_hard_one_up_to_the_cap() {
        use nix::sys::resource::{RLIM_INFINITY, Resource, getrlimit};
        let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        let read = if soft == RLIM_INFINITY { FD_CAP } else { soft };
        assert_eq!(fd_limit(), read);
        let raised = raise_fd_limit().unwrap();
        let expected = if hard == RLIM_INFINITY {
            FD_CAP
        } else {
            hard.min(FD_CAP)
        };
        assert!(raised >= expected, "{raised} < {expected}");
        assert_eq!(raised, fd_limit());
    }
}
