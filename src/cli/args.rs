//! The command line, as clap reads it.

use std::num::NonZeroU32;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The exit codes, as a literal so that `concat!` can build on it.
macro_rules! exit_codes {
    () => {
        "Exit codes:
  0  success
  1  API, network or authentication failure (or output left incomplete)
  2  usage or configuration error
  3  refused by a business rule (inactive customer, broken rule)
  4  customer or branch not found, or ambiguous (the candidates are listed)
  5  `primo check` found an error-level contract finding"
    };
}

const EXIT_CODES: &str = exit_codes!();

const LONG_HELP: &str = concat!(
    "Where it talks to: --base-url, else --env (or PRIMO_ENV), else --profile (or
PRIMO_PROFILE, or the config file's default profile). With none of these and
no credentials in the environment, primo runs on a built-in sandbox.

Credentials come from the environment only: PRIMO_CLIENT_ID and
PRIMO_CLIENT_SECRET, or PRIMO_TOKEN; or from a profile's variable or file.

",
    exit_codes!()
);

/// Which identifiers do I send? Customers and branches of a PRIMO Connect
/// Enterprise organization, from a terminal.
#[derive(Debug, Parser)]
#[command(name = "primo", version, after_long_help = LONG_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Environment to talk to [env: PRIMO_ENV].
    #[arg(long, global = true, value_enum)]
    pub env: Option<EnvName>,

    /// Base URL of any server that speaks the API; overrides --env.
    #[arg(long, global = true, value_name = "URL")]
    pub base_url: Option<String>,

    /// Profile from the config file ($PRIMO_CONFIG, else the platform's
    /// config directory) [env: PRIMO_PROFILE].
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,

    /// Serve this data folder from the in-process sandbox instead of the
    /// built-in organization.
    #[arg(long, global = true, value_name = "DIR")]
    pub sandbox_data: Option<PathBuf>,

    /// Customers asked for per page.
    #[arg(long, global = true, default_value = "100", value_name = "N", value_parser = at_least_one, allow_negative_numbers = true)]
    pub page_size: NonZeroU32,

    /// Pages fetched at once after the first (1 = one at a time).
    #[arg(long, global = true, default_value = "8", value_name = "N", value_parser = at_least_one, allow_negative_numbers = true)]
    pub concurrency: NonZeroU32,

    /// Attempts per request, the first included, on connection errors,
    /// timeouts, 408, 429 and 5xx.
    #[arg(long, global = true, default_value = "4", value_name = "N", value_parser = at_least_one, allow_negative_numbers = true)]
    pub retries: NonZeroU32,

    /// Seconds allowed to open a connection.
    #[arg(long, global = true, default_value = "10", value_name = "SECS", value_parser = at_least_one, allow_negative_numbers = true)]
    pub connect_timeout: NonZeroU32,

    /// Seconds allowed for one request, body included.
    #[arg(long, global = true, default_value = "30", value_name = "SECS", value_parser = at_least_one, allow_negative_numbers = true)]
    pub timeout: NonZeroU32,

    /// Seconds allowed for the whole walk over all pages (default: none).
    #[arg(long, global = true, value_name = "SECS", value_parser = at_least_one, allow_negative_numbers = true)]
    pub deadline: Option<NonZeroU32>,

    /// Progress bar on stderr while pages load.
    #[arg(long, global = true, value_enum, default_value = "auto")]
    pub progress: ProgressMode,

    /// More detail on stderr: -v logs each request and error causes, -vv
    /// also response bodies (cut short). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// No progress and no notices on stderr; errors still print.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

/// Reads a count or a number of seconds that must be 1 or more.
fn at_least_one(text: &str) -> Result<NonZeroU32, String> {
    match text.trim().parse::<i64>() {
        Ok(n) if n >= 1 => u32::try_from(n)
            .ok()
            .and_then(NonZeroU32::new)
            .ok_or_else(|| format!("{n} is too large (at most {})", u32::MAX)),
        Ok(n) => Err(format!("{n} is not allowed: it must be 1 or more")),
        Err(_) => Err(format!("{text:?} is not a whole number")),
    }
}

/// The environments `--env` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EnvName {
    /// The provider's Development environment.
    Development,
    /// The provider's Production environment.
    Production,
    /// The built-in sandbox on a loopback port.
    Sandbox,
}

/// When to draw the progress bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    /// When stderr is a terminal.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List, find and show customers.
    #[command(subcommand)]
    Customers(CustomersCommand),

    /// Print the identifiers a quote or a booking takes, as JSON.
    #[command(subcommand, after_long_help = EXIT_CODES)]
    Target(TargetCommand),

    /// Run the sandbox server on loopback until interrupted.
    Sandbox(SandboxArgs),

    /// Check every page of an environment against the spec and the rules.
    Check(CheckArgs),

    /// Save every page of an environment as fixtures, redacted.
    Record(RecordArgs),

    /// Print a shell completion script.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: Shell,
    },

    /// Print the man page (roff).
    Man,
}

/// Shells `primo completions` writes for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    /// Bash.
    Bash,
    /// Zsh.
    Zsh,
    /// Fish.
    Fish,
}

#[derive(Debug, Subcommand)]
pub enum CustomersCommand {
    /// Every customer, in server order.
    List {
        /// Output format (default: table on a terminal, jsonl otherwise).
        #[arg(long, value_enum)]
        format: Option<Format>,

        /// Only customers that are active.
        #[arg(long)]
        active_only: bool,
    },

    /// Customers whose name or code contains TEXT, ignoring case.
    Find {
        /// The text to look for.
        text: String,
    },

    /// One customer, its branches, its headquarter and any rule problems.
    Show {
        /// A customerCode, a customerNumber or an exact customerName.
        customer: String,
    },
}

/// Output formats of `customers list`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table with each customer's headquarter and rule problems.
    Table,
    /// One JSON array of customers with the API's field names.
    Json,
    /// One JSON customer per line, written as pages arrive.
    Jsonl,
    /// One CSV row per branch, written as pages arrive.
    Csv,
}

#[derive(Debug, Subcommand)]
pub enum TargetCommand {
    /// Print {"customerBsn": N} for a quote.
    Quote(TargetArgs),
    /// Print {"customerNumber": N, "customerBsn": N} for a booking.
    Booking(TargetArgs),
}

#[derive(Debug, Args)]
pub struct TargetArgs {
    /// A customerCode, a customerNumber or an exact customerName.
    pub customer: String,

    /// A branch name or customerBsn (default: the headquarter).
    #[arg(long, value_name = "NAME|BSN")]
    pub branch: Option<String>,

    /// Accept an explicitly named branch of a customer whose headquarter
    /// rule is broken (never a shared identifier or an inactive customer).
    #[arg(long, requires = "branch")]
    pub lenient: bool,
}

const FAULT_HELP: &str = "\
A scripted fault, consumed one step per matching request, after which the
sandbox answers normally again; may be repeated.

  rule   = route [\"@\" page] \"=\" step {\",\" step}
  route  = customers | login         (page: customers only; default any page)
  step   = ok                        answer normally
         | STATUS                    e.g. 503: that status, empty body
         | html STATUS               e.g. html502: an HTML error page
         | STATUS+retry-after=VALUE  e.g. 429+retry-after=1 (seconds or an HTTP date)
         | delay:DURATION            e.g. delay:300ms, then answer normally
         | truncated                 a body cut short of its Content-Length
         | gzip                      a gzip-encoded body

Examples: customers@2=503,503   customers=429+retry-after=1,ok   login=401";

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Loopback port (0 picks a free one).
    #[arg(long, default_value = "8080")]
    pub port: u16,

    /// Serve the customers of this data folder (see fixtures/README.md).
    #[arg(long, value_name = "DIR", conflicts_with = "synthetic")]
    pub data: Option<PathBuf>,

    /// Serve a deterministic generated organization of N customers.
    #[arg(long, value_name = "N")]
    pub synthetic: Option<u64>,

    /// Accept only this bearer token (default: any non-empty token).
    #[arg(long, value_name = "T")]
    pub token: Option<String>,

    /// Milliseconds added before every answer.
    #[arg(long, value_name = "MS", default_value = "0")]
    pub latency: u64,

    /// A scripted fault, e.g. `customers@2=503,503` or
    /// `customers=429+retry-after=1,ok`; may be repeated.
    #[arg(long, value_name = "RULE", long_help = FAULT_HELP)]
    pub fault: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Also write JUnit XML (one test case per check per page) here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Print the report as JSON instead of a summary.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RecordArgs {
    /// Folder to write page-1.json, page-2.json, … into.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// Replace customer and branch names with `Customer N` / `Branch N`.
    #[arg(long)]
    pub redact_names: bool,
}
