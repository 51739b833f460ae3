//! keepalived's notify scripts: what to run when an instance changes state.
//!
//! `notify_master`, `notify_backup`, `notify_fault` and `notify_stop` run
//! as written; the generic `notify` gets keepalived's four arguments
//! appended: `INSTANCE <name> <MASTER|BACKUP|FAULT|STOP> <priority>`. The
//! command line is split on whitespace and run without a shell, as
//! keepalived runs it, through ha-core's script runner (with a timeout, so a
//! hanging script never holds the router up).

use std::time::Duration;

use ha_core::Script;

use crate::config::Instance;
use crate::router::State;

/// How long a notify script may run.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// keepalived's name for a state in notify arguments.
pub fn state_word(state: State) -> &'static str {
    match state {
        State::Master => "MASTER",
        State::Backup => "BACKUP",
        State::Fault => "FAULT",
        State::Initialize => "STOP",
    }
}

/// The scripts to run for `instance` entering `state` at `priority`.
pub fn scripts(instance: &Instance, state: State, priority: u8) -> Vec<Script> {
    let specific = match state {
        State::Master => instance.notify_master.as_deref(),
        State::Backup => instance.notify_backup.as_deref(),
        State::Fault => instance.notify_fault.as_deref(),
        State::Initialize => instance.notify_stop.as_deref(),
    };
    let mut scripts: Vec<Script> = specific.and_then(command).into_iter().collect();
    if let Some(generic) = instance.notify.as_deref().and_then(command) {
        scripts.push(generic.args([
            "INSTANCE",
            instance.name.as_str(),
            state_word(state),
            &priority.to_string(),
        ]));
    }
    scripts
}

/// A command line split on whitespace, run without a shell (as keepalived
/// runs it).
pub(crate) fn command(line: &str) -> Option<Script> {
    let mut words = line.split_whitespace();
    let program = words.next()?;
    Some(Script::new(program).args(words).timeout(TIMEOUT))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keepalived;

    #[tokio::test]
    async fn notify_scripts_get_keepalived_arguments() {
        let dir = std::env::temp_dir().join(format!("ha-vrrp-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let record = dir.join("record.sh");
        let out = dir.join("out");
        std::fs::write(&record, format!("echo \"$@\" >> {}\n", out.display())).unwrap();
        let text = format!(
            "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n priority 150\n\
             virtual_ipaddress {{\n 192.168.122.100/24\n }}\n\
             notify_master \"/bin/sh {r} master-only\"\n notify \"/bin/sh {r}\"\n}}\n",
            r = record.display()
        );
        let config = keepalived::parse_str(&text, "k.conf".as_ref())
            .unwrap()
            .config;
        let instance = &config.instances[0];
        for script in scripts(instance, State::Master, 150) {
            assert!(script.run().await.unwrap().status.success());
        }
        for script in scripts(instance, State::Backup, 100) {
            assert!(script.run().await.unwrap().status.success());
        }
        let lines = std::fs::read_to_string(&out).unwrap();
        assert_eq!(
            lines,
            "master-only\nINSTANCE VI_1 MASTER 150\nINSTANCE VI_1 BACKUP 100\n"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn state_words_match_keepalived() {
        assert_eq!(state_word(State::Master), "MASTER");
        assert_eq!(state_word(State::Initialize), "STOP");
    }
}
