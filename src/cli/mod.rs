//! The `primo` command: arguments, where it talks to, what it prints, and
//! how it exits.

pub mod args;
mod commands;
mod config;
mod connect;
mod output;
mod progress;

use std::fmt;
use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use args::{Cli, GlobalArgs};

/// Why `primo` stopped, with the exit code that says so.
#[derive(Debug)]
pub struct Failure {
    code: u8,
    message: String,
    causes: Vec<String>,
}

impl Failure {
    /// A usage error: exit 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: 2,
            message: message.into(),
            causes: Vec::new(),
        }
    }

    /// A configuration error: exit 2.
    pub fn config(message: impl Into<String>) -> Self {
        Self::usage(message)
    }

    /// An API, network or output failure: exit 1.
    pub fn api(message: impl Into<String>) -> Self {
        Failure {
            code: 1,
            message: message.into(),
            causes: Vec::new(),
        }
    }

    /// `error` with its causes on one line (`could not list /x: No such
    /// file or directory`), for errors whose causes are short and say what
    /// to fix, with the exit code `code`.
    pub fn chain(code: u8, error: &dyn std::error::Error) -> Self {
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Failure {
            code,
            message,
            causes: Vec::new(),
        }
    }

    /// Contract findings of error level: exit 5.
    pub fn findings(message: impl Into<String>) -> Self {
        Failure {
            code: 5,
            message: message.into(),
            causes: Vec::new(),
        }
    }
}

impl From<primo_connect::Error> for Failure {
    fn from(error: primo_connect::Error) -> Self {
        let code = if error.is_usage() {
            2
        } else if error.is_refusal() {
            3
        } else if error.is_not_found() {
            4
        } else {
            1
        };
        let mut causes = Vec::new();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            causes.push(cause.to_string());
            source = cause.source();
        }
        Failure {
            code,
            message: error.to_string(),
            causes,
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        Failure::api(format!("cannot write output: {error}"))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Runs `primo` and returns its exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let verbose = cli.global.verbose;
    init_logging(&cli.global);

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            return report(
                &Failure::api(format!("cannot start the async runtime: {e}")),
                verbose,
            );
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => report(&failure, verbose),
    }
}

fn report(failure: &Failure, verbose: u8) -> ExitCode {
    eprintln!("primo: error: {}", failure.message);
    if verbose > 0 {
        for cause in &failure.causes {
            eprintln!("  caused by: {cause}");
        }
    }
    ExitCode::from(failure.code)
}

/// Logs go to stderr: RUST_LOG if set, else warnings, `-v` debug, `-vv`
/// trace; `--quiet` keeps errors only.
fn init_logging(global: &GlobalArgs) {
    use tracing_subscriber::EnvFilter;

    let default = match (global.quiet, global.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "primo_connect=debug,warn",
        (false, _) => "primo_connect=trace,warn",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}
