//! Password verification against crypt(3) hashes: `$1$` (MD5-crypt, as used by
//! FreeBSD and OpenWrt), `$5$` and `$6$` (SHA-256-crypt / SHA-512-crypt per
//! Ulrich Drepper's specification), exactly as `openssl passwd -1/-5/-6` and
//! busybox `mkpasswd -m md5/sha256/sha512` write them.
//!
//! Hand-written on purpose: no crate dependency and a small binary; the MD5, SHA-256 and
//! SHA-512 it stretches are `digest.rs`'s.

use crate::digest::{Digest, Md5, Sha256, Sha512, digest};

/// Most `rounds=` accepted for `$5$`/`$6$`; larger values are unsupported.
/// Drepper's spec allows up to 999,999,999, but that takes about ten minutes
/// per login on a desktop CPU (1,000,000 already takes over half a second, and
/// armv7 is far slower): a users file line must not make every login a CPU DoS.
const MAX_ROUNDS: u32 = 1_000_000;
/// Fewest rounds: smaller `rounds=` values are raised to this, as the spec says.
const MIN_ROUNDS: u32 = 1000;
/// Rounds used when a `$5$`/`$6$` hash has no `rounds=` prefix.
const DEFAULT_ROUNDS: u32 = 5000;
/// Longest password checked. SHA-crypt's cost grows with the square of the
/// password length, so a remote client must not choose it freely; 511 bytes is
/// also libxcrypt's limit, so nothing it could have hashed is refused.
const MAX_PASSWORD_LEN: usize = 511;

/// crypt's base-64 alphabet (not RFC 4648's).
const B64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// True when `password` matches `hash` (a `$1$`, `$5$` or `$6$` crypt string). Unknown or malformed hashes never match.
pub fn verify(password: &[u8], hash: &str) -> bool {
    let Some(p) = parse(hash) else {
        return false;
    };
    if password.len() > MAX_PASSWORD_LEN {
        return false;
    }
    ct_eq(&compute(&p, password), p.hash)
}

/// A hash of the same scheme, cost and salt as `hash` (a supported crypt string) that no
/// password matches: checking a password against it costs what checking against `hash`
/// costs, so a refusal takes as long for an unknown or locked name as for a real one.
pub fn dummy_like(hash: &str) -> Option<String> {
    let p = parse(hash)?;
    let keep = hash.len() - p.hash.len();
    Some(format!("{}{}", &hash[..keep], ".".repeat(p.hash.len())))
}

/// A `$6$` (SHA-512-crypt) string for `password` with `salt` (at most 16 characters of
/// crypt's alphabet) and `rounds` (5000 is written without a `rounds=` part).
pub fn sha512_crypt(password: &[u8], salt: &str, rounds: u32) -> String {
    let rounds = rounds.clamp(MIN_ROUNDS, MAX_ROUNDS);
    let salt = &salt.as_bytes()[..salt.len().min(16)];
    let hash = encode(&sha_crypt::<Sha512>(password, salt, rounds), &SHA512_ORDER);
    let salt = String::from_utf8_lossy(salt);
    let hash = String::from_utf8_lossy(&hash);
    if rounds == DEFAULT_ROUNDS {
        format!("$6${salt}${hash}")
    } else {
        format!("$6$rounds={rounds}${salt}${hash}")
    }
}

/// True when `hash` is in a form `verify` understands (used to reject a users file line early with a clear error).
pub fn is_supported(hash: &str) -> bool {
    parse(hash).is_some()
}

/// The hash schemes understood.
#[derive(Clone, Copy)]
enum Scheme {
    Md5,
    Sha256,
    Sha512,
}

/// A crypt string split into its parts.
struct Parsed<'a> {
    scheme: Scheme,
    rounds: u32,
    salt: &'a [u8],
    /// The encoded hash after the last `$`.
    hash: &'a [u8],
}

/// Splits `$id$[rounds=N$]salt$hash`, checking every part's length and alphabet.
fn parse(s: &str) -> Option<Parsed<'_>> {
    let (scheme, mut rest) = match s.as_bytes() {
        [b'$', b'1', b'$', rest @ ..] => (Scheme::Md5, rest),
        [b'$', b'5', b'$', rest @ ..] => (Scheme::Sha256, rest),
        [b'$', b'6', b'$', rest @ ..] => (Scheme::Sha512, rest),
        _ => return None,
    };
    let mut rounds = DEFAULT_ROUNDS;
    // glibc would take a malformed `rounds=` as part of the salt; we refuse it.
    if let (Scheme::Sha256 | Scheme::Sha512, Some(r)) = (scheme, rest.strip_prefix(b"rounds=")) {
        let end = r.iter().position(|&c| c == b'$')?;
        rounds = parse_rounds(&r[..end])?;
        rest = &r[end + 1..];
    }
    let (max_salt, hash_len) = match scheme {
        Scheme::Md5 => (8, 22),
        Scheme::Sha256 => (16, 43),
        Scheme::Sha512 => (16, 86),
    };
    let end = rest.iter().position(|&c| c == b'$')?;
    let (salt, hash) = (&rest[..end], &rest[end + 1..]);
    let valid =
        salt.len() <= max_salt && hash.len() == hash_len && hash.iter().all(|c| B64.contains(c));
    valid.then_some(Parsed {
        scheme,
        rounds,
        salt,
        hash,
    })
}

/// Parses the decimal N of `rounds=N`, raising it to `MIN_ROUNDS`; `None` when
/// malformed or above `MAX_ROUNDS`.
fn parse_rounds(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() {
        return None;
    }
    let mut n: u32 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u32::from(d - b'0'))?;
    }
    (n <= MAX_ROUNDS).then_some(n.max(MIN_ROUNDS))
}

/// Computes the encoded hash (the part after the last `$`) for `password`.
fn compute(p: &Parsed, password: &[u8]) -> Vec<u8> {
    match p.scheme {
        Scheme::Md5 => encode(&md5_crypt(password, p.salt), &MD5_ORDER),
        Scheme::Sha256 => encode(
            &sha_crypt::<Sha256>(password, p.salt, p.rounds),
            &SHA256_ORDER,
        ),
        Scheme::Sha512 => encode(
            &sha_crypt::<Sha512>(password, p.salt, p.rounds),
            &SHA512_ORDER,
        ),
    }
}

/// MD5-crypt (Poul-Henning Kamp's FreeBSD algorithm): returns the final digest.
fn md5_crypt(pw: &[u8], salt: &[u8]) -> [u8; 64] {
    let alt = digest::<Md5>(&[pw, salt, pw]);
    let mut ctx = Md5::new();
    for part in [pw, b"$1$", salt] {
        ctx.update(part);
    }
    for chunk in pw.chunks(Md5::LEN) {
        ctx.update(&alt[..chunk.len()]);
    }
    let mut i = pw.len();
    while i > 0 {
        ctx.update(if i & 1 == 1 { &[0] } else { &pw[..1] });
        i >>= 1;
    }
    stretch::<Md5>(ctx.finish(), pw, salt, 1000)
}

/// SHA-crypt (Drepper's algorithm, steps 1-21): returns the final digest.
fn sha_crypt<D: Digest>(pw: &[u8], salt: &[u8], rounds: u32) -> [u8; 64] {
    let b = digest::<D>(&[pw, salt, pw]);
    let mut ctx = D::new();
    ctx.update(pw);
    ctx.update(salt);
    for chunk in pw.chunks(D::LEN) {
        ctx.update(&b[..chunk.len()]);
    }
    let mut i = pw.len();
    while i > 0 {
        ctx.update(if i & 1 == 1 { &b[..D::LEN] } else { pw });
        i >>= 1;
    }
    let a = ctx.finish();
    // P and S: digests of the repeated password and salt, cycled to their length.
    let p = cycled(&repeat_hash::<D>(pw, pw.len())[..D::LEN], pw.len());
    let s = cycled(
        &repeat_hash::<D>(salt, 16 + usize::from(a[0]))[..D::LEN],
        salt.len(),
    );
    stretch::<D>(a, &p, &s, rounds)
}

/// Hashes `data` repeated `times` times.
fn repeat_hash<D: Digest>(data: &[u8], times: usize) -> [u8; 64] {
    let mut ctx = D::new();
    for _ in 0..times {
        ctx.update(data);
    }
    ctx.finish()
}

/// `d` repeated and cut to `len` bytes.
fn cycled(d: &[u8], len: usize) -> Vec<u8> {
    d.iter().cycle().take(len).copied().collect()
}

/// The key-stretching loop shared by MD5-crypt and SHA-crypt.
fn stretch<D: Digest>(mut a: [u8; 64], p: &[u8], s: &[u8], rounds: u32) -> [u8; 64] {
    for r in 0..rounds {
        let prev = &a[..D::LEN];
        let mut ctx = D::new();
        ctx.update(if r & 1 == 1 { p } else { prev });
        if r % 3 != 0 {
            ctx.update(s);
        }
        if r % 7 != 0 {
            ctx.update(p);
        }
        ctx.update(if r & 1 == 1 { prev } else { p });
        a = ctx.finish();
    }
    a
}

/// Byte order in which each scheme feeds its digest to the base-64 encoder.
const MD5_ORDER: [u8; 16] = [0, 6, 12, 1, 7, 13, 2, 8, 14, 3, 9, 15, 4, 10, 5, 11];
const SHA256_ORDER: [u8; 32] = [
    0, 10, 20, 21, 1, 11, 12, 22, 2, 3, 13, 23, 24, 4, 14, 15, 25, 5, 6, 16, 26, 27, 7, 17, 18, 28,
    8, 9, 19, 29, 31, 30,
];
const SHA512_ORDER: [u8; 64] = [
    0, 21, 42, 22, 43, 1, 44, 2, 23, 3, 24, 45, 25, 46, 4, 47, 5, 26, 6, 27, 48, 28, 49, 7, 50, 8,
    29, 9, 30, 51, 31, 52, 10, 53, 11, 32, 12, 33, 54, 34, 55, 13, 56, 14, 35, 15, 36, 57, 37, 58,
    16, 59, 17, 38, 18, 39, 60, 40, 61, 19, 62, 20, 41, 63,
];

/// crypt's base-64: each group of up to 3 bytes (first byte most significant)
/// becomes one more character than it has bytes, least significant 6 bits first.
fn encode(digest: &[u8], order: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(order.len() * 4 / 3 + 1);
    for group in order.chunks(3) {
        let v = group
            .iter()
            .fold(0u32, |v, &i| v << 8 | u32::from(digest[usize::from(i)]));
        out.extend((0..=group.len()).map(|j| B64[(v >> (6 * j)) as usize & 63]));
    }
    out
}

/// Equality that takes the same time wherever the first difference is (lengths are public).
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .fold(0, |acc, (x, y)| acc | std::hint::black_box(x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asserts `hash` is supported, `pw` matches it and `pw` plus one byte does not.
    fn check(pw: &str, hash: &str) {
        assert!(is_supported(hash), "unsupported: {hash}");
        assert!(verify(pw.as_bytes(), hash), "no match: {pw:?} {hash}");
        assert!(!verify(format!("{pw}x").as_bytes(), hash), "{hash}");
    }

    #[test]
    fn drepper_high_rounds() {
        for (pw, hash) in [
            (
                "we have a short salt string but not a short password",
                "$5$rounds=77777$short$JiO1O3ZpDAxGJeaDIuqCoEFysAe1mZNJRs3pw0KQRd/",
            ),
            (
                "a short string",
                "$5$rounds=123456$asaltof16chars..$gP3VQ/6X7UUEW3HkBn2w1/Ptq2jxPyzV/cZKmF/wJvD",
            ),
            (
                "we have a short salt string but not a short password",
                "$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0",
            ),
            (
                "a short string",
                "$6$rounds=123456$asaltof16chars..$BtCwjqMJGx5hrJhZywWvt0RLE8uZ4oPwcelCjmw2kSYu.Ec6ycULevoBK25fs2xXgMNrCzIMVcgEJAstJeonj1",
            ),
        ] {
            assert!(verify(pw.as_bytes(), hash), "{hash}");
        }
    }

    #[test]
    fn md5_known() {
        // John the Ripper's md5crypt test vector.
        check("password", "$1$5pZSV9va$azfrPr6af3Fc7dLblQXVa0");
        // The system libcrypt (libxcrypt 4.4) via perl's crypt().
        check("Hello world!", "$1$saltstri$YMyguxXMBpd2TEZ.vS/3q1");
        check("", "$1$xy$JSgu5Zv4igzK2ULm5nTM30");
        check("a", "$1$$Ij31LCAysPM23KuPlm1wA/");
    }

    /// Generated on the build machine with OpenSSL 3 `openssl passwd`.
    #[test]
    fn openssl_vectors() {
        const LONG: &str = concat!(
            "0123456789012345678901234567890123456789012345678901234567890123456789",
            "012345678901234567890123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
        );
        for (pw, hash) in [
            // openssl passwd -1 -salt ...
            ("password", "$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/"),
            ("hello world", "$1$abc$vEg1.ZEkkuk/fpExKa3yT0"),
            ("x", "$1$$LP5.V3ajGqHDdXW6XwZQy."),
            ("Hello world!", "$1$saltstri$YMyguxXMBpd2TEZ.vS/3q1"),
            (LONG, "$1$longpw$deDQLEacD/iTMShKZesSx/"),
            // openssl passwd -5 -salt ...
            (
                "password",
                "$5$saltstring$OH4IDuTlsuTYPdED1gsuiRMyTAwNlRWyA6Xr3I4/dQ5",
            ),
            (
                "pässwörd",
                "$5$short$9/8SIv1phoCHJHx3/4TkS9i4lXOKaO0/Ns5nFzI9S59",
            ),
            (
                "sixteen bytes!!!",
                "$5$pw16$9SttM9bGiyJstvpQ/ol6SYycOl5J3Bl7Y4btRgen8C.",
            ),
            (
                LONG,
                "$5$longpw$EApMcRLq1/Iw/K.LPT7gjSmNDkNXuXjK5gCanrZyTX0",
            ),
            // openssl passwd -6 -salt ...
            (
                "password",
                "$6$saltstring$adDbXsJjcDlq2662QPgd.tkSOVmnG9Tt3oXl4HR60SusC3AGjirnDenVZp3DGwLwqy6iYKCzannhaX9DR72nN1",
            ),
            (
                "toolongsalt",
                "$6$abcdefghijklmnop$LOV.UAuYhcDHtAcIV1X3DbuWqTkc5NgmhMoPOUrk09Vq/VXwfQN4dN7GU8Rr1opPjBc8Ijt4dLJHBYt5qLkHe1",
            ),
            (
                "correct horse battery staple",
                "$6$SaltSaltSaltSalt$gSQtI.qZ7/o5Mq4WXW9WvWKMj5g8vVYpkW.25X/Vdlbtvke7k0T4K1Pj6X3YnlsNykQ8UVH1czQiOVh7.NVT20",
            ),
            (
                "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                "$6$exact64$PlzqcrtOSsFkSMnDcbV78wKC4iDOmpm1uAySaczdKYuv2RFGRFeLxwwYJqXGAeKCidZSLNo7rQTbvkpd2d0nv.",
            ),
            (
                LONG,
                "$6$longpw$Wqvly.rAiGj8x.MGD4iypzq3Z54mGIJMgO/.Qgkq1XMqS.72jxCpgEqy2YBaDok7HtXpU/6cjWhZN5TAykFAN0",
            ),
        ] {
            check(pw, hash);
        }
    }

    /// Generated on the build machine with busybox 1.35 `mkpasswd`.
    #[test]
    fn busybox_vectors() {
        for (pw, hash) in [
            // busybox mkpasswd -m sha512 pw salt
            (
                "pw",
                "$6$salt1234$wKUuMJbjrBJJ4NrTWSflNBppsUx.DFm0OwfoUBaS4.rr9gEIfEO9nPhbxVUP7pmqk2MbkLJZOvnfmDsfgEN53/",
            ),
            (
                "pw",
                "$6$busyboxsalt$Hu5gMT9tfJMPPx9Qt36RqexEQTc8YIidQ53mT9oR2mtF5XxA2lvQlemoXZ3pyv35DsYnN0wIDbNyZ4Hjq2aBV.",
            ),
            (
                "p@ss w0rd!",
                "$6$AbCdEfGhIjKlMnOp$1cX6/XfXl1nlQEGOKc5dbIu92UkMKuB6E4W9jlO5X5rjYApcypkP1QNU4rBKM.rv/9ijOgm/MMmUxSwfkRU191",
            ),
            // busybox mkpasswd -m sha512 -S 'rounds=1500$ab' pw
            (
                "pw",
                "$6$rounds=1500$ab$nBRyG5RX5D.28j6AYrmJpx6vrQYIzD7Zhjzt/adumfypkQ7mflceWLqT7XxGPqhmr5Jd6KsvNrJn87ISNQXmy1",
            ),
            // busybox mkpasswd -m sha256 / -m md5
            (
                "secret",
                "$5$abcdefgh$gruCpC7VkOTspMQTTSAR8mtlO9Upms.fwqE5y16JVM.",
            ),
            ("secret", "$1$abcdefgh$cHJi5PXp/ki/ktXzqlk6I1"),
        ] {
            check(pw, hash);
        }
    }

    /// Empty passwords, from the system libcrypt via perl's crypt()
    /// (`openssl passwd` refuses an empty password).
    #[test]
    fn empty_password() {
        check("", "$5$xy$Uj5BhmLoZxDpBbJsOkoyL4TgtFF3jpmPV4PsBkqQaO1");
        check(
            "",
            "$6$xy$FURHvm45vkjODyqlqPBCECA4EZWcG81VzyRU5kPWYSVpBj004aWdW96j1P9eIlvKGHgbAn2QoTyNNJjS.LR.V0",
        );
    }

    #[test]
    fn password_length_limit() {
        // 511 bytes: libxcrypt's limit, and ours (values from perl's crypt()).
        let pw = "a".repeat(MAX_PASSWORD_LEN);
        check(&pw, "$1$toolong$Lee0kPJZG96t26ZuHzDhs.");
        check(&pw, "$5$maxlen$Hp3n4eV7Yn.4w/HH8TGKuvRL1Wn0EhvQFiCupwpizt4");
        check(
            &pw,
            "$6$maxlen$L4SdrQ4zwkT9jiHaEx95niH0BeyCAJon9/i29wrZ6gHwdMlFeeo360eQvOowHDLz7WPcDpDpmUwuBWEHBKhpE.",
        );
        // One byte more is refused even against its own correct hash.
        let pw = "a".repeat(MAX_PASSWORD_LEN + 1);
        let enc = encode(&md5_crypt(pw.as_bytes(), b"s"), &MD5_ORDER);
        let hash = format!("$1$s${}", String::from_utf8(enc).unwrap());
        assert!(is_supported(&hash));
        assert!(!verify(pw.as_bytes(), &hash));
    }

    #[test]
    fn rejects_malformed() {
        const GOOD: &str = "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1";
        let pw = b"Hello world!";
        assert!(verify(pw, GOOD));
        let bad = [
            String::new(),
            "*".into(),
            "!".into(),
            "!!".into(),
            "*LK*".into(),
            format!("!{GOOD}"),
            format!("*{GOOD}"),
            format!("{GOOD}x"),
            format!(" {GOOD}"),
            GOOD[..GOOD.len() - 1].into(),
            GOOD[..GOOD.len() - 40].into(),
            "$6$saltstring$".into(),
            "$6$saltstring".into(),
            "$6$".into(),
            "$6".into(),
            "$".into(),
            GOOD.replace("$6$", "$7$"),
            GOOD.replace("$6$", "$5$"),
            GOOD.replace("$6$", "$1$"),
            GOOD.replace("$6$", "$6$$"),
            GOOD.replace("saltstring", "saltstringsaltstr"),
            GOOD.replace("svn8", "svn$"),
            GOOD.replace("svn8", "svn-"),
            GOOD.replace("$6$", "$6$rounds=$"),
            GOOD.replace("$6$", "$6$rounds=abc$"),
            GOOD.replace("$6$", "$6$rounds=+5000$"),
            GOOD.replace("$6$", "$6$rounds=1000001$"),
            GOOD.replace("$6$", "$6$rounds=999999999$"),
            GOOD.replace("$6$", "$6$rounds=99999999999999999999$"),
            "$1$rounds=5000$x$LP5.V3ajGqHDdXW6XwZQy.".into(),
            "$1$123456789$LP5.V3ajGqHDdXW6XwZQy.".into(),
            "$2y$10$abcdefghijklmnopqrstuu5PwZ1VsVSp1q1C5mN9RjL5GQ5hvZcm".into(),
            "abJnggxhB/yWI".into(),
            "$md5$salt$hash".into(),
        ];
        for hash in &bad {
            assert!(!is_supported(hash), "{hash:?}");
            assert!(!verify(pw, hash), "{hash:?}");
            assert!(!verify(b"", hash), "{hash:?}");
        }
    }

    #[test]
    fn rounds() {
        assert_eq!(parse_rounds(b"5000"), Some(5000));
        assert_eq!(parse_rounds(b"0"), Some(MIN_ROUNDS));
        assert_eq!(parse_rounds(b"999"), Some(MIN_ROUNDS));
        assert_eq!(parse_rounds(b"1000000"), Some(MAX_ROUNDS));
        assert_eq!(parse_rounds(b"1000001"), None);
        assert_eq!(parse_rounds(b""), None);
        assert_eq!(parse_rounds(b"-1"), None);
        // An explicit default is the same as none.
        let hash = "$5$rounds=5000$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5";
        check("Hello world!", hash);
    }

    #[test]
    fn wrong_passwords() {
        for hash in [
            "$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/",
            "$5$saltstring$OH4IDuTlsuTYPdED1gsuiRMyTAwNlRWyA6Xr3I4/dQ5",
            "$6$saltstring$adDbXsJjcDlq2662QPgd.tkSOVmnG9Tt3oXl4HR60SusC3AGjirnDenVZp3DGwLwqy6iYKCzannhaX9DR72nN1",
        ] {
            assert!(verify(b"password", hash));
            for wrong in [
                &b""[..],
                b"Password",
                b"passwor",
                b"password\0",
                b"drowssap",
            ] {
                assert!(!verify(wrong, hash), "{hash}");
            }
            // Any change to the stored hash breaks the match too.
            let (head, last) = hash.split_at(hash.len() - 1);
            let other = if last == "." { "/" } else { "." };
            assert!(!verify(b"password", &format!("{head}{other}")));
            assert!(!verify(b"password", &hash.replacen("salt", "Salt", 1)));
        }
    }

    #[test]
    fn constant_time_compare() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(ct_eq(b"", b""));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }

    #[test]
    fn making_hashes_and_dummies() {
        let h = sha512_crypt(b"Hello world!", "saltstring", 5000);
        assert_eq!(
            h,
            "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"
        );
        let r = sha512_crypt(b"pw", "abc", 12000);
        assert!(r.starts_with("$6$rounds=12000$abc$") && verify(b"pw", &r));
        let d = dummy_like(&r).unwrap();
        assert!(d.starts_with("$6$rounds=12000$abc$") && d.len() == r.len());
        assert!(is_supported(&d) && !verify(b"pw", &d));
        assert_eq!(dummy_like("*"), None);
    }

    /// Drepper's test vectors from https://akkadia.org/drepper/SHA-crypt.txt
    /// (the outputs; the over-long salts there are already cut to 16).
    #[test]
    fn drepper_sha256() {
        for (pw, hash) in [
            (
                "Hello world!",
                "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5",
            ),
            (
                "Hello world!",
                "$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA",
            ),
            (
                "This is just a test",
                "$5$rounds=5000$toolongsaltstrin$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5",
            ),
            (
                "a very much longer text to encrypt.  This one even stretches over morethan one line.",
                "$5$rounds=1400$anotherlongsalts$Rx.j8H.h8HjEDGomFU8bDkXm3XIUnzyxf12oP84Bnq1",
            ),
            (
                "the minimum number is still observed",
                "$5$rounds=1000$roundstoolow$yfvwcWrQ8l/K0DAWyuPMDNHpIVlTQebY9l/gL972bIC",
            ),
            // The spec raises rounds=10 to 1000.
            (
                "the minimum number is still observed",
                "$5$rounds=10$roundstoolow$yfvwcWrQ8l/K0DAWyuPMDNHpIVlTQebY9l/gL972bIC",
            ),
        ] {
            assert!(verify(pw.as_bytes(), hash), "{hash}");
        }
    }

    #[test]
    fn drepper_sha512() {
        for (pw, hash) in [
            (
                "Hello world!",
                "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
            ),
            (
                "Hello world!",
                "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.",
            ),
            (
                "This is just a test",
                "$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0",
            ),
            (
                "a very much longer text to encrypt.  This one even stretches over morethan one line.",
                "$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1",
            ),
            (
                "the minimum number is still observed",
                "$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX.",
            ),
            (
                "the minimum number is still observed",
                "$6$rounds=10$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX.",
            ),
        ] {
            assert!(verify(pw.as_bytes(), hash), "{hash}");
        }
    }
}
