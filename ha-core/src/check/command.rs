//! The command check: HAProxy's `external-check command`, keepalived's
//! `MISC_CHECK` and `vrrp_script`: run a program, exit status 0 is healthy.

use async_trait::async_trait;

use super::{CheckError, HealthCheck};
use crate::script::{Script, ScriptStatus};

/// Runs a [`Script`] as a probe. Set the script's timeout: a probe that runs
/// over it is killed (with its whole process group) and counted as a timeout.
#[derive(Debug, Clone)]
pub struct CommandCheck {
    script: Script,
}

impl CommandCheck {
    /// A check that runs `script`.
    pub fn new(script: Script) -> Self {
        Self { script }
    }
}

#[async_trait]
impl HealthCheck for CommandCheck {
    async fn check(&self) -> Result<(), CheckError> {
        let output = self
            .script
            .run()
            .await
            .map_err(|e| CheckError::Spawn(e.to_string()))?;
        match output.status {
            ScriptStatus::Exited(0) => Ok(()),
            ScriptStatus::Exited(code) => Err(CheckError::Exit {
                code: Some(code),
                signal: None,
                stderr: output.stderr_tail(),
            }),
            ScriptStatus::Signaled(signal) => Err(CheckError::Exit {
                code: None,
                signal: Some(signal),
                stderr: output.stderr_tail(),
            }),
            ScriptStatus::TimedOut(after) => Err(CheckError::Timeout(after)),
        }
    }
}
