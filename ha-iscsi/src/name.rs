//! iSCSI names (RFC 3720 3.2.6, RFC 3722): which strings an initiator or
//! target may be called.
//!
//! Three forms: `iqn.yyyy-mm.reversed.domain[:anything]`, `eui.` and 16
//! hex digits, `naa.` and 16 or 32 hex digits; at most 223 bytes. The
//! characters are ASCII letters, digits, `-`, `.`, `:` and, after RFC
//! 3722's stringprep, other Unicode letters; spaces, control characters
//! and punctuation such as `/` or `=` are never part of a name.

/// The longest name, in bytes (RFC 3720 3.2.6.1).
pub const MAX_LEN: usize = 223;

/// Whether `name` is an iSCSI name in one of the three forms.
pub fn is_valid(name: &str) -> bool {
    if name.is_empty() || name.len() > MAX_LEN || !name.chars().all(allowed) {
        return false;
    }
    let hex = |s: &str, lens: &[usize]| {
        lens.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
    };
    // The type prefixes are case-insensitive: stringprep maps to lower case.
    let prefix = name.get(..4).map(str::to_ascii_lowercase);
    match prefix.as_deref() {
        Some("iqn.") => iqn(&name[4..]),
        Some("eui.") => hex(&name[4..], &[16]),
        Some("naa.") => hex(&name[4..], &[16, 32]),
        _ => false,
    }
}

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, '-' | '.' | ':')
        || (!c.is_ascii() && c.is_alphanumeric())
}

/// `yyyy-mm.reversed.domain[:anything]`.
fn iqn(rest: &str) -> bool {
    let b = rest.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    if !(digits(0..4) && b.get(4) == Some(&b'-') && digits(5..7) && b.get(7) == Some(&b'.')) {
        return false;
    }
    let month = (b[5] - b'0') * 10 + (b[6] - b'0');
    if !(1..=12).contains(&month) {
        return false;
    }
    let authority = rest[8..].split(':').next().unwrap_or("");
    authority.split('.').all(|label| !label.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_forms() {
        for name in [
            "iqn.2025-09.com.example:storage",
            "iqn.2025-09.com.example",
            "iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test",
            "iqn.1991-05.com.microsoft:host.Example.local",
            "eui.02004567A425678D",
            "naa.52004567BA64678D",
            "naa.62004567BA64678D0123456789ABCDEF",
        ] {
            assert!(is_valid(name), "{name}");
        }
    }

    #[test]
    fn malformed_names_are_refused() {
        let long = format!("iqn.2025-09.com.example:{}", "a".repeat(MAX_LEN));
        for name in [
            "",
            "node1",
            "iqn.",
            "iqn.2025-13.com.example",
            "iqn.25-09.com.example",
            "iqn.2025-09",
            "iqn.2025-09.",
            "iqn.2025-09.com..example",
            "iqn.2025-09.com.example:a b",
            "iqn.2025-09.com.example:a/b",
            "iqn.2025-09.com.example:\n",
            "eui.02004567A425678",
            "eui.02004567A425678G",
            "naa.52004567BA64678D01",
            long.as_str(),
        ] {
            assert!(!is_valid(name), "{name:?}");
        }
    }
}
