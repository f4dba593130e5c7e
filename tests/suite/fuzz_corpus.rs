//! Replays the fuzz corpus (fuzz/corpus/<target>/) through the same checks the cargo-fuzz
//! targets run (fuzz/checks.rs), on stable Rust: a regression of the parser, the jail or the
//! DNS answer parser on any stored input fails here without nightly. Every input goes
//! through every check.

use std::path::PathBuf;

use crate::support::TempDir;

#[path = "../../fuzz/checks.rs"]
mod checks;

/// Every file of the corpus directories (every target), sorted.
fn corpus() -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut files = Vec::new();
    for target in ["parse", "jail", "dns"] {
        let mut n = 0;
        for e in std::fs::read_dir(dir.join(target)).expect("fuzz/corpus/<target>") {
            let p = e.unwrap().path();
            let data = std::fs::read(&p).unwrap();
            files.push((p, data));
            n += 1;
        }
        assert!(n >= 10, "fuzz/corpus/{target} has only {n} inputs");
    }
    files.sort();
    files
}

#[test]
fn corpus_replays_clean_through_the_parser_checks() {
    for (p, data) in corpus() {
        let r = std::panic::catch_unwind(|| checks::check_parse(&data));
        assert!(r.is_ok(), "parse check failed on {}", p.display());
    }
}

#[test]
fn corpus_replays_clean_through_the_dns_checks() {
    for (p, data) in corpus() {
        let r = std::panic::catch_unwind(|| checks::check_dns(&data));
        assert!(r.is_ok(), "dns check failed on {}", p.display());
    }
}

#[test]
fn corpus_replays_clean_through_the_jail_checks() {
    let base = TempDir::new("fuzz-jail");
    let fx = checks::Fixture::new(&base.join("tree"));
    for (p, data) in corpus() {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            checks::check_jail(&fx, &data)
        }));
        assert!(r.is_ok(), "jail check failed on {}", p.display());
    }
}

#[test]
fn the_jail_checks_catch_an_escape() {
    // The checks themselves must be able to fail: a path that does reach outside (through
    // the host file system, not the jail) trips the inode check.
    let base = TempDir::new("fuzz-self");
    let fx = checks::Fixture::new(&base.join("tree"));
    let outside = std::fs::metadata(base.join("tree/outside/canary.txt")).unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        use std::os::unix::fs::MetadataExt;
        fx.assert_inside("self-test", outside.dev(), outside.ino())
    }));
    assert!(r.is_err());
}
