//! Generates the typed Connect Enterprise client from the hand-written spec.
//!
//! The recipe: read `openapi/connect-enterprise.yaml`, hand it to progenitor,
//! format the tokens with prettyplease and write them to `OUT_DIR`, next to
//! a JSON copy of the spec that the contract checks validate against.

use std::path::{Path, PathBuf};
use std::{env, fs};

use progenitor::{GenerationSettings, Generator, HooksMode, InterfaceStyle, TypeImpl};

const SPEC: &str = "openapi/connect-enterprise.yaml";

fn main() {
    if let Err(message) = generate() {
        // A plain message instead of a panic: cargo shows it as the reason the
        // build script failed, without a backtrace that buries it.
        eprintln!("error: {SPEC}: {message}");
        std::process::exit(1);
    }
}

fn generate() -> Result<(), String> {
    rerun_if_changed(Path::new("openapi"))?;

    let text = fs::read_to_string(SPEC).map_err(|e| format!("cannot read: {e}"))?;
    let spec: openapiv3::OpenAPI = serde_yaml::from_str(&text)
        .map_err(|e| format!("not a valid OpenAPI 3.0 document: {e}"))?;

    // The provider's backend sends timestamps the generator's strict chrono
    // type rejects (no offset, .NET's `0001-01-01T00:00:00`), so every
    // `date-time` string becomes the crate's lenient `ApiTimestamp`.
    let date_time = serde_json::from_value(serde_json::json!({
        "type": "string",
        "format": "date-time",
    }))
    .map_err(|e| format!("internal: date-time schema: {e}"))?;

    // The login body and answer carry the secret and the token: the crate's
    // own types hold them in `SecretString`, so no derived `Debug` prints them.
    // Hooks are required so that the crate's own request handling (bearer
    // token, no `api-version` header, buffered bodies) can never be skipped.
    let mut settings = GenerationSettings::new();
    settings
        .with_interface(InterfaceStyle::Positional)
        .with_hooks(HooksMode::Expected)
        .with_conversion(
            date_time,
            "crate::timestamp::ApiTimestamp",
            [TypeImpl::Display].into_iter(),
        )
        .with_replacement(
            "LoginRequest",
            "crate::auth::LoginRequest",
            std::iter::empty(),
        )
        .with_replacement(
            "LoginResult",
            "crate::auth::LoginResult",
            std::iter::empty(),
        );

    let tokens = Generator::new(&settings)
        .generate_tokens(&spec)
        .map_err(|e| format!("the generator rejected it: {e}"))?;
    let file = syn::parse2(tokens).map_err(|e| format!("generated code does not parse: {e}"))?;
    let code = prettyplease::unparse(&file);

    let out = PathBuf::from(env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    write(&out.join("connect_enterprise.rs"), code.as_bytes())?;

    let json =
        serde_json::to_vec_pretty(&spec).map_err(|e| format!("cannot turn into JSON: {e}"))?;
    write(&out.join("connect-enterprise.json"), &json)
}

/// Asks cargo to rebuild when any file under `dir` changes, added or removed.
fn rerun_if_changed(dir: &Path) -> Result<(), String> {
    println!("cargo:rerun-if-changed={}", dir.display());
    let entries = fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry
            .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
            .path();
        if path.is_dir() {
            rerun_if_changed(&path)?;
        } else {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
