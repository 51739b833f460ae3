//! Running external programs: notify hooks, command checks, resource and
//! fence agents.
//!
//! keepalived's `notify_master`, Pacemaker's OCF agents and fence agents are
//! all programs run with arguments, an environment and a deadline. This
//! runner gives them one behaviour:
//!
//! - argv is passed as is, with no shell, unless [`Script::shell`] asks for
//!   `sh -c`; an argument like `$HOME` reaches the program literally;
//! - standard input is empty; standard output and error are captured (up to a
//!   limit) and returned with the exit status;
//! - the program runs in its own process group, so a timeout kills it and
//!   everything it started (a `sh -c 'sleep 60 & ...'` leaves nothing behind);
//! - everything is asynchronous: the caller's runtime is never blocked.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::task::JoinHandle;

use crate::error::{Error, Result};

/// Output beyond this many bytes per stream is read and discarded.
const DEFAULT_OUTPUT_LIMIT: usize = 1 << 20;
/// How long to wait for the output pipes to close once the program has ended.
const PIPE_GRACE: Duration = Duration::from_millis(500);

/// A program to run, with its arguments, environment and deadline.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), ha_core::Error> {
/// use std::time::Duration;
/// use ha_core::{Script, ScriptStatus};
///
/// let out = Script::new("printf")
///     .arg("%s")
///     .arg("$HOME is not expanded")
///     .timeout(Duration::from_secs(5))
///     .run()
///     .await?;
/// assert_eq!(out.status, ScriptStatus::Exited(0));
/// assert_eq!(out.stdout, b"$HOME is not expanded");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Script {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    current_dir: Option<PathBuf>,
    timeout: Option<Duration>,
    output_limit: usize,
    /// Run as this uid and gid (keepalived's `script_user`).
    user: Option<(u32, u32)>,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptStatus {
    /// The program exited with this code.
    Exited(i32),
    /// A signal ended the program.
    Signaled(i32),
    /// The deadline passed; the program's process group was killed.
    TimedOut(Duration),
}

impl ScriptStatus {
    /// Exit code 0.
    pub fn success(&self) -> bool {
        *self == ScriptStatus::Exited(0)
    }

    fn from_exit(status: ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(code), _) => ScriptStatus::Exited(code),
            (None, Some(signal)) => ScriptStatus::Signaled(signal),
            // Neither is only possible for stopped/continued statuses,
            // which `wait` does not report.
            (None, None) => ScriptStatus::Signaled(0),
        }
    }
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct ScriptOutput {
    /// How it ended.
    pub status: ScriptStatus,
    /// Standard output, up to the output limit.
    pub stdout: Vec<u8>,
    /// Standard error, up to the output limit.
    pub stderr: Vec<u8>,
}

impl ScriptOutput {
    /// The last few lines of standard error as text, for log lines and
    /// check reasons.
    pub fn stderr_tail(&self) -> String {
        const MAX: usize = 512;
        let text = String::from_utf8_lossy(&self.stderr);
        let text = text.trim_end();
        if text.len() <= MAX {
            return text.to_owned();
        }
        let mut start = text.len() - MAX;
        while !text.is_char_boundary(start) {
            start += 1;
        }
        format!("...{}", &text[start..])
    }
}

impl Script {
    /// Runs `program` directly (looked up in `PATH` if it has no slash).
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Self {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            current_dir: None,
            timeout: None,
            output_limit: DEFAULT_OUTPUT_LIMIT,
            user: None,
        }
    }

    /// Runs `command_line` through `sh -c`, for configurations that ask for
    /// a shell (pipes, redirections, variables).
    pub fn shell(command_line: impl AsRef<OsStr>) -> Self {
        Self::new("/bin/sh").arg("-c").arg(command_line)
    }

    /// Appends one argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Appends arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable (the rest of the environment is inherited).
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Sets the working directory.
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.current_dir = Some(dir.into());
        self
    }

    /// Kills the program (and its process group) if it runs longer.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Caps how many bytes of each output stream are kept.
    pub fn output_limit(mut self, bytes: usize) -> Self {
        self.output_limit = bytes;
        self
    }

    /// Runs the program as user `uid` and group `gid` (the caller must be
    /// allowed to switch, i.e. root), with no supplementary groups beyond
    /// what the system gives that gid.
    pub fn user(mut self, uid: u32, gid: u32) -> Self {
        self.user = Some((uid, gid));
        self
    }

    /// The program as it will be run, for log lines.
    pub fn program(&self) -> &OsStr {
        &self.program
    }

    /// Runs the program to completion or to its deadline.
    ///
    /// Errors only if the program cannot be started or waited for; an exit
    /// code, a signal or a timeout are reported in [`ScriptOutput::status`].
    pub async fn run(&self) -> Result<ScriptOutput> {
        let name = || self.program.to_string_lossy().into_owned();
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        if let Some(dir) = &self.current_dir {
            command.current_dir(dir);
        }
        if let Some((uid, gid)) = self.user {
            command.uid(uid).gid(gid);
        }
        let mut child = command.spawn().map_err(|source| Error::Spawn {
            program: name(),
            source,
        })?;
        // The child leads its own group, so its pid is the group id.
        let group = child.id().map(|pid| Pid::from_raw(pid as i32));
        let mut group_guard = GroupKiller(group);
        let stdout = Capture::spawn(child.stdout.take(), self.output_limit);
        let stderr = Capture::spawn(child.stderr.take(), self.output_limit);

        let waited = match self.timeout {
            Some(limit) => tokio::time::timeout(limit, child.wait()).await.ok(),
            None => Some(child.wait().await),
        };
        let status = match waited {
            Some(Ok(exit)) => ScriptStatus::from_exit(exit),
            Some(Err(source)) => {
                return Err(Error::Wait {
                    program: name(),
                    source,
                });
            }
            None => {
                let limit = self.timeout.unwrap_or_default();
                tracing::warn!(program = %name(), ?limit, "script timed out; killing its process group");
                group_guard.kill();
                // Reap it, so no zombie is left.
                let _ = child.wait().await;
                ScriptStatus::TimedOut(limit)
            }
        };
        // Past this point the program has ended; whatever it left running
        // in the background stays (only a timeout kills the group).
        group_guard.disarm();
        let (stdout, stderr) = tokio::join!(stdout.finish(), stderr.finish());
        Ok(ScriptOutput {
            status,
            stdout,
            stderr,
        })
    }
}

/// Kills the process group when dropped (the caller gave up on the run) or
/// when asked (the deadline passed), until disarmed.
struct GroupKiller(Option<Pid>);

impl GroupKiller {
    fn kill(&mut self) {
        if let Some(group) = self.0 {
            // ESRCH (nothing left in the group) is the good case.
            let _ = killpg(group, Signal::SIGKILL);
        }
    }

    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for GroupKiller {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Output read so far from one of the program's pipes.
struct Capture {
    kept: Arc<Mutex<Vec<u8>>>,
    task: JoinHandle<()>,
}

impl Capture {
    fn spawn<R>(stream: Option<R>, limit: usize) -> Self
    where
        R: AsyncRead + Unpin + Send + 'static,
    {
        let kept = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&kept);
        let task = tokio::spawn(async move {
            let Some(mut stream) = stream else { return };
            let mut chunk = [0u8; 8192];
            loop {
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let mut kept = sink.lock().unwrap_or_else(|p| p.into_inner());
                        let room = limit.saturating_sub(kept.len());
                        kept.extend_from_slice(&chunk[..n.min(room)]);
                    }
                }
            }
        });
        Self { kept, task }
    }

    /// Waits for end of file, but not for long: a process the program left
    /// running in the background (a daemon a notify hook started) may hold
    /// the pipe open indefinitely, and it is not ours to kill.
    async fn finish(mut self) -> Vec<u8> {
        if tokio::time::timeout(PIPE_GRACE, &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
        }
        std::mem::take(&mut *self.kept.lock().unwrap_or_else(|p| p.into_inner()))
    }
}
