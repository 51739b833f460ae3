//! Dropping root after the listening sockets are bound (`user`/`group` in
//! haproxy.cfg's `global`).

use nix::unistd::{Gid, Group, Uid, User, setgid, setgroups, setuid};

/// What happened to a `user`/`group` setting.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The process now runs as the asked user/group.
    Switched,
    /// Nothing was asked.
    NothingAsked,
    /// Not root: the process stays as it is (HAProxy does the same, with a warning).
    NotRoot,
}

/// Switches to `group` then `user` (names or numbers). Only root can; for
/// anyone else this is reported, not an error.
pub fn drop_to(user: Option<&str>, group: Option<&str>) -> Result<Outcome, String> {
    if user.is_none() && group.is_none() {
        return Ok(Outcome::NothingAsked);
    }
    if !Uid::effective().is_root() {
        return Ok(Outcome::NotRoot);
    }
    let uid = user.map(lookup_user).transpose()?;
    let gid = match group {
        Some(g) => Some(lookup_group(g)?),
        None => uid.as_ref().map(|(_, gid)| *gid),
    };
    if let Some(gid) = gid {
        setgroups(&[gid]).map_err(|e| format!("cannot drop supplementary groups: {e}"))?;
        setgid(gid).map_err(|e| format!("cannot set gid {gid}: {e}"))?;
    }
    if let Some((uid, _)) = uid {
        setuid(uid).map_err(|e| format!("cannot set uid {uid}: {e}"))?;
    }
    Ok(Outcome::Switched)
}

fn lookup_user(name: &str) -> Result<(Uid, Gid), String> {
    if let Ok(n) = name.parse::<u32>() {
        let uid = Uid::from_raw(n);
        let gid = User::from_uid(uid)
            .ok()
            .flatten()
            .map_or(Gid::from_raw(n), |u| u.gid);
        return Ok((uid, gid));
    }
    match User::from_name(name) {
        Ok(Some(u)) => Ok((u.uid, u.gid)),
        _ => Err(format!("unknown user '{name}'")),
    }
}

fn lookup_group(name: &str) -> Result<Gid, String> {
    if let Ok(n) = name.parse::<u32>() {
        return Ok(Gid::from_raw(n));
    }
    match Group::from_name(name) {
        Ok(Some(g)) => Ok(g.gid),
        _ => Err(format!("unknown group '{name}'")),
    }
}
