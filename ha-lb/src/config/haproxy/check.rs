//! HTTP health checks: `option httpchk`, `http-check send` and
//! `http-check expect`.

use ha_core::StatusMatch;

use super::Warning;
use super::lexer::Ctx;
use super::section::Proxy;
use crate::config::Location;
use crate::error::Result;

/// `option httpchk [METHOD] [URI] [VERSION]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct HttpChk {
    pub(super) method: String,
    pub(super) uri: String,
    pub(super) host: Option<String>,
}

/// The health-check settings of a backend before they become an
/// [`HttpCheck`]: `option httpchk` and the `http-check` rules are inherited
/// separately, as in HAProxy.
#[derive(Debug, Clone, Default)]
pub(super) struct CheckDraft {
    pub(super) httpchk: Option<HttpChk>,
    pub(super) send_method: Option<String>,
    pub(super) send_uri: Option<String>,
    pub(super) send_host: Option<String>,
    pub(super) expect: Option<StatusMatch>,
    /// The first `http-check` line the rules come from.
    pub(super) rules_at: Option<Location>,
}

pub(super) fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

pub(super) fn check_method(method: &str, what: &str, ctx: &Ctx<'_>) -> Result<()> {
    if is_token(method) {
        Ok(())
    } else {
        Err(ctx.error(format!(
            "{what}: invalid HTTP method '{}'",
            method.escape_debug()
        )))
    }
}

pub(super) fn check_uri(uri: &str, what: &str, ctx: &Ctx<'_>) -> Result<()> {
    if uri.is_empty() || uri.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err(ctx.error(format!(
            "{what}: invalid URI '{}', expected a path such as /health (no spaces or control characters)",
            uri.escape_debug()
        )));
    }
    Ok(())
}

/// `option httpchk [[METHOD] URI [VERSION[\r\nHeader:\ value...]]]`.
pub(super) fn parse_httpchk(
    params: &[String],
    out: &mut Vec<Warning>,
    ctx: &Ctx<'_>,
) -> Result<HttpChk> {
    let what = "option httpchk";
    let (method, uri, version) = match params {
        [] => ("OPTIONS", "/", None),
        [uri] => ("OPTIONS", uri.as_str(), None),
        [method, uri] => (method.as_str(), uri.as_str(), None),
        [method, uri, version] => (method.as_str(), uri.as_str(), Some(version.as_str())),
        _ => {
            return Err(ctx.error(
                "too many arguments: 'option httpchk' expects [METHOD] [URI] [VERSION]; escape spaces in headers as '\\ ' (HTTP/1.1\\r\\nHost:\\ www) or use 'http-check send'",
            ));
        }
    };
    check_method(method, what, ctx)?;
    check_uri(uri, what, ctx)?;
    let mut host = None;
    if let Some(version) = version {
        let mut lines = version.split("\r\n");
        let version = lines.next().unwrap_or_default();
        if version != "HTTP/1.0" && version != "HTTP/1.1" {
            out.push(ctx.warning(format!(
                "check version '{}' ignored: ha-lb sends HTTP/1.1 checks",
                version.escape_debug()
            )));
        }
        for header in lines.filter(|l| !l.is_empty()) {
            let Some((name, value)) = header.split_once(':') else {
                return Err(ctx.error(format!(
                    "{what}: invalid header '{}' after the version, expected 'Name: value'",
                    header.escape_debug()
                )));
            };
            let (name, value) = (name.trim(), value.trim());
            if name.eq_ignore_ascii_case("host") {
                host = Some(value.to_owned());
            } else {
                out.push(ctx.warning(format!(
                    "check header '{name}' ignored: ha-lb only sends a Host header with checks"
                )));
            }
        }
    }
    Ok(HttpChk {
        method: method.to_owned(),
        uri: uri.to_owned(),
        host,
    })
}

/// `http-check expect ...` and `http-check send ...`.
pub(super) fn http_check(
    p: &mut Proxy,
    out: &mut Vec<Warning>,
    words: &[String],
    ctx: &Ctx<'_>,
) -> Result<()> {
    let Some(action) = words.get(1) else {
        return Err(ctx.error(
            "missing argument: 'http-check' expects 'expect status N', 'expect rstatus REGEX' or 'send meth M uri U hdr Host H'",
        ));
    };
    let args = words.get(2..).unwrap_or_default();
    let line = words.join(" ");
    enum Rule {
        Expect(StatusMatch),
        Send {
            method: Option<String>,
            uri: Option<String>,
            host: Option<String>,
        },
    }
    let rule = match action.as_str() {
        "expect" => Rule::Expect(parse_expect(args, &line, ctx)?),
        "send" => {
            let (mut method, mut uri, mut host) = (None, None, None);
            let mut words = args.iter();
            while let Some(key) = words.next() {
                let mut value = || {
                    words.next().cloned().ok_or_else(|| {
                        ctx.error(format!("http-check send: '{key}' expects a value"))
                    })
                };
                match key.as_str() {
                    "meth" => {
                        let m = value()?;
                        check_method(&m, "http-check send", ctx)?;
                        method = Some(m);
                    }
                    "uri" => {
                        let u = value()?;
                        check_uri(&u, "http-check send", ctx)?;
                        uri = Some(u);
                    }
                    "ver" => {
                        let v = value()?;
                        if v != "HTTP/1.0" && v != "HTTP/1.1" {
                            out.push(ctx.warning(format!(
                                "check version '{v}' ignored: ha-lb sends HTTP/1.1 checks"
                            )));
                        }
                    }
                    "hdr" => {
                        let name = value()?;
                        let v = value()?;
                        if name.eq_ignore_ascii_case("host") {
                            host = Some(v);
                        } else {
                            out.push(ctx.warning(format!(
                                "check header '{name}' ignored: ha-lb only sends a Host header with checks"
                            )));
                        }
                    }
                    "body" | "body-lf" | "uri-lf" => {
                        return Err(ctx.unsupported(format!("'{key}' in '{line}'")));
                    }
                    "comment" => {
                        value()?;
                    }
                    other => {
                        return Err(ctx.error(format!(
                            "http-check send: unknown parameter '{other}', expected meth, uri, ver, hdr or body"
                        )));
                    }
                }
            }
            Rule::Send { method, uri, host }
        }
        "disable-on-404" | "send-state" | "connect" | "set-var" | "unset-var" => {
            return Err(ctx.unsupported(format!("'{line}'")));
        }
        "comment" => return Ok(()),
        other => {
            return Err(ctx.error(format!(
                "unknown http-check action '{other}': expected expect or send"
            )));
        }
    };
    let Some(be) = p.back("http-check", out, ctx) else {
        return Ok(());
    };
    if !be.check_rules_here {
        // A proxy's own http-check rules replace the inherited ones.
        be.check_rules_here = true;
        let httpchk = be.check.httpchk.take();
        be.check = CheckDraft {
            httpchk,
            rules_at: Some(ctx.loc()),
            ..CheckDraft::default()
        };
    }
    match rule {
        Rule::Expect(expect) => {
            if be.check.expect.is_some() {
                return Err(
                    ctx.unsupported(format!("several 'http-check expect' rules ('{line}')"))
                );
            }
            be.check.expect = Some(expect);
        }
        Rule::Send { method, uri, host } => {
            let check = &mut be.check;
            check.send_method = method.or(check.send_method.take());
            check.send_uri = uri.or(check.send_uri.take());
            check.send_host = host.or(check.send_host.take());
        }
    }
    Ok(())
}

/// `http-check expect status N|LOW-HIGH` or `rstatus REGEX` (simple forms).
pub(super) fn parse_expect(args: &[String], line: &str, ctx: &Ctx<'_>) -> Result<StatusMatch> {
    let usage =
        "'http-check expect' expects 'status N', 'status LOW-HIGH' or 'rstatus REGEX' (such as ^2)";
    let (matcher, pattern) = match args {
        [m, p] => (m.as_str(), p.as_str()),
        [] | [_] => return Err(ctx.error(format!("missing argument: {usage}"))),
        [first, ..] => {
            if first.starts_with('!')
                || [
                    "min-recv",
                    "comment",
                    "ok-status",
                    "error-status",
                    "tout-status",
                    "on-success",
                    "on-error",
                    "status-code",
                ]
                .contains(&first.as_str())
            {
                return Err(ctx.unsupported(format!("'{line}'")));
            }
            return Err(ctx.error(format!("too many arguments: {usage}")));
        }
    };
    match matcher {
        "status" => {
            let status = |text: &str| -> Result<u16> {
                match text.parse::<u16>() {
                    Ok(s @ 100..=599) if text.bytes().all(|b| b.is_ascii_digit()) => Ok(s),
                    _ => Err(ctx.error(format!(
                        "http-check expect status: invalid status '{text}', expected 100 to 599"
                    ))),
                }
            };
            if pattern.contains(',') {
                return Err(ctx.unsupported(format!("status lists ('{line}')")));
            }
            match pattern.split_once('-') {
                Some((lo, hi)) => {
                    let (lo, hi) = (status(lo)?, status(hi)?);
                    if lo > hi {
                        return Err(ctx.error(format!(
                            "http-check expect status: range {pattern} is reversed, expected LOW-HIGH"
                        )));
                    }
                    Ok(StatusMatch::Range(lo, hi))
                }
                None => Ok(StatusMatch::Exact(status(pattern)?)),
            }
        }
        "rstatus" => rstatus(pattern).ok_or_else(|| {
            ctx.unsupported(format!(
                "status regex '{pattern}' (ha-lb understands digit prefixes such as ^2, ^20 or 2..)"
            ))
        }),
        "!" => Err(ctx.unsupported(format!("'{line}'"))),
        "string" | "rstring" | "hdr" | "fhdr" | "custom" => {
            Err(ctx.unsupported(format!("'{line}'")))
        }
        other => Err(ctx.error(format!(
            "unknown http-check expect match '{other}': {usage}"
        ))),
    }
}

/// The status regexes that are a digit prefix: `^2`, `^20`, `^200$`, `2..`.
pub(super) fn rstatus(regex: &str) -> Option<StatusMatch> {
    let (start, rest) = match regex.strip_prefix('^') {
        Some(rest) => (true, rest),
        None => (false, regex),
    };
    let (body, end) = match rest.strip_suffix('$') {
        Some(body) => (body, true),
        None => (rest, false),
    };
    let digits = body.bytes().take_while(u8::is_ascii_digit).count();
    let dots = body.get(digits..)?;
    if digits == 0 || body.len() > 3 || !dots.bytes().all(|b| b == b'.') {
        return None;
    }
    // Statuses are three digits: a shorter pattern is a prefix only when
    // anchored at the start and not at the end.
    if body.len() < 3 && (!start || end) {
        return None;
    }
    let prefix: u16 = body.get(..digits)?.parse().ok()?;
    let scale = 10u16.pow(3 - digits as u32);
    let low = prefix * scale;
    let high = low + scale - 1;
    Some(if low == high {
        StatusMatch::Exact(low)
    } else {
        StatusMatch::Range(low, high)
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::error::Error;

    #[test]
    fn rstatus_simple_forms() {
        assert_eq!(rstatus("^2"), Some(StatusMatch::Range(200, 299)));
        assert_eq!(rstatus("^20"), Some(StatusMatch::Range(200, 209)));
        assert_eq!(rstatus("^200"), Some(StatusMatch::Exact(200)));
        assert_eq!(rstatus("^200$"), Some(StatusMatch::Exact(200)));
        assert_eq!(rstatus("2.."), Some(StatusMatch::Range(200, 299)));
        assert_eq!(rstatus("^3.."), Some(StatusMatch::Range(300, 399)));
        assert_eq!(rstatus("^2.$"), None);
        assert_eq!(rstatus("2"), None);
        assert_eq!(rstatus("^2$"), None);
        assert_eq!(rstatus("^(2|3)"), None);
        assert_eq!(rstatus("^2[0-9]"), None);
        assert_eq!(rstatus("^2000"), None);
        assert_eq!(rstatus("^.2"), None);
        assert_eq!(rstatus(""), None);
    }

    #[test]
    fn httpchk_forms() {
        fn chk_with(line: &str, out: &mut Vec<Warning>) -> Result<HttpChk> {
            parse_httpchk(&words(line), out, &ctx())
        }
        let mut out = Vec::new();
        let chk = |line: &str| chk_with(line, &mut Vec::new());
        assert_eq!(
            chk("").unwrap(),
            HttpChk {
                method: "OPTIONS".into(),
                uri: "/".into(),
                host: None
            }
        );
        assert_eq!(chk("/health").unwrap().uri, "/health");
        let old = chk(r"GET /health HTTP/1.1\r\nHost:\ www.example.com").unwrap();
        assert_eq!(old.method, "GET");
        assert_eq!(old.uri, "/health");
        assert_eq!(old.host.as_deref(), Some("www.example.com"));
        assert!(chk("GET /health HTTP/1.1 extra").is_err());
        assert!(chk("G(T /health").is_err());
        assert!(chk(r"GET /a\r\nb").is_err());
        assert!(chk(r"GET / HTTP/1.1\r\nnocolon").is_err());
        chk_with(r"GET / HTTP/1.1\r\nHost:\ a", &mut out).unwrap();
        assert!(out.is_empty());
        chk_with(r"GET / HTTP/1.1\r\nX-A:\ 1", &mut out).unwrap();
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn http_check_rules_build_the_check() {
        let cfg = "backend b\n option httpchk GET /h\n http-check send meth HEAD hdr Host example.org\n http-check expect rstatus ^2\n";
        let imported = parse(cfg).unwrap();
        let check = imported.config.pools[0].http_check.clone().unwrap();
        assert_eq!(check.method, "HEAD");
        assert_eq!(check.path, "/h");
        assert_eq!(check.host.as_deref(), Some("example.org"));
        assert_eq!(check.expect, StatusMatch::Range(200, 299));

        let cfg =
            "backend b\n timeout connect 1s\n timeout server 1s\n http-check expect status 200\n";
        let imported = parse(cfg).unwrap();
        assert_eq!(imported.config.pools[0].http_check, None);
        assert_eq!(imported.warnings.len(), 1, "{:?}", imported.warnings);
        assert_eq!(imported.warnings[0].location.line, 4);
        assert!(imported.warnings[0].message.contains("option httpchk"));

        let e = parse("backend b\n option httpchk\n http-check expect status 200\n http-check expect status 201\n")
            .unwrap_err();
        assert!(matches!(e, Error::Unsupported { ref location, .. } if location.line == 4));
    }

    #[test]
    fn proxy_rules_inherit_check_rules_only_without_their_own() {
        let cfg = "\
defaults
  option httpchk GET /d
  http-check expect status 204
backend inherits
backend own
  http-check send uri /own
";
        let imported = parse(cfg).unwrap();
        let inherits = imported
            .config
            .pool("inherits")
            .unwrap()
            .http_check
            .clone()
            .unwrap();
        assert_eq!(
            (inherits.path.as_str(), inherits.expect),
            ("/d", StatusMatch::Exact(204))
        );
        let own = imported
            .config
            .pool("own")
            .unwrap()
            .http_check
            .clone()
            .unwrap();
        assert_eq!(own.method, "GET");
        assert_eq!(
            (own.path.as_str(), own.expect),
            ("/own", StatusMatch::SuccessOrRedirect)
        );
    }
}
