//! Types shared by several kinds: conditions in the standard Kubernetes shape, container
//! resource amounts and secret references.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// API group of every tenantry kind.
pub const GROUP: &str = "tenantry.dev";
/// API version of every tenantry kind.
pub const VERSION: &str = "v1alpha1";

/// Whether a condition holds, as Kubernetes spells it.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// The operator cannot tell yet.
    Unknown,
}

/// One observation about an object, in the shape `kubectl wait`, kstatus, Flux and Argo CD read.
///
/// The list that holds conditions is a map keyed by `type`; `lastTransitionTime` moves only
/// when `status` flips.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Kind of observation: Ready, Reconciling, Stalled, or a kind-specific type.
    #[serde(rename = "type")]
    #[schemars(length(min = 1, max = 316))]
    pub type_: String,
    /// Whether the condition holds: True, False or Unknown.
    #[schemars(extend("maxLength" = 8))]
    pub status: ConditionStatus,
    /// Machine-readable CamelCase reason for the last transition, such as TierDisallowsCategory.
    #[schemars(length(min = 1, max = 1024), regex(pattern = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"))]
    pub reason: String,
    /// Human-readable explanation naming the object or field at fault.
    #[schemars(length(max = 32768))]
    pub message: String,
    /// When `status` last changed (RFC 3339, UTC).
    #[schemars(length(max = 64), extend("format" = "date-time"))]
    pub last_transition_time: String,
    /// The `metadata.generation` this condition was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub observed_generation: Option<i64>,
}

/// CPU and memory for one container (Kubernetes quantities such as `250m` or `512Mi`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceAmounts {
    /// CPU, in cores or millicores (`500m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Quantity>,
    /// Memory, in bytes with a binary or decimal suffix (`512Mi`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Quantity>,
}

/// A reference to a Secret in the tenant's own namespace. The operator only ever references
/// it from workloads; it never reads or copies the Secret's data.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretReference {
    /// Name of the Secret in the tenant namespace.
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"))]
    pub name: String,
}

/// The five families of automation a workflow can belong to.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum WorkflowCategory {
    /// Order capture, validation, fraud review, fulfilment and invoicing.
    OrderToCash,
    /// Stock thresholds, replenishment and purchase orders.
    InventoryProcurement,
    /// Returns authorisation, refunds and customer service.
    ReturnsService,
    /// Reconciliation, tax validation and close.
    FinanceCompliance,
    /// KPI digests, anomaly detection and reporting.
    OperationalIntelligence,
}

impl WorkflowCategory {
    /// Every category, in declaration order.
    pub const ALL: [WorkflowCategory; 5] = [
        WorkflowCategory::OrderToCash,
        WorkflowCategory::InventoryProcurement,
        WorkflowCategory::ReturnsService,
        WorkflowCategory::FinanceCompliance,
        WorkflowCategory::OperationalIntelligence,
    ];

    /// The name as written in YAML (`orderToCash`).
    pub fn as_str(self) -> &'static str {
        match self {
            WorkflowCategory::OrderToCash => "orderToCash",
            WorkflowCategory::InventoryProcurement => "inventoryProcurement",
            WorkflowCategory::ReturnsService => "returnsService",
            WorkflowCategory::FinanceCompliance => "financeCompliance",
            WorkflowCategory::OperationalIntelligence => "operationalIntelligence",
        }
    }
}

impl std::fmt::Display for WorkflowCategory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
