//! `primo`: which identifiers do I send? From a terminal, on a built-in
//! sandbox until credentials are given.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
