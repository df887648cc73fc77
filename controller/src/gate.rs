//! `tenantry plan` as a CI gate: every declared object's planned standing (kind, name,
//! phase, readiness, reason, message, conditions) as data, and the objects a pull request
//! must not leave stalled or not ready.

use crate::api::conditions::{READY, STALLED};
use crate::api::{Condition, ConditionStatus};
use crate::planner::Plan;
use serde::Serialize;

/// What `tenantry plan -o status` prints: the planned standing of every declared object.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanStatus {
    /// Always `tenantry.dev/v1alpha1`.
    pub api_version: &'static str,
    /// Always `PlanStatus`: not a Kubernetes object; never applied.
    pub kind: &'static str,
    /// The instant planned at (RFC 3339, UTC).
    pub at: String,
    /// One entry per declared object, by kind then namespace then name.
    pub objects: Vec<ObjectStanding>,
}

/// One declared object's planned standing.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectStanding {
    /// `Partner`, `ServiceTier`, `Tenant`, `Workflow`, `GovernancePolicy` or `Approval`.
    pub kind: &'static str,
    /// Namespace of a namespaced object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// A workflow's phase.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// `True`, `False` or `Unknown`.
    pub ready: &'static str,
    /// Whether only a human can fix it (`Stalled=True`).
    pub stalled: bool,
    /// The reason of `Ready`.
    pub reason: String,
    /// The message of `Ready`.
    pub message: String,
    /// Every planned condition.
    pub conditions: Vec<Condition>,
}

impl ObjectStanding {
    fn new(kind: &'static str, namespace: Option<&str>, name: &str, conditions: &[Condition]) -> Self {
        let ready = conditions.iter().find(|c| c.type_ == READY);
        ObjectStanding {
            kind,
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
            phase: None,
            ready: match ready.map(|c| c.status) {
                Some(ConditionStatus::True) => "True",
                Some(ConditionStatus::False) => "False",
                _ => "Unknown",
            },
            stalled: conditions.iter().any(|c| c.type_ == STALLED && c.status == ConditionStatus::True),
            reason: ready.map(|c| c.reason.clone()).unwrap_or_default(),
            message: ready.map(|c| c.message.clone()).unwrap_or_default(),
            conditions: conditions.to_vec(),
        }
    }

    /// `Kind/namespace/name` or `Kind/name`.
    pub fn reference(&self) -> String {
        match &self.namespace {
            Some(namespace) => format!("{}/{namespace}/{}", self.kind, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }
}

/// The standing of every object the plan has a status for.
pub fn standing(plan: &Plan, at: jiff::Timestamp) -> PlanStatus {
    let mut objects = Vec::new();
    for (name, status) in &plan.partners {
        objects.push(ObjectStanding::new("Partner", None, name, &status.conditions));
    }
    for (name, status) in &plan.tiers {
        objects.push(ObjectStanding::new("ServiceTier", None, name, &status.conditions));
    }
    for (name, status) in &plan.tenants {
        objects.push(ObjectStanding::new("Tenant", None, name, &status.conditions));
    }
    for ((namespace, name), status) in &plan.workflows {
        let mut standing = ObjectStanding::new("Workflow", Some(namespace), name, &status.conditions);
        standing.phase = status.phase.map(|p| format!("{p:?}"));
        objects.push(standing);
    }
    for (name, status) in &plan.policies {
        objects.push(ObjectStanding::new("GovernancePolicy", None, name, &status.conditions));
    }
    for ((namespace, name), status) in &plan.approvals {
        objects.push(ObjectStanding::new("Approval", Some(namespace), name, &status.conditions));
    }
    PlanStatus {
        api_version: "tenantry.dev/v1alpha1",
        kind: "PlanStatus",
        at: crate::planner::format_time(at),
        objects,
    }
}

/// What a CI gate refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    /// Objects only a human can fix (`Stalled=True`): held for approval, blocked by a policy
    /// or a bad spec, a broken reference.
    Stalled,
    /// Every object that is not `Ready=True` and not merely waiting for its workload to run
    /// (an offline plan never sees a workload run: `Deploying` is not a failure).
    NotReady,
}

/// The objects `fail_on` refuses, as lines for people.
pub fn failures(status: &PlanStatus, fail_on: FailOn) -> Vec<String> {
    status
        .objects
        .iter()
        .filter(|object| match fail_on {
            FailOn::Stalled => object.stalled,
            FailOn::NotReady => object.ready != "True" && object.reason != crate::api::conditions::reason::DEPLOYING,
        })
        .map(|object| format!("{}: {}: {}", object.reference(), object.reason, object.message))
        .collect()
}
