//! The crate's error type.

use std::path::Path;

use ha_core::Location;

use crate::scheduler::Unsupported;

/// What can go wrong reading or building a CIB, or scheduling it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The XML is not well formed, or nests deeper or holds more elements
    /// than [`crate::xml::MAX_DEPTH`] and [`crate::xml::MAX_ELEMENTS`] allow.
    #[error("{}malformed XML: {message}", place(location))]
    Xml {
        /// Where the reader stopped (the file is empty for text that was
        /// not read from a file).
        location: Location,
        /// What it found.
        message: String,
    },
    /// An element is missing something or holds a bad value.
    #[error("{}<{element} id=\"{id}\">: {message}", place(location))]
    Element {
        /// Where the element starts (line 0 for a CIB built in code).
        location: Location,
        /// The element's name.
        element: String,
        /// Its id (empty when it has none).
        id: String,
        /// What is wrong.
        message: String,
    },
    /// A cluster option (`crm_config`) holds a value Pacemaker would not
    /// take.
    #[error("cluster option {name} '{value}' is not one of {expected}")]
    InvalidOption {
        /// The option (`no-quorum-policy`...).
        name: String,
        /// Its value.
        value: String,
        /// The values it takes.
        expected: &'static str,
    },
    /// A constraint names a resource that is not configured.
    #[error(
        "{}<{element} id=\"{id}\">: names an unknown resource '{resource}'",
        place(location)
    )]
    UnknownResource {
        /// Where the constraint starts (line 0 for one built in code).
        location: Location,
        /// The constraint's element (`rsc_colocation`...; `constraint`
        /// for one built in code).
        element: String,
        /// The constraint's id.
        id: String,
        /// The resource it names.
        resource: String,
    },
    /// A node attribute is set on a node the CIB does not list.
    #[error("no node named '{node}'")]
    UnknownNode {
        /// The name it was asked for.
        node: String,
    },
    /// Two resources (or a resource and a group member) share an id.
    #[error("resource id '{id}' is defined twice")]
    DuplicateId {
        /// The id.
        id: String,
    },
    /// The CIB uses something the scheduler does not handle.
    #[error(transparent)]
    Unsupported(#[from] Unsupported),
    /// A CIB file could not be read, or is not UTF-8 (the error names the
    /// file, and the line of a bad byte).
    #[error(transparent)]
    Read(#[from] ha_core::Error),
}

impl Error {
    /// The same error, saying that the text it is about was read from
    /// `file`.
    pub(crate) fn in_file(mut self, file: &Path) -> Self {
        if let Error::Xml { location, .. }
        | Error::Element { location, .. }
        | Error::UnknownResource { location, .. } = &mut self
        {
            location.file = file.to_path_buf();
        }
        self
    }

    /// Where in the CIB's text the error is, when it is about the text.
    pub fn location(&self) -> Option<&Location> {
        match self {
            Error::Xml { location, .. }
            | Error::Element { location, .. }
            | Error::UnknownResource { location, .. } => Some(location),
            _ => None,
        }
    }
}

/// `file:line: `, `line N: ` for text not read from a file, or nothing for
/// a CIB built in code.
fn place(location: &Location) -> String {
    match (location.file.as_os_str().is_empty(), location.line) {
        (_, 0) => String::new(),
        (true, line) => format!("line {line}: "),
        (false, _) => format!("{location}: "),
    }
}

/// Results in ha-cluster.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unsupported_cib_converts_into_an_error() {
        let err: Error = Unsupported::Bundles.into();
        assert!(matches!(err, Error::Unsupported(Unsupported::Bundles)));
        assert_eq!(err.to_string(), "not supported yet: bundles");
    }
}
