//! A valid page, mutated at random (a field dropped, set to null, given
//! another type, the text cut short), served over HTTP to the client's walk:
//! never a panic, and either exactly the customers the mutated page holds or
//! the precise error, with the JSON path of the value that does not fit.
//!
//! Each case is one HTTP round trip; `PROPTEST_CASES` sets how many (32 by
//! default).

mod support;

use std::collections::HashSet;
use std::sync::{LazyLock, Mutex, PoisonError};

use futures::StreamExt;
use httpmock::prelude::*;
use primo_connect::walk::Page;
use primo_connect::{ApiTimestamp, ConnectClient, Credentials, Error, Step};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::FileFailurePersistence;
use serde_json::{Value, json};

use support::{client, fixture_json, walk_options};

/// Any token; the mock does not check it.
const TOKEN: &str = "mutation-token";

/// The page every case starts from: page 1 of 3, 10 customers.
const FIXTURE: &str = "organization/page-size-10/page-1.json";

/// One step of a path into a JSON document.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

/// Where a value sits in the document; empty for the whole document.
type Pointer = Vec<Segment>;

/// A path as the client's errors write it: `data.results[4].created`, or
/// `.` for the whole document.
fn path_text(pointer: &[Segment]) -> String {
    if pointer.is_empty() {
        return ".".to_owned();
    }
    let mut text = String::new();
    for segment in pointer {
        match segment {
            Segment::Key(key) if text.is_empty() => text.push_str(key),
            Segment::Key(key) => {
                text.push('.');
                text.push_str(key);
            }
            Segment::Index(n) => text.push_str(&format!("[{n}]")),
        }
    }
    text
}

/// What a replaced value becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Replacement {
    Null,
    Text,
    Number,
    Negative,
    Bool,
    EmptyArray,
    EmptyObject,
}

const REPLACEMENTS: [Replacement; 7] = [
    Replacement::Null,
    Replacement::Text,
    Replacement::Number,
    Replacement::Negative,
    Replacement::Bool,
    Replacement::EmptyArray,
    Replacement::EmptyObject,
];

impl Replacement {
    fn value(self) -> Value {
        match self {
            Replacement::Null => Value::Null,
            Replacement::Text => json!("mutated"),
            Replacement::Number => json!(7),
            Replacement::Negative => json!(-1),
            Replacement::Bool => json!(true),
            Replacement::EmptyArray => json!([]),
            Replacement::EmptyObject => json!({}),
        }
    }
}

/// One change to the page.
#[derive(Clone, Debug)]
enum Mutation {
    /// Remove this member of an object.
    Drop(Pointer),
    /// Put another value here.
    Replace(Pointer, Replacement),
    /// Send only the first this many bytes of the serialized page.
    Truncate(usize),
}

/// The page every case starts from.
static ORIGINAL: LazyLock<Value> = LazyLock::new(|| fixture_json(FIXTURE));

/// Every value's pointer in `value`, the document itself first.
fn pointers(value: &Value) -> Vec<Pointer> {
    fn walk(value: &Value, at: &mut Pointer, out: &mut Vec<Pointer>) {
        out.push(at.clone());
        match value {
            Value::Object(members) => {
                for (key, member) in members {
                    at.push(Segment::Key(key.clone()));
                    walk(member, at, out);
                    at.pop();
                }
            }
            Value::Array(elements) => {
                for (n, element) in elements.iter().enumerate() {
                    at.push(Segment::Index(n));
                    walk(element, at, out);
                    at.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, &mut Vec::new(), &mut out);
    out
}

fn mutations() -> impl Strategy<Value = Mutation> {
    let all = pointers(&ORIGINAL);
    let members: Vec<Pointer> = all
        .iter()
        .filter(|p| matches!(p.last(), Some(Segment::Key(_))))
        .cloned()
        .collect();
    let length = ORIGINAL.to_string().len();
    prop_oneof![
        1 => select(members).prop_map(Mutation::Drop),
        2 => (select(all), select(REPLACEMENTS.to_vec()))
            .prop_map(|(at, replacement)| Mutation::Replace(at, replacement)),
        1 => (0..length).prop_map(Mutation::Truncate),
    ]
}

/// The value at `pointer`, to change.
fn value_at<'v>(value: &'v mut Value, pointer: &[Segment]) -> &'v mut Value {
    pointer.iter().fold(value, |value, segment| match segment {
        Segment::Key(key) => &mut value[key.as_str()],
        Segment::Index(n) => &mut value[*n],
    })
}

/// The mutated document (for `Truncate`, the original) and the body sent.
fn apply(mutation: &Mutation) -> (Value, Vec<u8>) {
    let mut page = ORIGINAL.clone();
    match mutation {
        Mutation::Drop(at) => {
            let (last, parent) = at.split_last().expect("a member has a parent");
            let Segment::Key(key) = last else {
                unreachable!("only members are dropped")
            };
            let removed = value_at(&mut page, parent)
                .as_object_mut()
                .expect("the parent of a member is an object")
                .remove(key);
            assert!(removed.is_some(), "{key} was there");
        }
        Mutation::Replace(at, replacement) => *value_at(&mut page, at) = replacement.value(),
        Mutation::Truncate(length) => {
            let text = ORIGINAL.to_string();
            return (page, text.as_bytes()[..*length].to_vec());
        }
    }
    let body = page.to_string().into_bytes();
    (page, body)
}

/// What the spec says a value is, as the generated types decode it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Envelope,
    Page,
    Errors,
    Integer,
    Text,
    Flag,
    Timestamp,
    Customers,
    Customer,
    Branches,
    Branch,
}

/// The shape of member `key` of a `parent`, and whether it is required.
fn member_shape(parent: Shape, key: &str) -> (Shape, bool) {
    use Shape::*;
    match (parent, key) {
        (Envelope, "data") => (Page, false),
        (Envelope, "errors") => (Errors, false),
        (Page, "currentPage" | "resultsPerPage" | "totalPages" | "totalResults") => (Integer, true),
        (Page, "results") => (Customers, false),
        (Customer, "customerId" | "customerNumber") => (Integer, true),
        (Customer, "customerName" | "customerCode") => (Text, true),
        (Customer, "isActive") => (Flag, true),
        (Customer, "created") => (Timestamp, false),
        (Customer, "createdBy" | "organizationName") => (Text, false),
        (Customer, "organizationNumber") => (Integer, false),
        (Customer, "bsns") => (Branches, false),
        (Branch, "bsnName") => (Text, true),
        (Branch, "customerBsn") => (Integer, true),
        (Branch, "isHeadquarter") => (Flag, true),
        _ => panic!("the fixture holds no {key:?} in a {parent:?}"),
    }
}

/// The shape at `pointer`, and whether the value there is required.
fn shape_at(pointer: &[Segment]) -> (Shape, bool) {
    pointer
        .iter()
        .fold((Shape::Envelope, true), |(shape, _), segment| {
            match (shape, segment) {
                (_, Segment::Key(key)) => member_shape(shape, key),
                (Shape::Customers, Segment::Index(_)) => (Shape::Customer, true),
                (Shape::Branches, Segment::Index(_)) => (Shape::Branch, true),
                _ => panic!("no element in a {shape:?}"),
            }
        })
}

/// Whether `value` decodes as `shape` (`required`: null is not allowed).
fn fits(shape: Shape, required: bool, value: &Value) -> bool {
    if value.is_null() {
        return !required;
    }
    match shape {
        Shape::Integer => value.is_i64(),
        Shape::Text => value.is_string(),
        Shape::Flag => value.is_boolean(),
        Shape::Timestamp => value
            .as_str()
            .is_some_and(|text| ApiTimestamp::parse(text).is_ok()),
        Shape::Errors => value.is_array(),
        Shape::Customers | Shape::Branches => {
            let element = if shape == Shape::Customers {
                Shape::Customer
            } else {
                Shape::Branch
            };
            value
                .as_array()
                .is_some_and(|elements| elements.iter().all(|e| fits(element, true, e)))
        }
        Shape::Envelope | Shape::Page | Shape::Customer | Shape::Branch => {
            // A struct: an object whose members fit and whose required
            // members are all there. (An array is read positionally, and
            // the empty one misses every field.)
            let Some(members) = value.as_object() else {
                return false;
            };
            let fit = members.iter().all(|(key, member)| {
                let (shape, required) = member_shape(shape, key);
                fits(shape, required, member)
            });
            let complete = required_members(shape)
                .iter()
                .all(|key| members.contains_key(*key));
            fit && complete
        }
    }
}

fn required_members(shape: Shape) -> &'static [&'static str] {
    match shape {
        Shape::Page => &[
            "currentPage",
            "resultsPerPage",
            "totalPages",
            "totalResults",
        ],
        Shape::Customer => &[
            "customerId",
            "customerName",
            "customerCode",
            "customerNumber",
            "isActive",
        ],
        Shape::Branch => &["bsnName", "customerBsn", "isHeadquarter"],
        _ => &[],
    }
}

/// What the client must make of a mutated page.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Expected {
    /// Page 1 with the customers of these ids, in order.
    Customers(Vec<i64>),
    /// `Decode` at exactly this path.
    DecodeAt(String),
    /// `Decode` at some path inside the document (cut-short text).
    Decode,
    NotJson,
    MissingData,
    ServerMisbehaved,
}

/// What the client must make of `mutation`, which gave `page`.
fn expected(mutation: &Mutation, page: &Value) -> Expected {
    match mutation {
        Mutation::Truncate(0) => return Expected::NotJson,
        Mutation::Truncate(_) => return Expected::Decode,
        Mutation::Drop(at) => {
            let (_, required) = shape_at(at);
            if required {
                return Expected::DecodeAt(path_text(&at[..at.len() - 1]));
            }
        }
        Mutation::Replace(at, _) if at.is_empty() => {
            // The body is the replacement itself.
            return match page {
                Value::Object(_) => Expected::MissingData,
                Value::Array(_) => Expected::DecodeAt(".".to_owned()),
                _ => Expected::NotJson,
            };
        }
        Mutation::Replace(at, replacement) => {
            let (shape, required) = shape_at(at);
            if !fits(shape, required, &replacement.value()) {
                return Expected::DecodeAt(path_text(at));
            }
        }
    }
    expected_of_decoded(page)
}

/// What the client must make of a page that decodes.
fn expected_of_decoded(page: &Value) -> Expected {
    let Some(data) = page.get("data").filter(|d| !d.is_null()) else {
        return Expected::MissingData;
    };
    let number = |key: &str| data[key].as_i64().expect("a decoded total");
    if number("totalResults") < 0 || number("totalPages") < 0 || number("currentPage") != 1 {
        return Expected::ServerMisbehaved;
    }
    let ids: Vec<i64> = data["results"]
        .as_array()
        .map(|customers| {
            customers
                .iter()
                .map(|c| c["customerId"].as_i64().expect("an id"))
                .collect()
        })
        .unwrap_or_default();
    assert!(ids.len() <= 10, "no mutation adds customers");
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        ids.len(),
        "no mutation repeats an id"
    );
    Expected::Customers(ids)
}

/// Whether `path` reads as a path into the page: `.`, or `data` or
/// `errors` followed by `.name` and `[n]` steps.
fn is_json_path(path: &str) -> bool {
    if path == "." {
        return true;
    }
    let Some(rest) = path
        .strip_prefix("data")
        .or_else(|| path.strip_prefix("errors"))
    else {
        return false;
    };
    let mut rest = rest;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let name_length = after.bytes().take_while(u8::is_ascii_alphanumeric).count();
            if name_length == 0 {
                return false;
            }
            rest = &after[name_length..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            let Some(after) = after[digits..].strip_prefix(']').filter(|_| digits > 0) else {
                return false;
            };
            rest = after;
        } else {
            return false;
        }
    }
    true
}

/// One runtime, one mock server and one client for every case, used by
/// one test at a time.
struct Harness {
    runtime: tokio::runtime::Runtime,
    server: MockServer,
    client: ConnectClient,
    turn: Mutex<()>,
}

static HARNESS: LazyLock<Harness> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let server = runtime.block_on(MockServer::start_async());
    let client = client(
        &server.base_url(),
        Credentials::token(TOKEN),
        walk_options(10, 1),
    );
    Harness {
        runtime,
        server,
        client,
        turn: Mutex::new(()),
    }
});

/// Serves `body` as page 1 and takes the first page of a walk: the result,
/// and how many requests the server saw.
fn first_page(body: Vec<u8>) -> (Option<Result<Page, Error>>, usize) {
    let Harness {
        runtime,
        server,
        client,
        turn,
    } = &*HARNESS;
    // A test that failed while holding its turn leaves nothing broken.
    let _turn = turn.lock().unwrap_or_else(PoisonError::into_inner);
    runtime.block_on(async {
        // A case that failed may have left its mock behind.
        server.reset_async().await;
        let mock = server
            .mock_async(|when, then| {
                when.method(GET).path("/v1/customers");
                then.status(200)
                    .header("content-type", "application/json; charset=utf-8")
                    .body(body);
            })
            .await;
        let walk = client.walk();
        let mut pages = std::pin::pin!(walk.pages());
        let first = pages.next().await;

        (first, mock.calls_async().await)
    })
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(32);
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/decode_mutations.txt",
        ))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    // A mutated page 1 gives exactly its customers or the precise error,
    // after one request and without a panic.
    #[test]
    fn a_mutated_page_decodes_right_or_fails_precisely(mutation in mutations()) {
        let (page, body) = apply(&mutation);
        let want = expected(&mutation, &page);

        let (first, requests) = first_page(body);

        prop_assert_eq!(requests, 1);
        let result = first.expect("the walk yields page 1 or an error");
        match (&want, &result) {
            (Expected::Customers(ids), Ok(got)) => {
                let got_ids: Vec<i64> = got.customers.iter().map(|c| c.customer_id).collect();
                prop_assert_eq!(&got_ids, ids);
                prop_assert_eq!(got.number, 1);
                // Unless the mutation was to the results or an id, they are
                // the original's.
                let touches_ids = matches!(&mutation, Mutation::Drop(at) | Mutation::Replace(at, _)
                    if at.len() <= 2 || at.last() == Some(&Segment::Key("customerId".to_owned())));
                if !touches_ids {
                    let original = expected_of_decoded(&ORIGINAL);
                    prop_assert_eq!(&want, &original);
                }
            }
            (Expected::DecodeAt(want_path), Err(Error::Decode { step: Step::Page(1), path, .. })) => {
                prop_assert_eq!(path, want_path);
            }
            (Expected::Decode, Err(Error::Decode { step: Step::Page(1), path, .. })) => {
                prop_assert!(is_json_path(path), "{:?} is not a JSON path", path);
            }
            (Expected::NotJson, Err(Error::NotJson { step: Step::Page(1), status: 200, .. }))
            | (Expected::MissingData, Err(Error::MissingData { step: Step::Page(1) }))
            | (Expected::ServerMisbehaved, Err(Error::ServerMisbehaved { step: Step::Page(1), .. })) => {}
            _ => prop_assert!(false, "expected {:?}, got {:?}", want, result),
        }
        if let Err(Error::Decode { path, .. }) = &result {
            prop_assert!(is_json_path(path), "{:?} is not a JSON path", path);
        }
    }
}

// Text cut inside a key (here `currentPage`, the first key of `data`, or
// just after the opening brace) fails with a path to the object it was in,
// not one ending in serde_path_to_error's `?` for an unknown key.
#[test]
fn text_cut_inside_a_key_names_the_object() {
    let text = ORIGINAL.to_string();
    let inside_key = text
        .find("currentPage")
        .expect("data opens with currentPage")
        + 3;
    for (length, want) in [(1, "."), (inside_key, "data")] {
        let (first, requests) = first_page(text.as_bytes()[..length].to_vec());

        assert_eq!(requests, 1);
        match first.expect("page 1 or an error") {
            Err(Error::Decode {
                step: Step::Page(1),
                path,
                ..
            }) => {
                assert_eq!(path, want, "cut at byte {length}: {:?}", &text[..length]);
            }
            other => panic!("cut at byte {length}: expected a decode error, got {other:?}"),
        }
    }
}

// The path checker accepts the client's paths and nothing else.
#[test]
fn json_paths_are_recognized() {
    for path in [
        ".",
        "data",
        "errors",
        "data.results[4].created",
        "data.results[0].bsns[12].bsnName",
    ] {
        assert!(is_json_path(path), "{path}");
    }
    for path in [
        "",
        "?",
        "data.",
        "data[]",
        "data[x]",
        "results[0]",
        "data..x",
        "data.results[0",
    ] {
        assert!(!is_json_path(path), "{path}");
    }
}
