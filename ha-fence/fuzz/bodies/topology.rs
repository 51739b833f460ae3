//! The fencing topology and its plan: devices with `pcmk_*` options and
//! fencing levels built from the input, then the plan for fencing a host
//! driven by arbitrary answers (plug lists, power states, successes,
//! failures of every kind) and time. It must never panic, always come to
//! an outcome, and ask nothing more once it has one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ha_fence::topology::{Device, DeviceOptions, Plan, Request, Topology};
use ha_fence::{Action, Error, Fencer, PowerState, Result, async_trait};

/// A device the plan only names (a plan does no I/O).
struct Named;

#[async_trait]
impl Fencer for Named {
    async fn fence(&self, _target: &str, _action: Action) -> Result<()> {
        Err(Error::Unsupported("a plan runs nothing itself"))
    }
}

/// The error `choice` names.
fn error(choice: u8) -> Error {
    match choice % 5 {
        0 => Error::Timeout("no answer".into()),
        1 => Error::NotConfirmed("still on".into()),
        2 => Error::Device("refused".into()),
        3 => Error::LoginRefused("bad password".into()),
        _ => Error::Unreachable("no route".into()),
    }
}

/// `text \0 answers`. The text's lines: `device NAME k=v k=v..` (the
/// device's parameters, one per word), `level HOST N DEV,DEV..`, `fence
/// HOST off|on|reboot`. Each answer byte answers the plan's next request
/// (bit 7 a failure, else a success: plugs listed, a power state), or
/// with bits 0-1 of 3 lets the plan's deadline pass.
pub fn run(input: &[u8]) {
    let split = input.iter().position(|b| *b == 0).unwrap_or(input.len());
    let (text, answers) = input.split_at(split);
    let text = String::from_utf8_lossy(text);
    let mut topology = Topology::default().with_seed(7);
    let mut host = "node1".to_owned();
    let mut action = Action::Reboot;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["device", name, params @ ..] => {
                let params = ha_fence::params::parse(&params.join("\n"));
                if let Ok((options, _)) = DeviceOptions::from_params(&params) {
                    topology.add_device(Device {
                        name: (*name).to_owned(),
                        fencer: Arc::new(Named),
                        options,
                    });
                }
            }
            ["level", target, level, devices] => {
                if let Ok(level) = level.parse() {
                    let devices: Vec<&str> = devices.split(',').collect();
                    let _ = topology.add_level(target, level, &devices);
                }
            }
            ["fence", target, what] => {
                host = (*target).to_owned();
                action = match *what {
                    "off" => Action::Off,
                    "on" => Action::On,
                    _ => Action::Reboot,
                };
            }
            _ => {}
        }
    }
    let mut now = Instant::now();
    let mut plan = Plan::new(&topology, &host, action, 7, now);
    let mut answers = answers.iter().skip(1);
    let mut outcome = None;
    // Every request is answered or timed out; the plan ends.
    for _ in 0..10_000 {
        if let Some(result) = plan.poll_outcome() {
            outcome = Some(result);
            break;
        }
        let answer = answers.next().copied().unwrap_or(3);
        match plan.poll_request() {
            Some(_) if answer & 3 == 3 => {
                let at = plan.poll_timeout().expect("a request out has a deadline");
                now = now.max(at);
                plan.handle_timeout(now);
            }
            Some(Request::List { .. }) => {
                let plugs = if answer & 0x80 != 0 {
                    Err(error(answer >> 2))
                } else {
                    Ok(
                        vec![host.clone(), "1".into(), "2".into()][..usize::from(answer >> 2 & 3)]
                            .to_vec(),
                    )
                };
                plan.handle_list(now, plugs);
            }
            Some(Request::Status { .. }) => {
                let state = if answer & 0x80 != 0 {
                    Err(error(answer >> 2))
                } else {
                    Ok([PowerState::On, PowerState::Off, PowerState::Unknown]
                        [usize::from(answer >> 2) % 3])
                };
                plan.handle_status(now, state);
            }
            Some(Request::Fence { .. }) => {
                let result = if answer & 0x80 != 0 {
                    Err(error(answer >> 2))
                } else {
                    Ok(())
                };
                plan.handle_fenced(now, result);
            }
            None => match plan.poll_timeout() {
                Some(at) => {
                    now = now.max(at) + Duration::from_millis(u64::from(answer & 3));
                    plan.handle_timeout(now);
                }
                None => panic!("a plan without outcome, request or deadline"),
            },
        }
    }
    assert!(outcome.is_some(), "the plan did not end");
    assert!(plan.poll_request().is_none(), "a request after the outcome");
}
