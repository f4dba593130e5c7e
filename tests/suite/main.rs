//! The integration tests: the real edgeftpd binary over real loopback sockets, driven by a
//! raw client that asserts reply lines byte for byte, and by real FTP clients. One crate,
//! organised by behaviour (as ripgrep's tests are), with one support module. The same
//! tests run against a cross-built binary under qemu (`EDGEFTPD_BIN`, `EDGEFTPD_RUNNER`).

mod support;
/// The canary tree, shared with the fuzz targets.
#[path = "../../fuzz/tree.rs"]
mod tree;

mod abuse;
mod cli;
mod clients;
mod commands;
mod data_channel;
mod disks;
#[cfg(feature = "tls")]
mod ftps;
mod fuzz_corpus;
mod limits;
mod listing;
mod logging;
mod login;
mod paths;
mod process;
mod rights;
mod router;
mod transfers;
mod uploads;
