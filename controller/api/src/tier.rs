//! ServiceTier: what a client buys: capabilities, allowed workflow categories, limits,
//! pricing and service levels.

use super::common::{Condition, ResourceAmounts, WorkflowCategory};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A package a partner sells to its clients.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "tenantry.dev",
    version = "v1alpha1",
    kind = "ServiceTier",
    plural = "servicetiers",
    shortname = "tier",
    category = "tenantry",
    status = "ServiceTierStatus",
    doc = "A service tier a partner sells: capabilities, allowed workflow categories, limits, pricing and SLA.",
    printcolumn(name = "Partner", type_ = "string", json_path = ".spec.partnerRef"),
    printcolumn(name = "Level", type_ = "integer", json_path = ".spec.level"),
    printcolumn(name = "Max Workflows", type_ = "integer", json_path = ".spec.limits.maxWorkflows"),
    printcolumn(name = "Base Fee", type_ = "integer", json_path = ".spec.pricing.monthlyBaseFee"),
    printcolumn(name = "Tenants", type_ = "integer", json_path = ".status.tenants"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct ServiceTierSpec {
    /// Name of the Partner that sells this tier. Tier names are unique fleet-wide.
    #[schemars(length(min = 1, max = 253))]
    pub partner_ref: String,
    /// Name shown to clients (`Managed AI Operations`).
    #[schemars(length(min = 1, max = 128))]
    pub display_name: String,
    /// Ordinal rank among the partner's tiers: moving to a higher level is expansion, to a lower one contraction.
    #[schemars(range(min = 0, max = 100))]
    pub level: i32,
    /// What the tier includes.
    #[serde(default)]
    #[schemars(length(max = 12), extend("x-kubernetes-list-type" = "set"))]
    pub capabilities: Vec<Capability>,
    /// Categories of workflow a tenant on this tier may run.
    #[schemars(length(max = 5), extend("x-kubernetes-list-type" = "set"))]
    pub workflow_categories: Vec<WorkflowCategory>,
    /// Caps on what a tenant on this tier may run.
    pub limits: TierLimits,
    /// Prices in integer minor units of the partner's currency. Users are unlimited: there is no per-seat price.
    pub pricing: TierPricing,
    /// Service levels the partner commits to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla: Option<TierSla>,
}

/// A capability a tier can include.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Capability {
    /// Runs workflows.
    WorkflowAutomation,
    /// Watches workflow health.
    Monitoring,
    /// Alerts on failures.
    Alerting,
    /// A monthly report.
    MonthlyReporting,
    /// AI steps in workflows.
    AiOrchestration,
    /// Managed handling of exceptions.
    ExceptionHandling,
    /// Alerts predicted before they happen.
    PredictiveAlerts,
    /// SLA tracking and review.
    SlaOversight,
    /// Dashboards for executives.
    ExecutiveDashboards,
    /// KPI analytics.
    KpiAnalytics,
    /// Periodic governance reviews.
    GovernanceReviews,
    /// Recommendations for optimisation.
    OptimizationRecommendations,
}

/// Caps on what a tenant on the tier may run.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TierLimits {
    /// Most workflows that run at once; the oldest keep running, newer ones are held.
    #[schemars(range(min = 0, max = 10000))]
    pub max_workflows: i32,
    /// Most connected systems a tenant may declare.
    #[schemars(range(min = 0, max = 1000))]
    pub max_connected_systems: i32,
    /// ResourceQuota of the tenant namespace.
    pub namespace_quota: NamespaceQuota,
    /// Resources of a workflow container that asks for none.
    pub default_container: ResourceAmounts,
    /// Most a workflow container may ask for; larger requests are capped.
    pub max_container: ResourceAmounts,
}

/// Totals the tenant namespace may use.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceQuota {
    /// Total CPU requested and limited in the namespace.
    pub cpu: Quantity,
    /// Total memory requested and limited in the namespace.
    pub memory: Quantity,
    /// Most pods in the namespace.
    #[schemars(range(min = 1, max = 100000))]
    pub pods: i32,
}

/// Prices in integer minor units of the partner's currency.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TierPricing {
    /// Monthly fee of the tier itself.
    #[schemars(range(min = 0))]
    pub monthly_base_fee: i64,
    /// Monthly fee for each workflow that runs.
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub monthly_fee_per_active_workflow: i64,
    /// Workflow runs included each month.
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub included_runs_per_month: i64,
    /// Price of each 1,000 runs beyond those included.
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub price_per_thousand_extra_runs: i64,
}

/// How often the partner reports to the client.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ReportingCadence {
    /// Every week.
    Weekly,
    /// Every month.
    Monthly,
    /// Every quarter.
    Quarterly,
}

/// Service levels of a tier.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TierSla {
    /// Availability target as a percentage with up to three decimals (`99.9`).
    #[schemars(regex(pattern = r"^(100|[1-9]?[0-9])(\.[0-9]{1,3})?$"))]
    pub availability_target: String,
    /// Minutes within which an exception gets a human response.
    #[schemars(range(min = 1, max = 10080))]
    pub exception_response_minutes: i32,
    /// How often the partner reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporting_cadence: Option<ReportingCadence>,
    /// Service credits for a month that ends below the target: each band's `creditPercent`
    /// of the month's platform fee when the tenant's attainment ends below its
    /// `belowPercent`; the worst band reached applies. Bands run from the highest threshold
    /// down, each lower than the one before and with a larger credit (docs/sla.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 10), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["belowPercent"]))]
    pub credit_bands: Vec<CreditBand>,
}

/// One service-credit band of a tier.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreditBand {
    /// The band applies when the month's attainment ends below this percentage (up to three
    /// decimals, `99.5`).
    #[schemars(regex(pattern = r"^(100|[1-9]?[0-9])(\.[0-9]{1,3})?$"))]
    pub below_percent: String,
    /// Credit, in whole percent of the month's platform fee.
    #[schemars(range(min = 1, max = 100))]
    pub credit_percent: i32,
}

/// What the operator observes about a tier.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceTierStatus {
    /// The `metadata.generation` this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Number of tenants on this tier.
    #[serde(default)]
    pub tenants: i32,
    /// Ready, Reconciling and Stalled, as kstatus reads them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}
