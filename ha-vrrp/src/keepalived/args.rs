//! The shapes a keyword line takes, and their values.
//!
//! A flag, one argument, a number in a range, a duration, a command line, a
//! named section, a block; each with keepalived's warnings for extra words
//! and its errors for bad values.

use std::net::IpAddr;
use std::time::Duration;

use super::lexer::Token;
use super::parser::Parser;
use super::tree::Node;
use crate::error::Result;
use crate::packet::Version;

impl Parser {
    /// Warns about a block after a keyword that takes none.
    pub(super) fn no_block(&mut self, node: &Node) {
        if node.block.is_some() {
            let key = node.key().to_string();
            self.warn(
                node.head(),
                format!("`{key}` takes no block; block ignored"),
            );
        }
    }

    /// The keyword's block, or an error.
    pub(super) fn block<'n>(&self, node: &'n Node) -> Result<&'n [Node]> {
        node.block.as_deref().ok_or_else(|| {
            self.error(
                node.head(),
                format!("`{}` expects a `{{ ... }}` block", node.key()),
            )
        })
    }

    /// The single argument of a keyword; extra words are warned about.
    pub(super) fn one_arg<'n>(&mut self, node: &'n Node, what: &str) -> Result<&'n Token> {
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
    pub(super) fn flag(&mut self, node: &Node) {
        self.no_block(node);
        self.flag_args_only(node);
    }

    /// Warns about words after a block keyword that takes no name.
    pub(super) fn flag_args_only(&mut self, node: &Node) {
        if !node.args().is_empty() {
            let key = node.key().to_string();
            self.warn(node.head(), format!("extra words after `{key}` ignored"));
        }
    }

    /// A command line: the arguments joined by spaces, double quotes removed
    /// (so `notify "/bin/x a"` and `notify /bin/x a` are the same; quotes
    /// inside a quoted word, e.g. `'a b'`, are kept for the runner).
    pub(super) fn command(&mut self, node: &Node) -> Result<String> {
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

    /// `token` as a whole number in `min..=max`, for the keyword `key`.
    pub(super) fn integer(&self, key: &str, token: &Token, min: i64, max: i64) -> Result<i64> {
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

    /// The single argument as a number in `min..=max`.
    pub(super) fn u8_arg(&mut self, node: &Node, min: u8, max: u8) -> Result<u8> {
        let n = self.int_arg(node, min.into(), max.into())?;
        Ok(u8::try_from(n).unwrap_or(max))
    }

    /// The single argument as a number of at least `min`.
    pub(super) fn u32_arg(&mut self, node: &Node, min: u32) -> Result<u32> {
        let n = self.int_arg(node, min.into(), u32::MAX.into())?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// A `weight N` setting (`N` in `-limit..=limit`); keepalived's
    /// `reverse` after it is warned about and ignored.
    pub(super) fn weight_arg(&mut self, node: &Node, limit: i64) -> Result<i32> {
        self.no_block(node);
        let Some(token) = node.args().first() else {
            return Err(self.error(
                node.head(),
                format!("`weight` expects a whole number -{limit}..={limit}"),
            ));
        };
        let weight = i32::try_from(self.integer("weight", token, -limit, limit)?).unwrap_or(0);
        if node.args().len() > 1 {
            self.warn(
                node.head(),
                "extra words after `weight` ignored (`reverse` is not supported)",
            );
        }
        Ok(weight)
    }

    /// The single argument as a duration in keepalived's syntax (seconds).
    pub(super) fn duration_arg(&mut self, node: &Node) -> Result<Duration> {
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

    /// A duration that must not be zero.
    pub(super) fn nonzero_duration(&mut self, node: &Node) -> Result<Duration> {
        let d = self.duration_arg(node)?;
        if d.is_zero() {
            return Err(self.error(
                node.head(),
                format!("`{}` expects a duration above 0", node.key()),
            ));
        }
        Ok(d)
    }

    /// A VRRP version: `2` or `3`.
    pub(super) fn version_arg(&mut self, node: &Node) -> Result<Version> {
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

    /// `token` as an IP address, for the keyword `key`.
    pub(super) fn ip(&self, key: &str, token: &Token) -> Result<IpAddr> {
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

    /// Warns about a keyword not known in `context`, and skips it.
    pub(super) fn unknown(&mut self, node: &Node, context: &str) {
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

    /// The name after `vrrp_instance`, `vrrp_script`..., and the block.
    pub(super) fn section_name<'n>(&mut self, node: &'n Node) -> Result<(&'n str, &'n [Node])> {
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
}
