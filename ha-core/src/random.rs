//! Randomness from the operating system.
//!
//! One place for the session ids, nonces, initiator ISIDs and jitter the
//! crates need, so none of them opens `/dev/urandom` on its own.
//!
//! Pure cores never call this: they take their random values (or a seed) as
//! inputs, and their drivers draw them here.

use crate::error::{Error, Result};

/// Fills `buf` with random bytes from the operating system.
pub fn fill(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|e| Error::Entropy(e.into()))
}

/// `N` random bytes from the operating system.
///
/// ```
/// let nonce: [u8; 16] = ha_core::random::bytes()?;
/// assert_eq!(nonce.len(), 16);
/// # Ok::<(), ha_core::Error>(())
/// ```
pub fn bytes<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    fill(&mut out)?;
    Ok(out)
}

/// A random `u64` from the operating system (a seed, a jitter).
pub fn u64() -> Result<u64> {
    bytes().map(u64::from_le_bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn draws_differ() {
        let a: [u8; 16] = super::bytes().unwrap();
        let b: [u8; 16] = super::bytes().unwrap();
        assert_ne!(a, b);
    }
}
