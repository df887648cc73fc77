//! Planner benchmarks on generated fleets (`tenantry bench generate`): the whole fleet at 1k,
//! 10k and 50k tenants (time, peak memory, objects produced), the fleet-status pass, one
//! tenant re-planned after one change through indexed lookups (one live reconcile) at each
//! size side by side, a tier change that touches 2,000 tenants, and revenue over a year of
//! history. Run with `cargo bench --bench plan` (`-- quick` skips the 50k whole-fleet plan);
//! `cargo bench --bench live` measures the operator's side. Figures only: nothing here
//! passes or fails on time. See docs/performance.md.

#![allow(clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::time::Instant;
use support::{fleet, machine, measure, now, peak_mib, reset_peak, resident_mib, WORKFLOWS_PER_TENANT};
use tenantry_api::{Approval, BillingRecord, GovernancePolicy, Partner, ServiceTier, Tenant, Workflow};
use tenantry_planner::{self as planner, Catalog, World};

/// Lookups by key, as the controller's caches answer them, without the controller.
#[derive(Default)]
struct Indexed {
    tenants: BTreeMap<String, Tenant>,
    partners: BTreeMap<String, Partner>,
    tiers: BTreeMap<String, ServiceTier>,
    tenants_by_namespace: BTreeMap<String, Vec<Tenant>>,
    workflows_by_namespace: BTreeMap<String, Vec<Workflow>>,
    approvals_by_namespace: BTreeMap<String, Vec<Approval>>,
    policies: Vec<GovernancePolicy>,
}

impl Indexed {
    fn new(world: &World) -> Self {
        let name =
            |meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| meta.name.clone().unwrap_or_default();
        let mut indexed = Indexed { policies: world.policies.clone(), ..Indexed::default() };
        for partner in &world.partners {
            indexed.partners.insert(name(&partner.metadata), partner.clone());
        }
        for tier in &world.tiers {
            indexed.tiers.insert(name(&tier.metadata), tier.clone());
        }
        for tenant in &world.tenants {
            let tenant_name = name(&tenant.metadata);
            let namespace = tenant.spec.namespace_for(&tenant_name);
            indexed.tenants_by_namespace.entry(namespace).or_default().push(tenant.clone());
            indexed.tenants.insert(tenant_name, tenant.clone());
        }
        for workflow in &world.workflows {
            let namespace = workflow.metadata.namespace.clone().unwrap_or_default();
            indexed.workflows_by_namespace.entry(namespace).or_default().push(workflow.clone());
        }
        for approval in &world.approvals {
            let namespace = approval.metadata.namespace.clone().unwrap_or_default();
            indexed.approvals_by_namespace.entry(namespace).or_default().push(approval.clone());
        }
        indexed
    }
}

impl Catalog for Indexed {
    fn tenant(&self, name: &str) -> Option<Tenant> {
        self.tenants.get(name).cloned()
    }
    fn partner(&self, name: &str) -> Option<Partner> {
        self.partners.get(name).cloned()
    }
    fn tier(&self, name: &str) -> Option<ServiceTier> {
        self.tiers.get(name).cloned()
    }
    fn tenants_in_namespace(&self, namespace: &str) -> Vec<Tenant> {
        self.tenants_by_namespace.get(namespace).cloned().unwrap_or_default()
    }
    fn workflows_in_namespace(&self, namespace: &str) -> Vec<Workflow> {
        self.workflows_by_namespace.get(namespace).cloned().unwrap_or_default()
    }
    fn billing_records_of(&self, _tenant: &str) -> Vec<BillingRecord> {
        // No record written yet: the plan computes each month from the tier history.
        Vec::new()
    }
    fn policies(&self) -> Vec<GovernancePolicy> {
        self.policies.clone()
    }
    fn approvals_in_namespace(&self, namespace: &str) -> Vec<Approval> {
        self.approvals_by_namespace.get(namespace).cloned().unwrap_or_default()
    }
}

fn row(name: String, median: f64, fastest: f64, unit: &str, extra: String) {
    println!("{name:<58} {median:>10.3}{unit} {fastest:>10.3}{unit}  {extra}");
}

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    println!("machine: {}", machine());
    println!("{:<58} {:>12} {:>12}  produced / peak memory", "benchmark", "median", "fastest");
    let mut replans = Vec::new();
    for tenants in [1_000, 10_000, 50_000] {
        reset_peak();
        let before = resident_mib();
        let started = Instant::now();
        let world = fleet(tenants);
        println!(
            "{:<58} {:>10.3}s {:>12}  {:.0} MiB more resident",
            format!("generate {tenants} tenants, {} workflows", tenants * WORKFLOWS_PER_TENANT),
            started.elapsed().as_secs_f64(),
            "",
            resident_mib() - before
        );
        if !(quick && tenants > 10_000) {
            let runs = match tenants {
                1_000 => 5,
                10_000 => 3,
                _ => 1,
            };
            let world_mib = resident_mib();
            reset_peak();
            let mut produced = (0, 0);
            let (median, fastest) = measure(runs, || {
                let plan = planner::plan(&world, now());
                produced = (plan.children.len(), plan.billing_records.len());
            });
            row(
                format!("plan whole fleet: {tenants} tenants"),
                median.as_secs_f64(),
                fastest.as_secs_f64(),
                "s",
                format!(
                    "{} children, {} billing records; peak {:.0} MiB over the world",
                    produced.0,
                    produced.1,
                    peak_mib() - world_mib
                ),
            );
            let fleet_world = World { workflows: Vec::new(), ..world.clone() };
            let (median, fastest) = measure(runs, || {
                produced.0 = planner::fleet_statuses(&fleet_world, now()).children.len();
            });
            row(
                format!("fleet-status pass: {tenants} tenants"),
                median.as_secs_f64(),
                fastest.as_secs_f64(),
                "s",
                String::new(),
            );
            if tenants == 10_000 {
                // Billing and revenue for a year of history: each partner's twelve months from
                // the records the plan computes.
                let plan = planner::plan(&world, now());
                let records: Vec<BillingRecord> = plan.billing_records.values().cloned().collect();
                let through = planner::billing::Period::containing(now());
                let mut months = 0;
                let (median, fastest) = measure(5, || {
                    months = world
                        .partners
                        .iter()
                        .map(|p| {
                            let name = p.metadata.name.clone().unwrap_or_default();
                            planner::billing::revenue::revenue(&records, &name, p.spec.cost_model.as_ref(), through, 12)
                                .len()
                        })
                        .sum::<usize>();
                });
                row(
                    format!("revenue, 12 months, every partner ({tenants} tenants)"),
                    median.as_secs_f64() * 1e3,
                    fastest.as_secs_f64() * 1e3,
                    "ms",
                    format!("{} records in, {months} partner-months out", records.len()),
                );
            }
        }

        // One live reconcile after one change: a workflow's replicas and generation change in
        // the indexed caches, then its tenant's slice is looked up and planned.
        let mut indexed = Indexed::new(&world);
        let target = planner::generate::tenant_name(tenants / 2);
        let namespace = format!("tenant-{target}");
        let mut children = 0;
        let mut generation = 1;
        let (median, fastest) = measure(201, || {
            generation += 1;
            let workflows = indexed.workflows_by_namespace.get_mut(&namespace).expect("workflows");
            workflows[0].metadata.generation = Some(generation);
            workflows[0].spec.steps[0].action = format!("fetch-orders-{generation}");
            let slice = planner::tenant_slice(&indexed, &target).expect("tenant");
            children = planner::plan(&slice, now()).for_tenant(&target).children.len();
        });
        replans.push((tenants, median, fastest, children));

        if tenants == 10_000 {
            // A tier change that touches 2,000 tenants: the tier's limits change, then each of
            // the first 2,000 tenants on it is re-planned from its slice, as the operator does.
            let mut by_tier: BTreeMap<&str, Vec<String>> = BTreeMap::new();
            for tenant in &world.tenants {
                by_tier
                    .entry(tenant.spec.tier_ref.as_str())
                    .or_default()
                    .push(tenant.metadata.name.clone().unwrap_or_default());
            }
            let (tier, on_tier) = by_tier.iter().max_by_key(|(_, names)| names.len()).expect("a tier");
            let touched: Vec<&String> = on_tier.iter().take(2_000).collect();
            let tier = tier.to_string();
            let mut max_workflows = 4;
            let (median, fastest) = measure(3, || {
                max_workflows = if max_workflows == 4 { 6 } else { 4 };
                indexed.tiers.get_mut(&tier).expect("tier").spec.limits.max_workflows = max_workflows;
                for name in &touched {
                    let slice = planner::tenant_slice(&indexed, name).expect("tenant");
                    children = planner::plan(&slice, now()).for_tenant(name).children.len();
                }
            });
            row(
                format!("tier change: re-plan {} tenants on {tier}", touched.len()),
                median.as_secs_f64(),
                fastest.as_secs_f64(),
                "s",
                format!("{:.3} ms a tenant", median.as_secs_f64() * 1e3 / touched.len() as f64),
            );
        }
    }
    println!("\nre-plan one tenant after one change (indexed lookups), side by side:");
    for (tenants, median, fastest, children) in replans {
        row(
            format!("  of {tenants} tenants"),
            median.as_secs_f64() * 1e3,
            fastest.as_secs_f64() * 1e3,
            "ms",
            format!("{children} children"),
        );
    }
}
