//! Approval: an approver's record that lets one generation of a workflow through.

use super::common::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An approver's consent to deploy one generation of a workflow. Who may create it is
/// enforced by the RBAC the operator generates from governance; who created it is checked by
/// the admission policy the chart ships (`spec.approver` must be the requesting user), and
/// the spec never changes after creation, so an approval cannot be forged or reworded.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[kube(
    group = "tenantry.dev",
    version = "v1alpha1",
    kind = "Approval",
    plural = "approvals",
    shortname = "tappr",
    category = "tenantry",
    namespaced,
    status = "ApprovalStatus",
    doc = "An approver's consent to deploy one generation of a workflow, optionally through a change freeze.",
    printcolumn(name = "Workflow", type_ = "string", json_path = ".spec.workflow"),
    printcolumn(name = "Generation", type_ = "integer", json_path = ".spec.generation"),
    printcolumn(name = "Approver", type_ = "string", json_path = ".spec.approver.user"),
    printcolumn(name = "Emergency", type_ = "boolean", json_path = ".spec.emergency"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalSpec {
    /// Name of the workflow in this namespace.
    #[schemars(length(min = 1, max = 253))]
    pub workflow: String,
    /// The workflow's `metadata.generation` being approved.
    #[schemars(range(min = 1))]
    pub generation: i64,
    /// Why the approver agrees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub comment: Option<String>,
    /// Lets the change through an active change freeze.
    #[serde(default)]
    pub emergency: bool,
    /// Who approves: must be the user creating the Approval, as the API server authenticated
    /// them (the chart's ValidatingAdmissionPolicy refuses anything else).
    pub approver: Approver,
}

/// The person (or service account) behind an approval, as the API server knows them.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Approver {
    /// The approver's user name (`request.userInfo.username`; a service account is
    /// `system:serviceaccount:<namespace>:<name>`).
    #[schemars(length(min = 1, max = 253))]
    pub user: String,
    /// Groups the approver approves as; each must be one of the user's groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), inner(length(min = 1, max = 253)), extend("x-kubernetes-list-type" = "set"))]
    pub groups: Vec<String>,
}

/// What the operator observes about an approval.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalStatus {
    /// The `metadata.generation` this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Reconciling and Stalled, as kstatus reads them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}
