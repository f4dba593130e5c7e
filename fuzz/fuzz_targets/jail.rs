//! Fuzz target: path resolution inside the jail, against a tree with symlinks pointing out
//! and canaries outside (see ../checks.rs). The tree is built once per process in the
//! temporary directory (`make fuzz` removes it afterwards).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;
#[path = "../tree.rs"]
mod tree;

static FIXTURE: OnceLock<checks::Fixture> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let fx = FIXTURE.get_or_init(|| {
        let base = std::env::temp_dir().join(format!("edgeftpd-fuzz-jail-{}", std::process::id()));
        checks::Fixture::new(&base)
    });
    checks::check_jail(fx, data);
});
