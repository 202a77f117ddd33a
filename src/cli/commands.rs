//! What each command does.

use std::io::{self, IsTerminal, Write};
use std::time::Duration;

use clap::CommandFactory;
use futures::StreamExt;
use primo_connect::sandbox::{FaultPlan, FaultRule, Organization, Sandbox, SandboxConfig};
use primo_connect::types::Customer;
use primo_connect::{BranchChoice, CustomerDirectory, Policy};

use super::Failure;
use super::args::{
    CheckArgs, Cli, Command, CustomersCommand, Format, GlobalArgs, RecordArgs, SandboxArgs, Shell,
    TargetArgs, TargetCommand,
};
use super::connect::{Connection, connect};
use super::output::{self, StreamWriter};
use super::progress::Progress;

/// Runs the command `cli` names.
pub async fn run(cli: Cli) -> Result<(), Failure> {
    let global = &cli.global;
    match cli.command {
        Command::Customers(command) => customers(global, command).await,
        Command::Target(command) => target(global, command).await,
        Command::Sandbox(args) => sandbox(args).await,
        Command::Check(args) => check(global, args).await,
        Command::Record(args) => record(global, args).await,
        Command::Completions { shell } => completions(shell),
        Command::Man => man(),
    }
}

/// Every customer, with a progress bar while pages load.
async fn fetch_directory(
    global: &GlobalArgs,
    connection: &Connection,
) -> Result<CustomerDirectory, Failure> {
    let mut progress = Progress::new(global);
    let customers = connection
        .client
        .walk()
        .collect_with(|page| progress.page(page))
        .await;
    progress.finish();
    Ok(CustomerDirectory::new(
        connection.client.environment().clone(),
        customers?,
    ))
}

async fn customers(global: &GlobalArgs, command: CustomersCommand) -> Result<(), Failure> {
    let connection = connect(global).await?;
    match command {
        CustomersCommand::List {
            format,
            active_only,
        } => {
            let format = format.unwrap_or(if io::stdout().is_terminal() {
                Format::Table
            } else {
                Format::Jsonl
            });
            let keep = |c: &Customer| !active_only || c.is_active;
            match format {
                Format::Table => {
                    let directory = fetch_directory(global, &connection).await?;
                    print(&format!("{}\n", output::table(&directory, keep)))
                }
                Format::Json => {
                    stream(global, &connection, StreamWriter::json(stdout()), keep).await
                }
                Format::Jsonl => {
                    stream(global, &connection, StreamWriter::jsonl(stdout()), keep).await
                }
                Format::Csv => {
                    stream(global, &connection, StreamWriter::csv(stdout())?, keep).await
                }
            }
        }
        CustomersCommand::Find { text } => {
            let directory = fetch_directory(global, &connection).await?;
            let found = directory.search(&text);
            if found.is_empty() {
                return Err(Failure::from(primo_connect::Error::CustomerNotFound {
                    query: text,
                    environment: directory.environment().to_string(),
                }));
            }
            let codes: Vec<i64> = found.iter().map(|c| c.customer_id).collect();
            print(&format!(
                "{}\n",
                output::table(&directory, |c| codes.contains(&c.customer_id))
            ))
        }
        CustomersCommand::Show { customer } => {
            let directory = fetch_directory(global, &connection).await?;
            let found = directory.customer(&customer)?;
            print(&output::show(&directory, found))
        }
    }
}

fn stdout() -> io::BufWriter<io::Stdout> {
    io::BufWriter::with_capacity(64 * 1024, io::stdout())
}

/// Writes customers as pages arrive, keeping none of them.
async fn stream<W: Write>(
    global: &GlobalArgs,
    connection: &Connection,
    mut writer: StreamWriter<W>,
    keep: impl Fn(&Customer) -> bool,
) -> Result<(), Failure> {
    let mut progress = Progress::new(global);
    let walk = connection.client.walk();
    let mut pages = std::pin::pin!(walk.pages());
    let mut written = 0_u64;
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(page) => page,
            Err(error) if written > 0 => {
                progress.finish();
                return Err(Failure::api(format!(
                    "{error}; the output is incomplete: {written} customer(s) were already written"
                )));
            }
            Err(error) => {
                progress.finish();
                return Err(error.into());
            }
        };
        progress.page(&page);
        for customer in page.customers.iter().filter(|c| keep(c)) {
            if let Err(e) = writer.write(customer) {
                progress.finish();
                return quiet_on_closed_pipe(e);
            }
            written += 1;
        }
    }
    progress.finish();
    writer.finish().or_else(quiet_on_closed_pipe)
}

/// A reader that went away (`primo … | head -1`) is not an error.
fn quiet_on_closed_pipe(error: io::Error) -> Result<(), Failure> {
    if error.kind() == io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(error.into())
    }
}

fn print(text: &str) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .or_else(quiet_on_closed_pipe)
}

async fn target(global: &GlobalArgs, command: TargetCommand) -> Result<(), Failure> {
    let (args, booking) = match command {
        TargetCommand::Quote(args) => (args, false),
        TargetCommand::Booking(args) => (args, true),
    };
    let TargetArgs {
        customer,
        branch,
        lenient,
    } = args;
    let branch = match branch {
        Some(text) => text
            .parse::<BranchChoice>()
            .unwrap_or(BranchChoice::Name(text)),
        None => BranchChoice::Headquarter,
    };
    let policy = if lenient {
        Policy::Lenient
    } else {
        Policy::Strict
    };

    let connection = connect(global).await?;
    let directory = fetch_directory(global, &connection).await?;
    let json = if booking {
        serde_json::to_string(&directory.booking_target_with(&customer, &branch, policy)?)
    } else {
        serde_json::to_string(&directory.quote_target_with(&customer, &branch, policy)?)
    }
    .map_err(|e| Failure::api(format!("cannot write the target: {e}")))?;

    if !global.quiet {
        eprintln!(
            "primo: identifiers from {}: valid there only",
            connection.label
        );
    }
    print(&format!("{json}\n"))
}

async fn sandbox(args: SandboxArgs) -> Result<(), Failure> {
    let organization = match (&args.data, args.synthetic) {
        (Some(dir), _) => Organization::from_dir(dir).map_err(|e| Failure::chain(2, &e))?,
        (None, Some(customers)) => Organization::synthetic(customers),
        (None, None) => Organization::builtin(),
    };
    let mut faults = FaultPlan::new();
    for rule in &args.fault {
        let rule: FaultRule = rule
            .parse()
            .map_err(|e: primo_connect::sandbox::SandboxError| Failure::usage(e.to_string()))?;
        faults = faults.rule(rule);
    }
    let customers = organization.len();
    let server = Sandbox::start(SandboxConfig {
        organization,
        token: args.token.clone(),
        latency: Duration::from_millis(args.latency),
        faults,
        port: args.port,
    })
    .await
    .map_err(|e| Failure::chain(1, &e))?;

    // A reader that went away must not take the server down with it.
    let url = server.base_url();
    let token_hint = if args.token.is_some() {
        "it accepts only the token given with --token; set PRIMO_TOKEN to it"
    } else {
        "any non-empty token is accepted, e.g. PRIMO_TOKEN=sandbox"
    };
    let mut out = io::stdout().lock();
    let _ = writeln!(
        out,
        "sandbox serving {customers} customers at {url}\n\
         point primo at it:  primo --base-url {url} customers list\n\
         {token_hint}\n\
         stop it with Ctrl-C"
    );
    let _ = out.flush();
    drop(out);

    tokio::signal::ctrl_c()
        .await
        .map_err(|e| Failure::api(format!("cannot wait for Ctrl-C: {e}")))?;
    server.shutdown().await;
    Ok(())
}

async fn check(global: &GlobalArgs, args: CheckArgs) -> Result<(), Failure> {
    use primo_connect::contract::{SpecSchemas, run_check};

    let connection = connect(global).await?;
    let schemas =
        SpecSchemas::embedded().map_err(|e| Failure::api(format!("cannot load the spec: {e}")))?;
    let report = run_check(&connection.client, &schemas, global.page_size).await?;

    if let Some(path) = &args.junit {
        std::fs::write(path, report.to_junit())
            .map_err(|e| Failure::api(format!("cannot write {}: {e}", path.display())))?;
    }
    if args.json {
        let json =
            serde_json::to_string_pretty(&report).map_err(|e| Failure::api(e.to_string()))?;
        print(&format!("{json}\n"))?;
    } else {
        print(&report.summary())?;
    }
    if report.has_errors() {
        return Err(Failure::findings(format!(
            "the contract check found errors in {}",
            connection.label
        )));
    }
    Ok(())
}

async fn record(global: &GlobalArgs, args: RecordArgs) -> Result<(), Failure> {
    use primo_connect::contract::{RecordError, RecordOptions, record};

    let connection = connect(global).await?;
    let options = RecordOptions {
        redact_names: args.redact_names,
        secrets: connection.secrets.clone(),
    };
    let summary = record(&connection.client, &args.out, global.page_size, options)
        .await
        .map_err(|e| match e {
            RecordError::Fetch(error) => Failure::from(error),
            RecordError::OutputNotEmpty { .. } => Failure::usage(e.to_string()),
            other => Failure::chain(1, &other),
        })?;
    if !global.quiet {
        eprintln!(
            "primo: recorded {} page(s), {} customer(s) from {} into {}",
            summary.pages,
            summary.customers,
            connection.label,
            args.out.display()
        );
    }
    Ok(())
}

fn completions(shell: Shell) -> Result<(), Failure> {
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "primo", &mut out);
    print(&String::from_utf8_lossy(&out))
}

fn man() -> Result<(), Failure> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(|e| Failure::api(format!("cannot render the man page: {e}")))?;
    print(&String::from_utf8_lossy(&out))
}
