//! A managed child as the caches keep it: what names it typed, everything else as JSON text.
//!
//! A watched object held as a `serde_json::Value` tree costs several times its JSON text (a
//! node per field, a map per object, a string per key), and typed metadata twice its text
//! (a map of labels, a string each); the caches hold every child of every tenant, about 16 a
//! tenant, 160,000 at 10,000 tenants. As text, a child costs about what the API server sent;
//! it is read back only when its tenant is planned or its workload's state is needed.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::DynamicObject;
use kube::core::{ApiResource, DynamicResourceScope, TypeMeta};
use kube::Resource;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// A managed child, stored compactly. Converted from and back to a [`DynamicObject`] with
/// nothing lost.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredChild {
    /// The object's `apiVersion` and `kind`, when the API server sent them.
    types: Option<TypeMeta>,
    /// What names it (name, namespace, UID, resourceVersion, generation, deletion): all
    /// that [`Resource::meta`] shows. Labels, annotations and owners are in
    /// [`metadata`](Self::metadata).
    identity: ObjectMeta,
    /// The rest of its metadata as a JSON object's text.
    metadata: Box<str>,
    /// Every top-level field but `apiVersion`, `kind`, `metadata` and `status`, as a JSON
    /// object's text: what drift is judged on.
    body: Box<str>,
    /// The `status` field's JSON text, if it has one.
    status: Option<Box<str>>,
}

impl From<DynamicObject> for StoredChild {
    fn from(object: DynamicObject) -> Self {
        let DynamicObject { types, mut metadata, data } = object;
        let identity = ObjectMeta {
            name: metadata.name.take(),
            namespace: metadata.namespace.take(),
            uid: metadata.uid.take(),
            resource_version: metadata.resource_version.take(),
            generation: metadata.generation.take(),
            deletion_timestamp: metadata.deletion_timestamp.take(),
            ..ObjectMeta::default()
        };
        let metadata = serde_json::to_string(&metadata).unwrap_or_else(|_| "{}".into()).into_boxed_str();
        let (body, status) = match data {
            Value::Object(mut fields) => {
                let status = fields.remove("status").map(|status| status.to_string().into_boxed_str());
                (Value::Object(fields).to_string().into_boxed_str(), status)
            }
            // A watched object's data is always a JSON object; anything else is kept as is.
            other => (other.to_string().into_boxed_str(), None),
        };
        StoredChild { types, identity, metadata, body, status }
    }
}

impl StoredChild {
    /// The object's fields but `metadata` (its spec, data, rules…, and its status), parsed
    /// again from the stored text.
    pub fn data(&self) -> Value {
        let mut data = parse(&self.body);
        if let (Value::Object(fields), Some(status)) = (&mut data, &self.status) {
            fields.insert("status".into(), parse(status));
        }
        data
    }

    /// The object's whole metadata, parsed again from the stored text.
    pub fn metadata(&self) -> ObjectMeta {
        let mut metadata: ObjectMeta = serde_json::from_str(&self.metadata).unwrap_or_default();
        let identity = self.identity.clone();
        metadata.name = identity.name;
        metadata.namespace = identity.namespace;
        metadata.uid = identity.uid;
        metadata.resource_version = identity.resource_version;
        metadata.generation = identity.generation;
        metadata.deletion_timestamp = identity.deletion_timestamp;
        metadata
    }

    /// The object as the watch delivered it.
    pub fn to_dynamic(&self) -> DynamicObject {
        DynamicObject { types: self.types.clone(), metadata: self.metadata(), data: self.data() }
    }

    /// The JSON text of every field drift is judged on (all but metadata and status): equal
    /// texts are equal fields.
    pub fn body_text(&self) -> &str {
        &self.body
    }

    /// The JSON text of its metadata but what names it (labels, annotations, owners,
    /// finalizers, creation time): equal texts are equal fields.
    pub fn metadata_text(&self) -> &str {
        &self.metadata
    }
}

/// Parses text this module wrote; it was a JSON value, so it parses again.
fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::Object(Map::new()))
}

impl Resource for StoredChild {
    type DynamicType = ApiResource;
    type Scope = DynamicResourceScope;

    fn group(resource: &ApiResource) -> Cow<'_, str> {
        resource.group.as_str().into()
    }

    fn version(resource: &ApiResource) -> Cow<'_, str> {
        resource.version.as_str().into()
    }

    fn kind(resource: &ApiResource) -> Cow<'_, str> {
        resource.kind.as_str().into()
    }

    fn api_version(resource: &ApiResource) -> Cow<'_, str> {
        resource.api_version.as_str().into()
    }

    fn plural(resource: &ApiResource) -> Cow<'_, str> {
        resource.plural.as_str().into()
    }

    /// Only what names the object: read its labels, annotations and owners through
    /// [`StoredChild::metadata`].
    fn meta(&self) -> &ObjectMeta {
        &self.identity
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.identity
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": { "name": "runner", "namespace": "shop", "labels": { "a": "b" }, "uid": "u-1" },
            "spec": { "replicas": 2, "template": { "spec": { "containers": [{ "name": "c", "image": "i" }] } } },
            "status": { "availableReplicas": 2, "conditions": [{ "type": "Available", "status": "True" }] }
        }))
        .unwrap_or_else(|e| panic!("a deployment: {e}"))
    }

    #[test]
    fn a_stored_child_gives_back_the_object_it_was_made_of() {
        let object = deployment();
        let stored = StoredChild::from(object.clone());
        assert_eq!(stored.to_dynamic(), object);
        assert_eq!(stored.meta().name.as_deref(), Some("runner"));
        assert_eq!(stored.metadata(), object.metadata, "labels and all come back");
        assert!(stored.meta().labels.is_none(), "what is typed names the object, no more");
        assert_eq!(stored.data()["status"]["availableReplicas"], 2);
    }

    #[test]
    fn the_body_leaves_out_the_status_so_status_churn_leaves_it_alone() {
        let object = deployment();
        let mut churned = object.clone();
        churned.data["status"]["availableReplicas"] = json!(1);
        assert_eq!(StoredChild::from(object.clone()).body_text(), StoredChild::from(churned).body_text());
        let mut edited = object;
        edited.data["spec"]["replicas"] = json!(3);
        assert_ne!(StoredChild::from(deployment()).body_text(), StoredChild::from(edited).body_text());
    }

    #[test]
    fn an_object_without_a_status_has_none() {
        let mut object = deployment();
        if let Some(fields) = object.data.as_object_mut() {
            fields.remove("status");
        }
        let stored = StoredChild::from(object.clone());
        assert_eq!(stored.to_dynamic(), object);
        assert!(stored.data().get("status").is_none());
    }
}
