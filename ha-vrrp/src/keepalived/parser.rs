//! The interpreter of the block tree, and the top level of the file.
//!
//! Sections are read into the configuration; the names they use
//! (`track_script`, `track_file`, sync group members) are checked once the
//! whole configuration is read.

use std::collections::HashSet;
use std::path::PathBuf;

use super::Warning;
use super::lexer::Token;
use super::tree::Node;
use crate::config::{Config, Location};
use crate::error::{Error, Result};

/// Interprets keyword lines and blocks, collecting warnings.
pub(super) struct Parser {
    /// The files read, indexed by [`Token::file`].
    files: Vec<PathBuf>,
    warnings: Vec<Warning>,
}

/// A name used before it may be defined, checked once the whole file is
/// read.
pub(super) struct Reference {
    pub(super) name: String,
    pub(super) location: Location,
}

/// The names sections use: `track_script`, `track_file` and sync group
/// members.
#[derive(Default)]
pub(super) struct References {
    pub(super) scripts: Vec<Reference>,
    pub(super) files: Vec<Reference>,
    pub(super) members: Vec<Reference>,
}

impl Parser {
    /// A parser for tokens read from `files`, after the lexer's `warnings`.
    pub(super) fn new(files: Vec<PathBuf>, warnings: Vec<Warning>) -> Self {
        Self { files, warnings }
    }

    /// The warnings made so far.
    pub(super) fn into_warnings(self) -> Vec<Warning> {
        self.warnings
    }

    /// Where `token` was read.
    pub(super) fn loc(&self, token: &Token) -> Location {
        Location {
            file: self.files.get(token.file).cloned().unwrap_or_default(),
            line: token.line,
        }
    }

    /// An invalid value or structure at `token`.
    pub(super) fn error(&self, token: &Token, message: impl Into<String>) -> Error {
        Error::Config {
            location: self.loc(token),
            message: message.into(),
        }
    }

    /// A remark about `token`; parsing goes on.
    pub(super) fn warn(&mut self, token: &Token, message: impl Into<String>) {
        let location = self.loc(token);
        self.warnings.push(Warning {
            location,
            message: message.into(),
        });
    }

    /// The whole configuration from the top-level keyword lines.
    pub(super) fn config(&mut self, nodes: &[Node]) -> Result<Config> {
        let mut config = Config::default();
        let mut refs = References::default();
        for node in nodes {
            match node.key() {
                "global_defs" => self.global(node, &mut config.global)?,
                "vrrp_script" => {
                    let script = self.script(node)?;
                    self.unique(node, &script.name, config.script(&script.name).is_some())?;
                    config.scripts.push(script);
                }
                "vrrp_track_file" => {
                    let file = self.track_file(node)?;
                    self.unique(node, &file.name, config.track_file(&file.name).is_some())?;
                    config.track_files.push(file);
                }
                "vrrp_instance" => {
                    let instance = self.instance(node, &mut refs)?;
                    let taken = config.instance(&instance.name).is_some();
                    self.unique(node, &instance.name, taken)?;
                    config.instances.push(instance);
                }
                "vrrp_sync_group" => {
                    let group = self.sync_group(node, &mut refs.members)?;
                    let taken = config.sync_groups.iter().any(|g| g.name == group.name);
                    self.unique(node, &group.name, taken)?;
                    config.sync_groups.push(group);
                }
                _ => self.unknown(node, "the top level"),
            }
        }
        refs.check(&config)?;
        Ok(config)
    }

    /// An error if the section `node` defines is `taken` already.
    fn unique(&self, node: &Node, name: &str, taken: bool) -> Result<()> {
        if taken {
            return Err(self.error(
                node.head(),
                format!("duplicate {} `{name}`: names must be unique", node.key()),
            ));
        }
        Ok(())
    }
}

impl References {
    /// Checks that every name refers to a section of `config`, and that no
    /// instance is in two sync groups.
    fn check(self, config: &Config) -> Result<()> {
        let fail = |r: Reference, message: String| {
            Err(Error::Config {
                location: r.location,
                message,
            })
        };
        for r in self.scripts {
            if config.script(&r.name).is_none() {
                let message = format!(
                    "track_script names `{}`, but no vrrp_script has that name",
                    r.name
                );
                return fail(r, message);
            }
        }
        for r in self.files {
            if config.track_file(&r.name).is_none() {
                let message = format!(
                    "track_file names `{}`, but no vrrp_track_file has that name",
                    r.name
                );
                return fail(r, message);
            }
        }
        let mut grouped = HashSet::new();
        for r in self.members {
            if config.instance(&r.name).is_none() {
                let message = format!("sync group member `{}` is not a vrrp_instance", r.name);
                return fail(r, message);
            }
            if !grouped.insert(r.name.clone()) {
                let message = format!("vrrp_instance `{}` is already in a sync group", r.name);
                return fail(r, message);
            }
        }
        Ok(())
    }
}
