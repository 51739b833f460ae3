//! iSCSI text: the `key=value` pairs of Login and Text PDUs (RFC 7143
//! 6.1), each terminated by a NUL byte, UTF-8, keys at most 63 bytes and
//! values at most 8192 (the longest a CHAP value may be).

use std::fmt;

/// A malformed text segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextError {
    /// A pair without `=`.
    NoEquals(String),
    /// Not UTF-8.
    NotUtf8,
    /// An empty key, a key over 63 bytes or with characters outside
    /// RFC 7143's set (letters, digits, `.`, `-`, `+`, `@`, `_`).
    BadKey(String),
    /// A value over 8192 bytes.
    ValueTooLong(String),
    /// The last pair is not NUL-terminated (a text PDU with the C bit
    /// continues it; the caller joins them first).
    Unterminated,
}

impl fmt::Display for TextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TextError::NoEquals(pair) => write!(f, "`{pair}` has no `=`"),
            TextError::NotUtf8 => f.write_str("text is not UTF-8"),
            TextError::BadKey(key) => write!(f, "`{key}` is not a valid key"),
            TextError::ValueTooLong(key) => write!(f, "the value of `{key}` is over 8192 bytes"),
            TextError::Unterminated => f.write_str("the last key=value pair is not NUL-terminated"),
        }
    }
}

impl std::error::Error for TextError {}

/// Longest key (RFC 7143 6.1).
pub const MAX_KEY_LEN: usize = 63;
/// Longest value: 8192, for CHAP's binary values (RFC 7143 12.1.4).
pub const MAX_VALUE_LEN: usize = 8192;

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_KEY_LEN
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-+@_".contains(&b))
}

/// The pairs of a (joined) text segment, in order. Padding NULs after the
/// last pair are ignored.
pub fn parse(data: &[u8]) -> Result<Vec<(String, String)>, TextError> {
    let text = std::str::from_utf8(data).map_err(|_| TextError::NotUtf8)?;
    let text = text.trim_end_matches('\0');
    if text.is_empty() {
        return Ok(Vec::new());
    }
    if data.last() != Some(&0) {
        return Err(TextError::Unterminated);
    }
    text.split('\0')
        .map(|pair| {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| TextError::NoEquals(pair.chars().take(80).collect()))?;
            if !valid_key(key) {
                return Err(TextError::BadKey(key.chars().take(80).collect()));
            }
            if value.len() > MAX_VALUE_LEN {
                return Err(TextError::ValueTooLong(key.to_owned()));
            }
            Ok((key.to_owned(), value.to_owned()))
        })
        .collect()
}

/// The text segment for `pairs`: `key=value\0` each.
pub fn encode<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in pairs {
        out.extend_from_slice(key.as_ref().as_bytes());
        out.push(b'=');
        out.extend_from_slice(value.as_ref().as_bytes());
        out.push(0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn pairs_are_nul_terminated() {
        let text = b"InitiatorName=iqn.2025-09.com.example:node1\0SessionType=Normal\0\0\0";
        assert_eq!(
            parse(text).unwrap(),
            [
                (
                    "InitiatorName".into(),
                    "iqn.2025-09.com.example:node1".into()
                ),
                ("SessionType".into(), "Normal".into())
            ]
        );
        assert_eq!(parse(b"A=1"), Err(TextError::Unterminated));
        assert_eq!(parse(b"A1\0"), Err(TextError::NoEquals("A1".into())));
        assert_eq!(parse(b"=1\0"), Err(TextError::BadKey(String::new())));
        assert_eq!(parse(b"A B=1\0"), Err(TextError::BadKey("A B".into())));
        assert_eq!(parse(b"").unwrap(), []);
    }

    proptest! {
        #[test]
        fn pairs_round_trip(pairs in prop::collection::vec(
            ("[A-Za-z0-9.+@_-]{1,63}", "[^\u{0}]{0,100}"), 0..10)
        ) {
            prop_assert_eq!(parse(&encode(&pairs)).unwrap(), pairs);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(&bytes);
        }
    }
}
