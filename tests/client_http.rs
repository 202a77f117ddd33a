//! The client on the wire against httpmock: requests, login, 401 handling,
//! a multi-page walk, bad answers, and secrets kept out of messages.

mod support;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use httpmock::prelude::*;
use httpmock::{HttpMockResponse, Mock};
use primo_connect::{
    ConnectClient, Credentials, Environment, Error, PageSource, Step, WalkOptions,
};
use serde_json::{Value, json};

use support::{
    assert_debug_hides, assert_no_secrets, client, codes, fixture, fixture_json, nz, walk_options,
};

const CLIENT_ID: &str = "client-id-7f3a";
const SECRET: &str = "secret-9c41e2d8";
const TOKEN: &str = "sandbox-token-0001";
const RENEWED_TOKEN: &str = "renewed-token-0002";
const READY_TOKEN: &str = "ready-token-55aa";

/// Every string that must never appear in a message.
const SECRETS: [&str; 4] = [SECRET, TOKEN, RENEWED_TOKEN, READY_TOKEN];

fn client_credentials() -> Credentials {
    Credentials::client(CLIENT_ID, SECRET)
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// The exact query string of a page request.
fn page_query(page: u64, per_page: u32) -> String {
    format!("currentPage={page}&resultsPerPage={per_page}")
}

/// A mock answering `POST /v1/auth/login` with the client credentials and
/// this token, at most `times` times when given.
async fn login_mock<'a>(server: &'a MockServer, token: &str, times: Option<usize>) -> Mock<'a> {
    let body = json!({"data": {"token": token}, "errors": null});
    server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/v1/auth/login")
                .header("content-type", "application/json")
                .header_missing("api-version")
                .json_body(json!({"clientid": CLIENT_ID, "secret": SECRET}));
            let then = then
                .status(200)
                .header("content-type", "application/json")
                .json_body(body);
            if let Some(times) = times {
                then.up_to_n_times(times);
            }
        })
        .await
}

/// A mock answering one exact page request with this token.
async fn page_mock<'a>(
    server: &'a MockServer,
    token: &str,
    page: u64,
    per_page: u32,
    status: u16,
    body: &str,
) -> Mock<'a> {
    let query = page_query(page, per_page);
    let authorization = bearer(token);
    let body = body.to_owned();
    server
        .mock_async(move |when, then| {
            when.method(GET)
                .path("/v1/customers")
                .is_true(move |request| request.uri().query() == Some(query.as_str()))
                .header("authorization", authorization);
            let then = then.status(status);
            if !body.is_empty() {
                then.header("content-type", "application/json; charset=utf-8")
                    .body(body);
            }
        })
        .await
}

/// The three recorded pages of size 10, served at `resultsPerPage=10`, with
/// page 2 replaced by `page_two` when given.
async fn recorded_pages<'a>(server: &'a MockServer, page_two: Option<&str>) -> [Mock<'a>; 3] {
    let one = fixture("organization/page-size-10/page-1.json");
    let two = page_two.map_or_else(
        || fixture("organization/page-size-10/page-2.json"),
        str::to_owned,
    );
    let three = fixture("organization/page-size-10/page-3.json");
    [
        page_mock(server, TOKEN, 1, 10, 200, &one).await,
        page_mock(server, TOKEN, 2, 10, 200, &two).await,
        page_mock(server, TOKEN, 3, 10, 200, &three).await,
    ]
}

/// Walks the recorded pages of size 10 one at a time, with page 2 replaced
/// by `page_two`, and returns the error; page 1 and 2 are asked once, page
/// 3 never.
async fn walk_with_bad_page_two(page_two: &str) -> Error {
    let server = MockServer::start_async().await;
    let pages = recorded_pages(&server, Some(page_two)).await;
    let client = client(
        &server.base_url(),
        Credentials::token(TOKEN),
        walk_options(10, 1),
    );

    let result = client.directory().await;

    let Err(error) = result else {
        panic!("a bad page 2 must fail the walk")
    };
    pages[0].assert_calls_async(1).await;
    pages[1].assert_calls_async(1).await;
    pages[2].assert_calls_async(0).await;
    assert_no_secrets(&error, &SECRETS);
    error
}

/// The recorded page 2 with `edit` applied to its JSON.
fn edited_page_two(edit: impl FnOnce(&mut Value)) -> String {
    let mut page = fixture_json("organization/page-size-10/page-2.json");
    edit(&mut page);
    serde_json::to_string(&page).expect("serializes")
}

// One page request carries the documented query, the bearer token, our user
// agent, and no `api-version` or other application header.
#[tokio::test]
async fn page_request_is_exactly_the_documented_one() {
    let server = MockServer::start_async().await;
    let seen_headers: Arc<Mutex<Vec<BTreeSet<String>>>> = Arc::default();
    let body = fixture("documented-example.json");

    let recorder = seen_headers.clone();
    let documented = server
        .mock_async(move |when, then| {
            when.method(GET)
                .path("/v1/customers")
                .is_true(|request| request.uri().query() == Some("currentPage=1&resultsPerPage=7"))
                .header("authorization", bearer(READY_TOKEN))
                .header_prefix("user-agent", "primo-connect/")
                .header("accept", "application/json")
                .header_missing("api-version");
            then.respond_with(move |request| {
                let names = request
                    .headers_vec()
                    .iter()
                    .map(|(name, _)| name.to_ascii_lowercase());
                recorder.lock().expect("not poisoned").push(names.collect());
                HttpMockResponse::builder()
                    .status(200)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .build()
            });
        })
        .await;
    let with_api_version = server
        .mock_async(|when, then| {
            when.path("/v1/customers").header_exists("api-version");
            then.status(500);
        })
        .await;
    let client = client(
        &server.base_url(),
        Credentials::token(READY_TOKEN),
        WalkOptions::default(),
    );

    let page = client.fetch_page(1, nz(7)).await.expect("the page arrives");

    documented.assert_calls_async(1).await;
    with_api_version.assert_calls_async(0).await;
    let expected: BTreeSet<String> = [
        "accept",
        "accept-encoding",
        "authorization",
        "host",
        "user-agent",
    ]
    .map(str::to_owned)
    .into();
    assert_eq!(*seen_headers.lock().expect("not poisoned"), vec![expected]);
    assert_eq!(
        (
            page.number,
            page.echoed_page,
            page.total_results,
            page.total_pages
        ),
        (1, 1, 23, 1)
    );
    assert_eq!(codes(&page.customers), ["C00001"]);
}

// Client credentials are exchanged once for a token, which the pages then
// carry; concurrent walks and fetches on clones of one client share that one
// login.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_share_one_login() {
    let server = MockServer::start_async().await;
    let login = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/v1/auth/login")
                .header("content-type", "application/json")
                .json_body(json!({"clientid": CLIENT_ID, "secret": SECRET}));
            then.status(200)
                .header("content-type", "application/json")
                .body(fixture("auth/login.json"))
                // Slow enough that every request below waits for it.
                .delay(Duration::from_millis(200));
        })
        .await;
    let page = page_mock(
        &server,
        TOKEN,
        1,
        23,
        200,
        &fixture("organization/page-size-23/page-1.json"),
    )
    .await;
    let client = client(
        &server.base_url(),
        client_credentials(),
        walk_options(23, 4),
    );

    let mut tasks = Vec::new();
    for n in 0..6 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            if n % 2 == 0 {
                client.directory().await.map(|directory| directory.len())
            } else {
                client
                    .fetch_page(1, nz(23))
                    .await
                    .map(|page| page.customers.len())
            }
        }));
    }
    for task in tasks {
        assert_eq!(
            task.await
                .expect("the task ends")
                .expect("the request succeeds"),
            23
        );
    }

    login.assert_calls_async(1).await;
    page.assert_calls_async(6).await;
}

// A token refused with 401 is renewed by one fresh login and the request is
// repeated once with the new token.
#[tokio::test]
async fn a_refused_token_is_renewed_once() {
    let server = MockServer::start_async().await;
    let first_login = login_mock(&server, TOKEN, Some(1)).await;
    let second_login = login_mock(&server, RENEWED_TOKEN, None).await;
    let old = page_mock(&server, TOKEN, 1, 23, 401, "").await;
    let new = page_mock(
        &server,
        RENEWED_TOKEN,
        1,
        23,
        200,
        &fixture("organization/page-size-23/page-1.json"),
    )
    .await;
    let client = client(
        &server.base_url(),
        client_credentials(),
        walk_options(23, 1),
    );

    let directory = client.directory().await.expect("the renewed token works");

    assert_eq!(directory.len(), 23);
    first_login.assert_calls_async(1).await;
    second_login.assert_calls_async(1).await;
    old.assert_calls_async(1).await;
    new.assert_calls_async(1).await;
}

// Concurrent requests refused with the same token share one renewal, and
// each is repeated once with the new token.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_401s_share_one_renewal() {
    let server = MockServer::start_async().await;
    let first_login = login_mock(&server, TOKEN, Some(1)).await;
    let second_login = login_mock(&server, RENEWED_TOKEN, None).await;
    let old = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/v1/customers")
                .header("authorization", bearer(TOKEN));
            // Slow enough that every request is refused before any renews.
            then.status(401).delay(Duration::from_millis(200));
        })
        .await;
    let new = page_mock(
        &server,
        RENEWED_TOKEN,
        1,
        23,
        200,
        &fixture("organization/page-size-23/page-1.json"),
    )
    .await;
    let client = client(
        &server.base_url(),
        client_credentials(),
        walk_options(23, 1),
    );

    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .fetch_page(1, nz(23))
                    .await
                    .map(|page| page.customers.len())
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(
            task.await
                .expect("the task ends")
                .expect("the renewed token works"),
            23
        );
    }

    first_login.assert_calls_async(1).await;
    second_login.assert_calls_async(1).await;
    old.assert_calls_async(4).await;
    new.assert_calls_async(4).await;
}

// A 401 for the renewed token too is final: no second renewal, no loop.
#[tokio::test]
async fn a_second_401_after_renewal_is_unauthenticated() {
    let server = MockServer::start_async().await;
    let first_login = login_mock(&server, TOKEN, Some(1)).await;
    let second_login = login_mock(&server, RENEWED_TOKEN, None).await;
    let old = page_mock(&server, TOKEN, 1, 23, 401, "").await;
    let new = page_mock(&server, RENEWED_TOKEN, 1, 23, 401, "").await;
    let client = client(
        &server.base_url(),
        client_credentials(),
        walk_options(23, 1),
    );

    let error = client
        .directory()
        .await
        .expect_err("the renewed token is refused too");

    assert!(
        matches!(
            error,
            Error::Unauthenticated {
                step: Step::Page(1)
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.status(), Some(401));
    first_login.assert_calls_async(1).await;
    second_login.assert_calls_async(1).await;
    old.assert_calls_async(1).await;
    new.assert_calls_async(1).await;
    assert_no_secrets(&error, &SECRETS);
}

// A ready token refused with 401 is final after exactly one request: there is
// nothing to log in with.
#[tokio::test]
async fn a_refused_ready_token_is_unauthenticated_at_once() {
    let server = MockServer::start_async().await;
    let login = login_mock(&server, TOKEN, None).await;
    let page = page_mock(&server, READY_TOKEN, 1, 23, 401, "").await;
    let client = client(
        &server.base_url(),
        Credentials::token(READY_TOKEN),
        walk_options(23, 1),
    );

    let error = client.directory().await.expect_err("the token is refused");

    assert!(
        matches!(
            error,
            Error::Unauthenticated {
                step: Step::Page(1)
            }
        ),
        "{error:?}"
    );
    login.assert_calls_async(0).await;
    page.assert_calls_async(1).await;
    assert_no_secrets(&error, &SECRETS);
}

// A 403 is `Forbidden`, not `Unauthenticated`, and does not trigger a new
// login.
#[tokio::test]
async fn forbidden_is_distinct_from_unauthenticated() {
    let server = MockServer::start_async().await;
    let login = login_mock(&server, TOKEN, None).await;
    let page = page_mock(&server, TOKEN, 1, 23, 403, "").await;
    let client = client(
        &server.base_url(),
        client_credentials(),
        walk_options(23, 1),
    );

    let error = client
        .directory()
        .await
        .expect_err("the token may not read customers");

    assert!(
        matches!(
            error,
            Error::Forbidden {
                step: Step::Page(1)
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.status(), Some(403));
    login.assert_calls_async(1).await;
    page.assert_calls_async(1).await;
    assert_no_secrets(&error, &SECRETS);
}

// A login answered with 401 is `LoginRefused`, and no page is asked for.
#[tokio::test]
async fn a_refused_login_is_login_refused() {
    let server = MockServer::start_async().await;
    let login = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/v1/auth/login")
                .json_body(json!({"clientid": CLIENT_ID, "secret": SECRET}));
            then.status(401);
        })
        .await;
    let pages = server
        .mock_async(|when, then| {
            when.path("/v1/customers");
            then.status(500);
        })
        .await;
    let client = client(
        &server.base_url(),
        client_credentials(),
        walk_options(23, 1),
    );

    let error = client.directory().await.expect_err("the login is refused");

    assert!(
        matches!(error, Error::LoginRefused { status: 401 }),
        "{error:?}"
    );
    assert_eq!(error.step(), Some(Step::Login));
    login.assert_calls_async(1).await;
    pages.assert_calls_async(0).await;
    assert_no_secrets(&error, &SECRETS);
}

// The three recorded pages of size 10 give the 23 customers in fixture
// order, each page asked for once.
#[tokio::test]
async fn a_walk_over_the_recorded_pages_gives_every_customer_in_order() {
    let server = MockServer::start_async().await;
    let pages = recorded_pages(&server, None).await;
    let client = client(
        &server.base_url(),
        Credentials::token(TOKEN),
        walk_options(10, 1),
    );

    let directory = client.directory().await.expect("the walk succeeds");

    let expected: Vec<String> = (1..=23).map(|n| format!("C{n:05}")).collect();
    assert_eq!(codes(directory.customers()), expected);
    for page in &pages {
        page.assert_calls_async(1).await;
    }
}

// A page 2 that is not valid JSON fails the walk with a decode error naming
// page 2 and where the JSON stopped.
#[tokio::test]
async fn invalid_json_names_the_page_and_path() {
    let error = walk_with_bad_page_two(r#"{"data": {"totalResults": 23, "currentPage": 2, "#).await;

    let Error::Decode {
        step,
        path,
        message,
    } = &error
    else {
        panic!("{error:?}")
    };
    assert_eq!(*step, Step::Page(2));
    // The text broke inside `data`, before its next key.
    assert_eq!(path, "data");
    assert!(
        message.starts_with("invalid JSON: EOF while parsing"),
        "{message}"
    );
    assert!(
        error
            .to_string()
            .starts_with("page 2: data: invalid JSON: EOF while parsing"),
        "{error}"
    );
}

// A customer without its required `customerNumber` fails with the path of
// that customer and the name of the field.
#[tokio::test]
async fn a_missing_field_names_the_customer_and_field() {
    let body = edited_page_two(|page| {
        page["data"]["results"][3]
            .as_object_mut()
            .expect("a customer")
            .remove("customerNumber");
    });

    let error = walk_with_bad_page_two(&body).await;

    let Error::Decode {
        step,
        path,
        message,
    } = &error
    else {
        panic!("{error:?}")
    };
    assert_eq!(*step, Step::Page(2));
    assert_eq!(path, "data.results[3]");
    assert!(
        message.starts_with("missing field `customerNumber`"),
        "{message}"
    );
}

// A `customerBsn` of the wrong type fails with the exact path of the value.
#[tokio::test]
async fn a_wrong_type_names_the_exact_path() {
    let body = edited_page_two(|page| {
        page["data"]["results"][0]["bsns"][0]["customerBsn"] = json!("abc");
    });

    let error = walk_with_bad_page_two(&body).await;

    let Error::Decode {
        step,
        path,
        message,
    } = &error
    else {
        panic!("{error:?}")
    };
    assert_eq!(*step, Step::Page(2));
    assert_eq!(path, "data.results[0].bsns[0].customerBsn");
    assert!(
        message.contains("invalid type: string \"abc\""),
        "{message}"
    );
}

// A 200 whose `errors` is not empty is `ApiErrors`, and its message shows
// every entry.
#[tokio::test]
async fn a_200_with_errors_is_api_errors() {
    let entries = json!(["Organization is locked", {"code": "E42", "message": "try later"}]);
    let body = edited_page_two(|page| page["errors"] = entries.clone());

    let error = walk_with_bad_page_two(&body).await;

    let Error::ApiErrors { step, errors } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(*step, Step::Page(2));
    assert_eq!(Value::from(errors.clone()), entries);
    assert_eq!(
        error.to_string(),
        r#"page 2: the server reported errors: Organization is locked; {"code":"E42","message":"try later"}"#
    );
}

// A 200 with `data: null` and no errors is `MissingData`.
#[tokio::test]
async fn a_200_without_data_is_missing_data() {
    let error = walk_with_bad_page_two(r#"{"data": null, "errors": null}"#).await;

    assert!(
        matches!(
            error,
            Error::MissingData {
                step: Step::Page(2)
            }
        ),
        "{error:?}"
    );
}

// `errors: null`, `errors: []` and no `errors` key all mean success.
#[tokio::test]
async fn empty_errors_in_any_form_succeed() {
    for (form, edit) in [
        ("null", Some(Value::Null)),
        ("[]", Some(json!([]))),
        ("absent", None),
    ] {
        let server = MockServer::start_async().await;
        let mut page = fixture_json("organization/page-size-23/page-1.json");
        match edit {
            Some(errors) => page["errors"] = errors,
            None => {
                page.as_object_mut().expect("an envelope").remove("errors");
            }
        }
        let body = serde_json::to_string(&page).expect("serializes");
        let mock = page_mock(&server, TOKEN, 1, 23, 200, &body).await;
        let client = client(
            &server.base_url(),
            Credentials::token(TOKEN),
            walk_options(23, 1),
        );

        let directory = client
            .directory()
            .await
            .unwrap_or_else(|e| panic!("errors {form}: {e}"));

        assert_eq!(directory.len(), 23, "errors {form}");
        mock.assert_calls_async(1).await;
    }
}

// Neither the client's nor the credentials' `Debug` shows the secret, the
// client id or a token, before or after a login.
#[tokio::test]
async fn debug_output_hides_secrets() {
    let server = MockServer::start_async().await;
    let login = login_mock(&server, TOKEN, None).await;
    let page = page_mock(
        &server,
        TOKEN,
        1,
        23,
        200,
        &fixture("organization/page-size-23/page-1.json"),
    )
    .await;
    let with_client_credentials = client(
        &server.base_url(),
        client_credentials(),
        walk_options(23, 1),
    );
    let with_token = client(
        &server.base_url(),
        Credentials::token(READY_TOKEN),
        walk_options(23, 1),
    );

    assert_debug_hides(&client_credentials(), &[CLIENT_ID, SECRET]);
    assert_debug_hides(&Credentials::token(READY_TOKEN), &[READY_TOKEN]);
    assert_debug_hides(&with_client_credentials, &[CLIENT_ID, SECRET]);
    assert_debug_hides(&with_token, &[READY_TOKEN]);
    let environment = Environment::custom(&server.base_url()).expect("a loopback URL");
    assert_debug_hides(
        &ConnectClient::builder(environment, client_credentials()),
        &[CLIENT_ID, SECRET],
    );

    // After a login the client holds the token: still hidden.
    with_client_credentials
        .directory()
        .await
        .expect("the walk succeeds");
    assert_debug_hides(&with_client_credentials, &[CLIENT_ID, SECRET, TOKEN]);
    login.assert_calls_async(1).await;
    page.assert_calls_async(1).await;
}
