//! Decides each workflow's phase: blocked by an error in its spec or references, suspended,
//! held by its tier, or running; and which workflows the tier's `maxWorkflows` lets run
//! (the oldest keep running).

use super::conditions::{Conditions, Verdict};
use super::resolve::{Amount, ContainerLimits, Index, Resolved, TenantPlan};
use super::{age_key, build_workflow, cron, labels, quantity, templates, OwnerKey, Plan};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube_core::ResourceExt;
use std::collections::BTreeMap;
use tenantry_api::common::ResourceAmounts;
use tenantry_api::workflow::Trigger;
use tenantry_api::{ConditionStatus, Workflow, WorkflowPhase, WorkflowStatus};

/// Longest CronJob name Kubernetes accepts (it appends 11 characters to name its Jobs).
const MAX_CRONJOB_NAME: usize = 52;

/// The CPU and memory a workflow's container gets, after defaults and caps.
#[derive(Debug, Clone, PartialEq)]
pub struct Resources {
    /// CPU request and limit.
    pub cpu: Quantity,
    /// Memory request and limit.
    pub memory: Quantity,
    /// Fields that asked for more than the tier allows, with what was asked.
    pub capped: Vec<String>,
}

/// What the planner decided for one workflow.
pub struct Outcome<'a, 'w> {
    /// The declared workflow.
    pub workflow: &'a Workflow,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its tenant, when the namespace belongs to a resolved one.
    pub tenant: Option<(&'w TenantPlan<'a>, &'w Resolved<'a>)>,
    /// Where it stands.
    pub phase: WorkflowPhase,
    /// Ready or why not.
    pub verdict: Verdict,
    /// Container resources, when it is deployed.
    pub resources: Option<Resources>,
}

impl Outcome<'_, '_> {
    /// The key of this workflow as an owner of children.
    pub fn owner(&self) -> OwnerKey {
        OwnerKey::Workflow { namespace: self.namespace.clone(), name: self.name.clone() }
    }

    /// Whether its children are planned (true unless it is blocked).
    pub fn deployed(&self) -> bool {
        self.phase != WorkflowPhase::Blocked
    }

    /// Adds the workflow's children (or freezes them) and its status to the plan.
    pub fn plan_into(&self, now: &str, plan: &mut Plan) {
        let previous = self.workflow.status.clone().unwrap_or_default();
        let mut conditions = Conditions::new(&previous.conditions, now, self.workflow.metadata.generation);
        conditions.readiness(&self.verdict);
        let mut deployed_generation = previous.deployed_generation;
        match (&self.tenant, &self.resources) {
            (Some((tenant, resolved)), Some(resources)) if self.deployed() => {
                let running = self.phase == WorkflowPhase::Running;
                plan.children.extend(build_workflow::children(self.workflow, tenant, resolved, resources, running));
                deployed_generation = self.workflow.metadata.generation;
                if let Some(capped) = (!resources.capped.is_empty()).then(|| resources.capped.join("; ")) {
                    conditions.set("ResourcesCapped", ConditionStatus::True, "AboveTierMaximum", capped);
                }
            }
            _ => {
                plan.frozen.insert(self.owner());
            }
        }
        plan.workflows.insert(
            (self.namespace.clone(), self.name.clone()),
            WorkflowStatus {
                observed_generation: self.workflow.metadata.generation,
                phase: Some(self.phase),
                reason: (self.phase != WorkflowPhase::Running).then(|| self.verdict.reason().to_string()),
                trigger: Some(trigger_summary(&self.workflow.spec.trigger)),
                deployed_generation,
                runs: previous.runs.clone(),
                last_run_time: previous.last_run_time.clone(),
                conditions: conditions.finish(),
            },
        );
    }
}

/// One line describing a trigger, for printer columns and tables.
pub fn trigger_summary(trigger: &Trigger) -> String {
    match (&trigger.schedule, &trigger.continuous, &trigger.event) {
        (Some(schedule), None, None) => match &schedule.time_zone {
            Some(zone) => format!("schedule {} ({zone})", schedule.cron),
            None => format!("schedule {}", schedule.cron),
        },
        (None, Some(continuous), None) => format!("continuous x{}", continuous.replicas),
        (None, None, Some(event)) => format!("event {}", event.source),
        _ => "invalid".to_string(),
    }
}

/// Decides every workflow.
pub fn decide<'a, 'w>(
    index: &Index<'a>,
    tenants: &'w BTreeMap<String, TenantPlan<'a>>,
) -> BTreeMap<(String, String), Outcome<'a, 'w>> {
    let namespace_owner: BTreeMap<&str, &TenantPlan> =
        tenants.values().filter(|t| t.owns_namespace).map(|t| (t.namespace.as_str(), t)).collect();
    let mut outcomes = BTreeMap::new();
    // Workflows that could run, per tenant namespace, before the tier's maxWorkflows.
    let mut eligible: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();

    for ((namespace, name), workflow) in &index.workflows {
        let key = (namespace.clone(), name.clone());
        let owner = namespace_owner.get(namespace.as_str()).copied();
        let (tenant, phase, verdict, resources) = match owner {
            None => (
                None,
                WorkflowPhase::Blocked,
                Verdict::stalled("NoTenant", format!("namespace '{namespace}' belongs to no tenant")),
                None,
            ),
            Some(tenant_plan) => match &tenant_plan.state {
                Err(why) => (
                    None,
                    WorkflowPhase::Blocked,
                    Verdict::stalled(
                        "TenantNotReady",
                        format!("tenant '{}' cannot be planned: {}", tenant_plan.name, why.message()),
                    ),
                    None,
                ),
                Ok(resolved) => {
                    let (phase, verdict, resources) = decide_one(workflow, name, tenant_plan, resolved);
                    if phase == WorkflowPhase::Running {
                        eligible.entry(namespace.clone()).or_default().push(key.clone());
                    }
                    (Some((tenant_plan, resolved)), phase, verdict, resources)
                }
            },
        };
        outcomes.insert(
            key,
            Outcome { workflow, namespace: namespace.clone(), name: name.clone(), tenant, phase, verdict, resources },
        );
    }

    for keys in eligible.values_mut() {
        keys.sort_by_key(|key| age_key(index.workflows[key]));
        for (position, key) in keys.iter().enumerate() {
            let Some(outcome) = outcomes.get_mut(key) else { continue };
            let Some((_, resolved)) = outcome.tenant else { continue };
            let max = resolved.tier.spec.limits.max_workflows.max(0) as usize;
            if position >= max {
                outcome.phase = WorkflowPhase::Held;
                outcome.verdict = Verdict::stalled(
                    "TierWorkflowLimit",
                    format!(
                        "tier '{}' runs at most {max} workflows and {max} older ones already run; this one is held (scaled to zero)",
                        resolved.tier.name_any(),
                    ),
                );
            }
        }
    }
    outcomes
}

/// Decides one workflow of a resolved tenant, before the workflow limit is applied.
fn decide_one(
    workflow: &Workflow,
    name: &str,
    tenant: &TenantPlan,
    resolved: &Resolved,
) -> (WorkflowPhase, Verdict, Option<Resources>) {
    let blocked = |reason: &str, message: String| (WorkflowPhase::Blocked, Verdict::stalled(reason, message), None);
    let spec = &workflow.spec;
    let schedule = spec.trigger.schedule.as_ref();
    if !labels::is_valid_value(name) {
        return blocked("InvalidName", format!("workflow name '{name}' must be at most 63 characters"));
    }
    if schedule.is_some() && name.len() > MAX_CRONJOB_NAME {
        return blocked(
            "InvalidName",
            format!("a scheduled workflow's name must be at most {MAX_CRONJOB_NAME} characters (CronJob limit)"),
        );
    }
    let triggers = [schedule.is_some(), spec.trigger.continuous.is_some(), spec.trigger.event.is_some()];
    if triggers.iter().filter(|set| **set).count() != 1 {
        return blocked("InvalidTrigger", "spec.trigger: set exactly one of schedule, continuous or event".into());
    }
    if let Some(schedule) = schedule {
        if let Err(why) = cron::validate(&schedule.cron) {
            return blocked("InvalidSchedule", format!("spec.trigger.schedule.cron '{}': {why}", schedule.cron));
        }
        if let Some(zone) = &schedule.time_zone {
            if jiff::tz::TimeZone::get(zone).is_err() || zone == "Local" {
                return blocked(
                    "InvalidTimeZone",
                    format!("spec.trigger.schedule.timeZone: '{zone}' is not an IANA time zone"),
                );
            }
        }
    }
    if !templates::allowed(spec.category, &spec.template) {
        return blocked(
            "UnknownTemplate",
            format!(
                "spec.template: '{}' is not a {} template (known: {}; or use a custom- prefix)",
                spec.template,
                spec.category,
                templates::known(spec.category).join(", ")
            ),
        );
    }
    let declared: Vec<&str> = tenant.tenant.spec.connected_systems.iter().map(|s| s.name.as_str()).collect();
    let mut wanted: Vec<(&str, String)> =
        spec.connectors.iter().map(|c| (c.as_str(), format!("spec.connectors: '{c}'"))).collect();
    if let Some(event) = &spec.trigger.event {
        let system = event.source.split('/').next().unwrap_or_default();
        wanted.push((system, format!("spec.trigger.event.source: '{system}'")));
    }
    if let Some((_, field)) = wanted.iter().find(|(name, _)| !declared.contains(name)) {
        return blocked(
            "MissingConnector",
            format!(
                "{field} is not a connected system of tenant '{}' (declared: {})",
                tenant.name,
                declared.join(", ")
            ),
        );
    }
    let resources = match choose_resources(spec.runner.resources.as_ref(), &resolved.limits) {
        Ok(resources) => resources,
        Err(message) => return blocked("InvalidResources", message),
    };

    if tenant.tenant.spec.suspended {
        return (
            WorkflowPhase::Suspended,
            Verdict::idle(
                "TenantSuspended",
                format!("tenant '{}' is suspended; the workflow is scaled to zero", tenant.name),
            ),
            Some(resources),
        );
    }
    if spec.paused {
        return (
            WorkflowPhase::Suspended,
            Verdict::idle("Paused", "spec.paused is true; the workflow is scaled to zero"),
            Some(resources),
        );
    }
    if !resolved.tier.spec.workflow_categories.contains(&spec.category) {
        return (
            WorkflowPhase::Held,
            Verdict::stalled(
                "TierDisallowsCategory",
                format!(
                    "tier '{}' does not allow category {}; the workflow is held (scaled to zero) until the tenant moves to a tier that does",
                    resolved.tier.name_any(),
                    spec.category
                ),
            ),
            Some(resources),
        );
    }
    (
        WorkflowPhase::Running,
        Verdict::ready("Deployed", "workload planned with the current definition"),
        Some(resources),
    )
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
