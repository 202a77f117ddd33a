//! The customers a sandbox serves: embedded, read from a data folder, or generated.

use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use super::SandboxError;
use super::synthetic;

/// The 23-customer organization recorded in the fixtures.
const BUILTIN_PAGE: &str = include_str!("../../fixtures/organization/page-size-23/page-1.json");

/// The customers a sandbox serves, in server order.
///
/// Cloning is cheap: stored customers sit behind an `Arc`, and synthetic
/// ones are not stored at all.
#[derive(Clone)]
pub struct Organization {
    customers: Customers,
}

/// Where the customers of an organization come from.
#[derive(Clone)]
enum Customers {
    /// Customers kept as compact JSON text, serialized once.
    Stored(Arc<[String]>),
    /// Customers computed from their index whenever a page needs them.
    Synthetic(u64),
}

impl Organization {
    /// The 23-customer organization of `fixtures/organization/`, embedded at
    /// compile time.
    ///
    /// # Panics
    ///
    /// Never in a released crate: a unit test checks the embedded fixture.
    pub fn builtin() -> Organization {
        static BUILTIN: OnceLock<Organization> = OnceLock::new();
        BUILTIN
            .get_or_init(|| {
                let customers =
                    page_customers(BUILTIN_PAGE).expect("the embedded fixture is a customers page");
                Organization::stored(customers)
            })
            .clone()
    }

    /// Reads a data folder: the customers of every `*.json` page envelope
    /// directly in `dir`, joined in file-name order.
    ///
    /// Subdirectories and other files (such as `*.findings.txt` sidecars)
    /// are not read. Each customer is kept byte for byte, apart from the
    /// whitespace between tokens, so odd values reach the client unchanged.
    /// A page whose `data.results` is `null` contributes no customer.
    ///
    /// # Errors
    ///
    /// Fails when the folder cannot be listed, holds no `*.json` file, or a
    /// file cannot be read, is not JSON, or has no `data.results` array;
    /// the error names the folder or the file.
    pub fn from_dir(dir: &Path) -> Result<Organization, SandboxError> {
        let list_error = |source| SandboxError::ReadDir {
            dir: dir.to_path_buf(),
            source,
        };

        // Collect the page files at the top level, in file-name order.
        let mut files: Vec<PathBuf> = Vec::new();
        for entry in fs::read_dir(dir).map_err(list_error)? {
            let path = entry.map_err(list_error)?.path();
            if path.extension() == Some(OsStr::new("json")) && path.is_file() {
                files.push(path);
            }
        }
        if files.is_empty() {
            return Err(SandboxError::EmptyDir {
                dir: dir.to_path_buf(),
            });
        }
        files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));

        // Join the customers of all pages.
        let mut customers = Vec::new();
        for file in files {
            let text = fs::read_to_string(&file).map_err(|source| SandboxError::ReadFile {
                file: file.clone(),
                source,
            })?;
            let page = page_customers(&text).map_err(|problem| match problem {
                PageProblem::NotJson(source) => SandboxError::NotJson {
                    file: file.clone(),
                    source,
                },
                PageProblem::NoResults => SandboxError::NotAPage { file: file.clone() },
            })?;
            customers.extend(page);
        }
        Ok(Organization::stored(customers))
    }

    /// A generated organization of `customers` customers, each computed from
    /// its position when a page asks for it, so memory stays small whatever
    /// the size.
    ///
    /// The same size always gives the same customers; see the `synthetic`
    /// module for the values. Identifiers are distinct for any size below
    /// a trillion customers.
    pub fn synthetic(customers: u64) -> Organization {
        Organization {
            customers: Customers::Synthetic(customers),
        }
    }

    /// How many customers the organization has.
    pub fn len(&self) -> u64 {
        match &self.customers {
            Customers::Stored(stored) => stored.len() as u64,
            Customers::Synthetic(count) => *count,
        }
    }

    /// Whether the organization has no customer.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The compact JSON of the customer at `index` (0-based), if there is one.
    pub fn customer_json(&self, index: u64) -> Option<String> {
        if index >= self.len() {
            return None;
        }
        let mut out = String::new();
        self.write_customers(index..index + 1, &mut out);
        Some(out)
    }

    /// An organization serving these already-compact customers.
    fn stored(customers: Vec<String>) -> Organization {
        Organization {
            customers: Customers::Stored(customers.into()),
        }
    }

    /// Whether the customers are generated rather than stored.
    pub(crate) fn is_synthetic(&self) -> bool {
        matches!(self.customers, Customers::Synthetic(_))
    }

    /// A rough byte count for the JSON of the customers in `range`.
    pub(crate) fn approx_len(&self, range: Range<u64>) -> usize {
        match &self.customers {
            Customers::Stored(stored) => stored
                .get(range.start as usize..range.end as usize)
                .map_or(0, |slice| slice.iter().map(|c| c.len() + 1).sum()),
            Customers::Synthetic(_) => {
                let count = usize::try_from(range.end - range.start).unwrap_or(usize::MAX);
                count.saturating_mul(synthetic::APPROX_CUSTOMER_LEN)
            }
        }
    }

    /// Appends the customers in `range`, comma-separated, to `out`.
    ///
    /// The range must lie within `0..len()`; indexes past the end are
    /// skipped.
    pub(crate) fn write_customers(&self, range: Range<u64>, out: &mut String) {
        match &self.customers {
            Customers::Stored(stored) => {
                let start = usize::try_from(range.start).unwrap_or(usize::MAX);
                let end = usize::try_from(range.end).unwrap_or(usize::MAX);
                let slice = stored.get(start..end.min(stored.len())).unwrap_or(&[]);
                for (n, customer) in slice.iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    out.push_str(customer);
                }
            }
            Customers::Synthetic(count) => {
                for index in range.start..range.end.min(*count) {
                    if index > range.start {
                        out.push(',');
                    }
                    synthetic::write_customer(index, out);
                }
            }
        }
    }
}

impl fmt::Debug for Organization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.is_synthetic() {
            "synthetic"
        } else {
            "stored"
        };
        f.debug_struct("Organization")
            .field("kind", &kind)
            .field("customers", &self.len())
            .finish()
    }
}

/// Why a file is not a customers page.
#[derive(Debug)]
enum PageProblem {
    /// The text does not parse as JSON.
    NotJson(serde_json::Error),
    /// The JSON has no `data.results` array (nor a `null` one).
    NoResults,
}

/// The compact JSON text of each customer in a customers-page envelope.
fn page_customers(text: &str) -> Result<Vec<String>, PageProblem> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);

    // Validate with serde_json first, so the span scanner below only ever
    // sees well-formed JSON.
    let value: serde_json::Value = serde_json::from_str(text).map_err(PageProblem::NotJson)?;
    match value.pointer("/data/results") {
        Some(serde_json::Value::Array(_)) => {}
        Some(serde_json::Value::Null) => return Ok(Vec::new()),
        _ => return Err(PageProblem::NoResults),
    }

    // Re-serializing the parsed values would reorder keys and round large
    // numbers, so cut each customer's own text out of the file instead.
    let bytes = text.as_bytes();
    let (elements, _) = scan::member(bytes, 0, "data")
        .and_then(|data| scan::member(bytes, data, "results"))
        .and_then(|results| scan::elements(bytes, results))
        .ok_or(PageProblem::NoResults)?;
    elements
        .into_iter()
        .map(|span| scan::compact(&bytes[span]).ok_or(PageProblem::NoResults))
        .collect()
}

/// A minimal scanner that finds the byte spans of values in valid JSON.
mod scan {
    use std::ops::Range;

    /// The position of the first byte at or after `pos` that is not whitespace.
    fn skip_ws(bytes: &[u8], mut pos: usize) -> usize {
        while matches!(bytes.get(pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            pos += 1;
        }
        pos
    }

    /// The end of the string starting at `pos` (just past its closing quote).
    fn skip_string(bytes: &[u8], pos: usize) -> Option<usize> {
        let mut i = pos + 1;
        loop {
            match bytes.get(i)? {
                b'\\' => i += 2,
                b'"' => return Some(i + 1),
                _ => i += 1,
            }
        }
    }

    /// The end of the value starting at `pos`.
    fn skip_value(bytes: &[u8], pos: usize) -> Option<usize> {
        match bytes.get(pos)? {
            b'"' => skip_string(bytes, pos),
            b'{' => members(bytes, pos, |_, _, _| {}),
            b'[' => elements(bytes, pos).map(|(_, end)| end),
            _ => {
                let mut i = pos;
                while let Some(b) = bytes.get(i) {
                    if matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r') {
                        break;
                    }
                    i += 1;
                }
                Some(i)
            }
        }
    }

    /// Calls `each(key, value_start, value_end)` for the members of the
    /// object at `pos` (after whitespace); returns the object's end.
    fn members(
        bytes: &[u8],
        pos: usize,
        mut each: impl FnMut(Range<usize>, usize, usize),
    ) -> Option<usize> {
        let mut pos = skip_ws(bytes, pos);
        if bytes.get(pos)? != &b'{' {
            return None;
        }
        pos = skip_ws(bytes, pos + 1);
        if bytes.get(pos)? == &b'}' {
            return Some(pos + 1);
        }
        loop {
            let key_end = skip_string(bytes, pos)?;
            let colon = skip_ws(bytes, key_end);
            if bytes.get(colon)? != &b':' {
                return None;
            }
            let value_start = skip_ws(bytes, colon + 1);
            let value_end = skip_value(bytes, value_start)?;
            each(pos..key_end, value_start, value_end);
            pos = skip_ws(bytes, value_end);
            match bytes.get(pos)? {
                b',' => pos = skip_ws(bytes, pos + 1),
                b'}' => return Some(pos + 1),
                _ => return None,
            }
        }
    }

    /// The start of the value of member `key` in the object at `pos`; the
    /// last one wins when a key repeats, as in serde_json.
    pub(super) fn member(bytes: &[u8], pos: usize, key: &str) -> Option<usize> {
        let mut found = None;
        members(bytes, pos, |key_span, value_start, _| {
            let decoded: Option<String> = serde_json::from_slice(&bytes[key_span]).ok();
            if decoded.as_deref() == Some(key) {
                found = Some(value_start);
            }
        })?;
        found
    }

    /// The spans of the elements of the array at `pos` (after whitespace),
    /// and the array's end.
    pub(super) fn elements(bytes: &[u8], pos: usize) -> Option<(Vec<Range<usize>>, usize)> {
        let mut pos = skip_ws(bytes, pos);
        if bytes.get(pos)? != &b'[' {
            return None;
        }
        let mut spans = Vec::new();
        pos = skip_ws(bytes, pos + 1);
        if bytes.get(pos)? == &b']' {
            return Some((spans, pos + 1));
        }
        loop {
            let end = skip_value(bytes, pos)?;
            spans.push(pos..end);
            pos = skip_ws(bytes, end);
            match bytes.get(pos)? {
                b',' => pos = skip_ws(bytes, pos + 1),
                b']' => return Some((spans, pos + 1)),
                _ => return None,
            }
        }
    }

    /// The JSON text with the whitespace between tokens removed.
    pub(super) fn compact(bytes: &[u8]) -> Option<String> {
        let mut out = Vec::with_capacity(bytes.len());
        let mut in_string = false;
        let mut escaped = false;
        for &b in bytes {
            if in_string {
                out.push(b);
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_string = false;
                }
            } else if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                in_string = b == b'"';
                out.push(b);
            }
        }
        String::from_utf8(out).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The embedded fixture holds the 23 customers C00001..C00023 in order.
    #[test]
    fn builtin_has_23_customers_in_order() {
        let organization = Organization::builtin();
        assert_eq!(organization.len(), 23);
        for index in 0..23 {
            let text = organization.customer_json(index).expect("in range");
            let value: serde_json::Value = serde_json::from_str(&text).expect("JSON");
            assert_eq!(value["customerCode"], format!("C{:05}", index + 1));
        }
        assert_eq!(organization.customer_json(23), None);
    }

    // Customers keep their key order, odd numbers and escapes, minus spaces.
    #[test]
    fn customers_are_cut_out_verbatim() {
        let text = r#"{ "errors": null, "data": { "results": [
            { "z": 1, "a": 12345678901234567890123, "s": "a \"b\", [c] {d}" },
            [ 1.50 , -0.0e3 ], "x", null
        ], "totalResults": 4 } }"#;
        let Ok(customers) = page_customers(text) else {
            panic!("a valid page");
        };
        assert_eq!(
            customers,
            vec![
                r#"{"z":1,"a":12345678901234567890123,"s":"a \"b\", [c] {d}"}"#,
                "[1.50,-0.0e3]",
                r#""x""#,
                "null",
            ]
        );
    }

    // The last `data` wins when a key repeats, as serde_json decides.
    #[test]
    fn repeated_key_last_wins() {
        let text = r#"{"data":{"results":[1]},"d\u0061ta":{"results":[2,3]}}"#;
        let Ok(customers) = page_customers(text) else {
            panic!("a valid page");
        };
        assert_eq!(customers, vec!["2", "3"]);
    }

    // A null `results` means no customer; a missing one is an error.
    #[test]
    fn null_and_missing_results() {
        assert!(matches!(page_customers(r#"{"data":{"results":null}}"#), Ok(c) if c.is_empty()));
        assert!(matches!(
            page_customers(r#"{"data":{}}"#),
            Err(PageProblem::NoResults)
        ));
        assert!(matches!(
            page_customers(r#"{"data":null}"#),
            Err(PageProblem::NoResults)
        ));
        assert!(matches!(
            page_customers("not json"),
            Err(PageProblem::NotJson(_))
        ));
    }

    // The data folder reader names the file that is wrong.
    #[test]
    fn from_dir_errors_name_the_file() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let empty = Organization::from_dir(dir.path()).expect_err("no page yet");
        assert!(
            empty.to_string().contains("holds no `*.json` file"),
            "{empty}"
        );

        std::fs::write(
            dir.path().join("a.json"),
            r#"{"data":{"results":[{"n":1}]}}"#,
        )
        .expect("write");
        std::fs::write(dir.path().join("b.findings.txt"), "not read").expect("write");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        std::fs::write(dir.path().join("sub/c.json"), "not read").expect("write");
        assert_eq!(
            Organization::from_dir(dir.path()).expect("one page").len(),
            1
        );

        std::fs::write(dir.path().join("b.json"), "{oops").expect("write");
        let error = Organization::from_dir(dir.path()).expect_err("b.json is broken");
        assert!(matches!(&error, SandboxError::NotJson { file, .. } if file.ends_with("b.json")));
        assert!(error.to_string().contains("b.json"), "{error}");

        std::fs::write(dir.path().join("b.json"), r#"{"data":{"items":[]}}"#).expect("write");
        let error = Organization::from_dir(dir.path()).expect_err("b.json has no results");
        assert!(matches!(&error, SandboxError::NotAPage { file } if file.ends_with("b.json")));
    }

    // A synthetic organization of any size costs no memory per customer.
    #[test]
    fn synthetic_len_and_bounds() {
        let organization = Organization::synthetic(1_000_000);
        assert_eq!(organization.len(), 1_000_000);
        assert!(!organization.is_empty());
        assert!(organization.customer_json(999_999).is_some());
        assert_eq!(organization.customer_json(1_000_000), None);
        assert!(Organization::synthetic(0).is_empty());
    }
}
