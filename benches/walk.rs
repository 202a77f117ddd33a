//! Benchmarks the page walk and the page decode path against in-process sandboxes.
//!
//! `cargo bench --bench walk` prints one table, measured in one run:
//!
//! - the walk: a whole directory fetched one page at a time and then with
//!   pages in flight concurrently, from a sandbox that pauses before every
//!   answer, set against the lower bound `latency × (1 + ⌈(pages − 1) /
//!   concurrency⌉)` (page 1 alone, then full windows);
//! - the decode path: customers per second through `ConnectClient::fetch_page`
//!   against a sandbox with no added latency, set against plain `reqwest` +
//!   `serde_json::from_slice` on the same pages from the same sandbox, so the
//!   ratio isolates what the client adds (hooks, buffering, checks).
//!
//! Every figure is the best of a few runs, each with a fresh client. The
//! process exits with status 1 when a target is missed. Run without
//! `--bench` (as `cargo test --all-targets` does), it only checks that each
//! measurement works, on tiny inputs, and prints no timings.

use std::error::Error;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use primo_connect::sandbox::{Organization, Sandbox, SandboxConfig};
use primo_connect::types::CustomerPageEnvelope;
use primo_connect::{ConnectClient, Credentials, Environment, PageSource, WalkOptions};

/// The only token the sandboxes accept; the clients hold it ready.
const TOKEN: &str = "bench-token";

/// Runs of each configuration; the fastest one counts.
const RUNS: usize = 3;

/// At least this many times faster concurrently than one page at a time.
const TARGET_SPEEDUP: f64 = 5.0;

/// At most this many times the lower bound when concurrent.
const TARGET_OVER_BOUND: f64 = 1.15;

/// The client decodes at least this share of plain `serde_json`'s rate.
const TARGET_DECODE_SHARE: f64 = 0.8;

type BenchResult<T> = Result<T, Box<dyn Error>>;

/// One walk configuration; `targets` marks the one the targets apply to.
struct WalkCase {
    pages: u64,
    page_size: u32,
    latency: Duration,
    concurrency: u32,
    targets: bool,
}

/// How the decode benchmark fetches: `pages` pages of `page_size` customers.
struct DecodeCase {
    pages: u64,
    page_size: u32,
}

fn main() -> BenchResult<()> {
    let timed = std::env::args().any(|arg| arg == "--bench");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        if timed {
            run_timed().await
        } else {
            smoke().await
        }
    })
}

/// The full benchmark: prints the table and fails when a target is missed.
async fn run_timed() -> BenchResult<()> {
    let latency = Duration::from_millis(50);
    let walks = [
        WalkCase {
            pages: 50,
            page_size: 100,
            latency,
            concurrency: 8,
            targets: true,
        },
        WalkCase {
            pages: 100,
            page_size: 100,
            latency,
            concurrency: 8,
            targets: false,
        },
        WalkCase {
            pages: 100,
            page_size: 100,
            latency,
            concurrency: 16,
            targets: false,
        },
    ];
    let decode = DecodeCase {
        pages: 200,
        page_size: 1000,
    };

    println!("primo-connect benchmarks (benches/walk.rs)");
    println!("machine: {}", machine());
    println!(
        "each figure is the best of {RUNS} runs, each with a fresh client; \
         sandboxes run in this process on loopback"
    );
    println!();

    let mut table = Table::default();
    let mut sequential_cache: Vec<(u64, Duration, Duration)> = Vec::new();
    for case in &walks {
        // One-at-a-time walks of the same size and latency are the same
        // measurement: take it once.
        let known = sequential_cache
            .iter()
            .find(|(pages, latency, _)| *pages == case.pages && *latency == case.latency)
            .map(|(_, _, time)| *time);
        let (sequential, measured_now) = match known {
            Some(time) => (time, false),
            None => {
                let time = best_walk(case, 1).await?;
                sequential_cache.push((case.pages, case.latency, time));
                (time, true)
            }
        };
        let concurrent = best_walk(case, case.concurrency).await?;
        walk_rows(
            &mut table,
            case,
            measured_now.then_some(sequential),
            sequential,
            concurrent,
        );
    }
    let (client, plain) = decode_rates(&decode).await?;
    decode_rows(&mut table, &decode, client, plain);

    table.print();
    let failed = table.failures();
    println!();
    if failed > 0 {
        println!("{failed} target(s) missed");
        std::process::exit(1);
    }
    println!("all targets met");
    Ok(())
}

/// Checks each measurement runs and counts right, on tiny inputs, untimed.
async fn smoke() -> BenchResult<()> {
    let case = WalkCase {
        pages: 3,
        page_size: 10,
        latency: Duration::ZERO,
        concurrency: 2,
        targets: false,
    };
    best_walk(&case, 1).await?;
    best_walk(&case, case.concurrency).await?;
    decode_rates(&DecodeCase {
        pages: 2,
        page_size: 50,
    })
    .await?;
    println!("benches/walk.rs: smoke run passed; `cargo bench --bench walk` measures");
    Ok(())
}

/// The fastest of [`RUNS`] whole walks of `case` with `concurrency` pages in
/// flight, each with a fresh client, checked for completeness.
async fn best_walk(case: &WalkCase, concurrency: u32) -> BenchResult<Duration> {
    let customers = case.pages * u64::from(case.page_size);
    let sandbox = start_sandbox(customers, case.latency).await?;
    let options = WalkOptions {
        page_size: NonZeroU32::new(case.page_size).ok_or("page size 0")?,
        concurrency: NonZeroU32::new(concurrency).ok_or("concurrency 0")?,
        deadline: None,
    };

    let mut best = Duration::MAX;
    for run in 0..RUNS {
        let client = ConnectClient::builder(environment(&sandbox)?, Credentials::token(TOKEN))
            .walk_options(options)
            .build()?;
        let before = sandbox.requests().customers;

        let started = Instant::now();
        let directory = client.directory().await?;
        let elapsed = started.elapsed();

        // A walk that skipped, repeated or retried a page measured
        // something else.
        let requests = sandbox.requests().customers - before;
        if directory.len() as u64 != customers || requests != case.pages {
            return Err(format!(
                "walk run {run}: {} customers in {requests} requests, expected {customers} in {}",
                directory.len(),
                case.pages
            )
            .into());
        }
        best = best.min(elapsed);
    }
    sandbox.shutdown().await;
    Ok(best)
}

/// Customers per second through the client and through plain `reqwest` +
/// `serde_json`, each the best of [`RUNS`] rounds, the two alternating.
async fn decode_rates(case: &DecodeCase) -> BenchResult<(f64, f64)> {
    let customers = case.pages * u64::from(case.page_size);
    let sandbox = start_sandbox(customers, Duration::ZERO).await?;
    let per_page = NonZeroU32::new(case.page_size).ok_or("page size 0")?;
    let url = format!("{}/v1/customers", sandbox.base_url());

    // One warm-up page each, so neither side pays for the first connection.
    let client =
        ConnectClient::builder(environment(&sandbox)?, Credentials::token(TOKEN)).build()?;
    let http = reqwest::Client::new();
    client.fetch_page(1, per_page).await?;
    plain_page(&http, &url, 1, case.page_size).await?;

    let mut client_best = Duration::MAX;
    let mut plain_best = Duration::MAX;
    for _ in 0..RUNS {
        let started = Instant::now();
        let mut count = 0_u64;
        for number in 1..=case.pages {
            count += client.fetch_page(number, per_page).await?.customers.len() as u64;
        }
        client_best = client_best.min(started.elapsed());
        check_count("client", count, customers)?;

        let started = Instant::now();
        let mut count = 0_u64;
        for number in 1..=case.pages {
            count += plain_page(&http, &url, number, case.page_size).await?;
        }
        plain_best = plain_best.min(started.elapsed());
        check_count("plain", count, customers)?;
    }
    sandbox.shutdown().await;

    let rate = |time: Duration| customers as f64 / time.as_secs_f64();
    Ok((rate(client_best), rate(plain_best)))
}

/// One page the plain way: GET, whole body, `serde_json::from_slice`;
/// returns how many customers it held.
async fn plain_page(http: &reqwest::Client, url: &str, number: u64, size: u32) -> BenchResult<u64> {
    let body = http
        .get(url)
        .query(&[("currentPage", number), ("resultsPerPage", u64::from(size))])
        .bearer_auth(TOKEN)
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    let envelope: CustomerPageEnvelope = serde_json::from_slice(&body)?;
    let results = envelope
        .data
        .and_then(|data| data.results)
        .unwrap_or_default();
    Ok(results.len() as u64)
}

fn check_count(side: &str, count: u64, expected: u64) -> BenchResult<()> {
    if count == expected {
        Ok(())
    } else {
        Err(format!("decode ({side}): {count} customers, expected {expected}").into())
    }
}

/// A synthetic sandbox of `customers` that accepts only [`TOKEN`].
async fn start_sandbox(customers: u64, latency: Duration) -> BenchResult<Sandbox> {
    let config = SandboxConfig {
        organization: Organization::synthetic(customers),
        token: Some(TOKEN.to_owned()),
        latency,
        ..SandboxConfig::default()
    };
    Ok(Sandbox::start(config).await?)
}

fn environment(sandbox: &Sandbox) -> BenchResult<Environment> {
    Ok(Environment::custom(&sandbox.base_url())?)
}

/// The lower bound of a concurrent walk: page 1 alone, then the other pages
/// in full windows, each window one latency long.
fn lower_bound(case: &WalkCase) -> Duration {
    let windows = (case.pages - 1).div_ceil(u64::from(case.concurrency));
    case.latency * u32::try_from(1 + windows).unwrap_or(u32::MAX)
}

/// The rows of one walk case; `new_sequential` is the one-at-a-time time
/// when it was measured for this case rather than taken from an earlier one.
fn walk_rows(
    table: &mut Table,
    case: &WalkCase,
    new_sequential: Option<Duration>,
    sequential: Duration,
    concurrent: Duration,
) {
    let bound = lower_bound(case);
    let what = format!(
        "{} pages × {}, {} ms latency",
        case.pages,
        case.page_size,
        case.latency.as_millis()
    );
    let speedup = sequential.as_secs_f64() / concurrent.as_secs_f64();
    let over_bound = concurrent.as_secs_f64() / bound.as_secs_f64();

    if let Some(time) = new_sequential {
        table.row("walk, one page at a time", &what, millis(time), None);
    }
    let concurrent_label = format!("walk, concurrency {}", case.concurrency);
    table.row(&concurrent_label, &what, millis(concurrent), None);
    let bound_label = format!("  lower bound, concurrency {}", case.concurrency);
    table.row(&bound_label, &what, millis(bound), None);

    let (speedup_target, bound_target) = if case.targets {
        (
            Some(Target::AtLeast(TARGET_SPEEDUP, speedup)),
            Some(Target::AtMost(TARGET_OVER_BOUND, over_bound)),
        )
    } else {
        (None, None)
    };
    table.row(
        "  one at a time / concurrent",
        &what,
        times(speedup),
        speedup_target,
    );
    table.row(
        "  concurrent / lower bound",
        &what,
        times(over_bound),
        bound_target,
    );
}

fn decode_rows(table: &mut Table, case: &DecodeCase, client: f64, plain: f64) {
    let what = format!("{} pages × {}, no latency", case.pages, case.page_size);
    let share = client / plain;
    table.row(
        "decode, ConnectClient::fetch_page",
        &what,
        per_second(client),
        None,
    );
    table.row(
        "decode, reqwest + serde_json",
        &what,
        per_second(plain),
        None,
    );
    table.row(
        "  client / plain",
        &what,
        times(share),
        Some(Target::AtLeast(TARGET_DECODE_SHARE, share)),
    );
}

/// A target and the measured ratio it applies to.
#[derive(Clone, Copy)]
enum Target {
    AtLeast(f64, f64),
    AtMost(f64, f64),
}

impl Target {
    fn describe(self) -> String {
        match self {
            Target::AtLeast(limit, _) => format!("≥ {limit:.2}×"),
            Target::AtMost(limit, _) => format!("≤ {limit:.2}×"),
        }
    }

    fn met(self) -> bool {
        match self {
            Target::AtLeast(limit, value) => value >= limit,
            Target::AtMost(limit, value) => value <= limit,
        }
    }
}

/// The one table the benchmark prints.
#[derive(Default)]
struct Table {
    rows: Vec<[String; 5]>,
    failures: usize,
}

impl Table {
    fn row(
        &mut self,
        measurement: &str,
        configuration: &str,
        value: String,
        target: Option<Target>,
    ) {
        let (target_text, result) = match target {
            Some(target) if target.met() => (target.describe(), "PASS"),
            Some(target) => {
                self.failures += 1;
                (target.describe(), "FAIL")
            }
            None => (String::new(), ""),
        };
        self.rows.push([
            measurement.to_owned(),
            configuration.to_owned(),
            value,
            target_text,
            result.to_owned(),
        ]);
    }

    fn failures(&self) -> usize {
        self.failures
    }

    fn print(&self) {
        let header = [
            "measurement",
            "configuration",
            "measured",
            "target",
            "result",
        ];
        let mut widths = header.map(|h| h.chars().count());
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |cells: [&str; 5]| {
            let mut text = String::new();
            for (n, (cell, width)) in cells.iter().zip(widths).enumerate() {
                let pad = width - cell.chars().count();
                // Figures read best right-aligned, words left-aligned.
                if n == 2 {
                    text.push_str(&" ".repeat(pad));
                    text.push_str(cell);
                } else {
                    text.push_str(cell);
                    text.push_str(&" ".repeat(pad));
                }
                text.push_str("  ");
            }
            println!("{}", text.trim_end());
        };
        line(header);
        let rule = widths.map(|w| "-".repeat(w));
        line([&rule[0], &rule[1], &rule[2], &rule[3], &rule[4]]);
        for row in &self.rows {
            line([&row[0], &row[1], &row[2], &row[3], &row[4]]);
        }
    }
}

fn millis(time: Duration) -> String {
    format!("{:.0} ms", time.as_secs_f64() * 1000.0)
}

fn times(ratio: f64) -> String {
    format!("{ratio:.2}×")
}

fn per_second(rate: f64) -> String {
    // Thousands separated, for a figure that runs to six or seven digits.
    let whole = rate.round() as u64;
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (n, digit) in digits.chars().enumerate() {
        if n > 0 && (digits.len() - n).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{grouped} customers/s")
}

/// The processor count and model, as far as this system tells.
fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, name)| name.trim().to_owned())
        })
        .unwrap_or_else(|| "CPU model unknown".to_owned());
    format!(
        "{cpus} CPU(s), {model}, {} {}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}
