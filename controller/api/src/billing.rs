//! BillingRecord: what the operator writes back, one per tenant per calendar month.

use super::common::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Annotation `tenantry bill --cluster --mark-exported` puts on each Closed record it
/// exported (RFC 3339, UTC): only records carrying it may be deleted by the operator's
/// retention policy (`--billing-retention-days`).
pub const EXPORTED_AT: &str = "tenantry.dev/exported-at";

/// One tenant's bill for one calendar month (UTC), named `<tenant>-<yyyy>-<mm>`. Written by
/// the operator; frozen once closed. It carries no owner reference, so deleting a tenant
/// never deletes its bills.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[kube(
    group = "tenantry.dev",
    version = "v1alpha1",
    kind = "BillingRecord",
    plural = "billingrecords",
    shortname = "bill",
    derive = "PartialEq",
    category = "tenantry",
    status = "BillingRecordStatus",
    doc = "One tenant's bill for one calendar month, written by the operator and frozen once closed.",
    printcolumn(name = "Tenant", type_ = "string", json_path = ".spec.tenantRef"),
    printcolumn(name = "Partner", type_ = "string", json_path = ".spec.partnerRef"),
    printcolumn(name = "Period", type_ = "string", json_path = ".spec.period"),
    printcolumn(name = "Total", type_ = "integer", json_path = ".spec.total"),
    printcolumn(name = "Currency", type_ = "string", json_path = ".spec.currency"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct BillingRecordSpec {
    /// Name of the tenant billed.
    #[schemars(length(min = 1, max = 253))]
    pub tenant_ref: String,
    /// Name of the partner that invoices it.
    #[schemars(length(min = 1, max = 253))]
    pub partner_ref: String,
    /// Calendar month billed, UTC (`2026-11`).
    #[schemars(length(max = 7), regex(pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$"))]
    pub period: String,
    /// ISO 4217 currency of every amount.
    #[schemars(length(max = 3), regex(pattern = r"^[A-Z]{3}$"))]
    pub currency: String,
    /// Prorated charges and discounts.
    #[serde(default)]
    #[schemars(length(max = 256))]
    pub line_items: Vec<LineItem>,
    /// Sum of the line items' amounts, in minor units.
    pub total: i64,
    /// The monthly recurring revenue the tenant stood at when the billed span ended: what
    /// partners report MRR, NRR and GRR from, so closed records alone tell the revenue story.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurring: Option<RecurringRevenue>,
    /// What the tenant used in the billed span: runs, time on each tier level and the CPU
    /// and memory its active workflows requested. Partners' gross margin is computed from it
    /// and their cost model; it is not charged as such.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumption: Option<Consumption>,
}

/// What a tenant used in the billed span of a month.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Consumption {
    /// Runs of its scheduled workflows attributed to the month.
    #[serde(default)]
    pub runs: i64,
    /// Billable (not suspended) seconds on each tier, in the order first used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub tiers: Vec<TierTime>,
    /// CPU requested by its active workflows, in millicore-seconds.
    #[serde(default)]
    pub cpu_millicore_seconds: i64,
    /// Memory requested by its active workflows, in KiB-seconds (rounded once, half away from zero).
    #[serde(default)]
    pub memory_kibibyte_seconds: i64,
}

/// Billable seconds on one tier in a month.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TierTime {
    /// Name of the tier.
    #[schemars(length(max = 253))]
    pub tier: String,
    /// Its level at the time: what the partner's support cost depends on.
    pub level: i32,
    /// Billable seconds on it.
    pub seconds: i64,
}

/// A tenant's monthly recurring revenue at one instant: list prices for a whole month of
/// what it was on and ran then, after its discount. Zero while suspended and once deleted.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecurringRevenue {
    /// When this was measured (RFC 3339, UTC): the end of the billed span.
    #[schemars(length(max = 64), extend("format" = "date-time"))]
    pub at: String,
    /// Tier the tenant was on then; absent once deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub tier: Option<String>,
    /// Workflows active then.
    pub active_workflows: i32,
    /// The tier's monthly base fee, in minor units.
    pub platform: i64,
    /// Monthly fees of the active workflows, in minor units.
    pub managed_operations: i64,
    /// Monthly fees above the tier (add-ons), in minor units.
    pub expansion: i64,
    /// The contract discount on the above, in minor units (zero or negative).
    pub discount: i64,
    /// The sum of the above, in minor units.
    pub total: i64,
    /// Workflow adoption then, when the tenant's runs were observed for the month.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adoption: Option<Adoption>,
}

/// How many of a tenant's scheduled workflows are used: active ones with a run in the 30 days
/// before the instant measured. Continuous and event workflows have no runs to observe and
/// are left out of both counts.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Adoption {
    /// Scheduled workflows active (Running) then.
    pub deployed: i32,
    /// Those of them with a run in the 30 days before.
    pub with_recent_run: i32,
}

/// Where a line item sits in the bill.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum BillingLayer {
    /// The tier's base fee.
    Platform,
    /// Fees for the workflows the partner operates.
    ManagedOperations,
    /// Extra charged for moving to a higher tier within the month.
    Expansion,
    /// Runs beyond those included.
    Usage,
    /// The contract's discount, as a negative amount.
    Discount,
    /// A service credit for a month that ended below the tier's availability target, as a
    /// negative amount (docs/sla.md).
    SlaCredit,
    /// A correction declared on the tenant (`spec.billingAdjustments`), often of a closed
    /// month: a credit (negative) or a charge.
    Adjustment,
}

/// One charge on a bill.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LineItem {
    /// Layer of the charge.
    #[schemars(extend("maxLength" = 32))]
    pub layer: BillingLayer,
    /// What is charged, for the invoice.
    #[schemars(length(min = 1, max = 256))]
    pub description: String,
    /// How many units, in thousandths (a workflow active for half the month is 500).
    pub quantity_milli: i64,
    /// Price of one whole unit, in minor units.
    pub unit_price: i64,
    /// Amount charged, in minor units; negative for discounts.
    pub amount: i64,
}

/// Whether a bill can still change.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum BillingPhase {
    /// The month is running; the record is updated as it goes.
    Open,
    /// The month is over or the tenant deleted; the record is never rewritten.
    Closed,
}

/// What the operator records about a bill.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BillingRecordStatus {
    /// Open while the month runs, then Closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("maxLength" = 16))]
    pub phase: Option<BillingPhase>,
    /// Estimate of the whole month's total at the current rate, while Open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_month_total: Option<i64>,
    /// When the record was closed (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64), extend("format" = "date-time"))]
    pub closed_at: Option<String>,
    /// The end of the span the amounts bill (RFC 3339, UTC): the last whole refresh interval
    /// while Open, the month's end (or the tenant's deletion) once Closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64), extend("format" = "date-time"))]
    pub billed_until: Option<String>,
    /// Ready, as kstatus reads it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 8), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}
