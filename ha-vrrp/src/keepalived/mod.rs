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
//!   duplicate names): [`Error::Config`](crate::Error::Config) naming the
//!   file and line and what was expected.
//!
//! A file that cannot be read is [`Error::ReadConfig`](crate::Error::ReadConfig);
//! one that is not UTF-8 is [`Error::NotUtf8`](crate::Error::NotUtf8), naming
//! the line (both as every ha-rs importer reports them, through
//! [`ha_core::config_text`]).
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

mod args;
mod glob;
mod global;
mod instance;
mod lexer;
mod parser;
mod sync_group;
mod track;
mod tree;

use std::path::Path;

use crate::config::Config;
use crate::error::Result;
use lexer::Lexer;

/// How deep `include`s may nest (a file including itself stops here).
pub const MAX_INCLUDE_DEPTH: u32 = 8;

/// How many files one configuration may read, includes included (a
/// guard against globbing include loops that would grow exponentially).
pub const MAX_FILES: usize = 1024;

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
    lexer.lex_file(text, file, 0)?;
    lexer.finish()
}

/// Reads keepalived.conf from `path`, following its `include` directives.
pub fn load(path: &Path) -> Result<Imported> {
    let mut lexer = Lexer::new(true);
    lexer.read_file(path, 0)?;
    lexer.finish()
}
