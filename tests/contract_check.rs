//! `primo check` and `primo record` against the sandbox.
#![cfg(all(feature = "sandbox", feature = "contract"))]

use std::fs;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

use primo_connect::contract::{
    RecordError, RecordOptions, Severity, SpecSchemas, record, run_check,
};
use primo_connect::sandbox::{FaultPlan, FaultStep, Organization, Sandbox, SandboxConfig};
use primo_connect::{ConnectClient, Credentials, CustomerDirectory, Environment, RetryPolicy};
use serde_json::{Value, json};

const TOKEN: &str = "contract-test-token";

fn per_page(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

fn fixtures(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(relative)
}

async fn serve(organization: Organization) -> (Sandbox, ConnectClient) {
    serve_with(organization, FaultPlan::new()).await
}

/// A sandbox with scripted faults, and a client that never retries.
async fn serve_with(organization: Organization, faults: FaultPlan) -> (Sandbox, ConnectClient) {
    let config = SandboxConfig {
        organization,
        faults,
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config).await.expect("the sandbox starts");
    let environment = Environment::custom(&sandbox.base_url()).unwrap();
    let client = ConnectClient::builder(environment, Credentials::token(TOKEN))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    (sandbox, client)
}

fn schemas() -> SpecSchemas {
    SpecSchemas::embedded().expect("the embedded spec compiles")
}

/// One customer's identifiers and branch structure: id, number, code,
/// active flag, and each branch's `customerBsn` and headquarter flag.
type Skeleton = (i64, i64, String, bool, Vec<(i64, bool)>);

/// What a directory says about identifiers and structure, names left out.
fn structure(directory: &CustomerDirectory) -> Vec<Skeleton> {
    directory
        .customers()
        .iter()
        .map(|c| {
            let branches = c
                .bsns
                .iter()
                .flatten()
                .map(|b| (b.customer_bsn, b.is_headquarter))
                .collect();
            (
                c.customer_id,
                c.customer_number,
                c.customer_code.clone(),
                c.is_active,
                branches,
            )
        })
        .collect()
}

/// Every file in `dir`, by name, with its text.
fn written(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read_to_string(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

// The anomalies folder checks clean against the spec and reports exactly its rule problems.
#[tokio::test]
async fn check_reports_the_anomalies() {
    let (_sandbox, client) = serve(Organization::from_dir(&fixtures("anomalies")).unwrap()).await;

    let report = run_check(&client, &schemas(), per_page(4))
        .await
        .expect("the check runs");

    assert!(report.has_errors());
    assert_eq!((report.pages, report.customers), (3, 9));

    // The rule findings are the sidecars' lines, all of them and nothing else.
    let rules = report
        .results
        .iter()
        .find(|r| r.name == "business-rules")
        .unwrap();
    let mut found: Vec<String> = rules
        .findings
        .iter()
        .map(|f| format!("{} {}", f.path, f.message.split(':').next().unwrap()))
        .collect();
    found.sort();
    let mut expected: Vec<String> = fs::read_dir(fixtures("anomalies"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".findings.txt"))
        .flat_map(|p| {
            fs::read_to_string(p)
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    expected.sort();
    assert_eq!(found, expected);

    // Nothing but the rules fails.
    let failing: Vec<String> = report
        .results
        .iter()
        .filter(|r| r.has_errors())
        .map(|r| r.label())
        .collect();
    assert_eq!(failing, ["business-rules"]);

    insta::assert_json_snapshot!("anomalies_report", report, {
        ".environment" => "[sandbox url]",
    });
}

// The builtin organization passes every check, and the JUnit XML reads back.
#[tokio::test]
async fn check_passes_the_builtin_organization() {
    let (_sandbox, client) = serve(Organization::builtin()).await;

    let report = run_check(&client, &schemas(), per_page(10))
        .await
        .expect("the check runs");

    assert!(!report.has_errors(), "{}", report.summary());
    assert_eq!((report.pages, report.customers), (3, 23));
    assert!(
        report.results.iter().all(|r| r.findings.is_empty()),
        "{report:#?}"
    );
    assert_eq!(report.results.len(), 3 * 6 + 2);

    let summary = report.summary();
    let lines: Vec<&str> = summary.lines().skip(1).collect();
    assert_eq!(
        lines,
        [
            "status                 3 pass, 0 warn, 0 fail",
            "content-type           3 pass, 0 warn, 0 fail",
            "schema-conform         3 pass, 0 warn, 0 fail",
            "schema-strict          3 pass, 0 warn, 0 fail",
            "decode                 3 pass, 0 warn, 0 fail",
            "page-arithmetic        3 pass, 0 warn, 0 fail",
            "business-rules         1 pass, 0 warn, 0 fail",
            "duplicate-customer-id  1 pass, 0 warn, 0 fail",
            "no errors",
        ]
    );

    let xml = report.to_junit();
    let parsed = quick_junit::Report::deserialize_from_str(&xml).expect("the junit xml parses");
    assert_eq!((parsed.tests, parsed.failures, parsed.errors), (20, 0, 0));
    assert_eq!(parsed.test_suites.len(), 1);
    let names: Vec<&str> = parsed.test_suites[0]
        .test_cases
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    let labels: Vec<String> = report.results.iter().map(|r| r.label()).collect();
    assert_eq!(names, labels);
    assert_eq!(names[0], "page-1/status");
    assert_eq!(names[19], "duplicate-customer-id");
}

// A field the spec does not know is a schema-strict warning on its page, not an error.
#[tokio::test]
async fn check_warns_about_drift() {
    let dir = tempfile::tempdir().unwrap();
    let mut page: Value = serde_json::from_str(
        &fs::read_to_string(fixtures("anomalies/two-headquarters.json")).unwrap(),
    )
    .unwrap();
    page["data"]["results"][1]["region"] = json!("midwest");
    fs::write(dir.path().join("page-1.json"), page.to_string()).unwrap();
    let (_sandbox, client) = serve(Organization::from_dir(dir.path()).unwrap()).await;

    let report = run_check(&client, &schemas(), per_page(1))
        .await
        .expect("the check runs");

    let strict = report
        .results
        .iter()
        .find(|r| r.name == "schema-strict" && r.page == Some(2))
        .unwrap();
    assert_eq!(strict.findings.len(), 1);
    assert_eq!(strict.findings[0].severity, Severity::Warning);
    assert_eq!(strict.findings[0].path, "data.results[0].region");
    let conform = report.results.iter().filter(|r| r.name == "schema-conform");
    assert!(conform.clone().all(|r| r.findings.is_empty()));
    assert_eq!(conform.count(), 2);
    assert!(
        report
            .to_junit()
            .contains("warning: data.results[0].region")
    );
}

// A page that never arrives fails its status check and leaves the count short; the walk goes on.
#[tokio::test]
async fn check_reports_a_missing_page_and_goes_on() {
    let faults = FaultPlan::new().customers(Some(2), [FaultStep::Html(502)]);
    let (sandbox, client) = serve_with(Organization::builtin(), faults).await;

    let report = run_check(&client, &schemas(), per_page(10))
        .await
        .expect("the check runs");

    assert_eq!(sandbox.requests().customers, 3);
    assert_eq!((report.pages, report.customers), (3, 13));
    let failing: Vec<(String, Vec<String>)> = report
        .results
        .iter()
        .filter(|r| r.has_errors())
        .map(|r| {
            (
                r.label(),
                r.findings
                    .iter()
                    .map(|f| format!("{}: {}", f.path, f.message))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(failing.len(), 2, "{failing:#?}");
    assert_eq!(failing[0].0, "page-2/status");
    assert!(failing[0].1[0].contains("502"), "{failing:#?}");
    assert_eq!(
        failing[1],
        (
            "page-3/page-arithmetic".to_owned(),
            vec!["data.results: the pages hold 13 customers where totalResults is 23".to_owned()]
        )
    );
    let junit = quick_junit::Report::deserialize_from_str(&report.to_junit()).unwrap();
    assert_eq!((junit.tests, junit.failures), (3 * 6 - 5 + 2, 2));
}

// When page 1 does not arrive, there is nothing to check: an error, not a report.
#[tokio::test]
async fn check_fails_without_page_one() {
    let faults = FaultPlan::new().customers(Some(1), [FaultStep::Status(503)]);
    let (_sandbox, client) = serve_with(Organization::builtin(), faults).await;

    let error = run_check(&client, &schemas(), per_page(10))
        .await
        .unwrap_err();

    assert_eq!(error.status(), Some(503), "{error}");
}

// A recording of the builtin organization serves the same directory again.
#[tokio::test]
async fn a_recording_serves_the_same_directory() {
    let (_sandbox, client) = serve(Organization::builtin()).await;
    let out = tempfile::tempdir().unwrap();
    let options = RecordOptions {
        redact_names: false,
        secrets: vec![TOKEN.to_owned()],
    };

    let summary = record(&client, out.path(), per_page(10), options)
        .await
        .expect("the recording works");

    assert_eq!((summary.pages, summary.customers), (3, 23));
    let names: Vec<String> = written(out.path())
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(names, ["page-1.json", "page-2.json", "page-3.json"]);
    assert!(
        written(out.path())
            .iter()
            .all(|(_, text)| text.starts_with("{\n  \"data\": {") && text.ends_with("}\n"))
    );

    let (_replay, replay_client) = serve(Organization::from_dir(out.path()).unwrap()).await;
    let original = client.directory().await.unwrap();
    let replayed = replay_client.directory().await.unwrap();
    assert_eq!(replayed.len(), 23);
    assert_eq!(structure(&replayed), structure(&original));
    let names = |d: &CustomerDirectory| {
        d.customers()
            .iter()
            .map(|c| c.customer_name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&replayed), names(&original));

    // A second recording into the same folder is refused rather than mixed in.
    let again = record(&client, out.path(), per_page(10), RecordOptions::default()).await;
    assert!(
        matches!(again, Err(RecordError::OutputNotEmpty { .. })),
        "{again:?}"
    );
}

// E-mails, a JWT, a configured secret and (with redact_names) names never reach the written files.
#[tokio::test]
async fn a_recording_leaves_nothing_sensitive() {
    let secret = "sup3r-s3cret-client-value";
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc";
    let source = tempfile::tempdir().unwrap();
    let customer = |id: i64, name: &str, organization: &str, branch: &str| {
        json!({
            "customerId": id, "organizationName": organization, "customerName": name,
            "customerCode": format!("R{id:05}"), "customerNumber": 700_000_000_000i64 + id, "isActive": true,
            "created": "2025-01-02T03:04:05Z", "createdBy": "alice.smith@acme-freight.com",
            "organizationNumber": 1,
            "bsns": [{"customerBsn": 710_000_000_000i64 + id, "bsnName": branch, "isHeadquarter": true}],
        })
    };
    let page = json!({
        "data": {"totalResults": 3, "currentPage": 1, "totalPages": 1, "resultsPerPage": 3, "results": [
            customer(1, "Acme Freight (ops@acme-freight.com)", jwt, "Acme Freight Kansas"),
            customer(2, "Blue Harbor Shipping", &format!("key {secret}"), "Blue Harbor HQ"),
            customer(3, "Copper Lane Carriers", "PRIMO", "Copper Lane HQ"),
        ]},
        "errors": null,
    });
    fs::write(source.path().join("page-1.json"), page.to_string()).unwrap();
    let (_sandbox, client) = serve(Organization::from_dir(source.path()).unwrap()).await;
    let out = tempfile::tempdir().unwrap();
    let options = RecordOptions {
        redact_names: true,
        secrets: vec![
            TOKEN.to_owned(),
            secret.to_owned(),
            "my-client-id".to_owned(),
        ],
    };

    let summary = record(&client, out.path(), per_page(2), options)
        .await
        .expect("the recording works");

    assert_eq!((summary.pages, summary.customers), (2, 3));
    let files = written(out.path());
    assert_eq!(files.len(), 2);
    let all: String = files.iter().map(|(_, text)| text.as_str()).collect();
    for gone in [
        "alice.smith@acme-freight.com",
        "ops@acme-freight.com",
        "acme-freight",
        "eyJ",
        secret,
        TOKEN,
        "Acme Freight",
        "Blue Harbor",
        "Copper Lane",
    ] {
        assert!(!all.contains(gone), "{gone:?} was written");
    }

    // The placeholders are stable across pages and numbered in server order.
    let customers: Vec<Value> = files
        .iter()
        .flat_map(|(_, text)| {
            let page: Value = serde_json::from_str(text).unwrap();
            page["data"]["results"].as_array().unwrap().clone()
        })
        .collect();
    let field = |name: &str| {
        customers
            .iter()
            .map(|c| c[name].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        field("customerName"),
        [
            json!("Customer 1"),
            json!("Customer 2"),
            json!("Customer 3")
        ]
    );
    assert_eq!(field("createdBy"), vec![json!("user-1@example.com"); 3]);
    assert_eq!(
        field("organizationName"),
        [json!("[redacted]"), json!("[redacted]"), json!("PRIMO")]
    );
    let branches: Vec<Value> = customers
        .iter()
        .map(|c| c["bsns"][0]["bsnName"].clone())
        .collect();
    assert_eq!(
        branches,
        [json!("Branch 1"), json!("Branch 2"), json!("Branch 3")]
    );
    assert_eq!(
        field("customerNumber"),
        [
            json!(700_000_000_001i64),
            json!(700_000_000_002i64),
            json!(700_000_000_003i64)
        ]
    );
}
