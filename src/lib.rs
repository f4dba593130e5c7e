//! edgeftpd as a library: the modules of the server. The binary (`main.rs`) calls [`main`];
//! only what the fuzz targets (fuzz/) and the tests need is public, so that the compiler
//! reports code that nothing uses.
//!
//! `unsafe` is denied everywhere but in `sys`, the one module of audited process-wide calls.

#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]

pub(crate) mod accounts;
pub(crate) mod auth;
pub(crate) mod bans;
pub(crate) mod calendar;
pub(crate) mod cidr;
/// The control-line parser (fuzz/fuzz_targets/parse.rs).
pub mod command;
pub(crate) mod config;
pub(crate) mod control;
pub(crate) mod crypt;
pub(crate) mod data;
pub(crate) mod digest;
pub(crate) mod frame;
pub(crate) mod glob;
pub(crate) mod hashpw;
pub(crate) mod hook;
#[cfg(feature = "tls")]
pub(crate) mod ktls;
/// Every limit, each with its reason (the fuzz checks read the path limits).
pub mod limits;
pub(crate) mod listing;
pub(crate) mod logging;
pub(crate) mod memory;
pub(crate) mod net;
pub(crate) mod pasvaddr;
pub(crate) mod privsep;
pub(crate) mod process;
pub(crate) mod rate;
pub(crate) mod reply;
/// The stub resolver of `--pasv-address` (fuzz/fuzz_targets/dns.rs).
pub mod resolver;
pub(crate) mod sandbox;
pub(crate) mod server;
pub(crate) mod session;
pub(crate) mod start;
#[allow(unsafe_code)]
pub(crate) mod sys;
#[cfg(feature = "tls")]
pub(crate) mod tls;
/// The path jail (fuzz/fuzz_targets/jail.rs).
pub mod vfs;
pub(crate) mod xferlog;

/// A SHA-512-crypt hash with a chosen cost: the tests make deliberately slow ones.
pub use crypt::sha512_crypt;
pub use start::main;
