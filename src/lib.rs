//! edgeftpd as a library: the modules of the server, public so that the binary, the fuzz
//! targets and the tests can use the same code. The binary (`main.rs`) is the product.

#![deny(unsafe_op_in_unsafe_fn)]

pub mod auth;
pub mod command;
pub mod config;
pub mod control;
pub mod crypt;
pub mod data;
pub mod list;
pub mod listing;
pub mod logging;
pub mod reply;
pub mod server;
pub mod session;
pub mod sys;
pub mod vfs;
