//! keepalived's script security.
//!
//! Who scripts run as (`script_user`) and, with `enable_script_security`,
//! refusing scripts that someone other than root could have changed.
//!
//! A script is refused when the program, or any directory above it, is not
//! owned by root (or the script user), or is writable by a group other than
//! root's or by everyone. keepalived logs such a script as a SECURITY
//! VIOLATION and does not run it; so does this module. Without
//! `enable_script_security` scripts run anyway, with a warning at start-up
//! when they run as root.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use ha_core::Script;

use crate::config::GlobalDefs;

/// How scripts are run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScriptPolicy {
    /// Run as this uid and gid; `None`: as the daemon's user.
    pub user: Option<(u32, u32)>,
    /// `enable_script_security`.
    pub secure: bool,
}

impl ScriptPolicy {
    /// The policy `global_defs` asks for; an unknown `script_user` is an
    /// error naming it.
    pub fn from_global(global: &GlobalDefs) -> Result<Self, String> {
        let user = match &global.script_user {
            None => None,
            Some(name) => {
                let mut words = name.split_whitespace();
                let user_name = words.next().unwrap_or_default();
                let user = nix::unistd::User::from_name(user_name)
                    .map_err(|e| format!("script_user {user_name}: {e}"))?
                    .ok_or_else(|| format!("script_user {user_name}: no such user"))?;
                let gid = match words.next() {
                    None => user.gid.as_raw(),
                    Some(group) => nix::unistd::Group::from_name(group)
                        .map_err(|e| format!("script_user group {group}: {e}"))?
                        .ok_or_else(|| format!("script_user group {group}: no such group"))?
                        .gid
                        .as_raw(),
                };
                Some((user.uid.as_raw(), gid))
            }
        };
        Ok(Self {
            user,
            secure: global.enable_script_security,
        })
    }

    /// The command line `line` as a script under this policy.
    pub fn script(&self, line: &str) -> Result<Script, String> {
        let script = crate::notify::command(line).ok_or("an empty command line")?;
        self.apply(script)
    }

    /// `script` under this policy: refused if insecure, else set to run as
    /// the script user.
    pub fn apply(&self, script: Script) -> Result<Script, String> {
        if self.secure {
            let program = resolve(Path::new(script.program()))
                .ok_or_else(|| format!("{}: not found", script.program().to_string_lossy()))?;
            let owner = self.user.map_or(0, |(uid, _)| uid);
            if let Some(why) = insecure(&program, owner) {
                return Err(format!(
                    "SECURITY VIOLATION - {} not run: {why}",
                    program.display()
                ));
            }
        }
        Ok(match self.user {
            Some((uid, gid)) => script.user(uid, gid),
            None => script,
        })
    }
}

/// The program's path: as given if it has a slash, else found in `PATH`.
fn resolve(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return Some(program.to_path_buf());
    }
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|p| p.is_file())
}

/// Why `path` could have been changed by someone other than root or
/// `owner`, if it could.
fn insecure(path: &Path, owner: u32) -> Option<String> {
    let path = path.canonicalize().ok()?;
    for part in path.ancestors() {
        let meta = match std::fs::metadata(part) {
            Ok(meta) => meta,
            Err(e) => return Some(format!("{}: {e}", part.display())),
        };
        let mode = meta.mode();
        if meta.uid() != 0 && meta.uid() != owner {
            return Some(format!("{} is owned by uid {}", part.display(), meta.uid()));
        }
        if mode & 0o002 != 0 {
            return Some(format!("{} is writable by everyone", part.display()));
        }
        if mode & 0o020 != 0 && meta.gid() != 0 {
            return Some(format!(
                "{} is writable by group {}",
                part.display(),
                meta.gid()
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_world_writable_script_is_refused_only_when_secure() {
        let dir = std::env::temp_dir().join(format!("ha-vrrp-sec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("check.sh");
        std::fs::write(&script, "exit 0\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o777)).unwrap();
        let line = script.display().to_string();
        let secure = ScriptPolicy {
            user: None,
            secure: true,
        };
        let err = secure.script(&line).unwrap_err();
        // The temporary directory (sticky, world-writable) or the file.
        assert!(err.contains("SECURITY VIOLATION"), "{err}");
        assert!(ScriptPolicy::default().script(&line).is_ok());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_root_owned_system_program_passes() {
        if !nix::unistd::Uid::effective().is_root() {
            return;
        }
        let secure = ScriptPolicy {
            user: None,
            secure: true,
        };
        assert!(secure.script("/bin/true").is_ok());
        assert!(secure.script("true").is_ok(), "found in PATH");
    }

    #[test]
    fn an_unknown_script_user_is_an_error() {
        let global = GlobalDefs {
            script_user: Some("no-such-user-here".into()),
            ..GlobalDefs::default()
        };
        let err = ScriptPolicy::from_global(&global).unwrap_err();
        assert!(err.contains("no such user"), "{err}");
    }
}
