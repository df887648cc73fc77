//! Reads the declared world from a directory of YAML, as a GitOps repository holds it, and
//! reports every problem with the file, the document and the field.

pub mod schema;

use crate::api::{Approval, BillingRecord, GovernancePolicy, Partner, ServiceTier, Tenant, Workflow};
use crate::crdgen;
use crate::planner::World;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Where a document came from: the file and its position in the file (1-based).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Origin {
    /// The file.
    pub file: PathBuf,
    /// Position of the document in the file, from 1.
    pub document: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (document {})", self.file.display(), self.document)
    }
}

/// One problem in the input.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{origin}: {}{}{message}", prefix(object), prefix(field))]
pub struct InputError {
    /// Where the document is.
    pub origin: Origin,
    /// `Kind/name` of the object, when known.
    pub object: Option<String>,
    /// Dotted path of the field at fault, when one is.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// `"value: "` for a part of an error message that is known, nothing otherwise.
fn prefix(part: &Option<String>) -> String {
    part.as_ref().map(|p| format!("{p}: ")).unwrap_or_default()
}

/// A document that is not a tenantry object and was left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Where the document is.
    pub origin: Origin,
    /// Its `apiVersion/kind`, or why it is not a Kubernetes object.
    pub what: String,
}

/// What a directory holds.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The tenantry objects.
    pub world: World,
    /// Documents of other kinds, left out.
    pub skipped: Vec<Skipped>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TypeMeta {
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
}

/// Reads every `.yaml` and `.yml` file under `dir` (hidden directories excepted), every
/// document in each. Returns all input errors at once, never only the first.
pub fn load_dir(dir: &Path) -> Result<Loaded, Vec<InputError>> {
    let files = yaml_files(dir).map_err(|e| {
        vec![InputError {
            origin: Origin { file: dir.to_path_buf(), document: 0 },
            object: None,
            field: None,
            message: format!("cannot read directory: {e}"),
        }]
    })?;
    let mut loader = Loader::new();
    for file in &files {
        match std::fs::read_to_string(file) {
            Ok(text) => loader.add_text(file, &text),
            Err(e) => loader.errors.push(InputError {
                origin: Origin { file: file.clone(), document: 0 },
                object: None,
                field: None,
                message: format!("cannot read file: {e}"),
            }),
        }
    }
    loader.finish()
}

/// Reads documents from YAML text, as if from `file`; used by `load_dir` and by tests.
pub fn load_text(file: &Path, text: &str) -> Result<Loaded, Vec<InputError>> {
    let mut loader = Loader::new();
    loader.add_text(file, text);
    loader.finish()
}

fn yaml_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current)? {
            let path = entry?.path();
            let hidden = path.file_name().and_then(|n| n.to_str()).map(|n| n.starts_with('.')).unwrap_or(false);
            if path.is_dir() {
                if !hidden {
                    pending.push(path);
                }
            } else if matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Each tenantry kind's schema and whether it is namespaced, generated once per process.
fn schemas() -> &'static HashMap<String, (JSONSchemaProps, bool)> {
    static SCHEMAS: std::sync::OnceLock<HashMap<String, (JSONSchemaProps, bool)>> = std::sync::OnceLock::new();
    SCHEMAS.get_or_init(|| {
        crdgen::all()
            .into_iter()
            .filter_map(|crd| {
                let namespaced = crd.spec.scope == "Namespaced";
                let kind = crd.spec.names.kind.clone();
                let schema = crd.spec.versions.into_iter().next()?.schema?.open_api_v3_schema?;
                Some((kind, (schema, namespaced)))
            })
            .collect()
    })
}

struct Loader {
    loaded: Loaded,
    errors: Vec<InputError>,
    schemas: &'static HashMap<String, (JSONSchemaProps, bool)>,
    checker: schema::Checker,
    seen: BTreeMap<(String, String, String), Origin>,
}

impl Loader {
    fn new() -> Self {
        Loader {
            loaded: Loaded::default(),
            errors: Vec::new(),
            schemas: schemas(),
            checker: schema::Checker::default(),
            seen: BTreeMap::new(),
        }
    }

    fn finish(self) -> Result<Loaded, Vec<InputError>> {
        if self.errors.is_empty() {
            Ok(self.loaded)
        } else {
            Err(self.errors)
        }
    }

    fn add_text(&mut self, file: &Path, text: &str) {
        for (position, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
            let origin = Origin { file: file.to_path_buf(), document: position + 1 };
            let yaml = match serde_yaml::Value::deserialize(document) {
                Ok(yaml) => yaml,
                Err(e) => {
                    self.error(&origin, None, None, format!("not valid YAML: {e}"));
                    // The parser cannot resynchronise after a syntax error.
                    break;
                }
            };
            if yaml.is_null() {
                continue;
            }
            match serde_json::to_value(&yaml) {
                Ok(value) => self.add_value(origin, value),
                Err(e) => self.error(&origin, None, None, format!("cannot be read as a Kubernetes object: {e}")),
            }
        }
    }

    fn error(&mut self, origin: &Origin, object: Option<&str>, field: Option<&str>, message: String) {
        self.errors.push(InputError {
            origin: origin.clone(),
            object: object.map(str::to_string),
            field: field.map(str::to_string),
            message,
        });
    }

    fn add_value(&mut self, origin: Origin, value: Value) {
        let type_meta: TypeMeta =
            serde_json::from_value(value.clone()).unwrap_or(TypeMeta { api_version: None, kind: None });
        let (Some(api_version), Some(kind)) = (type_meta.api_version, type_meta.kind) else {
            self.loaded
                .skipped
                .push(Skipped { origin, what: "not a Kubernetes object (no apiVersion or kind)".into() });
            return;
        };
        let Some(version) = api_version.strip_prefix(crate::api::common::GROUP).and_then(|v| v.strip_prefix('/'))
        else {
            self.loaded.skipped.push(Skipped { origin, what: format!("{api_version}/{kind}") });
            return;
        };
        let Some((schema, namespaced)) = self.schemas.get(&kind).map(|(schema, namespaced)| (schema, *namespaced))
        else {
            self.error(&origin, None, Some("kind"), format!("'{kind}' is not a tenantry kind"));
            return;
        };
        let name = value.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
        let object = format!("{kind}/{name}");
        if version != crate::api::common::VERSION {
            let message = format!("version '{version}' is not served; use {}", crate::api::common::VERSION);
            self.error(&origin, Some(&object), Some("apiVersion"), message);
            return;
        }
        if name.is_empty() {
            self.error(&origin, Some(&object), Some("metadata.name"), "is required".into());
            return;
        }
        let namespace = value.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default().to_string();
        if namespaced && namespace.is_empty() {
            let message = format!("is required for a {kind}: the plan does not guess a default namespace");
            self.error(&origin, Some(&object), Some("metadata.namespace"), message);
            return;
        }
        let violations = self.checker.check(schema, &value, "");
        if !violations.is_empty() {
            for violation in violations {
                self.error(&origin, Some(&object), Some(&violation.field), violation.message);
            }
            return;
        }
        let key = (kind.clone(), if namespaced { namespace } else { String::new() }, name.clone());
        if let Some(first) = self.seen.get(&key) {
            let message = format!("declared twice: also in {first}");
            self.error(&origin, Some(&object), None, message);
            return;
        }
        self.seen.insert(key, origin.clone());
        let world = &mut self.loaded.world;
        let added = match kind.as_str() {
            "Partner" => typed::<Partner>(&value).map(|o| world.partners.push(o)),
            "ServiceTier" => typed::<ServiceTier>(&value).map(|o| world.tiers.push(o)),
            "Tenant" => typed::<Tenant>(&value).map(|o| world.tenants.push(o)),
            "Workflow" => typed::<Workflow>(&value).map(|o| world.workflows.push(o)),
            "GovernancePolicy" => typed::<GovernancePolicy>(&value).map(|o| world.policies.push(o)),
            "Approval" => typed::<Approval>(&value).map(|o| world.approvals.push(o)),
            // Bills written earlier: a closed one is final, and the plan leaves its month alone.
            "BillingRecord" => typed::<BillingRecord>(&value).map(|o| world.billing_records.push(o)),
            other => Err((String::from("kind"), format!("'{other}' is not a tenantry kind"))),
        };
        if let Err((field, message)) = added {
            self.error(&origin, Some(&object), Some(&field), message);
        }
    }
}

/// Deserializes a tenantry object, naming the field of the first error and refusing fields
/// the type does not know (the API server would silently drop them: a typo would be lost).
fn typed<K: DeserializeOwned>(value: &Value) -> Result<K, (String, String)> {
    let mut unknown = Vec::new();
    let object: K = serde_path_to_error::deserialize(serde_ignored::Deserializer::new(value.clone(), &mut |path| {
        unknown.push(path.to_string())
    }))
    .map_err(|e| (e.path().to_string(), e.inner().to_string()))?;
    // The derived types read apiVersion and kind through the type itself, not as fields.
    unknown.retain(|path| path != "apiVersion" && path != "kind");
    match unknown.first() {
        Some(field) => Err((field.clone(), "unknown field; check its spelling against `kubectl explain`".into())),
        None => Ok(object),
    }
}
