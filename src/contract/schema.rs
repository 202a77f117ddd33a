//! The spec's component schemas as JSON Schema, and validation against them.
//!
//! OpenAPI 3.0 schemas are almost JSON Schema, but not quite: `nullable`
//! admits `null`, `$ref`s point into `#/components/schemas`, a `$ref`'s
//! siblings are ignored, `exclusiveMinimum` is a boolean, and a handful of
//! keywords (`example`, `discriminator`, `xml`, …) mean nothing to a
//! validator. [`SpecSchemas`] rewrites every component schema into one draft
//! 2020-12 document under `$defs` and compiles one validator per schema.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use jsonschema::error::ValidationErrorKind;
use jsonschema::paths::LocationSegment;
use jsonschema::{Keyword, ValidationError, Validator};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::ApiTimestamp;

/// The JSON copy of the spec that `build.rs` writes.
const EMBEDDED_SPEC: &str = include_str!(concat!(env!("OUT_DIR"), "/connect-enterprise.json"));

/// The dialect of the generated document.
const DRAFT_2020_12: &str = "https://json-schema.org/draft/2020-12/schema";

/// Where OpenAPI 3.0 keeps the schemas a `$ref` may point to.
const COMPONENT_PREFIX: &str = "#/components/schemas/";

/// Where the generated document keeps them.
const DEFS_PREFIX: &str = "#/$defs/";

/// The custom keyword that stands for OpenAPI's integer `format`s.
const INTEGER_FORMAT: &str = "x-integer-format";

/// OpenAPI 3.0 keywords that carry no constraint, dropped from the output.
const OPENAPI_ONLY: &[&str] = &[
    "nullable",
    "example",
    "discriminator",
    "xml",
    "externalDocs",
    "readOnly",
    "writeOnly",
    "deprecated",
];

/// How far [`SpecSchemas::validate`] looks for drift through `$ref`s and
/// combinators before giving up; the spec's schemas nest four deep.
const MAX_DRIFT_DEPTH: usize = 64;

/// How strictly an instance is held against a schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// What the spec allows: every error is a [`Severity::Error`].
    Conform,
    /// What the spec allows, and also every property the spec does not
    /// declare (drift), reported as a [`Severity::Warning`].
    Strict,
}

/// How bad a [`Finding`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The instance breaks the contract.
    Error,
    /// The instance is allowed, but carries something the spec does not
    /// describe.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One problem found in an instance.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Finding {
    /// How bad it is.
    pub severity: Severity,
    /// Where it is: a JSON path such as `data.results[4].customerNumber`,
    /// `.` for the whole document.
    pub path: String,
    /// What is wrong there, in lowercase words.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.severity, self.path, self.message)
    }
}

/// Why the spec's schemas could not be built or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContractError {
    /// The OpenAPI document cannot be turned into JSON Schema.
    #[error("the spec cannot be turned into json schema: {what}")]
    InvalidSpec {
        /// What is wrong, e.g. `components.schemas is missing`.
        what: String,
    },
    /// The generated JSON Schema for one component does not compile.
    #[error("the json schema for {schema} does not compile: {message}")]
    Compile {
        /// The component schema's name.
        schema: String,
        /// The validator's reason.
        message: String,
    },
    /// A schema name the spec does not define.
    #[error("the spec defines no schema named {name:?}")]
    UnknownSchema {
        /// The name asked for.
        name: String,
    },
}

/// The spec's component schemas, compiled for validation.
///
/// Timestamps (`format: date-time`) are checked with
/// [`ApiTimestamp::parse`], so they accept exactly what the client accepts;
/// `int64` and `int32` values must be JSON integers in range (`1.0` is not
/// one). No reference is ever fetched from the network or the disk.
///
/// ```
/// use primo_connect::contract::{Mode, SpecSchemas};
/// use serde_json::json;
///
/// let schemas = SpecSchemas::embedded().unwrap();
/// let branch = json!({"customerBsn": "1", "bsnName": "HQ", "isHeadquarter": true});
/// let findings = schemas.validate("CustomerBsn", &branch, Mode::Conform).unwrap();
/// assert_eq!(findings[0].path, "customerBsn");
/// assert_eq!(findings[0].message, r#""1" is not of type "integer""#);
/// ```
pub struct SpecSchemas {
    document: Value,
    validators: BTreeMap<String, Validator>,
}

impl fmt::Debug for SpecSchemas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpecSchemas")
            .field("schemas", &self.validators.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl SpecSchemas {
    /// The schemas of the spec this crate was built from.
    ///
    /// # Errors
    ///
    /// As [`Self::from_openapi`]; a unit test makes sure the embedded spec
    /// passes.
    pub fn embedded() -> Result<Self, ContractError> {
        let spec: Value =
            serde_json::from_str(EMBEDDED_SPEC).map_err(|e| ContractError::InvalidSpec {
                what: format!("the embedded copy is not json: {e}"),
            })?;
        Self::from_openapi(&spec)
    }

    /// The schemas of an OpenAPI 3.0 document, given as JSON.
    ///
    /// # Errors
    ///
    /// [`ContractError::InvalidSpec`] when `components.schemas` is missing,
    /// a schema is not an object, or a `$ref` points anywhere but
    /// `#/components/schemas/` of this document;
    /// [`ContractError::Compile`] when the result is not valid JSON Schema.
    pub fn from_openapi(openapi: &Value) -> Result<Self, ContractError> {
        let invalid = |what: String| ContractError::InvalidSpec { what };
        let components = openapi
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .ok_or_else(|| invalid("components.schemas is missing".to_owned()))?;

        // Rewrite every component, so that every `$ref` can be checked
        // against the full list of names.
        let names: BTreeSet<&str> = components.keys().map(String::as_str).collect();
        let mut defs = Map::new();
        for (name, schema) in components {
            let converted = convert(schema, &names)
                .map_err(|what| invalid(format!("components.schemas.{name}: {what}")))?;
            defs.insert(name.clone(), converted);
        }
        let document = json!({ "$schema": DRAFT_2020_12, "$defs": defs });

        // One validator per component: the whole document, entered at it.
        let mut validators = BTreeMap::new();
        for name in components.keys() {
            let root = json!({
                "$schema": DRAFT_2020_12,
                "$defs": document["$defs"],
                "$ref": format!("{DEFS_PREFIX}{}", escape_pointer(name)),
            });
            let validator = jsonschema::draft202012::options()
                .should_validate_formats(true)
                .with_format("date-time", |text: &str| ApiTimestamp::parse(text).is_ok())
                .with_keyword(INTEGER_FORMAT, integer_format_keyword)
                .build(&root)
                .map_err(|e| ContractError::Compile {
                    schema: name.clone(),
                    message: e.to_string(),
                })?;
            validators.insert(name.clone(), validator);
        }
        Ok(SpecSchemas {
            document,
            validators,
        })
    }

    /// The generated JSON Schema document, every component under `$defs`.
    pub fn json_schema(&self) -> &Value {
        &self.document
    }

    /// The names of the component schemas, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.validators.keys().map(String::as_str)
    }

    /// Holds `instance` against the component schema `schema_name`.
    ///
    /// The findings are sorted by severity, then path, then message; none
    /// means the instance conforms (and, in [`Mode::Strict`], carries no
    /// undeclared property).
    ///
    /// # Errors
    ///
    /// [`ContractError::UnknownSchema`] when the spec has no such schema.
    pub fn validate(
        &self,
        schema_name: &str,
        instance: &Value,
        mode: Mode,
    ) -> Result<Vec<Finding>, ContractError> {
        let Some(validator) = self.validators.get(schema_name) else {
            return Err(ContractError::UnknownSchema {
                name: schema_name.to_owned(),
            });
        };

        let mut findings = Vec::new();
        for error in validator.iter_errors(instance) {
            flatten(&error, instance, &mut findings);
        }

        // Drift: properties no schema on the way declares. The spec's
        // objects are open (no `additionalProperties: false`), so conform
        // mode never reports them and nothing is reported twice.
        if mode == Mode::Strict {
            let root = json!({ "$ref": format!("{DEFS_PREFIX}{}", escape_pointer(schema_name)) });
            let mut path = Vec::new();
            self.drift(&[&root], instance, &mut path, &mut findings);
        }

        findings.sort();
        findings.dedup();
        Ok(findings)
    }

    /// Reports every property of `instance` (and of the values below it)
    /// that none of `schemas` declares.
    fn drift<'s>(
        &'s self,
        schemas: &[&'s Value],
        instance: &Value,
        path: &mut Vec<PathStep>,
        out: &mut Vec<Finding>,
    ) {
        let mut shape = Shape::default();
        for schema in schemas {
            self.collect_shape(schema, &mut shape, 0);
        }

        match instance {
            Value::Object(object) => {
                for (key, value) in object {
                    path.push(PathStep::Key(key.clone()));
                    match shape.properties.get(key.as_str()) {
                        Some(declared) => self.drift(declared, value, path, out),
                        None if shape.declares_properties && !shape.open => out.push(Finding {
                            severity: Severity::Warning,
                            path: render_path(path),
                            message: format!("property {key:?} is not in the spec"),
                        }),
                        None => {}
                    }
                    path.pop();
                }
            }
            Value::Array(items) if !shape.items.is_empty() => {
                for (index, item) in items.iter().enumerate() {
                    path.push(PathStep::Index(index));
                    self.drift(&shape.items, item, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }

    /// Gathers what `schema` says about objects and arrays, through `$ref`s
    /// and combinators.
    fn collect_shape<'s>(&'s self, schema: &'s Value, shape: &mut Shape<'s>, depth: usize) {
        let Some(schema) = schema.as_object() else {
            // `true` (anything goes) leaves nothing to call drift.
            shape.open |= schema == &Value::Bool(true);
            return;
        };
        if depth > MAX_DRIFT_DEPTH {
            shape.open = true;
            return;
        }

        if let Some(target) = schema.get("$ref").and_then(Value::as_str) {
            match self.resolve(target) {
                Some(resolved) => self.collect_shape(resolved, shape, depth + 1),
                None => shape.open = true,
            }
        }
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            shape.declares_properties = true;
            for (key, value) in properties {
                shape
                    .properties
                    .entry(key.as_str())
                    .or_default()
                    .push(value);
            }
        }
        match schema.get("additionalProperties") {
            // Closed by the spec itself: conform mode reports the extras.
            Some(Value::Bool(false)) => shape.closed_by_spec = true,
            Some(_) => shape.open = true,
            None => {}
        }
        if schema.contains_key("patternProperties") {
            shape.open = true;
        }
        if let Some(items) = schema.get("items") {
            shape.items.push(items);
        }
        for combinator in ["allOf", "anyOf", "oneOf"] {
            for branch in schema
                .get(combinator)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                self.collect_shape(branch, shape, depth + 1);
            }
        }
        if shape.closed_by_spec {
            shape.open = true;
        }
    }

    /// The schema a `#/$defs/Name` reference points to.
    fn resolve(&self, reference: &str) -> Option<&Value> {
        let name = unescape_pointer(reference.strip_prefix(DEFS_PREFIX)?);
        self.document.get("$defs")?.get(name.as_str())
    }
}

/// What a set of schemas declares about an object or array.
#[derive(Default)]
struct Shape<'s> {
    declares_properties: bool,
    open: bool,
    closed_by_spec: bool,
    properties: BTreeMap<&'s str, Vec<&'s Value>>,
    items: Vec<&'s Value>,
}

/// Rewrites one OpenAPI 3.0 schema into JSON Schema draft 2020-12.
fn convert(schema: &Value, names: &BTreeSet<&str>) -> Result<Value, String> {
    let object = match schema {
        Value::Object(object) => object,
        Value::Bool(_) => return Ok(schema.clone()),
        other => return Err(format!("a schema must be an object, not {other}")),
    };
    let nullable = object.get("nullable") == Some(&Value::Bool(true));

    // A `$ref` stands alone in OpenAPI 3.0: its siblings are ignored, but
    // for a description and, as this spec's envelopes rely on, `nullable`.
    if let Some(reference) = object.get("$ref") {
        let reference = reference.as_str().ok_or("$ref must be a string")?;
        let mut out = Map::new();
        out.insert(
            "$ref".to_owned(),
            Value::String(rewrite_ref(reference, names)?),
        );
        if let Some(description) = object.get("description") {
            out.insert("description".to_owned(), description.clone());
        }
        return Ok(admit_null(out, nullable));
    }

    let mut out = Map::new();
    for (key, value) in object {
        let key = key.as_str();
        if OPENAPI_ONLY.contains(&key) || key.starts_with("x-") {
            continue;
        }
        let converted = match key {
            "properties" => {
                let properties = value.as_object().ok_or("properties must be an object")?;
                let mut converted = Map::new();
                for (name, property) in properties {
                    let property = convert(property, names).map_err(|e| format!("{name}: {e}"))?;
                    converted.insert(name.clone(), property);
                }
                Value::Object(converted)
            }
            "items" | "additionalProperties" | "not" => convert(value, names)?,
            "allOf" | "anyOf" | "oneOf" => {
                let branches = value
                    .as_array()
                    .ok_or_else(|| format!("{key} must be an array"))?;
                let converted: Result<Vec<Value>, String> = branches
                    .iter()
                    .map(|branch| convert(branch, names))
                    .collect();
                Value::Array(converted?)
            }
            // OpenAPI 3.0 writes `exclusiveMinimum: true` next to `minimum`.
            "exclusiveMinimum" | "exclusiveMaximum" if value.is_boolean() => continue,
            "minimum" | "maximum" => {
                let exclusive = if key == "minimum" {
                    "exclusiveMinimum"
                } else {
                    "exclusiveMaximum"
                };
                if object.get(exclusive) == Some(&Value::Bool(true)) {
                    out.insert(exclusive.to_owned(), value.clone());
                    continue;
                }
                value.clone()
            }
            "format" if object.get("type").and_then(Value::as_str) == Some("integer") => {
                match value.as_str() {
                    Some(format @ ("int32" | "int64")) => {
                        out.insert(INTEGER_FORMAT.to_owned(), Value::String(format.to_owned()));
                        continue;
                    }
                    _ => value.clone(),
                }
            }
            _ => value.clone(),
        };
        out.insert(key.to_owned(), converted);
    }
    Ok(admit_null(out, nullable))
}

/// Applies OpenAPI 3.0's `nullable: true` to a converted schema.
fn admit_null(mut schema: Map<String, Value>, nullable: bool) -> Value {
    if !nullable {
        return Value::Object(schema);
    }
    let combined = ["$ref", "allOf", "anyOf", "oneOf", "not"]
        .iter()
        .any(|key| schema.contains_key(*key));
    match schema.get("type").cloned() {
        // A plain typed schema: widen its type, and its enum if it has one.
        Some(Value::String(kind)) if !combined => {
            schema.insert("type".to_owned(), json!([kind, "null"]));
            if let Some(Value::Array(values)) = schema.get_mut("enum")
                && !values.contains(&Value::Null)
            {
                values.push(Value::Null);
            }
            Value::Object(schema)
        }
        // No type and nothing combined: it already admits null.
        None if !combined => Value::Object(schema),
        // Anything else is "null, or the schema as written".
        _ => {
            let description = schema.remove("description");
            let mut wrapper = Map::new();
            if let Some(description) = description {
                wrapper.insert("description".to_owned(), description);
            }
            wrapper.insert(
                "anyOf".to_owned(),
                json!([{ "type": "null" }, Value::Object(schema)]),
            );
            Value::Object(wrapper)
        }
    }
}

/// `#/components/schemas/X` becomes `#/$defs/X`; anything else is refused.
fn rewrite_ref(reference: &str, names: &BTreeSet<&str>) -> Result<String, String> {
    let Some(escaped) = reference.strip_prefix(COMPONENT_PREFIX) else {
        return Err(format!(
            "$ref {reference:?} does not point into #/components/schemas/"
        ));
    };
    if !names.contains(unescape_pointer(escaped).as_str()) {
        return Err(format!("$ref {reference:?} points to no schema"));
    }
    Ok(format!("{DEFS_PREFIX}{escaped}"))
}

fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

fn unescape_pointer(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

/// The factory of the custom keyword that checks `int32` and `int64`.
fn integer_format_keyword<'a>(
    _parent: &'a Map<String, Value>,
    value: &'a Value,
    _location: jsonschema::paths::Location,
) -> Result<Box<dyn for<'i> Keyword<'i>>, ValidationError<'a>> {
    let bits = match value.as_str() {
        Some("int32") => IntegerBits::Int32,
        Some("int64") => IntegerBits::Int64,
        _ => {
            return Err(ValidationError::custom(format!(
                "{INTEGER_FORMAT} must be \"int32\" or \"int64\""
            )));
        }
    };
    Ok(Box::new(bits))
}

/// The integer formats of OpenAPI 3.0.
#[derive(Clone, Copy)]
enum IntegerBits {
    Int32,
    Int64,
}

impl<'i> Keyword<'i> for IntegerBits {
    fn validate(&self, instance: &'i Value) -> Result<(), ValidationError<'i>> {
        if Keyword::is_valid(self, instance) {
            return Ok(());
        }
        let name = match self {
            IntegerBits::Int32 => "int32",
            IntegerBits::Int64 => "int64",
        };
        Err(ValidationError::custom(format!(
            "{instance} is not an {name} integer"
        )))
    }

    fn is_valid(&self, instance: &'i Value) -> bool {
        // Only numbers are this keyword's business; `type` judges the rest.
        let Value::Number(number) = instance else {
            return true;
        };
        match (self, number.as_i64()) {
            (IntegerBits::Int64, Some(_)) => true,
            (IntegerBits::Int32, Some(value)) => i32::try_from(value).is_ok(),
            (_, None) => false,
        }
    }
}

/// One step of a JSON path.
enum PathStep {
    Key(String),
    Index(usize),
}

/// `data.results[4].customerNumber`, or `.` for the root.
fn render_path(steps: &[PathStep]) -> String {
    let mut out = String::new();
    for step in steps {
        match step {
            PathStep::Index(index) => out.push_str(&format!("[{index}]")),
            PathStep::Key(key) if is_identifier(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            PathStep::Key(key) => {
                out.push('[');
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(']');
            }
        }
    }
    if out.is_empty() { ".".to_owned() } else { out }
}

fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_' || first == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// The JSON path of a validation error's instance location.
///
/// A pointer segment of digits is an array index only where the instance
/// holds an array there; inside an object it is a key.
fn instance_path(location: &jsonschema::paths::Location, root: &Value) -> String {
    let mut steps = Vec::new();
    let mut current = Some(root);
    for segment in location.segments() {
        let step = match (segment, current) {
            (LocationSegment::Index(index), Some(Value::Array(_)) | None) => PathStep::Index(index),
            (LocationSegment::Index(index), _) => PathStep::Key(index.to_string()),
            (LocationSegment::Property(key), _) => PathStep::Key(key.into_owned()),
        };
        current = match (&step, current) {
            (PathStep::Index(index), Some(Value::Array(items))) => items.get(*index),
            (PathStep::Key(key), Some(Value::Object(object))) => object.get(key),
            _ => None,
        };
        steps.push(step);
    }
    render_path(&steps)
}

/// Turns one validation error into findings.
///
/// The `anyOf` that stands for `nullable` hides the real problem: "the
/// value is not valid under any of the schemas". When every branch but one
/// failed only on its `type` at the same place (the `null` branch, for a
/// value that is not null), the errors of that one branch are reported
/// instead, so the path points at the offending value.
fn flatten(error: &ValidationError<'_>, root: &Value, out: &mut Vec<Finding>) {
    if let ValidationErrorKind::AnyOf { context } = error.kind() {
        let here = error.instance_path();
        let plausible: Vec<&Vec<ValidationError<'static>>> = context
            .iter()
            .filter(|branch| {
                !matches!(branch.as_slice(), [only]
                    if matches!(only.kind(), ValidationErrorKind::Type { .. })
                        && only.instance_path() == here)
            })
            .collect();
        if let [branch] = plausible.as_slice() {
            for inner in branch.iter() {
                flatten(inner, root, out);
            }
            return;
        }
    }
    out.push(Finding {
        severity: Severity::Error,
        path: instance_path(error.instance_path(), root),
        message: message_of(error),
    });
}

/// The validator's message, lowercased, with objects and arrays not
/// repeated in full.
fn message_of(error: &ValidationError<'_>) -> String {
    let text = match error.kind() {
        ValidationErrorKind::Custom { message, .. } => message.clone(),
        _ if error.instance().is_object() => error.masked_with("the object").to_string(),
        _ if error.instance().is_array() => error.masked_with("the array").to_string(),
        _ => error.to_string(),
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) if first.is_ascii_uppercase() => {
            first.to_ascii_lowercase().to_string() + chars.as_str()
        }
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_spec_compiles() {
        let schemas = SpecSchemas::embedded().unwrap();
        let names: Vec<&str> = schemas.names().collect();
        assert_eq!(
            names,
            [
                "Customer",
                "CustomerBsn",
                "CustomerPage",
                "CustomerPageEnvelope",
                "ErrorList",
                "LoginEnvelope",
                "LoginRequest",
                "LoginResult"
            ]
        );
    }

    #[test]
    fn nullable_allof_becomes_any_of_null() {
        let schemas = SpecSchemas::embedded().unwrap();
        let data = &schemas.json_schema()["$defs"]["CustomerPageEnvelope"]["properties"]["data"];
        assert_eq!(
            data,
            &json!({
                "description": "The payload on success; null on failure.",
                "anyOf": [{"type": "null"}, {"allOf": [{"$ref": "#/$defs/CustomerPage"}]}]
            })
        );
        let results = &schemas.json_schema()["$defs"]["CustomerPage"]["properties"]["results"];
        assert_eq!(results["type"], json!(["array", "null"]));
    }

    #[test]
    fn int64_refuses_fractions_and_out_of_range() {
        let schemas = SpecSchemas::embedded().unwrap();
        for (value, errors) in [
            (json!(1), 0),
            (json!(1.0), 1),
            (json!(18446744073709551615u64), 1),
        ] {
            let bsn = json!({"customerBsn": value, "bsnName": "HQ", "isHeadquarter": true});
            let findings = schemas
                .validate("CustomerBsn", &bsn, Mode::Conform)
                .unwrap();
            assert_eq!(findings.len(), errors, "{value}: {findings:?}");
        }
    }

    #[test]
    fn nullable_wrappers_report_the_inner_problem_or_the_whole_value() {
        let schemas = SpecSchemas::embedded().unwrap();
        let check = |body: Value| {
            schemas
                .validate("CustomerPageEnvelope", &body, Mode::Conform)
                .unwrap()
        };
        let finding = |path: &str, message: &str| Finding {
            severity: Severity::Error,
            path: path.to_owned(),
            message: message.to_owned(),
        };

        // An object missing a field: the problem inside the non-null branch.
        assert_eq!(
            check(json!({"data": {"currentPage": 1, "totalPages": 1, "resultsPerPage": 1}})),
            [finding("data", r#""totalResults" is a required property"#)]
        );
        // Neither null nor an object: the wrapper's own verdict, at the value.
        assert_eq!(
            check(json!({"data": "x"})),
            [finding(
                "data",
                r#""x" is not valid under any of the schemas listed in the 'anyOf' keyword"#
            )]
        );
    }

    #[test]
    fn paths_tell_keys_of_digits_from_indexes() {
        let root = json!({"a": {"0": [1, {"b c": 2}]}});
        let location = jsonschema::paths::Location::new()
            .join("a")
            .join("0")
            .join(1)
            .join("b c");
        assert_eq!(instance_path(&location, &root), r#"a["0"][1]["b c"]"#);
        assert_eq!(
            instance_path(&jsonschema::paths::Location::new(), &root),
            "."
        );
    }

    #[test]
    fn refs_outside_the_components_are_refused() {
        let spec = json!({"components": {"schemas": {"A": {"$ref": "other.yaml#/B"}}}});
        let error = SpecSchemas::from_openapi(&spec).unwrap_err();
        assert!(
            matches!(error, ContractError::InvalidSpec { .. }),
            "{error}"
        );
        let spec = json!({"components": {"schemas": {"A": {"$ref": "#/components/schemas/B"}}}});
        assert!(SpecSchemas::from_openapi(&spec).is_err());
    }
}
