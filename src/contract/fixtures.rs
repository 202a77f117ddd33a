//! Which response schema a recorded fixture file stands for.

use std::path::{Component, Path};

/// The component schema a file under `fixtures/` answers to, from its path
/// relative to that folder: `LoginEnvelope` under `auth/`,
/// `CustomerPageEnvelope` for everything else.
///
/// ```
/// use std::path::Path;
/// use primo_connect::contract::fixture_schema;
///
/// assert_eq!(fixture_schema(Path::new("auth/login.json")), "LoginEnvelope");
/// let page = Path::new("organization/page-size-10/page-1.json");
/// assert_eq!(fixture_schema(page), "CustomerPageEnvelope");
/// ```
pub fn fixture_schema(relative_path: &Path) -> &'static str {
    let first = relative_path
        .components()
        .find(|component| matches!(component, Component::Normal(_)));
    match first {
        Some(Component::Normal(name))
            if name == "auth" && relative_path.components().count() > 1 =>
        {
            "LoginEnvelope"
        }
        _ => "CustomerPageEnvelope",
    }
}
