//! The fault matrix: what the client does with each way a server can fail,
//! against the sandbox's fault injector and, where it cannot script the
//! fault, httpmock. Every test checks the value or the exact error, the
//! exact number of requests, and that no partial directory escapes.
#![cfg(feature = "sandbox")]

mod support;

use std::net::TcpListener;
use std::time::{Duration, Instant, SystemTime};

use futures::StreamExt;
use httpmock::Mock;
use httpmock::prelude::*;
use primo_connect::sandbox::{FaultPlan, FaultStep, RequestCounts, Sandbox, SandboxConfig};
use primo_connect::{
    ClientBuilder, ConnectClient, Credentials, CustomerDirectory, Environment, Error, PageSource,
    RetryPolicy, Step, TransportKind, WalkOptions,
};
use serde_json::{Value, json};

use support::{codes, fixture_json, nz, organization, walk_options};

/// The token every request carries; the sandbox accepts any.
const TOKEN: &str = "fault-test-token";

/// Retries with waits short enough for tests; `Retry-After` up to 5 s.
fn fast_retries() -> RetryPolicy {
    RetryPolicy::default()
        .with_waits(Duration::from_millis(5), Duration::from_millis(20))
        .with_max_retry_after(Duration::from_secs(5))
}

/// A client builder for `base_url` with a ready token and fast retries.
fn builder(base_url: &str, credentials: Credentials) -> ClientBuilder {
    let environment = Environment::custom(base_url).expect("a loopback base URL");
    ConnectClient::builder(environment, credentials).retry(fast_retries())
}

/// A client for `base_url` with a ready token, fast retries and `walk`.
fn client(base_url: &str, walk: WalkOptions) -> ConnectClient {
    builder(base_url, Credentials::token(TOKEN))
        .walk_options(walk)
        .build()
        .expect("the client builds")
}

/// A sandbox serving the builtin 23 customers with `faults`.
async fn sandbox(faults: FaultPlan) -> Sandbox {
    sandbox_with(SandboxConfig {
        faults,
        ..SandboxConfig::default()
    })
    .await
}

async fn sandbox_with(config: SandboxConfig) -> Sandbox {
    Sandbox::start(config).await.expect("the sandbox starts")
}

/// Request counts with no request to an unknown path.
fn counts(customers: u64, login: u64) -> RequestCounts {
    RequestCounts {
        total: customers + login,
        customers,
        login,
    }
}

/// The error of a walk that must fail; a directory, even a short one, is a
/// test failure.
fn expect_error(result: Result<CustomerDirectory, Error>) -> Error {
    match result {
        Ok(directory) => panic!("expected an error, got {} customers", directory.len()),
        Err(error) => error,
    }
}

/// The 23 customer codes of the builtin organization, in server order.
fn all_codes() -> Vec<String> {
    codes(&organization())
}

/// Walks the sandbox at 10 per page, one page at a time (pages of 10, 10
/// and 3), with `faults`; returns the result and the sandbox's counts.
async fn walk_sandbox(faults: FaultPlan) -> (Result<CustomerDirectory, Error>, RequestCounts) {
    let sandbox = sandbox(faults).await;
    let client = client(&sandbox.base_url(), walk_options(10, 1));
    let result = client.directory().await;
    (result, sandbox.requests())
}

/// Walks the sandbox in one page of 100 with `faults` on that page.
async fn walk_one_page(faults: FaultPlan) -> (Result<CustomerDirectory, Error>, RequestCounts) {
    let sandbox = sandbox(faults).await;
    let client = client(&sandbox.base_url(), walk_options(100, 1));
    let result = client.directory().await;
    (result, sandbox.requests())
}

/// Asserts a walk at 10 per page succeeded with all 23 customers after
/// `step` failed page 2 once: four requests, page 2 twice.
async fn assert_retried_once(step: FaultStep) {
    let (result, requests) = walk_sandbox(FaultPlan::new().customers(Some(2), [step])).await;

    let directory = result.expect("the retry succeeds");
    assert_eq!(codes(directory.customers()), all_codes());
    assert_eq!(requests, counts(4, 0));
}

/// `n` copies of `step`.
fn times(step: FaultStep, n: usize) -> Vec<FaultStep> {
    vec![step; n]
}

// --- statuses -------------------------------------------------------------

// Page 2 answers 503 twice, then normally: the directory is complete.
#[tokio::test]
async fn page_2_503_twice_then_ok_is_complete() {
    let faults = FaultPlan::new().customers(Some(2), times(FaultStep::Status(503), 2));

    let (result, requests) = walk_sandbox(faults).await;

    let directory = result.expect("the retries succeed");
    assert_eq!(directory.len(), 23);
    assert_eq!(codes(directory.customers()), all_codes());
    // Pages 1 and 3 once each; page 2 three times (only it has faults).
    assert_eq!(requests, counts(5, 0));
}

// A 500 on page 2 is retried.
#[tokio::test]
async fn status_500_is_retried() {
    assert_retried_once(FaultStep::Status(500)).await;
}

// A 502 from the load balancer, an HTML page, is retried.
#[tokio::test]
async fn html_502_is_retried() {
    assert_retried_once(FaultStep::Html(502)).await;
}

// A 504 on page 2 is retried.
#[tokio::test]
async fn status_504_is_retried() {
    assert_retried_once(FaultStep::Status(504)).await;
}

// A 408 on page 2 is retried.
#[tokio::test]
async fn status_408_is_retried() {
    assert_retried_once(FaultStep::Status(408)).await;
}

// 503 on every attempt is `Unavailable` after the 4 attempts of the policy.
#[tokio::test]
async fn status_503_every_time_is_unavailable_after_4_attempts() {
    let faults = FaultPlan::new().customers(Some(1), times(FaultStep::Status(503), 6));

    let (result, requests) = walk_one_page(faults).await;

    let error = expect_error(result);
    assert!(
        matches!(
            &error,
            Error::Unavailable { step: Step::Page(1), status: 503, attempts: 4, retry_after: None, content_type, excerpt }
                if content_type == "none" && excerpt.is_empty()
        ),
        "{error:?}"
    );
    assert_eq!(requests, counts(4, 0));
}

// An HTML 502 on every attempt names the status, `text/html` and the start
// of the page.
#[tokio::test]
async fn html_502_every_time_names_status_content_type_and_page() {
    let faults = FaultPlan::new().customers(Some(1), times(FaultStep::Html(502), 6));

    let (result, requests) = walk_one_page(faults).await;

    let error = expect_error(result);
    assert!(
        matches!(
            &error,
            Error::Unavailable { step: Step::Page(1), status: 502, attempts: 4, content_type, excerpt, .. }
                if content_type == "text/html" && excerpt.starts_with("<html>")
        ),
        "{error:?}"
    );
    let message = error.to_string();
    for part in [
        "page 1",
        "502",
        "text/html",
        "<html>",
        "502 Bad Gateway",
        "after 4 attempt(s)",
    ] {
        assert!(message.contains(part), "{part:?} missing from {message}");
    }
    assert_eq!(requests, counts(4, 0));
}

// --- rate limits ----------------------------------------------------------

// 429 with `Retry-After: 1`, then normal: the client waits the second and
// succeeds with the second request.
#[tokio::test]
async fn retry_after_seconds_is_waited() {
    let faults = FaultPlan::new().customers(
        Some(1),
        [FaultStep::RetryAfter {
            status: 429,
            value: "1".to_owned(),
        }],
    );
    let started = Instant::now();

    let (result, requests) = walk_one_page(faults).await;

    let elapsed = started.elapsed();
    assert_eq!(
        codes(result.expect("the retry succeeds").customers()),
        all_codes()
    );
    assert!(
        elapsed >= Duration::from_millis(900),
        "waited only {elapsed:?}"
    );
    assert_eq!(requests, counts(2, 0));
}

// 429 with `Retry-After` as an HTTP date 1 to 2 s ahead is waited too.
#[tokio::test]
async fn retry_after_http_date_is_waited() {
    // HTTP dates have whole seconds: two seconds on, cut down, is more
    // than one second away.
    let at = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(2));
    let faults = FaultPlan::new().customers(
        Some(1),
        [FaultStep::RetryAfter {
            status: 429,
            value: at,
        }],
    );
    let started = Instant::now();

    let (result, requests) = walk_one_page(faults).await;

    let elapsed = started.elapsed();
    assert_eq!(
        codes(result.expect("the retry succeeds").customers()),
        all_codes()
    );
    assert!(
        elapsed >= Duration::from_millis(900),
        "waited only {elapsed:?}"
    );
    assert_eq!(requests, counts(2, 0));
}

// 429 with `Retry-After: 120` over a 30 s cap ends at once with the
// server's hint, after one request.
#[tokio::test]
async fn retry_after_over_the_cap_stops_at_once() {
    let sandbox = sandbox(FaultPlan::new().customers(
        Some(1),
        times(
            FaultStep::RetryAfter {
                status: 429,
                value: "120".to_owned(),
            },
            4,
        ),
    ))
    .await;
    let client = builder(&sandbox.base_url(), Credentials::token(TOKEN))
        .retry(fast_retries().with_max_retry_after(Duration::from_secs(30)))
        .walk_options(walk_options(100, 1))
        .build()
        .expect("the client builds");
    let started = Instant::now();

    let error = expect_error(client.directory().await);

    // Far less than the 120 s asked for: it did not wait.
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        matches!(
            error,
            Error::RateLimited { step: Step::Page(1), retry_after: Some(wait), attempts: 1 }
                if wait == Duration::from_secs(120)
        ),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("the server asked to wait 120s"),
        "{error}"
    );
    assert_eq!(sandbox.requests(), counts(1, 0));
}

// 429 on every attempt, without `Retry-After`, is `RateLimited` after 4.
#[tokio::test]
async fn status_429_every_time_is_rate_limited_after_4_attempts() {
    let faults = FaultPlan::new().customers(Some(1), times(FaultStep::Status(429), 6));

    let (result, requests) = walk_one_page(faults).await;

    let error = expect_error(result);
    assert!(
        matches!(
            error,
            Error::RateLimited {
                step: Step::Page(1),
                retry_after: None,
                attempts: 4
            }
        ),
        "{error:?}"
    );
    assert_eq!(requests, counts(4, 0));
}

// --- transport ------------------------------------------------------------

// A body cut short of its `Content-Length` is retried, and the retry
// succeeds.
#[tokio::test]
async fn truncated_body_once_is_retried() {
    let faults = FaultPlan::new().customers(Some(1), [FaultStep::Truncated]);

    let (result, requests) = walk_one_page(faults).await;

    assert_eq!(
        codes(result.expect("the retry succeeds").customers()),
        all_codes()
    );
    assert_eq!(requests, counts(2, 0));
}

// A body cut short on every attempt is a body transport error after 4.
#[tokio::test]
async fn truncated_body_every_time_is_a_body_error() {
    let faults = FaultPlan::new().customers(Some(1), times(FaultStep::Truncated, 6));

    let (result, requests) = walk_one_page(faults).await;

    let error = expect_error(result);
    assert!(
        matches!(
            error,
            Error::Transport {
                step: Step::Page(1),
                kind: TransportKind::Body,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(requests, counts(4, 0));
}

// A base URL where nothing listens is a connect error after 4 attempts.
#[tokio::test]
async fn connection_refused_is_a_connect_error_after_4_attempts() {
    // A port that was free a moment ago and that nothing listens on now.
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener.local_addr().expect("an address").port()
    };
    let client = client(&format!("http://127.0.0.1:{port}"), walk_options(100, 1));

    let error = expect_error(client.directory().await);

    assert!(
        matches!(
            error,
            Error::Transport {
                step: Step::Page(1),
                kind: TransportKind::Connect,
                attempts: 4,
                ..
            }
        ),
        "{error:?}"
    );
}

// An answer slower than the request timeout is a timeout error after 4
// attempts.
#[tokio::test]
async fn slow_answer_is_a_timeout_error() {
    let faults =
        FaultPlan::new().customers(None, times(FaultStep::Delay(Duration::from_secs(2)), 6));
    let sandbox = sandbox(faults).await;
    let client = builder(&sandbox.base_url(), Credentials::token(TOKEN))
        .request_timeout(Duration::from_millis(200))
        .walk_options(walk_options(100, 1))
        .build()
        .expect("the client builds");

    let error = expect_error(client.directory().await);

    assert!(
        matches!(
            error,
            Error::Transport {
                step: Step::Page(1),
                kind: TransportKind::Timeout,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(sandbox.requests(), counts(4, 0));
}

// --- bodies ---------------------------------------------------------------

// A 200 carrying a proxy's HTML page is `NotJson`, and not retried.
#[tokio::test]
async fn html_200_is_not_json_and_not_retried() {
    let faults = FaultPlan::new().customers(Some(1), [FaultStep::Html(200)]);

    let (result, requests) = walk_one_page(faults).await;

    let error = expect_error(result);
    assert!(
        matches!(
            &error,
            Error::NotJson { step: Step::Page(1), status: 200, content_type, excerpt }
                if content_type.starts_with("text/html") && excerpt.starts_with("<html>")
        ),
        "{error:?}"
    );
    assert_eq!(requests, counts(1, 0));
}

// Gzip-encoded pages decode to the same customers.
#[tokio::test]
async fn gzip_bodies_decode() {
    let faults = FaultPlan::new().customers(None, times(FaultStep::Gzip, 3));

    let (result, requests) = walk_sandbox(faults).await;

    assert_eq!(
        codes(result.expect("gzip decodes").customers()),
        all_codes()
    );
    assert_eq!(requests, counts(3, 0));
}

// --- the consistency of the walk (httpmock) --------------------------------

/// A recorded page of size 10, as JSON to edit.
fn recorded(page: u64) -> Value {
    fixture_json(&format!("organization/page-size-10/page-{page}.json"))
}

/// A mock answering `GET /v1/customers` for exactly this page and size, at
/// most `times` times when given.
async fn page_mock<'a>(
    server: &'a MockServer,
    page: u64,
    per_page: u32,
    body: &Value,
    times: Option<usize>,
) -> Mock<'a> {
    let query = format!("currentPage={page}&resultsPerPage={per_page}");
    let body = body.to_string();
    server
        .mock_async(move |when, then| {
            when.method(GET)
                .path("/v1/customers")
                .is_true(move |request| request.uri().query() == Some(query.as_str()))
                .header("authorization", format!("Bearer {TOKEN}"));
            let then = then
                .status(200)
                .header("content-type", "application/json; charset=utf-8")
                .body(body);
            if let Some(times) = times {
                then.up_to_n_times(times);
            }
        })
        .await
}

/// Serves the recorded pages of size 10, with `page_two` answered first
/// to page 2 (`times` times, or always) before the recorded one.
async fn serve_pages<'a>(
    server: &'a MockServer,
    page_two: &Value,
    times: Option<usize>,
) -> [Mock<'a>; 4] {
    [
        page_mock(server, 1, 10, &recorded(1), None).await,
        page_mock(server, 2, 10, page_two, times).await,
        page_mock(server, 2, 10, &recorded(2), None).await,
        page_mock(server, 3, 10, &recorded(3), None).await,
    ]
}

/// Asserts how often each mock was called.
async fn assert_calls(mocks: &[Mock<'_>], expected: &[usize]) {
    for (n, (mock, expected)) in mocks.iter().zip(expected).enumerate() {
        assert_eq!(mock.calls_async().await, *expected, "calls of mock {n}");
    }
}

/// The recorded page 2 with `edit` applied.
fn edited_page_two(edit: impl FnOnce(&mut Value)) -> Value {
    let mut page = recorded(2);
    edit(&mut page);
    page
}

/// Page 2 with a `totalResults` of 24.
fn page_two_with_24_results() -> Value {
    edited_page_two(|page| page["data"]["totalResults"] = json!(24))
}

// totalResults changes between page 1 and 2 on the first walk only: one
// restart, and the directory is complete.
#[tokio::test]
async fn total_results_moving_once_restarts_once() {
    let server = MockServer::start_async().await;
    let mocks = serve_pages(&server, &page_two_with_24_results(), Some(1)).await;
    let client = client(&server.base_url(), walk_options(10, 1));

    let directory = client.directory().await.expect("the second walk succeeds");

    assert_eq!(codes(directory.customers()), all_codes());
    // Page 1 twice, the moved page 2 once, then the recorded page 2 and 3.
    assert_calls(&mocks, &[2, 1, 1, 1]).await;
}

// totalResults changes on every walk: `DataMoved` after the one restart,
// saying what moved.
#[tokio::test]
async fn total_results_moving_every_walk_is_data_moved() {
    let server = MockServer::start_async().await;
    let mocks = serve_pages(&server, &page_two_with_24_results(), None).await;
    let client = client(&server.base_url(), walk_options(10, 1));

    let error = expect_error(client.directory().await);

    assert!(
        matches!(&error, Error::DataMoved { what, restarted: true }
            if what == "totalResults went from 23 to 24 on page 2"),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("changed while it was read, twice"),
        "{error}"
    );
    assert_calls(&mocks, &[2, 2, 0, 0]).await;
}

// A customerId of page 1 seen again on page 2 is `DataMoved`.
#[tokio::test]
async fn customer_id_seen_again_is_data_moved() {
    let repeated = recorded(1)["data"]["results"][0]["customerId"].clone();
    let page_two = edited_page_two(|page| page["data"]["results"][3]["customerId"] = repeated);
    let server = MockServer::start_async().await;
    let mocks = serve_pages(&server, &page_two, None).await;
    let client = client(&server.base_url(), walk_options(10, 1));

    let error = expect_error(client.directory().await);

    assert!(
        matches!(&error, Error::DataMoved { what, restarted: true }
            if what == "customerId 412381 appeared again on page 2"),
        "{error:?}"
    );
    assert_calls(&mocks, &[2, 2, 0, 0]).await;
}

// A page before the last holding fewer customers than page 1 is
// `DataMoved`.
#[tokio::test]
async fn short_page_before_the_last_is_data_moved() {
    let page_two = edited_page_two(|page| {
        page["data"]["results"]
            .as_array_mut()
            .expect("results")
            .pop();
    });
    let server = MockServer::start_async().await;
    let mocks = serve_pages(&server, &page_two, None).await;
    let client = client(&server.base_url(), walk_options(10, 1));

    let error = expect_error(client.directory().await);

    assert!(
        matches!(&error, Error::DataMoved { what, restarted: true }
            if what == "page 2 holds 9 customers where page 1 held 10, and it is not the last page"),
        "{error:?}"
    );
    assert_calls(&mocks, &[2, 2, 0, 0]).await;
}

// Page 2 echoing currentPage 1 is `ServerMisbehaved` at once: no restart.
#[tokio::test]
async fn echoed_page_1_for_page_2_misbehaves_at_once() {
    let page_two = edited_page_two(|page| page["data"]["currentPage"] = json!(1));
    let server = MockServer::start_async().await;
    let mocks = serve_pages(&server, &page_two, None).await;
    let client = client(&server.base_url(), walk_options(10, 1));

    let error = expect_error(client.directory().await);

    assert!(
        matches!(&error, Error::ServerMisbehaved { step: Step::Page(2), what }
            if what == "it answered currentPage 1 when asked for page 2"),
        "{error:?}"
    );
    assert_calls(&mocks, &[1, 1, 0, 0]).await;
}

// 11 customers on a page when 10 were asked for is `ServerMisbehaved`.
#[tokio::test]
async fn eleven_customers_for_ten_misbehaves() {
    let page_two = edited_page_two(|page| {
        let results = page["data"]["results"].as_array_mut().expect("results");
        let mut extra = results[0].clone();
        extra["customerId"] = json!(999_999);
        results.push(extra);
    });
    let server = MockServer::start_async().await;
    let mocks = serve_pages(&server, &page_two, None).await;
    let client = client(&server.base_url(), walk_options(10, 1));

    let error = expect_error(client.directory().await);

    assert!(
        matches!(&error, Error::ServerMisbehaved { step: Step::Page(2), what }
            if what == "it sent 11 customers when asked for at most 10"),
        "{error:?}"
    );
    assert_calls(&mocks, &[1, 1, 0, 0]).await;
}

// A server that silently caps 10 per page at 5, with totalPages computed
// from 5, is followed: every customer once, each page asked for once.
#[tokio::test]
async fn silent_page_size_cap_is_followed() {
    let all: Vec<Value> = fixture_json("organization/page-size-23/page-1.json")["data"]["results"]
        .as_array()
        .expect("results")
        .clone();
    let server = MockServer::start_async().await;
    let mut mocks = Vec::new();
    for (n, chunk) in all.chunks(5).enumerate() {
        let page = json!({
            "data": {
                "totalResults": 23,
                "currentPage": n + 1,
                "totalPages": 5,
                "resultsPerPage": 5,
                "results": chunk,
            },
            "errors": null,
        });
        mocks.push(page_mock(&server, n as u64 + 1, 10, &page, None).await);
    }
    let client = client(&server.base_url(), walk_options(10, 1));

    let directory = client.directory().await.expect("the capped walk succeeds");

    assert_eq!(codes(directory.customers()), all_codes());
    assert_calls(&mocks, &[1, 1, 1, 1, 1]).await;
}

// The streaming walk, with the data moving after page 1, yields page 1's
// customers and then ends with `DataMoved`, without a restart.
#[tokio::test]
async fn streaming_walk_ends_with_data_moved_without_restart() {
    let server = MockServer::start_async().await;
    let mocks = serve_pages(&server, &page_two_with_24_results(), None).await;
    let client = client(&server.base_url(), walk_options(10, 1));

    let items: Vec<Result<_, Error>> = client.customers().collect().await;

    let (last, yielded) = items.split_last().expect("at least the error");
    let yielded: Vec<String> = yielded
        .iter()
        .map(|item| {
            item.as_ref()
                .expect("customers before the error")
                .customer_code
                .clone()
        })
        .collect();
    assert_eq!(yielded, all_codes()[..10]);
    assert!(
        matches!(last, Err(Error::DataMoved { what, restarted: false })
            if what == "totalResults went from 23 to 24 on page 2"),
        "{last:?}"
    );
    assert_calls(&mocks, &[1, 1, 0, 0]).await;
}

// --- concurrency and deadlines --------------------------------------------

// Eight pages of one in flight at a time over 23 pages: the customers come
// out in server order, and client credentials cost one login.
#[tokio::test]
async fn concurrent_walk_keeps_order_and_logs_in_once() {
    let sandbox = sandbox(FaultPlan::new()).await;
    let client = builder(
        &sandbox.base_url(),
        Credentials::client("fault-client", "fault-secret"),
    )
    .walk_options(walk_options(1, 8))
    .build()
    .expect("the client builds");

    let directory = client.directory().await.expect("the walk succeeds");

    assert_eq!(codes(directory.customers()), all_codes());
    assert_eq!(sandbox.requests(), counts(23, 1));
}

// A 429 with `Retry-After: 1` on page 5 of a concurrent walk: the walk
// waits it out, and only page 5 is asked for twice.
#[tokio::test]
async fn retry_after_in_a_concurrent_walk_is_waited() {
    let faults = FaultPlan::new().customers(
        Some(5),
        [FaultStep::RetryAfter {
            status: 429,
            value: "1".to_owned(),
        }],
    );
    let sandbox = sandbox(faults).await;
    let client = builder(
        &sandbox.base_url(),
        Credentials::client("fault-client", "fault-secret"),
    )
    .walk_options(walk_options(1, 8))
    .build()
    .expect("the client builds");
    let started = Instant::now();

    let directory = client.directory().await.expect("the walk succeeds");

    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900),
        "waited only {elapsed:?}"
    );
    assert_eq!(codes(directory.customers()), all_codes());
    // Every page once, page 5 (the only one with a fault) twice.
    assert_eq!(sandbox.requests(), counts(24, 1));
}

// A request issued while another's `Retry-After` pause runs waits for the
// pause to end before it is sent.
#[tokio::test]
async fn retry_after_pause_holds_back_other_requests() {
    let faults = FaultPlan::new().customers(
        Some(5),
        [FaultStep::RetryAfter {
            status: 429,
            value: "1".to_owned(),
        }],
    );
    let sandbox = sandbox(faults).await;
    let client = client(&sandbox.base_url(), walk_options(1, 8));
    let started = Instant::now();

    // Page 6 is asked for 200 ms after page 5 got its 429.
    let (five, six) = tokio::join!(client.fetch_page(5, nz(1)), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let page = client.fetch_page(6, nz(1)).await;
        (page, started.elapsed())
    });

    let (six, six_done) = six;
    assert_eq!(five.expect("page 5 after the pause").number, 5);
    assert_eq!(six.expect("page 6 after the pause").number, 6);
    assert!(
        six_done >= Duration::from_millis(900),
        "page 6 came after {six_done:?}"
    );
    assert_eq!(sandbox.requests(), counts(3, 0));
}

// A walk over three pages of 200 ms each with a 300 ms deadline fails with
// `DeadlineExceeded` while page 2 is on its way.
#[tokio::test]
async fn walk_deadline_is_exceeded() {
    let sandbox = sandbox_with(SandboxConfig {
        latency: Duration::from_millis(200),
        ..SandboxConfig::default()
    })
    .await;
    let deadline = Duration::from_millis(300);
    let client = client(
        &sandbox.base_url(),
        WalkOptions {
            deadline: Some(deadline),
            ..walk_options(10, 1)
        },
    );

    let error = expect_error(client.directory().await);

    assert!(
        matches!(error, Error::DeadlineExceeded { deadline: d } if d == deadline),
        "{error:?}"
    );
    // Pages 1 and 2 arrived at the server (counted before the latency).
    assert_eq!(sandbox.requests().total, 2);
}

// --- lenient decoding over the wire ---------------------------------------

/// A customer with `created` set to `created`, an unknown field, and `bsns`.
fn customer(id: i64, created: &str, bsns: &Value) -> Value {
    json!({
        "customerId": id,
        "organizationName": "PRIMO",
        "customerName": format!("Customer {id}"),
        "customerCode": format!("T{id:05}"),
        "customerNumber": 1_000_000 + id,
        "isActive": true,
        "created": created,
        "createdBy": "import",
        "organizationNumber": 1,
        "loyaltyTier": {"unknown": "to the spec"},
        "bsns": bsns,
    })
}

/// One page holding all of `results`, with `totalResults` as given.
fn single_page(total: u64, results: &Value) -> Value {
    json!({
        "data": {
            "totalResults": total,
            "currentPage": 1,
            "totalPages": 1,
            "resultsPerPage": 10,
            "nextPageToken": "ignored",
            "results": results,
        },
        "errors": null,
        "traceId": "00-4bf92f3577b34da6-00",
    })
}

// Timestamps with 1 and 9 fractional digits, `Z`, `+05:30`, no offset and
// .NET's minimum decode; `bsns: null` is no branch; unknown fields are
// ignored.
#[tokio::test]
async fn lenient_timestamps_and_unknown_fields_decode() {
    let headquarter = json!([{
        "customerBsn": 77,
        "bsnName": "HQ",
        "isHeadquarter": true,
        "dockDoors": 12,
    }]);
    let page = single_page(
        4,
        &json!([
            customer(1, "2026-05-04T15:59:10.3Z", &headquarter),
            customer(2, "2026-05-04T15:59:10.123456789+05:30", &headquarter),
            customer(3, "2026-05-04T15:59:10", &headquarter),
            customer(4, "0001-01-01T00:00:00", &Value::Null),
        ]),
    );
    let server = MockServer::start_async().await;
    let mock = page_mock(&server, 1, 10, &page, None).await;
    let client = client(&server.base_url(), walk_options(10, 1));

    let directory = client.directory().await.expect("lenient values decode");

    let instants: Vec<Option<String>> = directory
        .customers()
        .iter()
        .map(|c| {
            let created = c.created.as_ref().expect("created is present");
            created.instant().map(|t| t.to_rfc3339())
        })
        .collect();
    assert_eq!(
        instants,
        [
            Some("2026-05-04T15:59:10.300+00:00".to_owned()),
            Some("2026-05-04T10:29:10.123456789+00:00".to_owned()),
            Some("2026-05-04T15:59:10+00:00".to_owned()),
            None,
        ]
    );
    let customers = directory.customers();
    assert_eq!(
        customers[3].created.as_ref().map(|c| c.as_str()),
        Some("0001-01-01T00:00:00")
    );
    assert_eq!(customers[0].bsns.as_ref().map(Vec::len), Some(1));
    assert!(customers[3].bsns.is_none());
    mock.assert_calls_async(1).await;
}

// `results: null` with no customers is an empty directory.
#[tokio::test]
async fn null_results_are_an_empty_directory() {
    let mut page = single_page(0, &Value::Null);
    page["data"]["totalPages"] = json!(0);
    let server = MockServer::start_async().await;
    let mock = page_mock(&server, 1, 10, &page, None).await;
    let client = client(&server.base_url(), walk_options(10, 1));

    let directory = client.directory().await.expect("null results decode");

    assert!(directory.is_empty());
    mock.assert_calls_async(1).await;
}

// --- before any request ---------------------------------------------------

// Credentials over plain http to a host that is not loopback are refused
// by `build()`, before any request.
#[test]
fn credentials_over_plain_http_are_refused_by_build() {
    for credentials in [
        Credentials::token(TOKEN),
        Credentials::client("id", "secret"),
    ] {
        let environment = Environment::custom("http://10.9.8.7").expect("a valid URL");

        let result = ConnectClient::builder(environment, credentials).build();

        let Err(error) = result else {
            panic!("plain http to 10.9.8.7 must be refused")
        };
        assert!(
            matches!(&error, Error::InsecureTransport { url } if url == "http://10.9.8.7/"),
            "{error:?}"
        );
    }
}
