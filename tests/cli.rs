//! The `primo` command end to end: output formats, lookups, targets, exit
//! codes, where it talks to (flags, variables, profiles), and pipes.
#![cfg(feature = "cli")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Stdio};

use assert_cmd::Command;
use primo_connect::sandbox::{Organization, RequestCounts, Sandbox, SandboxConfig};
use serde_json::Value;
use tempfile::TempDir;

/// The variables that choose where `primo` talks to, with which
/// credentials, and how it logs; none of the caller's may reach a test.
const SCRUBBED: [&str; 7] = [
    "PRIMO_ENV",
    "PRIMO_PROFILE",
    "PRIMO_TOKEN",
    "PRIMO_CLIENT_ID",
    "PRIMO_CLIENT_SECRET",
    "PRIMO_CONFIG",
    "RUST_LOG",
];

/// How every run of the in-process sandbox starts its stderr.
const SANDBOX_NOTICE: &str = "primo: using the built-in sandbox at http://127.0.0.1:";

/// How a finished `primo` exited and what it printed.
#[derive(Debug)]
struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

/// A scratch folder with the config file `primo` reads (empty unless the
/// test writes one), so the user's own configuration cannot leak in.
struct Scratch {
    dir: TempDir,
    config: PathBuf,
}

impl Scratch {
    /// A scratch folder whose config file is empty.
    fn new() -> Scratch {
        Scratch::with_config("")
    }

    /// A scratch folder whose config file holds `text`.
    fn with_config(text: &str) -> Scratch {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let config = dir.path().join("config.toml");
        std::fs::write(&config, text).expect("the config file is written");
        Scratch { dir, config }
    }

    /// Writes a file into the scratch folder and returns its path.
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("the file is written");
        path
    }

    /// `primo` with no PRIMO_* variable from the caller and this folder's
    /// config file.
    fn primo(&self) -> Command {
        let mut command = Command::cargo_bin("primo").expect("the primo binary is built");
        for name in SCRUBBED {
            command.env_remove(name);
        }
        command
            .env("PRIMO_CONFIG", &self.config)
            .env("COLUMNS", "100")
            .current_dir(self.dir.path())
            .timeout(std::time::Duration::from_secs(60));
        command
    }

    /// The same `primo` as a plain process, for tests that hold its pipes.
    fn spawnable(&self) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_primo"));
        for name in SCRUBBED {
            command.env_remove(name);
        }
        command
            .env("PRIMO_CONFIG", &self.config)
            .env("COLUMNS", "100")
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        command
    }

    /// Runs `primo` with `args`.
    fn run(&self, args: &[&str]) -> Outcome {
        outcome(self.primo().args(args))
    }

    /// Runs `primo` with `args` and the variables `vars`.
    fn run_with(&self, vars: &[(&str, &str)], args: &[&str]) -> Outcome {
        let mut command = self.primo();
        for (name, value) in vars {
            command.env(name, value);
        }
        outcome(command.args(args))
    }
}

/// Runs a command to its end.
fn outcome(command: &mut Command) -> Outcome {
    let output = command.output().expect("primo runs");
    Outcome {
        code: output
            .status
            .code()
            .expect("primo exits with a code, not a signal"),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// A file or folder under `fixtures/`.
fn fixture_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(relative)
}

/// The anomalies data folder, as `--sandbox-data` takes it.
fn anomalies() -> String {
    fixture_path("anomalies").display().to_string()
}

/// The 23 customers of the built-in organization, in server order.
fn organization() -> Vec<Value> {
    let path = fixture_path("organization/page-size-23/page-1.json");
    let text = std::fs::read_to_string(&path).expect("the organization fixture is readable");
    let envelope: Value = serde_json::from_str(&text).expect("the fixture is JSON");
    envelope["data"]["results"]
        .as_array()
        .expect("results is an array")
        .clone()
}

/// One customer of the built-in organization.
fn customer(code: &str) -> Value {
    organization()
        .into_iter()
        .find(|c| c["customerCode"] == code)
        .unwrap_or_else(|| panic!("{code} is in the fixture"))
}

/// The `customerNumber` of a fixture customer.
fn number(customer: &Value) -> i64 {
    customer["customerNumber"]
        .as_i64()
        .expect("customerNumber is an integer")
}

/// The branches of a fixture customer.
fn branches(customer: &Value) -> Vec<Value> {
    customer["bsns"].as_array().cloned().unwrap_or_default()
}

/// The `customerBsn` of the one headquarter branch of a fixture customer.
fn headquarter_bsn(customer: &Value) -> i64 {
    let headquarters: Vec<Value> = branches(customer)
        .into_iter()
        .filter(|b| b["isHeadquarter"] == true)
        .collect();
    assert_eq!(headquarters.len(), 1, "one headquarter in {customer}");
    headquarters[0]["customerBsn"]
        .as_i64()
        .expect("customerBsn is an integer")
}

/// The `customerBsn` of the branch named `name` of a fixture customer.
fn branch_bsn(customer: &Value, name: &str) -> i64 {
    branches(customer)
        .into_iter()
        .find(|b| b["bsnName"] == name)
        .and_then(|b| b["customerBsn"].as_i64())
        .unwrap_or_else(|| panic!("{name} is a branch of {customer}"))
}

/// The `customerCode` of each customer, in order.
fn codes(customers: &[Value]) -> Vec<String> {
    customers
        .iter()
        .map(|c| {
            c["customerCode"]
                .as_str()
                .expect("customerCode is a string")
                .to_owned()
        })
        .collect()
}

/// The customer codes in the first column of a table, in order.
fn table_codes(table: &str) -> Vec<String> {
    table
        .lines()
        .filter_map(|line| line.strip_prefix("│ "))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter(|code| *code != "Code")
        .map(str::to_owned)
        .collect()
}

/// `text` with the port of every `http://127.0.0.1:PORT` replaced by
/// `PORT`, since the sandbox binds a free port.
fn mask_port(text: &str) -> String {
    const LOOPBACK: &str = "http://127.0.0.1:";
    let mut masked = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(LOOPBACK) {
        let (before, after) = rest.split_at(at + LOOPBACK.len());
        masked.push_str(before);
        masked.push_str("PORT");
        rest = after.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    masked.push_str(rest);
    masked
}

/// How many times the in-process sandbox notice appears.
fn sandbox_notices(stderr: &str) -> usize {
    stderr.matches(SANDBOX_NOTICE).count()
}

/// A sandbox served by a runtime of the test's own, alive until dropped.
struct LocalSandbox {
    // Dropped first: the stop signal goes out before the runtime ends.
    sandbox: Sandbox,
    _runtime: tokio::runtime::Runtime,
}

impl LocalSandbox {
    fn start(config: SandboxConfig) -> LocalSandbox {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let sandbox = runtime
            .block_on(Sandbox::start(config))
            .expect("the sandbox starts");
        LocalSandbox {
            sandbox,
            _runtime: runtime,
        }
    }

    fn url(&self) -> String {
        self.sandbox.base_url()
    }

    fn requests(&self) -> RequestCounts {
        self.sandbox.requests()
    }
}

/// A `primo sandbox` process, killed when dropped.
struct SandboxProcess {
    child: Child,
    // Held open: the sandbox prints more lines after the first.
    _stdout: BufReader<ChildStdout>,
    first_line: String,
}

impl SandboxProcess {
    /// Starts `primo sandbox` with `args` and reads its first line.
    fn start(scratch: &Scratch, args: &[&str]) -> SandboxProcess {
        let mut child = scratch
            .spawnable()
            .arg("sandbox")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("primo sandbox starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut first_line = String::new();
        let read = stdout.read_line(&mut first_line);
        let process = SandboxProcess {
            child,
            _stdout: stdout,
            first_line,
        };
        read.expect("a first line");
        process
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A profile `local` at `url` whose token comes from `MY_TOKEN`.
fn local_profile(url: &str, default: bool) -> String {
    let default = if default {
        "default_profile = \"local\"\n"
    } else {
        ""
    };
    format!("{default}[profiles.local]\nbase_url = \"{url}\"\ntoken_env = \"MY_TOKEN\"\n")
}

/// A loopback address where nothing answers, for profiles that must never
/// get as far as a request.
const NOWHERE: &str = "http://127.0.0.1:9";

// --- customers list -------------------------------------------------------

// The default table on the built-in sandbox shows every customer.
#[test]
fn list_table_on_the_default_sandbox() {
    let out = Scratch::new().run(&["customers", "list", "--format", "table"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(table_codes(&out.stdout), codes(&organization()));
    assert_eq!(sandbox_notices(&out.stderr), 1, "{}", out.stderr);
    insta::assert_snapshot!(out.stdout);
}

// JSON is one array of the fixture's customers, in server order, with the API's field names.
#[test]
fn list_json_is_the_fixture_in_server_order() {
    let out = Scratch::new().run(&["customers", "list", "--format", "json"]);
    assert_eq!(out.code, 0, "{out:?}");
    let listed: Vec<Value> = serde_json::from_str(&out.stdout).expect("stdout is a JSON array");
    let fixture = organization();
    assert_eq!(listed.len(), 23);
    assert_eq!(codes(&listed), codes(&fixture));
    for field in [
        "customerNumber",
        "customerCode",
        "customerName",
        "isActive",
        "bsns",
    ] {
        assert!(listed[0].get(field).is_some(), "{field} in {}", listed[0]);
    }
    assert_eq!(listed[0]["bsns"][0]["customerBsn"], 1_237_101_834_i64);
    // Every value survives the trip through the typed client.
    assert_eq!(listed, fixture);
    assert_eq!(sandbox_notices(&out.stderr), 1, "{}", out.stderr);
}

// JSON lines: one parseable customer per line, 23 lines, in server order.
#[test]
fn list_jsonl_has_one_customer_per_line() {
    let out = Scratch::new().run(&["customers", "list", "--format", "jsonl"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.ends_with('\n'));
    let listed: Vec<Value> = out
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect();
    assert_eq!(listed.len(), 23);
    assert_eq!(codes(&listed), codes(&organization()));
    assert_eq!(sandbox_notices(&out.stderr), 1, "{}", out.stderr);
}

// With stdout not a terminal, the default format is JSON lines.
#[test]
fn list_defaults_to_jsonl_off_a_terminal() {
    let scratch = Scratch::new();
    let default = scratch.run(&["customers", "list"]);
    let jsonl = scratch.run(&["customers", "list", "--format", "jsonl"]);
    assert_eq!(default.code, 0, "{default:?}");
    assert_eq!(default.stdout, jsonl.stdout);
}

// CSV: a header and one row per branch, the customer repeated; a comma in a name is quoted.
#[test]
fn list_csv_has_one_row_per_branch() {
    let out = Scratch::new().run(&["customers", "list", "--format", "csv"]);
    assert_eq!(out.code, 0, "{out:?}");
    let fixture = organization();
    let total_branches: usize = fixture.iter().map(|c| branches(c).len()).sum();
    assert_eq!(total_branches, 38);

    let mut reader = csv::Reader::from_reader(out.stdout.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("a header")
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        header,
        [
            "customerCode",
            "customerName",
            "customerNumber",
            "isActive",
            "customerId",
            "customerBsn",
            "bsnName",
            "isHeadquarter"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a CSV row")).collect();
    assert_eq!(rows.len(), total_branches);

    // Rows follow the fixture: customers in order, branches in order.
    let expected: Vec<(String, String)> = fixture
        .iter()
        .flat_map(|c| {
            branches(c).into_iter().map(move |b| {
                (
                    c["customerCode"].as_str().unwrap().to_owned(),
                    b["customerBsn"].to_string(),
                )
            })
        })
        .collect();
    let actual: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r[0].to_owned(), r[5].to_owned()))
        .collect();
    assert_eq!(actual, expected);

    let c00005 = "C00005,\"Smith, Jones & Co. Freight\",122235102437,true,412389,123710321879,\
                  \"Smith, Jones & Co. Freight HQ\",true";
    assert!(
        out.stdout.lines().any(|line| line == c00005),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("Müller Spedition GmbH"));
}

// --active-only drops the three inactive customers.
#[test]
fn list_active_only_drops_inactive_customers() {
    let out = Scratch::new().run(&["customers", "list", "--format", "json", "--active-only"]);
    assert_eq!(out.code, 0, "{out:?}");
    let listed: Vec<Value> = serde_json::from_str(&out.stdout).expect("stdout is a JSON array");
    assert_eq!(listed.len(), 20);
    let listed = codes(&listed);
    for inactive in ["C00007", "C00012", "C00017"] {
        assert!(
            !listed.iter().any(|c| c == inactive),
            "{inactive} is listed"
        );
    }
    let expected: Vec<String> = codes(
        &organization()
            .into_iter()
            .filter(|c| c["isActive"] == true)
            .collect::<Vec<_>>(),
    );
    assert_eq!(listed, expected);
}

// --- customers find / show ------------------------------------------------

// `find` matches names and codes ignoring case, in server order.
#[test]
fn find_ignores_case() {
    let scratch = Scratch::new();
    let out = scratch.run(&["customers", "find", "ridge"]);
    assert_eq!(out.code, 0, "{out:?}");
    let expected: Vec<String> = codes(
        &organization()
            .into_iter()
            .filter(|c| {
                c["customerName"]
                    .as_str()
                    .unwrap()
                    .to_lowercase()
                    .contains("ridge")
            })
            .collect::<Vec<_>>(),
    );
    assert_eq!(expected, ["C00003", "C00020"]);
    assert_eq!(table_codes(&out.stdout), expected);
    assert!(
        out.stdout.contains("Blue Ridge Foods") && out.stdout.contains("Canyon Ridge Plastics")
    );

    let upper = scratch.run(&["customers", "find", "RIDGE"]);
    assert_eq!(upper.code, 0, "{upper:?}");
    assert_eq!(upper.stdout, out.stdout);
}

// `find` with no match exits 4.
#[test]
fn find_without_a_match_exits_4() {
    let out = Scratch::new().run(&["customers", "find", "zeppelin"]);
    assert_eq!(out.code, 4, "{out:?}");
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains("\"zeppelin\""), "{}", out.stderr);
}

// `show` prints a customer's branches and marks its headquarter (not the first branch).
#[test]
fn show_marks_the_headquarter() {
    let out = Scratch::new().run(&["customers", "show", "C00003"]);
    assert_eq!(out.code, 0, "{out:?}");
    let hq = headquarter_bsn(&customer("C00003"));
    assert!(
        out.stdout.lines().any(|l| l.contains(&hq.to_string())
            && l.contains("Blue Ridge Foods HQ")
            && l.contains("yes")),
        "{}",
        out.stdout
    );
    insta::assert_snapshot!(out.stdout);
}

// `show` finds the same customer by code, by customerNumber and by exact name.
#[test]
fn show_by_number_and_by_name() {
    let scratch = Scratch::new();
    let by_code = scratch.run(&["customers", "show", "C00003"]);
    let by_number = scratch.run(&["customers", "show", "122235102433"]);
    let by_name = scratch.run(&["customers", "show", "Blue Ridge Foods"]);
    assert_eq!(by_code.code, 0, "{by_code:?}");
    assert_eq!(by_number.stdout, by_code.stdout);
    assert_eq!(by_name.stdout, by_code.stdout);
}

// `show` of an unknown customer exits 4 and names the query.
#[test]
fn show_unknown_customer_exits_4() {
    let out = Scratch::new().run(&["customers", "show", "C99999"]);
    assert_eq!(out.code, 4, "{out:?}");
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains("no customer matches \"C99999\""),
        "{}",
        out.stderr
    );
}

// --- target ---------------------------------------------------------------

// A quote takes the headquarter's customerBsn, printed as exact JSON.
#[test]
fn target_quote_prints_the_headquarter_bsn() {
    let out = Scratch::new().run(&["target", "quote", "C00001"]);
    assert_eq!(out.code, 0, "{out:?}");
    let hq = headquarter_bsn(&customer("C00001"));
    assert_eq!(out.stdout, format!("{{\"customerBsn\":{hq}}}\n"));
    assert_eq!(out.stdout, "{\"customerBsn\":1237101834}\n");
}

// A booking takes customerNumber and the headquarter's customerBsn; stderr names the environment.
#[test]
fn target_booking_prints_number_and_bsn() {
    let out = Scratch::new().run(&["target", "booking", "C00003"]);
    assert_eq!(out.code, 0, "{out:?}");
    let c00003 = customer("C00003");
    assert_eq!(
        out.stdout,
        format!(
            "{{\"customerNumber\":{},\"customerBsn\":{}}}\n",
            number(&c00003),
            headquarter_bsn(&c00003)
        )
    );
    assert_eq!(
        out.stdout,
        "{\"customerNumber\":122235102433,\"customerBsn\":123710321876}\n"
    );
    assert_eq!(sandbox_notices(&out.stderr), 1, "{}", out.stderr);
    assert!(
        mask_port(&out.stderr).contains(
            "primo: identifiers from sandbox (http://127.0.0.1:PORT): valid there only\n"
        ),
        "{}",
        out.stderr
    );
}

// A branch named by bsnName or by customerBsn gives that branch's bsn.
#[test]
fn target_named_branch_by_name_and_by_bsn() {
    let scratch = Scratch::new();
    let c00001 = customer("C00001");
    let ks = branch_bsn(&c00001, "CustomerExample - KS");
    let expected = format!("{{\"customerBsn\":{ks}}}\n");

    let by_name = scratch.run(&[
        "target",
        "quote",
        "C00001",
        "--branch",
        "CustomerExample - KS",
    ]);
    assert_eq!(by_name.code, 0, "{by_name:?}");
    assert_eq!(by_name.stdout, expected);

    let by_bsn = scratch.run(&["target", "quote", "C00001", "--branch", &ks.to_string()]);
    assert_eq!(by_bsn.code, 0, "{by_bsn:?}");
    assert_eq!(by_bsn.stdout, expected);

    let booking = scratch.run(&[
        "target",
        "booking",
        "C00001",
        "--branch",
        "customerexample - ks",
    ]);
    assert_eq!(booking.code, 0, "{booking:?}");
    assert_eq!(
        booking.stdout,
        format!(
            "{{\"customerNumber\":{},\"customerBsn\":{ks}}}\n",
            number(&c00001)
        )
    );
}

// An inactive customer is refused with exit 3 and nothing on stdout.
#[test]
fn target_inactive_customer_exits_3() {
    let scratch = Scratch::new();
    for kind in ["quote", "booking"] {
        let out = scratch.run(&["target", kind, "C00007"]);
        assert_eq!(out.code, 3, "{out:?}");
        assert_eq!(out.stdout, "");
        assert!(
            out.stderr.contains("C00007") && out.stderr.contains("inactive"),
            "{}",
            out.stderr
        );
    }
}

// An unknown customer, or an unknown branch of a known one, exits 4.
#[test]
fn target_not_found_exits_4() {
    let scratch = Scratch::new();
    let customer = scratch.run(&["target", "quote", "C99999"]);
    assert_eq!(customer.code, 4, "{customer:?}");
    assert_eq!(customer.stdout, "");

    let branch = scratch.run(&[
        "target",
        "quote",
        "C00001",
        "--branch",
        "CustomerExample - TX",
    ]);
    assert_eq!(branch.code, 4, "{branch:?}");
    assert_eq!(branch.stdout, "");
    assert!(
        branch.stderr.contains("CustomerExample - TX"),
        "{}",
        branch.stderr
    );
}

// `--lenient` without `--branch` is a usage error.
#[test]
fn target_lenient_requires_branch() {
    let out = Scratch::new().run(&["target", "quote", "C00001", "--lenient"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--branch"), "{}", out.stderr);
}

// --- the anomalies data folder -----------------------------------------------

// Two headquarters: the default branch is refused with exit 3.
#[test]
fn anomalies_two_headquarters_refused() {
    let out = Scratch::new().run(&[
        "--sandbox-data",
        &anomalies(),
        "target",
        "booking",
        "A00001",
    ]);
    assert_eq!(out.code, 3, "{out:?}");
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains("2 headquarter branches"),
        "{}",
        out.stderr
    );
}

// Two headquarters: an explicitly named branch is accepted with --lenient only.
#[test]
fn anomalies_named_branch_accepted_when_lenient() {
    let scratch = Scratch::new();
    let data = anomalies();
    let lenient = scratch.run(&[
        "--sandbox-data",
        &data,
        "target",
        "booking",
        "A00001",
        "--branch",
        "Twin Peaks Haulage - Boise",
        "--lenient",
    ]);
    assert_eq!(lenient.code, 0, "{lenient:?}");
    assert_eq!(
        lenient.stdout,
        "{\"customerNumber\":900000000001,\"customerBsn\":910000000003}\n"
    );

    let strict = scratch.run(&[
        "--sandbox-data",
        &data,
        "target",
        "booking",
        "A00001",
        "--branch",
        "Twin Peaks Haulage - Boise",
    ]);
    assert_eq!(strict.code, 3, "{strict:?}");
    assert_eq!(strict.stdout, "");
}

// A shared customerBsn is refused even with --lenient and a named branch.
#[test]
fn anomalies_shared_bsn_never_lenient() {
    let out = Scratch::new().run(&[
        "--sandbox-data",
        &anomalies(),
        "target",
        "quote",
        "A00006",
        "--branch",
        "Shared Dock East HQ",
        "--lenient",
    ]);
    assert_eq!(out.code, 3, "{out:?}");
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains("910000000099") && out.stderr.contains("A00007"),
        "{}",
        out.stderr
    );
}

// A customerNumber held by two customers is ambiguous: exit 4, both listed.
#[test]
fn anomalies_shared_number_is_ambiguous() {
    let out = Scratch::new().run(&[
        "--sandbox-data",
        &anomalies(),
        "target",
        "quote",
        "900000000099",
    ]);
    assert_eq!(out.code, 4, "{out:?}");
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains("ambiguous"), "{}", out.stderr);
    assert!(
        out.stderr.contains("A00008") && out.stderr.contains("A00009"),
        "{}",
        out.stderr
    );
}

// A customer without branches or without a headquarter is refused.
#[test]
fn anomalies_missing_branches_refused() {
    let scratch = Scratch::new();
    for code in ["A00003", "A00004", "A00005"] {
        let out = scratch.run(&["--sandbox-data", &anomalies(), "target", "quote", code]);
        assert_eq!(out.code, 3, "{code}: {out:?}");
        assert_eq!(out.stdout, "");
    }
}

// The table of the anomalies folder shows every customer's problems.
#[test]
fn anomalies_table_shows_problems() {
    let out = Scratch::new().run(&[
        "--sandbox-data",
        &anomalies(),
        "customers",
        "list",
        "--format",
        "table",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    // Files join in file-name order.
    assert_eq!(
        table_codes(&out.stdout),
        [
            "A00004", "A00005", "A00003", "A00006", "A00007", "A00008", "A00009", "A00001",
            "A00002"
        ]
    );
    insta::assert_snapshot!(out.stdout);
}

// --- usage and configuration errors (exit 2) --------------------------------

// An unknown --format value is a usage error naming the choices.
#[test]
fn bad_format_exits_2() {
    let out = Scratch::new().run(&["customers", "list", "--format", "xml"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains("'xml'") && out.stderr.contains("jsonl"),
        "{}",
        out.stderr
    );
}

// Zero pages, attempts or concurrency are refused by name.
#[test]
fn zero_counts_exit_2() {
    let scratch = Scratch::new();
    for flag in ["--page-size", "--retries", "--concurrency"] {
        let out = scratch.run(&[flag, "0", "customers", "list"]);
        assert_eq!(out.code, 2, "{flag}: {out:?}");
        assert_eq!(out.stdout, "");
        assert!(out.stderr.contains(flag), "{flag}: {}", out.stderr);
    }
}

// An unknown environment name is a usage error, from the flag or PRIMO_ENV.
#[test]
fn unknown_env_exits_2() {
    let scratch = Scratch::new();
    let flag = scratch.run(&["--env", "staging", "customers", "list"]);
    assert_eq!(flag.code, 2, "{flag:?}");
    assert!(flag.stderr.contains("staging"), "{}", flag.stderr);

    let var = scratch.run_with(&[("PRIMO_ENV", "staging")], &["customers", "list"]);
    assert_eq!(var.code, 2, "{var:?}");
    assert!(var.stderr.contains("staging"), "{}", var.stderr);
}

// A malformed --base-url exits 2 with a message naming the value.
#[test]
fn bad_base_url_exits_2() {
    let scratch = Scratch::new();
    for url in ["not-a-url", "ftp://example.com"] {
        let out = scratch.run_with(
            &[("PRIMO_TOKEN", "t")],
            &["--base-url", url, "customers", "list"],
        );
        assert_eq!(out.code, 2, "{url}: {out:?}");
        assert!(out.stderr.contains(&format!("\"{url}\"")), "{}", out.stderr);
    }
}

// Credentials without a chosen environment exit 2, asking for --env without echoing the token.
#[test]
fn credentials_without_env_exit_2() {
    let scratch = Scratch::new();
    let out = scratch.run_with(&[("PRIMO_TOKEN", "abc")], &["customers", "list"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains("--env"), "{}", out.stderr);
    assert!(!out.stderr.contains("abc"), "{}", out.stderr);
    assert_eq!(sandbox_notices(&out.stderr), 0, "{}", out.stderr);

    let client = scratch.run_with(
        &[
            ("PRIMO_CLIENT_ID", "id-4711"),
            ("PRIMO_CLIENT_SECRET", "secret-4711"),
        ],
        &["target", "quote", "C00001"],
    );
    assert_eq!(client.code, 2, "{client:?}");
    assert!(client.stderr.contains("--env"), "{}", client.stderr);
    assert!(!client.stderr.contains("4711"), "{}", client.stderr);
}

// Half of the client credentials is a configuration error.
#[test]
fn half_client_credentials_exit_2() {
    let out = Scratch::new().run_with(&[("PRIMO_CLIENT_ID", "id-4711")], &["customers", "list"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("PRIMO_CLIENT_SECRET"), "{}", out.stderr);
}

// Credentials are refused over plain http to a host that is not loopback, before any request.
#[test]
fn credentials_over_plain_http_exit_2() {
    let out = Scratch::new().run_with(
        &[("PRIMO_TOKEN", "abc")],
        &[
            "--base-url",
            "http://10.1.2.3",
            "--connect-timeout",
            "60",
            "target",
            "quote",
            "C00001",
        ],
    );
    // A request would have failed with exit 1, or hung for a minute.
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains("plain http") && out.stderr.contains("10.1.2.3"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("abc"), "{}", out.stderr);
}

// A config file PRIMO_CONFIG names but which does not exist exits 2 naming it.
#[test]
fn missing_named_config_exits_2() {
    let scratch = Scratch::new();
    let missing = scratch.dir.path().join("missing.toml");
    let out = outcome(
        scratch
            .primo()
            .env("PRIMO_CONFIG", &missing)
            .args(["customers", "list"]),
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains(&missing.display().to_string()),
        "{}",
        out.stderr
    );
}

// An unknown --profile exits 2 naming the profile and the file.
#[test]
fn unknown_profile_exits_2() {
    let scratch = Scratch::with_config(&local_profile(NOWHERE, false));
    let out = scratch.run(&["--profile", "nope", "customers", "list"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("\"nope\""), "{}", out.stderr);
    assert!(
        out.stderr.contains(&scratch.config.display().to_string()),
        "{}",
        out.stderr
    );
}

// A plaintext secret in the config file exits 2 without printing it.
#[test]
fn plaintext_secret_exits_2() {
    let scratch = Scratch::with_config(&format!(
        "[profiles.dev]\nbase_url = \"{NOWHERE}\"\nclient_id = \"me\"\nsecret = \"hunter2-plain\"\n"
    ));
    let out = scratch.run(&["--profile", "dev", "customers", "list"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("plain text"), "{}", out.stderr);
    assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);
}

// A secret_file others may read exits 2 naming the file, not its content.
#[cfg(unix)]
#[test]
fn readable_secret_file_exits_2() {
    use std::os::unix::fs::PermissionsExt;

    let scratch = Scratch::new();
    let secret = scratch.file("secret.txt", "s3cret-file-value\n");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).expect("chmod 644");
    std::fs::write(
        &scratch.config,
        format!(
            "[profiles.dev]\nbase_url = \"{NOWHERE}\"\nclient_id = \"me\"\nsecret_file = \"{}\"\n",
            secret.display()
        ),
    )
    .expect("the config file is written");

    let out = scratch.run(&["--profile", "dev", "customers", "list"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains(&secret.display().to_string()),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("644"), "{}", out.stderr);
    assert!(!out.stderr.contains("s3cret"), "{}", out.stderr);
}

// A token_env that is not set exits 2 naming the profile and the variable.
// Fails today: config.rs `Profile::token` passes "" as the profile name.
#[test]
fn unset_token_env_names_the_profile() {
    let scratch = Scratch::with_config(&local_profile(NOWHERE, false));
    let out = scratch.run(&["--profile", "local", "customers", "list"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("MY_TOKEN"), "{}", out.stderr);
    assert!(out.stderr.contains("profile \"local\""), "{}", out.stderr);
}

// A malformed config file exits 2 naming the file.
#[test]
fn malformed_config_exits_2() {
    let scratch = Scratch::with_config("[profiles.dev\nenv = \n");
    let out = scratch.run(&["customers", "list"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains(&scratch.config.display().to_string()),
        "{}",
        out.stderr
    );
}

// --- profiles --------------------------------------------------------------

// A named profile points at its server with its token; no sandbox notice.
#[test]
fn profile_base_url_and_token_env() {
    let local = LocalSandbox::start(SandboxConfig {
        token: Some("profile-token".into()),
        ..SandboxConfig::default()
    });
    let scratch = Scratch::with_config(&local_profile(&local.url(), false));
    let out = scratch.run_with(
        &[("MY_TOKEN", "profile-token")],
        &["--profile", "local", "target", "quote", "C00001"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, "{\"customerBsn\":1237101834}\n");
    assert_eq!(sandbox_notices(&out.stderr), 0, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        format!(
            "primo: identifiers from {}/: valid there only\n",
            local.url()
        )
    );
    assert_eq!(
        local.requests(),
        RequestCounts {
            total: 1,
            customers: 1,
            login: 0
        }
    );
}

// PRIMO_PROFILE names the profile as --profile does.
#[test]
fn profile_from_primo_profile() {
    let local = LocalSandbox::start(SandboxConfig {
        token: Some("profile-token".into()),
        ..SandboxConfig::default()
    });
    let scratch = Scratch::with_config(&local_profile(&local.url(), false));
    let out = scratch.run_with(
        &[("MY_TOKEN", "profile-token"), ("PRIMO_PROFILE", "local")],
        &["target", "quote", "C00001"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, "{\"customerBsn\":1237101834}\n");
    assert_eq!(local.requests().customers, 1);
}

// PRIMO_TOKEN beats the profile's token: a wrong one gets a 401, exit 1.
#[test]
fn primo_token_beats_the_profile() {
    let local = LocalSandbox::start(SandboxConfig {
        token: Some("profile-token".into()),
        ..SandboxConfig::default()
    });
    let scratch = Scratch::with_config(&local_profile(&local.url(), false));
    let out = scratch.run_with(
        &[("MY_TOKEN", "profile-token"), ("PRIMO_TOKEN", "wrong")],
        &["--profile", "local", "target", "quote", "C00001"],
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains("401"), "{}", out.stderr);
    assert!(
        !out.stderr.contains("wrong") && !out.stderr.contains("profile-token"),
        "{}",
        out.stderr
    );
    assert_eq!(local.requests().login, 0);
}

// The file's default profile also replaces the built-in sandbox.
#[test]
fn default_profile_turns_the_sandbox_off() {
    let local = LocalSandbox::start(SandboxConfig {
        token: Some("profile-token".into()),
        ..SandboxConfig::default()
    });
    let scratch = Scratch::with_config(&local_profile(&local.url(), true));
    let out = scratch.run_with(
        &[("MY_TOKEN", "profile-token")],
        &["customers", "list", "--format", "jsonl"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout.lines().count(), 23);
    assert_eq!(out.stderr, "");
    assert_eq!(local.requests().customers, 1);
}

// --env sandbox beats the profile: the profile's server gets no request.
#[test]
fn env_sandbox_beats_the_profile() {
    let local = LocalSandbox::start(SandboxConfig {
        token: Some("profile-token".into()),
        ..SandboxConfig::default()
    });
    let scratch = Scratch::with_config(&local_profile(&local.url(), true));
    let out = scratch.run_with(
        &[("MY_TOKEN", "profile-token")],
        &[
            "--env",
            "sandbox",
            "--profile",
            "local",
            "target",
            "quote",
            "C00001",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, "{\"customerBsn\":1237101834}\n");
    assert_eq!(sandbox_notices(&out.stderr), 1, "{}", out.stderr);
    assert_eq!(local.requests().total, 0);
}

// --env sandbox needs no credentials, so a default profile's unset variable does not matter.
// Fails today: connect.rs reads the profile's credentials before it knows the sandbox is chosen.
#[test]
fn env_sandbox_ignores_the_profile_credentials() {
    let scratch = Scratch::with_config(&local_profile(NOWHERE, true));
    let out = scratch.run(&["--env", "sandbox", "target", "quote", "C00001"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, "{\"customerBsn\":1237101834}\n");
}

// The sandbox notice does not claim that no --env was chosen when --env sandbox was.
// Fails today: connect.rs `start_sandbox` prints one fixed reason.
#[test]
fn env_sandbox_notice_tells_the_truth() {
    let out = Scratch::new().run(&["--env", "sandbox", "target", "quote", "C00001"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(sandbox_notices(&out.stderr), 1, "{}", out.stderr);
    assert!(!out.stderr.contains("no --env chosen"), "{}", out.stderr);
}

// --- a standalone `primo sandbox` --------------------------------------------

// `primo sandbox --port 0 --token T` serves on a real port; T works, another token exits 1.
#[test]
fn standalone_sandbox_with_a_token() {
    let scratch = Scratch::new();
    let process = SandboxProcess::start(&scratch, &["--port", "0", "--token", "T"]);
    let line = process.first_line.trim_end();
    let url = line
        .strip_prefix("sandbox serving 23 customers at ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    let port: u16 = url
        .strip_prefix("http://127.0.0.1:")
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("no loopback port in {url:?}"));
    assert_ne!(port, 0, "--port 0 must print the port it bound");

    let good = scratch.run_with(
        &[("PRIMO_TOKEN", "T")],
        &["--base-url", &url, "customers", "list", "--format", "json"],
    );
    assert_eq!(good.code, 0, "{good:?}");
    let listed: Vec<Value> = serde_json::from_str(&good.stdout).expect("a JSON array");
    assert_eq!(codes(&listed), codes(&organization()));
    assert_eq!(good.stderr, "");

    let bad = scratch.run_with(
        &[("PRIMO_TOKEN", "not-T")],
        &["--base-url", &url, "customers", "list", "--format", "json"],
    );
    assert_eq!(bad.code, 1, "{bad:?}");
    assert_eq!(bad.stdout, "");
    assert!(bad.stderr.contains("401"), "{}", bad.stderr);
    assert!(!bad.stderr.contains("not-T"), "{}", bad.stderr);
}

// --- pipes, progress and quiet ----------------------------------------------

/// Runs `primo` with its stdout read for one line and then closed; returns
/// the exit code, the line and stderr.
fn read_one_line_then_close(command: &mut std::process::Command) -> (Option<i32>, String, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("primo starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("one line");
    drop(stdout);
    let output = child.wait_with_output().expect("primo ends");
    (
        output.status.code(),
        line,
        String::from_utf8(output.stderr).expect("UTF-8 stderr"),
    )
}

// A reader that goes away after one line is not an error, on the default sandbox.
#[test]
fn closed_stdout_on_the_default_sandbox() {
    let scratch = Scratch::new();
    for (format, first) in [
        ("jsonl", "{\"bsns\":"),
        ("csv", "customerCode,customerName,"),
    ] {
        let mut command = scratch.spawnable();
        command.args(["customers", "list", "--format", format]);
        let (code, line, stderr) = read_one_line_then_close(&mut command);
        assert_eq!(code, Some(0), "{format}: {stderr}");
        assert!(line.starts_with(first), "{format}: {line}");
        assert!(
            !stderr.contains("error") && !stderr.contains("panicked"),
            "{format}: {stderr}"
        );
    }
}

/// Lists 5000 synthetic customers in `format` to a reader that goes away
/// after one line, so that a write really fails; returns the exit code and
/// stderr.
fn close_a_long_listing(format: &str) -> (Option<i32>, String) {
    let big = LocalSandbox::start(SandboxConfig {
        organization: Organization::synthetic(5_000),
        ..SandboxConfig::default()
    });
    let scratch = Scratch::new();
    let mut command = scratch.spawnable();
    command.env("PRIMO_TOKEN", "t").args([
        "--base-url",
        &big.url(),
        "customers",
        "list",
        "--format",
        format,
    ]);
    let (code, _line, stderr) = read_one_line_then_close(&mut command);
    (code, stderr)
}

// A long listing whose reader goes away is not an error, in every
// streaming format (csv once hid the closed pipe inside its own error).
#[test]
fn closed_stdout_on_a_long_listing() {
    for format in ["jsonl", "json", "csv"] {
        let (code, stderr) = close_a_long_listing(format);
        assert_eq!(code, Some(0), "{format}: {stderr}");
        assert!(
            !stderr.contains("error") && !stderr.contains("panicked"),
            "{format}: {stderr}"
        );
    }
}

// --progress always draws on stderr even when it is not a terminal.
#[test]
fn progress_always_draws() {
    let out = Scratch::new().run(&[
        "--progress",
        "always",
        "customers",
        "list",
        "--format",
        "jsonl",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout.lines().count(), 23);
    assert!(out.stderr.contains("page"), "{:?}", out.stderr);
}

// --progress auto off a terminal prints the sandbox notice and nothing else.
#[test]
fn progress_auto_is_silent_off_a_terminal() {
    let out = Scratch::new().run(&[
        "--progress",
        "auto",
        "customers",
        "list",
        "--format",
        "jsonl",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "{:?}", out.stderr);
    assert!(out.stderr.starts_with(SANDBOX_NOTICE), "{:?}", out.stderr);
    assert!(out.stderr.ends_with('\n'));
}

// --quiet prints nothing on stderr, even with --progress always, and keeps stdout.
#[test]
fn quiet_prints_nothing_on_stderr() {
    let scratch = Scratch::new();
    let list = scratch.run(&[
        "--quiet",
        "--progress",
        "always",
        "customers",
        "list",
        "--format",
        "jsonl",
    ]);
    assert_eq!(list.code, 0, "{list:?}");
    assert_eq!(list.stdout.lines().count(), 23);
    assert_eq!(list.stderr, "");

    let target = scratch.run(&["-q", "target", "quote", "C00001"]);
    assert_eq!(target.code, 0, "{target:?}");
    assert_eq!(target.stdout, "{\"customerBsn\":1237101834}\n");
    assert_eq!(target.stderr, "");
}

// --quiet still prints errors.
#[test]
fn quiet_still_prints_errors() {
    let out = Scratch::new().run(&["--quiet", "target", "quote", "C00007"]);
    assert_eq!(out.code, 3, "{out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "{:?}", out.stderr);
    assert!(out.stderr.starts_with("primo: error: "), "{:?}", out.stderr);
}

// A listing that streams cannot take back what it wrote: when the data
// moves after page 1, primo exits 1 and says the output is incomplete.
#[test]
fn streamed_output_is_flagged_incomplete_when_the_data_moves() {
    let server = httpmock::MockServer::start();
    let page = |n: u32| {
        let text = std::fs::read_to_string(fixture_path(&format!(
            "organization/page-size-10/page-{n}.json"
        )))
        .expect("the page fixture is readable");
        serde_json::from_str::<Value>(&text).expect("the page is JSON")
    };
    let first = server.mock(|when, then| {
        when.path("/v1/customers").query_param("currentPage", "1");
        then.status(200).json_body(page(1));
    });
    // Page 2 says a customer was added since page 1.
    let mut moved = page(2);
    moved["data"]["totalResults"] = 24.into();
    let second = server.mock(|when, then| {
        when.path("/v1/customers").query_param("currentPage", "2");
        then.status(200).json_body(moved);
    });

    let out = Scratch::new().run_with(
        &[("PRIMO_TOKEN", "t")],
        &[
            "--base-url",
            &server.base_url(),
            "--page-size",
            "10",
            "--concurrency",
            "1",
            "--retries",
            "1",
            "customers",
            "list",
            "--format",
            "jsonl",
        ],
    );

    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 10);
    assert!(
        out.stderr.contains("totalResults went from 23 to 24"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("the output is incomplete"),
        "{}",
        out.stderr
    );
    first.assert_calls(1);
    second.assert_calls(1);
}

// Counts and seconds below 1 are usage errors that say what is allowed,
// negative ones included.
#[test]
fn counts_and_seconds_must_be_at_least_one() {
    let scratch = Scratch::new();
    for args in [
        ["--timeout", "0"],
        ["--connect-timeout", "0"],
        ["--deadline", "0"],
        ["--page-size", "-5"],
        ["--retries", "0"],
    ] {
        let out = scratch.run(&[args[0], args[1], "customers", "list"]);
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert!(
            out.stderr
                .contains(&format!("{} is not allowed: it must be 1 or more", args[1])),
            "{args:?}: {}",
            out.stderr
        );
    }
}

// An empty PRIMO_ENV or PRIMO_PROFILE, as an unset CI variable often is,
// counts as unset: the sandbox default still applies.
#[test]
fn empty_environment_variables_count_as_unset() {
    let out = Scratch::new().run_with(
        &[("PRIMO_ENV", ""), ("PRIMO_PROFILE", " ")],
        &["target", "quote", "C00001"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, "{\"customerBsn\":1237101834}\n");
    assert!(out.stderr.starts_with(SANDBOX_NOTICE), "{}", out.stderr);
}

// A profile that names both env and base_url is a configuration error
// naming the profile.
#[test]
fn a_profile_with_both_env_and_base_url_is_refused() {
    let scratch = Scratch::with_config(
        "[profiles.both]\nenv = \"production\"\nbase_url = \"http://127.0.0.1:9\"\ntoken_env = \"T\"\n",
    );
    let out = scratch.run(&["--profile", "both", "customers", "list"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("profile \"both\"") && out.stderr.contains("both env and base_url"),
        "{}",
        out.stderr
    );
}

// A connection that cannot be made names where it was going.
#[test]
fn a_connection_failure_names_the_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let out = Scratch::new().run_with(
        &[("PRIMO_TOKEN", "t")],
        &["--base-url", &url, "--retries", "1", "customers", "list"],
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains(&format!(
            "page 1: connection failed after 1 attempt(s) ({url}/v1/customers)"
        )),
        "{}",
        out.stderr
    );
}
