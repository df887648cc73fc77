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
use std::collections::HashMap;
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

/// Reads every `.yaml` and `.yml` file under `dir` (hidden directories excepted), every
/// document in each. Returns all input errors at once, never only the first.
///
/// Files are read, parsed and checked on every available core (a GitOps repository of
/// 10,000 tenants is 60,000 files); the documents are then taken in file order, so the
/// result, duplicates and errors included, is the same as reading them one by one.
pub fn load_dir(dir: &Path) -> Result<Loaded, Vec<InputError>> {
    let files = yaml_files(dir).map_err(|e| {
        vec![InputError {
            origin: Origin { file: dir.to_path_buf(), document: 0 },
            object: None,
            field: None,
            message: format!("cannot read directory: {e}"),
        }]
    })?;
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let chunk = files.len().div_ceil(workers).max(1);
    let read: Vec<Vec<Document>> = std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|files| scope.spawn(move || files.iter().map(read_file).collect::<Vec<Vec<Document>>>()))
            .collect();
        // A worker only panics on a bug; carry its panic on rather than lose its files.
        handles
            .into_iter()
            .flat_map(|handle| handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    });
    let mut loader = Loader::default();
    for document in read.into_iter().flatten() {
        loader.add(document);
    }
    loader.finish()
}

/// Reads documents from YAML text, as if from `file`; used by `load_dir` and by tests.
pub fn load_text(file: &Path, text: &str) -> Result<Loaded, Vec<InputError>> {
    let mut loader = Loader::default();
    for document in read_text(file, text, &mut schema::Checker::default()) {
        loader.add(document);
    }
    loader.finish()
}

fn yaml_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current)? {
            let entry = entry?;
            let path = entry.path();
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

/// What one document turned out to be, before it meets the others.
enum Document {
    /// A tenantry object that passed its schema and decoded.
    Object { origin: Origin, key: (String, String, String), object: Box<Object> },
    /// Not a tenantry object.
    Skipped(Skipped),
    /// Everything wrong with it.
    Invalid(Vec<InputError>),
}

/// A decoded tenantry object of any kind.
enum Object {
    Partner(Partner),
    ServiceTier(ServiceTier),
    Tenant(Tenant),
    Workflow(Workflow),
    GovernancePolicy(GovernancePolicy),
    Approval(Approval),
    BillingRecord(BillingRecord),
}

/// Every document of one file; a file that cannot be read is one invalid document.
fn read_file(file: &PathBuf) -> Vec<Document> {
    thread_local! {
        static CHECKER: std::cell::RefCell<schema::Checker> = std::cell::RefCell::new(schema::Checker::default());
    }
    match std::fs::read_to_string(file) {
        Ok(text) => CHECKER.with_borrow_mut(|checker| read_text(file, &text, checker)),
        Err(e) => vec![Document::Invalid(vec![InputError {
            origin: Origin { file: file.clone(), document: 0 },
            object: None,
            field: None,
            message: format!("cannot read file: {e}"),
        }])],
    }
}

/// Every document of YAML `text`, as if from `file`.
fn read_text(file: &Path, text: &str, checker: &mut schema::Checker) -> Vec<Document> {
    let mut documents = Vec::new();
    for (position, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let origin = Origin { file: file.to_path_buf(), document: position + 1 };
        let yaml = match serde_yaml::Value::deserialize(document) {
            Ok(yaml) => yaml,
            Err(e) => {
                documents.push(invalid(&origin, None, None, format!("not valid YAML: {e}")));
                // The parser cannot resynchronise after a syntax error.
                break;
            }
        };
        if yaml.is_null() {
            continue;
        }
        documents.push(match serde_json::to_value(yaml) {
            Ok(value) => read_value(origin, value, checker),
            Err(e) => invalid(&origin, None, None, format!("cannot be read as a Kubernetes object: {e}")),
        });
    }
    documents
}

fn invalid(origin: &Origin, object: Option<&str>, field: Option<&str>, message: String) -> Document {
    Document::Invalid(vec![InputError {
        origin: origin.clone(),
        object: object.map(str::to_string),
        field: field.map(str::to_string),
        message,
    }])
}

/// One document: its kind, its schema, then its type.
fn read_value(origin: Origin, value: Value, checker: &mut schema::Checker) -> Document {
    let text = |pointer: &str| value.pointer(pointer).and_then(Value::as_str).map(str::to_string);
    let (Some(api_version), Some(kind)) = (text("/apiVersion"), text("/kind")) else {
        return Document::Skipped(Skipped { origin, what: "not a Kubernetes object (no apiVersion or kind)".into() });
    };
    let Some(version) = api_version.strip_prefix(crate::api::common::GROUP).and_then(|v| v.strip_prefix('/')) else {
        return Document::Skipped(Skipped { origin, what: format!("{api_version}/{kind}") });
    };
    let Some((schema, namespaced)) = schemas().get(&kind).map(|(schema, namespaced)| (schema, *namespaced)) else {
        return invalid(&origin, None, Some("kind"), format!("'{kind}' is not a tenantry kind"));
    };
    let name = text("/metadata/name").unwrap_or_default();
    let object = format!("{kind}/{name}");
    if version != crate::api::common::VERSION {
        let message = format!("version '{version}' is not served; use {}", crate::api::common::VERSION);
        return invalid(&origin, Some(&object), Some("apiVersion"), message);
    }
    if name.is_empty() {
        return invalid(&origin, Some(&object), Some("metadata.name"), "is required".into());
    }
    let namespace = text("/metadata/namespace").unwrap_or_default();
    if namespaced && namespace.is_empty() {
        let message = format!("is required for a {kind}: the plan does not guess a default namespace");
        return invalid(&origin, Some(&object), Some("metadata.namespace"), message);
    }
    let violations = checker.check(schema, &value, "");
    if !violations.is_empty() {
        let errors = violations
            .into_iter()
            .map(|violation| InputError {
                origin: origin.clone(),
                object: Some(object.clone()),
                field: Some(violation.field),
                message: violation.message,
            })
            .collect();
        return Document::Invalid(errors);
    }
    let decoded = match kind.as_str() {
        "Partner" => typed(value).map(Object::Partner),
        "ServiceTier" => typed(value).map(Object::ServiceTier),
        "Tenant" => typed(value).map(Object::Tenant),
        "Workflow" => typed(value).map(Object::Workflow),
        "GovernancePolicy" => typed(value).map(Object::GovernancePolicy),
        "Approval" => typed(value).map(Object::Approval),
        // Bills written earlier: a closed one is final, and the plan leaves its month alone.
        "BillingRecord" => typed(value).map(Object::BillingRecord),
        other => Err((String::from("kind"), format!("'{other}' is not a tenantry kind"))),
    };
    match decoded {
        Ok(decoded) => {
            let key = (kind, if namespaced { namespace } else { String::new() }, name);
            Document::Object { origin, key, object: Box::new(decoded) }
        }
        Err((field, message)) => invalid(&origin, Some(&object), Some(&field), message),
    }
}

/// Puts documents together in order: the first declaration of an object wins and every
/// later one is an error.
#[derive(Default)]
struct Loader {
    loaded: Loaded,
    errors: Vec<InputError>,
    seen: HashMap<(String, String, String), Origin>,
}

impl Loader {
    fn finish(self) -> Result<Loaded, Vec<InputError>> {
        if self.errors.is_empty() {
            Ok(self.loaded)
        } else {
            Err(self.errors)
        }
    }

    fn add(&mut self, document: Document) {
        let (origin, key, object) = match document {
            Document::Object { origin, key, object } => (origin, key, object),
            Document::Skipped(skipped) => return self.loaded.skipped.push(skipped),
            Document::Invalid(errors) => return self.errors.extend(errors),
        };
        if let Some(first) = self.seen.get(&key) {
            self.errors.push(InputError {
                object: Some(format!("{}/{}", key.0, key.2)),
                field: None,
                message: format!("declared twice: also in {first}"),
                origin,
            });
            return;
        }
        self.seen.insert(key, origin);
        let world = &mut self.loaded.world;
        match *object {
            Object::Partner(o) => world.partners.push(o),
            Object::ServiceTier(o) => world.tiers.push(o),
            Object::Tenant(o) => world.tenants.push(o),
            Object::Workflow(o) => world.workflows.push(o),
            Object::GovernancePolicy(o) => world.policies.push(o),
            Object::Approval(o) => world.approvals.push(o),
            Object::BillingRecord(o) => world.billing_records.push(o),
        }
    }
}

/// Deserializes a tenantry object, naming the field of the first error and refusing fields
/// the type does not know (the API server would silently drop them: a typo would be lost).
fn typed<K: DeserializeOwned>(value: Value) -> Result<K, (String, String)> {
    let mut unknown = Vec::new();
    let object: K = serde_path_to_error::deserialize(serde_ignored::Deserializer::new(value, &mut |path| {
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
