//! Tenant: one client of a partner, on one tier, with its connected systems.

use super::common::{Condition, SecretReference};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A partner's client and the namespace its workflows run in.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "tenantry.dev",
    version = "v1alpha1",
    kind = "Tenant",
    plural = "tenants",
    shortname = "tnt",
    category = "tenantry",
    status = "TenantStatus",
    doc = "A partner's client on a service tier. Becomes a namespace with quota, limits, isolation, a runner service account and the partner's branding.",
    printcolumn(name = "Partner", type_ = "string", json_path = ".spec.partnerRef"),
    printcolumn(name = "Tier", type_ = "string", json_path = ".spec.tierRef"),
    printcolumn(name = "Namespace", type_ = "string", json_path = ".status.namespace"),
    printcolumn(name = "Workflows", type_ = "integer", json_path = ".status.workflows.total"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct TenantSpec {
    /// Name of the Partner this client buys from.
    #[schemars(length(min = 1, max = 253))]
    pub partner_ref: String,
    /// Name of the ServiceTier the client is on; it must belong to the same partner.
    #[schemars(length(min = 1, max = 253))]
    pub tier_ref: String,
    /// The client's name as the partner shows it.
    #[schemars(length(min = 1, max = 128))]
    pub display_name: String,
    /// Namespace the tenant's workloads run in. Defaults to `tenant-<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub namespace: Option<String>,
    /// Region the client's data must stay in (`eu-west-1`).
    #[schemars(length(max = 63), regex(pattern = r"^[a-z]{2}(-[a-z0-9]+){1,3}$"))]
    pub region: String,
    /// Stops every workflow of the tenant (scaled to zero, never deleted) while true.
    #[serde(default)]
    pub suspended: bool,
    /// Commercial terms of the client's contract.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<Contract>,
    /// Corrections to what the client is billed: each is one `adjustment` line on the record
    /// of its `period`, never a change to a closed record.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub billing_adjustments: Vec<BillingAdjustment>,
    /// Systems the client connects (ERP, storefronts, WMS...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 1000), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub connected_systems: Vec<ConnectedSystem>,
}

impl TenantSpec {
    /// The namespace the tenant runs in: the declared one or `tenant-<name>`.
    pub fn namespace_for(&self, tenant_name: &str) -> String {
        match &self.namespace {
            Some(namespace) => namespace.clone(),
            None => format!("tenant-{tenant_name}"),
        }
    }
}

/// A correction to a tenant's bills: a credit (negative) or a charge (positive) billed as its
/// own line on the record of `period`. A closed month is corrected this way, in a later
/// month's record, because a closed record is never rewritten.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BillingAdjustment {
    /// Unique within the tenant (`goodwill-2026-10-outage`); named on the line.
    #[schemars(length(min = 1, max = 63), regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub name: String,
    /// The month (`2026-11`, UTC) whose record carries the line: one not closed yet.
    #[schemars(regex(pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$"))]
    pub period: String,
    /// Amount in minor units of the partner's currency: negative credits the client.
    #[schemars(range(min = -1_000_000_000_000i64, max = 1_000_000_000_000i64))]
    pub amount: i64,
    /// Why, as the invoice line says it.
    #[schemars(length(min = 1, max = 256))]
    pub description: String,
    /// The closed month it corrects (`2026-10`), if any: said on the line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$"))]
    pub corrects: Option<String>,
}

/// Commercial terms of a tenant's contract.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Contract {
    /// First day of the contract (`YYYY-MM-DD`).
    #[schemars(regex(pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"))]
    pub start_date: String,
    /// Length of the contract in months.
    #[schemars(range(min = 1, max = 120))]
    pub term_months: i32,
    /// Discount on every fee, in whole percent.
    #[serde(default)]
    #[schemars(range(min = 0, max = 100))]
    pub discount_percent: i32,
}

/// The kind of a connected system.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SystemType {
    /// Enterprise resource planning.
    Erp,
    /// An online shop.
    Storefront,
    /// A third-party marketplace.
    Marketplace,
    /// Warehouse management.
    Wms,
    /// Customer relationship management.
    Crm,
    /// A payment provider.
    Payments,
    /// A carrier or shipping platform.
    Shipping,
    /// Accounting and finance.
    Finance,
    /// Tax calculation and filing.
    Tax,
}

/// One system the client connects to its workflows.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectedSystem {
    /// Name workflows use in `connectors`.
    #[schemars(length(min = 1, max = 63), regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub name: String,
    /// Kind of system.
    #[serde(rename = "type")]
    pub type_: SystemType,
    /// Product or vendor (`NetSuite`, `Shopify`).
    #[schemars(length(min = 1, max = 128))]
    pub vendor: String,
    /// Secret in the tenant namespace holding the credentials; referenced by workloads, never copied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretReference>,
}

/// A tier the tenant was on, from when the operator observed it, until the next entry.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TierHistoryEntry {
    /// Name of the tier.
    #[schemars(length(max = 253))]
    pub tier: String,
    /// Level of the tier at that time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<i32>,
    /// When the operator first observed the tenant on it (RFC 3339, UTC).
    #[schemars(length(max = 64), extend("format" = "date-time"))]
    pub since: String,
    /// Whether the tenant was suspended from `since` on: suspended time is not billed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suspended: bool,
}

/// A stretch of time one workflow was active (Running: not held, suspended or blocked), kept
/// on the tenant so that it outlives the workflow: the source of the per-workflow fee.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowActivity {
    /// Name of the workflow, in the tenant namespace.
    #[schemars(length(max = 253))]
    pub workflow: String,
    /// When the operator first observed it running (RFC 3339, UTC).
    #[schemars(length(max = 64), extend("format" = "date-time"))]
    pub since: String,
    /// When the operator observed it stop running; absent while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64), extend("format" = "date-time"))]
    pub until: Option<String>,
    /// CPU its workload requested during the span, in millicores, over every replica: the
    /// source of the infrastructure cost in the partner's gross margin. A change opens a new
    /// span. Absent in history written before it was kept: the workflow's current request counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub cpu_millicores: Option<i64>,
    /// Memory its workload requested during the span, in bytes, over every replica.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub memory_bytes: Option<i64>,
    /// Whether it ran on a schedule (a CronJob, whose runs are counted) rather than
    /// continuously or on events. Absent in older history: the workflow's current trigger counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled: Option<bool>,
    /// When the operator first observed its Deployment available during the span (RFC 3339,
    /// UTC): its availability is measured from then (the rollout before it is not counted;
    /// docs/sla.md). Absent for scheduled workflows and until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64), extend("format" = "date-time"))]
    pub available_since: Option<String>,
}

/// Why a stretch of a workflow's active time is in `status.unavailability`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema)]
pub enum UnavailabilityCause {
    /// Its Deployment was observed without an available replica.
    Unavailable,
    /// The operator observed nothing (it was not running): excluded from the measure.
    Unobserved,
}

/// A stretch of time a continuous or event workflow was active but its Deployment was not
/// observed available: the source of its availability (docs/sla.md).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Unavailability {
    /// Name of the workflow, in the tenant namespace.
    #[schemars(length(max = 253))]
    pub workflow: String,
    /// `Unavailable` (counted against it) or `Unobserved` (counted neither way).
    pub cause: UnavailabilityCause,
    /// When it began (RFC 3339, UTC).
    #[schemars(length(max = 64), extend("format" = "date-time"))]
    pub since: String,
    /// When it ended; absent while it lasts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64), extend("format" = "date-time"))]
    pub until: Option<String>,
}

/// Service-level attainment of the current month (docs/sla.md). Percentages are integers in
/// pcm, thousandths of a percent: 100,000 is 100 %, 99,950 is 99.95 %.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SlaAttainment {
    /// The month (`2026-11`), UTC.
    #[schemars(length(max = 7), regex(pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$"))]
    pub period: String,
    /// The tier's `sla.availabilityTarget`, in pcm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_pcm: Option<i64>,
    /// The month's attainment so far, in pcm, rounded down: for a tenant its lowest
    /// workflow's; absent while nothing has been measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attainment_pcm: Option<i64>,
    /// What was measured: `availability` (a Deployment's available seconds over the seconds
    /// it should have run) or `runs` (a schedule's succeeded runs over its expected runs);
    /// for a tenant, that of its lowest workflow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub measure: Option<String>,
    /// The numerator: available seconds or succeeded runs (capped at those expected).
    #[serde(default)]
    pub achieved: i64,
    /// The denominator: seconds it should have run or runs expected.
    #[serde(default)]
    pub expected: i64,
    /// For a tenant: the workflow with the lowest attainment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub workflow: Option<String>,
    /// Whether the attainment is below the target.
    #[serde(default)]
    pub breached: bool,
}

/// The runs of the tenant's scheduled workflows attributed to one month: what its usage line
/// bills and what workflow adoption reads.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonthlyUsage {
    /// The month (`2026-11`), UTC.
    #[schemars(length(max = 7), regex(pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$"))]
    pub period: String,
    /// Runs attributed to the month, over every workflow (see docs/billing.md for which month
    /// a run belongs to).
    #[schemars(range(min = 0))]
    pub runs: i64,
    /// The newest run of each workflow in the month.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 4096), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["workflow"]))]
    pub last_runs: Vec<LastRun>,
}

/// When one workflow last ran in a month.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastRun {
    /// Name of the workflow, in the tenant namespace.
    #[schemars(length(max = 253))]
    pub workflow: String,
    /// When its newest run in the month was scheduled (RFC 3339, UTC).
    #[schemars(length(max = 64), extend("format" = "date-time"))]
    pub at: String,
    /// How many of its runs attributed to the month succeeded: what its run attainment
    /// counts (docs/sla.md). Absent in history written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub succeeded: Option<i64>,
}

/// How far the tenant's usage has counted one workflow's runs: a finished Job scheduled
/// later is counted into `usage`, one scheduled at or before it already was.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunsCounted {
    /// Name of the workflow, in the tenant namespace.
    #[schemars(length(max = 253))]
    pub workflow: String,
    /// The scheduled time of the newest run counted (RFC 3339, UTC).
    #[schemars(length(max = 64), extend("format" = "date-time"))]
    pub through: String,
}

/// How many of the tenant's workflows are in each phase.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowCounts {
    /// Every workflow in the tenant namespace.
    pub total: i32,
    /// Workflows deployed and running.
    pub running: i32,
    /// Workflows held back by their tier or a policy.
    pub held: i32,
    /// Workflows stopped because they or the tenant are paused or suspended.
    pub suspended: i32,
    /// Workflows that cannot be deployed because of an error in their spec.
    pub blocked: i32,
}

/// What the operator observes about a tenant.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantStatus {
    /// The `metadata.generation` this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Namespace the tenant runs in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Tier the tenant is on now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// Every tier the tenant has been on, oldest first: the source of proration and of expansion and contraction.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tier_history: Vec<TierHistoryEntry>,
    /// When each workflow ran, for the months whose bills are not closed yet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 4096))]
    pub workflow_activity: Vec<WorkflowActivity>,
    /// Runs of its scheduled workflows per month, for the months whose bills are not closed
    /// yet and the one before them: the source of the usage line and of workflow adoption.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 240), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["period"]))]
    pub usage: Vec<MonthlyUsage>,
    /// How far `usage` has counted each scheduled workflow's runs, so each run is counted once
    /// whichever process observes it and however long the cluster keeps its Job.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 4096), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["workflow"]))]
    pub runs_counted: Vec<RunsCounted>,
    /// The last month (`2026-10`) whose BillingRecord the operator observed Closed, with every
    /// month before it: those months are never computed again, so their records may be
    /// deleted by the retention policy once exported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 7), regex(pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$"))]
    pub billing_closed_through: Option<String>,
    /// Stretches of its continuous and event workflows' active time without an available
    /// Deployment, or not observed, for the months whose bills are not closed yet: the
    /// source of availability (docs/sla.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 4096))]
    pub unavailability: Vec<Unavailability>,
    /// The current month's service-level attainment against the tier's target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla: Option<SlaAttainment>,
    /// Workflows by phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflows: Option<WorkflowCounts>,
    /// When the tenant's first workflow became ready: its time to value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub first_value_time: Option<String>,
    /// GovernancePolicies that apply to the tenant, by name: the strictest of them wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256))]
    pub policies: Vec<String>,
    /// Ready, Reconciling and Stalled, as kstatus reads them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}
