//! Scripted faults: answers a sandbox gives instead of, or on top of, the real ones.

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use axum::http::HeaderValue;

use super::SandboxError;

/// Which endpoint a fault rule applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaultRoute {
    /// `GET /v1/customers`.
    Customers,
    /// `POST /v1/auth/login`.
    Login,
}

/// One scripted answer, consumed by one matching request.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultStep {
    /// Answer normally; the step only uses up a turn.
    Ok,
    /// Answer with this status and an empty body.
    Status(u16),
    /// Answer with this status and an HTML error page, as the load balancer
    /// in front of the API does (`text/html`).
    Html(u16),
    /// Answer with this status, an empty body and a `Retry-After` header.
    RetryAfter {
        /// The status, usually 429 or 503.
        status: u16,
        /// The header value: seconds (`1`) or an HTTP date.
        value: String,
    },
    /// Wait this long, then answer normally.
    Delay(Duration),
    /// Answer normally, but close the connection after half of the body
    /// that `Content-Length` announces.
    Truncated,
    /// Answer normally with the body gzip-encoded (`Content-Encoding: gzip`),
    /// whatever the request's `Accept-Encoding`.
    Gzip,
}

/// Scripted answers for one route, and optionally one page of customers.
///
/// # Grammar
///
/// [`FaultRule::from_str`] reads one rule per line of text:
///
/// ```text
/// rule     = route [ "@" page ] "=" step { "," step }
/// route    = "customers" | "login"
/// page     = 1..=2147483647           (customers only; default: any page)
/// step     = "ok"                     answer normally
///          | status                   e.g. 503: that status, empty body
///          | "html" status            e.g. html502: an HTML error page
///          | status "+retry-after=" value
///                                     e.g. 429+retry-after=1
///          | "delay:" duration        e.g. delay:300ms, delay:2s
///          | "truncated"              half the body, then the connection closes
///          | "gzip"                   the normal body, gzip-encoded
/// status   = 100..=599
/// duration = digits ( "ms" | "s" )
/// ```
///
/// Keywords are case-insensitive and spaces around the rule, its parts and
/// its steps are ignored. A comma inside a `Retry-After` value stays in the
/// value when the text after it is not a step, so an HTTP date fits as is:
/// `customers=503+retry-after=Wed, 21 Oct 2015 07:28:00 GMT,ok`.
///
/// # Examples
///
/// ```text
/// customers@2=503,503       page 2 fails twice, then answers
/// customers=429+retry-after=1,ok
/// login=html502
/// customers@3=truncated
/// customers=delay:300ms
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultRule {
    /// The endpoint whose requests consume the steps.
    pub route: FaultRoute,
    /// For customers, only requests for this `currentPage`; `None` for any.
    pub page: Option<u64>,
    /// The steps, consumed one per matching request, in order.
    pub steps: Vec<FaultStep>,
}

/// An opt-in fault injector: ordered rules whose steps replace the normal
/// answers, one step per matching request, until they run out.
///
/// A request consumes a step of the first rule, in plan order, that matches
/// its route (and page) and has steps left. Faults come before the checks
/// of the token and the query, as a load balancer's would. Default is no
/// fault.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultPlan {
    rules: Vec<FaultRule>,
}

impl FaultPlan {
    /// A plan without rules.
    pub fn new() -> FaultPlan {
        FaultPlan::default()
    }

    /// Adds steps for customers requests: those for page `page`, or any
    /// page when `None`.
    pub fn customers(
        self,
        page: Option<u64>,
        steps: impl IntoIterator<Item = FaultStep>,
    ) -> FaultPlan {
        self.rule(FaultRule {
            route: FaultRoute::Customers,
            page,
            steps: steps.into_iter().collect(),
        })
    }

    /// Adds steps for login requests.
    pub fn login(self, steps: impl IntoIterator<Item = FaultStep>) -> FaultPlan {
        self.rule(FaultRule {
            route: FaultRoute::Login,
            page: None,
            steps: steps.into_iter().collect(),
        })
    }

    /// Adds a rule after the existing ones.
    pub fn rule(mut self, rule: FaultRule) -> FaultPlan {
        self.rules.push(rule);
        self
    }

    /// The rules, in the order they are tried.
    pub fn rules(&self) -> &[FaultRule] {
        &self.rules
    }

    /// Whether the plan has no rule.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Checks that every status and `Retry-After` value can go on the wire.
    pub(crate) fn validate(&self) -> Result<(), SandboxError> {
        for rule in &self.rules {
            for step in &rule.steps {
                let problem = match step {
                    FaultStep::Status(status)
                    | FaultStep::Html(status)
                    | FaultStep::RetryAfter { status, .. }
                        if !(100..=599).contains(status) =>
                    {
                        format!("status {status} is not from 100 to 599")
                    }
                    FaultStep::RetryAfter { value, .. }
                        if HeaderValue::from_str(value).is_err() =>
                    {
                        format!("retry-after value `{value}` is not a header value")
                    }
                    _ => continue,
                };
                return Err(SandboxError::FaultRule {
                    rule: rule.to_string(),
                    reason: problem,
                });
            }
        }
        Ok(())
    }
}

impl FromIterator<FaultRule> for FaultPlan {
    fn from_iter<I: IntoIterator<Item = FaultRule>>(rules: I) -> FaultPlan {
        FaultPlan {
            rules: rules.into_iter().collect(),
        }
    }
}

impl Extend<FaultRule> for FaultPlan {
    fn extend<I: IntoIterator<Item = FaultRule>>(&mut self, rules: I) {
        self.rules.extend(rules);
    }
}

impl fmt::Display for FaultStep {
    /// Writes the step in the rule grammar; delays in whole milliseconds.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultStep::Ok => f.write_str("ok"),
            FaultStep::Status(status) => write!(f, "{status}"),
            FaultStep::Html(status) => write!(f, "html{status}"),
            FaultStep::RetryAfter { status, value } => {
                write!(f, "{status}+retry-after={value}")
            }
            FaultStep::Delay(delay) => write!(f, "delay:{}ms", delay.as_millis()),
            FaultStep::Truncated => f.write_str("truncated"),
            FaultStep::Gzip => f.write_str("gzip"),
        }
    }
}

impl fmt::Display for FaultRule {
    /// Writes the rule in the grammar [`FaultRule::from_str`] reads.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.route {
            FaultRoute::Customers => f.write_str("customers")?,
            FaultRoute::Login => f.write_str("login")?,
        }
        if let Some(page) = self.page {
            write!(f, "@{page}")?;
        }
        f.write_str("=")?;
        for (n, step) in self.steps.iter().enumerate() {
            if n > 0 {
                f.write_str(",")?;
            }
            write!(f, "{step}")?;
        }
        Ok(())
    }
}

impl FromStr for FaultStep {
    type Err = SandboxError;

    /// Reads one step of the rule grammar, such as `503` or `delay:300ms`.
    ///
    /// # Errors
    ///
    /// Fails with [`SandboxError::FaultRule`] when the text is not a step.
    fn from_str(text: &str) -> Result<FaultStep, SandboxError> {
        parse_step(text).map_err(|reason| SandboxError::FaultRule {
            rule: text.to_owned(),
            reason,
        })
    }
}

impl FromStr for FaultRule {
    type Err = SandboxError;

    /// Reads one rule of the grammar in the type's documentation.
    ///
    /// # Errors
    ///
    /// Fails with [`SandboxError::FaultRule`], naming the part that is
    /// wrong: the route, the page, or a step.
    fn from_str(text: &str) -> Result<FaultRule, SandboxError> {
        parse_rule(text.trim()).map_err(|reason| SandboxError::FaultRule {
            rule: text.trim().to_owned(),
            reason,
        })
    }
}

/// Reads a rule, or says in words which part is wrong.
fn parse_rule(text: &str) -> Result<FaultRule, String> {
    let Some((target, steps)) = text.split_once('=') else {
        return Err("missing `=` between the route and the steps".to_owned());
    };

    // The route, and for customers an optional page.
    let (route, page) = match target.trim().split_once('@') {
        Some((route, page)) => (route.trim(), Some(page.trim())),
        None => (target.trim(), None),
    };
    let route = if route.eq_ignore_ascii_case("customers") {
        FaultRoute::Customers
    } else if route.eq_ignore_ascii_case("login") {
        FaultRoute::Login
    } else {
        return Err(format!("route `{route}` is not `customers` or `login`"));
    };
    let page = match page {
        None => None,
        Some(_) if route == FaultRoute::Login => {
            return Err("route `login` takes no `@page`".to_owned());
        }
        Some(page) => match page.parse::<u64>() {
            Ok(number) if (1..=2_147_483_647).contains(&number) => Some(number),
            _ => {
                return Err(format!(
                    "page `{page}` is not an integer from 1 to 2147483647"
                ));
            }
        },
    };

    // The steps, split on commas.
    let steps = split_steps(steps)
        .iter()
        .enumerate()
        .map(|(n, step)| parse_step(step).map_err(|reason| format!("step {}: {reason}", n + 1)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(FaultRule { route, page, steps })
}

/// Splits the step list on commas, keeping a comma inside a `Retry-After`
/// value when the text after it is not a step (as in an HTTP date).
fn split_steps(text: &str) -> Vec<String> {
    let mut steps: Vec<String> = Vec::new();
    for piece in text.split(',') {
        if let Some(last) = steps.last_mut() {
            let in_retry_after = last.to_ascii_lowercase().contains("+retry-after=");
            if in_retry_after && !piece.trim().is_empty() && parse_step(piece).is_err() {
                last.push(',');
                last.push_str(piece);
                continue;
            }
        }
        steps.push(piece.to_owned());
    }
    steps
}

/// Reads a step, or says in words why it is not one.
fn parse_step(text: &str) -> Result<FaultStep, String> {
    let step = text.trim();
    let lower = step.to_ascii_lowercase();
    if lower.is_empty() {
        return Err("empty step".to_owned());
    }
    if lower == "ok" {
        return Ok(FaultStep::Ok);
    }
    if lower == "truncated" {
        return Ok(FaultStep::Truncated);
    }
    if lower == "gzip" {
        return Ok(FaultStep::Gzip);
    }
    if let Some(status) = lower.strip_prefix("html") {
        return parse_status(status).map(FaultStep::Html);
    }
    if let Some(duration) = lower.strip_prefix("delay:") {
        return parse_duration(duration).map(FaultStep::Delay);
    }
    if let Some(at) = lower.find("+retry-after=") {
        let status = parse_status(&lower[..at])?;
        // The value keeps its case: HTTP dates are written `Wed, 21 Oct ...`.
        let value = step[at + "+retry-after=".len()..].trim();
        if value.is_empty() {
            return Err("`+retry-after=` needs a value".to_owned());
        }
        if value.bytes().any(|b| b.is_ascii_control()) {
            return Err(format!(
                "retry-after value `{value}` has a control character"
            ));
        }
        return Ok(FaultStep::RetryAfter {
            status,
            value: value.to_owned(),
        });
    }
    if lower.bytes().all(|b| b.is_ascii_digit()) {
        return parse_status(&lower).map(FaultStep::Status);
    }
    Err(format!(
        "`{step}` is not ok, STATUS, htmlSTATUS, STATUS+retry-after=VALUE, \
         delay:DURATION, truncated or gzip"
    ))
}

/// Reads an HTTP status from 100 to 599.
fn parse_status(text: &str) -> Result<u16, String> {
    match text.trim().parse::<u16>() {
        Ok(status) if (100..=599).contains(&status) => Ok(status),
        _ => Err(format!("status `{}` is not from 100 to 599", text.trim())),
    }
}

/// Reads a duration written as digits followed by `ms` or `s`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let parsed = if let Some(millis) = text.strip_suffix("ms") {
        millis.parse::<u64>().ok().map(Duration::from_millis)
    } else if let Some(seconds) = text.strip_suffix('s') {
        seconds.parse::<u64>().ok().map(Duration::from_secs)
    } else {
        None
    };
    parsed.ok_or_else(|| format!("delay `{text}` is not digits followed by `ms` or `s`"))
}

/// The steps still to be consumed, shared by the requests of one sandbox.
pub(crate) struct FaultQueue {
    rules: Mutex<Vec<PendingRule>>,
}

/// A rule and the steps it has left.
struct PendingRule {
    route: FaultRoute,
    page: Option<u64>,
    steps: VecDeque<FaultStep>,
}

impl FaultQueue {
    /// A queue holding all the steps of the plan.
    pub(crate) fn new(plan: FaultPlan) -> FaultQueue {
        let rules = plan
            .rules
            .into_iter()
            .map(|rule| PendingRule {
                route: rule.route,
                page: rule.page,
                steps: rule.steps.into(),
            })
            .collect();
        FaultQueue {
            rules: Mutex::new(rules),
        }
    }

    /// Takes the next step for a request to `route` asking for `page`.
    ///
    /// `page` is `None` when the request's page is not a number; then only
    /// rules for any page match.
    pub(crate) fn next(&self, route: FaultRoute, page: Option<u64>) -> Option<FaultStep> {
        // A poisoned lock only means another request panicked mid-pop; the
        // queue itself is still consistent.
        let mut rules = self
            .rules
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        rules
            .iter_mut()
            .find(|rule| {
                rule.route == route
                    && (rule.page.is_none() || rule.page == page)
                    && !rule.steps.is_empty()
            })
            .and_then(|rule| rule.steps.pop_front())
    }
}

/// Gzip-encodes `data` with stored (uncompressed) deflate blocks.
///
/// The sandbox has no compression library; a stored stream is still a
/// valid gzip member that every decoder accepts, which is all a client
/// test needs.
pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    const BLOCK: usize = 65_535;
    let mut out = Vec::with_capacity(data.len() + data.len() / BLOCK * 5 + 32);

    // Header: magic, deflate, no flags, no time, no extra flags, unknown OS.
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);

    // Stored blocks of at most 65535 bytes; the last one has BFINAL set.
    let mut chunks = data.chunks(BLOCK).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        // Chunks are at most 65535 bytes long, so the length fits in u16.
        let len = chunk.len() as u16;
        out.push(u8::from(last));
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }

    // Trailer: CRC-32 and size modulo 2^32, both little-endian.
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// The CRC-32 (IEEE) lookup table.
const CRC_TABLE: [u32; 256] = crc_table();

/// Builds the CRC-32 (IEEE, reflected) lookup table.
const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
}

/// The CRC-32 (IEEE) of `data`, as gzip stores it.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc = CRC_TABLE[((crc ^ u32::from(byte)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(text: &str) -> FaultRule {
        text.parse()
            .unwrap_or_else(|error| panic!("{text}: {error}"))
    }

    fn reason(text: &str) -> String {
        match text.parse::<FaultRule>() {
            Ok(parsed) => panic!("{text} parsed as {parsed:?}"),
            Err(error) => error.to_string(),
        }
    }

    // The brief's example rules parse to the steps they describe.
    #[test]
    fn example_rules_parse() {
        assert_eq!(
            rule("customers@2=503,503"),
            FaultRule {
                route: FaultRoute::Customers,
                page: Some(2),
                steps: vec![FaultStep::Status(503), FaultStep::Status(503)],
            }
        );
        assert_eq!(
            rule("customers=429+retry-after=1,ok").steps,
            vec![
                FaultStep::RetryAfter {
                    status: 429,
                    value: "1".to_owned()
                },
                FaultStep::Ok
            ]
        );
        assert_eq!(rule("login=html502").route, FaultRoute::Login);
        assert_eq!(rule("login=html502").steps, vec![FaultStep::Html(502)]);
        assert_eq!(
            rule("customers@3=truncated").steps,
            vec![FaultStep::Truncated]
        );
        assert_eq!(
            rule(" Customers = delay:300ms , GZIP, delay:2s ").steps,
            vec![
                FaultStep::Delay(Duration::from_millis(300)),
                FaultStep::Gzip,
                FaultStep::Delay(Duration::from_secs(2))
            ]
        );
    }

    // An HTTP date keeps its comma, its case and the following step.
    #[test]
    fn retry_after_http_date() {
        assert_eq!(
            rule("customers=503+retry-after=Wed, 21 Oct 2015 07:28:00 GMT,ok").steps,
            vec![
                FaultStep::RetryAfter {
                    status: 503,
                    value: "Wed, 21 Oct 2015 07:28:00 GMT".to_owned()
                },
                FaultStep::Ok
            ]
        );
    }

    // Errors quote the rule and say which part is wrong.
    #[test]
    fn errors_name_the_part() {
        assert_eq!(
            reason("customers"),
            "invalid fault rule `customers`: missing `=` between the route and the steps"
        );
        assert!(reason("orders=503").contains("route `orders` is not"));
        assert!(reason("customers@0=503").contains("page `0` is not an integer"));
        assert!(reason("customers@x=503").contains("page `x`"));
        assert!(reason("login@2=503").contains("`login` takes no `@page`"));
        assert!(reason("customers=503,99").contains("step 2: status `99` is not from 100 to 599"));
        assert!(reason("customers=html").contains("step 1: status ``"));
        assert!(reason("customers=delay:3m").contains("delay `3m` is not digits"));
        assert!(reason("customers=429+retry-after=").contains("needs a value"));
        assert!(reason("customers=503,,ok").contains("step 2: empty step"));
        assert!(reason("customers=boom").contains("step 1: `boom` is not ok"));
    }

    // Display writes rules back in the grammar FromStr reads.
    #[test]
    fn display_round_trips() {
        for text in [
            "customers@2=503,503",
            "customers=429+retry-after=1,ok",
            "login=html502",
            "customers@3=truncated,gzip,delay:300ms",
        ] {
            assert_eq!(rule(text).to_string(), text);
        }
    }

    // Steps go to the first matching rule with steps left, then run out.
    #[test]
    fn queue_consumes_in_order() {
        let plan = FaultPlan::new()
            .customers(Some(2), [FaultStep::Status(503), FaultStep::Status(502)])
            .customers(None, [FaultStep::Gzip])
            .login([FaultStep::Status(500)]);
        let queue = FaultQueue::new(plan);
        assert_eq!(
            queue.next(FaultRoute::Customers, Some(1)),
            Some(FaultStep::Gzip)
        );
        assert_eq!(queue.next(FaultRoute::Customers, Some(1)), None);
        assert_eq!(
            queue.next(FaultRoute::Customers, Some(2)),
            Some(FaultStep::Status(503))
        );
        assert_eq!(queue.next(FaultRoute::Customers, None), None);
        assert_eq!(
            queue.next(FaultRoute::Customers, Some(2)),
            Some(FaultStep::Status(502))
        );
        assert_eq!(queue.next(FaultRoute::Customers, Some(2)), None);
        assert_eq!(
            queue.next(FaultRoute::Login, None),
            Some(FaultStep::Status(500))
        );
        assert_eq!(queue.next(FaultRoute::Login, None), None);
    }

    // A plan built by hand with an impossible status is refused.
    #[test]
    fn validate_refuses_bad_status() {
        let plan = FaultPlan::new().login([FaultStep::Status(1000)]);
        let error = plan.validate().expect_err("1000 is no status");
        assert_eq!(
            error.to_string(),
            "invalid fault rule `login=1000`: status 1000 is not from 100 to 599"
        );
    }

    // The CRC matches the standard check value and gzip frames the data.
    #[test]
    fn gzip_stored_blocks() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        let data: Vec<u8> = (0..150_000u32).map(|n| (n % 251) as u8).collect();
        let encoded = gzip(&data);
        assert_eq!(&encoded[..3], &[0x1f, 0x8b, 8]);
        // Three blocks of five header bytes each, plus header and trailer.
        assert_eq!(encoded.len(), data.len() + 3 * 5 + 10 + 8);
        assert_eq!(gzip(b"").len(), 10 + 5 + 8);
    }
}
