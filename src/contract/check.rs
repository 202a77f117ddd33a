//! The logic of `primo check`: every page of an environment held against
//! the spec, the paging contract and the business rules.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::num::NonZeroU32;

use futures::stream::{self, StreamExt};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use serde::Serialize;
use serde_json::Value;

use super::schema::{Finding, Mode, Severity, SpecSchemas};
use crate::client::RawPage;
use crate::types::Customer;
use crate::{ConnectClient, Error, rules};

/// The most pages a check walks; a server that announces more is reported
/// rather than followed for ever.
const MAX_PAGES: u64 = 100_000;

/// The check names, in the order results are reported for one page.
const PAGE_CHECKS: [&str; 6] = [
    "status",
    "content-type",
    "schema-conform",
    "schema-strict",
    "decode",
    "page-arithmetic",
];

/// The outcome of one check on one page, or on the whole directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    /// The check, e.g. `schema-conform` or `business-rules`.
    pub name: String,
    /// The 1-based page it ran on; `None` for the checks of the whole
    /// directory.
    pub page: Option<u64>,
    /// What it found, sorted; none means it passed.
    pub findings: Vec<Finding>,
}

impl CheckResult {
    fn new(name: &str, page: Option<u64>, mut findings: Vec<Finding>) -> Self {
        findings.sort();
        CheckResult {
            name: name.to_owned(),
            page,
            findings,
        }
    }

    /// Whether any finding is an error.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// Whether any finding is a warning.
    pub fn has_warnings(&self) -> bool {
        self.findings
            .iter()
            .any(|f| f.severity == Severity::Warning)
    }

    /// The test name in reports: `page-2/schema-conform`, or the bare check
    /// name for the whole directory.
    pub fn label(&self) -> String {
        match self.page {
            Some(page) => format!("page-{page}/{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// Everything one run of the checks found.
///
/// Results come page by page in page order (`status`, `content-type`,
/// `schema-conform`, `schema-strict`, `decode`, `page-arithmetic`), then
/// `business-rules` and `duplicate-customer-id` for the whole directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    /// The environment checked, as its name or base URL.
    pub environment: String,
    /// Pages fetched.
    pub pages: u64,
    /// Customers found on the pages that decoded.
    pub customers: u64,
    /// Every check's outcome.
    pub results: Vec<CheckResult>,
}

/// Walks every page of `client`'s environment with `per_page` customers a
/// page and checks each one, then the directory as a whole.
///
/// Page 1 is fetched first; its `totalPages` decides which others are
/// fetched (a few at a time, as the client's walk options say). A page
/// that fails to arrive is reported as a failed `status` check.
///
/// # Errors
///
/// Only when the check cannot run at all: page 1 does not arrive (the
/// server is unreachable, the credentials are refused, …).
pub async fn run_check(
    client: &ConnectClient,
    schemas: &SpecSchemas,
    per_page: NonZeroU32,
) -> Result<CheckReport, Error> {
    let environment = client.environment().to_string();

    // Page 1 decides how many pages there are.
    let first = client.fetch_raw_page(1, per_page).await?;
    let first_body: Option<Value> = serde_json::from_slice(&first.body).ok();
    let announced = match &first.decoded {
        Ok(page) => Some(page.total_pages),
        Err(_) => first_body
            .as_ref()
            .and_then(|body| body.pointer("/data/totalPages"))
            .and_then(Value::as_u64),
    };
    let last = announced.unwrap_or(1).clamp(1, MAX_PAGES);

    let mut arithmetic = Arithmetic::new(per_page);
    let mut walk = Walk::default();
    let mut results = Vec::new();
    walk.page(&first, schemas, &mut arithmetic, &mut results);
    if let Some(pages) = announced.filter(|&pages| pages > MAX_PAGES) {
        let what =
            format!("page 1 announces {pages} pages; only the first {MAX_PAGES} are checked");
        results.push(CheckResult::new(
            "page-count",
            None,
            vec![error("data.totalPages", what)],
        ));
    }

    // The other pages, a few in flight at once, checked in page order.
    let window = client.walk_options().concurrency.get() as usize;
    let mut rest = stream::iter(2..=last)
        .map(|number| async move { (number, client.fetch_raw_page(number, per_page).await) })
        .buffered(window);
    while let Some((number, fetched)) = rest.next().await {
        match fetched {
            Ok(page) => walk.page(&page, schemas, &mut arithmetic, &mut results),
            Err(failure) => {
                let finding = error(".", failure.to_string());
                results.push(CheckResult::new("status", Some(number), vec![finding]));
            }
        }
    }
    arithmetic.finish(&mut results);

    // The directory as a whole.
    results.push(CheckResult::new(
        "business-rules",
        None,
        business_rules(&walk.customers),
    ));
    results.push(CheckResult::new(
        "duplicate-customer-id",
        None,
        duplicates(&walk.customers),
    ));

    Ok(CheckReport {
        environment,
        pages: last,
        customers: walk.customers.len() as u64,
        results,
    })
}

/// What the walk has gathered so far.
#[derive(Default)]
struct Walk {
    /// Every decoded customer with the page and index it came from.
    customers: Vec<(u64, usize, Customer)>,
}

impl Walk {
    /// Runs the per-page checks on one page that arrived.
    fn page(
        &mut self,
        page: &RawPage,
        schemas: &SpecSchemas,
        arithmetic: &mut Arithmetic,
        results: &mut Vec<CheckResult>,
    ) {
        let number = Some(page.number);
        let mut found: HashMap<&str, Vec<Finding>> = HashMap::new();

        if page.status != 200 {
            found
                .entry("status")
                .or_default()
                .push(error(".", format!("status {}, expected 200", page.status)));
        }
        if !is_json_content_type(page.content_type.as_deref()) {
            let what = match &page.content_type {
                Some(kind) => format!("content type {kind:?}, expected application/json"),
                None => "no content type, expected application/json".to_owned(),
            };
            found
                .entry("content-type")
                .or_default()
                .push(error(".", what));
        }

        // The body against the schema, as conform and then as strict.
        match serde_json::from_slice::<Value>(&page.body) {
            Ok(body) => {
                for (name, mode) in [
                    ("schema-conform", Mode::Conform),
                    ("schema-strict", Mode::Strict),
                ] {
                    let findings = schemas
                        .validate("CustomerPageEnvelope", &body, mode)
                        .unwrap_or_else(|e| vec![error(".", e.to_string())]);
                    let keep = if mode == Mode::Strict {
                        Severity::Warning
                    } else {
                        Severity::Error
                    };
                    found
                        .entry(name)
                        .or_default()
                        .extend(findings.into_iter().filter(|f| f.severity == keep));
                }
            }
            Err(e) => {
                let finding = error(".", format!("the body is not json: {e}"));
                found.entry("schema-conform").or_default().push(finding);
            }
        }

        // The generated types, and the paging contract on what they read.
        match &page.decoded {
            Ok(decoded) => {
                found
                    .entry("page-arithmetic")
                    .or_default()
                    .extend(arithmetic.accept(decoded));
                for (index, customer) in decoded.customers.iter().enumerate() {
                    self.customers.push((page.number, index, customer.clone()));
                }
            }
            Err(failure) => {
                let finding = match failure {
                    Error::Decode { path, message, .. } => error(path, message.clone()),
                    other => error(".", other.to_string()),
                };
                found.entry("decode").or_default().push(finding);
            }
        }

        for name in PAGE_CHECKS {
            // A page that did not decode gives the arithmetic nothing to
            // check: it is left out rather than reported as passed.
            if name == "page-arithmetic" && page.decoded.is_err() {
                continue;
            }
            results.push(CheckResult::new(
                name,
                number,
                found.remove(name).unwrap_or_default(),
            ));
        }
    }
}

/// The paging contract, checked page by page against page 1.
struct Arithmetic {
    asked: u64,
    /// `totalResults`, `totalPages` and size of page 1, once it decoded.
    first: Option<(u64, u64, u64)>,
    /// Customers seen on pages that decoded, and the last page's number.
    seen: u64,
    last_page: Option<u64>,
}

impl Arithmetic {
    fn new(per_page: NonZeroU32) -> Self {
        Arithmetic {
            asked: u64::from(per_page.get()),
            first: None,
            seen: 0,
            last_page: None,
        }
    }

    /// The page size the server honours: the size asked for, or, when page
    /// 1 is short but not the last, the size it capped it to.
    fn effective_size(&self) -> u64 {
        match self.first {
            Some((_, pages, size)) if pages > 1 && size > 0 && size < self.asked => size,
            _ => self.asked,
        }
    }

    fn accept(&mut self, page: &crate::Page) -> Vec<Finding> {
        let mut findings = Vec::new();
        let size = page.customers.len() as u64;
        self.seen += size;

        if u64::try_from(page.echoed_page).ok() != Some(page.number) {
            findings.push(error(
                "data.currentPage",
                format!(
                    "currentPage is {} when page {} was asked for",
                    page.echoed_page, page.number
                ),
            ));
        }
        if size > self.asked {
            findings.push(error(
                "data.results",
                format!(
                    "{size} customers when at most {} were asked for",
                    self.asked
                ),
            ));
        }

        let (total_results, total_pages, _) =
            *self
                .first
                .get_or_insert((page.total_results, page.total_pages, size));
        if page.number == 1 {
            let effective = self.effective_size();
            let expected = total_results.div_ceil(effective);
            let plausible = expected == total_pages || (total_results == 0 && total_pages <= 1);
            if !plausible {
                findings.push(error(
                    "data.totalPages",
                    format!("totalPages is {total_pages}; {total_results} customers at {effective} a page make {expected}"),
                ));
            }
            if effective < self.asked {
                findings.push(warning(
                    "data.results",
                    format!(
                        "the server caps the page size at {effective} (asked for {})",
                        self.asked
                    ),
                ));
            }
        } else {
            if page.total_results != total_results {
                findings.push(error(
                    "data.totalResults",
                    format!(
                        "totalResults is {} where page 1 said {total_results}",
                        page.total_results
                    ),
                ));
            }
            if page.total_pages != total_pages {
                findings.push(error(
                    "data.totalPages",
                    format!(
                        "totalPages is {} where page 1 said {total_pages}",
                        page.total_pages
                    ),
                ));
            }
        }
        if page.number < total_pages {
            let full = self.effective_size();
            if size < full {
                findings.push(error(
                    "data.results",
                    format!("{size} customers on a page before the last; every such page must hold {full}"),
                ));
            }
        }
        self.last_page = Some(page.number);
        findings
    }

    /// After the last page: the pages together hold `totalResults`
    /// customers. Reported on the last page's `page-arithmetic`.
    fn finish(&self, results: &mut [CheckResult]) {
        let (Some((total_results, _, _)), Some(last)) = (self.first, self.last_page) else {
            return;
        };
        if self.seen == total_results {
            return;
        }
        let target = results
            .iter_mut()
            .rev()
            .find(|r| r.name == "page-arithmetic" && r.page == Some(last));
        if let Some(result) = target {
            result.findings.push(error(
                "data.results",
                format!(
                    "the pages hold {} customers where totalResults is {total_results}",
                    self.seen
                ),
            ));
            result.findings.sort();
        }
    }
}

/// One error finding per rule problem per customer.
fn business_rules(customers: &[(u64, usize, Customer)]) -> Vec<Finding> {
    let list: Vec<Customer> = customers.iter().map(|(_, _, c)| c.clone()).collect();
    rules::check(&list)
        .into_iter()
        .zip(&list)
        .flat_map(|(problems, customer)| {
            problems.into_iter().map(move |problem| {
                error(
                    &customer.customer_code,
                    format!("{}: {problem}", problem.code()),
                )
            })
        })
        .collect()
}

/// One error finding per repeated `customerId`, at each repetition.
fn duplicates(customers: &[(u64, usize, Customer)]) -> Vec<Finding> {
    let mut first_seen: HashMap<i64, (u64, usize)> = HashMap::new();
    let mut findings = Vec::new();
    for (page, index, customer) in customers {
        match first_seen.get(&customer.customer_id) {
            Some((first_page, first_index)) => findings.push(error(
                &format!("page {page} data.results[{index}].customerId"),
                format!(
                    "customerId {} already appeared on page {first_page} at data.results[{first_index}]",
                    customer.customer_id
                ),
            )),
            None => {
                first_seen.insert(customer.customer_id, (*page, *index));
            }
        }
    }
    findings
}

fn error(path: &str, message: impl Into<String>) -> Finding {
    Finding {
        severity: Severity::Error,
        path: path.to_owned(),
        message: message.into(),
    }
}

fn warning(path: &str, message: impl Into<String>) -> Finding {
    Finding {
        severity: Severity::Warning,
        path: path.to_owned(),
        message: message.into(),
    }
}

/// `application/json`, with or without parameters, in any case.
fn is_json_content_type(value: Option<&str>) -> bool {
    value
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

impl CheckReport {
    /// Whether any check found an error.
    pub fn has_errors(&self) -> bool {
        self.results.iter().any(CheckResult::has_errors)
    }

    /// A readable account: the totals, a line per check with how many of
    /// its runs passed, warned and failed, then every error.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "check of {}: {} page(s), {} customer(s)",
            self.environment, self.pages, self.customers
        );

        // Checks in the order they first appear.
        let mut names: Vec<&str> = Vec::new();
        for result in &self.results {
            if !names.contains(&result.name.as_str()) {
                names.push(&result.name);
            }
        }
        let width = names.iter().map(|n| n.len()).max().unwrap_or(0);
        for name in names {
            let (mut pass, mut warn, mut fail) = (0, 0, 0);
            for result in self.results.iter().filter(|r| r.name == name) {
                if result.has_errors() {
                    fail += 1;
                } else if result.has_warnings() {
                    warn += 1;
                } else {
                    pass += 1;
                }
            }
            let _ = writeln!(out, "{name:<width$}  {pass} pass, {warn} warn, {fail} fail");
        }

        let errors: Vec<(String, &Finding)> = self
            .results
            .iter()
            .flat_map(|r| {
                r.findings
                    .iter()
                    .filter(|f| f.severity == Severity::Error)
                    .map(move |f| (r.label(), f))
            })
            .collect();
        if errors.is_empty() {
            out.push_str("no errors\n");
        } else {
            let _ = writeln!(out, "{} error(s):", errors.len());
            for (label, finding) in errors {
                let _ = writeln!(out, "  {label}: {}: {}", finding.path, finding.message);
            }
        }
        out
    }

    /// The report as JUnit XML: one test suite, one test case per check
    /// per page (`page-2/schema-conform`) and per directory-wide check;
    /// errors are failures, warnings go to the test case's system-out.
    pub fn to_junit(&self) -> String {
        let mut suite = TestSuite::new(format!("primo check {}", self.environment));
        for result in &self.results {
            let status = if result.has_errors() {
                let errors: Vec<String> = result
                    .findings
                    .iter()
                    .filter(|f| f.severity == Severity::Error)
                    .map(|f| format!("{}: {}", f.path, f.message))
                    .collect();
                let message = match errors.as_slice() {
                    [only] => only.clone(),
                    several => format!(
                        "{} errors; first: {}",
                        several.len(),
                        several.first().map_or("", String::as_str)
                    ),
                };
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status
                    .set_message(message)
                    .set_type(result.name.as_str())
                    .set_description(errors.join("\n"));
                status
            } else {
                TestCaseStatus::success()
            };
            let mut case = TestCase::new(result.label(), status);
            case.set_classname("primo-check");
            let warnings: Vec<String> = result
                .findings
                .iter()
                .filter(|f| f.severity == Severity::Warning)
                .map(|f| format!("warning: {}: {}", f.path, f.message))
                .collect();
            if !warnings.is_empty() {
                case.set_system_out(warnings.join("\n"));
            }
            suite.add_test_case(case);
        }
        let mut report = Report::new("primo check");
        report.add_test_suite(suite);
        report.to_string().unwrap_or_else(|_| {
            // Writing XML into memory fails only if quick-junit breaks its
            // word; a well-formed report of that failure beats a panic.
            concat!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
                "<testsuites name=\"primo check\" tests=\"1\" failures=\"1\" errors=\"0\">",
                "<testsuite name=\"primo check\" tests=\"1\" failures=\"1\" errors=\"0\">",
                "<testcase name=\"junit\"><failure message=\"the report could not be written as xml\"/></testcase>",
                "</testsuite></testsuites>\n"
            )
            .to_owned()
        })
    }
}
