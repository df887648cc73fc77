//! Turns a plan into what `tenantry plan` prints: a table per tenant for people, or the
//! manifests as YAML or JSON for `kubectl apply -f -`.

use crate::api::billing::BillingPhase;
use crate::api::conditions::{reason, POLICY_ADJUSTED, READY};
use crate::api::{Condition, ConditionStatus, Tenant};
use crate::planner::billing::Currency;
use crate::planner::{Child, Plan, World};
use kube::ResourceExt;
use std::collections::BTreeMap;
use std::fmt::Write;

/// How many objects one thread renders into a buffer of its own before the buffers are
/// written out in order: enough to make a thread worth starting, small enough that the
/// buffers of a fleet's manifests are never held at once.
const RUN: usize = 256;

/// The manifests as a multi-document YAML stream, in apply order. They are rendered on
/// every core, a run of documents at a time, and written in order as they are rendered: a
/// fleet's manifests are never held as one string, and the bytes are those of rendering them
/// one by one.
pub fn yaml(plan: &Plan, out: &mut impl std::io::Write) -> Result<(), RenderError> {
    in_order(&plan.children, out, |child, buffer| {
        buffer.extend_from_slice(b"---\n");
        serde_yaml::to_writer(&mut *buffer, &child.object)?;
        Ok(())
    })
}

/// The manifests as a `v1/List`, in apply order (each item with its keys sorted, as
/// `serde_json::Value` orders them), pretty-printed as `serde_json` prints the whole list.
/// The items are rendered on every core and streamed in order, as [`yaml`] does.
pub fn json(plan: &Plan, out: &mut impl std::io::Write) -> Result<(), RenderError> {
    out.write_all(b"{\n  \"apiVersion\": \"v1\",\n  \"items\": [")?;
    let first = plan.children.first();
    in_order(&plan.children, out, |child, buffer| {
        // Items sit two levels deep: every line of an item is indented by four spaces, and
        // a JSON string never holds a raw newline, so every newline is a line of the layout.
        let separator: &[u8] =
            if first.is_some_and(|first| std::ptr::eq(first, child)) { b"\n    " } else { b",\n    " };
        buffer.extend_from_slice(separator);
        serde_json::to_writer_pretty(Indented(buffer), &child.object.to_manifest()?)?;
        Ok(())
    })?;
    let close: &[u8] = if plan.children.is_empty() { b"]" } else { b"\n  ]" };
    out.write_all(close)?;
    out.write_all(b",\n  \"kind\": \"List\"\n}\n")?;
    Ok(())
}

/// A writer that indents every line after the first by four spaces (two JSON levels).
struct Indented<'a>(&'a mut Vec<u8>);

impl std::io::Write for Indented<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut lines = bytes.split(|&byte| byte == b'\n');
        if let Some(first) = lines.next() {
            self.0.extend_from_slice(first);
        }
        for line in lines {
            self.0.extend_from_slice(b"\n    ");
            self.0.extend_from_slice(line);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Renders each child with `render` into buffers on every core, a run of [`RUN`] children
/// per buffer, and writes the buffers to `out` in the children's order. On an error, what was
/// rendered before it is written first, as a one-by-one rendering would have.
fn in_order<F>(children: &[Child], out: &mut impl std::io::Write, render: F) -> Result<(), RenderError>
where
    F: Fn(&Child, &mut Vec<u8>) -> Result<(), RenderError> + Sync,
{
    let render_run = |run: &[Child]| {
        let mut buffer = Vec::new();
        let result = run.iter().try_for_each(|child| render(child, &mut buffer));
        (buffer, result)
    };
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    for window in children.chunks(RUN * workers) {
        let rendered: Vec<(Vec<u8>, Result<(), RenderError>)> = if workers < 2 || window.len() <= RUN {
            window.chunks(RUN).map(render_run).collect()
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = window.chunks(RUN).map(|run| scope.spawn(move || render_run(run))).collect();
                // A worker only panics on a bug: carry its panic on.
                handles.into_iter().map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
            })
        };
        for (buffer, result) in rendered {
            out.write_all(&buffer)?;
            result?;
        }
    }
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
