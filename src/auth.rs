//! Credentials and the bearer token they yield, shared by every request.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};
use tokio::sync::Mutex;

/// The body of `POST /v1/auth/login`, in place of the generated type so
/// that the secret is held redacted.
#[derive(Clone)]
pub struct LoginRequest {
    /// The client id.
    pub clientid: String,
    /// The client secret; written out only into the request body.
    pub secret: SecretString,
}

impl Serialize for LoginRequest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut body = serializer.serialize_struct("LoginRequest", 2)?;
        body.serialize_field("clientid", &self.clientid)?;
        body.serialize_field("secret", self.secret.expose_secret())?;
        body.end()
    }
}

impl fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginRequest")
            .field("clientid", &"[redacted]")
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// The payload of a successful login, in place of the generated type so
/// that the token is held redacted. Other fields (an expiry, a type) are
/// ignored.
#[derive(Clone, Deserialize)]
pub struct LoginResult {
    /// The bearer token.
    pub token: SecretString,
}

/// Writes `[redacted]` in place of the token: a login answer written back
/// out must not carry it.
impl Serialize for LoginResult {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut body = serializer.serialize_struct("LoginResult", 1)?;
        body.serialize_field("token", "[redacted]")?;
        body.end()
    }
}

impl fmt::Debug for LoginResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginResult")
            .field("token", &"[redacted]")
            .finish()
    }
}

/// How the client proves who it is.
///
/// Secrets live in [`SecretString`]: they are wiped on drop and never
/// printed by `Debug`.
///
/// ```
/// use primo_connect::Credentials;
///
/// let credentials = Credentials::client("my-client", "s3cr3t");
/// assert!(!format!("{credentials:?}").contains("s3cr3t"));
/// ```
#[derive(Clone)]
pub enum Credentials {
    /// A client id and secret, exchanged for a token at `/v1/auth/login`;
    /// the token is cached and renewed once after a 401.
    Client {
        /// The client id (not secret, but kept out of logs all the same).
        client_id: String,
        /// The client secret.
        secret: SecretString,
    },
    /// A ready bearer token. A 401 is final: there is nothing to renew it
    /// with.
    Token(SecretString),
}

impl Credentials {
    /// Client credentials for `/v1/auth/login`.
    pub fn client(client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        Credentials::Client {
            client_id: client_id.into(),
            secret: SecretString::from(secret.into()),
        }
    }

    /// A ready bearer token.
    pub fn token(token: impl Into<String>) -> Self {
        Credentials::Token(SecretString::from(token.into()))
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Client { .. } => f
                .debug_struct("Client")
                .field("client_id", &"[redacted]")
                .field("secret", &"[redacted]")
                .finish(),
            Credentials::Token(_) => f.debug_tuple("Token").field(&"[redacted]").finish(),
        }
    }
}

/// The current token, with a generation number so that a request that saw
/// a 401 renews only the token it used, not one another request already
/// renewed.
#[derive(Clone)]
pub(crate) struct IssuedToken {
    pub(crate) generation: u64,
    pub(crate) value: SecretString,
}

impl IssuedToken {
    pub(crate) fn bearer(
        &self,
    ) -> Result<reqwest::header::HeaderValue, reqwest::header::InvalidHeaderValue> {
        let mut value = reqwest::header::HeaderValue::from_str(&format!(
            "Bearer {}",
            self.value.expose_secret()
        ))?;
        value.set_sensitive(true);
        Ok(value)
    }
}

/// The token cache. Holding its lock across the login makes requests that
/// need a token at the same time share one login.
pub(crate) struct TokenCache {
    state: Mutex<CacheState>,
}

struct CacheState {
    generation: u64,
    token: Option<SecretString>,
}

impl TokenCache {
    pub(crate) fn new(initial: Option<SecretString>) -> Self {
        TokenCache {
            state: Mutex::new(CacheState {
                generation: u64::from(initial.is_some()),
                token: initial,
            }),
        }
    }

    /// The cached token, or the one `login` yields, for every caller waiting
    /// at the same time.
    pub(crate) async fn get_or_login<F, Fut, E>(&self, login: F) -> Result<IssuedToken, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<SecretString, E>>,
    {
        let mut state = self.state.lock().await;
        if let Some(token) = &state.token {
            return Ok(IssuedToken {
                generation: state.generation,
                value: token.clone(),
            });
        }
        let token = login().await?;
        state.generation += 1;
        state.token = Some(token.clone());
        Ok(IssuedToken {
            generation: state.generation,
            value: token,
        })
    }

    /// Forgets the token of `generation`, unless a newer one replaced it.
    pub(crate) async fn invalidate(&self, generation: u64) {
        let mut state = self.state.lock().await;
        if state.generation == generation {
            state.token = None;
        }
    }
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenCache([redacted])")
    }
}
