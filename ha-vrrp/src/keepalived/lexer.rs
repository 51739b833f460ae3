//! Lexing keepalived.conf, with `include`s expanded.
//!
//! The files become one stream of words and braces, each `include` replaced
//! by the files it names.

use std::path::{Path, PathBuf};

use super::glob::glob_match;
use super::parser::Parser;
use super::{Imported, MAX_FILES, MAX_INCLUDE_DEPTH, Warning};
use crate::config::Location;
use crate::error::{Error, Result};

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Word,
    Open,
    Close,
}

/// One word, `{` or `}`, and where it was read.
#[derive(Debug, Clone)]
pub(super) struct Token {
    pub(super) kind: Kind,
    pub(super) text: String,
    /// Index into the list of files read.
    pub(super) file: usize,
    pub(super) line: u32,
}

/// Splits one line into words and braces; `Err` for an unterminated quote.
fn split_line(line: &str) -> std::result::Result<Vec<(Kind, String)>, String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '#' | '!' => break,
            '{' | '}' => {
                chars.next();
                let kind = if c == '{' { Kind::Open } else { Kind::Close };
                out.push((kind, c.to_string()));
            }
            '"' => {
                chars.next();
                let mut word = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some(c) => word.push(c),
                        None => {
                            return Err(
                                "unterminated quoted string: expected a closing `\"`".into()
                            );
                        }
                    }
                }
                out.push((Kind::Word, word));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || c == '{' || c == '}' {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                out.push((Kind::Word, word));
            }
        }
    }
    Ok(out)
}

/// Reads a file as UTF-8 text, in this crate's error type.
fn read_text(path: &Path) -> Result<String> {
    ha_core::config_text::read(path).map_err(|e| match e {
        ha_core::Error::ReadConfig { path, source } => Error::ReadConfig {
            path,
            message: source.to_string(),
        },
        ha_core::Error::NotUtf8(location) => Error::NotUtf8(location),
        other => Error::ReadConfig {
            path: path.to_path_buf(),
            message: other.to_string(),
        },
    })
}

/// The path with links and `..` resolved, for loop detection; the path itself
/// if that fails.
fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Turns files into one token stream, expanding `include`s.
pub(super) struct Lexer {
    follow_includes: bool,
    files: Vec<PathBuf>,
    /// The files being read, outermost first (canonical paths).
    reading: Vec<PathBuf>,
    tokens: Vec<Token>,
    warnings: Vec<Warning>,
}

impl Lexer {
    /// A lexer that follows `include`s, or warns that it does not.
    pub(super) fn new(follow_includes: bool) -> Self {
        Self {
            follow_includes,
            files: Vec::new(),
            reading: Vec::new(),
            tokens: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn location(&self, file: usize, line: u32) -> Location {
        Location {
            file: self.files.get(file).cloned().unwrap_or_default(),
            line,
        }
    }

    /// Reads the file at `path`, `depth` includes deep, and lexes it.
    pub(super) fn read_file(&mut self, path: &Path, depth: u32) -> Result<()> {
        let text = read_text(path)?;
        self.reading.push(canonical(path));
        self.lex_file(&text, path, depth)?;
        self.reading.pop();
        Ok(())
    }

    /// Lexes `text`, the contents of the file `path`.
    pub(super) fn lex_file(&mut self, text: &str, path: &Path, depth: u32) -> Result<()> {
        self.files.push(path.to_path_buf());
        let file = self.files.len() - 1;
        for (index, line) in text.lines().enumerate() {
            let line_no = u32::try_from(index + 1).unwrap_or(u32::MAX);
            let words = split_line(line).map_err(|message| Error::Config {
                location: self.location(file, line_no),
                message,
            })?;
            if let Some((Kind::Word, first)) = words.first()
                && first == "include"
            {
                self.include(&words[1..], self.location(file, line_no), depth)?;
                continue;
            }
            self.tokens
                .extend(words.into_iter().map(|(kind, text)| Token {
                    kind,
                    text,
                    file,
                    line: line_no,
                }));
        }
        Ok(())
    }

    /// Follows `include PATTERN` (the words after `include`), read at
    /// `location` in a file `depth` includes deep.
    fn include(&mut self, args: &[(Kind, String)], location: Location, depth: u32) -> Result<()> {
        let pattern = match args {
            [(Kind::Word, pattern)] => pattern,
            _ => {
                return Err(Error::Config {
                    location,
                    message: "`include` expects one file name or pattern".into(),
                });
            }
        };
        if !self.follow_includes {
            self.warnings.push(Warning {
                location,
                message: format!(
                    "`include {pattern}` not followed: parse_str reads no files (use load)"
                ),
            });
            return Ok(());
        }
        if depth >= MAX_INCLUDE_DEPTH {
            return Err(Error::Config {
                location,
                message: format!(
                    "`include {pattern}` nests deeper than {MAX_INCLUDE_DEPTH} files (an include loop?)"
                ),
            });
        }
        let base = location.file.parent().unwrap_or(Path::new(""));
        let path = base.join(pattern);
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let targets = if name.contains(['*', '?']) {
            let found = matching_files(&path, name)?;
            if found.is_empty() {
                self.warnings.push(Warning {
                    location: location.clone(),
                    message: format!("`include {pattern}` matches no file"),
                });
            }
            found
        } else {
            vec![path]
        };
        for target in targets {
            if self.reading.contains(&canonical(&target)) {
                return Err(Error::Config {
                    location: location.clone(),
                    message: format!(
                        "include loop: `{}` is already being read; expected an include of another file",
                        target.display()
                    ),
                });
            }
            if self.files.len() >= MAX_FILES {
                return Err(Error::Config {
                    location,
                    message: format!(
                        "`include {pattern}` reads more than {MAX_FILES} files in all"
                    ),
                });
            }
            self.read_file(&target, depth + 1)?;
        }
        Ok(())
    }

    /// Builds the block tree and interprets it.
    pub(super) fn finish(self) -> Result<Imported> {
        let Lexer {
            files,
            tokens,
            warnings,
            ..
        } = self;
        let mut parser = Parser::new(files, warnings);
        let nodes = parser.tree(tokens)?;
        let config = parser.config(&nodes)?;
        Ok(Imported {
            config,
            warnings: parser.into_warnings(),
        })
    }
}

/// The files in `path`'s directory whose names match `pattern` (the last
/// component of `path`), in name order.
fn matching_files(path: &Path, pattern: &str) -> Result<Vec<PathBuf>> {
    let dir = path.parent().unwrap_or(Path::new(""));
    let listing = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let read_error = |e: std::io::Error| Error::ReadConfig {
        path: listing.to_path_buf(),
        message: e.to_string(),
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(listing).map_err(read_error)? {
        let entry = entry.map_err(read_error)?;
        let matches = entry
            .file_name()
            .to_str()
            .is_some_and(|n| glob_match(pattern, n));
        if matches && entry.path().is_file() {
            found.push(dir.join(entry.file_name()));
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keepalived::parse_str;

    fn kinds(line: &str) -> Vec<(Kind, String)> {
        split_line(line).unwrap()
    }

    #[test]
    fn braces_split_from_words_and_quotes_kept_whole() {
        assert_eq!(
            kinds("vrrp_instance VI_1{"),
            vec![
                (Kind::Word, "vrrp_instance".into()),
                (Kind::Word, "VI_1".into()),
                (Kind::Open, "{".into())
            ]
        );
        assert_eq!(
            kinds("notify \"/bin/x a { b }\"}"),
            vec![
                (Kind::Word, "notify".into()),
                (Kind::Word, "/bin/x a { b }".into()),
                (Kind::Close, "}".into())
            ]
        );
    }

    #[test]
    fn comments_start_at_a_word_only() {
        assert_eq!(kinds("  # all comment"), vec![]);
        assert_eq!(
            kinds("priority 100 ! why"),
            vec![(Kind::Word, "priority".into()), (Kind::Word, "100".into())]
        );
        assert_eq!(
            kinds("auth_pass pa!ss#1"),
            vec![
                (Kind::Word, "auth_pass".into()),
                (Kind::Word, "pa!ss#1".into())
            ]
        );
    }

    #[test]
    fn unterminated_quote_is_an_error() {
        assert!(split_line("notify \"abc").is_err());
        let err = parse_str("\n\nnotify \"x", Path::new("k.conf")).unwrap_err();
        assert!(
            err.to_string().starts_with("k.conf:3: unterminated"),
            "{err}"
        );
    }

    #[test]
    fn a_file_that_is_not_utf8_names_the_line() {
        let path = std::env::temp_dir().join(format!("ha-vrrp-utf8-{}.conf", std::process::id()));
        std::fs::write(&path, b"global_defs {\n  router_id \xff\n}\n").unwrap();
        let err = crate::keepalived::load(&path).unwrap_err();
        let _ = std::fs::remove_file(&path);
        assert!(
            matches!(&err, Error::NotUtf8(at) if at.line == 2 && at.file == path),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .ends_with(".conf:2: this line is not valid UTF-8"),
            "{err}"
        );
    }

    #[test]
    fn include_is_not_followed_by_parse_str() {
        let imported = parse_str("include other.conf\n", Path::new("k.conf")).unwrap();
        assert_eq!(imported.warnings.len(), 1);
        assert!(
            imported.warnings[0]
                .to_string()
                .starts_with("k.conf:1: `include other.conf` not followed")
        );
    }
}
