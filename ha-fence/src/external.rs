//! Any fence-agents program (`fence_ipmilan`, `fence_scsi`, `fence_dummy`,
//! ...) as a [`Fencer`]: parameters go to the agent as `key=value` lines
//! on its stdin, never on its command line (where `ps` would show a
//! password), and never into logs; the exit code says what happened
//! (fence-agents' codes: 0 success, 1 error, 2 bad arguments, 3 login
//! denied, 4 connection lost, 5 timeout; `status`: 0 on, 2 off); a run
//! that outlives its timeout is killed. `-o metadata` is read into
//! [`Metadata`].

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use ha_core::async_trait;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::error::{Error, Operation, ProtocolError, Result};
use crate::fencer::{Action, Fencer, Metadata, Parameter, ParameterType, PowerState};

/// A fence-agents program with its parameters.
#[derive(Debug, Clone)]
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
        let shown: Vec<String> = lines
            .iter()
            .map(|(k, v)| {
                if secret(k) {
                    format!("{k}=***")
                } else {
                    format!("{k}={v}")
                }
            })
            .collect();
        tracing::debug!(program = %self.program.display(), params = ?shown, "running a fence agent");
        let stdin: String = lines.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
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
    parse_metadata(&run.stdout)
}

/// Reads fence-agents' metadata XML.
pub fn parse_metadata(xml: &str) -> Result<Metadata> {
    use quick_xml::events::Event;

    let bad = |e: String| Error::from(ProtocolError::Metadata(e));
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut metadata = Metadata {
        name: String::new(),
        description: String::new(),
        parameters: Vec::new(),
    };
    let mut current: Option<Parameter> = None;
    let mut in_shortdesc = false;
    loop {
        let event = reader.read_event().map_err(|e| bad(e.to_string()))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let attr = |name: &str| {
                    e.attributes()
                        .flatten()
                        .find(|a| a.key.as_ref() == name.as_bytes())
                        .and_then(|a| {
                            a.decode_and_unescape_value(reader.decoder())
                                .ok()
                                .map(|v| v.into_owned())
                        })
                };
                match e.name().as_ref() {
                    b"resource-agent" => {
                        metadata.name = attr("name").unwrap_or_default();
                        metadata.description = attr("shortdesc").unwrap_or_default();
                    }
                    b"parameter" => {
                        current = Some(Parameter {
                            name: attr("name")
                                .ok_or_else(|| bad("a parameter without a name".into()))?,
                            aliases: attr("obsoletes").into_iter().collect(),
                            kind: ParameterType::String,
                            default: None,
                            required: attr("required").as_deref() == Some("1"),
                            description: String::new(),
                        });
                    }
                    b"content" => {
                        if let Some(p) = current.as_mut() {
                            p.default = attr("default");
                            p.kind = match attr("type").as_deref() {
                                Some("boolean") => ParameterType::Boolean,
                                Some("integer") => ParameterType::Integer,
                                Some("second") => ParameterType::Second,
                                Some("select") => ParameterType::Select(Vec::new()),
                                _ => ParameterType::String,
                            };
                        }
                    }
                    b"option" => {
                        if let Some(Parameter {
                            kind: ParameterType::Select(values),
                            ..
                        }) = current.as_mut()
                            && let Some(v) = attr("value")
                        {
                            values.push(v);
                        }
                    }
                    b"shortdesc" => in_shortdesc = current.is_some(),
                    _ => {}
                }
            }
            Event::Text(t) if in_shortdesc => {
                if let Some(p) = current.as_mut() {
                    p.description
                        .push_str(&t.decode().map_err(|e| bad(e.to_string()))?);
                }
            }
            // Entities come apart from the text around them.
            Event::GeneralRef(r) if in_shortdesc => {
                if let Some(p) = current.as_mut() {
                    let name = r.decode().map_err(|e| bad(e.to_string()))?;
                    if let Some(c) = r.resolve_char_ref().map_err(|e| bad(e.to_string()))? {
                        p.description.push(c);
                    } else if let Some(text) = quick_xml::escape::resolve_predefined_entity(&name) {
                        p.description.push_str(text);
                    }
                }
            }
            Event::End(ref e) => match e.name().as_ref() {
                b"shortdesc" => in_shortdesc = false,
                b"parameter" => {
                    if let Some(p) = current.take() {
                        metadata.parameters.push(p);
                    }
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    if metadata.name.is_empty() {
        return Err(bad("no <resource-agent name=...>".into()));
    }
    Ok(metadata)
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
    fn metadata_xml_is_read() {
        let xml = r#"<?xml version="1.0" ?>
<resource-agent name="fence_example" shortdesc="An example" >
<parameters>
	<parameter name="ip" unique="0" required="1" obsoletes="ipaddr">
		<getopt mixed="-a, --ip=[ip]" />
		<content type="string"  />
		<shortdesc lang="en">IP address &amp; more</shortdesc>
	</parameter>
	<parameter name="method" unique="0" required="0">
		<content type="select" default="onoff"  >
			<option value="onoff" />
			<option value="cycle" />
		</content>
		<shortdesc lang="en">Method</shortdesc>
	</parameter>
</parameters>
</resource-agent>"#;
        let m = parse_metadata(xml).unwrap();
        assert_eq!(
            (m.name.as_str(), m.description.as_str()),
            ("fence_example", "An example")
        );
        assert_eq!(m.parameters[0].aliases, ["ipaddr"]);
        assert!(m.parameters[0].required);
        assert_eq!(m.parameters[0].description, "IP address & more");
        assert_eq!(
            m.parameters[1].kind,
            ParameterType::Select(vec!["onoff".into(), "cycle".into()])
        );
        assert_eq!(m.parameters[1].default.as_deref(), Some("onoff"));
        assert!(parse_metadata("<nothing/>").is_err());
        assert!(parse_metadata("<resource-agent name=").is_err());
    }

    #[test]
    fn secrets_stay_out_of_logs() {
        assert!(secret("password") && secret("passwd") && secret("hexadecimal_kg"));
        assert!(!secret("ip") && !secret("username"));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_metadata_never_panics(text in ".{0,300}") {
            let _ = parse_metadata(&text);
            let _ = parse_metadata(&format!("<resource-agent name=\"x\">{text}</resource-agent>"));
        }
    }
}
