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

/// A named window in which changes wait. Exactly one of `window`, `monthEnd`, `weekly` and
/// `yearly` is set; the recurring ones are read in `timeZone`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "[has(self.window), has(self.monthEnd), has(self.weekly), has(self.yearly)].exists_one(b, b)",
    "message": "set exactly one of window, monthEnd, weekly and yearly"
}]))]
pub struct ChangeFreeze {
    /// Name of the freeze (`black-friday`, `month-end-close`).
    #[schemars(length(min = 1, max = 63), regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub name: String,
    /// IANA time zone (`Europe/Berlin`) in which `monthEnd`, `weekly` and `yearly` are read;
    /// UTC when omitted. A `window` carries its own offsets and ignores it. Local times that
    /// a daylight-saving change skips are read one hour later (02:30 as 03:30); local times it
    /// repeats are read as their first occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$"))]
    pub time_zone: Option<String>,
    /// An absolute window, such as one promotion period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<FreezeWindow>,
    /// A window that recurs around every month end, for the finance close: the last `daysBefore`
    /// days of each month and the first `daysAfter` days of the next, in days of `timeZone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub month_end: Option<MonthEndFreeze>,
    /// A window that recurs every week, such as a weekend: from `startTime` on `startDay` to the
    /// next `endTime` on `endDay`, in local time of `timeZone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekly: Option<WeeklyFreeze>,
    /// A window that recurs every year on the same days, such as a peak season: from 00:00 on
    /// `start` until 00:00 after `end`, in days of `timeZone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yearly: Option<YearlyFreeze>,
    /// Categories the freeze holds; empty holds every category.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 5), extend("x-kubernetes-list-type" = "set"))]
    pub categories: Vec<WorkflowCategory>,
}

/// An absolute window: frozen from `start` (inclusive) to `end` (exclusive).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FreezeWindow {
    /// Start of the window (RFC 3339 with an offset: `2026-11-26T00:00:00-05:00`), frozen.
    #[schemars(extend("format" = "date-time"))]
    pub start: String,
    /// End of the window (RFC 3339 with an offset), after `start`; the first instant that is
    /// no longer frozen.
    #[schemars(extend("format" = "date-time"))]
    pub end: String,
}

/// A freeze around each month end, in days of `timeZone`: from 00:00 on the first of the
/// last `daysBefore` days of a month until 00:00 after the first `daysAfter` days of the
/// next month.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "self.daysBefore + self.daysAfter > 0",
    "message": "daysBefore and daysAfter are both 0: the freeze would never hold"
}]))]
pub struct MonthEndFreeze {
    /// Last days of each month that are frozen (2: the 29th and 30th of a 30-day month).
    #[schemars(range(min = 0, max = 15))]
    pub days_before: i32,
    /// First days of the next month that are frozen (3: the 1st, 2nd and 3rd).
    #[schemars(range(min = 0, max = 15))]
    pub days_after: i32,
}

/// A day of the week.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema)]
pub enum Weekday {
    /// Monday.
    Monday,
    /// Tuesday.
    Tuesday,
    /// Wednesday.
    Wednesday,
    /// Thursday.
    Thursday,
    /// Friday.
    Friday,
    /// Saturday.
    Saturday,
    /// Sunday.
    Sunday,
}

/// A freeze every week, in local time of `timeZone`: from `startTime` on `startDay`
/// (inclusive) to the next `endTime` on `endDay` (exclusive). It may run over the end of the
/// week (`Friday 18:00` to `Monday 06:00`) and lasts less than seven days.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "self.startDay != self.endDay || self.startTime != self.endTime",
    "message": "the freeze starts and ends at the same time of the same day"
}]))]
pub struct WeeklyFreeze {
    /// Day the freeze starts.
    pub start_day: Weekday,
    /// Local time it starts on `startDay` (`18:00`, 24-hour `HH:MM`), frozen.
    #[schemars(length(min = 5, max = 5), regex(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub start_time: String,
    /// Day the freeze ends.
    pub end_day: Weekday,
    /// Local time it ends on `endDay` (`06:00`, 24-hour `HH:MM`): the first minute no longer frozen.
    #[schemars(length(min = 5, max = 5), regex(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub end_time: String,
}

/// A freeze every year, in days of `timeZone`: from 00:00 on `start` until 00:00 on the day
/// after `end`, both days frozen. It may run over the end of the year (`12-20` to `01-05`)
/// but may not cover a whole year. `02-29` is refused: it does not occur every year, so write
/// `02-28` or `03-01`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct YearlyFreeze {
    /// First frozen day, as month and day (`11-23`); not `02-29`.
    #[schemars(
        length(min = 5, max = 5),
        regex(pattern = r"^((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|1[0-9]|2[0-9]))$"),
        extend("x-kubernetes-validations" = [{
            "rule": "self != '02-29'",
            "message": "02-29 does not occur every year: use 02-28 or 03-01"
        }])
    )]
    pub start: String,
    /// Last frozen day, as month and day (`12-01`; not `02-29`): frozen until 00:00 on the day
    /// after it. Before `start`, the freeze runs over the end of the year.
    #[schemars(
        length(min = 5, max = 5),
        regex(pattern = r"^((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|1[0-9]|2[0-9]))$"),
        extend("x-kubernetes-validations" = [{
            "rule": "self != '02-29'",
            "message": "02-29 does not occur every year: use 02-28 or 03-01"
        }])
    )]
    pub end: String,
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
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "self.kind != 'ServiceAccount' || has(self.namespace)",
    "message": "a ServiceAccount subject needs its namespace"
}]))]
pub struct Subject {
    /// Kind of subject.
    pub kind: SubjectKind,
    /// Name of the subject.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of a ServiceAccount (required for one; ignored for users and groups).
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
