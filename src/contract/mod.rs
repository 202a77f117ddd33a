//! Contract checks: the API's answers held against the spec's own schemas.
//!
//! [`SpecSchemas`] turns the OpenAPI 3.0 component schemas of
//! `openapi/connect-enterprise.yaml` into one JSON Schema document and
//! validates JSON against it, offline. [`run_check`] walks every page of an
//! environment and records what conforms and what does not (the logic of
//! `primo check`); [`record`] writes every page, redacted, as a data folder
//! the sandbox can serve (the logic of `primo record`).

mod check;
mod fixtures;
mod record;
mod schema;

pub use check::{CheckReport, CheckResult, run_check};
pub use fixtures::fixture_schema;
pub use record::{
    RecordError, RecordOptions, RecordSummary, Redactor, record, redact_page, scan_for_leaks,
};
pub use schema::{ContractError, Finding, Mode, Severity, SpecSchemas};
