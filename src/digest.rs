//! The digests the server computes by hand: MD5, SHA-1, SHA-256, SHA-512 and CRC-32, for
//! the file checksums of HASH and XMD5/XSHA* ([`Checksum`]), and MD5, SHA-256 and SHA-512
//! for the crypt(3) password hashes (`crypt.rs`, which never uses SHA-1 or CRC-32).
//!
//! Hand-written on purpose: no crate dependency and a small binary (see the README's size
//! table). Compact loop-based implementations that favour code size over speed.

/// A streaming hash; outputs are returned in a 64-byte array, `LEN` bytes used.
pub trait Digest {
    const LEN: usize;
    fn new() -> Self;
    fn update(&mut self, data: &[u8]);
    fn finish(self) -> [u8; 64];
}

/// Hashes the concatenation of `parts`.
pub fn digest<D: Digest>(parts: &[&[u8]]) -> [u8; 64] {
    let mut ctx = D::new();
    for part in parts {
        ctx.update(part);
    }
    ctx.finish()
}

/// Collects input into `B`-byte blocks and does Merkle-Damgard padding.
struct Blocks<const B: usize> {
    buf: [u8; B],
    fill: usize,
    total: u64,
}

impl<const B: usize> Blocks<B> {
    fn new() -> Self {
        Blocks {
            buf: [0; B],
            fill: 0,
            total: 0,
        }
    }

    fn update(&mut self, mut data: &[u8], mut compress: impl FnMut(&[u8; B])) {
        self.total = self.total.wrapping_add(data.len() as u64);
        while !data.is_empty() {
            let n = (B - self.fill).min(data.len());
            self.buf[self.fill..self.fill + n].copy_from_slice(&data[..n]);
            self.fill += n;
            data = &data[n..];
            if self.fill == B {
                compress(&self.buf);
                self.fill = 0;
            }
        }
    }

    /// Appends 0x80, zeros and the bit length as a `len_bytes`-wide integer.
    fn finish(mut self, len_bytes: usize, big_endian: bool, mut compress: impl FnMut(&[u8; B])) {
        let bits = u128::from(self.total) * 8;
        let (be, le) = (bits.to_be_bytes(), bits.to_le_bytes());
        let len = if big_endian {
            &be[16 - len_bytes..]
        } else {
            &le[..len_bytes]
        };
        self.update(&[0x80], &mut compress);
        while self.fill != B - len_bytes {
            self.update(&[0], &mut compress);
        }
        self.update(len, &mut compress);
    }
}

/// MD5 (RFC 1321).
pub struct Md5 {
    s: [u32; 4],
    b: Blocks<64>,
}

impl Md5 {
    fn compress(s: &mut [u32; 4], blk: &[u8; 64]) {
        const SHIFT: [u32; 16] = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
        let m: [u32; 16] = std::array::from_fn(|i| {
            u32::from_le_bytes([blk[4 * i], blk[4 * i + 1], blk[4 * i + 2], blk[4 * i + 3]])
        });
        let [mut a, mut b, mut c, mut d] = *s;
        for (i, k) in MD5_K.iter().enumerate() {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), 5 * i + 1),
                2 => (b ^ c ^ d, 3 * i + 5),
                _ => (c ^ (b | !d), 7 * i),
            };
            let t = a.wrapping_add(f).wrapping_add(*k).wrapping_add(m[g % 16]);
            (a, d, c) = (d, c, b);
            b = b.wrapping_add(t.rotate_left(SHIFT[i / 16 * 4 + i % 4]));
        }
        for (x, y) in s.iter_mut().zip([a, b, c, d]) {
            *x = x.wrapping_add(y);
        }
    }
}

impl Digest for Md5 {
    const LEN: usize = 16;

    fn new() -> Self {
        Md5 {
            s: [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476],
            b: Blocks::new(),
        }
    }

    fn update(&mut self, data: &[u8]) {
        let s = &mut self.s;
        self.b.update(data, |blk| Md5::compress(s, blk));
    }

    fn finish(mut self) -> [u8; 64] {
        let s = &mut self.s;
        self.b.finish(8, false, |blk| Md5::compress(s, blk));
        let mut out = [0; 64];
        for (o, w) in out.chunks_exact_mut(4).zip(self.s) {
            o.copy_from_slice(&w.to_le_bytes());
        }
        out
    }
}

/// Defines a SHA-2 hash (FIPS 180-4) over word type `$w`. `$r` holds the
/// rotation amounts of Σ0, Σ1, σ0 and σ1 (the last of σ0/σ1 is a shift).
macro_rules! sha2 {
    ($name:ident, $w:ty, $k:ident, $iv:ident, $r:expr) => {
        pub struct $name {
            s: [$w; 8],
            b: Blocks<{ 16 * size_of::<$w>() }>,
        }

        impl $name {
            fn compress(s: &mut [$w; 8], blk: &[u8; 16 * size_of::<$w>()]) {
                const R: [u32; 12] = $r;
                let big = |x: $w, r: usize| {
                    x.rotate_right(R[r]) ^ x.rotate_right(R[r + 1]) ^ x.rotate_right(R[r + 2])
                };
                let small = |x: $w, r: usize| {
                    x.rotate_right(R[r]) ^ x.rotate_right(R[r + 1]) ^ (x >> R[r + 2])
                };
                let mut w = [0; $k.len()];
                for (w, c) in w.iter_mut().zip(blk.chunks_exact(size_of::<$w>())) {
                    *w = c.iter().fold(0, |v, &b| v << 8 | <$w>::from(b));
                }
                for i in 16..w.len() {
                    w[i] = w[i - 16]
                        .wrapping_add(small(w[i - 15], 6))
                        .wrapping_add(w[i - 7])
                        .wrapping_add(small(w[i - 2], 9));
                }
                let mut h = *s;
                for (k, w) in $k.iter().zip(w) {
                    let [a, b, c, d, e, f, g, hh] = h;
                    let t1 = hh
                        .wrapping_add(big(e, 3))
                        .wrapping_add((e & f) ^ (!e & g))
                        .wrapping_add(*k)
                        .wrapping_add(w);
                    let t2 = big(a, 0).wrapping_add((a & b) ^ (a & c) ^ (b & c));
                    h = [t1.wrapping_add(t2), a, b, c, d.wrapping_add(t1), e, f, g];
                }
                for (x, y) in s.iter_mut().zip(h) {
                    *x = x.wrapping_add(y);
                }
            }
        }

        impl Digest for $name {
            const LEN: usize = 8 * size_of::<$w>();

            fn new() -> Self {
                $name {
                    s: $iv,
                    b: Blocks::new(),
                }
            }

            fn update(&mut self, data: &[u8]) {
                let s = &mut self.s;
                self.b.update(data, |blk| $name::compress(s, blk));
            }

            fn finish(mut self) -> [u8; 64] {
                let s = &mut self.s;
                self.b
                    .finish(2 * size_of::<$w>(), true, |blk| $name::compress(s, blk));
                let mut out = [0; 64];
                for (o, w) in out.chunks_exact_mut(size_of::<$w>()).zip(self.s) {
                    o.copy_from_slice(&w.to_be_bytes());
                }
                out
            }
        }
    };
}

sha2!(
    Sha256,
    u32,
    SHA256_K,
    SHA256_IV,
    [2, 13, 22, 6, 11, 25, 7, 18, 3, 17, 19, 10]
);
sha2!(
    Sha512,
    u64,
    SHA512_K,
    SHA512_IV,
    [28, 34, 39, 14, 18, 41, 1, 8, 7, 19, 61, 6]
);

/// SHA-1 (FIPS 180-4), for file checksums only.
pub struct Sha1 {
    s: [u32; 5],
    b: Blocks<64>,
}

impl Sha1 {
    fn compress(s: &mut [u32; 5], blk: &[u8; 64]) {
        let mut w = [0u32; 80];
        for (w, c) in w.iter_mut().zip(blk.chunks_exact(4)) {
            *w = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = *s;
        for (i, w) in w.iter().enumerate() {
            let (f, k) = match i / 20 {
                0 => ((b & c) | (!b & d), 0x5a827999),
                1 => (b ^ c ^ d, 0x6ed9eba1),
                2 => ((b & c) | (b & d) | (c & d), 0x8f1bbcdc),
                _ => (b ^ c ^ d, 0xca62c1d6u32),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*w);
            (e, d, c, b, a) = (d, c, b.rotate_left(30), a, t);
        }
        for (x, y) in s.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }
}

impl Digest for Sha1 {
    const LEN: usize = 20;

    fn new() -> Self {
        Sha1 {
            s: [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0],
            b: Blocks::new(),
        }
    }

    fn update(&mut self, data: &[u8]) {
        let s = &mut self.s;
        self.b.update(data, |blk| Sha1::compress(s, blk));
    }

    fn finish(mut self) -> [u8; 64] {
        let s = &mut self.s;
        self.b.finish(8, true, |blk| Sha1::compress(s, blk));
        let mut out = [0; 64];
        for (o, w) in out.chunks_exact_mut(4).zip(self.s) {
            o.copy_from_slice(&w.to_be_bytes());
        }
        out
    }
}

/// CRC-32 (IEEE 802.3, as zip and XCRC), one table of 256 words made at compile time.
const CRC32_TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xedb88320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// The file checksums the server offers (HASH, XMD5, XSHA1, XSHA256, XSHA512, XCRC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algo {
    Sha256,
    Sha512,
    Sha1,
    Md5,
    Crc32,
}

impl Algo {
    /// Every algorithm, in FEAT's order (the default first).
    pub const ALL: [Algo; 5] = [
        Algo::Sha256,
        Algo::Sha512,
        Algo::Sha1,
        Algo::Md5,
        Algo::Crc32,
    ];

    /// The name HASH and OPTS HASH use (draft-bryan-ftpext-hash).
    pub fn name(self) -> &'static str {
        match self {
            Algo::Sha256 => "SHA-256",
            Algo::Sha512 => "SHA-512",
            Algo::Sha1 => "SHA-1",
            Algo::Md5 => "MD5",
            Algo::Crc32 => "CRC32",
        }
    }

    /// An algorithm by its name, any case.
    pub fn by_name(name: &[u8]) -> Option<Algo> {
        Algo::ALL
            .into_iter()
            .find(|a| a.name().as_bytes().eq_ignore_ascii_case(name))
    }
}

/// A file checksum being computed.
pub struct Checksum(Running);

enum Running {
    Sha256(Sha256),
    Sha512(Box<Sha512>),
    Sha1(Sha1),
    Md5(Md5),
    Crc32(u32),
}

impl Checksum {
    pub fn new(algo: Algo) -> Checksum {
        Checksum(match algo {
            Algo::Sha256 => Running::Sha256(Sha256::new()),
            Algo::Sha512 => Running::Sha512(Box::new(Sha512::new())),
            Algo::Sha1 => Running::Sha1(Sha1::new()),
            Algo::Md5 => Running::Md5(Md5::new()),
            Algo::Crc32 => Running::Crc32(!0),
        })
    }

    pub fn update(&mut self, data: &[u8]) {
        match &mut self.0 {
            Running::Sha256(d) => d.update(data),
            Running::Sha512(d) => d.update(data),
            Running::Sha1(d) => d.update(data),
            Running::Md5(d) => d.update(data),
            Running::Crc32(c) => {
                for &b in data {
                    *c = CRC32_TABLE[((*c ^ u32::from(b)) & 0xff) as usize] ^ (*c >> 8);
                }
            }
        }
    }

    /// The checksum in lower-case hex.
    pub fn hex(self) -> String {
        let (bytes, len) = match self.0 {
            Running::Sha256(d) => (d.finish(), Sha256::LEN),
            Running::Sha512(d) => (d.finish(), Sha512::LEN),
            Running::Sha1(d) => (d.finish(), Sha1::LEN),
            Running::Md5(d) => (d.finish(), Md5::LEN),
            Running::Crc32(c) => {
                let mut out = [0; 64];
                out[..4].copy_from_slice(&(!c).to_be_bytes());
                (out, 4)
            }
        };
        const HEX: &[u8; 16] = b"0123456789abcdef";
        bytes[..len]
            .iter()
            .flat_map(|b| {
                [
                    HEX[usize::from(b >> 4)] as char,
                    HEX[usize::from(b & 15)] as char,
                ]
            })
            .collect()
    }
}

const MD5_K: [u32; 64] = [
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
];
const SHA256_K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];
const SHA256_IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];
const SHA512_K: [u64; 80] = [
    0x428a2f98d728ae22,
    0x7137449123ef65cd,
    0xb5c0fbcfec4d3b2f,
    0xe9b5dba58189dbbc,
    0x3956c25bf348b538,
    0x59f111f1b605d019,
    0x923f82a4af194f9b,
    0xab1c5ed5da6d8118,
    0xd807aa98a3030242,
    0x12835b0145706fbe,
    0x243185be4ee4b28c,
    0x550c7dc3d5ffb4e2,
    0x72be5d74f27b896f,
    0x80deb1fe3b1696b1,
    0x9bdc06a725c71235,
    0xc19bf174cf692694,
    0xe49b69c19ef14ad2,
    0xefbe4786384f25e3,
    0x0fc19dc68b8cd5b5,
    0x240ca1cc77ac9c65,
    0x2de92c6f592b0275,
    0x4a7484aa6ea6e483,
    0x5cb0a9dcbd41fbd4,
    0x76f988da831153b5,
    0x983e5152ee66dfab,
    0xa831c66d2db43210,
    0xb00327c898fb213f,
    0xbf597fc7beef0ee4,
    0xc6e00bf33da88fc2,
    0xd5a79147930aa725,
    0x06ca6351e003826f,
    0x142929670a0e6e70,
    0x27b70a8546d22ffc,
    0x2e1b21385c26c926,
    0x4d2c6dfc5ac42aed,
    0x53380d139d95b3df,
    0x650a73548baf63de,
    0x766a0abb3c77b2a8,
    0x81c2c92e47edaee6,
    0x92722c851482353b,
    0xa2bfe8a14cf10364,
    0xa81a664bbc423001,
    0xc24b8b70d0f89791,
    0xc76c51a30654be30,
    0xd192e819d6ef5218,
    0xd69906245565a910,
    0xf40e35855771202a,
    0x106aa07032bbd1b8,
    0x19a4c116b8d2d0c8,
    0x1e376c085141ab53,
    0x2748774cdf8eeb99,
    0x34b0bcb5e19b48a8,
    0x391c0cb3c5c95a63,
    0x4ed8aa4ae3418acb,
    0x5b9cca4f7763e373,
    0x682e6ff3d6b2b8a3,
    0x748f82ee5defb2fc,
    0x78a5636f43172f60,
    0x84c87814a1f0ab72,
    0x8cc702081a6439ec,
    0x90befffa23631e28,
    0xa4506cebde82bde9,
    0xbef9a3f7b2c67915,
    0xc67178f2e372532b,
    0xca273eceea26619c,
    0xd186b8c721c0c207,
    0xeada7dd6cde0eb1e,
    0xf57d4f7fee6ed178,
    0x06f067aa72176fba,
    0x0a637dc5a2c898a6,
    0x113f9804bef90dae,
    0x1b710b35131c471b,
    0x28db77f523047d84,
    0x32caab7b40c72493,
    0x3c9ebe0a15c9bebc,
    0x431d67c49c100d4c,
    0x4cc5d4becb3e42b6,
    0x597f299cfc657e2a,
    0x5fcb6fab3ad6faec,
    0x6c44198c4a475817,
];
const SHA512_IV: [u64; 8] = [
    0x6a09e667f3bcc908,
    0xbb67ae8584caa73b,
    0x3c6ef372fe94f82b,
    0xa54ff53a5f1d36f1,
    0x510e527fade682d1,
    0x9b05688c2b3e6c1f,
    0x1f83d9abfb41bd6b,
    0x5be0cd19137e2179,
];

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(d: &[u8]) -> String {
        d.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Hashes the concatenated digests of the messages of length 0..300, which
    /// covers every padding boundary of 64- and 128-byte blocks.
    fn chain<D: Digest>() -> String {
        let mut acc = D::new();
        for n in 0..300 {
            let msg: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
            acc.update(&digest::<D>(&[&msg])[..D::LEN]);
        }
        hex(&acc.finish()[..D::LEN])
    }

    #[test]
    fn file_checksums_match_known_values() {
        let sum = |a: Algo, data: &[u8]| {
            let mut c = Checksum::new(a);
            for part in data.chunks(7) {
                c.update(part);
            }
            c.hex()
        };
        let fox = b"The quick brown fox jumps over the lazy dog";
        assert_eq!(
            sum(Algo::Sha1, fox),
            "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"
        );
        assert_eq!(
            sum(Algo::Sha1, b""),
            "da39a3ee5e6b4b0d3255bfef95601890afd80709"
        );
        assert_eq!(sum(Algo::Md5, fox), "9e107d9d372bb6826bd81d3542a419d6");
        assert_eq!(sum(Algo::Crc32, fox), "414fa339");
        assert_eq!(sum(Algo::Crc32, b""), "00000000");
        assert_eq!(
            sum(Algo::Sha256, fox),
            "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592"
        );
        assert!(sum(Algo::Sha512, fox).starts_with("07e547d9586f6a73f73fbac0435ed76951218fb7"));
        let long = vec![b'a'; 1_000_000];
        assert_eq!(
            sum(Algo::Sha1, &long),
            "34aa973cd4c4daa4f61eeb2bdbad27316534016f"
        );
        assert_eq!(Algo::by_name(b"sha-512"), Some(Algo::Sha512));
        assert_eq!(Algo::by_name(b"SHA-384"), None);
    }

    #[test]
    fn digests() {
        assert_eq!(
            hex(&digest::<Md5>(&[b"abc"])[..16]),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            hex(&digest::<Sha256>(&[b"abc"])[..32]),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex(&digest::<Sha512>(&[b"ab", b"c"])[..64]),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
             2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        );
        // Expected values from Python's hashlib.
        assert_eq!(chain::<Md5>(), "6df39947d2c08075436d0edf312ed0fb");
        assert_eq!(
            chain::<Sha256>(),
            "fa70b867db0a30acb7218d62945db0df52eb393808b30675ea9aac6b058a9a9d"
        );
        assert_eq!(
            chain::<Sha512>(),
            "5876909c163eee9aa8e3e0dbbe23ff09a3b1c1690c50ecab0cf75109b7ea0931\
             80f3b1db84ac4671a35db7394d95e9b645b20209761dc874ec013385e1db7916"
        );
    }
}
