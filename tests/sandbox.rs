//! The sandbox server on the wire: pages, tokens, login, bad queries and faults.
#![cfg(feature = "sandbox")]

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use primo_connect::sandbox::{
    FaultPlan, FaultRule, FaultStep, Organization, RequestCounts, Sandbox, SandboxConfig,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A token any sandbox without a configured token accepts.
const TOKEN: &str = "test-token";

async fn start(config: SandboxConfig) -> Sandbox {
    Sandbox::start(config).await.expect("the sandbox starts")
}

async fn start_default() -> Sandbox {
    start(SandboxConfig::default()).await
}

/// A request for a page of customers with the usual token.
fn page_request(sandbox: &Sandbox, page: u64, per_page: u64) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .get(format!("{}/v1/customers", sandbox.base_url()))
        .query(&[("currentPage", page), ("resultsPerPage", per_page)])
        .bearer_auth(TOKEN)
}

/// The `data` of a page that must answer 200.
async fn page(sandbox: &Sandbox, page: u64, per_page: u64) -> Value {
    let response = page_request(sandbox, page, per_page)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    let envelope: Value = response.json().await.expect("a JSON envelope");
    assert_eq!(envelope["errors"], Value::Null);
    envelope["data"].clone()
}

/// The `customerCode` of every customer in a page's `data`.
fn codes(data: &Value) -> Vec<String> {
    data["results"]
        .as_array()
        .expect("results is an array")
        .iter()
        .map(|customer| {
            customer["customerCode"]
                .as_str()
                .expect("a code")
                .to_owned()
        })
        .collect()
}

/// The totals of a page's `data`, in the order the API writes them.
fn totals(data: &Value) -> [u64; 4] {
    [
        "totalResults",
        "currentPage",
        "totalPages",
        "resultsPerPage",
    ]
    .map(|field| data[field].as_u64().expect("a number"))
}

fn login_request(sandbox: &Sandbox, body: &Value) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(format!("{}/v1/auth/login", sandbox.base_url()))
        .json(body)
}

// The builtin organization at 10 per page: pages of 10, 10 and 3 customers.
#[tokio::test]
async fn builtin_pages_of_ten() {
    let sandbox = start_default().await;
    let mut all = Vec::new();
    for (number, size) in [(1, 10), (2, 10), (3, 3)] {
        let data = page(&sandbox, number, 10).await;
        assert_eq!(totals(&data), [23, number, 3, 10]);
        assert_eq!(codes(&data).len(), size);
        all.extend(codes(&data));
    }
    let expected: Vec<String> = (1..=23).map(|n| format!("C{n:05}")).collect();
    assert_eq!(all, expected);
}

// Pages match the recorded fixtures of page size 10 exactly.
#[tokio::test]
async fn builtin_pages_match_fixtures() {
    let sandbox = start_default().await;
    for number in 1..=3u64 {
        let path = format!(
            "{}/fixtures/organization/page-size-10/page-{number}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let recorded: Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("JSON");
        assert_eq!(page(&sandbox, number, 10).await, recorded["data"]);
    }
}

// A page past the end has the totals and no results.
#[tokio::test]
async fn page_past_the_end() {
    let sandbox = start_default().await;
    let data = page(&sandbox, 4, 10).await;
    assert_eq!(totals(&data), [23, 4, 3, 10]);
    assert_eq!(data["results"], json!([]));
    let far = page(&sandbox, 2_147_483_647, 2_147_483_647).await;
    assert_eq!(totals(&far), [23, 2_147_483_647, 1, 2_147_483_647]);
    assert_eq!(far["results"], json!([]));
}

// A page size larger than the organization returns everything on one page.
#[tokio::test]
async fn page_size_larger_than_organization() {
    let sandbox = start_default().await;
    let data = page(&sandbox, 1, 50).await;
    assert_eq!(totals(&data), [23, 1, 1, 50]);
    assert_eq!(codes(&data).len(), 23);
}

// Without query parameters the defaults are page 1 of 10.
#[tokio::test]
async fn query_defaults() {
    let sandbox = start_default().await;
    let response = reqwest::Client::new()
        .get(format!("{}/v1/customers", sandbox.base_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let envelope: Value = response.json().await.expect("JSON");
    assert_eq!(totals(&envelope["data"]), [23, 1, 3, 10]);
}

// Missing, empty or non-bearer tokens get 401 with an empty body.
#[tokio::test]
async fn unauthorized_without_token() {
    let sandbox = start_default().await;
    let url = format!("{}/v1/customers", sandbox.base_url());
    let client = reqwest::Client::new();
    let requests = [
        client.get(&url),
        client.get(&url).header("Authorization", "Bearer "),
        client
            .get(&url)
            .header("Authorization", "Basic dXNlcjpwYXNz"),
    ];
    for request in requests {
        let response = request.send().await.expect("sent");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.bytes().await.expect("body").len(), 0);
    }
    // The scheme is case-insensitive.
    let response = client
        .get(&url)
        .header("Authorization", "bearer anything")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
}

// With a configured token, another token gets 401 and the right one 200.
#[tokio::test]
async fn unauthorized_with_wrong_token() {
    let sandbox = start(SandboxConfig {
        token: Some("the-one".to_owned()),
        ..SandboxConfig::default()
    })
    .await;
    let response = page_request(&sandbox, 1, 10).send().await.expect("sent");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.bytes().await.expect("body").len(), 0);
    let response = reqwest::Client::new()
        .get(format!("{}/v1/customers", sandbox.base_url()))
        .bearer_auth("the-one")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
}

// Login hands out the configured token, or `sandbox-token` by default.
#[tokio::test]
async fn login_returns_token() {
    let credentials = json!({"clientid": "id", "secret": "s3cret"});
    let configured = start(SandboxConfig {
        token: Some("configured-token".to_owned()),
        ..SandboxConfig::default()
    })
    .await;
    let response = login_request(&configured, &credentials)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.text().await.expect("body");
    assert!(!body.contains("s3cret"));
    let envelope: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(
        envelope,
        json!({"data": {"token": "configured-token"}, "errors": null})
    );

    let default = start_default().await;
    let envelope: Value = login_request(&default, &credentials)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("JSON");
    assert_eq!(envelope["data"]["token"], "sandbox-token");
}

// Empty credentials get 401; a body of another shape gets a 400 envelope.
#[tokio::test]
async fn login_rejects_bad_bodies() {
    let sandbox = start_default().await;
    for empty in [
        json!({"clientid": "", "secret": "x"}),
        json!({"clientid": "x", "secret": ""}),
    ] {
        let response = login_request(&sandbox, &empty).send().await.expect("sent");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.bytes().await.expect("body").len(), 0);
    }
    for wrong in [
        json!({"clientid": "x"}),
        json!({"clientid": 1, "secret": "x"}),
        json!([]),
    ] {
        let response = login_request(&sandbox, &wrong).send().await.expect("sent");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let envelope: Value = response.json().await.expect("JSON");
        assert_eq!(envelope["data"], Value::Null);
        assert_eq!(envelope["errors"][0]["field"], "body");
    }
    let response = reqwest::Client::new()
        .post(format!("{}/v1/auth/login", sandbox.base_url()))
        .body("not json")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

// Page numbers that are not integers from 1 to 2^31-1 get a 400 envelope.
#[tokio::test]
async fn bad_query_values() {
    let sandbox = start_default().await;
    let client = reqwest::Client::new();
    let url = format!("{}/v1/customers", sandbox.base_url());
    for value in ["0", "-1", "abc", "99999999999", ""] {
        let response = client
            .get(&url)
            .query(&[("currentPage", value)])
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("sent");
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "currentPage={value}"
        );
        let envelope: Value = response.json().await.expect("JSON");
        assert_eq!(envelope["data"], Value::Null);
        assert_eq!(envelope["errors"].as_array().map(Vec::len), Some(1));
        assert_eq!(envelope["errors"][0]["field"], "currentPage");
    }
    let response = client
        .get(&url)
        .query(&[("resultsPerPage", "0")])
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let envelope: Value = response.json().await.expect("JSON");
    assert_eq!(envelope["errors"][0]["field"], "resultsPerPage");
}

// An unknown path gets 404; a known path asked with another method gets
// 405 naming the method it takes; both with an empty body.
#[tokio::test]
async fn unknown_routes() {
    let sandbox = start_default().await;
    let client = reqwest::Client::new();
    let base = sandbox.base_url();
    for (request, status, allow) in [
        (
            client.get(format!("{base}/v1/orders")).bearer_auth(TOKEN),
            StatusCode::NOT_FOUND,
            None,
        ),
        (
            client
                .post(format!("{base}/v1/customers"))
                .bearer_auth(TOKEN),
            StatusCode::METHOD_NOT_ALLOWED,
            Some("GET"),
        ),
        (
            client.get(format!("{base}/v1/auth/login")),
            StatusCode::METHOD_NOT_ALLOWED,
            Some("POST"),
        ),
    ] {
        let response = request.send().await.expect("sent");
        assert_eq!(response.status(), status);
        let allowed = response
            .headers()
            .get("allow")
            .map(|v| v.to_str().expect("ASCII").to_owned());
        assert_eq!(allowed.as_deref(), allow);
        assert_eq!(response.bytes().await.expect("body").len(), 0);
    }
    assert_eq!(
        sandbox.requests(),
        RequestCounts {
            total: 3,
            customers: 0,
            login: 0
        }
    );
}

// Counts are exact per route, faults and failures included.
#[tokio::test]
async fn request_counts() {
    let sandbox = start(SandboxConfig {
        faults: FaultPlan::new().customers(None, [FaultStep::Status(503)]),
        ..SandboxConfig::default()
    })
    .await;
    assert_eq!(sandbox.requests(), RequestCounts::default());
    for number in 1..=3 {
        page_request(&sandbox, number, 10)
            .send()
            .await
            .expect("sent");
    }
    reqwest::Client::new()
        .get(format!("{}/v1/customers", sandbox.base_url()))
        .send()
        .await
        .expect("sent");
    login_request(&sandbox, &json!({"clientid": "a", "secret": "b"}))
        .send()
        .await
        .expect("sent");
    reqwest::Client::new()
        .get(format!("{}/nowhere", sandbox.base_url()))
        .send()
        .await
        .expect("sent");
    assert_eq!(
        sandbox.requests(),
        RequestCounts {
            total: 6,
            customers: 4,
            login: 1
        }
    );
}

// Two 503s scripted for page 2 come first, then page 2 answers normally.
#[tokio::test]
async fn fault_status_for_one_page() {
    let sandbox = start(SandboxConfig {
        faults: FaultPlan::new()
            .customers(Some(2), [FaultStep::Status(503), FaultStep::Status(503)]),
        ..SandboxConfig::default()
    })
    .await;
    assert_eq!(
        page_request(&sandbox, 1, 10)
            .send()
            .await
            .expect("sent")
            .status(),
        200
    );
    for _ in 0..2 {
        let response = page_request(&sandbox, 2, 10).send().await.expect("sent");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.bytes().await.expect("body").len(), 0);
    }
    assert_eq!(codes(&page(&sandbox, 2, 10).await)[0], "C00011");
    assert_eq!(sandbox.requests().customers, 4);
}

// A scripted HTML 502 on login looks like the load balancer's page.
#[tokio::test]
async fn fault_html_page() {
    let sandbox = start(SandboxConfig {
        faults: FaultPlan::new().rule("login=html502".parse().expect("a rule")),
        ..SandboxConfig::default()
    })
    .await;
    let credentials = json!({"clientid": "a", "secret": "b"});
    let response = login_request(&sandbox, &credentials)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(response.headers()["content-type"], "text/html");
    let body = response.text().await.expect("body");
    assert!(
        body.starts_with("<html>\r\n<head><title>502 Bad Gateway</title>"),
        "{body}"
    );
    let response = login_request(&sandbox, &credentials)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
}

// 429 with `Retry-After` in seconds, then an HTTP date, then normal.
#[tokio::test]
async fn fault_retry_after() {
    let faults = [
        "customers=429+retry-after=1",
        "customers=503+retry-after=Wed, 21 Oct 2015 07:28:00 GMT,ok",
    ]
    .into_iter()
    .map(|rule| rule.parse::<FaultRule>().expect("a rule"))
    .collect();
    let sandbox = start(SandboxConfig {
        faults,
        ..SandboxConfig::default()
    })
    .await;
    let response = page_request(&sandbox, 1, 10).send().await.expect("sent");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "1");
    let response = page_request(&sandbox, 1, 10).send().await.expect("sent");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        response.headers()["retry-after"],
        "Wed, 21 Oct 2015 07:28:00 GMT"
    );
    let response = page_request(&sandbox, 1, 10).send().await.expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("retry-after").is_none());
}

// A scripted delay holds the answer back, then the answer is normal.
#[tokio::test]
async fn fault_delay() {
    let sandbox = start(SandboxConfig {
        faults: FaultPlan::new().rule("customers=delay:300ms".parse().expect("a rule")),
        ..SandboxConfig::default()
    })
    .await;
    let started = Instant::now();
    let data = page(&sandbox, 1, 10).await;
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(totals(&data), [23, 1, 3, 10]);
}

// A truncated answer announces the whole length but delivers half.
#[tokio::test]
async fn fault_truncated() {
    let sandbox = start(SandboxConfig {
        faults: FaultPlan::new().rule("customers@3=truncated".parse().expect("a rule")),
        ..SandboxConfig::default()
    })
    .await;
    let full = page_request(&sandbox, 1, 10).send().await.expect("sent");
    assert_eq!(full.status(), StatusCode::OK);
    let response = page_request(&sandbox, 3, 10).send().await.expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    let announced: usize = response.headers()["content-length"]
        .to_str()
        .expect("ASCII")
        .parse()
        .expect("a length");
    assert!(announced > 100, "{announced}");
    assert!(
        response.bytes().await.is_err(),
        "the body must be cut short"
    );
    let again = page(&sandbox, 3, 10).await;
    assert_eq!(
        serde_json::to_vec(&json!({"data": again, "errors": null}))
            .expect("JSON")
            .len(),
        announced
    );
}

// A gzip answer carries `Content-Encoding: gzip` and decodes to the normal JSON.
#[tokio::test]
async fn fault_gzip() {
    let sandbox = start(SandboxConfig {
        faults: FaultPlan::new().customers(None, [FaultStep::Gzip, FaultStep::Gzip]),
        ..SandboxConfig::default()
    })
    .await;
    let raw_client = reqwest::Client::builder()
        .no_gzip()
        .build()
        .expect("a client");
    let response = raw_client
        .get(format!("{}/v1/customers", sandbox.base_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let raw = response.bytes().await.expect("body");
    assert_eq!(&raw[..2], &[0x1f, 0x8b]);

    // reqwest's own decoder accepts the stream.
    let decoded = page(&sandbox, 1, 10).await;
    let plain = page(&sandbox, 1, 10).await;
    assert_eq!(decoded, plain);
    assert_eq!(sandbox.requests().customers, 3);
}

// Configured latency delays every answer, 404s included.
#[tokio::test]
async fn latency_before_every_answer() {
    let sandbox = start(SandboxConfig {
        latency: Duration::from_millis(150),
        ..SandboxConfig::default()
    })
    .await;
    let started = Instant::now();
    let response = reqwest::get(format!("{}/missing", sandbox.base_url()))
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(started.elapsed() >= Duration::from_millis(150));
}

// A synthetic million: first and last pages, distinct identifiers in a sample.
#[tokio::test]
async fn synthetic_million() {
    let sandbox = start(SandboxConfig {
        organization: Organization::synthetic(1_000_000),
        ..SandboxConfig::default()
    })
    .await;
    let first = page(&sandbox, 1, 100).await;
    assert_eq!(totals(&first), [1_000_000, 1, 10_000, 100]);
    assert_eq!(codes(&first)[0], "C0000001");
    assert_eq!(first["results"][0]["organizationName"], "PRIMO");
    assert_eq!(first["results"][36]["isActive"], false);
    let last = page(&sandbox, 10_000, 100).await;
    assert_eq!(totals(&last), [1_000_000, 10_000, 10_000, 100]);
    assert_eq!(codes(&last).last().map(String::as_str), Some("C1000000"));
    assert_eq!(page(&sandbox, 10_001, 100).await["results"], json!([]));

    // A streamed page of 20,000 plus the two above: no identifier repeats.
    let middle = page(&sandbox, 25, 20_000).await;
    assert_eq!(codes(&middle).len(), 20_000);
    assert_eq!(codes(&middle)[0], "C0480001");
    let mut ids = HashSet::new();
    let mut numbers = HashSet::new();
    let mut bsns = HashSet::new();
    let mut customers = 0;
    for data in [&first, &middle, &last] {
        for customer in data["results"].as_array().expect("results") {
            customers += 1;
            assert!(ids.insert(customer["customerId"].as_u64().expect("id")));
            assert!(numbers.insert(customer["customerNumber"].as_u64().expect("number")));
            let branches = customer["bsns"].as_array().expect("bsns");
            let headquarters = branches
                .iter()
                .filter(|b| b["isHeadquarter"] == true)
                .count();
            assert_eq!(headquarters, 1);
            for branch in branches {
                assert!(bsns.insert(branch["customerBsn"].as_u64().expect("bsn")));
            }
        }
    }
    assert_eq!(customers, 20_200);
    assert!(numbers.iter().all(|&n| n > u64::from(u32::MAX)));
}

// The anomalies folder serves its 9 customers, files joined by name.
#[tokio::test]
async fn from_dir_anomalies() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/anomalies");
    let organization = Organization::from_dir(&dir).expect("the anomalies folder");
    assert_eq!(organization.len(), 9);
    let sandbox = start(SandboxConfig {
        organization,
        ..SandboxConfig::default()
    })
    .await;
    let data = page(&sandbox, 1, 100).await;
    assert_eq!(totals(&data), [9, 1, 1, 100]);
    assert_eq!(
        codes(&data),
        [
            "A00004", "A00005", "A00003", "A00006", "A00007", "A00008", "A00009", "A00001",
            "A00002"
        ]
    );
    // `"bsns": null` is served as it was recorded.
    assert_eq!(data["results"][1]["bsns"], Value::Null);
    assert_eq!(data["results"][0]["bsns"], json!([]));
}

// After shutdown the port refuses connections; the config hides its token.
#[tokio::test]
async fn shutdown_and_redacted_debug() {
    let config = SandboxConfig {
        token: Some("very-secret".to_owned()),
        ..SandboxConfig::default()
    };
    let debug = format!("{config:?}");
    assert!(
        debug.contains("[redacted]") && !debug.contains("very-secret"),
        "{debug}"
    );
    let sandbox = start(config).await;
    let url = sandbox.base_url();
    assert_eq!(
        reqwest::get(&url).await.expect("sent").status(),
        StatusCode::NOT_FOUND
    );
    sandbox.shutdown().await;
    assert!(reqwest::get(&url).await.is_err());
}
