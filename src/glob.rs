//! Shell patterns in LIST/NLST arguments (`NLST *.txt`, as tnftp's and ftp's `mget` send):
//! `*`, `?`, `[abc]`, `[a-z]`, `[!x]`, matched against one directory entry's name. Pure
//! functions on bytes.
//!
//! A pattern is compiled once per listing (classes become 256-bit sets) and matched by a
//! bit-parallel automaton: one bit per position in the pattern, a few word operations per
//! byte of the name. Matching is linear in the name's length whatever the pattern, so no
//! pattern can make a listing burn CPU (a backtracking matcher with a long class behind a
//! `*` took seconds per directory). A pattern may hold at most
//! [`limits::MAX_GLOB_TOKENS`] tokens.

use crate::limits;

/// True when a name contains shell pattern characters.
pub fn has_glob(name: &[u8]) -> bool {
    name.iter().any(|b| matches!(b, b'*' | b'?' | b'['))
}

/// A pattern with more than [`limits::MAX_GLOB_TOKENS`] tokens.
#[derive(Debug, PartialEq, Eq)]
pub struct TooComplex;

/// A compiled pattern.
pub struct Pattern {
    /// Bit `i` set in `accepts[c]`: token `i` is a `?`, a class or a byte that matches `c`.
    accepts: Vec<u128>,
    /// Bit `i` set: token `i` is a `*` (consecutive stars are one).
    stars: u128,
    /// The bit of the state "every token matched".
    done: u128,
    /// The pattern starts with a literal `.` (only such a pattern matches a dotfile).
    dot_first: bool,
}

impl Pattern {
    /// Compiles a shell pattern. An unterminated `[` is taken literally.
    pub fn compile(pat: &[u8]) -> Result<Pattern, TooComplex> {
        let mut accepts = vec![0u128; 256];
        let mut stars = 0u128;
        let mut n = 0usize;
        let mut i = 0;
        while i < pat.len() {
            if n >= limits::MAX_GLOB_TOKENS {
                return Err(TooComplex);
            }
            let bit = 1u128 << n;
            match pat[i] {
                b'*' => {
                    i += 1;
                    if n > 0 && stars & (bit >> 1) != 0 {
                        continue; // `**` is `*`
                    }
                    stars |= bit;
                }
                b'?' => {
                    accepts.iter_mut().for_each(|a| *a |= bit);
                    i += 1;
                }
                b'[' => match class(&pat[i..]) {
                    Some((set, len)) => {
                        for (c, a) in accepts.iter_mut().enumerate() {
                            if set[c / 64] & (1 << (c % 64)) != 0 {
                                *a |= bit;
                            }
                        }
                        i += len;
                    }
                    None => {
                        accepts[usize::from(b'[')] |= bit;
                        i += 1;
                    }
                },
                c => {
                    accepts[usize::from(c)] |= bit;
                    i += 1;
                }
            }
            n += 1;
        }
        Ok(Pattern {
            accepts,
            stars,
            done: 1 << n,
            dot_first: pat.first() == Some(&b'.'),
        })
    }

    /// Adds the states reached by letting a `*` match nothing.
    fn close(&self, s: u128) -> u128 {
        s | (s & self.stars) << 1
    }

    /// Whether `name` matches. A leading `.` must be matched explicitly, as in the shell.
    pub fn matches(&self, name: &[u8]) -> bool {
        if name.first() == Some(&b'.') && !self.dot_first {
            return false;
        }
        let mut s = self.close(1);
        for &c in name {
            s = self.close((s & self.accepts[usize::from(c)]) << 1 | (s & self.stars));
            if s == 0 {
                return false;
            }
        }
        s & self.done != 0
    }
}

/// A bracket class at the start of `pat`: its set of bytes and its length, or `None` when
/// it is unterminated. `]` right after `[` or `[!` is a member; `a-z` is a range.
fn class(pat: &[u8]) -> Option<([u64; 4], usize)> {
    let mut set = [0u64; 4];
    let mut i = 1;
    let negate = matches!(pat.get(1), Some(b'!' | b'^'));
    if negate {
        i += 1;
    }
    let mut first = true;
    while i < pat.len() {
        if pat[i] == b']' && !first {
            if negate {
                set.iter_mut().for_each(|w| *w = !*w);
            }
            return Some((set, i + 1));
        }
        first = false;
        let (lo, hi, len) = if i + 2 < pat.len() && pat[i + 1] == b'-' && pat[i + 2] != b']' {
            (pat[i], pat[i + 2], 3)
        } else {
            (pat[i], pat[i], 1)
        };
        for c in lo..=hi {
            set[usize::from(c) / 64] |= 1 << (c % 64);
        }
        i += len;
    }
    None
}

/// Compiles `pat` and matches one name (the tests' shorthand).
#[cfg(test)]
fn glob_match(pat: &[u8], name: &[u8]) -> bool {
    Pattern::compile(pat).is_ok_and(|p| p.matches(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match(b"*.txt", b"a.txt"));
        assert!(!glob_match(b"*.txt", b"a.txt.gz"));
        assert!(!glob_match(b"*", b".hidden"));
        assert!(glob_match(b".*", b".hidden"));
        assert!(glob_match(b"a?c", b"abc"));
        assert!(glob_match(b"[a-c]x", b"bx"));
        assert!(!glob_match(b"[!a-c]x", b"bx"));
        assert!(glob_match(b"[!a-c]x", b"dx"));
        assert!(glob_match(b"*a*b*c", b"xxaxxbxxc"));
        assert!(glob_match(b"[x", b"[x"));
        assert!(!glob_match(b"a*b", b"a"));
        assert!(glob_match(b"a**b", b"ab"));
        assert!(glob_match(b"*", b""));
        assert!(!glob_match(b"?", b""));
        assert!(glob_match(b"[]a]", b"]"));
        assert!(glob_match(b"[!]]", b"a"));
        assert!(!glob_match(b"[!]]", b"]"));
        assert!(glob_match(b"\xe9*", b"\xe9t\xe9"));
        let long = vec![b'a'; 5000];
        assert!(!glob_match(b"*a*a*a*a*a*a*b", &long));
        assert!(glob_match(b"*a*a*a*a*a*a*", &long));
    }

    // The pattern that took seconds per directory with a backtracking matcher: a long class
    // behind a star, against long names that almost match.
    #[test]
    fn worst_patterns_are_linear() {
        let mut pat = b"*[".to_vec();
        pat.extend((0..225).map(|i| b'a' + (i % 25) as u8));
        pat.extend_from_slice(b"n]X");
        let p = Pattern::compile(&pat).unwrap();
        let name = vec![b'n'; 236];
        let t = std::time::Instant::now();
        for _ in 0..200_000 {
            assert!(!p.matches(&name));
        }
        // 47 MB of names: a fraction of a second when linear, about ten seconds for the old
        // backtracking matcher (the bound only catches that, it measures nothing).
        assert!(t.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn too_many_tokens_are_refused() {
        assert!(Pattern::compile(&[b'?'; limits::MAX_GLOB_TOKENS]).is_ok());
        assert_eq!(
            Pattern::compile(&[b'?'; limits::MAX_GLOB_TOKENS + 1]).err(),
            Some(TooComplex)
        );
        // Stars collapse: they don't count twice.
        assert!(Pattern::compile(&[b'*'; 1000]).is_ok());
    }
}
