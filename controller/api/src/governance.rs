//! GovernancePolicy: who may change what, when, and under which controls, for the tenants a
//! label selector picks.

use super::common::{Condition, WorkflowCategory};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Controls that apply to the tenants a selector picks. Where several policies match a
/// tenant, the strictest wins.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "tenantry.dev",
    version = "v1alpha1",
    kind = "GovernancePolicy",
    plural = "governancepolicies",
    shortname = "gpol",
    category = "tenantry",
    status = "GovernancePolicyStatus",
    doc = "Approvals, change freezes, allowed regions and registries, AI review thresholds and RBAC for the tenants it selects.",
    printcolumn(name = "Partner", type_ = "string", json_path = ".spec.partnerRef"),
    printcolumn(name = "Tenants", type_ = "integer", json_path = ".status.matchedTenants"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct GovernancePolicySpec {
    /// Tenants the policy applies to, by their labels; an empty selector picks every tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_selector: Option<LabelSelector>,
    /// Restricts the policy to the tenants of one partner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub partner_ref: Option<String>,
    /// Approvals a workflow change needs before it is deployed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub approvals: Vec<ApprovalRule>,
    /// Windows in which no workflow change is deployed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub change_freezes: Vec<ChangeFreeze>,
    /// Regions tenants may be in; empty allows every region.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(min = 1, max = 63)), extend("x-kubernetes-list-type" = "set"))]
    pub allowed_regions: Vec<String>,
    /// Registries (`registry.example.com/tenantry`) runner images may come from; empty allows every registry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(min = 1, max = 253)), extend("x-kubernetes-list-type" = "set"))]
    pub allowed_image_registries: Vec<String>,
    /// Controls on AI steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ai: Option<AiPolicy>,
    /// Who is told when something needs a human.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<Escalation>,
    /// Subjects bound to tenantry roles in each matched tenant namespace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub rbac: Vec<RoleGrant>,
    /// How long decisions are kept for audit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditSettings>,
}

/// Approvals required for changes to workflows of some categories.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRule {
    /// Categories the rule covers; empty covers every category.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 5), extend("x-kubernetes-list-type" = "set"))]
    pub categories: Vec<WorkflowCategory>,
    /// Who may approve.
    #[schemars(length(min = 1, max = 64))]
    pub approvers: Vec<Subject>,
    /// How many distinct approvals a change needs.
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 10))]
    pub min_approvals: i32,
}

fn one() -> i32 {
    1
}

/// A named window in which changes wait. Exactly one of `window` or `monthEnd` is set.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeFreeze {
    /// Name of the freeze (`black-friday`, `month-end-close`).
    #[schemars(length(min = 1, max = 63), regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub name: String,
    /// An absolute window, such as a promotion period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<FreezeWindow>,
    /// A window that recurs around every month end, for the finance close.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub month_end: Option<MonthEndFreeze>,
    /// Categories the freeze holds; empty holds every category.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 5), extend("x-kubernetes-list-type" = "set"))]
    pub categories: Vec<WorkflowCategory>,
}

/// An absolute window.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FreezeWindow {
    /// Start of the window (RFC 3339).
    #[schemars(extend("format" = "date-time"))]
    pub start: String,
    /// End of the window (RFC 3339), after `start`.
    #[schemars(extend("format" = "date-time"))]
    pub end: String,
}

/// A freeze around each month end, in UTC days.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonthEndFreeze {
    /// Last days of each month that are frozen.
    #[schemars(range(min = 0, max = 15))]
    pub days_before: i32,
    /// First days of the next month that are frozen.
    #[schemars(range(min = 0, max = 15))]
    pub days_after: i32,
}

/// Controls on AI steps.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AiPolicy {
    /// AI decisions with a confidence below this percentage need human review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub human_review_below_percent: Option<i32>,
    /// Models AI steps may use; empty allows every model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(min = 1, max = 128)), extend("x-kubernetes-list-type" = "set"))]
    pub allowed_models: Vec<String>,
}

/// Who is told when something needs a human.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Escalation {
    /// Contacts, by e-mail address or on-call handle.
    #[schemars(length(max = 32), inner(length(min = 1, max = 254)))]
    pub contacts: Vec<String>,
}

/// A tenantry role in a tenant namespace.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum TenantRole {
    /// Reads workflows, their workloads and approvals.
    Viewer,
    /// Edits workflows.
    Operator,
    /// Creates approvals.
    Approver,
}

/// Subjects bound to one role.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleGrant {
    /// The role granted.
    pub role: TenantRole,
    /// Who gets it.
    #[schemars(length(min = 1, max = 64))]
    pub subjects: Vec<Subject>,
}

/// The kind of an RBAC subject.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema)]
pub enum SubjectKind {
    /// A user known to the API server's authenticator.
    User,
    /// A group known to the API server's authenticator.
    Group,
    /// A Kubernetes ServiceAccount.
    ServiceAccount,
}

/// A user, group or service account.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Subject {
    /// Kind of subject.
    pub kind: SubjectKind,
    /// Name of the subject.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of a ServiceAccount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub namespace: Option<String>,
}

/// How long decisions are kept for audit.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditSettings {
    /// Days decisions are kept.
    #[schemars(range(min = 1, max = 3650))]
    pub retention_days: i32,
}

/// What the operator observes about a policy.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GovernancePolicyStatus {
    /// The `metadata.generation` this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Number of tenants the policy selects.
    #[serde(default)]
    pub matched_tenants: i32,
    /// The first tenants it selects, by name (at most 50; `matchedTenants` counts them all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50))]
    pub tenants: Vec<String>,
    /// Ready, Reconciling and Stalled, as kstatus reads them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}
