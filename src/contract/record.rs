//! The logic of `primo record`: every page of an environment, redacted, as
//! a data folder the sandbox can serve.
//!
//! Nothing reaches the disk before it is redacted: all pages are fetched
//! and redacted in memory, then written, then read back and scanned once
//! more. A file in which the scan still finds an e-mail address, a bearer
//! token or a configured secret is deleted, and the recording fails.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::io;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use futures::stream::{self, StreamExt};
use regex::Regex;
use serde_json::Value;

use crate::{ConnectClient, Error};

/// What a redacted secret or token becomes.
const REDACTED: &str = "[redacted]";

/// The domain whose addresses are placeholders already.
const PLACEHOLDER_DOMAIN: &str = "example.com";

/// The most pages a recording fetches.
const MAX_PAGES: u64 = 100_000;

/// An e-mail address, loosely: better one false alarm than one leak.
static EMAIL: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+").ok()
});

/// A JWT (`eyJ…` header, a dot, more base64url) or an `Authorization`
/// header value.
static TOKEN: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?i)eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+|\bbearer\s+[A-Za-z0-9._~+/-]+=*").ok()
});

/// How to redact a recording.
#[derive(Clone, Default)]
pub struct RecordOptions {
    /// Replace `customerName` with `Customer N` and `bsnName` with
    /// `Branch N`. Default is to keep names.
    pub redact_names: bool,
    /// Values that must never be written (the token, the client id, the
    /// client secret): any string value containing one becomes
    /// `[redacted]`. Empty strings are ignored. Default is none.
    pub secrets: Vec<String>,
}

impl fmt::Debug for RecordOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordOptions")
            .field("redact_names", &self.redact_names)
            .field(
                "secrets",
                &format_args!("[{} redacted]", self.secrets.len()),
            )
            .finish()
    }
}

/// What a recording wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordSummary {
    /// Pages fetched and written.
    pub pages: u64,
    /// Customers in the written pages.
    pub customers: u64,
    /// The files written, in page order.
    pub files: Vec<PathBuf>,
}

/// Why a recording failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// A page could not be fetched.
    #[error(transparent)]
    Fetch(#[from] Error),

    /// A page's body is not a JSON page envelope the sandbox can serve.
    #[error("page {page}: {what}")]
    NotAPage {
        /// The 1-based page.
        page: u64,
        /// What is wrong with it.
        what: String,
    },

    /// The totals changed while the pages were fetched.
    #[error("the customer list changed while it was recorded: {what}")]
    DataMoved {
        /// What changed, e.g. `totalResults went from 23 to 24 on page 3`.
        what: String,
    },

    /// The output folder already holds `*.json` files, which the sandbox
    /// would serve alongside the recording.
    #[error("{} already holds json files; record into an empty or new folder", dir.display())]
    OutputNotEmpty {
        /// The folder.
        dir: PathBuf,
    },

    /// A file or folder could not be read, listed or written.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// `write`, `read`, `create` or `list`.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },

    /// A written file still holds something that must never be written;
    /// [`record`] deletes it before returning this.
    #[error("{} holds {what}, which must never be written", file.display())]
    Leak {
        /// The file.
        file: PathBuf,
        /// What kind of value, e.g. `an e-mail address` (never the value).
        what: &'static str,
    },
}

/// The state of a redaction across pages: which placeholder each e-mail
/// address and name already got, so the same input gets the same
/// placeholder on every page.
pub struct Redactor {
    redact_names: bool,
    secrets: Vec<String>,
    users: HashMap<String, String>,
    /// Placeholder-domain addresses the data already holds: they are kept,
    /// so no placeholder may take their name and merge two people.
    kept_users: HashSet<String>,
    next_user: usize,
    customers: HashMap<String, String>,
    branches: HashMap<String, String>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("redact_names", &self.redact_names)
            .field("users", &self.users.len())
            .field("customers", &self.customers.len())
            .field("branches", &self.branches.len())
            .finish_non_exhaustive()
    }
}

impl Redactor {
    /// A redactor with no placeholder handed out yet.
    pub fn new(options: &RecordOptions) -> Self {
        Redactor {
            redact_names: options.redact_names,
            secrets: options
                .secrets
                .iter()
                .filter(|s| !s.is_empty())
                .cloned()
                .collect(),
            users: HashMap::new(),
            kept_users: HashSet::new(),
            next_user: 1,
            customers: HashMap::new(),
            branches: HashMap::new(),
        }
    }

    /// Notes the placeholder-domain addresses in `value`, which are kept as
    /// they are, so that no placeholder handed out later repeats one.
    pub fn reserve_kept_addresses(&mut self, value: &Value) {
        let mut strings = Vec::new();
        collect_strings(value, &mut strings);
        for email in strings.into_iter().flat_map(emails) {
            if is_placeholder_address(&email) {
                self.kept_users.insert(email.to_ascii_lowercase());
            }
        }
    }

    /// The placeholder address for `key`, skipping addresses the data
    /// already holds.
    fn user(&mut self, key: &str) -> String {
        if let Some(existing) = self.users.get(key) {
            return existing.clone();
        }
        let made = loop {
            let candidate = user_address(self.next_user);
            self.next_user += 1;
            if !self.kept_users.contains(&candidate) {
                break candidate;
            }
        };
        self.users.insert(key.to_owned(), made.clone());
        made
    }

    fn value(&mut self, key: Option<&str>, value: &mut Value) {
        match value {
            Value::String(text) => {
                if let Some(redacted) = self.string(key, text) {
                    *text = redacted;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| self.value(None, item)),
            Value::Object(object) => {
                for (key, item) in object.iter_mut() {
                    self.value(Some(key), item);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    /// The redacted form of `text` found under `key`, or `None` to keep it.
    fn string(&mut self, key: Option<&str>, text: &str) -> Option<String> {
        let replaced = match key {
            Some("customerName") if self.redact_names => {
                Some(placeholder(&mut self.customers, text, |n| {
                    format!("Customer {n}")
                }))
            }
            Some("bsnName") if self.redact_names => {
                Some(placeholder(&mut self.branches, text, |n| {
                    format!("Branch {n}")
                }))
            }
            Some("createdBy") if !ends_with_placeholder_domain(text) => {
                // The whole value, an address or not, is who created it.
                let key = match emails(text).as_slice() {
                    [only] if only.as_str() == text.trim() => only.to_ascii_lowercase(),
                    _ => text.to_owned(),
                };
                Some(self.user(&key))
            }
            _ => self.replace_emails(text),
        };

        // Secrets and tokens go whole, wherever they hide, even inside a
        // placeholder made from them.
        let result = replaced.as_deref().unwrap_or(text);
        if self.is_secret_or_token(text) || self.is_secret_or_token(result) {
            return Some(REDACTED.to_owned());
        }
        replaced
    }

    /// `text` with every address outside `example.com` replaced, or `None`
    /// when it holds none.
    fn replace_emails(&mut self, text: &str) -> Option<String> {
        let found = emails(text);
        if found.iter().all(|email| is_placeholder_address(email)) {
            return None;
        }
        let mut out = text.to_owned();
        for email in found {
            if !is_placeholder_address(&email) {
                let address = self.user(&email.to_ascii_lowercase());
                out = out.replace(&email, &address);
            }
        }
        Some(out)
    }

    fn is_secret_or_token(&self, text: &str) -> bool {
        contains_token(text)
            || self
                .secrets
                .iter()
                .any(|secret| text.contains(secret.as_str()))
    }
}

/// Redacts one page envelope in place.
///
/// - `createdBy` becomes `user-N@example.com`, and so does any e-mail
///   address in any other string value; addresses at `example.com` are
///   kept. The same address gets the same placeholder on every page.
/// - With [`RecordOptions::redact_names`], `customerName` becomes
///   `Customer N` and `bsnName` becomes `Branch N`, numbered in the order
///   they first appear.
/// - Any string value that holds a configured secret, a JWT (`eyJ…`) or
///   `Bearer …` becomes `[redacted]`.
///
/// Object keys and numbers are left as they are.
pub fn redact_page(value: &mut Value, state: &mut Redactor) {
    state.value(None, value);
}

/// Reads back a written page and fails if any string value still holds an
/// e-mail address outside `example.com`, a token, or one of `secrets`.
///
/// # Errors
///
/// [`RecordError::Leak`] naming the file and the kind of value (the file
/// is left in place: [`record`] deletes it); [`RecordError::Io`] when the
/// file cannot be read.
pub fn scan_for_leaks(file: &Path, secrets: &[String]) -> Result<(), RecordError> {
    let text = fs::read_to_string(file).map_err(|source| RecordError::Io {
        action: "read",
        path: file.to_path_buf(),
        source,
    })?;
    let leak = |what| RecordError::Leak {
        file: file.to_path_buf(),
        what,
    };
    let Ok(value) = serde_json::from_str::<Value>(&text) else {
        return Err(leak(
            "a body that cannot be read back as json, so cannot be proven clean",
        ));
    };

    let mut strings = Vec::new();
    collect_strings(&value, &mut strings);
    for string in strings.into_iter().filter(|s| *s != REDACTED) {
        if emails(string)
            .iter()
            .any(|email| !is_placeholder_address(email))
        {
            return Err(leak("an e-mail address"));
        }
        if contains_token(string) {
            return Err(leak("a bearer token"));
        }
        if secrets
            .iter()
            .any(|s| !s.is_empty() && string.contains(s.as_str()))
        {
            return Err(leak("a configured secret"));
        }
    }
    Ok(())
}

/// Fetches every page of `client`'s environment, `per_page` customers a
/// page, redacts them as [`redact_page`] says, and writes them into `out`
/// as `page-1.json`, `page-2.json`, … (pretty-printed, with a trailing
/// newline), a data folder the sandbox serves as the same organization.
///
/// The page numbers are zero-padded to the width of the last one
/// (`page-01.json` … `page-12.json`), because the sandbox joins the files
/// in file-name order. `out` is created if missing.
///
/// # Errors
///
/// [`RecordError::OutputNotEmpty`] when `out` already holds `*.json` files;
/// [`RecordError::Fetch`] when a page does not arrive;
/// [`RecordError::NotAPage`] when a body is not a page envelope;
/// [`RecordError::DataMoved`] when the totals change between pages;
/// [`RecordError::Io`] when a file cannot be written;
/// [`RecordError::Leak`] when the final scan finds a value that must
/// never be written (that file is deleted).
pub async fn record(
    client: &ConnectClient,
    out: &Path,
    per_page: NonZeroU32,
    options: RecordOptions,
) -> Result<RecordSummary, RecordError> {
    refuse_json_files(out)?;

    // Page 1 says how many pages there are.
    let first = fetch_body(client, 1, per_page).await?;
    let totals = |body: &Value| {
        (
            body.pointer("/data/totalResults").and_then(Value::as_u64),
            body.pointer("/data/totalPages").and_then(Value::as_u64),
        )
    };
    let first_totals = totals(&first);
    let mut pages = vec![first];
    let last = first_totals.1.unwrap_or(1).max(1);
    if last > MAX_PAGES {
        return Err(RecordError::NotAPage {
            page: 1,
            what: format!("totalPages is {last}; a recording holds at most {MAX_PAGES} pages"),
        });
    }

    // The others, a few at a time, in page order.
    let window = client.walk_options().concurrency.get() as usize;
    let mut rest = stream::iter(2..=last)
        .map(|number| async move { (number, fetch_body(client, number, per_page).await) })
        .buffered(window);
    while let Some((number, body)) = rest.next().await {
        let body = body?;
        if totals(&body) != first_totals {
            let shown = |(results, pages): (Option<u64>, Option<u64>)| {
                let or_none =
                    |v: Option<u64>| v.map_or_else(|| "none".to_owned(), |v| v.to_string());
                format!(
                    "totalResults {} and totalPages {}",
                    or_none(results),
                    or_none(pages)
                )
            };
            return Err(RecordError::DataMoved {
                what: format!(
                    "page 1 said {}, page {number} says {}",
                    shown(first_totals),
                    shown(totals(&body))
                ),
            });
        }
        pages.push(body);
    }

    // Redact everything, in server order, before anything is written.
    let mut redactor = Redactor::new(&options);
    for page in &pages {
        redactor.reserve_kept_addresses(page);
    }
    for page in &mut pages {
        redact_page(page, &mut redactor);
    }

    fs::create_dir_all(out).map_err(|source| RecordError::Io {
        action: "create",
        path: out.to_path_buf(),
        source,
    })?;
    let width = last.to_string().len();
    let mut files = Vec::new();
    let mut customers = 0;
    for (index, page) in pages.iter().enumerate() {
        let file = out.join(format!("page-{:0width$}.json", index + 1));
        customers += page
            .pointer("/data/results")
            .and_then(Value::as_array)
            .map_or(0, |results| results.len() as u64);
        let mut text = serde_json::to_string_pretty(page).map_err(|e| RecordError::Io {
            action: "write",
            path: file.clone(),
            source: io::Error::other(e),
        })?;
        text.push('\n');
        fs::write(&file, text).map_err(|source| RecordError::Io {
            action: "write",
            path: file.clone(),
            source,
        })?;
        files.push(file);
    }

    // The last line of defence: read every file back.
    let mut first_leak = None;
    for file in &files {
        if let Err(leak) = scan_for_leaks(file, &options.secrets) {
            if matches!(leak, RecordError::Leak { .. }) {
                // Ignore a failure to delete: the error below names the file.
                let _ = fs::remove_file(file);
            }
            first_leak.get_or_insert(leak);
        }
    }
    if let Some(leak) = first_leak {
        return Err(leak);
    }

    Ok(RecordSummary {
        pages: last,
        customers,
        files,
    })
}

/// One page's body, parsed and checked to be something the sandbox serves.
async fn fetch_body(
    client: &ConnectClient,
    number: u64,
    per_page: NonZeroU32,
) -> Result<Value, RecordError> {
    let page = client.fetch_raw_page(number, per_page).await?;
    let not_a_page = |what: String| RecordError::NotAPage { page: number, what };
    let body: Value = serde_json::from_slice(&page.body)
        .map_err(|e| not_a_page(format!("the body is not json: {e}")))?;
    match body.pointer("/data/results") {
        Some(Value::Array(_) | Value::Null) => Ok(body),
        _ => Err(not_a_page("the body has no data.results array".to_owned())),
    }
}

/// Fails when `dir` exists and holds `*.json` files at its top level.
fn refuse_json_files(dir: &Path) -> Result<(), RecordError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(RecordError::Io {
                action: "list",
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    for entry in entries.flatten() {
        if entry.path().extension() == Some(OsStr::new("json")) {
            return Err(RecordError::OutputNotEmpty {
                dir: dir.to_path_buf(),
            });
        }
    }
    Ok(())
}

/// The placeholder `key` already has, or the next one.
fn placeholder(
    known: &mut HashMap<String, String>,
    key: &str,
    make: impl Fn(usize) -> String,
) -> String {
    if let Some(existing) = known.get(key) {
        return existing.clone();
    }
    let made = make(known.len() + 1);
    known.insert(key.to_owned(), made.clone());
    made
}

fn user_address(n: usize) -> String {
    format!("user-{n}@{PLACEHOLDER_DOMAIN}")
}

/// Every e-mail address in `text`. Without the pattern (it always
/// compiles; a unit test checks), the whole text counts as one when it
/// holds an `@`.
fn emails(text: &str) -> Vec<String> {
    match EMAIL.as_ref() {
        Some(pattern) => pattern
            .find_iter(text)
            .map(|m| m.as_str().to_owned())
            .collect(),
        None if text.contains('@') => vec![text.to_owned()],
        None => Vec::new(),
    }
}

fn contains_token(text: &str) -> bool {
    match TOKEN.as_ref() {
        Some(pattern) => pattern.is_match(text),
        None => text.contains("eyJ") || text.to_ascii_lowercase().contains("bearer"),
    }
}

fn is_placeholder_address(email: &str) -> bool {
    email
        .rsplit_once('@')
        .is_some_and(|(_, domain)| domain.eq_ignore_ascii_case(PLACEHOLDER_DOMAIN))
}

fn ends_with_placeholder_domain(text: &str) -> bool {
    text.to_ascii_lowercase()
        .ends_with(&format!("@{PLACEHOLDER_DOMAIN}"))
}

fn collect_strings<'v>(value: &'v Value, out: &mut Vec<&'v str>) {
    match value {
        Value::String(text) => out.push(text),
        Value::Array(items) => items.iter().for_each(|item| collect_strings(item, out)),
        Value::Object(object) => object.values().for_each(|item| collect_strings(item, out)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn redacted(mut page: Value, options: &RecordOptions) -> Value {
        let mut redactor = Redactor::new(options);
        redact_page(&mut page, &mut redactor);
        page
    }

    // A real address never takes the name of a placeholder address the data
    // already holds, which would merge two people into one.
    #[test]
    fn placeholders_skip_addresses_already_kept() {
        let page = json!({"data": {"results": [
            {"createdBy": "Bob.Smith@Real.org"},
            {"createdBy": "user-1@example.com"},
            {"createdBy": "ann@corp.test"},
            {"createdBy": "user-3@example.com"},
        ]}});
        let mut redactor = Redactor::new(&RecordOptions::default());
        redactor.reserve_kept_addresses(&page);
        let mut page = page;
        redact_page(&mut page, &mut redactor);

        let created: Vec<&str> = page["data"]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["createdBy"].as_str().unwrap())
            .collect();
        assert_eq!(
            created,
            [
                "user-2@example.com",
                "user-1@example.com",
                "user-4@example.com",
                "user-3@example.com"
            ]
        );
    }

    #[test]
    fn the_patterns_compile() {
        assert!(EMAIL.is_some());
        assert!(TOKEN.is_some());
    }

    #[test]
    fn addresses_get_stable_placeholders() {
        let page = json!([
            {"createdBy": "Alice@Acme.com", "customerName": "Acme (ops@acme.com)"},
            {"createdBy": "alice@acme.com", "note": "ask bob@other.org or alice@acme.com"},
            {"createdBy": "import@example.com", "other": "kept@example.com"},
            {"createdBy": "nightly job"},
            {"createdBy": null},
        ]);
        assert_eq!(
            redacted(page, &RecordOptions::default()),
            json!([
                {"createdBy": "user-1@example.com", "customerName": "Acme (user-2@example.com)"},
                {"createdBy": "user-1@example.com", "note": "ask user-3@example.com or user-1@example.com"},
                {"createdBy": "import@example.com", "other": "kept@example.com"},
                {"createdBy": "user-4@example.com"},
                {"createdBy": null},
            ])
        );
    }

    #[test]
    fn names_are_numbered_in_order_and_secrets_go_whole() {
        let options = RecordOptions {
            redact_names: true,
            secrets: vec!["s3cret-value".to_owned(), String::new()],
        };
        let page = json!({"results": [
            {"customerName": "Acme", "bsns": [{"bsnName": "Acme HQ"}, {"bsnName": "Acme KS"}]},
            {"customerName": "Zeta", "bsns": [{"bsnName": "Acme HQ"}]},
            {"customerName": "Acme", "note": "key s3cret-value here", "token": "Bearer abc.def",
             "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc", "plain": "nothing to see"},
        ]});
        assert_eq!(
            redacted(page, &options),
            json!({"results": [
                {"customerName": "Customer 1", "bsns": [{"bsnName": "Branch 1"}, {"bsnName": "Branch 2"}]},
                {"customerName": "Customer 2", "bsns": [{"bsnName": "Branch 1"}]},
                {"customerName": "Customer 1", "note": "[redacted]", "token": "[redacted]",
                 "jwt": "[redacted]", "plain": "nothing to see"},
            ]})
        );
    }

    #[test]
    fn the_scan_names_what_survived() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("page-1.json");
        let secrets = vec!["hunter22".to_owned()];
        for (body, what) in [
            (json!({"a": "x@acme.com"}), Some("an e-mail address")),
            (
                json!({"a": ["eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0"]}),
                Some("a bearer token"),
            ),
            (
                json!({"a": {"b": "pw hunter22"}}),
                Some("a configured secret"),
            ),
            (json!({"a": "user-1@example.com", "b": "[redacted]"}), None),
        ] {
            fs::write(&file, body.to_string()).unwrap();
            let found = match scan_for_leaks(&file, &secrets) {
                Err(RecordError::Leak { what, .. }) => Some(what),
                Err(other) => panic!("{other}"),
                Ok(()) => None,
            };
            assert_eq!(found, what, "{body}");
        }
    }
}
