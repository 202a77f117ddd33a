//! A snapshot of what progenitor generates from the spec, so that a spec
//! change shows up in review as a readable diff.

use syn::{
    Attribute, Fields, FnArg, GenericArgument, ImplItem, Item, Pat, PathArguments, ReturnType,
    Type, Visibility,
};

const GENERATED: &str = include_str!(concat!(env!("OUT_DIR"), "/connect_enterprise.rs"));

/// A type as written, with spaces only where Rust needs them and no
/// leading `::`.
fn render_type(ty: &Type) -> String {
    match ty {
        Type::Path(path) => render_path(&path.path),
        Type::Reference(reference) => {
            let lifetime = reference
                .lifetime
                .as_ref()
                .map_or(String::new(), |l| format!("'{} ", l.ident));
            let mutability = if reference.mutability.is_some() {
                "mut "
            } else {
                ""
            };
            format!("&{lifetime}{mutability}{}", render_type(&reference.elem))
        }
        Type::Tuple(tuple) => {
            let elems: Vec<String> = tuple.elems.iter().map(render_type).collect();
            format!("({})", elems.join(", "))
        }
        Type::Slice(slice) => format!("[{}]", render_type(&slice.elem)),
        Type::Paren(paren) => render_type(&paren.elem),
        other => format!("<unrendered {}>", kind_of(other)),
    }
}

fn kind_of(ty: &Type) -> &'static str {
    match ty {
        Type::Array(_) => "array",
        Type::BareFn(_) => "fn",
        Type::ImplTrait(_) => "impl",
        Type::TraitObject(_) => "dyn",
        _ => "type",
    }
}

fn render_path(path: &syn::Path) -> String {
    let segments: Vec<String> = path
        .segments
        .iter()
        .map(|segment| {
            let name = segment.ident.to_string();
            match &segment.arguments {
                PathArguments::AngleBracketed(args) => {
                    let args: Vec<String> = args
                        .args
                        .iter()
                        .map(|arg| match arg {
                            GenericArgument::Type(ty) => render_type(ty),
                            GenericArgument::Lifetime(l) => format!("'{}", l.ident),
                            _ => "<unrendered argument>".to_owned(),
                        })
                        .collect();
                    format!("{name}<{}>", args.join(", "))
                }
                _ => name,
            }
        })
        .collect();
    segments.join("::")
}

/// The `key = "value"` pairs and bare words of every `#[serde(...)]`.
fn serde_attributes(attrs: &[Attribute]) -> Vec<String> {
    let mut found = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = attr.parse_nested_meta(|meta| {
            let key = meta
                .path
                .get_ident()
                .map_or_else(|| "?".to_owned(), ToString::to_string);
            match meta.value() {
                Ok(value) => {
                    let literal: syn::LitStr = value.parse()?;
                    found.push(format!("{key} = {:?}", literal.value()));
                }
                Err(_) => found.push(key),
            }
            Ok(())
        });
    }
    found
}

/// The derives of an item, in the order written.
fn derives(attrs: &[Attribute]) -> Vec<String> {
    let mut found = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("derive")) {
        let _ = attr.parse_nested_meta(|meta| {
            found.push(
                meta.path
                    .segments
                    .last()
                    .map_or(String::new(), |s| s.ident.to_string()),
            );
            Ok(())
        });
    }
    found
}

fn bracketed(label: &str, values: &[String]) -> String {
    if values.is_empty() {
        String::new()
    } else {
        format!(" {label}({})", values.join(", "))
    }
}

/// One line per type and per field in `items` (and the modules inside
/// them), each starting with the type's path, so that sorting keeps a
/// type's fields right after it.
fn type_lines(prefix: &str, items: &[Item], out: &mut Vec<String>) {
    for item in items {
        match item {
            Item::Struct(item) => {
                let name = format!("{prefix}::{}", item.ident);
                out.push(format!(
                    "{name} struct{}{}",
                    bracketed("derive", &derives(&item.attrs)),
                    bracketed("serde", &serde_attributes(&item.attrs)),
                ));
                let fields: Vec<(String, &syn::Field)> = match &item.fields {
                    Fields::Named(named) => named
                        .named
                        .iter()
                        .map(|f| {
                            (
                                f.ident.as_ref().map_or(String::new(), ToString::to_string),
                                f,
                            )
                        })
                        .collect(),
                    Fields::Unnamed(unnamed) => unnamed
                        .unnamed
                        .iter()
                        .enumerate()
                        .map(|(i, f)| (i.to_string(), f))
                        .collect(),
                    Fields::Unit => Vec::new(),
                };
                for (field_name, field) in fields {
                    let visibility = if matches!(field.vis, Visibility::Public(_)) {
                        "pub "
                    } else {
                        ""
                    };
                    out.push(format!(
                        "{name}.{field_name}: {visibility}{}{}",
                        render_type(&field.ty),
                        bracketed("serde", &serde_attributes(&field.attrs)),
                    ));
                }
            }
            Item::Enum(item) => {
                let name = format!("{prefix}::{}", item.ident);
                out.push(format!(
                    "{name} enum{}",
                    bracketed("derive", &derives(&item.attrs))
                ));
                for variant in &item.variants {
                    out.push(format!(
                        "{name}::{}{}",
                        variant.ident,
                        bracketed("serde", &serde_attributes(&variant.attrs))
                    ));
                }
            }
            Item::Mod(module) => {
                if let Some((_, inner)) = &module.content {
                    type_lines(&format!("{prefix}::{}", module.ident), inner, out);
                }
            }
            _ => {}
        }
    }
}

/// One line per public inherent method of `Client`.
fn client_lines(items: &[Item], out: &mut Vec<String>) {
    for item in items {
        let Item::Impl(block) = item else { continue };
        let is_client = matches!(&*block.self_ty, Type::Path(p) if p.path.is_ident("Client"));
        if !is_client || block.trait_.is_some() {
            continue;
        }
        for member in &block.items {
            let ImplItem::Fn(method) = member else {
                continue;
            };
            if !matches!(method.vis, Visibility::Public(_)) {
                continue;
            }
            let params: Vec<String> = method
                .sig
                .inputs
                .iter()
                .map(|input| match input {
                    FnArg::Receiver(receiver) => {
                        if receiver.reference.is_some() {
                            "&self".to_owned()
                        } else {
                            "self".to_owned()
                        }
                    }
                    FnArg::Typed(typed) => {
                        let name = match &*typed.pat {
                            Pat::Ident(ident) => ident.ident.to_string(),
                            _ => "_".to_owned(),
                        };
                        format!("{name}: {}", render_type(&typed.ty))
                    }
                })
                .collect();
            let output = match &method.sig.output {
                ReturnType::Default => String::new(),
                ReturnType::Type(_, ty) => format!(" -> {}", render_type(ty)),
            };
            let asyncness = if method.sig.asyncness.is_some() {
                "async "
            } else {
                ""
            };
            out.push(format!(
                "{asyncness}fn Client::{}({}){output}",
                method.sig.ident,
                params.join(", ")
            ));
        }
    }
}

// The generated client's methods and types, one line each, sorted.
#[test]
fn generated_client_surface() {
    let file = syn::parse_file(GENERATED).expect("the generated code parses");

    let mut methods = Vec::new();
    client_lines(&file.items, &mut methods);
    methods.sort();

    let mut types = Vec::new();
    for item in &file.items {
        if let Item::Mod(module) = item
            && module.ident == "types"
            && let Some((_, items)) = &module.content
        {
            type_lines("types", items, &mut types);
        }
    }
    types.sort();

    assert!(
        methods
            .iter()
            .any(|m| m.contains("fn Client::get_customers(")),
        "{methods:#?}"
    );
    assert!(
        types
            .iter()
            .any(|t| t.starts_with("types::CustomerPageEnvelope struct")),
        "{types:#?}"
    );
    insta::assert_snapshot!(
        "client_surface",
        format!("{}\n\n{}", methods.join("\n"), types.join("\n"))
    );
}
