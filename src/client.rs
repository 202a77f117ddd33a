//! The client: one environment, its credentials, and the requests the crate
//! makes through the generated code.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::Stream;
use secrecy::{ExposeSecret, SecretString};

use crate::auth::LoginRequest;
use crate::auth::{Credentials, IssuedToken, TokenCache};
use crate::error::{Error, Step};
use crate::generated;
use crate::transport::{self, PauseGate, Received, RetryPolicy};
use crate::types::{Customer, CustomerPageEnvelope, LoginEnvelope};
use crate::walk::{Page, PageSource, PageWalk, WalkOptions};
use crate::{CustomerDirectory, Environment};

/// Default time allowed to open a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Default time allowed for one request, body included.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A client for one Connect Enterprise environment.
///
/// Cheap to clone (`Clone + Send + Sync`): clones share the connection
/// pool, the token and the rate-limit pause.
#[derive(Clone)]
pub struct ConnectClient {
    inner: Arc<Inner>,
}

struct Inner {
    api: generated::Client,
    environment: Environment,
    credentials: Credentials,
    tokens: TokenCache,
    retry: RetryPolicy,
    pause: PauseGate,
    walk: WalkOptions,
}

impl fmt::Debug for ConnectClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectClient")
            .field("environment", &self.inner.environment)
            .field("credentials", &self.inner.credentials)
            .field("retry", &self.inner.retry)
            .field("walk", &self.inner.walk)
            .finish_non_exhaustive()
    }
}

/// Settings for a [`ConnectClient`]; the environment and the credentials are
/// taken up front, everything else has a default.
#[derive(Debug)]
#[must_use]
pub struct ClientBuilder {
    environment: Environment,
    credentials: Credentials,
    http: Option<reqwest::Client>,
    connect_timeout: Duration,
    request_timeout: Duration,
    retry: RetryPolicy,
    walk: WalkOptions,
}

impl ClientBuilder {
    /// Uses your own `reqwest::Client` (proxies, custom roots, a shared
    /// pool). Its timeouts and user agent then apply instead of this
    /// builder's.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Time allowed to open a connection. Default 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Time allowed for one request, body included. Default 30 s.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// When to try failed requests again. Default [`RetryPolicy::default`].
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// How page walks ask for pages. Default [`WalkOptions::default`].
    pub fn walk_options(mut self, options: WalkOptions) -> Self {
        self.walk = options;
        self
    }

    /// Builds the client. No request is made.
    ///
    /// # Errors
    ///
    /// [`Error::InsecureTransport`] when credentials would go over plain
    /// HTTP to anything but loopback; [`Error::InvalidSetting`] when the
    /// HTTP client cannot be built.
    pub fn build(self) -> Result<ConnectClient, Error> {
        if !self.environment.allows_credentials() {
            return Err(Error::InsecureTransport {
                url: self.environment.base_url().to_string(),
            });
        }

        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .user_agent(concat!(
                    env!("CARGO_PKG_NAME"),
                    "/",
                    env!("CARGO_PKG_VERSION")
                ))
                .connect_timeout(self.connect_timeout)
                .timeout(self.request_timeout)
                .build()
                .map_err(|e| Error::InvalidSetting {
                    name: "HTTP client",
                    value: String::new(),
                    reason: e.to_string(),
                })?,
        };
        let api =
            generated::Client::new_with_client(&self.environment.base_url_for_requests(), http);

        let initial = match &self.credentials {
            Credentials::Token(token) => Some(token.clone()),
            Credentials::Client { .. } => None,
        };
        Ok(ConnectClient {
            inner: Arc::new(Inner {
                api,
                environment: self.environment,
                credentials: self.credentials,
                tokens: TokenCache::new(initial),
                retry: self.retry,
                pause: PauseGate::default(),
                walk: self.walk,
            }),
        })
    }
}

/// One page as it arrived, with its raw body, for tools that check or
/// record the wire format.
#[derive(Debug)]
pub struct RawPage {
    /// The 1-based page number asked for.
    pub number: u64,
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// The body, decompressed.
    pub body: Bytes,
    /// The page decoded through the generated types, or why it did not.
    pub decoded: Result<Page, Error>,
}

impl ConnectClient {
    /// Starts building a client for `environment` with `credentials`.
    pub fn builder(environment: Environment, credentials: Credentials) -> ClientBuilder {
        ClientBuilder {
            environment,
            credentials,
            http: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            retry: RetryPolicy::default(),
            walk: WalkOptions::default(),
        }
    }

    /// The environment this client talks to.
    pub fn environment(&self) -> &Environment {
        &self.inner.environment
    }

    /// How this client walks pages.
    pub fn walk_options(&self) -> WalkOptions {
        self.inner.walk
    }

    /// Fetches every customer and checks the business rules.
    ///
    /// # Errors
    ///
    /// The first error of the walk (see [`PageWalk::collect`]); nothing
    /// partial is ever returned.
    pub async fn directory(&self) -> Result<CustomerDirectory, Error> {
        let customers = PageWalk::new(self, self.inner.walk).collect().await?;
        Ok(CustomerDirectory::new(
            self.inner.environment.clone(),
            customers,
        ))
    }

    /// Every customer, in server order, as pages arrive; see
    /// [`PageWalk::customers`].
    pub fn customers(&self) -> impl Stream<Item = Result<Customer, Error>> + Send + '_ {
        PageWalk::new(self, self.inner.walk).customers()
    }

    /// A walk over every page with this client's options.
    pub fn walk(&self) -> PageWalk<'_, Self> {
        PageWalk::new(self, self.inner.walk)
    }

    /// Fetches one page and keeps its raw body alongside the decoded page.
    ///
    /// # Errors
    ///
    /// Only when no answer arrived (transport failure, retries spent on a
    /// status, authentication); a body that does not decode is returned in
    /// [`RawPage::decoded`].
    pub async fn fetch_raw_page(
        &self,
        number: u64,
        per_page: NonZeroU32,
    ) -> Result<RawPage, Error> {
        let (decoded, received) = self.page_exchange(number, per_page).await;
        match (decoded, received) {
            (decoded, Some(received)) if received.status == 200 => Ok(RawPage {
                number,
                status: received.status,
                content_type: received.content_type,
                body: received.body,
                decoded,
            }),
            (Err(error), _) => Err(error),
            (Ok(_), _) => Err(Error::MissingData {
                step: Step::Page(number),
            }),
        }
    }

    /// One page, with retries and one fresh login after a 401, and the last
    /// answer as it arrived.
    async fn page_exchange(
        &self,
        number: u64,
        per_page: NonZeroU32,
    ) -> (Result<Page, Error>, Option<Received>) {
        let step = Step::Page(number);
        let last = std::sync::Mutex::new(None);
        let Some(page_param) = u32::try_from(number).ok().and_then(NonZeroU32::new) else {
            let error = Error::InvalidSetting {
                name: "page number",
                value: number.to_string(),
                reason: "pages are numbered from 1 to 4294967295".to_owned(),
            };
            return (Err(error), None);
        };

        let result = self
            .authorized(step, |bearer, attempt| {
                let last = &last;
                async move {
                    let started = Instant::now();
                    let call = self
                        .inner
                        .api
                        .get_customers(Some(page_param), Some(per_page));
                    let (result, received) = transport::exchange(Some(bearer), call).await;
                    transport::log_request(
                        "GET",
                        "/v1/customers",
                        step,
                        attempt,
                        started,
                        received.as_ref(),
                    );
                    let envelope: Result<CustomerPageEnvelope, Error> =
                        transport::interpret(step, result, received.as_ref());
                    *last.lock().unwrap_or_else(|p| p.into_inner()) = received;
                    let envelope = envelope?;
                    check_errors(step, envelope.errors.as_ref())?;
                    let data = envelope.data.ok_or(Error::MissingData { step })?;
                    Page::from_api(number, data)
                }
            })
            .await;
        (result, last.into_inner().unwrap_or_else(|p| p.into_inner()))
    }

    /// Runs `request` with a bearer token and retries; after a 401, when the
    /// client holds client credentials, logs in again (once, shared with
    /// every request that saw the same token fail) and repeats it once.
    async fn authorized<T, F, Fut>(&self, step: Step, request: F) -> Result<T, Error>
    where
        F: Fn(reqwest::header::HeaderValue, usize) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let can_renew = matches!(self.inner.credentials, Credentials::Client { .. });
        let mut renewed = false;
        loop {
            let token = self.token().await?;
            let bearer = token.bearer().map_err(|_| Error::InvalidSetting {
                name: "token",
                value: "[redacted]".to_owned(),
                reason: "it holds characters an HTTP header cannot carry".to_owned(),
            })?;
            let result =
                transport::with_retries(&self.inner.retry, &self.inner.pause, step, |attempt| {
                    request(bearer.clone(), attempt)
                })
                .await;
            match result {
                Err(Error::Unauthenticated { .. }) if can_renew && !renewed => {
                    tracing::warn!(%step, "the token was refused; logging in again");
                    self.inner.tokens.invalidate(token.generation).await;
                    renewed = true;
                }
                other => return other,
            }
        }
    }

    async fn token(&self) -> Result<IssuedToken, Error> {
        self.inner.tokens.get_or_login(|| self.login()).await
    }

    /// Exchanges the client id and secret for a token, with retries.
    async fn login(&self) -> Result<SecretString, Error> {
        let Credentials::Client { client_id, secret } = &self.inner.credentials else {
            // A ready token is cached from the start and never forgotten.
            return Err(Error::Unauthenticated { step: Step::Login });
        };
        let step = Step::Login;
        let body = LoginRequest {
            clientid: client_id.clone(),
            secret: secret.clone(),
        };
        transport::with_retries(&self.inner.retry, &self.inner.pause, step, |attempt| {
            let body = &body;
            async move {
                let started = Instant::now();
                let call = self.inner.api.login(body);
                let (result, received) = transport::exchange(None, call).await;
                transport::log_request(
                    "POST",
                    "/v1/auth/login",
                    step,
                    attempt,
                    started,
                    received.as_ref(),
                );
                let envelope: LoginEnvelope =
                    transport::interpret(step, result, received.as_ref())?;
                check_errors(step, envelope.errors.as_ref())?;
                let data = envelope.data.ok_or(Error::MissingData { step })?;
                if data.token.expose_secret().is_empty() {
                    return Err(Error::MissingData { step });
                }
                Ok(data.token)
            }
        })
        .await
    }
}

impl PageSource for ConnectClient {
    /// Fetches and decodes the page in a task of its own, so that the pages
    /// of a concurrent walk are decoded on every core of the runtime rather
    /// than on the thread that consumes the walk.
    async fn fetch_page(&self, number: u64, per_page: NonZeroU32) -> Result<Page, Error> {
        let client = self.clone();
        let mut task = AbortOnDrop(tokio::spawn(async move {
            client.page_exchange(number, per_page).await.0
        }));
        match (&mut task.0).await {
            Ok(result) => result,
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            // Cancelled from outside: the runtime is shutting down.
            Err(_) => Err(Error::Transport {
                step: Step::Page(number),
                url: self.environment().base_url().to_string(),
                kind: crate::TransportKind::Other,
                attempts: 0,
                source: None,
            }),
        }
    }
}

/// Aborts a spawned page fetch whose walk was dropped, so that no request
/// outlives the walk that asked for it.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// `errors: null`, `errors: []` and no `errors` key all mean success.
fn check_errors(step: Step, errors: Option<&crate::types::ErrorList>) -> Result<(), Error> {
    match errors.and_then(|list| list.0.as_ref()) {
        Some(entries) if !entries.is_empty() => Err(Error::ApiErrors {
            step,
            errors: entries.clone(),
        }),
        _ => Ok(()),
    }
}
