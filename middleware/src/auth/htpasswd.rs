//! htpasswd password hashes: parsing (at construction, so a typo fails loudly then and
//! not as a 401 later) and verifying.
//!
//! | prefix | scheme | made by |
//! |---|---|---|
//! | `$2y$`, `$2a$`, `$2b$`, `$2x$` | bcrypt | `htpasswd -B` |
//! | `$apr1$` | Apache MD5-crypt | `htpasswd -m` (its default), `openssl passwd -apr1` |
//! | `$1$` | MD5-crypt (same algorithm, other magic) | `openssl passwd -1` |
//! | `{SHA}` | base64 of SHA-1 of the password, unsalted | `htpasswd -s` |
//!
//! These are what v1 accepts (abbot/go-http-auth `CheckSecret`); `$2x$` and `$1$` come
//! along because they are the same algorithms. Plain text and `crypt(3)` DES are refused:
//! a plain-text password in a users file is almost surely a mistake. Comparisons of
//! computed and stored hashes are constant-time (`subtle`; bcrypt compares with it too).

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

/// A parsed password hash. Its `Debug` shows the scheme only.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(Scheme);

#[derive(Clone, PartialEq, Eq)]
enum Scheme {
    /// The whole hash string, already checked by `bcrypt::HashParts::from_str`.
    Bcrypt(String),
    /// `magic` is `$apr1$` or `$1$`; `hash` the 22 characters after the salt.
    Md5Crypt {
        magic: &'static str,
        salt: String,
        hash: String,
    },
    Sha1([u8; 20]),
}

/// Why a hash string was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    #[error("unsupported password hash scheme")]
    Unsupported,
    #[error("malformed {0} hash")]
    Malformed(&'static str),
}

const BCRYPT_PREFIXES: [&str; 4] = ["$2y$", "$2a$", "$2b$", "$2x$"];

impl FromStr for PasswordHash {
    type Err = HashError;

    fn from_str(s: &str) -> Result<Self, HashError> {
        if BCRYPT_PREFIXES.iter().any(|p| s.starts_with(p)) {
            let parts =
                bcrypt::HashParts::from_str(s).map_err(|_| HashError::Malformed("bcrypt"))?;
            if !(4..=31).contains(&parts.get_cost()) {
                return Err(HashError::Malformed("bcrypt"));
            }
            return Ok(PasswordHash(Scheme::Bcrypt(s.to_owned())));
        }
        for (magic, kind) in [("$apr1$", "apr1"), ("$1$", "MD5-crypt")] {
            if let Some(rest) = s.strip_prefix(magic) {
                let (salt, hash) = rest.split_once('$').ok_or(HashError::Malformed(kind))?;
                let alphabet_only = hash.bytes().all(|b| ITOA64.contains(&b));
                if salt.len() > 8 || hash.len() != 22 || !alphabet_only {
                    return Err(HashError::Malformed(kind));
                }
                return Ok(PasswordHash(Scheme::Md5Crypt {
                    magic,
                    salt: salt.to_owned(),
                    hash: hash.to_owned(),
                }));
            }
        }
        if let Some(b64) = s.strip_prefix("{SHA}") {
            let digest = STANDARD
                .decode(b64)
                .ok()
                .and_then(|d| <[u8; 20]>::try_from(d).ok())
                .ok_or(HashError::Malformed("SHA1"))?;
            return Ok(PasswordHash(Scheme::Sha1(digest)));
        }
        Err(HashError::Unsupported)
    }
}

impl PasswordHash {
    /// Whether `password` hashes to this. Bcrypt takes tens of milliseconds by design (see
    /// [`is_slow`](Self::is_slow)); the others take microseconds.
    pub fn verify(&self, password: &[u8]) -> bool {
        match &self.0 {
            Scheme::Bcrypt(hash) => bcrypt::verify(password, hash).unwrap_or(false),
            Scheme::Md5Crypt { magic, salt, hash } => {
                let computed = md5_crypt_hash(password, salt.as_bytes(), magic.as_bytes());
                computed.as_bytes().ct_eq(hash.as_bytes()).into()
            }
            Scheme::Sha1(digest) => {
                let computed = sha1_smol::Sha1::from(password).digest().bytes();
                computed.ct_eq(digest).into()
            }
        }
    }

    /// Bcrypt: deliberately CPU-expensive, so the layer verifies it off the async threads.
    pub fn is_slow(&self) -> bool {
        matches!(self.0, Scheme::Bcrypt(_))
    }

    /// `"bcrypt"`, `"apr1"`, `"MD5-crypt"` or `"SHA1"`.
    pub fn scheme(&self) -> &'static str {
        match &self.0 {
            Scheme::Bcrypt(_) => "bcrypt",
            Scheme::Md5Crypt {
                magic: "$apr1$", ..
            } => "apr1",
            Scheme::Md5Crypt { .. } => "MD5-crypt",
            Scheme::Sha1(_) => "SHA1",
        }
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PasswordHash({})", self.scheme())
    }
}

/// Apache's `$apr1$` hash of `password` with `salt` (at most 8 characters are used), in
/// htpasswd form: `$apr1$<salt>$<22 chars>`.
pub fn apr1(password: &[u8], salt: &str) -> String {
    let salt = &salt.as_bytes()[..salt.len().min(8)];
    let hash = md5_crypt_hash(password, salt, b"$apr1$");
    format!("$apr1${}${hash}", String::from_utf8_lossy(salt))
}

const ITOA64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Poul-Henning Kamp's MD5-crypt (FreeBSD `crypt_md5.c`, APR `apr_md5_encode`), the part
/// after `$<magic>$<salt>$`. There is no well-kept crate for it; it is this short.
fn md5_crypt_hash(password: &[u8], salt: &[u8], magic: &[u8]) -> String {
    let alternate = Md5::new()
        .chain_update(password)
        .chain_update(salt)
        .chain_update(password)
        .finalize();
    let mut ctx = Md5::new()
        .chain_update(password)
        .chain_update(magic)
        .chain_update(salt);
    for chunk in password.chunks(16) {
        ctx.update(&alternate[..chunk.len()]);
    }
    let mut i = password.len();
    while i != 0 {
        // Historical quirk kept by every implementation: a NUL or the first byte.
        ctx.update(if i & 1 == 1 {
            &[0u8][..]
        } else {
            &password[..1]
        });
        i >>= 1;
    }
    let mut digest: [u8; 16] = ctx.finalize().into();
    // 1000 rounds to slow down brute force (by 1990s standards).
    for round in 0..1000 {
        let mut ctx = Md5::new();
        if round & 1 == 1 {
            ctx.update(password);
        } else {
            ctx.update(digest);
        }
        if round % 3 != 0 {
            ctx.update(salt);
        }
        if round % 7 != 0 {
            ctx.update(password);
        }
        if round & 1 == 1 {
            ctx.update(digest);
        } else {
            ctx.update(password);
        }
        digest = ctx.finalize().into();
    }
    let mut out = String::with_capacity(22);
    let mut to64 = |mut v: u32, n: usize| {
        for _ in 0..n {
            out.push(ITOA64[(v & 0x3f) as usize] as char);
            v >>= 6;
        }
    };
    let d = |i: usize| u32::from(digest[i]);
    for (a, b, c) in [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)] {
        to64((d(a) << 16) | (d(b) << 8) | d(c), 4);
    }
    to64(d(11), 2);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> PasswordHash {
        s.parse().unwrap()
    }

    // Fixtures checked with `openssl passwd -apr1 -salt … / -1 -salt …` and
    // `printf password | openssl sha1 -binary | base64`.
    #[test]
    fn apr1_known_values() {
        // The Traefik docs' example: user test, password test.
        let h = parse("$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/");
        assert_eq!(h.scheme(), "apr1");
        assert!(h.verify(b"test"));
        assert!(!h.verify(b"Test"));
        assert!(!h.verify(b""));
        assert_eq!(
            apr1(b"test", "H6uskkkW"),
            "$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/"
        );
        assert_eq!(apr1(b"password", "x"), "$apr1$x$JzZzpGvcyRmaRIUjVzP42/");
        assert_eq!(apr1(b"pw", ""), "$apr1$$w7neMnnY7ZMxFRIT9tS6m.");
        assert_eq!(
            apr1(b"", "abcdefgh"),
            "$apr1$abcdefgh$L.PT565ESX4Tp2bqNs7Ie."
        );
        assert!(parse("$apr1$abcdefgh$L.PT565ESX4Tp2bqNs7Ie.").verify(b""));
    }

    #[test]
    fn md5_crypt_known_value() {
        let h = parse("$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/");
        assert_eq!(h.scheme(), "MD5-crypt");
        assert!(h.verify(b"password"));
        assert!(!h.verify(b"passwore"));
    }

    #[test]
    fn sha1_known_value() {
        let h = parse("{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=");
        assert_eq!(h.scheme(), "SHA1");
        assert!(h.verify(b"password"));
        assert!(!h.verify(b"password "));
    }

    #[test]
    fn bcrypt_all_prefixes() {
        let parts = bcrypt::hash_with_result("s3cret", 4).unwrap();
        for version in [
            bcrypt::Version::TwoY,
            bcrypt::Version::TwoA,
            bcrypt::Version::TwoB,
            bcrypt::Version::TwoX,
        ] {
            let h = parse(&parts.format_for_version(version));
            assert_eq!(h.scheme(), "bcrypt");
            assert!(h.is_slow());
            assert!(h.verify(b"s3cret"));
            assert!(!h.verify(b"s3cret!"));
        }
    }

    #[test]
    fn refused() {
        let err = |s: &str| s.parse::<PasswordHash>().unwrap_err();
        assert_eq!(err("plaintext"), HashError::Unsupported);
        assert_eq!(err("rl8dIbqkNahpo"), HashError::Unsupported); // crypt(3) DES
        assert_eq!(err("$5$salt$abc"), HashError::Unsupported); // SHA-256-crypt
        assert_eq!(err("$2y$10$short"), HashError::Malformed("bcrypt"));
        assert_eq!(err("$apr1$H6uskkkW"), HashError::Malformed("apr1"));
        assert_eq!(err("$apr1$H6uskkkW$short"), HashError::Malformed("apr1"));
        assert_eq!(
            err("$apr1$toolongsalt$IgXLP6ewTrSuBkTrqE8wj/"),
            HashError::Malformed("apr1")
        );
        assert_eq!(err("{SHA}bm90IDIwIGJ5dGVz"), HashError::Malformed("SHA1"));
        assert_eq!(err("{SHA}!!!"), HashError::Malformed("SHA1"));
    }

    #[test]
    fn debug_hides_the_hash() {
        let h = parse("{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=");
        assert_eq!(format!("{h:?}"), "PasswordHash(SHA1)");
    }
}
