//! The fixtures against the spec's own schemas, and the schemas against a
//! changed spec.
#![cfg(feature = "contract")]

use std::fs;
use std::path::{Path, PathBuf};

use primo_connect::contract::{Finding, Mode, Severity, SpecSchemas, fixture_schema};
use primo_connect::types::{CustomerPageEnvelope, LoginEnvelope};
use serde_json::{Value, json};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Every `*.json` file under `dir`, sorted.
fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).expect("the fixtures folder lists") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).expect("the fixture reads");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not json: {e}", path.display()))
}

fn schemas() -> SpecSchemas {
    SpecSchemas::embedded().expect("the embedded spec compiles")
}

fn error(path: &str, message: &str) -> Finding {
    Finding {
        severity: Severity::Error,
        path: path.to_owned(),
        message: message.to_owned(),
    }
}

// Every fixture conforms to the schema it stands for and decodes through the generated types.
#[test]
fn every_fixture_conforms_and_decodes() {
    let schemas = schemas();
    let root = fixtures_dir();
    let files = json_files(&root);
    let relative: Vec<String> = files
        .iter()
        .map(|f| {
            f.strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    assert_eq!(
        relative,
        [
            "anomalies/no-branches.json",
            "anomalies/no-headquarter.json",
            "anomalies/shared-bsn.json",
            "anomalies/shared-number.json",
            "anomalies/two-headquarters.json",
            "auth/login.json",
            "documented-example.json",
            "organization/page-size-10/page-1.json",
            "organization/page-size-10/page-2.json",
            "organization/page-size-10/page-3.json",
            "organization/page-size-23/page-1.json",
        ]
    );

    let mut problems = Vec::new();
    for (file, name) in files.iter().zip(&relative) {
        let body = read_json(file);
        let schema = fixture_schema(Path::new(name));
        let findings = schemas
            .validate(schema, &body, Mode::Conform)
            .expect("a known schema");
        for finding in findings {
            problems.push(format!(
                "{name} ({schema}): {}: {}",
                finding.path, finding.message
            ));
        }
        let decoded = match schema {
            "LoginEnvelope" => serde_json::from_value::<LoginEnvelope>(body).map(drop),
            _ => serde_json::from_value::<CustomerPageEnvelope>(body).map(drop),
        };
        if let Err(e) = decoded {
            problems.push(format!("{name} ({schema}): does not decode: {e}"));
        }
    }
    assert!(
        problems.is_empty(),
        "fixtures that break the contract:\n{}",
        problems.join("\n")
    );
}

// The rule findings of each anomalies file equal its .findings.txt sidecar exactly.
#[test]
fn anomaly_findings_match_their_sidecars() {
    let dir = fixtures_dir().join("anomalies");
    let files = json_files(&dir);
    assert_eq!(files.len(), 5);
    for file in files {
        let envelope: CustomerPageEnvelope = serde_json::from_value(read_json(&file)).unwrap();
        let customers = envelope.data.and_then(|d| d.results).unwrap_or_default();
        let mut lines: Vec<String> = primo_connect::rules::check(&customers)
            .iter()
            .zip(&customers)
            .flat_map(|(problems, customer)| {
                problems
                    .iter()
                    .map(|p| format!("{} {}", customer.customer_code, p.code()))
            })
            .collect();
        lines.sort();
        let found: String = lines.iter().map(|line| format!("{line}\n")).collect();

        let sidecar = file.with_extension("findings.txt");
        let expected = fs::read_to_string(&sidecar).expect("every anomaly has a sidecar");
        assert_eq!(found, expected, "{}", file.display());
    }
}

// A spec that makes customerBsn a string rejects the recorded page, at the exact path.
#[test]
fn a_changed_spec_rejects_the_recorded_page() {
    let yaml = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/connect-enterprise.yaml"),
    )
    .expect("the spec reads");
    let mut spec: Value = serde_yaml::from_str(&yaml).expect("the spec is yaml");
    spec["components"]["schemas"]["CustomerBsn"]["properties"]["customerBsn"] =
        json!({"type": "string"});
    let changed = SpecSchemas::from_openapi(&spec).expect("the changed spec compiles");

    let page = read_json(&fixtures_dir().join("organization/page-size-10/page-1.json"));
    let findings = changed
        .validate("CustomerPageEnvelope", &page, Mode::Conform)
        .unwrap();

    let branches: usize = page["data"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["bsns"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(
        findings.len(),
        branches,
        "one finding per branch: {findings:#?}"
    );
    assert_eq!(
        findings[0],
        error(
            "data.results[0].bsns[0].customerBsn",
            r#"1237101834 is not of type "string""#
        )
    );
    assert!(
        findings.iter().all(|f| f.path.ends_with(".customerBsn")),
        "{findings:#?}"
    );

    // The spec as shipped accepts the same page.
    assert_eq!(
        schemas()
            .validate("CustomerPageEnvelope", &page, Mode::Conform)
            .unwrap(),
        []
    );
}

// A field the spec does not know is drift: a warning in strict mode, nothing in conform mode.
#[test]
fn strict_mode_reports_unknown_fields_as_warnings() {
    let schemas = schemas();
    let mut page = read_json(&fixtures_dir().join("organization/page-size-10/page-1.json"));
    page["data"]["results"][2]["loyaltyTier"] = json!("gold");
    page["meta"] = json!({"requestId": "r-1"});

    assert_eq!(
        schemas
            .validate("CustomerPageEnvelope", &page, Mode::Conform)
            .unwrap(),
        []
    );
    assert_eq!(
        schemas
            .validate("CustomerPageEnvelope", &page, Mode::Strict)
            .unwrap(),
        [
            Finding {
                severity: Severity::Warning,
                path: "data.results[2].loyaltyTier".to_owned(),
                message: r#"property "loyaltyTier" is not in the spec"#.to_owned(),
            },
            Finding {
                severity: Severity::Warning,
                path: "meta".to_owned(),
                message: r#"property "meta" is not in the spec"#.to_owned(),
            },
        ]
    );
}

// `created` accepts exactly the timestamp forms the client accepts.
#[test]
fn timestamps_validate_as_the_client_parses_them() {
    let schemas = schemas();
    let customer = |created: &str| {
        json!({
            "customerId": 1, "customerName": "Acme", "customerCode": "C1",
            "customerNumber": 2, "isActive": true, "created": created,
        })
    };
    for accepted in [
        "2026-05-04T15:59:10.3266667+00:00",
        "2026-05-04T15:59:10.326Z",
        "2026-05-04T15:59:10",
        "0001-01-01T00:00:00",
    ] {
        let findings = schemas
            .validate("Customer", &customer(accepted), Mode::Conform)
            .unwrap();
        assert_eq!(findings, [], "{accepted}");
    }
    for refused in ["2026-13-01T00:00:00", "yesterday"] {
        let findings = schemas
            .validate("Customer", &customer(refused), Mode::Conform)
            .unwrap();
        assert_eq!(
            findings,
            [error(
                "created",
                &format!(r#""{refused}" is not a "date-time""#)
            )]
        );
    }
}

// `data: null` is allowed (a nullable allOf); a total sent as a string is not.
#[test]
fn nullable_data_and_integer_totals() {
    let schemas = schemas();
    let empty = json!({"data": null, "errors": ["invalid token"]});
    assert_eq!(
        schemas
            .validate("CustomerPageEnvelope", &empty, Mode::Conform)
            .unwrap(),
        []
    );
    assert_eq!(
        schemas
            .validate("LoginEnvelope", &empty, Mode::Conform)
            .unwrap(),
        []
    );

    let stringly = json!({
        "data": {"totalResults": "23", "currentPage": 1, "totalPages": 3, "resultsPerPage": 10, "results": []},
        "errors": null,
    });
    assert_eq!(
        schemas
            .validate("CustomerPageEnvelope", &stringly, Mode::Conform)
            .unwrap(),
        [error(
            "data.totalResults",
            r#""23" is not of type "integer""#
        )]
    );
}
