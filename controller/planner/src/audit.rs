//! The audit trail on a workflow's status: each governance decision (held, frozen, blocked,
//! approved, released) appended once, when it changes, and pruned by the policies' audit
//! retention and a fixed length, so the status stays small.

use crate::gate::generation_of;
use crate::model::Gate;
use jiff::{SignedDuration, Timestamp};
use tenantry_api::conditions::reason;
use tenantry_api::workflow::{DecisionKind, GovernanceDecision};
use tenantry_api::Workflow;

/// Most decisions a workflow's status keeps (the newest).
pub const MAX_DECISIONS: usize = 20;

/// The trail after this plan: `previous`, plus the decision `gate` records when it differs
/// from the last one (or a release when nothing holds any more what was held), without
/// entries older than `retention_days`.
pub fn record(
    previous: &[GovernanceDecision],
    gate: Option<&Gate>,
    workflow: &Workflow,
    now: Timestamp,
    retention_days: Option<i32>,
) -> Vec<GovernanceDecision> {
    let mut trail = previous.to_vec();
    let generation = Some(generation_of(workflow));
    let last = trail.last();
    let entry = match gate {
        Some(gate) => {
            let same = last.is_some_and(|last| {
                last.decision == gate.kind && last.reason == gate.reason && last.generation == generation
            });
            (!same).then(|| GovernanceDecision {
                time: crate::format_time(now),
                generation,
                decision: gate.kind,
                reason: gate.reason.to_string(),
                message: gate.message.clone(),
                policies: gate.policies.clone(),
            })
        }
        None => last
            .filter(|last| matches!(last.decision, DecisionKind::Held | DecisionKind::Frozen | DecisionKind::Blocked))
            .map(|last| GovernanceDecision {
                time: crate::format_time(now),
                generation,
                decision: DecisionKind::Released,
                reason: reason::RELEASED.to_string(),
                message: format!(
                    "{} no longer applies; generation {} is planned",
                    last.reason,
                    generation_of(workflow)
                ),
                policies: last.policies.clone(),
            }),
    };
    trail.extend(entry);
    if let Some(days) = retention_days {
        let oldest = now - SignedDuration::from_hours(24 * i64::from(days.max(0)));
        trail.retain(|entry| entry.time.parse::<Timestamp>().map(|t| t >= oldest).unwrap_or(false));
    }
    let excess = trail.len().saturating_sub(MAX_DECISIONS);
    trail.drain(..excess);
    trail
}
