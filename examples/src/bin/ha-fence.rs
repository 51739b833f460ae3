//! `ha-fence`: fence a node, with fence_ipmilan's command line and stdin
//! protocol, on ha-fence's own IPMI client.
//!
//! ```text
//! ha-fence -a 192.168.122.11 -l admin -S 'cat /etc/ha/bmc-password' -P -o reboot
//! ha-fence -a IP -u PORT -l USER -p PASS -P -C 3 -o off|on|reboot|status|monitor|list|metadata
//! printf 'ip=...\nusername=...\npassword=...\nlanplus=1\naction=off\n' | ha-fence
//! ha-fence -V | -h
//! ```
//! Exit codes are fence-agents': 0 success, 1 error, 2 bad arguments, 3
//! login denied, 4 connection lost, 5 timeout; `status` exits 0 for on and
//! 2 for off. Passwords never appear in logs or error messages.
//!
//! A password given with `-p` shows in `ps`; as with fence-agents, it may
//! come instead from stdin (`password=`) or from a command
//! (`-S`/`--password-script CMD`, `passwd_script=CMD` on stdin), run by
//! `sh -c` with its standard output, trailing whitespace removed, as the
//! password. fence-agents reads no password from the environment, and
//! neither does this.
//!
//! SBD, like the `sbd` tool:
//! ```text
//! ha-fence sbd -d DEV [-1 WATCHDOG] [-4 MSGWAIT] create
//! ha-fence sbd -d DEV list | dump
//! ha-fence sbd -d DEV message NODE clear|test|reset|off|exit
//! ha-fence sbd -d DEV [-w WATCHDOG_DEVICE] watch NODE     # self-fences by sysrq on a pill
//! ```

use std::io::Read;
use std::process::ExitCode;

use ha_fence::ipmi::IpmiFencer;
use ha_fence::ipmi::agent::metadata;
use ha_fence::sbd::{Command as SbdCommand, SbdDisk, SbdWatcher, SelfFence, Timeouts};
use ha_fence::watchdog::Watchdog;
use ha_fence::{Action, Error, Fencer, Metadata, ParameterType, PowerState};

const USAGE: &str = "usage: ha-fence -a IP [-u PORT] -l USER -p PASSWORD|-S CMD -P [-C CIPHER] [-L PRIVLVL] [-m onoff|cycle] -o ACTION
       ha-fence < key=value lines (fence-agents' stdin protocol)
       ha-fence sbd -d DEV [-1 WATCHDOG] [-4 MSGWAIT] create|list|dump|message NODE CMD|watch NODE
       ha-fence -V|--version, -h|--help
  -a, --ip IP            the BMC's address
  -u, --ipport PORT      its UDP port (623)
  -l, --username USER    login name
  -p, --password PASS    password (visible in ps: prefer -S or stdin)
  -S, --password-script CMD
                         the password is what `sh -c CMD` prints, trailing
                         whitespace removed (stdin: passwd_script=CMD)
  -P, --lanplus          IPMI 2.0 RMCP+ (required)
  -C, --cipher N         cipher suite 1, 2 or 3 (3)
      --weak-cipher      allow suites 1 and 2 (no confidentiality inside
                         the session; 1 no integrity either)
  -L, --privlvl LEVEL    administrator, operator or user
  -m, --method METHOD    onoff or cycle
  -o, --action ACTION    off, on, reboot, status, monitor, list, metadata
      --power-wait S, --power-timeout S, --login-timeout S, --delay S,
      --hexadecimal-kg HEX
  -V, --version          print the version
  -h, --help             print this help
On stdin, fence_ipmilan's parameters as key=value lines: ip, ipport,
username, password, passwd_script, lanplus, cipher, weak_cipher, privlvl,
method, action, power_wait, power_timeout, login_timeout, delay,
hexadecimal_kg.";

/// fence-agents' exit codes.
const EC_GENERIC: u8 = 1;
const EC_BAD_ARGS: u8 = 2;
const EC_LOGIN_DENIED: u8 = 3;
const EC_CONNECTION_LOST: u8 = 4;
const EC_TIMED_OUT: u8 = 5;

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Invocation {
    /// `-h`, `--help`.
    Help,
    /// `-V`, `--version`.
    Version,
    /// An action, with its `key=value` parameters.
    Fence(Vec<(String, String)>),
}

/// Command line options to `key=value` parameters (fence-agents' long
/// names with dashes become underscores; `--password-script` is stdin's
/// `passwd_script`).
fn params_from_args(args: &[String]) -> Result<Invocation, String> {
    let mut params = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let key = match arg.as_str() {
            "-h" | "--help" => return Ok(Invocation::Help),
            "-V" | "--version" => return Ok(Invocation::Version),
            "-a" | "--ip" => "ip",
            "-u" | "--ipport" => "ipport",
            "-l" | "--username" => "username",
            "-p" | "--password" => "password",
            "-S" | "--password-script" => PASSWORD_SCRIPT,
            "-C" | "--cipher" => "cipher",
            "-L" | "--privlvl" => "privlvl",
            "-m" | "--method" => "method",
            "-o" | "--action" => "action",
            "-P" | "--lanplus" => {
                params.push(("lanplus".to_owned(), "1".to_owned()));
                i += 1;
                continue;
            }
            "--weak-cipher" => {
                params.push(("weak_cipher".to_owned(), "1".to_owned()));
                i += 1;
                continue;
            }
            long if long.starts_with("--") => {
                let name = long.trim_start_matches("--");
                if let Some((k, v)) = name.split_once('=') {
                    let key = match k {
                        "password-script" => PASSWORD_SCRIPT.to_owned(),
                        k => k.replace('-', "_"),
                    };
                    params.push((key, v.to_owned()));
                    i += 1;
                    continue;
                }
                if !matches!(
                    name,
                    "power-wait"
                        | "power-timeout"
                        | "login-timeout"
                        | "delay"
                        | "hexadecimal-kg"
                        | "stonith-status-sleep"
                ) {
                    return Err(format!("unknown option '{long}'"));
                }
                let value = args
                    .get(i + 1)
                    .ok_or_else(|| format!("{long} needs a value"))?;
                params.push((name.replace('-', "_"), value.clone()));
                i += 2;
                continue;
            }
            other if other.starts_with('-') => return Err(format!("unknown option '{other}'")),
            // Not quoted back: a misplaced argument may be a password.
            _ => {
                return Err(
                    "an argument that is not an option (values follow their option)".into(),
                );
            }
        };
        let value = args
            .get(i + 1)
            .ok_or_else(|| format!("{arg} needs a value"))?;
        params.push((key.to_owned(), value.clone()));
        i += 2;
    }
    Ok(Invocation::Fence(params))
}

/// fence-agents' name (stdin) for the command that prints the password.
const PASSWORD_SCRIPT: &str = "passwd_script";

/// fence-agents' `--password-script`: the last `passwd_script` is run by
/// `sh -c` (as fence-agents' `os.popen`) and its standard output, trailing
/// whitespace removed, becomes the password, over any `password` given.
/// Unlike fence-agents, a command that fails is an error rather than an
/// empty password. Neither the output nor the command is quoted in errors.
fn password_from_script(
    mut params: Vec<(String, String)>,
) -> Result<Vec<(String, String)>, String> {
    let Some(command) = params
        .iter()
        .rev()
        .find(|(k, _)| k == PASSWORD_SCRIPT)
        .map(|(_, v)| v.clone())
    else {
        return Ok(params);
    };
    params.retain(|(k, _)| k != PASSWORD_SCRIPT);
    let out = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(&command)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("{PASSWORD_SCRIPT}: cannot run the command: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{PASSWORD_SCRIPT}: the command failed ({})",
            out.status
        ));
    }
    let password = String::from_utf8(out.stdout)
        .map_err(|_| format!("{PASSWORD_SCRIPT}: the command's output is not UTF-8"))?;
    params.push(("password".to_owned(), password.trim_end().to_owned()));
    Ok(params)
}

/// The agent's metadata, with the `action` parameter every fence agent
/// lists first.
fn metadata_xml(mut m: Metadata) -> String {
    let action = ha_fence::Parameter {
        name: "action".into(),
        aliases: Vec::new(),
        kind: ParameterType::String,
        default: Some("reboot".into()),
        required: true,
        description: "Fencing action".into(),
    };
    m.parameters.insert(0, action);
    m.to_xml()
}

fn exit_code(e: &Error) -> u8 {
    match e {
        Error::BadParameter(_) => EC_BAD_ARGS,
        Error::LoginRefused(_) => EC_LOGIN_DENIED,
        Error::Unreachable(_) | Error::Io { .. } => EC_CONNECTION_LOST,
        Error::Timeout(_) => EC_TIMED_OUT,
        _ => EC_GENERIC,
    }
}

/// `ha-fence sbd ...`.
fn sbd(args: &[String]) -> Result<(), (u8, String)> {
    let bad = |m: String| (EC_BAD_ARGS, m);
    let mut device = None;
    let mut watchdog = None;
    let mut timeouts = Timeouts::default();
    let mut msgwait_given = false;
    let mut rest = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let value = |i: usize| {
            args.get(i + 1)
                .cloned()
                .ok_or_else(|| bad(format!("{} needs a value", args[i])))
        };
        let number = |i: usize| -> Result<u32, (u8, String)> {
            let v = value(i)?;
            v.parse()
                .map_err(|_| bad(format!("{} {v}: expected seconds", args[i])))
        };
        match args[i].as_str() {
            "-d" => device = Some(std::path::PathBuf::from(value(i)?)),
            "-w" => watchdog = Some(std::path::PathBuf::from(value(i)?)),
            "-1" => timeouts.watchdog = number(i)?,
            "-2" => timeouts.allocate = number(i)?,
            "-3" => timeouts.loop_interval = number(i)?,
            "-4" => {
                timeouts.msgwait = number(i)?;
                msgwait_given = true;
            }
            other => {
                rest.push(other.to_owned());
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    if !msgwait_given {
        // As sbd: twice the watchdog timeout.
        timeouts.msgwait = 2 * timeouts.watchdog;
    }
    let device = device.ok_or_else(|| bad("sbd: no device (-d)".into()))?;
    let fail = |e: Error| (exit_code(&e), e.to_string());
    let me = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "ha-fence".into());
    match rest
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["create"] => {
            SbdDisk::create(&device, timeouts, 512).map_err(fail)?;
            println!("Initialized {}", device.display());
        }
        ["list"] => {
            for (index, slot, mailbox) in
                SbdDisk::open(&device).map_err(fail)?.list().map_err(fail)?
            {
                let command = mailbox.command.map_or("unknown", SbdCommand::name);
                println!("{index}\t{}\t{command}\t{}", slot.name, mailbox.from);
            }
        }
        ["dump"] => {
            let disk = SbdDisk::open(&device).map_err(fail)?;
            let h = disk.header();
            println!("Header version     : {}.{}", h.version, h.minor_version);
            println!("Number of slots    : {}", h.slots);
            println!("Sector size        : {}", h.sector_size);
            println!("Timeout (watchdog) : {}", h.timeouts.watchdog);
            println!("Timeout (allocate) : {}", h.timeouts.allocate);
            println!("Timeout (loop)     : {}", h.timeouts.loop_interval);
            println!("Timeout (msgwait)  : {}", h.timeouts.msgwait);
        }
        ["message", node, command] => {
            let command = SbdCommand::parse(command)
                .ok_or_else(|| bad(format!("sbd message: unknown command '{command}'")))?;
            SbdDisk::open(&device)
                .map_err(fail)?
                .message(node, command, &me)
                .map_err(fail)?;
        }
        ["watch", node] => {
            let dog = watchdog
                .map(|p| Watchdog::open(&p))
                .transpose()
                .map_err(fail)?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| (EC_GENERIC, e.to_string()))?;
            let watcher = SbdWatcher::new(device, node, SelfFence::Reboot, dog);
            runtime
                .block_on(watcher.run(async {
                    let _ = tokio::signal::ctrl_c().await;
                }))
                .map_err(fail)?;
        }
        other => return Err(bad(format!("sbd: unknown command {other:?}"))),
    }
    Ok(())
}

fn main() -> ExitCode {
    // Not quoted back: it may be a password.
    let Ok(args) = std::env::args_os()
        .skip(1)
        .map(std::ffi::OsString::into_string)
        .collect::<Result<Vec<String>, _>>()
    else {
        eprintln!("ha-fence: an argument is not valid UTF-8\n{USAGE}");
        return ExitCode::from(EC_BAD_ARGS);
    };
    if args.first().map(String::as_str) == Some("sbd") {
        ha_examples::logging::to_stderr("info");
        return match sbd(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err((code, message)) => {
                eprintln!("ha-fence: {message}");
                ExitCode::from(code)
            }
        };
    }
    let params = if args.is_empty() {
        let mut text = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut text) {
            eprintln!("ha-fence: cannot read stdin: {e}");
            return ExitCode::from(EC_BAD_ARGS);
        }
        ha_fence::params::parse(&text)
    } else {
        match params_from_args(&args) {
            Ok(Invocation::Fence(p)) => p,
            Ok(Invocation::Help) => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            Ok(Invocation::Version) => {
                println!("ha-fence {}", env!("CARGO_PKG_VERSION"));
                return ExitCode::SUCCESS;
            }
            Err(e) => {
                eprintln!("ha-fence: {e}\n{USAGE}");
                return ExitCode::from(EC_BAD_ARGS);
            }
        }
    };
    ha_examples::logging::to_stderr("warn");
    let action = params
        .iter()
        .rev()
        .find(|(k, _)| k == "action" || k == "option")
        .map_or("reboot", |(_, v)| v.as_str())
        .to_owned();
    if action == "metadata" {
        print!("{}", metadata_xml(metadata()));
        return ExitCode::SUCCESS;
    }
    let params = match password_from_script(params) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("ha-fence: {e}");
            return ExitCode::from(EC_BAD_ARGS);
        }
    };
    let fencer = match IpmiFencer::from_params(&params) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("ha-fence: {e}");
            return ExitCode::from(exit_code(&e));
        }
    };
    if action == "validate-all" {
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ha-fence: cannot start the runtime: {e}");
            return ExitCode::from(EC_GENERIC);
        }
    };
    runtime.block_on(async {
        let result = match action.as_str() {
            "status" => match fencer.status("").await {
                Ok(PowerState::On) => {
                    println!("Status: ON");
                    return ExitCode::SUCCESS;
                }
                Ok(PowerState::Off) => {
                    println!("Status: OFF");
                    return ExitCode::from(2);
                }
                Ok(PowerState::Unknown) => Err(Error::NotConfirmed("unknown power state".into())),
                Err(e) => Err(e),
            },
            "monitor" => fencer.monitor().await,
            "list" | "list-status" => fencer.list().await.map(|targets| {
                for t in targets {
                    println!("{t},");
                }
            }),
            other => match Action::parse(other) {
                Some(a) => fencer.fence("", a).await.map(|()| {
                    let done = match a {
                        Action::Off => "Powered OFF",
                        Action::On => "Powered ON",
                        Action::Reboot => "Rebooted",
                    };
                    println!("Success: {done}");
                }),
                None => Err(Error::BadParameter(format!("action={other}"))),
            },
        };
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("Failed: {e}");
                ExitCode::from(exit_code(&e))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn fence_ipmilan_options_become_parameters() {
        let Ok(Invocation::Fence(p)) = params_from_args(&args(
            "-a 192.0.2.11 -u 9623 -l admin -p secret -P -C 1 --weak-cipher -o off --power-timeout 10 --delay=2",
        )) else {
            panic!("not parameters");
        };
        let get = |k: &str| p.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        assert_eq!(get("ip"), Some("192.0.2.11"));
        assert_eq!(get("lanplus"), Some("1"));
        assert_eq!(get("cipher"), Some("1"));
        assert_eq!(get("weak_cipher"), Some("1"));
        assert_eq!(get("action"), Some("off"));
        assert_eq!(get("power_timeout"), Some("10"));
        assert_eq!(get("delay"), Some("2"));
        assert!(params_from_args(&args("-a")).is_err());
        assert!(params_from_args(&args("--bogus 1")).is_err());
        assert!(params_from_args(&args("-x")).is_err());
    }

    #[test]
    fn help_and_version_answer_wherever_they_are() {
        for line in ["-h", "--help", "-a 192.0.2.11 -h", "-P --help -o off"] {
            assert_eq!(
                params_from_args(&args(line)),
                Ok(Invocation::Help),
                "{line}"
            );
        }
        for line in ["-V", "--version", "-P -V"] {
            assert_eq!(
                params_from_args(&args(line)),
                Ok(Invocation::Version),
                "{line}"
            );
        }
        // A password that reads like an option is the password.
        let Ok(Invocation::Fence(p)) = params_from_args(&args("-p -h -P")) else {
            panic!("-p takes the next argument");
        };
        assert_eq!(p[0], ("password".to_owned(), "-h".to_owned()));
    }

    #[test]
    fn a_stray_argument_is_not_quoted_back() {
        let e = params_from_args(&args("-a 192.0.2.11 -l admin hunter2pw -P")).unwrap_err();
        assert!(!e.contains("hunter2pw"), "{e}");
    }

    #[test]
    fn multibyte_arguments_never_panic() {
        for line in [
            "-é",
            "--é",
            "--é=é",
            "-a é -p ü€ --hexadecimal-kg 0x€1",
            "é",
        ] {
            let _ = params_from_args(&args(line));
        }
        let Ok(Invocation::Fence(p)) = params_from_args(&args("--hexadecimal-kg 0x€1 -a ::1 -P"))
        else {
            panic!("parameters");
        };
        let e = IpmiFencer::from_params(&p).unwrap_err();
        assert!(matches!(e, Error::BadParameter(_)), "{e}");
    }

    #[test]
    fn the_password_script_gives_the_password() {
        for line in ["-S", "--password-script"] {
            let mut a = args(&format!("{line} X -p visible -a 192.0.2.11"));
            a[1] = "printf 'hunter2pw \\n\\n'".to_owned();
            let Ok(Invocation::Fence(p)) = params_from_args(&a) else {
                panic!("parameters");
            };
            let p = password_from_script(p).unwrap();
            let password: Vec<_> = p.iter().filter(|(k, _)| k == "password").collect();
            assert_eq!(
                password.last().unwrap().1,
                "hunter2pw",
                "the script wins, trimmed"
            );
            assert!(!p.iter().any(|(k, _)| k == PASSWORD_SCRIPT));
        }
        let Ok(Invocation::Fence(p)) =
            params_from_args(&["--password-script=echo fromscript".to_owned()])
        else {
            panic!("parameters");
        };
        assert_eq!(p[0].0, PASSWORD_SCRIPT);
        let from_stdin = ha_fence::params::parse("passwd_script=echo pw1\nip=127.0.0.1\n");
        let p = password_from_script(from_stdin).unwrap();
        assert!(p.contains(&("password".to_owned(), "pw1".to_owned())));
        let failed = ha_fence::params::parse("passwd_script=echo hunter2pw; exit 3\n");
        let e = password_from_script(failed).unwrap_err();
        assert!(
            e.contains("passwd_script") && !e.contains("hunter2pw"),
            "{e}"
        );
        let none = ha_fence::params::parse("password=plain\n");
        assert_eq!(password_from_script(none.clone()).unwrap(), none);
    }

    #[test]
    fn stdin_lines_and_metadata() {
        let p = ha_fence::params::parse(
            "# a comment\nip=127.0.0.1\n\nlanplus = 1\naction=off\nnonsense\n",
        );
        assert_eq!(p.len(), 3);
        let xml = metadata_xml(metadata());
        assert!(xml.contains("<resource-agent name=\"fence_ipmilan\""));
        assert!(
            xml.contains(
                "<parameter name=\"ip\" unique=\"0\" required=\"1\" obsoletes=\"ipaddr\">"
            )
        );
        assert!(xml.contains("<option value=\"cycle\"/>"));
        let read = Metadata::parse(&xml).unwrap();
        assert_eq!(read.parameters[0].name, "action");
        assert_eq!(read.parameters[1..], metadata().parameters[..]);
    }
}
