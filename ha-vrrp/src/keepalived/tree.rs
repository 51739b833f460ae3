//! The token stream grouped into keyword lines and their `{ ... }` blocks.

use super::lexer::{Kind, Token};
use super::parser::Parser;
use crate::error::Result;

/// How deep `{ ... }` blocks may nest.
const MAX_BLOCK_DEPTH: usize = 32;

/// A keyword line with its arguments and, maybe, its `{ ... }` block.
#[derive(Debug)]
pub(super) struct Node {
    /// The keyword and its arguments (never empty).
    pub(super) words: Vec<Token>,
    pub(super) block: Option<Vec<Node>>,
}

impl Node {
    /// The keyword.
    pub(super) fn key(&self) -> &str {
        self.words.first().map_or("", |w| w.text.as_str())
    }

    /// The keyword's token, for locations.
    pub(super) fn head(&self) -> &Token {
        &self.words[0]
    }

    /// The words after the keyword.
    pub(super) fn args(&self) -> &[Token] {
        self.words.get(1..).unwrap_or_default()
    }
}

/// A block left open: the keyword line that opened it and its contents.
struct Frame {
    parent: Node,
    children: Vec<Node>,
}

impl Parser {
    /// Groups the token stream into keyword lines and blocks.
    pub(super) fn tree(&self, tokens: Vec<Token>) -> Result<Vec<Node>> {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keepalived::parse_str;
    use std::path::Path;

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
    fn deep_nesting_is_refused() {
        let text = "a {\n".repeat(MAX_BLOCK_DEPTH + 1);
        let err = parse_str(&text, Path::new("k.conf")).unwrap_err();
        assert!(err.to_string().contains("nested deeper"), "{err}");
    }
}
