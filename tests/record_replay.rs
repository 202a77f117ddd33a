//! A recording made from the sandbox replays through httpmock into the very
//! directory the committed fixtures describe.
#![cfg(all(feature = "sandbox", feature = "contract"))]

use std::num::NonZeroU32;
use std::path::Path;

use httpmock::prelude::*;
use primo_connect::contract::{RecordOptions, record};
use primo_connect::sandbox::{Organization, Sandbox, SandboxConfig};
use primo_connect::types::CustomerPageEnvelope;
use primo_connect::{ConnectClient, Credentials, CustomerDirectory, Environment, WalkOptions};
use serde_json::Value;

const TOKEN: &str = "replay-token";

fn client(base_url: &str, page_size: u32) -> ConnectClient {
    let walk = WalkOptions {
        page_size: NonZeroU32::new(page_size).unwrap(),
        ..WalkOptions::default()
    };
    ConnectClient::builder(
        Environment::custom(base_url).unwrap(),
        Credentials::token(TOKEN),
    )
    .walk_options(walk)
    .build()
    .unwrap()
}

/// The directory as JSON, without what differs between two fetches: the
/// environment (another port) and the time.
fn comparable(directory: &CustomerDirectory) -> Value {
    let mut json = serde_json::to_value(directory).unwrap();
    let object = json.as_object_mut().unwrap();
    object.remove("environment");
    object.remove("fetchedAt");
    json
}

// Record the builtin organization at 10 per page, serve the files from
// httpmock, and walk them: the same directory as the committed fixtures.
#[tokio::test]
async fn recorded_pages_replay_into_the_committed_directory() {
    let sandbox = Sandbox::start(SandboxConfig {
        organization: Organization::builtin(),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let summary = record(
        &client(&sandbox.base_url(), 10),
        out.path(),
        NonZeroU32::new(10).unwrap(),
        RecordOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!((summary.pages, summary.customers), (3, 23));

    // Each recorded file answers the request for its page, nothing else.
    let server = MockServer::start_async().await;
    let mut mocks = Vec::new();
    for page in 1..=3 {
        let body = std::fs::read_to_string(out.path().join(format!("page-{page}.json"))).unwrap();
        let mock = server
            .mock_async(|when, then| {
                when.method(GET)
                    .path("/v1/customers")
                    .query_param("currentPage", page.to_string())
                    .query_param("resultsPerPage", "10")
                    .header("authorization", format!("Bearer {TOKEN}"));
                then.status(200)
                    .header("content-type", "application/json")
                    .body(body);
            })
            .await;
        mocks.push(mock);
    }
    let replayed = client(&server.base_url(), 10).directory().await.unwrap();
    for mock in &mocks {
        mock.assert_calls_async(1).await;
    }

    let committed = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/organization/page-size-23/page-1.json");
    let envelope: CustomerPageEnvelope =
        serde_json::from_str(&std::fs::read_to_string(committed).unwrap()).unwrap();
    let customers = envelope.data.unwrap().results.unwrap();
    let expected = CustomerDirectory::new(Environment::Development, customers);

    assert_eq!(replayed.len(), 23);
    assert_eq!(comparable(&replayed), comparable(&expected));
}
