//! Where a piece of configuration came from, and the non-fatal remarks an
//! importer makes about it: shared by every classic-format importer
//! (haproxy.cfg, keepalived.conf, ...), so that all of them report
//! `file:line: message` the same way.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A file and line, for messages (`file:line`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Location {
    /// The file.
    pub file: PathBuf,
    /// The line, counted from 1; 0 when the item was not read from a file.
    pub line: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// A non-fatal remark about a configuration (an unknown keyword, an
/// ignored setting), like the original daemons' warnings. Displays as
/// `file:line: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Where the remark applies.
    pub location: Location,
    /// What was found and what is done about it.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_as_file_colon_line() {
        let warning = Warning {
            location: Location {
                file: "/etc/haproxy/haproxy.cfg".into(),
                line: 12,
            },
            message: "unknown keyword 'foo'".into(),
        };
        assert_eq!(
            warning.to_string(),
            "/etc/haproxy/haproxy.cfg:12: unknown keyword 'foo'"
        );
    }
}
