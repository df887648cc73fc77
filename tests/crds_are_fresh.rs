//! `crds/` and the Helm chart's `charts/tenantry/crds/` must hold exactly what `tenantry crds`
//! generates: a change to the API types that is not regenerated fails here. Regenerate with
//! `UPDATE_CRDS=1 cargo test --test crds_are_fresh`.

use std::collections::BTreeSet;
use std::path::PathBuf;

fn crds_dirs() -> [PathBuf; 2] {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    [root.join("crds"), root.join("charts").join("tenantry").join("crds")]
}

#[test]
fn crds_directories_match_the_generated_definitions() {
    for dir in crds_dirs() {
        check_dir(&dir);
    }
}

fn check_dir(dir: &std::path::Path) {
    let generated = tenantry::crdgen::files().expect("CRDs render as YAML");
    if std::env::var_os("UPDATE_CRDS").is_some() {
        std::fs::create_dir_all(dir).expect("create crds/");
        for (name, text) in &generated {
            std::fs::write(dir.join(name), text).expect("write CRD");
        }
    }
    let expected: BTreeSet<String> = generated.iter().map(|(name, _)| name.clone()).collect();
    let present: BTreeSet<String> = std::fs::read_dir(dir)
        .expect("crds/ exists")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".yaml"))
        .collect();
    assert_eq!(
        present, expected,
        "crds/ holds other files than the generated ones; run UPDATE_CRDS=1 cargo test --test crds_are_fresh"
    );
    for (name, text) in generated {
        let on_disk = std::fs::read_to_string(dir.join(&name)).expect("read CRD");
        assert!(
            on_disk == text,
            "{}/{name} is stale; run UPDATE_CRDS=1 cargo test --test crds_are_fresh",
            dir.display()
        );
    }
}

#[test]
fn every_kind_is_in_the_tenantry_category_with_a_status_subresource() {
    for crd in tenantry::crdgen::all() {
        let kind = &crd.spec.names.kind;
        assert_eq!(crd.spec.names.categories.as_deref(), Some(&["tenantry".to_string()][..]), "{kind}");
        let version = &crd.spec.versions[0];
        assert!(
            version.subresources.as_ref().and_then(|s| s.status.as_ref()).is_some(),
            "{kind} has a status subresource"
        );
        assert!(
            !version.additional_printer_columns.as_deref().unwrap_or_default().is_empty(),
            "{kind} has printer columns"
        );
        let short_names = crd.spec.names.short_names.clone().unwrap_or_default();
        assert!(!short_names.is_empty(), "{kind} has a short name");
        for taken in ["wf", "cwf", "app", "po", "pol", "cpol", "tier-"] {
            assert!(!short_names.iter().any(|s| s == taken), "{kind} short name {taken} clashes");
        }
    }
}

/// Every property of every schema carries a description, so `kubectl explain` is useful, and
/// nothing is nullable (optional fields are omitted, never null).
#[test]
fn every_field_is_described_and_none_is_nullable() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{JSONSchemaProps, JSONSchemaPropsOrArray};
    fn walk(kind: &str, path: &str, schema: &JSONSchemaProps, missing: &mut Vec<String>) {
        assert_ne!(schema.nullable, Some(true), "{kind} {path} is nullable");
        for (name, property) in schema.properties.iter().flatten() {
            let child = format!("{path}.{name}");
            let described = property.description.as_deref().map(|d| !d.trim().is_empty()).unwrap_or(false);
            // metadata is described by Kubernetes itself.
            if !described && child != ".metadata" {
                missing.push(format!("{kind}{child}"));
            }
            walk(kind, &child, property, missing);
        }
        if let Some(JSONSchemaPropsOrArray::Schema(items)) = &schema.items {
            walk(kind, &format!("{path}[]"), items, missing);
        }
    }
    let mut missing = Vec::new();
    for crd in tenantry::crdgen::all() {
        let schema = crd.spec.versions[0].schema.as_ref().and_then(|s| s.open_api_v3_schema.as_ref()).expect("schema");
        walk(&crd.spec.names.kind, "", schema, &mut missing);
    }
    assert!(missing.is_empty(), "fields without a description: {missing:#?}");
}

/// The rules kube-apiserver applies before it accepts a CRD: every node of a structural
/// schema has a type (or is int-or-string); list-maps are keyed by required fields; sets
/// hold scalars; no bare `nullable`; no value validation inside `anyOf`/`allOf`/`oneOf`.
#[test]
fn schemas_are_structural() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{JSONSchemaProps, JSONSchemaPropsOrArray};
    fn walk(kind: &str, path: &str, schema: &JSONSchemaProps, problems: &mut Vec<String>) {
        let int_or_string = schema.x_kubernetes_int_or_string == Some(true);
        let preserve = schema.x_kubernetes_preserve_unknown_fields == Some(true);
        if schema.type_.is_none() && !int_or_string && !preserve {
            problems.push(format!("{kind}{path}: no type"));
        }
        let combines =
            schema.any_of.is_some() || schema.all_of.is_some() || schema.one_of.is_some() || schema.not.is_some();
        if combines && !int_or_string {
            problems.push(format!("{kind}{path}: uses anyOf/allOf/oneOf/not"));
        }
        let item = match &schema.items {
            Some(JSONSchemaPropsOrArray::Schema(items)) => Some(items.as_ref()),
            Some(JSONSchemaPropsOrArray::Schemas(_)) => {
                problems.push(format!("{kind}{path}: items must be a single schema"));
                None
            }
            None => None,
        };
        match (schema.x_kubernetes_list_type.as_deref(), item) {
            (Some("map"), Some(item)) => {
                let required = item.required.clone().unwrap_or_default();
                for key in schema.x_kubernetes_list_map_keys.iter().flatten() {
                    let defaulted =
                        item.properties.as_ref().and_then(|p| p.get(key)).and_then(|p| p.default.as_ref()).is_some();
                    if !required.contains(key) && !defaulted {
                        problems.push(format!("{kind}{path}: list-map key {key} is neither required nor defaulted"));
                    }
                }
            }
            (Some("set"), Some(item)) => {
                if matches!(item.type_.as_deref(), Some("object") | Some("array")) {
                    problems.push(format!("{kind}{path}: a set must hold scalars"));
                }
            }
            (Some(other), _) if other != "atomic" => {
                problems.push(format!("{kind}{path}: list type {other} without items"))
            }
            _ => {}
        }
        for (name, property) in schema.properties.iter().flatten() {
            walk(kind, &format!("{path}.{name}"), property, problems);
        }
        if let Some(item) = item {
            walk(kind, &format!("{path}[]"), item, problems);
        }
    }
    let mut problems = Vec::new();
    for crd in tenantry::crdgen::all() {
        let kind = crd.spec.names.kind.clone();
        let version = &crd.spec.versions[0];
        let schema = version.schema.as_ref().and_then(|s| s.open_api_v3_schema.as_ref()).expect("schema");
        assert_eq!(schema.type_.as_deref(), Some("object"), "{kind}: the root is an object");
        walk(&kind, "", schema, &mut problems);
        assert!(version.served && version.storage, "{kind}: v1alpha1 is served and stored");
    }
    assert!(problems.is_empty(), "not structural: {problems:#?}");
}
