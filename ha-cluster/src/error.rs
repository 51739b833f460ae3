//! The crate's error type.

use crate::scheduler::Unsupported;

/// What can go wrong reading or building a CIB, or scheduling it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The XML is not well formed.
    #[error("malformed XML at byte {position}: {message}")]
    Xml {
        /// Where the reader stopped.
        position: u64,
        /// What it found.
        message: String,
    },
    /// An element is missing something or holds a bad value.
    #[error("<{element} id=\"{id}\">: {message}")]
    Element {
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
    #[error("<{element} id=\"{id}\">: names an unknown resource '{resource}'")]
    UnknownResource {
        /// The constraint's element (`rsc_colocation`...; `constraint`
        /// for one built in code).
        element: String,
        /// The constraint's id.
        id: String,
        /// The resource it names.
        resource: String,
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
