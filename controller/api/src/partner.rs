//! Partner: the white-label owner that sells tiers to its clients under its own brand.

use super::common::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A white-label owner: an ERP integrator, MSP or automation consultancy.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "tenantry.dev",
    version = "v1alpha1",
    kind = "Partner",
    plural = "partners",
    shortname = "tpartner",
    category = "tenantry",
    status = "PartnerStatus",
    doc = "A white-label owner that sells managed automation to its clients under its own brand, currency and prices.",
    printcolumn(name = "Display", type_ = "string", json_path = ".spec.displayName"),
    printcolumn(name = "Currency", type_ = "string", json_path = ".spec.currency"),
    printcolumn(name = "Tenants", type_ = "integer", json_path = ".status.tenants"),
    printcolumn(name = "MRR", type_ = "integer", json_path = ".status.revenue.mrr"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct PartnerSpec {
    /// Name shown to the partner's clients and on invoices.
    #[schemars(length(min = 1, max = 128))]
    pub display_name: String,
    /// The partner's white-label identity, published to each of its tenants.
    pub branding: Branding,
    /// ISO 4217 currency of every price and bill of this partner (`EUR`, `USD`).
    #[schemars(regex(pattern = r"^[A-Z]{3}$"))]
    pub currency: String,
    /// Prefix of the partner's invoice numbers (`ACME-`).
    #[schemars(length(min = 1, max = 16), regex(pattern = r"^[A-Z0-9][A-Z0-9-]*$"))]
    pub invoice_prefix: String,
    /// What running tenants costs the partner; the source of gross margin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_model: Option<CostModel>,
}

/// The white-label identity a partner's clients see.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Branding {
    /// Product name the partner sells the service under.
    #[schemars(length(min = 1, max = 128))]
    pub product_name: String,
    /// HTTPS address of the partner's logo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048), regex(pattern = r"^https://[^\s]+$"))]
    pub logo_url: Option<String>,
    /// Main brand colour as `#rrggbb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^#[0-9a-fA-F]{6}$"))]
    pub primary_color: Option<String>,
    /// Address the partner's clients write to for support.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 254), regex(pattern = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"))]
    pub support_email: Option<String>,
    /// Domain of the partner's client portal (`portal.example.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$")
    )]
    pub portal_domain: Option<String>,
}

/// What the partner pays to run its tenants, in integer minor units of its currency.
///
/// Prices are per month rather than per hour: a CPU core-hour costs a fraction of a cent,
/// which integer minor units cannot carry without losing most of the figure. Like the tiers'
/// fees, a month is the calendar month, prorated by the second (see docs/billing.md).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CostModel {
    /// Cost of one CPU core requested for a whole calendar month.
    #[schemars(range(min = 0))]
    pub cpu_core_month: i64,
    /// Cost of one GiB of memory requested for a whole calendar month.
    #[schemars(range(min = 0))]
    pub memory_gib_month: i64,
    /// Monthly support cost of one tenant, by the level of its tier.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["tierLevel"]))]
    pub support_per_tenant: Vec<SupportCost>,
}

/// Monthly support cost of one tenant on tiers of one level.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SupportCost {
    /// The tier level this cost applies to.
    #[schemars(range(min = 0))]
    pub tier_level: i32,
    /// Monthly cost, in minor units.
    #[schemars(range(min = 0))]
    pub monthly: i64,
}

/// What the operator observes about a partner.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PartnerStatus {
    /// The `metadata.generation` this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Number of tenants that reference this partner.
    #[serde(default)]
    pub tenants: i32,
    /// Number of those tenants that are not suspended.
    #[serde(default)]
    pub active_tenants: i32,
    /// Number of service tiers this partner owns.
    #[serde(default)]
    pub tiers: i32,
    /// Recurring revenue this month, from the tenants' BillingRecords (see docs/billing.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revenue: Option<PartnerRevenue>,
    /// Ready, Reconciling and Stalled, as kstatus reads them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

/// A partner's recurring revenue for one month, in integer minor units of its currency.
/// Rates are in basis points (10,000 = 100 %).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PartnerRevenue {
    /// The month (`2026-11`), UTC.
    #[schemars(length(max = 7))]
    pub period: String,
    /// ISO 4217 currency of every amount.
    #[schemars(length(max = 3))]
    pub currency: String,
    /// Monthly recurring revenue: the sum of the tenants' run-rates.
    pub mrr: i64,
    /// Annual run-rate: twelve times the MRR.
    pub arr: i64,
    /// MRR from the tiers' base fees.
    pub platform_mrr: i64,
    /// MRR from active workflows' fees.
    pub managed_operations_mrr: i64,
    /// MRR from fees above the tiers.
    pub expansion_mrr: i64,
    /// MRR of tenants paying for the first time this month.
    pub new_mrr: i64,
    /// MRR of tenants paying again after a month or more at zero.
    pub reactivated_mrr: i64,
    /// Increases of paying tenants' MRR since last month.
    pub expansion_movement: i64,
    /// Decreases of paying tenants' MRR since last month (zero or negative).
    pub contraction_movement: i64,
    /// MRR lost to tenants that stopped paying this month (zero or negative).
    pub churned_mrr: i64,
    /// Tenants paying (MRR above zero).
    pub paying_tenants: i32,
    /// Average MRR per paying tenant.
    pub arpa: i64,
    /// Share of paying tenants with an active workflow, in basis points.
    pub attach_rate_basis_points: i64,
    /// Net revenue retention over the trailing 12 months, in basis points, when a cohort exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nrr_basis_points: Option<i64>,
    /// Gross revenue retention over the trailing 12 months, in basis points, when a cohort exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grr_basis_points: Option<i64>,
    /// What this month's records bill so far.
    pub billed: i64,
    /// The service credits (`slaCredit` lines, negative) among what this month's records
    /// bill; absent when there are none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credits: Option<i64>,
    /// Median seconds from a tenant's creation to its first ready workflow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_value_median_seconds: Option<i64>,
    /// 90th percentile of the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_value_p90_seconds: Option<i64>,
    /// What running the tenants cost so far this month at the cost model: requested CPU and
    /// memory of active workflows. Absent without a cost model or usage on the records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub infrastructure_cost: Option<i64>,
    /// Support cost so far this month: each tenant's tier level at the cost model, prorated
    /// by its billable seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support_cost: Option<i64>,
    /// Managed-service gross margin so far this month: billed less infrastructure and support cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gross_margin: Option<i64>,
    /// Gross margin over billed, in basis points, when something was billed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gross_margin_basis_points: Option<i64>,
    /// Scheduled workflows active now, over the tenants whose runs are observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployed_workflows: Option<i32>,
    /// Those of them with a run in the last 30 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adopted_workflows: Option<i32>,
    /// Workflow adoption: adopted over deployed workflows, in basis points, when any is deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_adoption_basis_points: Option<i64>,
}
