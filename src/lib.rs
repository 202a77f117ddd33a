//! Typed client for PRIMO's Connect Enterprise customers API.
//!
//! Before every quote or booking an integration must learn which customers
//! and branches its organization owns, and send the right identifiers:
//! `customerBsn` for a quote, `customerNumber` + `customerBsn` for a
//! booking, never for an inactive customer, never one from the other
//! environment. This crate fetches every page of `GET /v1/customers`,
//! checks the provider's rules, and resolves those identifiers so that a
//! wrong one is refused rather than sent.
//!
//! The HTTP client itself is generated at build time by progenitor from
//! the hand-written spec in `openapi/` ([`generated`], its types re-exported
//! in [`types`]); the modules here are the thin layer on top.
//!
//! ```no_run
//! use primo_connect::{BranchChoice, ConnectClient, Credentials, Environment};
//!
//! # async fn run() -> Result<(), primo_connect::Error> {
//! let credentials = Credentials::client("my-client-id", "my-secret");
//! let client = ConnectClient::builder(Environment::Development, credentials).build()?;
//! let directory = client.directory().await?;
//! let booking = directory.booking_target("C00001", &BranchChoice::Headquarter)?;
//! println!("{}", serde_json::to_string(&booking).unwrap());
//! # Ok(())
//! # }
//! ```

mod auth;
mod client;
mod directory;
mod environment;
mod error;
pub mod generated;
pub mod rules;
mod timestamp;
mod transport;
pub mod walk;

#[cfg(feature = "contract")]
pub mod contract;
#[cfg(feature = "sandbox")]
pub mod sandbox;

pub use auth::Credentials;
pub use client::{
    ClientBuilder, ConnectClient, DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT, RawPage,
};
pub use directory::{
    BookingTarget, BranchChoice, CustomerDirectory, Policy, QuoteTarget, Resolved,
};
pub use environment::{DEVELOPMENT_URL, Environment, PRODUCTION_URL};
pub use error::{Error, Step, TransportKind};
pub use rules::RuleProblem;
pub use timestamp::{ApiTimestamp, InvalidTimestamp};
pub use transport::RetryPolicy;
pub use walk::{Page, PageSource, PageWalk, WalkOptions};

/// The README's examples, run as doctests so that they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The types of the API, as generated from the spec.
///
/// `LoginRequest` and `LoginResult` are the crate's own, in place of the
/// generated ones, so that the secret and the token are held redacted.
pub mod types {
    pub use crate::auth::{LoginRequest, LoginResult};
    pub use crate::generated::types::*;
}
