//! Import of keepalived.conf into [`Config`].
//!
//! [`parse_str`] reads the text of one file (and reads no other file);
//! [`load`] reads a file from disk and follows its `include` directives.
//!
//! The syntax is keepalived 2.x's:
//! - a line is split into words on blanks; `{` and `}` are words of their own
//!   even when glued to another word (`VI_1{`); `"..."` quotes a word (no
//!   escapes), so `notify_master "/usr/bin/systemctl start haproxy"` stores
//!   the command line without its quotes; a word starting with `#` or `!`
//!   starts a comment that runs to the end of the line.
//! - a keyword and its arguments sit on one line; a block opens with `{` on
//!   the keyword's line or on a line of its own after it.
//! - `include PATTERN` (on a line of its own) reads the files PATTERN names,
//!   relative to the including file's directory, in name order; `*` and `?`
//!   may be used in the last path component. Includes nest at most
//!   [`MAX_INCLUDE_DEPTH`] deep, which also stops include loops.
//!
//! Findings come in two kinds, as with keepalived:
//! - unknown keywords and blocks (`virtual_server`, `static_ipaddress`,
//!   `vrrp_strict`...), extra words after a setting, and `auth_pass`
//!   longer than 8 characters (truncated to 8, as keepalived does): a
//!   [`Warning`] with `file:line`, and parsing goes on (an unknown block is
//!   skipped as a whole);
//! - invalid values and structure (bad numbers, ranges, addresses or
//!   durations, a missing `interface` or `virtual_router_id`, unbalanced
//!   braces, `auth_type AH`, `track_script` naming no `vrrp_script` or
//!   `track_file` no `vrrp_track_file`, a sync group naming no instance,
//!   duplicate names): [`Error::Config`] naming the file and line and what
//!   was expected.
//!
//! ```
//! use std::path::Path;
//! use ha_vrrp::config::InitialState;
//! use ha_vrrp::keepalived;
//!
//! let text = "\
//! vrrp_instance VI_1 {
//!     state MASTER
//!     interface eth0
//!     virtual_router_id 51
//!     priority 150
//!     virtual_ipaddress {
//!         192.168.122.100/24
//!     }
//!     notify_master \"/usr/bin/systemctl start haproxy\"
//! }
//! ";
//! let imported = keepalived::parse_str(text, Path::new("keepalived.conf"))?;
//! let vi = &imported.config.instances[0];
//! assert_eq!(vi.initial_state, Some(InitialState::Master));
//! assert_eq!((vi.vrid, vi.priority), (51, 150));
//! assert_eq!(vi.virtual_addresses[0].prefix, 24);
//! assert_eq!(vi.notify_master.as_deref(), Some("/usr/bin/systemctl start haproxy"));
//! assert!(imported.warnings.is_empty());
//! # Ok::<(), ha_vrrp::Error>(())
//! ```

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{
    Config, GlobalDefs, InitFile, InitialState, Instance, Location, SyncGroup, Tracked,
    VirtualAddress, VrrpScript, VrrpTrackFile,
};
use crate::error::{Error, Result};
use crate::packet::{Auth, Version};

/// How deep `include`s may nest (a file including itself stops here).
pub const MAX_INCLUDE_DEPTH: u32 = 8;

/// How many files one configuration may read, includes included (a
/// guard against globbing include loops that would grow exponentially).
pub const MAX_FILES: usize = 1024;

/// How deep `{ ... }` blocks may nest.
const MAX_BLOCK_DEPTH: usize = 32;

pub use ha_core::Warning;

/// A configuration read from keepalived.conf, with the remarks made on the
/// way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The configuration.
    pub config: Config,
    /// Non-fatal remarks: those about `include`s first, then the others in
    /// the order of the lines they are about.
    pub warnings: Vec<Warning>,
}

/// Parses the text of one keepalived.conf file; `file` is used in locations.
/// `include` directives are not followed (a warning says so): use [`load`].
pub fn parse_str(text: &str, file: &Path) -> Result<Imported> {
    let mut lexer = Lexer::new(false);
    let index = lexer.add_file(file);
    lexer.lex_text(text, index, 0)?;
    lexer.finish()
}

/// Reads keepalived.conf from `path`, following its `include` directives.
pub fn load(path: &Path) -> Result<Imported> {
    let mut lexer = Lexer::new(true);
    let text = read_text(path)?;
    let index = lexer.add_file(path);
    lexer.reading.push(canonical(path));
    lexer.lex_text(&text, index, 0)?;
    lexer.finish()
}

/// The path with links and `..` resolved, for loop detection; the path itself
/// if that fails.
fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Reads a file as UTF-8 text.
fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::ReadConfig {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let before = e.as_bytes().get(..valid).unwrap_or_default();
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        Error::Config {
            location: Location {
                file: path.to_path_buf(),
                line: u32::try_from(line).unwrap_or(u32::MAX),
            },
            message: "this line is not valid UTF-8".into(),
        }
    })
}

// ---------------------------------------------------------------------------
// Words

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Word,
    Open,
    Close,
}

/// One word, `{` or `}`, and where it was read.
#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    text: String,
    /// Index into the list of files read.
    file: usize,
    line: u32,
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

/// Whether `name` matches the shell pattern `pattern` (`*`, `?`; a leading
/// `.` must be matched literally).
fn glob_match(pattern: &str, name: &str) -> bool {
    if name.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(&c) if c == '?' || c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Turns files into one token stream, expanding `include`s.
struct Lexer {
    follow_includes: bool,
    files: Vec<PathBuf>,
    /// The files being read, outermost first (canonical paths).
    reading: Vec<PathBuf>,
    tokens: Vec<Token>,
    warnings: Vec<Warning>,
}

impl Lexer {
    fn new(follow_includes: bool) -> Self {
        Self {
            follow_includes,
            files: Vec::new(),
            reading: Vec::new(),
            tokens: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn add_file(&mut self, path: &Path) -> usize {
        self.files.push(path.to_path_buf());
        self.files.len() - 1
    }

    fn location(&self, file: usize, line: u32) -> Location {
        Location {
            file: self.files.get(file).cloned().unwrap_or_default(),
            line,
        }
    }

    fn lex_text(&mut self, text: &str, file: usize, depth: u32) -> Result<()> {
        for (index, line) in text.lines().enumerate() {
            let line_no = u32::try_from(index + 1).unwrap_or(u32::MAX);
            let words = split_line(line).map_err(|message| Error::Config {
                location: self.location(file, line_no),
                message,
            })?;
            if let Some((Kind::Word, first)) = words.first()
                && first == "include"
            {
                self.include(&words[1..], file, line_no, depth)?;
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

    fn include(
        &mut self,
        args: &[(Kind, String)],
        file: usize,
        line: u32,
        depth: u32,
    ) -> Result<()> {
        let location = self.location(file, line);
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
                    .is_some_and(|n| glob_match(name, n));
                if matches && entry.path().is_file() {
                    found.push(dir.join(entry.file_name()));
                }
            }
            found.sort();
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
            let key = canonical(&target);
            if self.reading.contains(&key) {
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
            let text = read_text(&target)?;
            let index = self.add_file(&target);
            self.reading.push(key);
            self.lex_text(&text, index, depth + 1)?;
            self.reading.pop();
        }
        Ok(())
    }

    /// Builds the block tree and interprets it.
    fn finish(self) -> Result<Imported> {
        let Lexer {
            files,
            tokens,
            warnings,
            ..
        } = self;
        let mut parser = Parser { files, warnings };
        let nodes = parser.tree(tokens)?;
        let config = parser.config(&nodes)?;
        Ok(Imported {
            config,
            warnings: parser.warnings,
        })
    }
}

// ---------------------------------------------------------------------------
// Blocks

/// A keyword line with its arguments and, maybe, its `{ ... }` block.
#[derive(Debug)]
struct Node {
    /// The keyword and its arguments (never empty).
    words: Vec<Token>,
    block: Option<Vec<Node>>,
}

impl Node {
    fn key(&self) -> &str {
        self.words.first().map_or("", |w| w.text.as_str())
    }

    fn head(&self) -> &Token {
        &self.words[0]
    }

    fn args(&self) -> &[Token] {
        self.words.get(1..).unwrap_or_default()
    }
}

/// A block left open: the keyword line that opened it and its contents.
struct Frame {
    parent: Node,
    children: Vec<Node>,
}

/// A reference checked once the whole file is read.
struct Reference {
    name: String,
    location: Location,
}

struct Parser {
    files: Vec<PathBuf>,
    warnings: Vec<Warning>,
}

impl Parser {
    fn loc(&self, token: &Token) -> Location {
        Location {
            file: self.files.get(token.file).cloned().unwrap_or_default(),
            line: token.line,
        }
    }

    fn error(&self, token: &Token, message: impl Into<String>) -> Error {
        Error::Config {
            location: self.loc(token),
            message: message.into(),
        }
    }

    fn warn(&mut self, token: &Token, message: impl Into<String>) {
        let location = self.loc(token);
        self.warnings.push(Warning {
            location,
            message: message.into(),
        });
    }

    /// Groups the token stream into keyword lines and blocks.
    fn tree(&self, tokens: Vec<Token>) -> Result<Vec<Node>> {
        let mut stack: Vec<Frame> = Vec::new();
        let mut top: Vec<Node> = Vec::new();
        let mut current: Option<Node> = None;
        for token in tokens {
            let children = stack.last_mut().map_or(&mut top, |f| &mut f.children);
            match token.kind {
                Kind::Word => match &mut current {
                    Some(node)
                        if node.head().file == token.file && node.head().line == token.line =>
                    {
                        node.words.push(token);
                    }
                    _ => {
                        children.extend(current.take());
                        current = Some(Node {
                            words: vec![token],
                            block: None,
                        });
                    }
                },
                Kind::Open => {
                    let Some(parent) = current.take() else {
                        return Err(self.error(&token, "`{` without a keyword before it"));
                    };
                    if stack.len() >= MAX_BLOCK_DEPTH {
                        return Err(self.error(
                            &token,
                            format!("blocks nested deeper than {MAX_BLOCK_DEPTH}"),
                        ));
                    }
                    stack.push(Frame {
                        parent,
                        children: Vec::new(),
                    });
                }
                Kind::Close => {
                    children.extend(current.take());
                    let Some(mut frame) = stack.pop() else {
                        return Err(self.error(&token, "unbalanced `}`: no block is open here"));
                    };
                    frame.parent.block = Some(frame.children);
                    stack
                        .last_mut()
                        .map_or(&mut top, |f| &mut f.children)
                        .push(frame.parent);
                }
            }
        }
        if let Some(frame) = stack.pop() {
            return Err(self.error(
                frame.parent.head(),
                format!(
                    "`{}` block is never closed: expected `}}` before the end of the file",
                    frame.parent.key()
                ),
            ));
        }
        top.extend(current);
        Ok(top)
    }

    // -- argument helpers ---------------------------------------------------

    /// Warns about a block after a keyword that takes none.
    fn no_block(&mut self, node: &Node) {
        if node.block.is_some() {
            let key = node.key().to_string();
            self.warn(
                node.head(),
                format!("`{key}` takes no block; block ignored"),
            );
        }
    }

    /// The keyword's block, or an error.
    fn block<'n>(&self, node: &'n Node) -> Result<&'n [Node]> {
        node.block.as_deref().ok_or_else(|| {
            self.error(
                node.head(),
                format!("`{}` expects a `{{ ... }}` block", node.key()),
            )
        })
    }

    /// The single argument of a keyword; extra words are warned about.
    fn one_arg<'n>(&mut self, node: &'n Node, what: &str) -> Result<&'n Token> {
        self.no_block(node);
        let Some(first) = node.args().first() else {
            return Err(self.error(node.head(), format!("`{}` expects {what}", node.key())));
        };
        if node.args().len() > 1 {
            let key = node.key().to_string();
            self.warn(
                node.head(),
                format!("extra words after `{key} {}` ignored", first.text),
            );
        }
        Ok(first)
    }

    /// A keyword that takes no argument.
    fn flag(&mut self, node: &Node) {
        self.no_block(node);
        if !node.args().is_empty() {
            let key = node.key().to_string();
            self.warn(node.head(), format!("extra words after `{key}` ignored"));
        }
    }

    /// A command line: the arguments joined by spaces, double quotes removed
    /// (so `notify "/bin/x a"` and `notify /bin/x a` are the same; quotes
    /// inside a quoted word, e.g. `'a b'`, are kept for the runner).
    fn command(&mut self, node: &Node) -> Result<String> {
        self.no_block(node);
        if node.args().is_empty() {
            return Err(self.error(
                node.head(),
                format!("`{}` expects a command line", node.key()),
            ));
        }
        let words: Vec<&str> = node.args().iter().map(|w| w.text.as_str()).collect();
        Ok(words.join(" "))
    }

    fn integer(&self, key: &str, token: &Token, min: i64, max: i64) -> Result<i64> {
        token
            .text
            .parse::<i64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| {
                self.error(
                    token,
                    format!(
                        "`{key}` expects a whole number {min}..={max}, got `{}`",
                        token.text
                    ),
                )
            })
    }

    fn int_arg(&mut self, node: &Node, min: i64, max: i64) -> Result<i64> {
        let token = self.one_arg(node, &format!("a whole number {min}..={max}"))?;
        self.integer(node.key(), token, min, max)
    }

    fn u8_arg(&mut self, node: &Node, min: u8, max: u8) -> Result<u8> {
        let n = self.int_arg(node, min.into(), max.into())?;
        Ok(u8::try_from(n).unwrap_or(max))
    }

    fn u32_arg(&mut self, node: &Node, min: u32) -> Result<u32> {
        let n = self.int_arg(node, min.into(), u32::MAX.into())?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    fn duration_arg(&mut self, node: &Node) -> Result<Duration> {
        let token = self.one_arg(node, "a duration in seconds (e.g. 1 or 0.5)")?;
        ha_core::duration::keepalived(&token.text).map_err(|_| {
            self.error(
                token,
                format!(
                    "`{}` expects a duration in seconds (e.g. 1 or 0.5), got `{}`",
                    node.key(),
                    token.text
                ),
            )
        })
    }

    fn version_arg(&mut self, node: &Node) -> Result<Version> {
        let token = self.one_arg(node, "2 or 3")?;
        match token.text.as_str() {
            "2" => Ok(Version::V2),
            "3" => Ok(Version::V3),
            other => Err(self.error(
                token,
                format!("`{}` expects 2 or 3, got `{other}`", node.key()),
            )),
        }
    }

    fn ip(&self, key: &str, token: &Token) -> Result<IpAddr> {
        token.text.parse().map_err(|_| {
            self.error(
                token,
                format!(
                    "`{key}` expects an IPv4 or IPv6 address, got `{}`",
                    token.text
                ),
            )
        })
    }

    fn unknown(&mut self, node: &Node, context: &str) {
        let key = node.key().to_string();
        let what = if node.block.is_some() {
            " and its block"
        } else {
            ""
        };
        self.warn(
            node.head(),
            format!("unknown keyword `{key}` in {context} ignored{what}"),
        );
    }

    // -- sections -----------------------------------------------------------

    fn config(&mut self, nodes: &[Node]) -> Result<Config> {
        let mut config = Config::default();
        let mut script_refs: Vec<Reference> = Vec::new();
        let mut file_refs: Vec<Reference> = Vec::new();
        let mut member_refs: Vec<Reference> = Vec::new();
        for node in nodes {
            match node.key() {
                "global_defs" => self.global(node, &mut config.global)?,
                "vrrp_script" => {
                    let script = self.script(node)?;
                    if config.script(&script.name).is_some() {
                        return Err(self.error(
                            node.head(),
                            format!(
                                "duplicate vrrp_script `{}`: names must be unique",
                                script.name
                            ),
                        ));
                    }
                    config.scripts.push(script);
                }
                "vrrp_track_file" => {
                    let file = self.track_file(node)?;
                    if config.track_file(&file.name).is_some() {
                        return Err(self.error(
                            node.head(),
                            format!(
                                "duplicate vrrp_track_file `{}`: names must be unique",
                                file.name
                            ),
                        ));
                    }
                    config.track_files.push(file);
                }
                "vrrp_instance" => {
                    let instance = self.instance(node, &mut script_refs, &mut file_refs)?;
                    if config.instance(&instance.name).is_some() {
                        return Err(self.error(
                            node.head(),
                            format!(
                                "duplicate vrrp_instance `{}`: names must be unique",
                                instance.name
                            ),
                        ));
                    }
                    config.instances.push(instance);
                }
                "vrrp_sync_group" => {
                    let group = self.sync_group(node, &mut member_refs)?;
                    if config.sync_groups.iter().any(|g| g.name == group.name) {
                        return Err(self.error(
                            node.head(),
                            format!(
                                "duplicate vrrp_sync_group `{}`: names must be unique",
                                group.name
                            ),
                        ));
                    }
                    config.sync_groups.push(group);
                }
                _ => self.unknown(node, "the top level"),
            }
        }
        for r in script_refs {
            if config.script(&r.name).is_none() {
                return Err(Error::Config {
                    location: r.location,
                    message: format!(
                        "track_script names `{}`, but no vrrp_script has that name",
                        r.name
                    ),
                });
            }
        }
        for r in file_refs {
            if config.track_file(&r.name).is_none() {
                return Err(Error::Config {
                    location: r.location,
                    message: format!(
                        "track_file names `{}`, but no vrrp_track_file has that name",
                        r.name
                    ),
                });
            }
        }
        let mut grouped = HashSet::new();
        for r in member_refs {
            if config.instance(&r.name).is_none() {
                return Err(Error::Config {
                    location: r.location,
                    message: format!("sync group member `{}` is not a vrrp_instance", r.name),
                });
            }
            if !grouped.insert(r.name.clone()) {
                return Err(Error::Config {
                    location: r.location,
                    message: format!("vrrp_instance `{}` is already in a sync group", r.name),
                });
            }
        }
        Ok(config)
    }

    /// The name after `vrrp_instance`, `vrrp_script`...
    fn section_name<'n>(&mut self, node: &'n Node) -> Result<(&'n str, &'n [Node])> {
        let Some(name) = node.args().first() else {
            return Err(self.error(node.head(), format!("`{}` expects a name", node.key())));
        };
        if node.args().len() > 1 {
            let key = node.key().to_string();
            self.warn(
                node.head(),
                format!("extra words after `{key} {}` ignored", name.text),
            );
        }
        Ok((name.text.as_str(), self.block(node)?))
    }

    fn global(&mut self, node: &Node, global: &mut GlobalDefs) -> Result<()> {
        self.flag_args_only(node);
        for item in self.block(node)? {
            match item.key() {
                "router_id" => global.router_id = Some(self.one_arg(item, "a name")?.text.clone()),
                "vrrp_version" => global.vrrp_version = Some(self.version_arg(item)?),
                "enable_script_security" => {
                    self.flag(item);
                    global.enable_script_security = true;
                }
                "script_user" => {
                    // `script_user USER [GROUP]`: the group is not modelled.
                    self.no_block(item);
                    let Some(user) = item.args().first() else {
                        return Err(self.error(item.head(), "`script_user` expects a user name"));
                    };
                    if item.args().len() > 1 {
                        self.warn(
                            item.head(),
                            "`script_user` group ignored (the user's group is used)",
                        );
                    }
                    global.script_user = Some(user.text.clone());
                }
                _ => self.unknown(item, "global_defs"),
            }
        }
        Ok(())
    }

    /// Warns about words after a block keyword that takes no name.
    fn flag_args_only(&mut self, node: &Node) {
        if !node.args().is_empty() {
            let key = node.key().to_string();
            self.warn(node.head(), format!("extra words after `{key}` ignored"));
        }
    }

    fn track_file(&mut self, node: &Node) -> Result<VrrpTrackFile> {
        let (name, items) = self.section_name(node)?;
        let mut file = None;
        let mut out = VrrpTrackFile {
            name: name.to_string(),
            file: PathBuf::new(),
            weight: 1,
            init: None,
            location: self.loc(node.head()),
        };
        for item in items {
            match item.key() {
                "file" => file = Some(PathBuf::from(&self.one_arg(item, "a path")?.text)),
                "weight" => {
                    self.no_block(item);
                    let Some(token) = item.args().first() else {
                        return Err(
                            self.error(item.head(), "`weight` expects a whole number -254..=254")
                        );
                    };
                    out.weight =
                        i32::try_from(self.integer("weight", token, -254, 254)?).unwrap_or(0);
                    if item.args().len() > 1 {
                        self.warn(
                            item.head(),
                            "extra words after `weight` ignored (`reverse` is not supported)",
                        );
                    }
                }
                "init_file" => {
                    self.no_block(item);
                    let mut init = InitFile {
                        value: 0,
                        overwrite: false,
                    };
                    for token in item.args() {
                        if token.text == "overwrite" {
                            init.overwrite = true;
                        } else {
                            init.value = self.integer("init_file", token, i64::MIN, i64::MAX)?;
                        }
                    }
                    out.init = Some(init);
                }
                _ => self.unknown(item, "vrrp_track_file"),
            }
        }
        let Some(file) = file else {
            return Err(self.error(
                node.head(),
                format!("vrrp_track_file `{name}` has no `file` line"),
            ));
        };
        out.file = file;
        Ok(out)
    }

    fn script(&mut self, node: &Node) -> Result<VrrpScript> {
        let (name, items) = self.section_name(node)?;
        let mut script = None;
        let mut out = VrrpScript {
            name: name.to_string(),
            script: String::new(),
            interval: Duration::from_secs(1),
            timeout: None,
            weight: 0,
            rise: 1,
            fall: 1,
            location: self.loc(node.head()),
        };
        for item in items {
            match item.key() {
                "script" => script = Some(self.command(item)?),
                "interval" => out.interval = self.nonzero_duration(item)?,
                "timeout" => out.timeout = Some(self.nonzero_duration(item)?),
                "weight" => {
                    self.no_block(item);
                    let Some(token) = item.args().first() else {
                        return Err(
                            self.error(item.head(), "`weight` expects a whole number -253..=253")
                        );
                    };
                    out.weight =
                        i32::try_from(self.integer("weight", token, -253, 253)?).unwrap_or(0);
                    if item.args().len() > 1 {
                        self.warn(
                            item.head(),
                            "extra words after `weight` ignored (`reverse` is not supported)",
                        );
                    }
                }
                "rise" => out.rise = self.u32_arg(item, 1)?,
                "fall" => out.fall = self.u32_arg(item, 1)?,
                _ => self.unknown(item, "vrrp_script"),
            }
        }
        let Some(script) = script else {
            return Err(self.error(
                node.head(),
                format!("vrrp_script `{name}` has no `script` line"),
            ));
        };
        out.script = script;
        Ok(out)
    }

    fn nonzero_duration(&mut self, node: &Node) -> Result<Duration> {
        let d = self.duration_arg(node)?;
        if d.is_zero() {
            return Err(self.error(
                node.head(),
                format!("`{}` expects a duration above 0", node.key()),
            ));
        }
        Ok(d)
    }

    fn instance(
        &mut self,
        node: &Node,
        script_refs: &mut Vec<Reference>,
        file_refs: &mut Vec<Reference>,
    ) -> Result<Instance> {
        let (name, items) = self.section_name(node)?;
        let mut interface = None;
        let mut vrid = None;
        let mut out = Instance {
            name: name.to_string(),
            initial_state: None,
            interface: String::new(),
            vrid: 0,
            priority: 100,
            advert_int: Duration::from_secs(1),
            version: None,
            auth: None,
            virtual_addresses: Vec::new(),
            unicast_src_ip: None,
            unicast_peers: Vec::new(),
            nopreempt: false,
            preempt_delay: None,
            accept: None,
            track_interfaces: Vec::new(),
            track_scripts: Vec::new(),
            track_files: Vec::new(),
            notify_master: None,
            notify_backup: None,
            notify_fault: None,
            notify_stop: None,
            notify: None,
            garp_master_delay: Duration::from_secs(5),
            garp_master_repeat: 5,
            garp_master_refresh: None,
            garp_master_refresh_repeat: 1,
            dont_track_primary: false,
            v3_checksum_as_v2: false,
            use_vmac: false,
            location: self.loc(node.head()),
        };
        for item in items {
            match item.key() {
                "state" => {
                    let token = self.one_arg(item, "MASTER or BACKUP")?;
                    out.initial_state = Some(match token.text.as_str() {
                        "MASTER" => InitialState::Master,
                        "BACKUP" => InitialState::Backup,
                        other => {
                            return Err(self.error(
                                token,
                                format!("`state` expects MASTER or BACKUP, got `{other}`"),
                            ));
                        }
                    });
                }
                "interface" => {
                    interface = Some(self.one_arg(item, "an interface name")?.text.clone())
                }
                "virtual_router_id" => vrid = Some(self.u8_arg(item, 1, 255)?),
                "priority" => out.priority = self.u8_arg(item, 1, 255)?,
                "advert_int" => {
                    let d = self.duration_arg(item)?;
                    if d.is_zero() || d > Duration::from_secs(255) {
                        return Err(self.error(
                            item.head(),
                            "`advert_int` expects a duration above 0 and at most 255 s",
                        ));
                    }
                    out.advert_int = d;
                }
                "version" => out.version = Some(self.version_arg(item)?),
                "authentication" => out.auth = Some(self.authentication(item)?),
                "virtual_ipaddress" => {
                    self.flag_args_only(item);
                    for line in self.block(item)? {
                        let address = self.virtual_address(line)?;
                        out.virtual_addresses.push(address);
                    }
                }
                "unicast_src_ip" => {
                    let token = self.one_arg(item, "an IP address")?;
                    out.unicast_src_ip = Some(self.ip("unicast_src_ip", token)?);
                }
                "unicast_peer" => {
                    self.flag_args_only(item);
                    for line in self.block(item)? {
                        self.no_block(line);
                        out.unicast_peers
                            .push(self.ip("unicast_peer", line.head())?);
                        if !line.args().is_empty() {
                            self.warn(
                                line.head(),
                                "unicast_peer options (min_ttl, max_ttl) ignored",
                            );
                        }
                    }
                }
                "nopreempt" => {
                    self.flag(item);
                    out.nopreempt = true;
                }
                "preempt_delay" => out.preempt_delay = Some(self.duration_arg(item)?),
                "accept" => {
                    self.flag(item);
                    out.accept = Some(true);
                }
                "no_accept" => {
                    self.flag(item);
                    out.accept = Some(false);
                }
                "track_interface" => out.track_interfaces = self.tracked(item, None)?,
                "track_script" => {
                    out.track_scripts = self.tracked(item, Some(&mut *script_refs))?
                }
                "track_file" => out.track_files = self.tracked(item, Some(&mut *file_refs))?,
                "notify_master" => out.notify_master = Some(self.command(item)?),
                "notify_backup" => out.notify_backup = Some(self.command(item)?),
                "notify_fault" => out.notify_fault = Some(self.command(item)?),
                "notify_stop" => out.notify_stop = Some(self.command(item)?),
                "notify" => out.notify = Some(self.command(item)?),
                "garp_master_delay" => out.garp_master_delay = self.duration_arg(item)?,
                "garp_master_repeat" => out.garp_master_repeat = self.u32_arg(item, 1)?,
                "garp_master_refresh" => {
                    let d = self.duration_arg(item)?;
                    out.garp_master_refresh = (!d.is_zero()).then_some(d);
                }
                "garp_master_refresh_repeat" => {
                    out.garp_master_refresh_repeat = self.u32_arg(item, 1)?
                }
                "dont_track_primary" => {
                    self.flag(item);
                    out.dont_track_primary = true;
                }
                "v3_checksum_as_v2" => {
                    self.flag(item);
                    out.v3_checksum_as_v2 = true;
                }
                "use_vmac" => {
                    self.no_block(item);
                    if !item.args().is_empty() {
                        self.warn(
                            item.head(),
                            "`use_vmac` interface name ignored (the default name is used)",
                        );
                    }
                    out.use_vmac = true;
                }
                _ => self.unknown(item, "vrrp_instance"),
            }
        }
        let Some(interface) = interface else {
            return Err(self.error(
                node.head(),
                format!("vrrp_instance `{name}` has no `interface` line (required)"),
            ));
        };
        let Some(vrid) = vrid else {
            return Err(self.error(
                node.head(),
                format!(
                    "vrrp_instance `{name}` has no `virtual_router_id` line (required, 1..=255)"
                ),
            ));
        };
        out.interface = interface;
        out.vrid = vrid;
        Ok(out)
    }

    fn authentication(&mut self, node: &Node) -> Result<Auth> {
        self.flag_args_only(node);
        let mut pass: Option<&Token> = None;
        let mut seen_type = false;
        for item in self.block(node)? {
            match item.key() {
                "auth_type" => {
                    let token = self.one_arg(item, "PASS")?;
                    match token.text.as_str() {
                        "PASS" => seen_type = true,
                        "AH" => {
                            return Err(
                                self.error(token, "`auth_type AH` is not supported: expected PASS")
                            );
                        }
                        other => {
                            return Err(self
                                .error(token, format!("`auth_type` expects PASS, got `{other}`")));
                        }
                    }
                }
                "auth_pass" => pass = Some(self.one_arg(item, "a password")?),
                _ => self.unknown(item, "authentication"),
            }
        }
        if !seen_type {
            return Err(self.error(
                node.head(),
                "`authentication` block has no `auth_type PASS` line",
            ));
        }
        let Some(pass) = pass else {
            return Err(self.error(
                node.head(),
                "`authentication` block has no `auth_pass` line",
            ));
        };
        if pass.text.len() > 8 {
            let kept = String::from_utf8_lossy(&pass.text.as_bytes()[..8]).into_owned();
            self.warn(
                pass,
                format!("`auth_pass` longer than 8 characters: truncated to `{kept}`"),
            );
        }
        Ok(Auth::password(&pass.text))
    }

    fn virtual_address(&mut self, line: &Node) -> Result<VirtualAddress> {
        self.no_block(line);
        let head = line.head();
        let (addr_text, prefix_text) = match head.text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (head.text.as_str(), None),
        };
        let addr: IpAddr = addr_text.parse().map_err(|_| {
            self.error(
                head,
                format!("virtual_ipaddress expects ADDRESS[/PREFIX] [dev IFACE] [label LABEL], got `{}`", head.text),
            )
        })?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix_text {
            None => max,
            Some(p) => p.parse::<u8>().ok().filter(|&p| p <= max).ok_or_else(|| {
                self.error(
                    head,
                    format!("virtual_ipaddress prefix must be 0..={max}, got `{p}`"),
                )
            })?,
        };
        let mut out = VirtualAddress {
            addr,
            prefix,
            dev: None,
            label: None,
        };
        let mut args = line.args().iter();
        while let Some(word) = args.next() {
            match word.text.as_str() {
                "dev" | "label" => {
                    let Some(value) = args.next() else {
                        return Err(
                            self.error(word, format!("`{}` expects a name after it", word.text))
                        );
                    };
                    if word.text == "dev" {
                        out.dev = Some(value.text.clone());
                    } else {
                        out.label = Some(value.text.clone());
                    }
                }
                other => {
                    let other = other.to_string();
                    self.warn(word, format!("virtual_ipaddress option `{other}` ignored"));
                }
            }
        }
        Ok(out)
    }

    /// A `track_*` block: `NAME [weight N]` per line.
    fn tracked(
        &mut self,
        node: &Node,
        mut refs: Option<&mut Vec<Reference>>,
    ) -> Result<Vec<Tracked>> {
        self.flag_args_only(node);
        let mut out = Vec::new();
        for line in self.block(node)? {
            self.no_block(line);
            let name = line.head().text.clone();
            let weight = match line.args() {
                [] => None,
                [w, n, rest @ ..] if w.text == "weight" => {
                    if !rest.is_empty() {
                        self.warn(w, "extra words after `weight N` ignored");
                    }
                    Some(i32::try_from(self.integer("weight", n, -253, 253)?).unwrap_or(0))
                }
                [w, ..] => {
                    return Err(self.error(
                        w,
                        format!(
                            "`{}` lines expect NAME [weight N], got `{}`",
                            node.key(),
                            w.text
                        ),
                    ));
                }
            };
            if let Some(refs) = refs.as_deref_mut() {
                refs.push(Reference {
                    name: name.clone(),
                    location: self.loc(line.head()),
                });
            }
            out.push(Tracked { name, weight });
        }
        Ok(out)
    }

    fn sync_group(&mut self, node: &Node, member_refs: &mut Vec<Reference>) -> Result<SyncGroup> {
        let (name, items) = self.section_name(node)?;
        let mut out = SyncGroup {
            name: name.to_string(),
            members: Vec::new(),
            notify_master: None,
            notify_backup: None,
            notify_fault: None,
            location: self.loc(node.head()),
        };
        for item in items {
            match item.key() {
                "group" => {
                    self.flag_args_only(item);
                    for line in self.block(item)? {
                        self.no_block(line);
                        for word in &line.words {
                            member_refs.push(Reference {
                                name: word.text.clone(),
                                location: self.loc(word),
                            });
                            out.members.push(word.text.clone());
                        }
                    }
                }
                "notify_master" => out.notify_master = Some(self.command(item)?),
                "notify_backup" => out.notify_backup = Some(self.command(item)?),
                "notify_fault" => out.notify_fault = Some(self.command(item)?),
                _ => self.unknown(item, "vrrp_sync_group"),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn glob() {
        assert!(glob_match("*.conf", "a.conf"));
        assert!(glob_match("vi_?.conf", "vi_1.conf"));
        assert!(!glob_match("vi_?.conf", "vi_12.conf"));
        assert!(glob_match("*a*b", "xxaxxb"));
        assert!(!glob_match("*a*b", "xxaxxbc"));
        assert!(!glob_match("*.conf", ".hidden.conf"));
        assert!(glob_match("*", "x"));
        assert!(!glob_match("", "x"));
    }

    #[test]
    fn brace_on_its_own_line_opens_the_previous_keyword() {
        let text = "global_defs\n{\n  router_id LVS_1\n}\n";
        let imported = parse_str(text, Path::new("k.conf")).unwrap();
        assert_eq!(imported.config.global.router_id.as_deref(), Some("LVS_1"));
    }

    #[test]
    fn one_line_blocks() {
        let text = "vrrp_instance A { interface eth0 virtual_router_id 7 }";
        // keepalived reads a keyword and its arguments on one line: here the
        // arguments of `interface` swallow the rest, so vrid is missing.
        assert!(parse_str(text, Path::new("k.conf")).is_err());
        let text = "vrrp_instance A {\ninterface eth0\nvirtual_router_id 7\nvirtual_ipaddress { 10.0.0.1 10.0.0.2/8 }\n}";
        let imported = parse_str(text, Path::new("k.conf")).unwrap();
        let vi = &imported.config.instances[0];
        // One line is one address with options: the second word is not one.
        assert_eq!(vi.virtual_addresses.len(), 1);
        assert_eq!(imported.warnings.len(), 1, "{:?}", imported.warnings);
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

    #[test]
    fn deep_nesting_is_refused() {
        let text = "a {\n".repeat(MAX_BLOCK_DEPTH + 1);
        let err = parse_str(&text, Path::new("k.conf")).unwrap_err();
        assert!(err.to_string().contains("nested deeper"), "{err}");
    }

    #[test]
    fn long_password_is_truncated_with_a_warning() {
        let text = "vrrp_instance A {\ninterface eth0\nvirtual_router_id 7\nauthentication {\nauth_type PASS\nauth_pass secret123\n}\n}";
        let imported = parse_str(text, Path::new("k.conf")).unwrap();
        assert_eq!(
            imported.config.instances[0].auth,
            Some(Auth::Password(*b"secret12"))
        );
        assert_eq!(
            imported.warnings[0].to_string(),
            "k.conf:6: `auth_pass` longer than 8 characters: truncated to `secret12`"
        );
    }
}
