//! Where `primo` talks to, with which credentials: flags, then environment
//! variables, then the profile, then the built-in sandbox.

use std::time::Duration;

use primo_connect::sandbox::{Organization, Sandbox, SandboxConfig};
use primo_connect::{ConnectClient, Credentials, Environment, RetryPolicy, WalkOptions};

use clap::ValueEnum;

use super::args::{EnvName, GlobalArgs};
use super::{Failure, config};

/// A ready client, and the sandbox it talks to when there is one.
pub struct Connection {
    pub client: ConnectClient,
    /// How the environment is named to the user.
    pub label: String,
    /// Kept alive for as long as the client is used.
    _sandbox: Option<Sandbox>,
    /// Values that must never be written anywhere (token, secret, id).
    pub secrets: Vec<String>,
}

enum Destination {
    Sandbox,
    Remote(Environment),
}

/// Resolves where to talk to and builds the client; starts the in-process
/// sandbox when that is where.
pub async fn connect(global: &GlobalArgs) -> Result<Connection, Failure> {
    let from_env = credentials_from_environment()?;
    let (config_path, config) = config::load()?;

    // A named profile (flag, then PRIMO_PROFILE), or the file's default one.
    let named_profile = global.profile.clone().or_else(|| variable("PRIMO_PROFILE"));
    let profile_name = named_profile
        .clone()
        .or_else(|| config.default_profile.clone());
    let profile = match &profile_name {
        Some(name) => Some(config.profiles.get(name).ok_or_else(|| {
            let file = config_path
                .as_ref()
                .map_or("no config file".to_owned(), |p| p.display().to_string());
            Failure::config(format!("unknown profile {name:?} (config: {file})"))
        })?),
        None => None,
    };

    let env = match (global.env, variable("PRIMO_ENV")) {
        (Some(env), _) => Some(env),
        (None, Some(text)) => Some(EnvName::from_str(&text, true).map_err(|_| {
            Failure::usage(format!(
                "invalid PRIMO_ENV {text:?}: expected development, production or sandbox"
            ))
        })?),
        (None, None) => None,
    };

    let (destination, chosen_by) = if let Some(url) = &global.base_url {
        let environment = Environment::custom(url)?;
        (Some(Destination::Remote(environment)), "--base-url")
    } else if let Some(env) = env {
        (Some(named(env)), "--env")
    } else if let Some(profile) = profile {
        let name = profile_name.as_deref().unwrap_or_default();
        let destination = profile_destination(name, config_path.as_deref(), profile)?;
        (Some(destination), "the profile")
    } else {
        (None, "")
    };

    // The sandbox needs no credentials, and a profile's credentials go only
    // where that profile points, or where the user named it explicitly:
    // never to an environment a default profile was not written for.
    let profile_applies = named_profile.is_some() || chosen_by == "the profile";
    let credentials = match (&destination, from_env, profile) {
        (Some(Destination::Sandbox), _, _) => None,
        (_, Some(credentials), _) => Some(credentials),
        (_, None, Some(profile)) if profile_applies => {
            profile.credentials(profile_name.as_deref().unwrap_or_default())?
        }
        _ => None,
    };

    match destination {
        None if credentials.is_some() => Err(Failure::usage(
            "credentials are set but no environment is chosen: pass --env development|production (or --base-url), \
             or --env sandbox to ignore them, so that sandbox identifiers are never mistaken for real ones",
        )),
        None => start_sandbox(global, "no credentials set and no environment chosen").await,
        Some(Destination::Sandbox) => {
            start_sandbox(global, &format!("chosen by {chosen_by}")).await
        }
        Some(Destination::Remote(environment)) => {
            if global.sandbox_data.is_some() {
                return Err(Failure::usage(format!(
                    "--sandbox-data applies only to the sandbox, but {chosen_by} chose {environment}: add --env sandbox"
                )));
            }
            let Some(credentials) = credentials else {
                return Err(Failure::config(format!(
                    "no credentials for {environment}: set PRIMO_CLIENT_ID and PRIMO_CLIENT_SECRET, or PRIMO_TOKEN, \
                     or use a profile"
                )));
            };
            let secrets = secret_values(&credentials);
            let client = build(global, environment.clone(), credentials)?;
            Ok(Connection {
                client,
                label: environment.to_string(),
                _sandbox: None,
                secrets,
            })
        }
    }
}

/// Where a profile points: its `env` or its `base_url`, exactly one of them.
fn profile_destination(
    name: &str,
    config_path: Option<&std::path::Path>,
    profile: &config::Profile,
) -> Result<Destination, Failure> {
    let file = config_path.map_or(String::new(), |p| p.display().to_string());
    let wrong = |what: String| Failure::config(format!("profile {name:?} in {file}: {what}"));
    match (&profile.base_url, &profile.env) {
        (Some(_), Some(_)) => Err(wrong("names both env and base_url; keep one".to_owned())),
        (Some(url), None) => Ok(Destination::Remote(
            Environment::custom(url).map_err(|e| wrong(e.to_string()))?,
        )),
        (None, Some(env)) => match env.to_ascii_lowercase().as_str() {
            "sandbox" => Ok(Destination::Sandbox),
            "development" | "dev" => Ok(Destination::Remote(Environment::Development)),
            "production" | "prod" => Ok(Destination::Remote(Environment::Production)),
            _ => Err(wrong(format!(
                "env {env:?} is not development, production or sandbox"
            ))),
        },
        (None, None) => Err(wrong("names neither env nor base_url".to_owned())),
    }
}

/// An environment variable, unless unset or empty (as an unset CI variable
/// often is).
fn variable(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

fn named(env: EnvName) -> Destination {
    match env {
        EnvName::Development => Destination::Remote(Environment::Development),
        EnvName::Production => Destination::Remote(Environment::Production),
        EnvName::Sandbox => Destination::Sandbox,
    }
}

/// `PRIMO_TOKEN`, or `PRIMO_CLIENT_ID` with `PRIMO_CLIENT_SECRET`.
fn credentials_from_environment() -> Result<Option<Credentials>, Failure> {
    if let Some(token) = variable("PRIMO_TOKEN") {
        return Ok(Some(Credentials::token(token)));
    }
    match (variable("PRIMO_CLIENT_ID"), variable("PRIMO_CLIENT_SECRET")) {
        (Some(id), Some(secret)) => Ok(Some(Credentials::client(id, secret))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(Failure::config(
            "PRIMO_CLIENT_ID is set but PRIMO_CLIENT_SECRET is not",
        )),
        (None, Some(_)) => Err(Failure::config(
            "PRIMO_CLIENT_SECRET is set but PRIMO_CLIENT_ID is not",
        )),
    }
}

fn secret_values(credentials: &Credentials) -> Vec<String> {
    use secrecy::ExposeSecret;
    match credentials {
        Credentials::Client { client_id, secret } => {
            vec![client_id.clone(), secret.expose_secret().to_owned()]
        }
        Credentials::Token(token) => vec![token.expose_secret().to_owned()],
    }
}

async fn start_sandbox(global: &GlobalArgs, reason: &str) -> Result<Connection, Failure> {
    let organization = match &global.sandbox_data {
        Some(dir) => Organization::from_dir(dir).map_err(|e| Failure::chain(2, &e))?,
        None => Organization::builtin(),
    };
    let sandbox = Sandbox::start(SandboxConfig {
        organization,
        ..SandboxConfig::default()
    })
    .await
    .map_err(|e| Failure::chain(1, &e))?;
    let base_url = sandbox.base_url();
    if !global.quiet {
        eprintln!(
            "primo: using the built-in sandbox at {base_url} ({reason}); \
             its identifiers are examples, not real ones"
        );
    }

    // The real client over real HTTP, logging in as any client would.
    let environment = Environment::custom(&base_url)?;
    let client = build(
        global,
        environment,
        Credentials::client("sandbox", "sandbox"),
    )?;
    Ok(Connection {
        client,
        label: format!("sandbox ({base_url})"),
        _sandbox: Some(sandbox),
        secrets: Vec::new(),
    })
}

fn build(
    global: &GlobalArgs,
    environment: Environment,
    credentials: Credentials,
) -> Result<ConnectClient, Failure> {
    let retry = RetryPolicy::default().with_attempts(global.retries.get() as usize)?;
    let walk = WalkOptions {
        page_size: global.page_size,
        concurrency: global.concurrency,
        deadline: global
            .deadline
            .map(|secs| Duration::from_secs(secs.get().into())),
    };
    Ok(ConnectClient::builder(environment, credentials)
        .retry(retry)
        .walk_options(walk)
        .connect_timeout(Duration::from_secs(global.connect_timeout.get().into()))
        .request_timeout(Duration::from_secs(global.timeout.get().into()))
        .build()?)
}
