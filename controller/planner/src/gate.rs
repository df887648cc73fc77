//! Governance gates on each workflow, after its tier has decided: a policy that forbids what
//! it runs (region, image registry, AI model) scales it to zero; a new generation waits for
//! the approvals its category needs and for change freezes to end, while the generation
//! already deployed keeps running unchanged.

use crate::conditions::Verdict;
use crate::freeze;
use crate::model::{Gate, Index, Rollout, WorkflowDecision};
use crate::policy::{distinct_matching, Governance, Refusal};
use crate::world::NamespacedName;
use jiff::Timestamp;
use std::collections::BTreeMap;
use tenantry_api::conditions::reason;
use tenantry_api::governance::Subject;
use tenantry_api::workflow::DecisionKind;
use tenantry_api::{Approval, Workflow, WorkflowPhase};

/// The generation a workflow has, or will have once applied: offline YAML carries none, and
/// the API server gives a new object generation 1.
pub fn generation_of(workflow: &Workflow) -> i64 {
    workflow.metadata.generation.unwrap_or(1)
}

/// Applies every policy that concerns each decided workflow.
pub fn apply(index: &Index, decisions: &mut BTreeMap<NamespacedName, WorkflowDecision>, now: Timestamp) {
    for (key, decision) in decisions.iter_mut() {
        let Some((tenant, _)) = decision.tenant else { continue };
        if decision.resources.is_none() {
            // Its own spec is wrong: already blocked, its children kept as they are.
            continue;
        }
        let governance = &tenant.governance;
        if let Some(refusal) = refusal(governance, decision.workflow, &tenant.tenant.spec.region) {
            let (phase, reason, refusal) = refusal;
            decision.phase = phase;
            decision.verdict = Verdict::stalled(reason, format!("{}; the workflow is scaled to zero", refusal.message));
            decision.rollout = Rollout::Stop;
            decision.gate = Some(Gate {
                kind: DecisionKind::Blocked,
                reason,
                message: refusal.message,
                policies: refusal.policies,
                frozen_until: None,
            });
            continue;
        }
        let approvals = index.approvals.get(key).map(Vec::as_slice).unwrap_or_default();
        gate_new_generation(decision, governance, approvals, now);
    }
}

/// What a policy forbids in the workflow as it is now: the tenant's region, the runner's
/// image registry, the AI model; with the phase and reason it gets.
fn refusal(
    governance: &Governance,
    workflow: &Workflow,
    region: &str,
) -> Option<(WorkflowPhase, &'static str, Refusal)> {
    if let Some(refusal) = governance.region_refusal(region) {
        return Some((WorkflowPhase::Held, reason::REGION_NOT_ALLOWED, refusal));
    }
    if let Some(refusal) = governance.image_refusal(&workflow.spec.runner.image) {
        return Some((WorkflowPhase::Blocked, reason::IMAGE_NOT_ALLOWED, refusal));
    }
    let ai = workflow.spec.ai.as_ref().filter(|ai| ai.enabled)?;
    let refusal = governance.model_refusal(ai.model.as_deref())?;
    Some((WorkflowPhase::Blocked, reason::MODEL_NOT_ALLOWED, refusal))
}

/// Holds a generation not yet deployed until the approvals its category needs exist and no
/// change freeze covers it (or an emergency approval lets it through one).
fn gate_new_generation(
    decision: &mut WorkflowDecision,
    governance: &Governance,
    approvals: &[&Approval],
    now: Timestamp,
) {
    let workflow = decision.workflow;
    let generation = generation_of(workflow);
    let deployed = workflow.status.as_ref().and_then(|s| s.deployed_generation);
    if deployed == Some(generation) {
        return;
    }
    let category = workflow.spec.category;
    let for_generation: Vec<&Approval> =
        approvals.iter().copied().filter(|approval| approval.spec.generation == generation).collect();

    let rules = governance.rules_for(category);
    let mut missing = Vec::new();
    let mut policies = Vec::new();
    let mut approved_by = std::collections::BTreeSet::new();
    for (policy, rule) in &rules {
        let counted = distinct_matching(&rule.approvers, for_generation.iter().map(|a| &a.spec.approver));
        approved_by.extend(counted.iter().map(|user| user.to_string()));
        let needed = rule.min_approvals.max(1) as usize;
        if counted.len() < needed {
            missing.push(format!(
                "policy '{policy}' needs {needed} approvals from {} ({} so far{})",
                subjects(&rule.approvers),
                counted.len(),
                if counted.is_empty() {
                    String::new()
                } else {
                    format!(": {}", counted.iter().copied().collect::<Vec<_>>().join(", "))
                }
            ));
            policies.push(policy.to_string());
        }
    }
    let (frozen_until, freezes) = frozen(governance, category, now);
    let emergency = for_generation
        .iter()
        .find(|approval| approval.spec.emergency && governance.may_approve(category, &approval.spec.approver));
    let keeps = match deployed {
        Some(deployed) => format!("generation {deployed} keeps running unchanged"),
        None => "nothing runs until then".to_string(),
    };

    let gate = if !missing.is_empty() {
        let mut message = format!("generation {generation} waits for approval: {}; {keeps}", missing.join("; "));
        if let Some(until) = frozen_until {
            message.push_str(&format!("; a change freeze also holds it until {until}"));
        }
        Gate { kind: DecisionKind::Held, reason: reason::AWAITING_APPROVAL, message, policies, frozen_until }
    } else if let (Some(until), None) = (frozen_until, emergency) {
        Gate {
            kind: DecisionKind::Frozen,
            reason: reason::CHANGE_FREEZE,
            message: format!(
                "change freeze {} holds generation {generation} until {until}; {keeps}; an emergency Approval lets it through",
                freezes.iter().map(|(policy, name)| format!("'{name}' (policy '{policy}')")).collect::<Vec<_>>().join(", ")
            ),
            policies: freezes.iter().map(|(policy, _)| policy.clone()).collect(),
            frozen_until: Some(until),
        }
    } else if let (Some(_), Some(approval)) = (frozen_until, emergency) {
        decision.gate = Some(Gate {
            kind: DecisionKind::Approved,
            reason: reason::EMERGENCY_APPROVED,
            message: format!(
                "generation {generation} goes through the change freeze on {}'s emergency approval",
                approval.spec.approver.user
            ),
            policies: freezes.iter().map(|(policy, _)| policy.clone()).collect(),
            frozen_until: None,
        });
        return;
    } else if !rules.is_empty() {
        decision.gate = Some(Gate {
            kind: DecisionKind::Approved,
            reason: reason::APPROVED,
            message: format!(
                "generation {generation} approved by {}",
                approved_by.iter().cloned().collect::<Vec<_>>().join(", ")
            ),
            policies: rules.iter().map(|(policy, _)| policy.to_string()).collect(),
            frozen_until: None,
        });
        return;
    } else {
        return;
    };
    hold(decision, gate);
}

/// Holds a new generation: a workflow that would run keeps its deployed generation running
/// (phase Held); one that must not run now (suspended, paused, held by its tier) is scaled
/// to zero as it is, without its new definition.
fn hold(decision: &mut WorkflowDecision, gate: Gate) {
    if decision.phase == WorkflowPhase::Running {
        decision.phase = WorkflowPhase::Held;
        decision.verdict = match gate.kind {
            DecisionKind::Frozen => Verdict::idle(gate.reason, gate.message.clone()),
            _ => Verdict::stalled(gate.reason, gate.message.clone()),
        };
        decision.rollout = Rollout::Keep;
    } else {
        decision.rollout = Rollout::Stop;
    }
    decision.gate = Some(gate);
}

/// Whether a change freeze covering `category` is on at `now`: until when (following freezes
/// that overlap or adjoin), and which, by policy and name.
fn frozen(
    governance: &Governance,
    category: tenantry_api::WorkflowCategory,
    now: Timestamp,
) -> (Option<Timestamp>, Vec<(String, String)>) {
    let covering: Vec<_> = governance.freezes.iter().filter(|(_, f)| freeze::covers(f, category)).collect();
    let mut until = now;
    let mut which: Vec<(String, String)> = Vec::new();
    // Each round moves `until` to the end of a freeze on at `until`; at most one round per freeze.
    for _ in 0..=covering.len() {
        let mut moved = false;
        for (policy, freeze) in &covering {
            if let Some(end) = freeze::active_until(freeze, until).filter(|end| *end > until) {
                until = end;
                moved = true;
                let entry = (policy.to_string(), freeze.name.clone());
                if !which.contains(&entry) {
                    which.push(entry);
                }
            }
        }
        if !moved {
            break;
        }
    }
    ((until > now).then_some(until), which)
}

/// Subjects, for people (`Group finance-approvers, User ana`).
fn subjects(subjects: &[Subject]) -> String {
    subjects.iter().map(|s| format!("{:?} {}", s.kind, s.name)).collect::<Vec<_>>().join(", ")
}
