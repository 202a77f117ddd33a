//! The crate's one error type.

use std::fmt;
use std::time::Duration;

use crate::rules::RuleProblem;

/// Which exchange with the API an error belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// `POST /v1/auth/login`.
    Login,
    /// `GET /v1/customers` for this 1-based page.
    Page(u64),
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Login => f.write_str("login"),
            Step::Page(n) => write!(f, "page {n}"),
        }
    }
}

/// Everything that can go wrong in this crate.
///
/// Messages are lowercase and never contain a token, a secret or a header.
/// Variants that come from the wire carry the [`Step`], the HTTP status and a
/// short excerpt of the body where those exist.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting is out of range or malformed (a page size of 0, a bad URL).
    #[error("invalid {name} {value:?}: {reason}")]
    InvalidSetting {
        /// The setting, e.g. `base URL` or `page size`.
        name: &'static str,
        /// The value as given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },

    /// Credentials would travel over plain HTTP to a host that is not
    /// loopback; refused before any request.
    #[error(
        "refusing to send credentials over plain http to {url}: use https (plain http is allowed only for loopback addresses)"
    )]
    InsecureTransport {
        /// The base URL.
        url: String,
    },

    /// The request could not be sent or its answer not read: connection
    /// refused, timeout, body cut short.
    #[error("{step}: {kind} after {attempts} attempt(s) ({url})")]
    Transport {
        /// Where it happened.
        step: Step,
        /// Where the request went, without its query.
        url: String,
        /// What happened, e.g. `timed out` or `connection failed`.
        kind: TransportKind,
        /// Requests tried.
        attempts: usize,
        /// The underlying error (its text names the URL, never a header).
        #[source]
        source: Option<reqwest::Error>,
    },

    /// 401: the token is missing, invalid or expired (after one fresh login
    /// where the crate holds client credentials).
    #[error("{step}: unauthenticated (401): the token is missing, invalid or expired")]
    Unauthenticated {
        /// Where it happened.
        step: Step,
    },

    /// 403: the token is valid but not allowed to read this resource.
    #[error("{step}: forbidden (403): these credentials may not read customers")]
    Forbidden {
        /// Where it happened.
        step: Step,
    },

    /// The login was refused (400 or 401): wrong client id or secret.
    #[error("login refused ({status}): check the client id and secret for this environment")]
    LoginRefused {
        /// The HTTP status.
        status: u16,
    },

    /// 429 past the retry budget, or with a wait longer than allowed.
    #[error("{step}: rate limited (429) after {attempts} attempt(s){}", hint(*retry_after))]
    RateLimited {
        /// Where it happened.
        step: Step,
        /// The wait the server asked for, if it said.
        retry_after: Option<Duration>,
        /// Requests made.
        attempts: usize,
    },

    /// 408, 500, 502, 503 or 504 past the retry budget.
    #[error("{step}: service unavailable ({status}, content type {content_type}) after {attempts} attempt(s){}{}", hint(*retry_after), excerpt_suffix(excerpt))]
    Unavailable {
        /// Where it happened.
        step: Step,
        /// The last HTTP status.
        status: u16,
        /// The `Content-Type` of the last answer, or `none`.
        content_type: String,
        /// The wait the server asked for, if it said.
        retry_after: Option<Duration>,
        /// Requests made.
        attempts: usize,
        /// The start of the last body.
        excerpt: String,
    },

    /// A status the API does not document for this request.
    #[error("{step}: unexpected status {status}{}", excerpt_suffix(excerpt))]
    UnexpectedStatus {
        /// Where it happened.
        step: Step,
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        excerpt: String,
    },

    /// The body is not JSON (an HTML error page from a load balancer or a
    /// proxy, say).
    #[error(
        "{step}: status {status} with a body that is not JSON (content type {content_type}): {excerpt:?}"
    )]
    NotJson {
        /// Where it happened.
        step: Step,
        /// The HTTP status.
        status: u16,
        /// The `Content-Type` header, or `none`.
        content_type: String,
        /// The first ~200 characters of the body.
        excerpt: String,
    },

    /// The body is JSON, or meant to be, but not the shape the spec
    /// describes: invalid JSON, a missing required field, a wrong type.
    #[error("{step}: {path}: {message}")]
    Decode {
        /// Where it happened.
        step: Step,
        /// The JSON path of the offending value, e.g.
        /// `data.results[4].customerNumber` (`.` for the whole document).
        path: String,
        /// What is wrong there.
        message: String,
    },

    /// A `200` whose `errors` is not empty.
    #[error("{step}: the server reported errors: {}", render_errors(errors))]
    ApiErrors {
        /// Where it happened.
        step: Step,
        /// The entries of `errors`, as sent.
        errors: Vec<serde_json::Value>,
    },

    /// A `200` with `data: null` and no errors.
    #[error("{step}: the server answered without data")]
    MissingData {
        /// Where it happened.
        step: Step,
    },

    /// The directory changed while it was being read, on the first walk and
    /// again on the one retry from page 1.
    #[error("the customer list changed while it was read{}: {what}", if *restarted { ", twice" } else { "" })]
    DataMoved {
        /// What moved, e.g. `totalResults went from 23 to 24 on page 3`.
        what: String,
        /// Whether a fresh walk from page 1 was already tried.
        restarted: bool,
    },

    /// The server broke the paging contract (echoed another page, sent more
    /// customers than asked for).
    #[error("{step}: the server broke the paging contract: {what}")]
    ServerMisbehaved {
        /// Where it happened.
        step: Step,
        /// What it did.
        what: String,
    },

    /// The whole walk took longer than its deadline.
    #[error("the walk over all pages exceeded its deadline of {deadline:?}")]
    DeadlineExceeded {
        /// The configured deadline.
        deadline: Duration,
    },

    /// No customer matches.
    #[error("no customer matches {query:?} in {environment}")]
    CustomerNotFound {
        /// What was asked for.
        query: String,
        /// Where it was looked for.
        environment: String,
    },

    /// The customer has no branch matching.
    #[error("customer {customer} has no branch matching {query}")]
    BranchNotFound {
        /// The customer, as `code "name"`.
        customer: String,
        /// What was asked for: `"name"`, `customerBsn N`.
        query: String,
    },

    /// Several customers or branches match; the candidates are listed.
    #[error("{query:?} is ambiguous: it matches {}", candidates.join(", "))]
    Ambiguous {
        /// What was asked for.
        query: String,
        /// Each match, as `code "name"` or `bsn "name"`.
        candidates: Vec<String>,
    },

    /// The customer is inactive: quotes and bookings are not allowed.
    #[error("customer {customer} is inactive: quote and booking are not allowed")]
    InactiveCustomer {
        /// The customer, as `code "name"`.
        customer: String,
    },

    /// The customer breaks a business rule, so its identifiers cannot be
    /// trusted for this request.
    #[error("customer {customer} breaks the rules ({}): {advice}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    RuleBroken {
        /// The customer, as `code "name"`.
        customer: String,
        /// Every rule it breaks.
        problems: Vec<RuleProblem>,
        /// What the caller can do.
        advice: &'static str,
    },

    /// A target is used against an environment other than its own.
    #[error(
        "these identifiers belong to {target}, not {requested}: identifiers never carry over between environments"
    )]
    WrongEnvironment {
        /// The environment the target came from.
        target: String,
        /// The environment it was about to be used against.
        requested: String,
    },
}

/// The kind of a [`Error::Transport`] failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportKind {
    /// The connection could not be made.
    Connect,
    /// The connection or the whole request timed out.
    Timeout,
    /// The body was cut short or could not be read.
    Body,
    /// Anything else reqwest reports.
    Other,
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportKind::Connect => "connection failed",
            TransportKind::Timeout => "timed out",
            TransportKind::Body => "the response body was cut short",
            TransportKind::Other => "request failed",
        })
    }
}

impl Error {
    /// The HTTP status the error came with, if any.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Unauthenticated { .. } => Some(401),
            Error::Forbidden { .. } => Some(403),
            Error::RateLimited { .. } => Some(429),
            Error::LoginRefused { status }
            | Error::Unavailable { status, .. }
            | Error::UnexpectedStatus { status, .. }
            | Error::NotJson { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The step (login or page) the error came from, if any.
    pub fn step(&self) -> Option<Step> {
        match self {
            Error::Transport { step, .. }
            | Error::Unauthenticated { step }
            | Error::Forbidden { step }
            | Error::RateLimited { step, .. }
            | Error::Unavailable { step, .. }
            | Error::UnexpectedStatus { step, .. }
            | Error::NotJson { step, .. }
            | Error::Decode { step, .. }
            | Error::ApiErrors { step, .. }
            | Error::MissingData { step }
            | Error::ServerMisbehaved { step, .. } => Some(*step),
            Error::LoginRefused { .. } => Some(Step::Login),
            _ => None,
        }
    }

    /// Whether a business rule refused the request (inactive customer,
    /// broken rule, wrong environment), as opposed to a failure to talk to
    /// the API or a lookup that found nothing.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Error::InactiveCustomer { .. }
                | Error::RuleBroken { .. }
                | Error::WrongEnvironment { .. }
        )
    }

    /// Whether a lookup found no customer or branch, or more than one.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Error::CustomerNotFound { .. } | Error::BranchNotFound { .. } | Error::Ambiguous { .. }
        )
    }

    /// Whether the error is about local input rather than the API.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Error::InvalidSetting { .. } | Error::InsecureTransport { .. }
        )
    }
}

fn hint(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(wait) => format!("; the server asked to wait {}s", wait.as_secs_f64()),
        None => String::new(),
    }
}

fn excerpt_suffix(excerpt: &str) -> String {
    if excerpt.is_empty() {
        String::new()
    } else {
        format!(": {excerpt:?}")
    }
}

fn render_errors(errors: &[serde_json::Value]) -> String {
    let rendered: Vec<String> = errors
        .iter()
        .map(|entry| match entry {
            serde_json::Value::String(text) => text.clone(),
            other => other.to_string(),
        })
        .collect();
    excerpt(&rendered.join("; "), 500)
}

/// The first `max` characters of `text`, with `…` when cut.
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    let mut chars = text.chars();
    let mut cut: String = chars.by_ref().take(max).collect();
    if chars.next().is_some() {
        cut.push('…');
    }
    cut
}
