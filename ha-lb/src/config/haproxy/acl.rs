//! `acl` lines and the `use_backend ... if|unless CONDITION` rules that use
//! them.

use super::Warning;
use super::lexer::{Ctx, check_name};
use super::section::Proxy;
use crate::acl::Network;
use crate::config::{Acl, AclTerm, Condition, Criterion, UsePool};
use crate::error::Result;

/// HAProxy's predefined ACLs, which ha-lb does not provide.
pub(super) const PREDEFINED_ACLS: &[&str] = &[
    "FALSE",
    "HTTP",
    "HTTP_1.0",
    "HTTP_1.1",
    "HTTP_2.0",
    "HTTP_3.0",
    "HTTP_CONTENT",
    "HTTP_URL_ABS",
    "HTTP_URL_SLASH",
    "HTTP_URL_STAR",
    "LOCALHOST",
    "METH_CONNECT",
    "METH_DELETE",
    "METH_GET",
    "METH_HEAD",
    "METH_OPTIONS",
    "METH_POST",
    "METH_PUT",
    "METH_TRACE",
    "RDP_COOKIE",
    "REQ_CONTENT",
    "TRUE",
    "WAIT_END",
];

pub(super) fn use_backend(
    p: &mut Proxy,
    out: &mut Vec<Warning>,
    words: &[String],
    ctx: &Ctx<'_>,
) -> Result<()> {
    p.not_in_defaults("use_backend", "; put rules in a frontend", ctx)?;
    let Some(name) = words.get(1) else {
        return Err(ctx.error(
            "missing argument: 'use_backend' expects NAME [if|unless CONDITION], e.g. 'use_backend api if is_api'",
        ));
    };
    if name.contains("%[") {
        return Err(ctx.unsupported(format!("dynamic backend names ('{name}')")));
    }
    check_name(name, "backend", ctx)?;
    let Some(fe) = p.front("use_backend", out, ctx) else {
        return Ok(());
    };
    let condition = match words.get(2).map(String::as_str) {
        None => Condition {
            unless: false,
            any_of: vec![Vec::new()],
        },
        Some(word @ ("if" | "unless")) => parse_condition(
            word == "unless",
            words.get(3..).unwrap_or_default(),
            &fe.fe.acls,
            ctx,
        )?,
        Some(other) => {
            return Err(ctx.error(format!(
                "use_backend {name}: expected 'if' or 'unless' before the condition, found '{other}'"
            )));
        }
    };
    fe.fe.use_pools.push(UsePool {
        pool: name.clone(),
        condition,
        location: ctx.loc(),
    });
    Ok(())
}

/// The words after `if`/`unless`: ACL names side by side are ANDed, `||`
/// or `or` separate alternatives, `!` negates (and may stand alone).
pub(super) fn parse_condition(
    unless: bool,
    words: &[String],
    acls: &[Acl],
    ctx: &Ctx<'_>,
) -> Result<Condition> {
    let keyword = if unless { "unless" } else { "if" };
    if words.is_empty() {
        return Err(ctx.error(format!(
            "missing condition after '{keyword}', e.g. '{keyword} is_api' or '{keyword} is_api || !is_static'"
        )));
    }
    let mut any_of = Vec::new();
    let mut all_of = Vec::new();
    let mut negated = false;
    for word in words {
        let word = word.as_str();
        if word == "||" || word == "or" {
            if negated {
                return Err(ctx.error(format!("'!' before '{word}' negates nothing")));
            }
            if all_of.is_empty() {
                return Err(ctx.error(format!(
                    "empty alternative before '{word}': expected an ACL name"
                )));
            }
            any_of.push(std::mem::take(&mut all_of));
            continue;
        }
        if word.starts_with('{') || word.ends_with('}') {
            return Err(ctx.unsupported("anonymous ACLs ('{ ... }'); declare a named acl"));
        }
        let name = word.trim_start_matches('!');
        if (word.len() - name.len()) % 2 == 1 {
            negated = !negated;
        }
        if name.is_empty() {
            continue;
        }
        if !acls.iter().any(|a| a.name == name) {
            if PREDEFINED_ACLS.contains(&name) {
                return Err(ctx.unsupported(format!(
                    "predefined ACL '{name}'; declare a named acl instead"
                )));
            }
            return Err(ctx.error(format!(
                "unknown ACL '{name}' in condition: ACLs must be declared with 'acl {name} ...' before the rule using them"
            )));
        }
        all_of.push(AclTerm {
            name: name.to_owned(),
            negated,
        });
        negated = false;
    }
    if negated {
        return Err(ctx.error("'!' at the end of the condition negates nothing"));
    }
    if all_of.is_empty() {
        return Err(ctx.error("condition ends with '||': expected an ACL name after it"));
    }
    any_of.push(all_of);
    Ok(Condition { unless, any_of })
}

/// How a criterion compares, from its name or `-m`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum MatchKind {
    Exact,
    Begin,
    End,
}

/// `acl NAME CRITERION [FLAGS] VALUE...`.
pub(super) fn parse_acl(words: &[String], ctx: &Ctx<'_>) -> Result<Acl> {
    let usage = "expects NAME CRITERION [-i] VALUE..., e.g. 'acl is_api path_beg /api'";
    let (Some(name), Some(fetch)) = (words.get(1), words.get(2)) else {
        return Err(ctx.error(format!("missing argument: 'acl' {usage}")));
    };
    check_name(name, "ACL", ctx)?;
    // The criterion, and whether its match kind is implied by its name.
    let (family, implied) = parse_fetch(fetch, ctx)?;
    let mut ignore_case = false;
    let mut kind = implied;
    let mut rest = words.get(3..).unwrap_or_default();
    while let Some(flag) = rest.first().filter(|w| w.starts_with('-')) {
        rest = rest.get(1..).unwrap_or_default();
        match flag.as_str() {
            "--" => break,
            "-i" => ignore_case = true,
            "-n" => {}
            "-m" => {
                let Some(method) = rest.first() else {
                    return Err(ctx.error("acl flag '-m' expects a match method, e.g. '-m beg'"));
                };
                rest = rest.get(1..).unwrap_or_default();
                let asked = match method.as_str() {
                    "str" | "ip" => MatchKind::Exact,
                    "beg" => MatchKind::Begin,
                    "end" => MatchKind::End,
                    "sub" | "reg" | "dir" | "dom" | "len" | "found" | "bool" | "int" | "bin" => {
                        return Err(ctx.unsupported(format!(
                            "match method '-m {method}' (ha-lb has str, beg, end and ip)"
                        )));
                    }
                    other => {
                        return Err(ctx.error(format!(
                            "unknown match method '-m {other}': expected str, beg, end, sub, reg, dir, dom, len, found, bool, int, ip or bin"
                        )));
                    }
                };
                let fits = match family {
                    Fetch::Src => method == "ip",
                    Fetch::Method => method == "str",
                    Fetch::Path | Fetch::Hdr(_) => {
                        method != "ip" && (implied.is_none() || implied == Some(asked))
                    }
                };
                if !fits {
                    return Err(
                        ctx.unsupported(format!("match method '-m {method}' with '{fetch}'"))
                    );
                }
                kind = Some(asked);
            }
            "-f" => {
                return Err(ctx.unsupported("ACL values read from files ('-f')"));
            }
            "-M" => return Err(ctx.unsupported("ACL maps ('-M')")),
            "-u" => {
                if rest.is_empty() {
                    return Err(ctx.error("acl flag '-u' expects a unique id"));
                }
                rest = rest.get(1..).unwrap_or_default();
            }
            other => {
                return Err(ctx.error(format!(
                    "unknown acl flag '{other}': expected -i, -m METHOD, -n or '--' before values starting with '-'"
                )));
            }
        }
    }
    if rest.is_empty() {
        return Err(ctx.error(format!("acl '{name}': missing value; 'acl' {usage}")));
    }
    let kind = kind.unwrap_or(MatchKind::Exact);
    let criterion = match (family, kind) {
        (Fetch::Path, MatchKind::Exact) => Criterion::Path,
        (Fetch::Path, MatchKind::Begin) => Criterion::PathBeg,
        (Fetch::Path, MatchKind::End) => Criterion::PathEnd,
        (Fetch::Hdr(h), MatchKind::Exact) => Criterion::Hdr(h),
        (Fetch::Hdr(h), MatchKind::Begin) => Criterion::HdrBeg(h),
        (Fetch::Hdr(h), MatchKind::End) => Criterion::HdrEnd(h),
        (Fetch::Src, _) => Criterion::Src,
        (Fetch::Method, _) => Criterion::Method,
    };
    if criterion == Criterion::Src {
        for value in rest {
            if Network::parse(value).is_none() {
                return Err(ctx.error(format!(
                    "acl '{name}': invalid src value '{value}', expected an IP address or a network such as 10.0.0.0/8 or 2001:db8::/32"
                )));
            }
        }
    }
    Ok(Acl {
        name: name.clone(),
        criterion,
        ignore_case,
        values: rest.to_vec(),
        location: ctx.loc(),
    })
}

/// What an ACL fetches, before the match kind is known.
pub(super) enum Fetch {
    Path,
    Hdr(String),
    Src,
    Method,
}

/// `path`, `path_beg`, `hdr(host)`, `req.hdr(host)`, `hdr_end(x)`, `src`, `method`.
pub(super) fn parse_fetch(fetch: &str, ctx: &Ctx<'_>) -> Result<(Fetch, Option<MatchKind>)> {
    let (base, arg) = match fetch.split_once('(') {
        Some((base, rest)) => {
            let Some(arg) = rest.strip_suffix(')') else {
                return Err(ctx.error(format!("acl criterion '{fetch}': missing ')'")));
            };
            (base, Some(arg))
        }
        None => (fetch, None),
    };
    let no_arg = |family: Fetch, kind: Option<MatchKind>| match arg {
        None => Ok((family, kind)),
        Some(_) => Err(ctx.unsupported(format!("acl criterion '{fetch}' with an argument"))),
    };
    let header = |kind: Option<MatchKind>| -> Result<(Fetch, Option<MatchKind>)> {
        let Some(arg) = arg else {
            return Err(ctx.unsupported(format!(
                "acl criterion '{fetch}' without a header name (all headers)"
            )));
        };
        if arg.contains(',') {
            return Err(ctx.unsupported(format!("header occurrence selection in '{fetch}'")));
        }
        if arg.is_empty() || http::HeaderName::from_bytes(arg.as_bytes()).is_err() {
            return Err(ctx.error(format!(
                "acl criterion '{fetch}': invalid header name '{arg}'"
            )));
        }
        Ok((Fetch::Hdr(arg.to_owned()), kind))
    };
    match base {
        "path" => no_arg(Fetch::Path, None),
        "path_beg" => no_arg(Fetch::Path, Some(MatchKind::Begin)),
        "path_end" => no_arg(Fetch::Path, Some(MatchKind::End)),
        "hdr" | "req.hdr" => header(None),
        "hdr_beg" => header(Some(MatchKind::Begin)),
        "hdr_end" => header(Some(MatchKind::End)),
        "src" => no_arg(Fetch::Src, Some(MatchKind::Exact)),
        "method" => no_arg(Fetch::Method, Some(MatchKind::Exact)),
        _ => Err(ctx.unsupported(format!(
            "acl criterion '{fetch}' (ha-lb has path, path_beg, path_end, hdr(), hdr_beg(), hdr_end(), src and method)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::error::Error;

    #[test]
    fn conditions() {
        let c = ctx();
        let acls: Vec<Acl> = ["a", "b", "c"]
            .iter()
            .map(|n| parse_acl(&words(&format!("acl {n} path /{n}")), &c).unwrap())
            .collect();
        let cond = |text: &str| parse_condition(false, &words(text), &acls, &c);
        let t = |name: &str, negated| AclTerm {
            name: name.into(),
            negated,
        };
        assert_eq!(
            cond("a b").unwrap().any_of,
            [vec![t("a", false), t("b", false)]]
        );
        assert_eq!(
            cond("a || !b c").unwrap().any_of,
            [vec![t("a", false)], vec![t("b", true), t("c", false)]]
        );
        assert_eq!(
            cond("! a or !!b").unwrap().any_of,
            [vec![t("a", true)], vec![t("b", false)]]
        );
        for bad in ["", "a ||", "|| a", "a || || b", "a !", "nope"] {
            assert!(matches!(cond(bad), Err(Error::Config { .. })), "{bad:?}");
        }
        assert!(matches!(
            cond("{ path /x }"),
            Err(Error::Unsupported { .. })
        ));
        assert!(matches!(cond("METH_GET"), Err(Error::Unsupported { .. })));
    }

    #[test]
    fn acl_forms() {
        let c = ctx();
        let acl = |line: &str| parse_acl(&words(line), &c);
        let a = acl("acl api path_beg -i /api /v1").unwrap();
        assert_eq!(a.criterion, Criterion::PathBeg);
        assert!(a.ignore_case);
        assert_eq!(a.values, ["/api", "/v1"]);
        assert_eq!(
            acl("acl x path -m beg /a").unwrap().criterion,
            Criterion::PathBeg
        );
        assert_eq!(
            acl("acl x path -m end .js").unwrap().criterion,
            Criterion::PathEnd
        );
        assert_eq!(
            acl("acl x hdr(host) -m beg www.").unwrap().criterion,
            Criterion::HdrBeg("host".into())
        );
        assert_eq!(
            acl("acl x req.hdr(Host) a").unwrap().criterion,
            Criterion::Hdr("Host".into())
        );
        assert_eq!(
            acl("acl x hdr_end(host) -i .example.com")
                .unwrap()
                .criterion,
            Criterion::HdrEnd("host".into())
        );
        assert_eq!(
            acl("acl x src 10.0.0.0/8 ::1").unwrap().criterion,
            Criterion::Src
        );
        assert_eq!(
            acl("acl x src -m ip 10.0.0.1").unwrap().criterion,
            Criterion::Src
        );
        assert_eq!(
            acl("acl x method GET HEAD").unwrap().criterion,
            Criterion::Method
        );
        assert_eq!(acl("acl x path -- -weird").unwrap().values, ["-weird"]);
        for bad in [
            "acl x",
            "acl x path",
            "acl x path -i",
            "acl x src 10.0.0.0/33",
            "acl x src example.com",
            "acl x hdr() a",
            "acl x hdr(a b) a",
            "acl x hdr(host a",
            "acl x path -q a",
            "acl x path -m",
            "acl bad/name path /",
        ] {
            assert!(matches!(acl(bad), Err(Error::Config { .. })), "{bad}");
        }
        for unsupported in [
            "acl x path_reg ^/a",
            "acl x path -m reg ^/a",
            "acl x path_beg -m end /a",
            "acl x hdr(host,1) a",
            "acl x hdr a",
            "acl x path -f /etc/paths",
            "acl x src -m str 1.2.3.4",
            "acl x ssl_fc",
        ] {
            assert!(
                matches!(acl(unsupported), Err(Error::Unsupported { .. })),
                "{unsupported}"
            );
        }
    }
}
