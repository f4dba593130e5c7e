//! Client paths made safe before they reach the file system: a [`VPath`] is a list of plain
//! components, normalised lexically (no `.`, `..` or empty components, `..` clamped at `/`),
//! with NUL bytes and over-long names refused. Pure: the walk that turns a `VPath` into a
//! descriptor is the parent module's, and only it may touch the file system.

use crate::limits;

/// A normalised virtual path inside a jail: plain components, no `.`, `..` or empty ones.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VPath {
    pub(super) parts: Vec<Vec<u8>>,
}

/// Why a client-supplied path was refused before touching the file system.
#[derive(Debug, PartialEq, Eq)]
pub enum PathError {
    /// A NUL byte cannot be passed to the kernel.
    Nul,
    /// Longer than [`limits::MAX_PATH`] or a component longer than [`limits::MAX_NAME`].
    TooLong,
}

impl VPath {
    /// The jail's root, `/`.
    pub fn root() -> VPath {
        VPath::default()
    }

    /// Resolves a client path (absolute, or relative to `self`) lexically.
    pub fn join(&self, arg: &[u8]) -> Result<VPath, PathError> {
        if arg.contains(&0) {
            return Err(PathError::Nul);
        }
        if arg.len() > limits::MAX_PATH {
            return Err(PathError::TooLong);
        }
        let mut parts = if arg.first() == Some(&b'/') {
            Vec::new()
        } else {
            self.parts.clone()
        };
        for comp in arg.split(|&b| b == b'/') {
            match comp {
                b"" | b"." => {}
                b".." => {
                    parts.pop();
                }
                name if name.len() > limits::MAX_NAME => return Err(PathError::TooLong),
                name => parts.push(name.to_vec()),
            }
        }
        Ok(VPath { parts })
    }

    /// The last component (`None` at the root).
    pub fn file_name(&self) -> Option<&[u8]> {
        self.parts.last().map(Vec::as_slice)
    }

    /// The containing directory (the root is its own parent).
    pub fn parent(&self) -> VPath {
        let mut parts = self.parts.clone();
        parts.pop();
        VPath { parts }
    }

    /// The path with one more component.
    pub fn child(&self, name: &[u8]) -> VPath {
        let mut parts = self.parts.clone();
        parts.push(name.to_vec());
        VPath { parts }
    }

    /// True when a component starts with `prefix`.
    pub fn has_component_with_prefix(&self, prefix: &[u8]) -> bool {
        self.parts.iter().any(|p| p.starts_with(prefix))
    }

    /// The path as the client sees it: `/`, `/pub`, `/pub/file`.
    pub fn to_bytes(&self) -> Vec<u8> {
        if self.parts.is_empty() {
            return b"/".to_vec();
        }
        let mut out = Vec::new();
        for p in &self.parts {
            out.push(b'/');
            out.extend_from_slice(p);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vp(s: &str) -> VPath {
        VPath::root().join(s.as_bytes()).unwrap()
    }

    #[test]
    fn lexical_dotdot_is_clamped_at_root() {
        assert_eq!(vp("../../etc/passwd").to_bytes(), b"/etc/passwd");
        assert_eq!(vp("/a/b/../../../..").to_bytes(), b"/");
        assert_eq!(vp("a/./b//c/..").to_bytes(), b"/a/b");
        assert_eq!(vp("a").join(b"../b").unwrap().to_bytes(), b"/b");
    }

    #[test]
    fn nul_and_long_names_are_refused() {
        assert_eq!(VPath::root().join(b"a\0b"), Err(PathError::Nul));
        assert_eq!(VPath::root().join(&[b'x'; 300]), Err(PathError::TooLong));
    }

    #[test]
    fn names_are_bytes() {
        let p = VPath::root().join(b"caf\xe9/\\x").unwrap();
        assert_eq!(p.to_bytes(), b"/caf\xe9/\\x");
    }
}
