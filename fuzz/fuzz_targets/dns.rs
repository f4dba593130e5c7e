//! Fuzz target: the stub resolver's DNS answer parser (see ../checks.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;
#[path = "../tree.rs"]
mod tree;

fuzz_target!(|data: &[u8]| checks::check_dns(data));
