//! Reading haproxy.cfg lines: splitting into words (quotes, escapes,
//! comments), the file:line context of findings, and the common value forms
//! (names, numbers, durations, ports).

use std::path::Path;
use std::time::Duration;

use super::Warning;
use crate::config::Location;
use crate::error::{Error, Result};

/// The file and line being read.
#[derive(Clone, Copy)]
pub(super) struct Ctx<'a> {
    pub(super) file: &'a Path,
    pub(super) line: u32,
}

impl Ctx<'_> {
    pub(super) fn loc(&self) -> Location {
        Location {
            file: self.file.to_path_buf(),
            line: self.line,
        }
    }

    pub(super) fn error(&self, message: impl Into<String>) -> Error {
        Error::Config {
            location: self.loc(),
            message: message.into(),
        }
    }

    pub(super) fn unsupported(&self, feature: impl Into<String>) -> Error {
        Error::Unsupported {
            location: self.loc(),
            feature: feature.into(),
        }
    }

    pub(super) fn warning(&self, message: impl Into<String>) -> Warning {
        Warning {
            location: self.loc(),
            message: message.into(),
        }
    }
}

/// Why a line could not be split into words.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum LineError {
    /// A quote (the char) is not closed by the end of the line.
    UnmatchedQuote(char),
    /// `\x` not followed by two hex digits.
    BadHexEscape,
    /// `$NAME` or `${NAME}` inside double quotes.
    EnvVar(String),
    /// `\xHH` escapes produced bytes that are not UTF-8.
    InvalidUtf8,
}

impl LineError {
    pub(super) fn into_error(self, ctx: &Ctx<'_>) -> Error {
        match self {
            LineError::UnmatchedQuote(q) => ctx.error(format!(
                "unmatched {q} quote: a quoted string must end on the same line"
            )),
            LineError::BadHexEscape => {
                ctx.error("invalid escape: '\\x' must be followed by two hexadecimal digits")
            }
            LineError::EnvVar(name) => {
                ctx.unsupported(format!("environment variable expansion ('{name}')"))
            }
            LineError::InvalidUtf8 => ctx.error("escape sequences on this line make invalid UTF-8"),
        }
    }
}

pub(super) fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\x0b' | b'\x0c' | b'\r' | b'\n')
}

/// Splits a line into words the way HAProxy's `parse_line` does.
pub(super) fn split_words(line: &str) -> std::result::Result<Vec<String>, LineError> {
    let bytes = line.as_bytes();
    let mut words = Vec::new();
    let mut word: Vec<u8> = Vec::new();
    let mut in_word = false;
    let (mut single, mut double) = (false, false);
    let mut i = 0;
    let finish = |word: &mut Vec<u8>, words: &mut Vec<String>| {
        String::from_utf8(std::mem::take(word))
            .map(|w| words.push(w))
            .map_err(|_| LineError::InvalidUtf8)
    };
    while let Some(&c) = bytes.get(i) {
        if !single && !double {
            if is_blank(c) {
                if in_word {
                    finish(&mut word, &mut words)?;
                    in_word = false;
                }
                i += 1;
                continue;
            }
            if c == b'#' {
                break;
            }
        }
        in_word = true;
        match c {
            b'"' if !single => {
                double = !double;
                i += 1;
            }
            b'\'' if !double => {
                single = !single;
                i += 1;
            }
            b'\\' if !single => match bytes.get(i + 1) {
                Some(&e @ (b'\\' | b' ' | b'\'' | b'"' | b'#' | b'$')) => {
                    word.push(e);
                    i += 2;
                }
                Some(b'r') => {
                    word.push(b'\r');
                    i += 2;
                }
                Some(b'n') => {
                    word.push(b'\n');
                    i += 2;
                }
                Some(b't') => {
                    word.push(b'\t');
                    i += 2;
                }
                Some(b'x') => {
                    let hex = bytes.get(i + 2..i + 4).ok_or(LineError::BadHexEscape)?;
                    let hex = std::str::from_utf8(hex).map_err(|_| LineError::BadHexEscape)?;
                    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(LineError::BadHexEscape);
                    }
                    let value = u8::from_str_radix(hex, 16).map_err(|_| LineError::BadHexEscape)?;
                    word.push(value);
                    i += 4;
                }
                _ => {
                    // Not an escape: the backslash stays (regexes need it).
                    word.push(b'\\');
                    i += 1;
                }
            },
            b'$' if double => {
                let rest = bytes.get(i + 1..).unwrap_or_default();
                let braced = rest.first() == Some(&b'{');
                let name_start = usize::from(braced);
                let name_len = rest
                    .get(name_start..)
                    .unwrap_or_default()
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                    .count();
                let starts_name = rest
                    .get(name_start)
                    .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_');
                if braced || starts_name {
                    let end = (name_start + name_len + usize::from(braced)).min(rest.len());
                    let name = String::from_utf8_lossy(rest.get(..end).unwrap_or_default());
                    return Err(LineError::EnvVar(format!("${name}")));
                }
                word.push(c);
                i += 1;
            }
            _ => {
                word.push(c);
                i += 1;
            }
        }
    }
    if single {
        return Err(LineError::UnmatchedQuote('\''));
    }
    if double {
        return Err(LineError::UnmatchedQuote('"'));
    }
    if in_word {
        finish(&mut word, &mut words)?;
    }
    Ok(words)
}

/// HAProxy's rule for proxy, server and ACL names.
pub(super) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'))
}

pub(super) fn check_name(name: &str, what: &str, ctx: &Ctx<'_>) -> Result<()> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(ctx.error(format!(
            "invalid {what} name '{name}': only letters, digits, '.', '-', '_' and ':' are allowed"
        )))
    }
}

/// The single argument of `words[0]`, or an error saying `usage`.
pub(super) fn one_arg<'w>(words: &'w [String], usage: &str, ctx: &Ctx<'_>) -> Result<&'w str> {
    match words {
        [_, value] => Ok(value),
        [kw] => Err(ctx.error(format!("missing argument: '{kw}' {usage}"))),
        [kw, ..] => Err(ctx.error(format!("too many arguments: '{kw}' {usage}"))),
        [] => Err(ctx.error(format!("missing keyword: {usage}"))),
    }
}

/// A whole number; `what` names it in the message.
pub(super) fn number(word: &str, what: &str, ctx: &Ctx<'_>) -> Result<u32> {
    if word.is_empty() || !word.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ctx.error(format!("'{what}' expects a whole number, found '{word}'")));
    }
    word.parse().map_err(|_| {
        ctx.error(format!(
            "'{what}' value {word} is too large (at most {})",
            u32::MAX
        ))
    })
}

/// HAProxy's time values: a bare number is milliseconds.
pub(super) fn duration(word: &str, what: &str, ctx: &Ctx<'_>) -> Result<Duration> {
    let value =
        ha_core::duration::haproxy(word).map_err(|e| ctx.error(format!("'{what}': {e}")))?;
    // HAProxy keeps times in signed 32-bit milliseconds.
    if value.as_millis() > i32::MAX as u128 {
        return Err(ctx.error(format!(
            "'{what}': {word} is too long (at most 2147483647 ms, about 24.8 days)"
        )));
    }
    Ok(value)
}

/// A port number 1..=65535.
pub(super) fn port(word: &str, what: &str, ctx: &Ctx<'_>) -> Result<u16> {
    if word.is_empty() || !word.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ctx.error(format!(
            "{what}: invalid port '{word}', expected a number from 1 to 65535"
        )));
    }
    match word.parse::<u32>() {
        Ok(p @ 1..=65535) => Ok(p as u16),
        _ => Err(ctx.error(format!(
            "{what}: port {word} is out of range, expected 1 to 65535"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn words_split_on_blanks_and_drop_comments() {
        assert_eq!(
            words("  server  web1\t10.0.0.1:80 check # comment"),
            ["server", "web1", "10.0.0.1:80", "check"]
        );
        assert_eq!(words("# only a comment"), Vec::<String>::new());
        assert_eq!(words("a#b c"), ["a"]);
        assert_eq!(words("   "), Vec::<String>::new());
    }

    #[test]
    fn words_quotes_and_escapes() {
        assert_eq!(
            words(r#"say "hello world" 'it''s' "#),
            ["say", "hello world", "its"]
        );
        assert_eq!(words(r#"a "" b"#), ["a", "", "b"]);
        assert_eq!(words(r#"x "a#b" 'c#d' e\#f"#), ["x", "a#b", "c#d", "e#f"]);
        assert_eq!(words(r"HTTP/1.1\r\nHost:\ www"), ["HTTP/1.1\r\nHost: www"]);
        assert_eq!(words(r"'\r\n'"), [r"\r\n"]);
        assert_eq!(words(r"^www\.example\.com$"), [r"^www\.example\.com$"]);
        assert_eq!(words(r"\x41\x62 \\ \t"), ["Ab", "\\", "\t"]);
        assert_eq!(
            words(r#""a\"b" mixed"quoted"'parts'"#),
            ["a\"b", "mixedquotedparts"]
        );
        assert_eq!(words("trailing\\"), ["trailing\\"]);
        assert_eq!(words("'$HOME' $HOME"), ["$HOME", "$HOME"]);
    }

    #[test]
    fn words_errors() {
        assert_eq!(split_words(r#"a "b"#), Err(LineError::UnmatchedQuote('"')));
        assert_eq!(split_words("a 'b"), Err(LineError::UnmatchedQuote('\'')));
        assert_eq!(split_words(r"\xZZ"), Err(LineError::BadHexEscape));
        assert_eq!(split_words(r"\x4"), Err(LineError::BadHexEscape));
        assert_eq!(split_words(r"\xff"), Err(LineError::InvalidUtf8));
        assert_eq!(
            split_words(r#"bind "${ADDR}:80""#),
            Err(LineError::EnvVar("${ADDR}".into()))
        );
        assert_eq!(
            split_words(r#""$PORT""#),
            Err(LineError::EnvVar("$PORT".into()))
        );
        assert_eq!(split_words(r#""100$""#).unwrap(), ["100$"]);
    }
}
