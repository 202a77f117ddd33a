//! Properties of the page walk over in-memory sources (complete, ordered,
//! minimal, robust to capped sizes and moving data), of the quote rules, and
//! of one walk over real HTTP.

mod support;

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::StreamExt;
use primo_connect::types::{Customer, CustomerPage};
use primo_connect::{
    BranchChoice, CustomerDirectory, Environment, Error, Page, PageSource, PageWalk, Step,
};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use serde_json::json;

use support::walk_options;

/// `cases` per property unless `PROPTEST_CASES` says otherwise (the
/// `proptest!` macro applies it over any config); failures are kept in
/// `proptest-regressions/` to be replayed first next time.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/walk_properties.txt",
        ))),
        ..ProptestConfig::with_cases(cases)
    }
}

/// Runs `future` to completion on a fresh single-threaded runtime.
fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(future)
}

/// A valid customer with one headquarter branch, identified by `id`.
fn customer(id: i64) -> Customer {
    serde_json::from_value(json!({
        "customerId": id,
        "customerName": format!("Customer {id}"),
        "customerCode": format!("G{id:06}"),
        "customerNumber": 100_000_000_000_i64 + id,
        "isActive": true,
        "bsns": [{
            "customerBsn": 500_000_000_000_i64 + id,
            "bsnName": format!("Customer {id} HQ"),
            "isHeadquarter": true,
        }],
    }))
    .expect("a customer")
}

fn ids(customers: &[Customer]) -> Vec<i64> {
    customers.iter().map(|c| c.customer_id).collect()
}

/// Pages needed for `total` customers at `size` per page, and at least one.
fn requests_for(total: usize, size: usize) -> usize {
    total.div_ceil(size).max(1)
}

/// When an in-memory source inserts a customer at the front of its list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Moves {
    /// Never: the data is stable.
    Never,
    /// Right after page 1 is served the first time only.
    Once,
    /// Right after page 1 is served, every time.
    EveryWalk,
}

/// Customers served from memory with the API's page arithmetic.
struct MemorySource {
    customers: Mutex<Vec<Customer>>,
    /// Every `fetch_page` call.
    calls: AtomicUsize,
    /// Calls for page 1, that is, walks started.
    first_page_calls: AtomicUsize,
    /// The largest page the "server" hands out, whatever is asked.
    cap: Option<u32>,
    moves: Moves,
    /// A page whose `currentPage` is echoed wrong.
    wrong_echo: Option<u64>,
}

impl MemorySource {
    fn new(count: usize) -> Self {
        MemorySource {
            customers: Mutex::new((0..count as i64).map(customer).collect()),
            calls: AtomicUsize::new(0),
            first_page_calls: AtomicUsize::new(0),
            cap: None,
            moves: Moves::Never,
            wrong_echo: None,
        }
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn walks(&self) -> usize {
        self.first_page_calls.load(Ordering::SeqCst)
    }
}

impl PageSource for MemorySource {
    async fn fetch_page(&self, number: u64, per_page: NonZeroU32) -> Result<Page, Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut customers = self.customers.lock().expect("not poisoned");

        // Serve the page as the API does: 1-based, totals from the size used.
        let size = self
            .cap
            .map_or(per_page.get(), |cap| cap.min(per_page.get())) as usize;
        let total = customers.len();
        let start = (number as usize - 1).saturating_mul(size).min(total);
        let end = start.saturating_add(size).min(total);
        let echoed = if self.wrong_echo == Some(number) {
            number + 1
        } else {
            number
        };
        let page = CustomerPage {
            total_results: total as i64,
            current_page: echoed as i64,
            total_pages: total.div_ceil(size) as i64,
            results_per_page: size as i64,
            results: Some(customers[start..end].to_vec()),
        };

        // Move the data under the walk once page 1 has been served.
        if number == 1 {
            let walks = self.first_page_calls.fetch_add(1, Ordering::SeqCst) + 1;
            if self.moves == Moves::EveryWalk || (self.moves == Moves::Once && walks == 1) {
                customers.insert(0, customer(1_000_000 + walks as i64));
            }
        }
        Page::from_api(number, page)
    }
}

proptest! {
    #![proptest_config(config(64))]

    // Any list, page size and concurrency: every customer once, in server
    // order, in exactly max(1, totalPages) requests.
    #[test]
    fn collect_yields_everything_once_in_order(
        count in 0..=300_usize,
        size in 1..=50_u32,
        concurrency in 1..=8_u32,
    ) {
        let source = MemorySource::new(count);

        let customers = block_on(PageWalk::new(&source, walk_options(size, concurrency)).collect())
            .expect("a stable source walks");

        prop_assert_eq!(ids(&customers), (0..count as i64).collect::<Vec<_>>());
        prop_assert_eq!(source.calls(), requests_for(count, size as usize));
    }

    // The streaming walk yields the same customers as the collecting one, in
    // the same number of requests.
    #[test]
    fn streaming_yields_the_same(
        count in 0..=300_usize,
        size in 1..=50_u32,
        concurrency in 1..=8_u32,
    ) {
        let source = MemorySource::new(count);

        let streamed: Vec<Result<Customer, Error>> =
            block_on(PageWalk::new(&source, walk_options(size, concurrency)).customers().collect());

        let customers: Vec<Customer> =
            streamed.into_iter().collect::<Result<_, _>>().expect("no error");
        prop_assert_eq!(ids(&customers), (0..count as i64).collect::<Vec<_>>());
        prop_assert_eq!(source.calls(), requests_for(count, size as usize));
    }

    // A server that silently hands out smaller pages than asked is followed
    // to the end.
    #[test]
    fn a_capped_page_size_is_followed(
        count in 0..=300_usize,
        size in 1..=50_u32,
        cap in 1..=50_u32,
        concurrency in 1..=8_u32,
    ) {
        let source = MemorySource { cap: Some(cap), ..MemorySource::new(count) };

        let customers = block_on(PageWalk::new(&source, walk_options(size, concurrency)).collect())
            .expect("a capped source walks");

        prop_assert_eq!(ids(&customers), (0..count as i64).collect::<Vec<_>>());
        prop_assert_eq!(source.calls(), requests_for(count, size.min(cap) as usize));
    }

    // Data that moves once mid-walk (a customer inserted at the front after
    // page 1) is collected whole after one restart from page 1.
    #[test]
    fn data_moving_once_is_collected_after_one_restart(
        (size, count) in (1..=50_u32).prop_flat_map(|size| (Just(size), size as usize + 1..=300)),
        concurrency in 1..=8_u32,
    ) {
        let source = MemorySource { moves: Moves::Once, ..MemorySource::new(count) };

        let customers = block_on(PageWalk::new(&source, walk_options(size, concurrency)).collect())
            .expect("the second walk sees stable data");

        let mut expected = vec![1_000_001];
        expected.extend(0..count as i64);
        prop_assert_eq!(ids(&customers), expected);
        prop_assert_eq!(source.walks(), 2);
    }

    // A streaming walk cannot take back what it yielded: data that moves
    // mid-walk ends the stream with `DataMoved`, not restarted.
    #[test]
    fn streaming_over_moving_data_fails_without_restart(
        (size, count) in (1..=50_u32).prop_flat_map(|size| (Just(size), size as usize + 1..=300)),
        concurrency in 1..=8_u32,
    ) {
        let source = MemorySource { moves: Moves::Once, ..MemorySource::new(count) };

        let streamed: Vec<Result<Customer, Error>> =
            block_on(PageWalk::new(&source, walk_options(size, concurrency)).customers().collect());

        let (last, yielded) = streamed.split_last().expect("at least the error");
        prop_assert!(matches!(last, Err(Error::DataMoved { restarted: false, .. })), "{:?}", last);
        let yielded: Vec<i64> = yielded
            .iter()
            .map(|customer| customer.as_ref().map(|c| c.customer_id))
            .collect::<Result<_, _>>()
            .expect("only the last item fails");
        // Page 1, as served before the data moved.
        prop_assert_eq!(yielded, (0..size as i64).collect::<Vec<_>>());
        prop_assert_eq!(source.walks(), 1);
    }

    // Data that moves during every walk fails after the one restart, saying
    // so.
    #[test]
    fn data_moving_every_walk_fails_after_the_restart(
        (size, count) in (1..=50_u32).prop_flat_map(|size| (Just(size), size as usize + 1..=300)),
        concurrency in 1..=8_u32,
    ) {
        let source = MemorySource { moves: Moves::EveryWalk, ..MemorySource::new(count) };

        let error = block_on(PageWalk::new(&source, walk_options(size, concurrency)).collect())
            .expect_err("the data never holds still");

        prop_assert!(matches!(error, Error::DataMoved { restarted: true, .. }), "{:?}", error);
        prop_assert_eq!(source.walks(), 2);
    }

    // A page echoing another `currentPage` than asked fails the walk at that
    // page, without a restart.
    #[test]
    fn a_wrong_current_page_is_server_misbehaved(
        (size, count, wrong) in (1..=50_u32, 0..=300_usize).prop_flat_map(|(size, count)| {
            let pages = requests_for(count, size as usize) as u64;
            (Just(size), Just(count), 1..=pages)
        }),
        concurrency in 1..=8_u32,
    ) {
        let source = MemorySource { wrong_echo: Some(wrong), ..MemorySource::new(count) };

        let error = block_on(PageWalk::new(&source, walk_options(size, concurrency)).collect())
            .expect_err("the echo is wrong");

        prop_assert!(
            matches!(&error, Error::ServerMisbehaved { step: Step::Page(page), .. }
                if *page == wrong),
            "{:?}", error
        );
        prop_assert_eq!(source.walks(), 1);
    }
}

/// One generated customer: active or not, a `customerNumber` that is its
/// own or from a small shared pool, and 0 to 3 branches, each a headquarter
/// or not, with a `customerBsn` of its own or from a shared pool.
#[derive(Clone, Debug)]
struct Shape {
    active: bool,
    shared_number: Option<u8>,
    null_branches: bool,
    branches: Vec<(bool, Option<u8>)>,
}

fn shape() -> impl Strategy<Value = Shape> {
    (
        prop::bool::weighted(0.8),
        prop::option::weighted(0.15, 0..3_u8),
        any::<bool>(),
        prop::collection::vec(
            (
                prop::bool::weighted(0.6),
                prop::option::weighted(0.1, 0..3_u8),
            ),
            0..=3,
        ),
    )
        .prop_map(|(active, shared_number, null_branches, branches)| Shape {
            active,
            shared_number,
            null_branches,
            branches,
        })
}

/// The customers the shapes describe, coded `P0`, `P1`, ...
fn build(shapes: &[Shape]) -> Vec<Customer> {
    shapes
        .iter()
        .enumerate()
        .map(|(i, shape)| {
            let i = i as i64;
            let number = shape
                .shared_number
                .map_or(100_000_000_000 + i, |k| 800_000_000_000 + i64::from(k));
            let branches: Vec<_> = shape
                .branches
                .iter()
                .enumerate()
                .map(|(b, (headquarter, shared))| {
                    let bsn = shared.map_or(500_000_000_000 + 10 * i + b as i64, |k| {
                        900_000_000_000 + i64::from(k)
                    });
                    json!({
                        "customerBsn": bsn,
                        "bsnName": format!("P{i} branch {b}"),
                        "isHeadquarter": headquarter,
                    })
                })
                .collect();
            let bsns = if branches.is_empty() && shape.null_branches {
                json!(null)
            } else {
                json!(branches)
            };
            serde_json::from_value(json!({
                "customerId": i,
                "customerName": format!("Generated {i}"),
                "customerCode": format!("P{i}"),
                "customerNumber": number,
                "isActive": shape.active,
                "bsns": bsns,
            }))
            .expect("a customer")
        })
        .collect()
}

/// Written from the provider's rules, independently of the crate's: a quote
/// for the headquarter is allowed when the customer is active, has a branch,
/// exactly one headquarter, and shares no `customerNumber` or `customerBsn`
/// with another customer.
fn headquarter_quote_allowed(customers: &[Customer], index: usize) -> bool {
    let me = &customers[index];
    let branches = me.bsns.clone().unwrap_or_default();
    let others = || {
        customers
            .iter()
            .enumerate()
            .filter(move |(j, _)| *j != index)
            .map(|(_, c)| c)
    };

    let headquarters = branches.iter().filter(|b| b.is_headquarter).count();
    let number_shared = others().any(|other| other.customer_number == me.customer_number);
    let bsn_shared = branches.iter().any(|branch| {
        others().any(|other| {
            other
                .bsns
                .iter()
                .flatten()
                .any(|theirs| theirs.customer_bsn == branch.customer_bsn)
        })
    });
    me.is_active && !branches.is_empty() && headquarters == 1 && !number_shared && !bsn_shared
}

proptest! {
    #![proptest_config(config(128))]

    // For any directory, a headquarter quote is given exactly when the
    // plainly written rules allow it, and then for the headquarter's bsn.
    #[test]
    fn headquarter_quote_follows_the_rules(shapes in prop::collection::vec(shape(), 1..=12)) {
        let customers = build(&shapes);
        let directory = CustomerDirectory::new(Environment::Development, customers.clone());

        for (index, customer) in customers.iter().enumerate() {
            let code = &customer.customer_code;
            let result = directory.quote_target(code, &BranchChoice::Headquarter);
            let allowed = headquarter_quote_allowed(&customers, index);
            prop_assert_eq!(
                result.is_ok(),
                allowed,
                "{}: {:?} {:?}", code, shapes[index], result
            );
            match result {
                Ok(target) => {
                    let mut branches = customer.bsns.iter().flatten();
                    let headquarter = branches.find(|b| b.is_headquarter).expect("a headquarter");
                    prop_assert_eq!(target.customer_bsn, headquarter.customer_bsn);
                }
                Err(error) => prop_assert!(
                    matches!(error, Error::InactiveCustomer { .. } | Error::RuleBroken { .. }),
                    "{}: {:?}", code, error
                ),
            }
        }
    }
}

#[cfg(feature = "sandbox")]
mod over_http {
    use primo_connect::Credentials;
    use primo_connect::sandbox::{Organization, Sandbox, SandboxConfig};
    use proptest::prelude::*;
    use proptest::test_runner::TestRunner;

    use super::{block_on, config, requests_for};
    use crate::support::{client, codes, walk_options};

    // Over real HTTP, the sandbox's synthetic organization of any size
    // arrives whole and in order, after one login, in max(1, totalPages)
    // page requests.
    #[test]
    fn a_directory_over_http_is_complete() {
        // Eight cases whatever PROPTEST_CASES says (the `proptest!` macro
        // would let it override): each case starts a server and may walk
        // 250 pages.
        let mut runner = TestRunner::new(ProptestConfig {
            cases: 8,
            ..config(8)
        });
        let cases = (0..=250_u64, 1..=50_u32, 1..=8_u32);

        let outcome = runner.run(&cases, |(count, size, concurrency)| {
            block_on(async {
                let organization = Organization::synthetic(count);
                let config = SandboxConfig {
                    organization,
                    ..SandboxConfig::default()
                };
                let sandbox = Sandbox::start(config).await.expect("the sandbox starts");
                let credentials = Credentials::client("property-client", "property-secret");
                let client = client(
                    &sandbox.base_url(),
                    credentials,
                    walk_options(size, concurrency),
                );

                let directory = client.directory().await.expect("the walk succeeds");

                let expected: Vec<String> = (1..=count).map(|n| format!("C{n:07}")).collect();
                prop_assert_eq!(codes(directory.customers()), expected);
                let requests = sandbox.requests();
                prop_assert_eq!(requests.login, 1);
                prop_assert_eq!(
                    requests.customers as usize,
                    requests_for(count as usize, size as usize)
                );
                sandbox.shutdown().await;
                Ok(())
            })
        });

        if let Err(failure) = outcome {
            panic!("{failure}");
        }
    }
}
