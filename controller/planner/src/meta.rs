//! What children of different owners share: owner references, and the name of the object one
//! owner's children create and another's refer to (the runner ServiceAccount).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube_core::Resource;

/// Name of the runner ServiceAccount in every tenant namespace: the tenant creates it, its
/// workflows' pods run as it.
pub const RUNNER_SERVICE_ACCOUNT: &str = "tenantry-runner";

/// An owner reference to `owner`, when it has a UID: only objects read from the API server
/// have one, so an offline plan carries none.
pub fn owner_reference<K: Resource<DynamicType = ()>>(owner: &K) -> Option<Vec<OwnerReference>> {
    owner.controller_owner_ref(&()).map(|mut reference| {
        reference.block_owner_deletion = Some(true);
        vec![reference]
    })
}
