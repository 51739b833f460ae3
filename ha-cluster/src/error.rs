//! The crate's error type.

/// What can go wrong reading a CIB.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
}

/// Results in ha-cluster.
pub type Result<T, E = Error> = std::result::Result<T, E>;
