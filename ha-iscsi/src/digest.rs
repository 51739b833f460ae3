//! iSCSI digests: CRC32C (Castagnoli, polynomial 0x1EDC6F41) over the header
//! (BHS and AHS) and over the data segment with its padding (RFC 7143
//! 12.1). On the wire the digest is little-endian, as Linux and libiscsi
//! send it.

/// The CRC32C of `bytes`.
pub fn crc32c(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
}

/// The CRC32C of the concatenation of `parts`.
pub fn crc32c_of(parts: &[&[u8]]) -> u32 {
    parts
        .iter()
        .fold(0, |crc, part| crc32c::crc32c_append(crc, part))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_value_is_castagnolis() {
        // The standard check value of CRC-32C.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c_of(&[b"1234", b"56789"]), 0xE306_9283);
    }
}
