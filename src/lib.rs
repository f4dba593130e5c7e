//! edgeftpd as a library: the modules of the server, public so that the binary, the fuzz
//! targets and the tests can use the same code. The binary (`main.rs`) is the product.
//!
//! `unsafe` is denied everywhere but in `sys`, the one module of audited process-wide calls.

#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod auth;
pub mod bans;
pub mod calendar;
pub mod cidr;
pub mod command;
pub mod config;
pub mod control;
pub mod crypt;
pub mod data;
pub mod glob;
pub mod hashpw;
pub mod listing;
pub mod logging;
pub mod net;
pub mod pasvaddr;
pub mod rate;
pub mod reply;
pub mod server;
pub mod session;
#[allow(unsafe_code)]
pub mod sys;
#[cfg(feature = "tls")]
pub mod tls;
pub mod vfs;
