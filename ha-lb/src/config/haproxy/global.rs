//! Keywords of the `global` section.

use super::Warning;
use super::lexer::{Ctx, number, one_arg};
use super::log::parse_log;
use crate::error::Result;

/// Global keywords HAProxy has that ha-lb ignores, with a warning.
pub(super) const GLOBAL_IGNORED: &[&str] = &[
    "chroot",
    "pidfile",
    "stats",
    "ca-base",
    "crt-base",
    "nbproc",
    "cpu-map",
    "ulimit-n",
    "master-worker",
    "hard-stop-after",
    "spread-checks",
    "node",
    "description",
    "uid",
    "gid",
    "setenv",
    "presetenv",
    "unsetenv",
    "resetenv",
    "lua-load",
    "lua-prepend-path",
    "server-state-file",
    "server-state-base",
    "maxsslconn",
    "maxconnrate",
    "maxsessrate",
    "log-send-hostname",
    "log-tag",
    "localpeer",
    "quiet",
    "expose-experimental-directives",
    "insecure-fork-wanted",
    "set-dumpable",
    "busy-polling",
    "h1-case-adjust",
    "h1-case-adjust-file",
    "zero-warning",
    "strict-limits",
    "profiling.tasks",
    "default-path",
    "httpclient.resolvers.disabled",
];

pub(super) fn global_line(
    global: &mut crate::config::Global,
    out: &mut Vec<Warning>,
    words: &[String],
    ctx: &Ctx<'_>,
) -> Result<()> {
    let keyword = words[0].as_str();
    match keyword {
        "maxconn" => {
            let value = one_arg(words, "expects a number, e.g. 'maxconn 4096'", ctx)?;
            global.maxconn = Some(number(value, "maxconn", ctx)?).filter(|&n| n > 0);
        }
        "user" => {
            let value = one_arg(words, "expects a user name, e.g. 'user haproxy'", ctx)?;
            global.user = Some(value.to_owned());
        }
        "group" => {
            let value = one_arg(words, "expects a group name, e.g. 'group haproxy'", ctx)?;
            global.group = Some(value.to_owned());
        }
        "daemon" => {
            if words.len() > 1 {
                return Err(ctx.error("too many arguments: 'daemon' takes none"));
            }
            global.daemon = true;
        }
        "nbthread" => {
            let value = one_arg(words, "expects a number of threads, e.g. 'nbthread 4'", ctx)?;
            let n = number(value, "nbthread", ctx)?;
            if !(1..=4096).contains(&n) {
                return Err(ctx.error(format!("'nbthread' expects 1 to 4096 threads, found {n}")));
            }
            global.nbthread = Some(n);
        }
        "log" => {
            if words.get(1).is_some_and(|w| w == "global") {
                return Err(ctx.error(
                    "'log global' only makes sense in a proxy; in the global section give a target, e.g. 'log /dev/log local0'",
                ));
            }
            let target = parse_log(words, out, ctx)?;
            global.log.push(target);
        }
        _ if GLOBAL_IGNORED.contains(&keyword)
            || keyword.starts_with("ssl-")
            || keyword.starts_with("tune.") =>
        {
            out.push(ctx.warning(format!(
                "global '{keyword}' is not implemented by ha-lb; ignored"
            )));
        }
        _ => out.push(ctx.warning(format!(
            "unknown keyword '{keyword}' in the global section; ignored"
        ))),
    }
    Ok(())
}
