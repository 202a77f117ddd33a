//! The `primo` command against a sandbox, at `-vv` with `RUST_LOG=trace`:
//! neither stdout nor stderr ever holds the token or the secret, on success
//! or failure, while the per-request debug lines show logging was on.
#![cfg(feature = "cli")]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use primo_connect::sandbox::{FaultPlan, FaultStep, RequestCounts, Sandbox, SandboxConfig};
use serde_json::Value;

/// The one token the sandbox accepts, and the one its login hands out.
const TOKEN: &str = "tok-Leak-Probe-456";

/// A token the sandbox refuses.
const WRONG_TOKEN: &str = "tok-Wrong-Probe-789";

const CLIENT_ID: &str = "leak-test-client";
const SECRET: &str = "S3cr3t-Leak-Probe-123";

/// What must never be printed; the client id is no secret, but the crate
/// keeps it out of logs all the same.
const SECRETS: [&str; 4] = [TOKEN, WRONG_TOKEN, SECRET, CLIENT_ID];

/// How the command proves who it is.
#[derive(Clone, Copy)]
enum Auth {
    /// `PRIMO_CLIENT_ID` and `PRIMO_CLIENT_SECRET`.
    Client,
    /// `PRIMO_TOKEN`.
    Token(&'static str),
}

/// What one run of `primo` left behind.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// A sandbox accepting only [`TOKEN`], with `faults`.
async fn sandbox(faults: FaultPlan) -> Sandbox {
    Sandbox::start(SandboxConfig {
        token: Some(TOKEN.to_owned()),
        faults,
        ..SandboxConfig::default()
    })
    .await
    .expect("the sandbox starts")
}

/// An empty config file, so that no profile of the machine's applies. (A
/// `PRIMO_CONFIG` naming a missing file is a configuration error, exit 2.)
fn empty_config() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, "").expect("the config file is written");
    (dir, path)
}

/// Runs `primo -vv --base-url URL ARGS` with `RUST_LOG=trace`, no other
/// `PRIMO_*` variable than the credentials, and `config` as the config file.
fn primo(base_url: &str, auth: Auth, config: &Path, args: &[&str]) -> Run {
    let mut command = Command::cargo_bin("primo").expect("the primo binary is built");
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PRIMO_") {
            command.env_remove(name);
        }
    }
    command
        .env("PRIMO_CONFIG", config)
        .env("RUST_LOG", "trace")
        .args(["-vv", "--progress", "never", "--base-url", base_url])
        .args(args);
    match auth {
        Auth::Client => command
            .env("PRIMO_CLIENT_ID", CLIENT_ID)
            .env("PRIMO_CLIENT_SECRET", SECRET),
        Auth::Token(token) => command.env("PRIMO_TOKEN", token),
    };

    let output = command.output().expect("primo runs");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs `primo` against `sandbox` off the async runtime, so the sandbox
/// keeps answering.
async fn run(sandbox: &Sandbox, auth: Auth, args: &'static [&'static str]) -> Run {
    let base_url = sandbox.base_url();
    tokio::task::spawn_blocking(move || {
        let (_dir, config) = empty_config();
        primo(&base_url, auth, &config, args)
    })
    .await
    .expect("the run finishes")
}

/// Asserts neither output holds a secret.
fn assert_no_secrets(run: &Run) {
    for secret in SECRETS {
        assert!(
            !run.stdout.contains(secret),
            "stdout leaks {secret:?}:\n{}",
            run.stdout
        );
        assert!(
            !run.stderr.contains(secret),
            "stderr leaks {secret:?}:\n{}",
            run.stderr
        );
    }
}

/// The debug lines the client logs for requests to `path` with `status`.
fn request_lines<'a>(run: &'a Run, path: &str, status: u16) -> Vec<&'a str> {
    let path = format!("path=\"{path}\"");
    let status = format!("status={status}");
    run.stderr
        .lines()
        .filter(|line| {
            line.contains("DEBUG request") && line.contains(&path) && line.contains(&status)
        })
        .collect()
}

/// Request counts with no request to an unknown path.
fn counts(customers: u64, login: u64) -> RequestCounts {
    RequestCounts {
        total: customers + login,
        customers,
        login,
    }
}

const LIST: &[&str] = &["customers", "list", "--format", "json"];
const BOOKING: &[&str] = &["target", "booking", "C00001"];

/// The logins a successful run makes with `auth`: one for client
/// credentials, none for a ready token.
fn logins(auth: Auth) -> u64 {
    match auth {
        Auth::Client => 1,
        Auth::Token(_) => 0,
    }
}

// `customers list --format json`, with client credentials and with a ready
// token: 23 customers, each request logged, no secret printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_leaks_nothing() {
    for auth in [Auth::Client, Auth::Token(TOKEN)] {
        let sandbox = sandbox(FaultPlan::new()).await;

        let run = run(&sandbox, auth, LIST).await;

        assert_eq!(run.code, Some(0), "{}", run.stderr);
        let customers: Value = serde_json::from_str(&run.stdout).expect("stdout is JSON");
        assert_eq!(customers.as_array().map(Vec::len), Some(23));
        assert_requests_logged(&run, auth);
        assert_no_secrets(&run);
        assert_eq!(sandbox.requests(), counts(1, logins(auth)));
    }
}

// `target booking C00001`, with client credentials and with a ready token,
// prints the identifiers and no secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn booking_target_leaks_nothing() {
    for auth in [Auth::Client, Auth::Token(TOKEN)] {
        let sandbox = sandbox(FaultPlan::new()).await;

        let run = run(&sandbox, auth, BOOKING).await;

        assert_eq!(run.code, Some(0), "{}", run.stderr);
        assert_eq!(
            run.stdout.trim(),
            r#"{"customerNumber":1235102432,"customerBsn":1237101834}"#
        );
        assert_requests_logged(&run, auth);
        assert_no_secrets(&run);
        assert_eq!(sandbox.requests(), counts(1, logins(auth)));
    }
}

/// Checks that `-vv` logged the page request, and the login when there
/// was one: proof that logging was on while nothing leaked.
fn assert_requests_logged(run: &Run, auth: Auth) {
    assert_eq!(
        request_lines(run, "/v1/auth/login", 200).len() as u64,
        logins(auth),
        "{}",
        run.stderr
    );
    assert_eq!(
        request_lines(run, "/v1/customers", 200).len(),
        1,
        "{}",
        run.stderr
    );
}

// A refused token exits 1 with an unauthenticated error, printing neither
// the refused token nor the right one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_token_exits_1_and_leaks_nothing() {
    let sandbox = sandbox(FaultPlan::new()).await;

    let run = run(&sandbox, Auth::Token(WRONG_TOKEN), LIST).await;

    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(
        run.stderr.contains("page 1: unauthenticated (401)"),
        "{}",
        run.stderr
    );
    assert_eq!(
        request_lines(&run, "/v1/customers", 401).len(),
        1,
        "{}",
        run.stderr
    );
    assert_no_secrets(&run);
    // A ready token is not renewed: one request.
    assert_eq!(sandbox.requests(), counts(1, 0));
}

// A login the server refuses exits 1 with `login refused`, and prints
// neither the secret nor a token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_login_exits_1_and_leaks_nothing() {
    let sandbox = sandbox(FaultPlan::new().login([FaultStep::Status(401)])).await;

    let run = run(&sandbox, Auth::Client, BOOKING).await;

    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(run.stderr.contains("login refused (401)"), "{}", run.stderr);
    assert_eq!(
        request_lines(&run, "/v1/auth/login", 401).len(),
        1,
        "{}",
        run.stderr
    );
    assert_no_secrets(&run);
    // A refused login is final: no retry, no page.
    assert_eq!(sandbox.requests(), counts(0, 1));
}
