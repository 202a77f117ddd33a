//! The customer directory built from the fixtures: snapshots, lookups, rule
//! reports, targets, policies, environments and a stored round trip.

mod support;

use primo_connect::types::Customer;
use primo_connect::{BranchChoice, CustomerDirectory, Environment, Error, Policy, RuleProblem};
use serde_json::{Value, json};

use support::{anomalies, anomaly_files, codes, fixture, organization};

fn directory() -> CustomerDirectory {
    CustomerDirectory::new(Environment::Development, organization())
}

fn anomaly_directory() -> CustomerDirectory {
    CustomerDirectory::new(Environment::Development, anomalies())
}

/// The quote `customerBsn` for a customer and branch, strictly.
fn quote(
    directory: &CustomerDirectory,
    customer: &str,
    branch: &BranchChoice,
) -> Result<i64, Error> {
    directory
        .quote_target(customer, branch)
        .map(|target| target.customer_bsn)
}

/// The customer an `InactiveCustomer` refusal names.
fn inactive<T: std::fmt::Debug>(result: Result<T, Error>) -> String {
    match result {
        Err(Error::InactiveCustomer { customer }) => customer,
        other => panic!("expected an inactive-customer refusal: {other:?}"),
    }
}

/// A copy of `customer` with another code, number and branch bsns, so that
/// only its name is shared.
fn namesake(customer: &Customer, code: &str, offset: i64) -> Customer {
    let mut copy = customer.clone();
    copy.customer_id += offset;
    copy.customer_code = code.to_owned();
    copy.customer_number += offset;
    for branch in copy.bsns.iter_mut().flatten() {
        branch.customer_bsn += offset;
    }
    copy
}

// The recorded organization as a directory: environment, time (redacted) and
// all 23 customers as the server sent them.
#[test]
fn organization_directory_snapshot() {
    let directory = directory();

    assert_eq!(directory.len(), 23);
    insta::assert_json_snapshot!(directory, {".fetchedAt" => "[fetched_at]"});
}

// The rule report of every anomaly file, one directory: each customer with
// its problems, matching the findings sidecars line for line.
#[test]
fn anomaly_rule_report_snapshot() {
    let directory = anomaly_directory();

    let report: Vec<Value> = directory
        .entries()
        .map(|(customer, problems)| {
            json!({"customerCode": customer.customer_code, "problems": problems})
        })
        .collect();
    insta::assert_json_snapshot!(report);

    // The same findings as the sidecars, combined and sorted.
    let mut found: Vec<String> = directory
        .entries()
        .flat_map(|(customer, problems)| {
            problems
                .iter()
                .map(move |problem| format!("{} {}", customer.customer_code, problem.code()))
        })
        .collect();
    found.sort();
    let mut expected: Vec<String> = anomaly_files()
        .iter()
        .flat_map(|path| {
            let sidecar = path.with_extension("findings.txt");
            let name = sidecar
                .file_name()
                .expect("a file name")
                .to_string_lossy()
                .into_owned();
            fixture(&format!("anomalies/{name}"))
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    expected.sort();
    assert_eq!(found, expected);
}

// The valid organization breaks no rule.
#[test]
fn the_organization_breaks_no_rule() {
    let directory = directory();

    let broken: Vec<&str> = directory
        .entries()
        .filter(|(_, problems)| !problems.is_empty())
        .map(|(customer, _)| customer.customer_code.as_str())
        .collect();
    assert_eq!(broken, Vec::<&str>::new());
}

// A customer is found by code ignoring case, by number, and by exact name.
#[test]
fn lookups_by_code_number_and_name() {
    let directory = directory();

    assert_eq!(
        directory.customer("c00004").expect("by code").customer_name,
        "Müller Spedition GmbH"
    );
    assert_eq!(
        directory
            .customer("C00004")
            .expect("by code")
            .customer_number,
        122235102434
    );
    assert_eq!(
        directory
            .customer("122235102433")
            .expect("by number")
            .customer_code,
        "C00003"
    );
    assert_eq!(
        directory
            .customer("Smith, Jones & Co. Freight")
            .expect("by name")
            .customer_code,
        "C00005"
    );
    assert_eq!(
        directory
            .customer("Müller Spedition GmbH")
            .expect("by name")
            .customer_code,
        "C00004"
    );
}

// A name two customers share is ambiguous, and the error lists both.
#[test]
fn a_shared_name_is_ambiguous() {
    let mut customers = organization();
    customers.push(namesake(&customers[1], "C00099", 1_000_000));
    let directory = CustomerDirectory::new(Environment::Development, customers);

    let error = directory
        .customer("Acme Logistics")
        .expect_err("two customers have this name");

    let Error::Ambiguous { query, candidates } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(query, "Acme Logistics");
    assert_eq!(
        candidates,
        &[r#"C00002 "Acme Logistics""#, r#"C00099 "Acme Logistics""#]
    );
    assert!(error.is_not_found());
}

// A query that matches nothing is `CustomerNotFound`, naming the environment.
#[test]
fn an_unknown_customer_is_not_found() {
    let directory = directory();

    let error = directory
        .customer("Nobody Freight")
        .expect_err("no such customer");

    let Error::CustomerNotFound { query, environment } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(query, "Nobody Freight");
    assert_eq!(environment, "development");
    assert_eq!(
        error.to_string(),
        r#"no customer matches "Nobody Freight" in development"#
    );
}

// The headquarter target is the branch marked headquarter, even when it is
// not the first branch.
#[test]
fn headquarter_targets() {
    let directory = directory();

    assert_eq!(
        quote(&directory, "C00001", &BranchChoice::Headquarter).expect("C00001"),
        1237101834
    );
    assert_eq!(
        quote(&directory, "C00003", &BranchChoice::Headquarter).expect("C00003"),
        123710321876
    );
    assert_eq!(
        quote(&directory, "C00006", &BranchChoice::Headquarter).expect("C00006"),
        123710321883
    );
    let booking = directory
        .booking_target("C00003", &BranchChoice::Headquarter)
        .expect("C00003");
    assert_eq!(
        (booking.customer_number, booking.customer_bsn),
        (122235102433, 123710321876)
    );
    assert_eq!(booking.environment(), &Environment::Development);
}

// A named branch is found by its exact name, by its name in another case,
// and by its bsn.
#[test]
fn named_branch_targets() {
    let directory = directory();

    let by_name = BranchChoice::Name("Blue Ridge Foods - NC".to_owned());
    assert_eq!(
        quote(&directory, "C00003", &by_name).expect("by name"),
        123710321877
    );
    let by_other_case = BranchChoice::Name("blue ridge foods - va".to_owned());
    assert_eq!(
        quote(&directory, "C00003", &by_other_case).expect("by name"),
        123710321875
    );
    let by_bsn = BranchChoice::Bsn(123710321873);
    let booking = directory
        .booking_target("CustomerExample", &by_bsn)
        .expect("by bsn");
    assert_eq!(
        (booking.customer_number, booking.customer_bsn),
        (1235102432, 123710321873)
    );
    assert_eq!("123710321873".parse::<BranchChoice>(), Ok(by_bsn));
}

// A branch the customer does not have is `BranchNotFound`.
#[test]
fn an_unknown_branch_is_not_found() {
    let directory = directory();

    let error = quote(
        &directory,
        "C00001",
        &BranchChoice::Name("Nowhere".to_owned()),
    )
    .expect_err("no such branch");
    let Error::BranchNotFound { customer, query } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(
        (customer.as_str(), query.as_str()),
        (r#"C00001 "CustomerExample""#, r#""Nowhere""#)
    );

    // Another customer's branch is not this customer's.
    let error =
        quote(&directory, "C00001", &BranchChoice::Bsn(123710321874)).expect_err("C00002's branch");
    let Error::BranchNotFound { customer, query } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(
        (customer.as_str(), query.as_str()),
        (r#"C00001 "CustomerExample""#, "customerBsn 123710321874")
    );
}

// The three inactive customers are refused for quotes and bookings, under
// either policy and for any branch.
#[test]
fn inactive_customers_are_refused() {
    let directory = directory();

    for (code, name) in [
        ("C00007", "Lone Star Building Materials"),
        ("C00012", "Redwood Furniture Co."),
        ("C00017", "Desert Sun Beverages"),
    ] {
        let expected = format!("{code} {name:?}");
        for policy in [Policy::Strict, Policy::Lenient] {
            let quote = directory.quote_target_with(code, &BranchChoice::Headquarter, policy);
            assert_eq!(inactive(quote), expected);
            let booking = directory.booking_target_with(code, &BranchChoice::Headquarter, policy);
            assert_eq!(inactive(booking), expected);
        }
    }
    let inactive: Vec<&str> = directory
        .customers()
        .iter()
        .filter(|c| !c.is_active)
        .map(|c| c.customer_code.as_str())
        .collect();
    assert_eq!(inactive, ["C00007", "C00012", "C00017"]);
}

// Every anomaly is refused strictly, for the headquarter and for a named
// branch, with its problems listed; the valid A00002 is not.
#[test]
fn anomalies_are_refused_strictly() {
    let directory = anomaly_directory();

    for (code, branch, problem) in [
        ("A00001", Some(910000000003), "several-headquarters"),
        ("A00003", Some(910000000005), "no-headquarter"),
        ("A00004", None, "no-branches"),
        ("A00005", None, "no-branches"),
        ("A00006", Some(910000000099), "shared-customer-bsn"),
        ("A00007", Some(910000000099), "shared-customer-bsn"),
        ("A00008", Some(910000000007), "shared-customer-number"),
        ("A00009", Some(910000000008), "shared-customer-number"),
    ] {
        let mut choices = vec![BranchChoice::Headquarter];
        choices.extend(branch.map(BranchChoice::Bsn));
        for choice in &choices {
            let error = directory.quote_target(code, choice).expect_err(code);
            let Error::RuleBroken {
                customer, problems, ..
            } = &error
            else {
                panic!("{code}: {error:?}")
            };
            assert!(customer.starts_with(&format!("{code} ")), "{customer}");
            assert_eq!(
                problems.iter().map(RuleProblem::code).collect::<Vec<_>>(),
                [problem],
                "{code}"
            );
            assert!(error.is_refusal());
        }
    }
    assert_eq!(
        quote(&directory, "A00002", &BranchChoice::Headquarter).expect("valid"),
        910000000004
    );
}

// The lenient policy accepts a named branch of a customer whose headquarter
// rule is broken, but never "the headquarter" itself.
#[test]
fn lenient_accepts_a_named_branch_for_headquarter_anomalies() {
    let directory = anomaly_directory();

    for (code, name, bsn) in [
        ("A00001", "Twin Peaks Haulage - Boise", 910000000003),
        ("A00001", "Twin Peaks Haulage - Denver", 910000000002),
        ("A00003", "Headless Freight - South", 910000000006),
    ] {
        let by_name = BranchChoice::Name(name.to_owned());
        let target = directory
            .quote_target_with(code, &by_name, Policy::Lenient)
            .expect(name);
        assert_eq!(target.customer_bsn, bsn);
        let target = directory
            .booking_target_with(code, &BranchChoice::Bsn(bsn), Policy::Lenient)
            .expect(name);
        assert_eq!(target.customer_bsn, bsn);

        let headquarter =
            directory.quote_target_with(code, &BranchChoice::Headquarter, Policy::Lenient);
        assert!(
            matches!(headquarter, Err(Error::RuleBroken { .. })),
            "{code}: {headquarter:?}"
        );
    }
}

// The lenient policy never covers an identifier shared with another
// customer, even for a named branch.
#[test]
fn lenient_refuses_shared_identifiers() {
    let directory = anomaly_directory();

    for (code, name, problem) in [
        ("A00006", "Shared Dock East HQ", "shared-customer-bsn"),
        ("A00007", "Shared Dock West HQ", "shared-customer-bsn"),
        ("A00008", "Number Twin One HQ", "shared-customer-number"),
        ("A00009", "Number Twin Two HQ", "shared-customer-number"),
    ] {
        let by_name = BranchChoice::Name(name.to_owned());
        let error = directory
            .booking_target_with(code, &by_name, Policy::Lenient)
            .expect_err(code);
        let Error::RuleBroken { problems, .. } = &error else {
            panic!("{code}: {error:?}")
        };
        assert_eq!(
            problems.iter().map(RuleProblem::code).collect::<Vec<_>>(),
            [problem],
            "{code}"
        );
    }
}

// A customer without branches has no branch to name, under either policy.
#[test]
fn no_branches_leaves_nothing_to_name() {
    let directory = anomaly_directory();

    for code in ["A00004", "A00005"] {
        let choice = BranchChoice::Name("Anything".to_owned());
        let error = directory
            .quote_target_with(code, &choice, Policy::Lenient)
            .expect_err(code);
        assert!(
            matches!(error, Error::BranchNotFound { .. }),
            "{code}: {error:?}"
        );
    }
}

// Targets serialize to exactly the fields a quote and a booking take.
#[test]
fn targets_serialize_to_the_request_fields() {
    let directory = directory();

    let quote = directory
        .quote_target("C00002", &BranchChoice::Headquarter)
        .expect("C00002");
    assert_eq!(
        serde_json::to_string(&quote).expect("serializes"),
        r#"{"customerBsn":123710321874}"#
    );
    let booking = directory
        .booking_target("C00002", &BranchChoice::Headquarter)
        .expect("C00002");
    assert_eq!(
        serde_json::to_string(&booking).expect("serializes"),
        r#"{"customerNumber":122235102432,"customerBsn":123710321874}"#
    );
}

// A target is usable in its own environment and refused in any other.
#[test]
fn targets_stay_in_their_environment() {
    let directory = directory();
    let quote = directory
        .quote_target("C00002", &BranchChoice::Headquarter)
        .expect("C00002");
    let booking = directory
        .booking_target("C00002", &BranchChoice::Headquarter)
        .expect("C00002");

    assert_eq!(
        quote
            .for_environment(&Environment::Development)
            .expect("same")
            .customer_bsn,
        123710321874
    );
    assert!(booking.for_environment(&Environment::Development).is_ok());
    let local = Environment::custom("http://127.0.0.1:8080").expect("a URL");
    for other in [Environment::Production, local] {
        let error = quote
            .for_environment(&other)
            .expect_err("another environment");
        assert!(
            matches!(&error, Error::WrongEnvironment { target, requested }
                if target == "development" && *requested == other.to_string()),
            "{error:?}"
        );
        let error = booking
            .for_environment(&other)
            .expect_err("another environment");
        assert!(matches!(error, Error::WrongEnvironment { .. }), "{error:?}");
    }
}

// A directory written out and read back keeps its environment, time and
// customers, and works out the rule problems again rather than reading them.
#[test]
fn a_stored_directory_round_trips_and_recomputes_problems() {
    let original = anomaly_directory();

    let stored = serde_json::to_value(&original).expect("serializes");
    assert_eq!(
        stored
            .as_object()
            .expect("an object")
            .keys()
            .collect::<Vec<_>>(),
        ["customers", "environment", "fetchedAt"]
    );
    let read: CustomerDirectory = serde_json::from_value(stored.clone()).expect("reads back");

    assert_eq!(read.environment(), &Environment::Development);
    assert_eq!(read.fetched_at(), original.fetched_at());
    assert_eq!(codes(read.customers()), codes(original.customers()));
    let problems = |d: &CustomerDirectory| d.entries().map(|(_, p)| p.to_vec()).collect::<Vec<_>>();
    assert_eq!(problems(&read), problems(&original));

    // Problems written into the file are ignored, and an edit to the
    // customers shows up as a new problem.
    let mut edited = stored;
    edited["problems"] = json!([[], [], [], [], [], [], [], [], []]);
    let a00002 = edited["customers"]
        .as_array_mut()
        .expect("customers")
        .iter_mut()
        .find(|c| c["customerCode"] == "A00002")
        .expect("A00002");
    a00002["customerNumber"] = json!(900000000001_i64);
    let read: CustomerDirectory = serde_json::from_value(edited).expect("reads back");
    let a00001 = read.customer("A00001").expect("A00001");
    assert_eq!(
        read.problems_of(a00001)
            .iter()
            .map(RuleProblem::code)
            .collect::<Vec<_>>(),
        ["several-headquarters", "shared-customer-number"]
    );
    let a00002 = read.customer("A00002").expect("A00002");
    assert_eq!(
        read.problems_of(a00002),
        [RuleProblem::SharedCustomerNumber {
            number: 900000000001,
            with: vec!["A00001".to_owned()]
        }]
    );
}

// A custom environment survives a round trip, and its targets stay in it.
#[test]
fn a_stored_directory_keeps_a_custom_environment() {
    let local = Environment::custom("http://127.0.0.1:8080").expect("a URL");
    let original = CustomerDirectory::new(local.clone(), organization());

    let read: CustomerDirectory =
        serde_json::from_str(&serde_json::to_string(&original).expect("serializes"))
            .expect("reads back");

    assert_eq!(read.environment(), &local);
    let quote = read
        .quote_target("C00002", &BranchChoice::Headquarter)
        .expect("C00002");
    assert!(quote.for_environment(&Environment::Production).is_err());
    assert!(quote.for_environment(&local).is_ok());
}
