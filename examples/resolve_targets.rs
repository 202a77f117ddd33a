//! Resolves the identifiers a quote and a booking take, end to end, against the sandbox.
//!
//! The program starts the in-process sandbox (the 23 customers of
//! `fixtures/organization/page-size-23/page-1.json`), builds a
//! `ConnectClient` with a client id and secret, so the first request logs in
//! at `POST /v1/auth/login`, and fetches the whole directory. It then
//! resolves:
//!
//! - customer `C00001` at its headquarter: a quote takes the headquarter's
//!   `customerBsn`, a booking the `customerNumber` and that `customerBsn`;
//! - the same customer at its branch named `CustomerExample - KS`;
//! - customer `C00007`, which is inactive: both requests are refused, and
//!   nothing is printed that could be sent by mistake.
//!
//! Run it with `cargo run --example resolve_targets`. It needs no network
//! and no real credentials; it exits with an error if any step does not
//! turn out as described.

use std::error::Error;

use primo_connect::sandbox::{Sandbox, SandboxConfig};
use primo_connect::{BranchChoice, ConnectClient, Credentials, CustomerDirectory, Environment};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    // The sandbox accepts any non-empty client id and secret and hands out
    // its own token.
    let sandbox = Sandbox::start(SandboxConfig::default()).await?;
    let environment = Environment::custom(&sandbox.base_url())?;
    println!("sandbox at {environment}");

    // Client credentials, not a ready token: the client logs in itself.
    let credentials = Credentials::client("example-client", "example-secret");
    let client = ConnectClient::builder(environment, credentials).build()?;
    let directory = client.directory().await?;
    let requests = sandbox.requests();
    println!(
        "fetched {} customers ({} login, {} page request(s))",
        directory.len(),
        requests.login,
        requests.customers
    );
    println!();

    // The headquarter, then a branch chosen by its name.
    resolve(&directory, "C00001", &BranchChoice::Headquarter)?;
    let branch = BranchChoice::Name("CustomerExample - KS".to_owned());
    resolve(&directory, "C00001", &branch)?;

    // An inactive customer: no identifier comes back, only the reason.
    let inactive = "C00007";
    println!("{inactive} at the headquarter");
    let quote = directory.quote_target(inactive, &BranchChoice::Headquarter);
    let booking = directory.booking_target(inactive, &BranchChoice::Headquarter);
    for (request, outcome) in [("quote", quote.err()), ("booking", booking.err())] {
        match outcome {
            Some(error @ primo_connect::Error::InactiveCustomer { .. }) => {
                println!("  {request:<8} refused: {error}");
            }
            Some(other) => return Err(format!("{inactive}: unexpected error: {other}").into()),
            None => return Err(format!("{inactive}: an inactive customer was not refused").into()),
        }
    }

    sandbox.shutdown().await;
    Ok(())
}

/// Prints the quote and booking targets of one customer and branch, as the
/// JSON fields those requests take.
fn resolve(
    directory: &CustomerDirectory,
    customer: &str,
    branch: &BranchChoice,
) -> Result<(), Box<dyn Error>> {
    let found = directory.customer(customer)?;
    println!("{customer} ({}) at {branch}", found.customer_name);

    let quote = directory.quote_target(customer, branch)?;
    let booking = directory.booking_target(customer, branch)?;
    println!("  {:<8} {}", "quote", serde_json::to_string(&quote)?);
    println!("  {:<8} {}", "booking", serde_json::to_string(&booking)?);
    println!("  valid in {} only", quote.environment());
    println!();
    Ok(())
}
