//! Turns a plan into what `tenantry plan` prints: a table per tenant for people, or the
//! manifests as YAML or JSON for `kubectl apply -f -`.

use crate::api::billing::BillingPhase;
use crate::api::conditions::{reason, POLICY_ADJUSTED, READY};
use crate::api::{Condition, ConditionStatus, Tenant};
use crate::planner::billing::Currency;
use crate::planner::{Plan, World};
use kube::ResourceExt;
use std::collections::BTreeMap;
use std::fmt::Write;

/// The manifests as a multi-document YAML stream, in apply order, written as they are
/// rendered: a fleet's manifests are never held as one string.
pub fn yaml(plan: &Plan, out: &mut impl std::io::Write) -> Result<(), RenderError> {
    for child in &plan.children {
        out.write_all(b"---\n")?;
        serde_yaml::to_writer(&mut *out, &child.object)?;
    }
    Ok(())
}

/// The manifests as a `v1/List`, in apply order, streamed item by item (each item with its
/// keys sorted, as `serde_json::Value` orders them).
pub fn json(plan: &Plan, out: &mut impl std::io::Write) -> Result<(), RenderError> {
    serde_json::to_writer_pretty(&mut *out, &ManifestList { children: &plan.children })?;
    out.write_all(b"\n")?;
    Ok(())
}

/// Why a plan could not be written out.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// Writing to the output failed (a closed pipe, a full disk).
    #[error("cannot write the output: {0}")]
    Write(#[from] std::io::Error),
    /// An object could not be rendered as YAML.
    #[error("cannot render YAML: {0}")]
    Yaml(#[from] serde_yaml::Error),
    /// An object could not be rendered as JSON.
    #[error("cannot render JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// `{"apiVersion": "v1", "items": [...], "kind": "List"}`, keys in the order a
/// `serde_json::Value` map sorts them, each item turned into JSON only when it is written.
struct ManifestList<'a> {
    children: &'a [crate::planner::Child],
}

impl serde::Serialize for ManifestList<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut list = serializer.serialize_map(Some(3))?;
        list.serialize_entry("apiVersion", "v1")?;
        list.serialize_entry("items", &Manifests(self.children))?;
        list.serialize_entry("kind", "List")?;
        list.end()
    }
}

/// The items of a [`ManifestList`].
struct Manifests<'a>(&'a [crate::planner::Child]);

impl serde::Serialize for Manifests<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        let mut items = serializer.serialize_seq(Some(self.0.len()))?;
        for child in self.0 {
            items.serialize_element(&child.object.to_manifest().map_err(S::Error::custom)?)?;
        }
        items.end()
    }
}

fn ready(conditions: &[Condition]) -> (&'static str, String, String) {
    match conditions.iter().find(|c| c.type_ == READY) {
        Some(c) => (
            match c.status {
                ConditionStatus::True => "True",
                ConditionStatus::False => "False",
                ConditionStatus::Unknown => "Unknown",
            },
            c.reason.clone(),
            c.message.clone(),
        ),
        None => ("Unknown", String::new(), String::new()),
    }
}

/// A summary for people: each tenant with its tier, namespace and readiness, each of its
/// workflows with its trigger, phase and reason, then whatever else is not ready.
pub fn table(world: &World, plan: &Plan) -> String {
    let mut out = String::new();
    let mut problems = Vec::new();
    let _ =
        writeln!(out, "{:<28} {:<20} {:<32} {:<28} {:<6} REASON", "TENANT", "PARTNER", "TIER", "NAMESPACE", "READY");
    let mut tenants: Vec<_> = world.tenants.iter().collect();
    tenants.sort_by_key(|t| t.name_any());
    let lookups = Lookups::new(world, plan);
    for tenant in tenants {
        tenant_rows(&mut out, &mut problems, &lookups, plan, tenant);
    }
    problems.extend(fleet_problems(plan));
    summary(&mut out, plan, &problems);
    governance(&mut out, plan);
    out
}

/// What the rows look up, indexed once so the table grows linearly with the fleet: each
/// declared workflow by namespace and name (the first declared wins, as a scan would find),
/// and each tenant's latest billing record (the first of the latest period, as `max_by` finds
/// the last of equals in name order).
struct Lookups<'a> {
    workflows: BTreeMap<(String, String), &'a crate::api::Workflow>,
    latest_bill: BTreeMap<&'a str, &'a crate::api::BillingRecord>,
}

impl<'a> Lookups<'a> {
    fn new(world: &'a World, plan: &'a Plan) -> Self {
        let mut workflows = BTreeMap::new();
        for workflow in &world.workflows {
            workflows.entry((workflow.namespace().unwrap_or_default(), workflow.name_any())).or_insert(workflow);
        }
        let mut latest_bill: BTreeMap<&str, &crate::api::BillingRecord> = BTreeMap::new();
        for record in plan.billing_records.values() {
            let entry = latest_bill.entry(record.spec.tenant_ref.as_str()).or_insert(record);
            if record.spec.period >= entry.spec.period {
                *entry = record;
            }
        }
        Lookups { workflows, latest_bill }
    }
}

/// Each workflow's latest governance decision and each policy adjustment, so a reviewer of a
/// GitOps change sees what the policies do to it.
fn governance(out: &mut String, plan: &Plan) {
    let mut lines = Vec::new();
    for ((namespace, workflow), status) in &plan.workflows {
        if let Some(decision) = status.decisions.last() {
            lines.push(format!(
                "Workflow/{namespace}/{workflow}: {} {} (policy {}): {}",
                decision.decision,
                decision.reason,
                decision.policies.join(", "),
                decision.message
            ));
        }
        for adjusted in status.conditions.iter().filter(|c| c.type_ == POLICY_ADJUSTED) {
            lines.push(format!("Workflow/{namespace}/{workflow}: {}: {}", adjusted.reason, adjusted.message));
        }
    }
    if !lines.is_empty() {
        let _ = writeln!(out, "\nGovernance:");
        for line in lines {
            let _ = writeln!(out, "  {line}");
        }
    }
}

/// A tenant's row, then a row for each workflow in its namespace.
fn tenant_rows(out: &mut String, problems: &mut Vec<String>, lookups: &Lookups<'_>, plan: &Plan, tenant: &Tenant) {
    let name = tenant.name_any();
    let Some(status) = plan.tenants.get(&name) else { return };
    let (ready_status, reason, message) = ready(&status.conditions);
    let namespace = status.namespace.clone().unwrap_or_default();
    let _ = writeln!(
        out,
        "{:<28} {:<20} {:<32} {:<28} {:<6} {}",
        name, tenant.spec.partner_ref, tenant.spec.tier_ref, namespace, ready_status, reason
    );
    if ready_status != "True" {
        problems.push(format!("Tenant/{name}: {message}"));
    }
    if let Some(line) = lookups.latest_bill.get(name.as_str()).map(|record| current_bill(record)) {
        let _ = writeln!(out, "  {line}");
    }
    if !status.policies.is_empty() {
        let _ = writeln!(out, "  Policies: {}", status.policies.join(", "));
    }
    // A tenant that lost its namespace to an older one lists none of the workflows there.
    if plan.namespace_owners.get(&namespace) == Some(&name) {
        workflow_rows(out, problems, lookups, plan, &namespace);
    }
}

/// The tenant's latest bill in one line: the month, the total so far, Open or Closed, and
/// while open the estimate for the whole month.
fn current_bill(record: &crate::api::BillingRecord) -> String {
    let currency = Currency::new(&record.spec.currency);
    let money = |amount: i64| format!("{} {}", currency.format(amount), record.spec.currency);
    let status = record.status.as_ref();
    match (status.and_then(|s| s.phase), status.and_then(|s| s.estimated_month_total)) {
        (Some(BillingPhase::Closed), _) => {
            format!("Bill {}: {} (Closed)", record.spec.period, money(record.spec.total))
        }
        (_, Some(estimate)) => format!(
            "Bill {}: {} so far (Open, estimate {} for the month)",
            record.spec.period,
            money(record.spec.total),
            money(estimate)
        ),
        _ => format!("Bill {}: {} so far (Open)", record.spec.period, money(record.spec.total)),
    }
}

/// A row for each workflow in `namespace`: its category, trigger, phase and reason.
fn workflow_rows(out: &mut String, problems: &mut Vec<String>, lookups: &Lookups<'_>, plan: &Plan, namespace: &str) {
    let in_namespace =
        plan.workflows.range((namespace.to_string(), String::new())..).take_while(|((ns, _), _)| ns == namespace);
    for ((workflow_namespace, workflow), workflow_status) in in_namespace {
        let declared = lookups.workflows.get(&(workflow_namespace.clone(), workflow.clone()));
        let category = declared.map(|w| w.spec.category.as_str()).unwrap_or_default();
        let phase = workflow_status.phase.map(|p| format!("{p:?}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:<36} {:<24} {:<48} {:<9} {}",
            workflow,
            category,
            workflow_status.trigger.clone().unwrap_or_default(),
            phase,
            workflow_status.reason.clone().unwrap_or_default()
        );
        if workflow_status.reason.is_some() {
            let (_, _, message) = ready(&workflow_status.conditions);
            problems.push(format!("Workflow/{workflow_namespace}/{workflow}: {message}"));
        }
    }
}

/// What is not ready outside the tenants' rows: workflows of no tenant, tiers, partners.
fn fleet_problems(plan: &Plan) -> Vec<String> {
    let mut problems = Vec::new();
    for ((namespace, workflow), status) in &plan.workflows {
        if status.reason.as_deref() == Some(reason::NO_TENANT) {
            let (_, _, message) = ready(&status.conditions);
            problems.push(format!("Workflow/{namespace}/{workflow}: {message}"));
        }
    }
    for (name, status) in &plan.tiers {
        let (ready_status, _, message) = ready(&status.conditions);
        if ready_status != "True" {
            problems.push(format!("ServiceTier/{name}: {message}"));
        }
    }
    for (name, status) in &plan.partners {
        let (ready_status, _, message) = ready(&status.conditions);
        if ready_status != "True" {
            problems.push(format!("Partner/{name}: {message}"));
        }
    }
    problems
}

/// The counts, then every problem.
fn summary(out: &mut String, plan: &Plan, problems: &[String]) {
    let _ = writeln!(
        out,
        "\n{} partners, {} tiers, {} tenants, {} workflows; {} objects to apply, {} owners left untouched, {} scaled to zero",
        plan.partners.len(),
        plan.tiers.len(),
        plan.tenants.len(),
        plan.workflows.len(),
        plan.children.len(),
        plan.frozen.len(),
        plan.stopped.len()
    );
    if !problems.is_empty() {
        let _ = writeln!(out, "\nNot ready:");
        for problem in problems {
            let _ = writeln!(out, "  {problem}");
        }
    }
}
