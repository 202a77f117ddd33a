//! Helpers shared by the integration tests: fixtures, clients and secret checks.

// Each test file compiles its own copy of this module and uses a different
// part of it.
#![allow(
    dead_code,
    reason = "each test crate uses a different part of the helpers"
)]

use std::fmt::Debug;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

use primo_connect::types::{Customer, CustomerPageEnvelope};
use primo_connect::{ConnectClient, Credentials, Environment, RetryPolicy, WalkOptions};

/// The path of a file under `fixtures/`.
pub fn fixture_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(relative)
}

/// The text of a file under `fixtures/`.
pub fn fixture(relative: &str) -> String {
    let path = fixture_path(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A fixture parsed as untyped JSON, to be edited into a bad answer.
pub fn fixture_json(relative: &str) -> serde_json::Value {
    serde_json::from_str(&fixture(relative))
        .unwrap_or_else(|e| panic!("{relative} is not JSON: {e}"))
}

/// The customers of a page envelope under `fixtures/`, decoded through the
/// generated types.
pub fn fixture_customers(relative: &str) -> Vec<Customer> {
    let envelope: CustomerPageEnvelope = serde_json::from_str(&fixture(relative))
        .unwrap_or_else(|e| panic!("{relative} is not an envelope: {e}"));
    envelope
        .data
        .unwrap_or_else(|| panic!("{relative} has no data"))
        .results
        .unwrap_or_default()
}

/// The 23 customers of the recorded organization, in server order.
pub fn organization() -> Vec<Customer> {
    fixture_customers("organization/page-size-23/page-1.json")
}

/// The `*.json` files of `fixtures/anomalies/`, in file-name order.
pub fn anomaly_files() -> Vec<PathBuf> {
    let dir = fixture_path("anomalies");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
}

/// The customers of every anomaly file, joined in file-name order.
pub fn anomalies() -> Vec<Customer> {
    anomaly_files()
        .iter()
        .flat_map(|path| {
            let relative = format!(
                "anomalies/{}",
                path.file_name().expect("a file name").to_string_lossy()
            );
            fixture_customers(&relative)
        })
        .collect()
}

/// The `customerCode` of each customer, in order.
pub fn codes(customers: &[Customer]) -> Vec<String> {
    customers.iter().map(|c| c.customer_code.clone()).collect()
}

/// A page size or concurrency.
pub fn nz(value: u32) -> NonZeroU32 {
    NonZeroU32::new(value).expect("not zero")
}

/// Walk options with a page size and a concurrency, no deadline.
pub fn walk_options(page_size: u32, concurrency: u32) -> WalkOptions {
    WalkOptions {
        page_size: nz(page_size),
        concurrency: nz(concurrency),
        ..WalkOptions::default()
    }
}

/// A client for a loopback test server, trying every request once.
pub fn client(base_url: &str, credentials: Credentials, options: WalkOptions) -> ConnectClient {
    let environment = Environment::custom(base_url).expect("a loopback base URL");
    ConnectClient::builder(environment, credentials)
        .retry(RetryPolicy::none())
        .walk_options(options)
        .build()
        .expect("the client builds")
}

/// Asserts that neither `Display` nor `Debug` of `value` holds any of
/// `secrets`.
pub fn assert_no_secrets<T: std::fmt::Display + Debug>(value: &T, secrets: &[&str]) {
    let shown = format!("{value}");
    let debugged = format!("{value:?}");
    for secret in secrets {
        assert!(!shown.contains(secret), "Display leaks {secret:?}: {shown}");
        assert!(
            !debugged.contains(secret),
            "Debug leaks {secret:?}: {debugged}"
        );
    }
}

/// Asserts that `Debug` of `value` holds none of `secrets`.
pub fn assert_debug_hides<T: Debug>(value: &T, secrets: &[&str]) {
    let debugged = format!("{value:?}");
    for secret in secrets {
        assert!(
            !debugged.contains(secret),
            "Debug leaks {secret:?}: {debugged}"
        );
    }
}
