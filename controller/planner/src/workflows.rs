//! Decides each workflow's phase: blocked by an error in its spec or references, suspended,
//! held by its tier, or running; and which workflows the tier's `maxWorkflows` lets run
//! (the oldest keep running).

use crate::conditions::Verdict;
use crate::model::{
    age_key, Amount, ContainerLimits, Index, Resolved, Resources, Rollout, TenantResolution, WorkflowDecision,
};
use crate::world::NamespacedName;
use crate::{capabilities, cron, labels, quantity, templates};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube_core::ResourceExt;
use std::collections::BTreeMap;
use tenantry_api::common::ResourceAmounts;
use tenantry_api::conditions::reason;
use tenantry_api::workflow::Trigger;
use tenantry_api::{ServiceTier, Workflow, WorkflowPhase, WorkflowSpec};

/// Longest CronJob name Kubernetes accepts (it appends 11 characters to name its Jobs).
const MAX_CRONJOB_NAME: usize = 52;

/// Decides every workflow.
pub fn decide<'a, 'w>(
    index: &Index<'a>,
    tenants: &'w BTreeMap<String, TenantResolution<'a>>,
) -> BTreeMap<NamespacedName, WorkflowDecision<'a, 'w>> {
    let namespace_owner: BTreeMap<&str, &TenantResolution> =
        tenants.values().filter(|t| t.owns_namespace).map(|t| (t.namespace.as_str(), t)).collect();
    let mut decisions = BTreeMap::new();
    // Workflows that could run, per tenant namespace, before the tier's maxWorkflows.
    let mut eligible: BTreeMap<String, Vec<NamespacedName>> = BTreeMap::new();

    for ((namespace, name), workflow) in &index.workflows {
        let key = (namespace.clone(), name.clone());
        let owner = namespace_owner.get(namespace.as_str()).copied();
        let (tenant, phase, verdict, resources) = match owner {
            None => (
                None,
                WorkflowPhase::Blocked,
                Verdict::stalled(reason::NO_TENANT, format!("namespace '{namespace}' belongs to no tenant")),
                None,
            ),
            Some(tenant_plan) => match &tenant_plan.state {
                Err(why) => (
                    None,
                    WorkflowPhase::Blocked,
                    Verdict::stalled(
                        reason::TENANT_NOT_READY,
                        format!("tenant '{}' cannot be planned: {}", tenant_plan.name, why.message()),
                    ),
                    None,
                ),
                Ok(resolved) => {
                    let (phase, verdict, resources) = decide_one(index, workflow, name, tenant_plan, resolved);
                    if phase == WorkflowPhase::Running {
                        eligible.entry(namespace.clone()).or_default().push(key.clone());
                    }
                    (Some((tenant_plan, resolved)), phase, verdict, resources)
                }
            },
        };
        decisions.insert(
            key,
            WorkflowDecision {
                workflow,
                namespace: namespace.clone(),
                name: name.clone(),
                tenant,
                rollout: if phase == WorkflowPhase::Blocked { Rollout::Keep } else { Rollout::Render },
                phase,
                verdict,
                resources,
                gate: None,
            },
        );
    }
    for keys in eligible.values_mut() {
        keys.sort_by_key(|key| age_key(index.workflows[key]));
        hold_beyond_limit(keys, &mut decisions);
    }
    decisions
}

/// Holds the workflows of one namespace, oldest first in `keys`, that come after the tier's
/// `maxWorkflows`.
fn hold_beyond_limit(keys: &[NamespacedName], decisions: &mut BTreeMap<NamespacedName, WorkflowDecision>) {
    for (position, key) in keys.iter().enumerate() {
        let Some(decision) = decisions.get_mut(key) else { continue };
        let Some((_, resolved)) = decision.tenant else { continue };
        let max = resolved.tier.spec.limits.max_workflows.max(0) as usize;
        if position >= max {
            decision.phase = WorkflowPhase::Held;
            decision.verdict = Verdict::stalled(
                reason::TIER_WORKFLOW_LIMIT,
                format!(
                    "tier '{}' runs at most {max} workflows and {max} older ones already run; this one is held (scaled to zero)",
                    resolved.tier.name_any(),
                ),
            );
        }
    }
}

/// Decides one workflow of a resolved tenant, before the workflow limit is applied: an error
/// in its spec or its resources blocks it; otherwise the tenant, the workflow and the tier
/// decide whether it runs.
fn decide_one(
    index: &Index,
    workflow: &Workflow,
    name: &str,
    tenant: &TenantResolution,
    resolved: &Resolved,
) -> (WorkflowPhase, Verdict, Option<Resources>) {
    let spec = &workflow.spec;
    let spec_error = name_error(name, &spec.trigger)
        .or_else(|| trigger_error(&spec.trigger))
        .or_else(|| template_error(spec))
        .or_else(|| connector_error(spec, tenant));
    if let Some(verdict) = spec_error {
        return (WorkflowPhase::Blocked, verdict, None);
    }
    match choose_resources(spec.runner.resources.as_ref(), &resolved.limits) {
        Ok(resources) => {
            let (phase, verdict) = standing(index, spec, tenant, resolved);
            (phase, verdict, Some(resources))
        }
        Err(message) => (WorkflowPhase::Blocked, Verdict::stalled(reason::INVALID_RESOURCES, message), None),
    }
}

/// The name must be a label value, and short enough for a CronJob when scheduled.
fn name_error(name: &str, trigger: &Trigger) -> Option<Verdict> {
    if !labels::is_valid_value(name) {
        return Some(Verdict::stalled(
            reason::INVALID_NAME,
            format!("workflow name '{name}' must be at most 63 characters"),
        ));
    }
    if trigger.schedule.is_some() && name.len() > MAX_CRONJOB_NAME {
        return Some(Verdict::stalled(
            reason::INVALID_NAME,
            format!("a scheduled workflow's name must be at most {MAX_CRONJOB_NAME} characters (CronJob limit)"),
        ));
    }
    None
}

/// Exactly one trigger, and a schedule a CronJob accepts in a time zone that exists.
fn trigger_error(trigger: &Trigger) -> Option<Verdict> {
    let set = [trigger.schedule.is_some(), trigger.continuous.is_some(), trigger.event.is_some()];
    if set.iter().filter(|set| **set).count() != 1 {
        return Some(Verdict::stalled(
            reason::INVALID_TRIGGER,
            "spec.trigger: set exactly one of schedule, continuous or event",
        ));
    }
    let schedule = trigger.schedule.as_ref()?;
    if let Err(why) = cron::validate(&schedule.cron) {
        return Some(Verdict::stalled(
            reason::INVALID_SCHEDULE,
            format!("spec.trigger.schedule.cron '{}': {why}", schedule.cron),
        ));
    }
    let zone = schedule.time_zone.as_ref()?;
    if jiff::tz::TimeZone::get(zone).is_err() || zone == "Local" {
        return Some(Verdict::stalled(
            reason::INVALID_TIME_ZONE,
            format!("spec.trigger.schedule.timeZone: '{zone}' is not an IANA time zone"),
        ));
    }
    None
}

/// The template must be one the runner knows for the category, or a `custom-` one.
fn template_error(spec: &WorkflowSpec) -> Option<Verdict> {
    if templates::allowed(spec.category, &spec.template) {
        return None;
    }
    Some(Verdict::stalled(
        reason::UNKNOWN_TEMPLATE,
        format!(
            "spec.template: '{}' is not a {} template (known: {}; or use a custom- prefix)",
            spec.template,
            spec.category,
            templates::known(spec.category).join(", ")
        ),
    ))
}

/// Every connector, and the system an event comes from, must be a connected system of the
/// tenant.
fn connector_error(spec: &WorkflowSpec, tenant: &TenantResolution) -> Option<Verdict> {
    let declared: Vec<&str> = tenant.tenant.spec.connected_systems.iter().map(|s| s.name.as_str()).collect();
    let mut wanted: Vec<(&str, String)> =
        spec.connectors.iter().map(|c| (c.as_str(), format!("spec.connectors: '{c}'"))).collect();
    if let Some(event) = &spec.trigger.event {
        let system = event.source.split('/').next().unwrap_or_default();
        wanted.push((system, format!("spec.trigger.event.source: '{system}'")));
    }
    let (_, field) = wanted.iter().find(|(name, _)| !declared.contains(name))?;
    Some(Verdict::stalled(
        reason::MISSING_CONNECTOR,
        format!("{field} is not a connected system of tenant '{}' (declared: {})", tenant.name, declared.join(", ")),
    ))
}

/// Where a deployable workflow stands: suspended with its tenant, paused, held by a tier that
/// does not allow its category or lacks a capability it needs, or running.
fn standing(
    index: &Index,
    spec: &WorkflowSpec,
    tenant: &TenantResolution,
    resolved: &Resolved,
) -> (WorkflowPhase, Verdict) {
    if tenant.tenant.spec.suspended {
        return (
            WorkflowPhase::Suspended,
            Verdict::idle(
                reason::TENANT_SUSPENDED,
                format!("tenant '{}' is suspended; the workflow is scaled to zero", tenant.name),
            ),
        );
    }
    if spec.paused {
        return (
            WorkflowPhase::Suspended,
            Verdict::idle(reason::PAUSED, "spec.paused is true; the workflow is scaled to zero"),
        );
    }
    if !resolved.tier.spec.workflow_categories.contains(&spec.category) {
        return (
            WorkflowPhase::Held,
            Verdict::stalled(
                reason::TIER_DISALLOWS_CATEGORY,
                format!(
                    "tier '{}' does not allow category {}; the workflow is held (scaled to zero) until the tenant moves to a tier that does",
                    resolved.tier.name_any(),
                    spec.category
                ),
            ),
        );
    }
    if let Some(verdict) = lacking_capability(index, spec, resolved) {
        return (WorkflowPhase::Held, verdict);
    }
    (WorkflowPhase::Running, Verdict::ready(reason::DEPLOYED, "workload planned with the current definition"))
}

/// Why the tier cannot run the workflow's features, naming the first capability it lacks and
/// the lowest tier of the same partner that has every capability and the category.
fn lacking_capability(index: &Index, spec: &WorkflowSpec, resolved: &Resolved) -> Option<Verdict> {
    let needs = capabilities::required(spec);
    let has = |tier: &ServiceTier, capability| tier.spec.capabilities.contains(&capability);
    let (missing, feature) = needs.iter().find(|(capability, _)| !has(resolved.tier, *capability))?;
    let partner = &resolved.tier.spec.partner_ref;
    let upgrade = index
        .tiers
        .values()
        .filter(|tier| &tier.spec.partner_ref == partner)
        .filter(|tier| tier.spec.workflow_categories.contains(&spec.category))
        .filter(|tier| needs.iter().all(|(capability, _)| has(tier, *capability)))
        .min_by_key(|tier| (tier.spec.level, tier.name_any()));
    let offer = match upgrade {
        Some(tier) => format!("tier '{}' includes it", tier.name_any()),
        None => format!("no tier of partner '{partner}' includes it with category {}", spec.category),
    };
    Some(Verdict::stalled(
        reason::TIER_LACKS_CAPABILITY,
        format!(
            "{feature} needs capability {}, which tier '{}' does not include; the workflow is held (scaled to zero) until the tenant moves up ({offer})",
            capabilities::name(*missing),
            resolved.tier.name_any(),
        ),
    ))
}

/// Defaults missing resources from the tier and caps them at its maximum.
fn choose_resources(asked: Option<&ResourceAmounts>, limits: &ContainerLimits) -> Result<Resources, String> {
    let mut capped = Vec::new();
    let mut pick = |what: &str, asked: Option<&Quantity>, default: &Amount, max: &Amount| -> Result<Quantity, String> {
        let Some(asked) = asked else { return Ok(default.quantity.clone()) };
        let milli = quantity::parse(&asked.0).map_err(|e| format!("spec.runner.resources.{what}: {e}"))?;
        if milli.0 <= 0 {
            return Err(format!("spec.runner.resources.{what}: must be positive"));
        }
        if milli > max.milli {
            capped.push(format!("spec.runner.resources.{what} {} capped at the tier's {}", asked.0, max.quantity.0));
            return Ok(max.quantity.clone());
        }
        Ok(asked.clone())
    };
    let cpu = pick("cpu", asked.and_then(|a| a.cpu.as_ref()), &limits.default_cpu, &limits.max_cpu)?;
    let memory = pick("memory", asked.and_then(|a| a.memory.as_ref()), &limits.default_memory, &limits.max_memory)?;
    Ok(Resources { cpu, memory, capped })
}
