//! The busybox init script (cross/init.d/edgeftpd) starts, reports, restarts and stops the
//! server: runs tests/init_script.sh (needs bash, busybox and python3; `make deps`) against
//! the binary cargo built for this host. Under `make cross-test` too it tests the host
//! binary: start-stop-daemon runs the daemon directly, without the qemu runner.

use std::process::Command;

#[test]
fn init_script_starts_restarts_and_stops_the_server() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("bash")
        .arg(format!("{dir}/tests/init_script.sh"))
        .current_dir(dir)
        .env("EDGEFTPD_BIN", env!("CARGO_BIN_EXE_edgeftpd"))
        .env_remove("EDGEFTPD_RUNNER")
        .output()
        .expect("run bash tests/init_script.sh");
    assert!(
        out.status.success(),
        "tests/init_script.sh failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
