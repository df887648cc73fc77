//! Workflow: an automation that runs for a tenant, as a CronJob or a Deployment.

use super::common::{Condition, ResourceAmounts, WorkflowCategory};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An automation that runs in a tenant namespace.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "tenantry.dev",
    version = "v1alpha1",
    kind = "Workflow",
    plural = "workflows",
    shortname = "twf",
    category = "tenantry",
    namespaced,
    status = "WorkflowStatus",
    doc = "An automation run for a tenant: a CronJob when scheduled, a Deployment when continuous or event-driven.",
    printcolumn(name = "Category", type_ = "string", json_path = ".spec.category"),
    printcolumn(name = "Trigger", type_ = "string", json_path = ".status.trigger"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Reason", type_ = "string", json_path = ".status.reason"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowSpec {
    /// Family of automation; the tenant's tier must allow it.
    pub category: WorkflowCategory,
    /// Template the runner executes (`order-validation`); it must belong to the category.
    #[schemars(length(min = 1, max = 63), regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub template: String,
    /// What starts the workflow: exactly one of schedule, continuous or event.
    pub trigger: Trigger,
    /// Container that runs the workflow.
    pub runner: Runner,
    /// Names of the tenant's connected systems the workflow uses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(min = 1, max = 63)), extend("x-kubernetes-list-type" = "set"))]
    pub connectors: Vec<String>,
    /// Ordered steps of the workflow.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub steps: Vec<Step>,
    /// AI assistance in the workflow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ai: Option<AiSettings>,
    /// What happens when a run fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception_handling: Option<ExceptionHandling>,
    /// Stops the workflow (scaled to zero or suspended, never deleted) while true.
    #[serde(default)]
    pub paused: bool,
}

/// What starts a workflow. Exactly one field is set; the API server enforces it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub struct Trigger {
    /// Run on a cron schedule (becomes a CronJob).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleTrigger>,
    /// Run all the time (becomes a Deployment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuous: Option<ContinuousTrigger>,
    /// Run on events from a source (becomes a Deployment that consumes them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<EventTrigger>,
}

/// A cron schedule.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleTrigger {
    /// Five-field cron expression (`30 2 * * 1-5`) or a macro such as `@daily`.
    #[schemars(
        length(min = 1, max = 128),
        regex(
            pattern = r"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|[0-9*,/?A-Za-z-]+( +[0-9*,/?A-Za-z-]+){4})$"
        )
    )]
    pub cron: String,
    /// IANA time zone of the schedule (`Europe/Berlin`); UTC when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$"))]
    pub time_zone: Option<String>,
}

/// A workflow that runs all the time.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContinuousTrigger {
    /// Number of runner replicas.
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 20))]
    pub replicas: i32,
}

/// A workflow that consumes events.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventTrigger {
    /// Where events come from: a connected system's name, optionally followed by a topic (`shopify/orders-create`).
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(/[A-Za-z0-9._-]+)*$"))]
    pub source: String,
    /// Number of runner replicas.
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 20))]
    pub replicas: i32,
}

fn one() -> i32 {
    1
}

/// The container that runs a workflow.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Runner {
    /// Container image, with registry (`registry.example.com/tenantry/runner:1.4.2`).
    #[schemars(length(min = 1, max = 512))]
    pub image: String,
    /// Requests and limits of the container; defaulted from the tier and capped at its maximum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceAmounts>,
    /// Extra arguments passed to the runner.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(max = 1024)))]
    pub args: Vec<String>,
}

/// One step of a workflow.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// Name of the step, unique in the workflow.
    #[schemars(length(min = 1, max = 63), regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub name: String,
    /// What the step does (`validate-order`, `post-invoice`).
    #[schemars(length(min = 1, max = 128))]
    pub action: String,
    /// Whether a human approves the step before it acts.
    #[serde(default)]
    pub requires_approval: bool,
}

/// AI assistance in a workflow.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AiSettings {
    /// Whether AI steps run.
    #[serde(default)]
    pub enabled: bool,
    /// Model the AI steps use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub model: Option<String>,
    /// Decisions with a confidence below this percentage go to a human.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub human_review_threshold_percent: Option<i32>,
}

/// What happens when a run fails.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExceptionHandling {
    /// Retries before a run counts as failed.
    #[serde(default)]
    #[schemars(range(min = 0, max = 10))]
    pub retries: i32,
    /// Seconds between retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 86400))]
    pub backoff_seconds: Option<i32>,
    /// Minutes after which an unresolved failure is escalated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10080))]
    pub escalate_after_minutes: Option<i32>,
    /// Who is told when a failure is escalated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), inner(length(min = 1, max = 254)))]
    pub contacts: Vec<String>,
}

/// Where a workflow stands.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema)]
pub enum WorkflowPhase {
    /// Not yet deployed.
    Pending,
    /// Deployed and running (or scheduled).
    Running,
    /// Held back by the tier or a policy; its workload is scaled to zero or suspended.
    Held,
    /// Stopped because the workflow is paused or the tenant suspended.
    Suspended,
    /// Cannot be deployed until its spec or references are fixed.
    Blocked,
}

/// Counts of the finished runs of a scheduled workflow, from its Jobs. They only grow: each
/// finished Job is counted once, when the operator first sees it finished, and stays counted
/// after the CronJob's history limits delete it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunCounts {
    /// Runs that succeeded.
    pub succeeded: i64,
    /// Runs that failed.
    pub failed: i64,
    /// The scheduled time of the newest run counted (RFC 3339, UTC): a finished Job
    /// scheduled later is counted, one scheduled at or before it already was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub counted_through: Option<String>,
}

/// What the operator observes about a workflow.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowStatus {
    /// The `metadata.generation` this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Where the workflow stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<WorkflowPhase>,
    /// Why the workflow is in its phase when it is not Running (`TierDisallowsCategory`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// One-line summary of the trigger (`schedule 0 2 * * *`), for printer columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    /// The generation whose definition the running workload carries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployed_generation: Option<i64>,
    /// Runs of a scheduled workflow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runs: Option<RunCounts>,
    /// When the last run started (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub last_run_time: Option<String>,
    /// The current month's service-level attainment (docs/sla.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla: Option<crate::tenant::SlaAttainment>,
    /// While a change freeze holds its new generation: when the freeze ends (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub frozen_until: Option<String>,
    /// Governance decisions about the workflow, oldest first: the newest 20, none older than
    /// the policies' `audit.retentionDays`. Each is also a Kubernetes Event.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    pub decisions: Vec<GovernanceDecision>,
    /// Ready, Reconciling, Stalled and the held reason, as kstatus reads them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

/// What governance decided about a workflow, when.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GovernanceDecision {
    /// When the operator decided (RFC 3339, UTC).
    #[schemars(extend("format" = "date-time"))]
    pub time: String,
    /// The workflow generation decided about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    /// What was decided.
    pub decision: DecisionKind,
    /// Why (`AwaitingApproval`, `ChangeFreeze`, `ImageNotAllowed`, `Approved`).
    #[schemars(length(min = 1, max = 128))]
    pub reason: String,
    /// In one sentence, for people.
    #[schemars(length(max = 1024))]
    pub message: String,
    /// The GovernancePolicies behind the decision.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub policies: Vec<String>,
}

/// The kinds of governance decision.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema)]
pub enum DecisionKind {
    /// A new generation waits for approvals; the deployed one keeps running.
    Held,
    /// A change freeze holds a new generation until it ends.
    Frozen,
    /// A policy forbids what the workflow asks for (image, model, region); it is scaled to zero.
    Blocked,
    /// The approvals a new generation needed are there; it is rolled out.
    Approved,
    /// What held, froze or blocked the workflow no longer does; its current generation runs.
    Released,
}

impl std::fmt::Display for DecisionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DecisionKind::Held => "Held",
            DecisionKind::Frozen => "Frozen",
            DecisionKind::Blocked => "Blocked",
            DecisionKind::Approved => "Approved",
            DecisionKind::Released => "Released",
        })
    }
}
