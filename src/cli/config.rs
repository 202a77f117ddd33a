//! Named profiles from a TOML file: where to talk to, and where the
//! credentials come from (never the secrets themselves).
//!
//! ```toml
//! default_profile = "dev"
//!
//! [profiles.dev]
//! env = "development"            # or base_url = "https://…"
//! client_id = "my-client"        # or client_id_env = "MY_CLIENT_ID"
//! secret_env = "PRIMO_DEV_SECRET" # or secret_file = "/path/readable/by/me/only"
//!
//! [profiles.ci]
//! env = "production"
//! token_env = "PRIMO_PROD_TOKEN"  # or token_file = "…"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use primo_connect::Credentials;
use serde::Deserialize;

use super::Failure;

/// The config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The profile used when none is named.
    pub default_profile: Option<String>,
    /// Profiles by name.
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// One named profile.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// `development`, `production` or `sandbox`.
    pub env: Option<String>,
    /// A base URL; overrides `env`.
    pub base_url: Option<String>,
    /// The client id, in plain text (it is not a secret).
    pub client_id: Option<String>,
    /// The variable holding the client id.
    pub client_id_env: Option<String>,
    /// The variable holding the client secret.
    pub secret_env: Option<String>,
    /// A file holding the client secret, readable by its owner only.
    pub secret_file: Option<PathBuf>,
    /// The variable holding a ready bearer token.
    pub token_env: Option<String>,
    /// A file holding a ready bearer token, readable by its owner only.
    pub token_file: Option<PathBuf>,
}

/// Where the config file is: `$PRIMO_CONFIG`, else `config.toml` in the
/// platform's config directory (e.g. `~/.config/primo/` on Linux).
pub fn config_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PRIMO_CONFIG") {
        return Some(PathBuf::from(path));
    }
    directories::ProjectDirs::from("com", "PRIMO", "primo")
        .map(|dirs| dirs.config_dir().join("config.toml"))
}

/// Reads the config file; a missing file is an empty configuration unless
/// `$PRIMO_CONFIG` names it.
pub fn load() -> Result<(Option<PathBuf>, ConfigFile), Failure> {
    let Some(path) = config_path() else {
        return Ok((None, ConfigFile::default()));
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound
                && std::env::var_os("PRIMO_CONFIG").is_none() =>
        {
            return Ok((None, ConfigFile::default()));
        }
        Err(e) => {
            return Err(Failure::config(format!(
                "cannot read config file {}: {e}",
                path.display()
            )));
        }
    };
    let config = parse(&text)
        .map_err(|reason| Failure::config(format!("config file {}: {reason}", path.display())))?;
    Ok((Some(path), config))
}

fn parse(text: &str) -> Result<ConfigFile, String> {
    // A plaintext secret is refused by name, before the generic
    // unknown-field message would hide why.
    // The file's own lines are never quoted: one of them may hold a secret.
    let at_line = |e: toml::de::Error| match e.span() {
        Some(span) => format!(
            "line {}: {}",
            text[..span.start].lines().count().max(1),
            e.message()
        ),
        None => e.message().to_owned(),
    };
    let raw: toml::Table = text.parse().map_err(at_line)?;
    if let Some(toml::Value::Table(profiles)) = raw.get("profiles") {
        for (name, profile) in profiles {
            for key in ["secret", "client_secret", "token", "password"] {
                if profile.get(key).is_some() {
                    return Err(format!(
                        "profile {name:?} holds `{key}` in plain text: name a variable ({key}_env) or a file ({key}_file) instead",
                        key = if key == "token" { "token" } else { "secret" }
                    ));
                }
            }
        }
    }
    toml::from_str(text).map_err(at_line)
}

impl Profile {
    /// The credentials this profile points to, if it names any.
    pub fn credentials(&self, name: &str) -> Result<Option<Credentials>, Failure> {
        if let Some(token) = self.token(name)? {
            return Ok(Some(Credentials::token(token)));
        }
        let secret = match (&self.secret_env, &self.secret_file) {
            (Some(var), _) => Some(read_var(name, var)?),
            (None, Some(file)) => Some(read_secret_file(name, file)?),
            (None, None) => None,
        };
        let client_id = match (&self.client_id, &self.client_id_env) {
            (Some(id), _) => Some(id.clone()),
            (None, Some(var)) => Some(read_var(name, var)?),
            (None, None) => None,
        };
        match (client_id, secret) {
            (Some(id), Some(secret)) => Ok(Some(Credentials::client(id, secret))),
            (None, None) => Ok(None),
            _ => Err(Failure::config(format!(
                "profile {name:?} names only half of the client credentials: it needs a client id and a secret"
            ))),
        }
    }

    fn token(&self, name: &str) -> Result<Option<String>, Failure> {
        match (&self.token_env, &self.token_file) {
            (Some(var), _) => read_var(name, var).map(Some),
            (None, Some(file)) => read_secret_file(name, file).map(Some),
            (None, None) => Ok(None),
        }
    }
}

fn read_var(profile: &str, var: &str) -> Result<String, Failure> {
    match std::env::var(var) {
        Ok(value) if !value.is_empty() => Ok(value),
        _ => Err(Failure::config(format!(
            "profile {profile:?} takes a credential from the variable {var}, which is not set"
        ))),
    }
}

/// Reads a secret from a file that only its owner may read.
fn read_secret_file(profile: &str, path: &Path) -> Result<String, Failure> {
    let metadata = std::fs::metadata(path).map_err(|e| {
        Failure::config(format!(
            "profile {profile:?}: cannot read {}: {e}",
            path.display()
        ))
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(Failure::config(format!(
                "profile {profile:?}: {} is readable by others (mode {:o}); run `chmod 600 {}`",
                path.display(),
                mode & 0o777,
                path.display()
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = metadata;
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::config(format!(
            "profile {profile:?}: cannot read {}: {e}",
            path.display()
        ))
    })?;
    let value = text.trim().to_owned();
    if value.is_empty() {
        return Err(Failure::config(format!(
            "profile {profile:?}: {} is empty",
            path.display()
        )));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_secrets_are_refused_by_name() {
        let error =
            parse("[profiles.dev]\nenv = \"development\"\nsecret = \"hunter2\"\n").unwrap_err();
        assert!(error.contains("plain text"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
    }

    #[test]
    fn profiles_parse() {
        let config = parse(
            "default_profile = \"dev\"\n[profiles.dev]\nenv = \"development\"\nclient_id = \"c\"\nsecret_env = \"S\"\n",
        )
        .unwrap();
        assert_eq!(config.default_profile.as_deref(), Some("dev"));
        assert_eq!(config.profiles["dev"].secret_env.as_deref(), Some("S"));
    }

    #[test]
    fn unknown_keys_are_errors() {
        assert!(
            parse("[profiles.dev]\nenvironment = \"development\"\n")
                .unwrap_err()
                .contains("environment")
        );
    }
}
