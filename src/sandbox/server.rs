//! The HTTP side of the sandbox: routing, bearer tokens, pages, login and faults.

use std::borrow::Cow;
use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use futures::StreamExt as _;
use futures::stream;
use serde::Deserialize;

use super::faults::{self, FaultQueue, FaultRoute, FaultStep};
use super::{Organization, RequestCounts, SandboxConfig};

/// The token login hands out when the configuration names none.
const DEFAULT_TOKEN: &str = "sandbox-token";

/// The content type of every JSON answer, as ASP.NET writes it.
const JSON: &str = "application/json; charset=utf-8";

/// The largest login body read; the real one is a few dozen bytes.
const LOGIN_BODY_LIMIT: usize = 64 * 1024;

/// Synthetic pages with more customers than this are streamed in chunks.
const STREAM_THRESHOLD: u64 = 10_000;

/// How many synthetic customers go into one streamed chunk.
const STREAM_CHUNK: u64 = 1_000;

/// The largest value `currentPage` and `resultsPerPage` accept (`int.MaxValue`).
const MAX_QUERY_NUMBER: i64 = 2_147_483_647;

/// What every request handler shares: the configuration and the counters.
pub(crate) struct Shared {
    organization: Organization,
    token: Option<String>,
    latency: Duration,
    faults: FaultQueue,
    total: AtomicU64,
    customers: AtomicU64,
    login: AtomicU64,
}

impl Shared {
    /// The shared state for a sandbox serving `config`.
    pub(crate) fn new(config: SandboxConfig) -> Shared {
        Shared {
            organization: config.organization,
            token: config.token,
            latency: config.latency,
            faults: FaultQueue::new(config.faults),
            total: AtomicU64::new(0),
            customers: AtomicU64::new(0),
            login: AtomicU64::new(0),
        }
    }

    /// A snapshot of the request counters.
    pub(crate) fn counts(&self) -> RequestCounts {
        RequestCounts {
            total: self.total.load(Ordering::SeqCst),
            customers: self.customers.load(Ordering::SeqCst),
            login: self.login.load(Ordering::SeqCst),
        }
    }

    /// Whether the headers carry an acceptable `Authorization: Bearer` token.
    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
        else {
            return false;
        };
        let Some((scheme, token)) = value.trim().split_once(' ') else {
            return false;
        };
        let token = token.trim();
        if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
            return false;
        }
        self.token
            .as_deref()
            .is_none_or(|expected| token == expected)
    }
}

/// The router: one handler for every request, which dispatches by hand so
/// that latency, counting and faults apply uniformly.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(answer).with_state(shared)
}

/// Answers any request.
async fn answer(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    shared.total.fetch_add(1, Ordering::SeqCst);
    if !shared.latency.is_zero() {
        tokio::time::sleep(shared.latency).await;
    }

    // A known path asked with another method gets 405 and the method it
    // takes; unknown paths get ASP.NET's empty 404.
    let Some(route) = route_of(request.method(), request.uri().path()) else {
        return match allowed_method(request.uri().path()) {
            Some(allowed) => {
                let mut response = empty(StatusCode::METHOD_NOT_ALLOWED);
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static(allowed));
                response
            }
            None => empty(StatusCode::NOT_FOUND),
        };
    };
    let page = match route {
        FaultRoute::Customers => {
            shared.customers.fetch_add(1, Ordering::SeqCst);
            requested_page(request.uri().query())
        }
        FaultRoute::Login => {
            shared.login.fetch_add(1, Ordering::SeqCst);
            None
        }
    };

    // A scripted step replaces the answer, delays it, or changes its body.
    let step = shared.faults.next(route, page);
    match &step {
        Some(FaultStep::Status(status)) => return empty(status_code(*status)),
        Some(FaultStep::Html(status)) => return html_page(status_code(*status)),
        Some(FaultStep::RetryAfter { status, value }) => {
            let mut response = empty(status_code(*status));
            if let Ok(value) = HeaderValue::from_str(value) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return response;
        }
        Some(FaultStep::Delay(delay)) => tokio::time::sleep(*delay).await,
        Some(FaultStep::Ok | FaultStep::Truncated | FaultStep::Gzip) | None => {}
    }

    // The real answer, in one piece when a step is going to rework it.
    let whole = matches!(step, Some(FaultStep::Truncated | FaultStep::Gzip));
    let answer = match route {
        FaultRoute::Customers => {
            customers(&shared, request.headers(), request.uri().query(), whole)
        }
        FaultRoute::Login => login(&shared, request.into_body()).await,
    };
    match step {
        Some(FaultStep::Truncated) => answer.truncated(),
        Some(FaultStep::Gzip) => answer.gzipped(),
        _ => answer.into_response(),
    }
}

/// The route of a method and path, matched like ASP.NET does: path case
/// ignored, one trailing slash allowed.
fn route_of(method: &Method, path: &str) -> Option<FaultRoute> {
    let path = path.strip_suffix('/').unwrap_or(path);
    if method == Method::GET && path.eq_ignore_ascii_case("/v1/customers") {
        Some(FaultRoute::Customers)
    } else if method == Method::POST && path.eq_ignore_ascii_case("/v1/auth/login") {
        Some(FaultRoute::Login)
    } else {
        None
    }
}

/// The one method a known path takes, whatever the method asked.
fn allowed_method(path: &str) -> Option<&'static str> {
    [(Method::GET, "GET"), (Method::POST, "POST")]
        .into_iter()
        .find(|(method, _)| route_of(method, path).is_some())
        .map(|(_, name)| name)
}

/// An answer before faults rework it.
enum Answer {
    /// A status with an empty body, like ASP.NET's 401.
    Empty(StatusCode),
    /// A JSON body.
    Json(StatusCode, Bytes),
    /// A large 200 JSON body, produced while it is sent.
    Streamed(Body),
}

impl Answer {
    /// The answer as it is.
    fn into_response(self) -> Response {
        match self {
            Answer::Empty(status) => empty(status),
            Answer::Json(status, body) => json(status, Body::from(body)),
            Answer::Streamed(body) => json(StatusCode::OK, body),
        }
    }

    /// The answer with `Content-Length` announcing the whole body but the
    /// connection closed after half of it.
    fn truncated(self) -> Response {
        let Answer::Json(status, body) = self else {
            return self.into_response();
        };
        let full_length = body.len();
        let half = body.slice(..full_length / 2);

        // Hyper aborts the connection when the body stream fails; the pause
        // lets the first half reach the client before that.
        let cut = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "scripted truncation",
            ))
        };
        let parts = stream::once(async move { Ok::<_, io::Error>(half) }).chain(stream::once(cut));
        let mut response = json(status, Body::from_stream(parts));
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(full_length));
        response
    }

    /// The answer with its body gzip-encoded.
    fn gzipped(self) -> Response {
        let Answer::Json(status, body) = self else {
            return self.into_response();
        };
        let mut response = json(status, Body::from(faults::gzip(&body)));
        response
            .headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        response
    }
}

/// Answers `GET /v1/customers`.
fn customers(shared: &Shared, headers: &HeaderMap, query: Option<&str>, whole: bool) -> Answer {
    // ASP.NET checks the token before it binds the query.
    if !shared.authorized(headers) {
        return Answer::Empty(StatusCode::UNAUTHORIZED);
    }
    let (page, per_page) = match page_query(query) {
        Ok(numbers) => numbers,
        Err(fields) => return Answer::Json(StatusCode::BAD_REQUEST, query_errors(&fields)),
    };

    // Both numbers are at most 2^31 - 1, so no product below overflows u64.
    let organization = &shared.organization;
    let total = organization.len();
    let total_pages = total.div_ceil(per_page);
    let start = (page - 1).saturating_mul(per_page).min(total);
    let end = start.saturating_add(per_page).min(total);
    let head = format!(
        "{{\"data\":{{\"totalResults\":{total},\"currentPage\":{page},\
         \"totalPages\":{total_pages},\"resultsPerPage\":{per_page},\"results\":["
    );
    const TAIL: &str = "]},\"errors\":null}";

    // Huge synthetic pages are written while they are sent, in chunks.
    if organization.is_synthetic() && end - start > STREAM_THRESHOLD && !whole {
        let organization = organization.clone();
        let chunks = stream::unfold(start, move |next| {
            let organization = organization.clone();
            async move {
                if next >= end {
                    return None;
                }
                let stop = next.saturating_add(STREAM_CHUNK).min(end);
                let mut text = String::with_capacity(organization.approx_len(next..stop) + 1);
                if next > start {
                    text.push(',');
                }
                organization.write_customers(next..stop, &mut text);
                Some((Ok::<_, Infallible>(Bytes::from(text)), stop))
            }
        });
        let body = stream::once(async move { Ok(Bytes::from(head)) })
            .chain(chunks)
            .chain(stream::once(async {
                Ok(Bytes::from_static(TAIL.as_bytes()))
            }));
        return Answer::Streamed(Body::from_stream(body));
    }

    let mut body =
        String::with_capacity(head.len() + organization.approx_len(start..end) + TAIL.len());
    body.push_str(&head);
    organization.write_customers(start..end, &mut body);
    body.push_str(TAIL);
    Answer::Json(StatusCode::OK, Bytes::from(body))
}

/// The page number a customers request asks for, for matching fault rules:
/// 1 when absent, `None` when not a number.
fn requested_page(query: Option<&str>) -> Option<u64> {
    match query_value(query, "currentPage") {
        None => Some(1),
        Some(value) => value.parse().ok(),
    }
}

/// The first value of a query parameter, its name matched case-insensitively
/// as ASP.NET model binding does.
fn query_value<'q>(query: Option<&'q str>, name: &str) -> Option<Cow<'q, str>> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
}

/// `currentPage` and `resultsPerPage`, or the names of those that are not an
/// integer from 1 to 2147483647.
fn page_query(query: Option<&str>) -> Result<(u64, u64), Vec<&'static str>> {
    let number = |name: &'static str, default: u64| match query_value(query, name) {
        None => Ok(default),
        Some(value) => match value.parse::<i64>() {
            Ok(n) if (1..=MAX_QUERY_NUMBER).contains(&n) => Ok(n.unsigned_abs()),
            _ => Err(name),
        },
    };
    match (number("currentPage", 1), number("resultsPerPage", 10)) {
        (Ok(page), Ok(per_page)) => Ok((page, per_page)),
        (page, per_page) => Err([page.err(), per_page.err()].into_iter().flatten().collect()),
    }
}

/// The 400 envelope naming the query parameters that are wrong.
fn query_errors(fields: &[&str]) -> Bytes {
    let errors: Vec<serde_json::Value> = fields
        .iter()
        .map(|field| {
            serde_json::json!({
                "field": field,
                "message": format!("The value of {field} must be an integer from 1 to 2147483647."),
            })
        })
        .collect();
    Bytes::from(serde_json::json!({ "data": null, "errors": errors }).to_string())
}

/// The login request body. No `Debug`: it holds the secret.
#[derive(Deserialize)]
struct Credentials {
    clientid: String,
    secret: String,
}

/// Answers `POST /v1/auth/login`; the secret is never logged or echoed.
async fn login(shared: &Shared, body: Body) -> Answer {
    let credentials = match axum::body::to_bytes(body, LOGIN_BODY_LIMIT).await {
        Ok(bytes) => serde_json::from_slice::<Credentials>(&bytes).ok(),
        Err(_) => None,
    };
    let Some(credentials) = credentials else {
        let envelope = serde_json::json!({
            "data": null,
            "errors": [{
                "field": "body",
                "message": "The body must be JSON {\"clientid\": string, \"secret\": string}.",
            }],
        });
        return Answer::Json(StatusCode::BAD_REQUEST, Bytes::from(envelope.to_string()));
    };
    if credentials.clientid.is_empty() || credentials.secret.is_empty() {
        return Answer::Empty(StatusCode::UNAUTHORIZED);
    }
    let token = shared.token.as_deref().unwrap_or(DEFAULT_TOKEN);
    let envelope = serde_json::json!({ "data": { "token": token }, "errors": null });
    Answer::Json(StatusCode::OK, Bytes::from(envelope.to_string()))
}

/// A status with an empty body.
fn empty(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

/// A status with a JSON body.
fn json(status: StatusCode, body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    response
}

/// An HTML error page like the one Azure's application gateway serves.
fn html_page(status: StatusCode) -> Response {
    let title = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    let page = format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n\
         <center><h1>{title}</h1></center>\r\n\
         <hr><center>Microsoft-Azure-Application-Gateway/v2</center>\r\n\
         </body>\r\n</html>\r\n"
    );
    let mut response = Response::new(Body::from(page));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    response
}

/// The status for a code the plan validated; 500 should it be impossible.
fn status_code(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Query numbers outside 1..=2^31-1 or not numbers are named as errors.
    #[test]
    fn page_query_bounds() {
        assert_eq!(page_query(None), Ok((1, 10)));
        assert_eq!(
            page_query(Some("currentPage=3&resultsPerPage=7")),
            Ok((3, 7))
        );
        assert_eq!(
            page_query(Some("CURRENTPAGE=2&resultsperpage=5")),
            Ok((2, 5))
        );
        assert_eq!(
            page_query(Some("currentPage=2147483647&resultsPerPage=2147483647")),
            Ok((2_147_483_647, 2_147_483_647))
        );
        for bad in [
            "0",
            "-1",
            "abc",
            "",
            "2147483648",
            "99999999999999999999999",
            "1.5",
        ] {
            let query = format!("currentPage={bad}");
            assert_eq!(page_query(Some(&query)), Err(vec!["currentPage"]), "{bad}");
        }
        assert_eq!(
            page_query(Some("currentPage=0&resultsPerPage=0")),
            Err(vec!["currentPage", "resultsPerPage"])
        );
    }

    // Routes match case-insensitively, with one trailing slash, by method.
    #[test]
    fn routes() {
        assert_eq!(
            route_of(&Method::GET, "/v1/customers"),
            Some(FaultRoute::Customers)
        );
        assert_eq!(
            route_of(&Method::GET, "/V1/Customers/"),
            Some(FaultRoute::Customers)
        );
        assert_eq!(
            route_of(&Method::POST, "/v1/auth/login"),
            Some(FaultRoute::Login)
        );
        assert_eq!(route_of(&Method::POST, "/v1/customers"), None);
        assert_eq!(route_of(&Method::GET, "/v1/auth/login"), None);
        assert_eq!(route_of(&Method::GET, "/v1/customers/1"), None);
    }

    // Only a non-empty bearer token passes, and the configured one if set.
    #[test]
    fn bearer_tokens() {
        let mut shared = Shared::new(SandboxConfig::default());
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(header::AUTHORIZATION, value);
            }
            headers
        };
        assert!(shared.authorized(&with("Bearer abc")));
        assert!(shared.authorized(&with("bearer abc")));
        assert!(!shared.authorized(&with("Bearer ")));
        assert!(!shared.authorized(&with("Basic abc")));
        assert!(!shared.authorized(&HeaderMap::new()));
        shared.token = Some("right".to_owned());
        assert!(shared.authorized(&with("BEARER right")));
        assert!(!shared.authorized(&with("Bearer wrong")));
    }
}
