//! Any fence-agents program (`fence_ipmilan`, `fence_dummy`...) as a [`Fencer`].
//!
//! Parameters go to the agent as `key=value` lines on its stdin, never on
//! its command line (where `ps` would show a password), and never into
//! logs; the exit code says what happened (fence-agents' codes: 0 success,
//! 1 error, 2 bad arguments, 3 login denied, 4 connection lost, 5 timeout;
//! `status`: 0 on, 2 off); a run that outlives its timeout is killed.
//! `-o metadata` is read into [`Metadata`].

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use ha_core::async_trait;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::REDACTED;
use crate::error::{Error, Operation, ProtocolError, Result};
use crate::fencer::{Action, Fencer, PowerState};
use crate::metadata::Metadata;

/// A fence-agents program with its parameters.
#[derive(Clone)]
pub struct ExternalAgent {
    program: PathBuf,
    params: Vec<(String, String)>,
    timeout: Duration,
    metadata: Metadata,
}

/// What one run of an agent gave.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Whether a parameter's value is a secret (kept out of logs).
fn secret(key: &str) -> bool {
    key.contains("passw") || key.contains("secret") || key.ends_with("_kg")
}

/// `key=value`, or `key=<redacted>` for a secret: what logs show.
fn shown(key: &str, value: &str) -> String {
    if secret(key) {
        format!("{key}={REDACTED}")
    } else {
        format!("{key}={value}")
    }
}

impl std::fmt::Debug for ExternalAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let params: Vec<String> = self.params.iter().map(|(k, v)| shown(k, v)).collect();
        f.debug_struct("ExternalAgent")
            .field("program", &self.program)
            .field("params", &params)
            .field("timeout", &self.timeout)
            .field("metadata", &self.metadata)
            .finish()
    }
}

impl ExternalAgent {
    /// The agent `program` with `params` (the device's stonith
    /// parameters); each run may take at most `timeout`. Reads its
    /// metadata first (which also checks that it runs).
    pub async fn load(
        program: impl Into<PathBuf>,
        params: Vec<(String, String)>,
        timeout: Duration,
    ) -> Result<Self> {
        let program = program.into();
        let metadata = metadata_of(&program, timeout).await?;
        Ok(Self {
            program,
            params,
            timeout,
            metadata,
        })
    }

    async fn run(&self, action: &str, plug: Option<&str>) -> Result<Run> {
        let mut lines: Vec<(String, String)> = self
            .params
            .iter()
            .filter(|(k, _)| k != "action" && k != "plug" && k != "port")
            .cloned()
            .collect();
        lines.push(("action".into(), action.into()));
        if let Some(plug) = plug.filter(|p| !p.is_empty()) {
            lines.push(("plug".into(), plug.into()));
        }
        let shown: Vec<String> = lines.iter().map(|(k, v)| shown(k, v)).collect();
        tracing::debug!(program = %self.program.display(), params = ?shown, "running a fence agent");
        let stdin = crate::params::format(&lines);
        run_program(&self.program, &[], Some(&stdin), self.timeout).await
    }

    /// The agent's error for a failed run of `action`.
    fn failure(&self, action: &str, run: &Run) -> Error {
        let last = run
            .stderr
            .lines()
            .chain(run.stdout.lines())
            .rfind(|l| !l.trim().is_empty() && !l.contains("Warning"))
            .unwrap_or("")
            .trim()
            .to_owned();
        // An agent may print what it was given (a debug line, an echo of
        // its input): the error, logged by whoever gets it, never carries
        // a secret.
        let last = self
            .params
            .iter()
            .filter(|(k, v)| secret(k) && !v.is_empty())
            .fold(last, |line, (_, v)| line.replace(v.as_str(), REDACTED));
        let what = format!(
            "{} {action}: exit {}: {last}",
            self.program.display(),
            run.code
        );
        match run.code {
            2 => Error::BadParameter(what),
            3 => Error::LoginRefused(what),
            4 => Error::Unreachable(what),
            5 => Error::Timeout(what),
            _ => Error::NotConfirmed(what),
        }
    }
}

/// Runs `program` with `args` and `stdin`, killing it after `timeout`.
async fn run_program(
    program: &Path,
    args: &[&str],
    stdin: Option<&str>,
    timeout: Duration,
) -> Result<Run> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Error::io(Operation::Run, program.display(), e))?;
    if let Some(mut pipe) = child.stdin.take() {
        let text = stdin.unwrap_or("").to_owned();
        // Written concurrently with reading: an agent that prints before
        // reading all of stdin must not deadlock.
        tokio::spawn(async move {
            let _ = pipe.write_all(text.as_bytes()).await;
        });
    }
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(out)) => Ok(Run {
            code: out.status.code().unwrap_or(1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }),
        Ok(Err(e)) => Err(Error::io(Operation::Wait, program.display(), e)),
        // Dropping the future kills the child (kill_on_drop).
        Err(_) => Err(Error::Timeout(format!(
            "{} did not finish within {timeout:?}",
            program.display()
        ))),
    }
}

/// The metadata `program -o metadata` prints.
pub async fn metadata_of(program: &Path, timeout: Duration) -> Result<Metadata> {
    let run = run_program(program, &["-o", "metadata"], None, timeout).await?;
    if run.code != 0 {
        return Err(ProtocolError::MetadataExit(run.code).into());
    }
    Metadata::parse(&run.stdout)
}

#[async_trait]
impl Fencer for ExternalAgent {
    async fn fence(&self, target: &str, action: Action) -> Result<()> {
        let run = self.run(action.name(), Some(target)).await?;
        // fence-agents confirm an action themselves (they poll status
        // until it reads as asked) before exiting 0.
        if run.code == 0 {
            Ok(())
        } else {
            Err(self.failure(action.name(), &run))
        }
    }

    async fn status(&self, target: &str) -> Result<PowerState> {
        let run = self.run("status", Some(target)).await?;
        match run.code {
            0 => Ok(PowerState::On),
            2 => Ok(PowerState::Off),
            _ => Err(self.failure("status", &run)),
        }
    }

    async fn list(&self) -> Result<Vec<String>> {
        let run = self.run("list", None).await?;
        if run.code != 0 {
            return Err(self.failure("list", &run));
        }
        // "plug,alias" lines.
        Ok(run
            .stdout
            .lines()
            .filter_map(|l| l.split(',').next())
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect())
    }

    async fn monitor(&self) -> Result<()> {
        let run = self.run("monitor", None).await?;
        if run.code == 0 {
            Ok(())
        } else {
            Err(self.failure("monitor", &run))
        }
    }

    fn metadata(&self) -> Metadata {
        self.metadata.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_stay_out_of_logs() {
        assert!(secret("password") && secret("passwd") && secret("hexadecimal_kg"));
        assert!(!secret("ip") && !secret("username"));
    }

    fn agent() -> ExternalAgent {
        ExternalAgent {
            program: "/usr/sbin/fence_ipmilan".into(),
            params: vec![
                ("ip".into(), "192.0.2.11".into()),
                ("password".into(), "hunter2pw".into()),
                ("hexadecimal_kg".into(), "c0ffee".into()),
            ],
            timeout: Duration::from_secs(20),
            metadata: Metadata::default(),
        }
    }

    #[test]
    fn debug_redacts_the_secrets() {
        let shown = format!("{:?} {:#?}", agent(), agent());
        assert!(
            !shown.contains("hunter2pw") && !shown.contains("c0ffee"),
            "{shown}"
        );
        assert!(shown.contains("password=<redacted>"), "{shown}");
        assert!(shown.contains("ip=192.0.2.11"), "{shown}");
    }

    #[test]
    fn an_agent_echoing_its_password_is_redacted_in_the_error() {
        let run = Run {
            code: 3,
            stdout: String::new(),
            stderr: "Failed: login with password hunter2pw refused\n".into(),
        };
        let e = agent().failure("off", &run);
        assert!(matches!(e, Error::LoginRefused(_)), "{e}");
        assert!(!e.to_string().contains("hunter2pw"), "{e}");
        assert!(e.to_string().contains("password <redacted> refused"), "{e}");
    }
}
