//! The environments the API runs in, and where each one lives.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::Error;

/// Base URL of the Development environment.
pub const DEVELOPMENT_URL: &str =
    "https://lfs-connect-enterprise-api-dev-h7ekhqc6g0g2greg.centralus-01.azurewebsites.net";

/// Base URL of the Production environment.
pub const PRODUCTION_URL: &str =
    "https://lfs-connect-enterprise-api-prod-d6hrg8hrg9bphpc7.centralus-01.azurewebsites.net";

/// One isolated instance of the API.
///
/// Credentials, tokens and identifiers from one environment are never valid
/// in another, so every directory and target remembers its environment.
///
/// ```
/// use primo_connect::Environment;
///
/// let dev: Environment = "development".parse().unwrap();
/// assert!(dev.base_url().as_str().starts_with("https://lfs-connect-enterprise-api-dev"));
/// let local = Environment::custom("http://127.0.0.1:8080").unwrap();
/// assert_eq!(local.to_string(), "http://127.0.0.1:8080/");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// The provider's Development environment.
    Development,
    /// The provider's Production environment.
    Production,
    /// Any other server that speaks the API: the sandbox, a test double, a
    /// proxy. Compared by its normalized URL.
    Custom(Url),
}

impl Environment {
    /// An environment at a base URL of your own.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSetting`] when `base_url` is not an absolute `http` or
    /// `https` URL.
    pub fn custom(base_url: &str) -> Result<Self, Error> {
        let invalid = |reason: &str| Error::InvalidSetting {
            name: "base URL",
            value: base_url.to_owned(),
            reason: reason.to_owned(),
        };
        let url = Url::parse(base_url).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid("the scheme must be http or https"));
        }
        if url.host().is_none() {
            return Err(invalid("it names no host"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid("it must not carry a query or fragment"));
        }
        Ok(Environment::Custom(url))
    }

    /// The base URL requests go to; paths such as `/v1/customers` are
    /// appended to it.
    pub fn base_url(&self) -> Url {
        match self {
            // The constants are valid URLs, checked by a unit test.
            Environment::Development => {
                Url::parse(DEVELOPMENT_URL).unwrap_or_else(|_| unreachable!())
            }
            Environment::Production => {
                Url::parse(PRODUCTION_URL).unwrap_or_else(|_| unreachable!())
            }
            Environment::Custom(url) => url.clone(),
        }
    }

    /// The base URL as the generated client wants it: no trailing slash.
    pub(crate) fn base_url_for_requests(&self) -> String {
        self.base_url().as_str().trim_end_matches('/').to_owned()
    }

    /// Whether credentials may be sent there: over `https`, or over plain
    /// `http` only to a loopback address.
    pub fn allows_credentials(&self) -> bool {
        let url = self.base_url();
        match url.scheme() {
            "https" => true,
            _ => match url.host() {
                Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
                Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
                None => false,
            },
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Environment::Development => f.write_str("development"),
            Environment::Production => f.write_str("production"),
            Environment::Custom(url) => f.write_str(url.as_str()),
        }
    }
}

impl FromStr for Environment {
    type Err = Error;

    /// Reads `development` or `production` (any case), or an `http(s)://`
    /// base URL.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "development" | "dev" => Ok(Environment::Development),
            "production" | "prod" => Ok(Environment::Production),
            _ if text.contains("://") => Environment::custom(text),
            _ => Err(Error::InvalidSetting {
                name: "environment",
                value: text.to_owned(),
                reason: "expected development, production or an http(s) base URL".to_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_environments_have_valid_https_urls() {
        for env in [Environment::Development, Environment::Production] {
            assert_eq!(
                Url::parse(&env.base_url_for_requests()).unwrap().scheme(),
                "https"
            );
            assert!(env.allows_credentials());
        }
        assert_ne!(
            Environment::Development.base_url(),
            Environment::Production.base_url()
        );
    }

    #[test]
    fn plain_http_is_for_loopback_only() {
        for (url, allowed) in [
            ("http://127.0.0.1:1", true),
            ("http://localhost:8080", true),
            ("http://[::1]:80", true),
            ("http://10.0.0.5", false),
            ("http://example.com", false),
            ("https://example.com", true),
        ] {
            assert_eq!(
                Environment::custom(url).unwrap().allows_credentials(),
                allowed,
                "{url}"
            );
        }
    }

    #[test]
    fn malformed_base_urls_name_the_value() {
        for url in [
            "not a url",
            "ftp://example.com",
            "http://example.com/?x=1",
            "staging",
        ] {
            let message = url.parse::<Environment>().unwrap_err().to_string();
            assert!(message.contains(url), "{message}");
        }
    }
}
