//! Where `primo` talks to, with which credentials: flags, then environment
//! variables, then the profile, then the built-in sandbox.

use std::time::Duration;

use primo_connect::sandbox::{Organization, Sandbox, SandboxConfig};
use primo_connect::{ConnectClient, Credentials, Environment, RetryPolicy, WalkOptions};

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

    // A named profile, or the file's default one.
    let profile_name = global
        .profile
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

    let (destination, chosen_by) = if let Some(url) = &global.base_url {
        (
            Some(Destination::Remote(Environment::custom(url)?)),
            "--base-url",
        )
    } else if let Some(env) = global.env {
        (Some(named(env)), "--env")
    } else if let Some(profile) = profile {
        let destination = match (&profile.base_url, &profile.env) {
            (Some(url), _) => Destination::Remote(Environment::custom(url)?),
            (None, Some(env)) => match env.to_ascii_lowercase().as_str() {
                "sandbox" => Destination::Sandbox,
                _ => Destination::Remote(env.parse()?),
            },
            (None, None) => {
                return Err(Failure::config(format!(
                    "profile {:?} names neither env nor base_url",
                    profile_name.unwrap_or_default()
                )));
            }
        };
        (Some(destination), "the profile")
    } else {
        (None, "")
    };

    // The sandbox needs no credentials, and a profile's credentials go only
    // where that profile points, or where the user named it explicitly:
    // never to an environment a default profile was not written for.
    let profile_applies = global.profile.is_some() || chosen_by == "the profile";
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
             so that sandbox identifiers are never mistaken for real ones",
        )),
        None => start_sandbox(global, "no credentials set and no environment chosen").await,
        Some(Destination::Sandbox) => {
            start_sandbox(global, &format!("chosen by {chosen_by}")).await
        }
        Some(Destination::Remote(environment)) => {
            if global.sandbox_data.is_some() {
                return Err(Failure::usage("--sandbox-data applies only to the sandbox"));
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

fn named(env: EnvName) -> Destination {
    match env {
        EnvName::Development => Destination::Remote(Environment::Development),
        EnvName::Production => Destination::Remote(Environment::Production),
        EnvName::Sandbox => Destination::Sandbox,
    }
}

/// `PRIMO_TOKEN`, or `PRIMO_CLIENT_ID` with `PRIMO_CLIENT_SECRET`.
fn credentials_from_environment() -> Result<Option<Credentials>, Failure> {
    let read = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if let Some(token) = read("PRIMO_TOKEN") {
        return Ok(Some(Credentials::token(token)));
    }
    match (read("PRIMO_CLIENT_ID"), read("PRIMO_CLIENT_SECRET")) {
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
        Some(dir) => Organization::from_dir(dir).map_err(|e| Failure::config(e.to_string()))?,
        None => Organization::builtin(),
    };
    let sandbox = Sandbox::start(SandboxConfig {
        organization,
        ..SandboxConfig::default()
    })
    .await
    .map_err(|e| Failure::api(e.to_string()))?;
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
        deadline: global.deadline.map(Duration::from_secs),
    };
    Ok(ConnectClient::builder(environment, credentials)
        .retry(retry)
        .walk_options(walk)
        .connect_timeout(Duration::from_secs(global.connect_timeout))
        .request_timeout(Duration::from_secs(global.timeout))
        .build()?)
}
