//! Configuration files read as text.
//!
//! Every classic-format importer (haproxy.cfg, keepalived.conf, ...) reads
//! its files through here, so a byte that is not UTF-8 is reported the
//! same way, as `file:line`.

use std::path::Path;

use crate::error::{Error, Result};
use crate::location::Location;

/// Reads `path` as UTF-8 text.
///
/// A file that cannot be read is [`Error::ReadConfig`]; one that is not
/// UTF-8 is [`Error::NotUtf8`] with the line of the first bad byte.
pub fn read(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|source| Error::ReadConfig {
        path: path.to_path_buf(),
        source,
    })?;
    decode(bytes, path)
}

/// Turns bytes read from `file` into text, or names the line of the first
/// byte that is not UTF-8.
///
/// ```
/// use std::path::Path;
/// use ha_core::{config_text, Error};
///
/// let err = config_text::decode(b"global\n  daemon \xff\n".to_vec(), Path::new("lb.cfg"))
///     .unwrap_err();
/// assert!(matches!(&err, Error::NotUtf8(at) if at.line == 2));
/// assert_eq!(err.to_string(), "lb.cfg:2: this line is not valid UTF-8");
/// ```
pub fn decode(bytes: Vec<u8>, file: &Path) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let line = bytes[..valid].iter().filter(|&&b| b == b'\n').count() + 1;
        Error::NotUtf8(Location {
            file: file.to_path_buf(),
            line: u32::try_from(line).unwrap_or(u32::MAX),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_missing_file_names_its_path() {
        let err = read(Path::new("/nonexistent/haproxy.cfg")).unwrap_err();
        assert!(matches!(err, Error::ReadConfig { .. }));
        assert!(err.to_string().contains("/nonexistent/haproxy.cfg"));
    }

    proptest! {
        #[test]
        fn bad_bytes_name_their_line(prefix in "[a-z \n]{0,60}", suffix in proptest::collection::vec(any::<u8>(), 0..20)) {
            let mut bytes = prefix.clone().into_bytes();
            bytes.push(0xff);
            bytes.extend(suffix);
            match decode(bytes, Path::new("x.conf")) {
                Err(Error::NotUtf8(at)) => {
                    prop_assert_eq!(at.line as usize, prefix.matches('\n').count() + 1);
                }
                other => prop_assert!(false, "{other:?}"),
            }
        }
    }
}
