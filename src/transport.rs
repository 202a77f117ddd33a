//! What every request goes through: the generated client's hooks, a fully
//! read body, the classification of what came back, and retries.
//!
//! The generated client builds and decodes requests; this module decides
//! what leaves (the bearer token, never the generator's `api-version`
//! header) and makes sense of what arrives. The body is read inside the
//! `exec` hook, so a body cut short surfaces as a transport error of the
//! call being retried, and the status, content type and bytes of every
//! answer are kept for the error messages that progenitor's own error lacks.

use std::cell::RefCell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use backon::{ExponentialBuilder, Retryable};
use bytes::Bytes;
use progenitor_client::{ClientHooks, ClientInfo, OperationInfo, ResponseValue};
use reqwest::header::{self, HeaderValue};
use serde::de::DeserializeOwned;

use crate::error::{Error, Step, TransportKind, excerpt};
use crate::generated;

/// How many characters of a body an error quotes.
const EXCERPT_CHARS: usize = 200;

tokio::task_local! {
    /// The exchange under way in this task: what to send, and what came back.
    static EXCHANGE: Exchange;
}

struct Exchange {
    bearer: Option<HeaderValue>,
    received: RefCell<Option<Received>>,
}

/// An answer as it arrived, before decoding.
#[derive(Clone, Debug)]
pub(crate) struct Received {
    pub(crate) status: u16,
    pub(crate) content_type: Option<String>,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) body: Bytes,
}

impl Received {
    fn content_type_or_none(&self) -> String {
        self.content_type
            .clone()
            .unwrap_or_else(|| "none".to_owned())
    }

    fn excerpt(&self) -> String {
        excerpt(String::from_utf8_lossy(&self.body).trim(), EXCERPT_CHARS)
    }
}

impl ClientHooks for generated::Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        _info: &OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        // progenitor sends `api-version: <info.version>` on every request.
        // ASP.NET API versioning reads exactly that header and the provider
        // documents only Authorization and Content-Type, so it never leaves.
        request.headers_mut().remove("api-version");

        if let Ok(Some(bearer)) = EXCHANGE.try_with(|exchange| exchange.bearer.clone()) {
            request.headers_mut().insert(header::AUTHORIZATION, bearer);
        }
        Ok(())
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        _info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        let response = self.client().execute(request).await?;
        let status = response.status();
        let version = response.version();
        let headers = response.headers().clone();
        let body = response.bytes().await?;

        let received = Received {
            status: status.as_u16(),
            content_type: headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            retry_after: headers.get(header::RETRY_AFTER).and_then(parse_retry_after),
            body: body.clone(),
        };
        let _ = EXCHANGE.try_with(|exchange| *exchange.received.borrow_mut() = Some(received));

        // Hand the generated code an answer whose body is already in memory.
        let mut rebuilt = http::Response::new(reqwest::Body::from(body));
        *rebuilt.status_mut() = status;
        *rebuilt.version_mut() = version;
        *rebuilt.headers_mut() = headers;
        Ok(reqwest::Response::from(rebuilt))
    }
}

/// Runs one generated call with `bearer` attached, and returns its result
/// with the answer as it arrived (none when nothing arrived).
pub(crate) async fn exchange<T, Fut>(
    bearer: Option<HeaderValue>,
    call: Fut,
) -> (
    Result<ResponseValue<T>, progenitor_client::Error<()>>,
    Option<Received>,
)
where
    Fut: Future<Output = Result<ResponseValue<T>, progenitor_client::Error<()>>>,
{
    let exchange = Exchange {
        bearer,
        received: RefCell::new(None),
    };
    EXCHANGE
        .scope(exchange, async {
            let result = call.await;
            let received = EXCHANGE.with(|exchange| exchange.received.borrow_mut().take());
            (result, received)
        })
        .await
}

/// Turns the generated client's result into the envelope it decoded, or an
/// [`Error`] that names the step, status, JSON path and body excerpt.
pub(crate) fn interpret<T: DeserializeOwned>(
    step: Step,
    result: Result<ResponseValue<T>, progenitor_client::Error<()>>,
    received: Option<&Received>,
) -> Result<T, Error> {
    use progenitor_client::Error as Generated;

    match result {
        Ok(value) => Ok(value.into_inner()),
        Err(Generated::CommunicationError(source) | Generated::ResponseBodyError(source)) => {
            Err(transport_error(step, source))
        }
        Err(Generated::ErrorResponse(value)) => {
            Err(status_error(step, value.status().as_u16(), received))
        }
        Err(Generated::UnexpectedResponse(response)) => {
            Err(status_error(step, response.status().as_u16(), received))
        }
        Err(Generated::InvalidResponsePayload(bytes, _)) => {
            let status = received.map_or(200, |r| r.status);
            Err(payload_error::<T>(step, status, received, &bytes))
        }
        Err(other) => Err(Error::UnexpectedStatus {
            step,
            status: received.map_or(0, |r| r.status),
            // Not the error's own text: progenitor's Display can print
            // headers. Its kind is enough.
            excerpt: generated_error_kind(&other).to_owned(),
        }),
    }
}

fn generated_error_kind(error: &progenitor_client::Error<()>) -> &'static str {
    match error {
        progenitor_client::Error::InvalidRequest(_) => "the request could not be built",
        progenitor_client::Error::InvalidUpgrade(_) => "an unexpected protocol upgrade",
        _ => "an unexpected error from the generated client",
    }
}

fn transport_error(step: Step, source: reqwest::Error) -> Error {
    let kind = if source.is_timeout() {
        TransportKind::Timeout
    } else if source.is_connect() {
        TransportKind::Connect
    } else if source.is_body() || source.is_decode() {
        TransportKind::Body
    } else {
        TransportKind::Other
    };
    let mut url = source.url().cloned();
    if let Some(url) = url.as_mut() {
        url.set_query(None);
    }
    Error::Transport {
        step,
        url: url.map_or_else(|| "unknown URL".to_owned(), String::from),
        kind,
        attempts: 1,
        // The URL is in the message already.
        source: Some(source.without_url()),
    }
}

fn status_error(step: Step, status: u16, received: Option<&Received>) -> Error {
    let excerpt = received.map(Received::excerpt).unwrap_or_default();
    match (step, status) {
        (Step::Login, 400 | 401) => Error::LoginRefused { status },
        (_, 401) => Error::Unauthenticated { step },
        (_, 403) => Error::Forbidden { step },
        (_, 429) => Error::RateLimited {
            step,
            retry_after: received.and_then(|r| r.retry_after),
            attempts: 1,
        },
        (_, 408 | 500 | 502 | 503 | 504) => Error::Unavailable {
            step,
            status,
            retry_after: received.and_then(|r| r.retry_after),
            attempts: 1,
            content_type: received
                .map(Received::content_type_or_none)
                .unwrap_or_default(),
            excerpt,
        },
        _ => Error::UnexpectedStatus {
            step,
            status,
            excerpt,
        },
    }
}

/// A documented status arrived but its body did not decode: tell a body
/// that is not JSON at all (an HTML page) from JSON of the wrong shape, and
/// for the latter find the JSON path progenitor's error does not carry.
fn payload_error<T: DeserializeOwned>(
    step: Step,
    status: u16,
    received: Option<&Received>,
    bytes: &[u8],
) -> Error {
    let looks_like_json = received
        .and_then(|r| r.content_type.as_deref())
        .is_none_or(|ct| ct.to_ascii_lowercase().contains("json"));
    let starts_like_json = bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| matches!(b, b'{' | b'['));
    if !looks_like_json || !starts_like_json {
        return Error::NotJson {
            step,
            status,
            content_type: received
                .map(Received::content_type_or_none)
                .unwrap_or_default(),
            excerpt: excerpt(String::from_utf8_lossy(bytes).trim(), EXCERPT_CHARS),
        };
    }
    decode::<T>(step, bytes)
        .err()
        .unwrap_or_else(|| Error::Decode {
            step,
            path: ".".to_owned(),
            message: "the body did not decode".to_owned(),
        })
}

/// Decodes `bytes` as `T`, naming the JSON path of the first value that
/// does not fit.
///
/// # Errors
///
/// [`Error::Decode`] with the path and the reason.
pub(crate) fn decode<T: DeserializeOwned>(step: Step, bytes: &[u8]) -> Result<T, Error> {
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        // In text that is not valid JSON the last segment is the key that
        // was about to be read (`?`); the path up to it is where it broke.
        let path = e.path().to_string();
        let path = match path.strip_suffix(".?").or_else(|| path.strip_suffix('?')) {
            Some("") => ".".to_owned(),
            Some(parent) => parent.to_owned(),
            None => path,
        };
        let message = if e.inner().is_syntax() || e.inner().is_eof() {
            format!("invalid JSON: {}", e.inner())
        } else {
            e.inner().to_string()
        };
        Error::Decode {
            step,
            path,
            message,
        }
    })
}

/// Reads `Retry-After` as seconds or as an HTTP date.
fn parse_retry_after(value: &HeaderValue) -> Option<Duration> {
    let text = value.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(text).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// When and how often failed requests are tried again.
///
/// Defaults: 4 attempts in all, a first wait of 200 ms doubling up to 5 s,
/// with jitter; a server's `Retry-After` is honoured up to 30 s, and a
/// longer one ends the retries at once with the server's hint in the error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    attempts: usize,
    first_wait: Duration,
    max_wait: Duration,
    max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            first_wait: Duration::from_millis(200),
            max_wait: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retries: every request is tried once.
    pub fn none() -> Self {
        RetryPolicy {
            attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// Sets the number of attempts in all, the first included.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSetting`] for 0.
    pub fn with_attempts(mut self, attempts: usize) -> Result<Self, Error> {
        if attempts == 0 {
            return Err(Error::InvalidSetting {
                name: "retry count",
                value: attempts.to_string(),
                reason: "at least one attempt is needed".to_owned(),
            });
        }
        self.attempts = attempts;
        Ok(self)
    }

    /// Sets the first wait and the cap on waits between attempts.
    pub fn with_waits(mut self, first: Duration, max: Duration) -> Self {
        self.first_wait = first;
        self.max_wait = max.max(first);
        self
    }

    /// Sets the longest `Retry-After` the client will wait for.
    pub fn with_max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// Attempts in all, the first included.
    pub fn attempts(&self) -> usize {
        self.attempts
    }

    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.first_wait)
            .with_max_delay(self.max_wait)
            .with_max_times(self.attempts.saturating_sub(1))
            .with_jitter()
    }
}

/// A pause shared by every request of one client: a 429 or `Retry-After`
/// seen by one request holds back the others too, rather than letting each
/// page of a concurrent walk find out on its own.
#[derive(Debug, Default)]
pub(crate) struct PauseGate {
    until: Mutex<Option<tokio::time::Instant>>,
}

impl PauseGate {
    async fn wait(&self) {
        let until = *self.until.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(until) = until {
            tokio::time::sleep_until(until).await;
        }
    }

    fn pause_for(&self, wait: Duration) {
        let until = tokio::time::Instant::now() + wait;
        let mut slot = self.until.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none_or(|current| current < until) {
            *slot = Some(until);
        }
    }
}

impl Error {
    /// Whether trying the same request again may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Transport { kind, .. } => *kind != TransportKind::Other,
            Error::RateLimited { .. } | Error::Unavailable { .. } => true,
            _ => false,
        }
    }

    /// Why a request is tried again, in a few words: the status or the
    /// kind of transport failure, not the whole error with its body.
    fn retry_reason(&self) -> String {
        match self {
            Error::Transport { kind, .. } => kind.to_string(),
            other => other
                .status()
                .map_or_else(|| "a transient error".to_owned(), |s| format!("status {s}")),
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } | Error::Unavailable { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    fn set_attempts(&mut self, made: usize) {
        if let Error::RateLimited { attempts, .. }
        | Error::Unavailable { attempts, .. }
        | Error::Transport { attempts, .. } = self
        {
            *attempts = made;
        }
    }
}

/// Runs `attempt` until it succeeds, fails for good, or the policy says
/// stop; every attempt first waits out any pause another request set.
pub(crate) async fn with_retries<T, F, Fut>(
    policy: &RetryPolicy,
    gate: &PauseGate,
    step: Step,
    mut attempt: F,
) -> Result<T, Error>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let made = AtomicUsize::new(0);
    let result = (|| {
        let number = made.fetch_add(1, Ordering::Relaxed) + 1;
        let future = attempt(number);
        async move {
            gate.wait().await;
            future.await
        }
    })
    .retry(policy.backoff())
    .when(Error::is_transient)
    .adjust(|error, backoff| {
        let wait = backoff?;
        match error.retry_after() {
            Some(asked) if asked > policy.max_retry_after => None,
            Some(asked) => {
                gate.pause_for(asked);
                Some(asked)
            }
            None => Some(wait),
        }
    })
    .notify(|error, wait| {
        tracing::warn!(%step, wait_ms = wait.as_millis() as u64, reason = %error.retry_reason(), "retrying");
    })
    .await;

    result.map_err(|mut error| {
        error.set_attempts(made.load(Ordering::Relaxed));
        error
    })
}

/// Logs one request at debug level with its structured fields.
pub(crate) fn log_request(
    method: &str,
    path: &str,
    step: Step,
    attempt: usize,
    started: Instant,
    received: Option<&Received>,
) {
    let page = match step {
        Step::Page(n) => Some(n),
        Step::Login => None,
    };
    tracing::debug!(
        method,
        path,
        page,
        status = received.map(|r| r.status),
        duration_ms = started.elapsed().as_millis() as u64,
        attempt,
        "request"
    );
    if let Some(received) = received
        && path != "/v1/auth/login"
    {
        tracing::trace!(body = %received.excerpt(), "response body (cut short)");
    }
}
