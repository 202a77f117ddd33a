//! The client progenitor generates from `openapi/connect-enterprise.yaml`.
//!
//! The code comes from `build.rs` at build time and is included here once.
//! The allowances cover only that code: it is machine-written, carries no
//! docs of its own on every item, and follows the generator's style rather
//! than this crate's.

#![allow(missing_docs, unreachable_pub, unused_qualifications)]
#![allow(clippy::all, clippy::pedantic)]

include!(concat!(env!("OUT_DIR"), "/connect_enterprise.rs"));
