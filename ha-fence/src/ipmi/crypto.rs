//! The RMCP+ cryptography of cipher suites 1-3.
//!
//! IPMI 2.0 13.28-13.29: RAKP-HMAC-SHA1 authentication, HMAC-SHA1-96
//! integrity, AES-CBC-128 confidentiality, and the session keys derived
//! from the handshake.

use aes::cipher::block_padding::NoPadding;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

type HmacSha1 = Hmac<Sha1>;
type Aes128CbcEnc = cbc::Encryptor<aes::Aes128>;
type Aes128CbcDec = cbc::Decryptor<aes::Aes128>;

/// HMAC-SHA1 of the concatenated `parts` under `key` (a password is used
/// as the key as it is: HMAC pads short keys with zeroes, as IPMI does).
pub fn hmac_sha1(key: &[u8], parts: &[&[u8]]) -> [u8; 20] {
    let mut mac = HmacSha1::new_from_slice(key).expect("HMAC takes keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// The keys of an active session.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKeys {
    /// Session Integrity Key.
    pub sik: [u8; 20],
    /// K1: the integrity key.
    pub k1: [u8; 20],
    /// K2: its first 16 bytes are the AES key.
    pub k2: [u8; 20],
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKeys(..)")
    }
}

impl SessionKeys {
    /// SIK = HMAC_Kg(Rm | Rc | role | ulen | uname), with Kg the user's
    /// key when the BMC has no key of its own; K1, K2 = HMAC_SIK(1*20),
    /// HMAC_SIK(2*20).
    pub fn derive(kg: &[u8], rm: &[u8; 16], rc: &[u8; 16], role: u8, user: &[u8]) -> Self {
        let sik = hmac_sha1(kg, &[rm, rc, &[role, user.len() as u8], user]);
        Self {
            sik,
            k1: hmac_sha1(&sik, &[&[0x01; 20]]),
            k2: hmac_sha1(&sik, &[&[0x02; 20]]),
        }
    }

    /// HMAC-SHA1-96: the integrity AuthCode of `data`.
    pub fn integrity(&self, data: &[u8]) -> [u8; 12] {
        let full = hmac_sha1(&self.k1, &[data]);
        let mut code = [0u8; 12];
        code.copy_from_slice(&full[..12]);
        code
    }

    fn aes_key(&self) -> [u8; 16] {
        let mut key = [0u8; 16];
        key.copy_from_slice(&self.k2[..16]);
        key
    }

    /// AES-CBC-128 of `payload` with `iv`: the IV, then the ciphertext of
    /// the payload padded 1, 2, 3... and the pad length (IPMI's padding).
    pub fn encrypt(&self, iv: [u8; 16], payload: &[u8]) -> Vec<u8> {
        let pad = (16 - (payload.len() + 1) % 16) % 16;
        let mut buf = payload.to_vec();
        buf.extend((1..=pad as u8).collect::<Vec<u8>>());
        buf.push(pad as u8);
        let len = buf.len();
        let ciphertext = Aes128CbcEnc::new(&self.aes_key().into(), &iv.into())
            .encrypt_padded::<NoPadding>(&mut buf, len)
            .expect("a whole number of blocks")
            .to_vec();
        let mut out = iv.to_vec();
        out.extend_from_slice(&ciphertext);
        out
    }

    /// The payload of an encrypted one; `None` if it is not whole blocks
    /// or its padding is wrong.
    pub fn decrypt(&self, data: &[u8]) -> Option<Vec<u8>> {
        if data.len() < 32 || !(data.len() - 16).is_multiple_of(16) {
            return None;
        }
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&data[..16]);
        let mut buf = data[16..].to_vec();
        let plain = Aes128CbcDec::new(&self.aes_key().into(), &iv.into())
            .decrypt_padded::<NoPadding>(&mut buf)
            .ok()?
            .to_vec();
        let pad = *plain.last()? as usize;
        let body = plain.len().checked_sub(pad + 1)?;
        // The pad bytes count 1, 2, 3... (a BMC that pads otherwise is
        // still read: only the length matters for the payload).
        Some(plain[..body].to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha1_matches_rfc_2202() {
        // RFC 2202 test case 2.
        let code = hmac_sha1(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            code,
            [
                0xef, 0xfc, 0xdf, 0x6a, 0xe5, 0xeb, 0x2f, 0xa2, 0xd2, 0x74, 0x16, 0xd5, 0xf1, 0x84,
                0xdf, 0x9c, 0x25, 0x9a, 0x7c, 0x79
            ]
        );
    }

    #[test]
    fn encryption_round_trips_with_ipmi_padding() {
        let keys = SessionKeys::derive(b"password", &[1; 16], &[2; 16], 0x14, b"admin");
        for len in [0, 1, 14, 15, 16, 17, 40] {
            let payload: Vec<u8> = (0..len as u8).collect();
            let sealed = keys.encrypt([9; 16], &payload);
            assert_eq!(sealed.len() % 16, 0);
            assert_eq!(keys.decrypt(&sealed).unwrap(), payload);
        }
        assert_eq!(keys.decrypt(&[0; 20]), None);
        let other = SessionKeys::derive(b"wrong", &[1; 16], &[2; 16], 0x14, b"admin");
        assert_ne!(other.integrity(b"x"), keys.integrity(b"x"));
    }
}
