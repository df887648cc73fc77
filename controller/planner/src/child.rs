//! The objects the planner wants to exist, as typed Kubernetes objects, with the owner each
//! belongs to so the live controller can apply, attribute and prune them.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{ConfigMap, LimitRange, Namespace, ResourceQuota, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::RoleBinding;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::Resource;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The tenantry object a child belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "kind")]
pub enum OwnerKey {
    /// A Tenant, by name.
    Tenant {
        /// Tenant name.
        name: String,
    },
    /// A Workflow, by namespace and name.
    Workflow {
        /// Namespace of the workflow.
        namespace: String,
        /// Workflow name.
        name: String,
    },
}

impl std::fmt::Display for OwnerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OwnerKey::Tenant { name } => write!(f, "Tenant/{name}"),
            OwnerKey::Workflow { namespace, name } => write!(f, "Workflow/{namespace}/{name}"),
        }
    }
}

/// One desired object of a kind tenantry manages. The workloads are held as compact JSON
/// ([`Compact`]): typed, they are ten times larger than the rest.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ChildObject {
    /// The tenant namespace.
    Namespace(Namespace),
    /// The runner's identity.
    ServiceAccount(ServiceAccount),
    /// A tenantry role granted by governance to people in the tenant namespace.
    RoleBinding(RoleBinding),
    /// Totals the namespace may use.
    ResourceQuota(ResourceQuota),
    /// Per-container defaults and maximums.
    LimitRange(LimitRange),
    /// Isolation from other tenants.
    NetworkPolicy(NetworkPolicy),
    /// Branding or a workflow definition.
    ConfigMap(ConfigMap),
    /// A continuous or event-driven workflow.
    Deployment(Compact<Deployment>),
    /// A scheduled workflow.
    CronJob(Compact<CronJob>),
}

/// The kinds of [`ChildObject`], in the order they are applied: namespaces first, then what
/// pods need, then the workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChildKind {
    /// `v1/Namespace`
    Namespace,
    /// `v1/ServiceAccount`
    ServiceAccount,
    /// `rbac.authorization.k8s.io/v1/RoleBinding`
    RoleBinding,
    /// `v1/ResourceQuota`
    ResourceQuota,
    /// `v1/LimitRange`
    LimitRange,
    /// `networking.k8s.io/v1/NetworkPolicy`
    NetworkPolicy,
    /// `v1/ConfigMap`
    ConfigMap,
    /// `apps/v1/Deployment`
    Deployment,
    /// `batch/v1/CronJob`
    CronJob,
}

impl ChildKind {
    /// Every kind, in apply order.
    pub const ALL: [ChildKind; 9] = [
        ChildKind::Namespace,
        ChildKind::ServiceAccount,
        ChildKind::RoleBinding,
        ChildKind::ResourceQuota,
        ChildKind::LimitRange,
        ChildKind::NetworkPolicy,
        ChildKind::ConfigMap,
        ChildKind::Deployment,
        ChildKind::CronJob,
    ];

    /// The Kubernetes kind name.
    pub fn name(self) -> &'static str {
        match self {
            ChildKind::Namespace => Namespace::KIND,
            ChildKind::ServiceAccount => ServiceAccount::KIND,
            ChildKind::RoleBinding => RoleBinding::KIND,
            ChildKind::ResourceQuota => ResourceQuota::KIND,
            ChildKind::LimitRange => LimitRange::KIND,
            ChildKind::NetworkPolicy => NetworkPolicy::KIND,
            ChildKind::ConfigMap => ConfigMap::KIND,
            ChildKind::Deployment => Deployment::KIND,
            ChildKind::CronJob => CronJob::KIND,
        }
    }
}

impl ChildObject {
    /// The object's metadata.
    pub fn meta(&self) -> &ObjectMeta {
        match self {
            ChildObject::Namespace(o) => &o.metadata,
            ChildObject::ServiceAccount(o) => &o.metadata,
            ChildObject::RoleBinding(o) => &o.metadata,
            ChildObject::ResourceQuota(o) => &o.metadata,
            ChildObject::LimitRange(o) => &o.metadata,
            ChildObject::NetworkPolicy(o) => &o.metadata,
            ChildObject::ConfigMap(o) => &o.metadata,
            ChildObject::Deployment(o) => o.metadata(),
            ChildObject::CronJob(o) => o.metadata(),
        }
    }

    /// The object's kind.
    pub fn kind(&self) -> ChildKind {
        match self {
            ChildObject::Namespace(_) => ChildKind::Namespace,
            ChildObject::ServiceAccount(_) => ChildKind::ServiceAccount,
            ChildObject::RoleBinding(_) => ChildKind::RoleBinding,
            ChildObject::ResourceQuota(_) => ChildKind::ResourceQuota,
            ChildObject::LimitRange(_) => ChildKind::LimitRange,
            ChildObject::NetworkPolicy(_) => ChildKind::NetworkPolicy,
            ChildObject::ConfigMap(_) => ChildKind::ConfigMap,
            ChildObject::Deployment(_) => ChildKind::Deployment,
            ChildObject::CronJob(_) => ChildKind::CronJob,
        }
    }

    /// The object as JSON, `apiVersion` and `kind` included, ready for server-side apply.
    pub fn to_manifest(&self) -> Result<serde_json::Value, serde_json::Error> {
        match self {
            ChildObject::Deployment(o) => o.to_value(),
            ChildObject::CronJob(o) => o.to_value(),
            other => serde_json::to_value(other),
        }
    }
}

/// A workload kept as its JSON text. k8s-openapi's types hold every optional field inline (a
/// `Volume` is 3 KB, a `Container` 2 KB, empty or not), so a typed Deployment of four volumes
/// takes about 24 KB of memory for 2 KB of JSON, and a fleet's plan holds tens of thousands
/// of them. The metadata stays typed: pruning, ordering and attribution read it.
#[derive(Clone, PartialEq)]
pub struct Compact<K> {
    metadata: ObjectMeta,
    stored: Stored<K>,
}

#[derive(Clone, PartialEq)]
enum Stored<K> {
    Json(Box<str>),
    /// Kept typed only if it could not be written as JSON (a map with a key that is not a
    /// string: never for the types we build); nothing is lost either way.
    Typed(Box<K>),
}

impl<K: Serialize + DeserializeOwned + Clone + k8s_openapi::Metadata<Ty = ObjectMeta>> Compact<K> {
    /// Stores `object` compactly.
    pub fn new(object: K) -> Self {
        let metadata = object.metadata().clone();
        let stored = match serde_json::to_string(&object) {
            Ok(json) => Stored::Json(json.into_boxed_str()),
            Err(_) => Stored::Typed(Box::new(object)),
        };
        Compact { metadata, stored }
    }

    /// The object's metadata.
    pub fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }

    /// The typed object, read back.
    pub fn decode(&self) -> Result<K, serde_json::Error> {
        match &self.stored {
            Stored::Json(json) => serde_json::from_str(json),
            Stored::Typed(object) => Ok(object.as_ref().clone()),
        }
    }

    fn to_value(&self) -> Result<serde_json::Value, serde_json::Error> {
        match &self.stored {
            Stored::Json(json) => serde_json::from_str(json),
            Stored::Typed(object) => serde_json::to_value(object),
        }
    }
}

impl<K: Serialize + DeserializeOwned + Clone + k8s_openapi::Metadata<Ty = ObjectMeta>> Serialize for Compact<K> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.decode().map_err(serde::ser::Error::custom)?.serialize(serializer)
    }
}

impl<K> std::fmt::Debug for Compact<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.stored {
            Stored::Json(json) => f.write_str(json),
            Stored::Typed(_) => f.debug_struct("Compact").field("metadata", &self.metadata).finish_non_exhaustive(),
        }
    }
}

/// A desired object and the tenantry object it belongs to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Child {
    /// The owner, for pruning and for reporting errors on the right status.
    pub owner: OwnerKey,
    /// The object to apply.
    pub object: ChildObject,
}

impl Child {
    /// Apply order: kind, then namespace, then name.
    pub fn apply_order(&self, other: &Child) -> std::cmp::Ordering {
        self.order_key().cmp(&other.order_key())
    }

    fn order_key(&self) -> (ChildKind, &str, &str) {
        let meta = self.object.meta();
        (self.object.kind(), meta.namespace.as_deref().unwrap_or_default(), meta.name.as_deref().unwrap_or_default())
    }
}
