//! Planner benchmarks: prints how long planning takes for fleets of several sizes, for the
//! whole fleet (`tenantry plan`), for the fleet-status pass, and for one tenant's slice
//! looked up through an indexed catalog (one live reconcile). Run with
//! `cargo bench --bench plan`; `cargo bench --bench live` measures the operator's side.
//! Figures only: nothing here passes or fails on time.

#![allow(clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use support::{fleet, measure, WORKFLOWS_PER_TENANT};
use tenantry_api::{Partner, ServiceTier, Tenant, Workflow};
use tenantry_planner::{self as planner, Catalog, World};

/// Lookups by key, as the controller's caches answer them, without the controller.
#[derive(Default)]
struct Indexed {
    tenants: BTreeMap<String, Tenant>,
    partners: BTreeMap<String, Partner>,
    tiers: BTreeMap<String, ServiceTier>,
    tenants_by_namespace: BTreeMap<String, Vec<Tenant>>,
    workflows_by_namespace: BTreeMap<String, Vec<Workflow>>,
}

impl Indexed {
    fn new(world: &World) -> Self {
        let name =
            |meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| meta.name.clone().unwrap_or_default();
        let mut indexed = Indexed::default();
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
    fn billing_records_of(&self, _tenant: &str) -> Vec<tenantry_api::BillingRecord> {
        // The generated fleet has no billing history yet.
        Vec::new()
    }
    fn policies(&self) -> Vec<tenantry_api::GovernancePolicy> {
        // Nor governance policies or approvals.
        Vec::new()
    }
    fn approvals_in_namespace(&self, _namespace: &str) -> Vec<tenantry_api::Approval> {
        Vec::new()
    }
}

fn main() {
    let now: jiff::Timestamp = "2026-11-15T09:00:00Z".parse().expect("instant");
    println!("{:<44} {:>12} {:>12} {:>10}", "benchmark", "median", "fastest", "children");
    for tenants in [100, 1_000, 5_000] {
        let world = fleet(tenants);
        let mut children = 0;
        let (median, fastest) = measure(if tenants >= 5_000 { 5 } else { 11 }, || {
            children = planner::plan(&world, now).children.len();
        });
        println!(
            "{:<44} {:>10.2}ms {:>10.2}ms {:>10}",
            format!("plan fleet: {tenants} tenants, {} workflows", tenants * WORKFLOWS_PER_TENANT),
            median.as_secs_f64() * 1e3,
            fastest.as_secs_f64() * 1e3,
            children
        );
        // What the live fleet-status loop plans: every partner, tier and tenant, and only the
        // workflows that belong to no tenant (none here).
        let fleet_world = World { workflows: Vec::new(), ..world.clone() };
        let (median, fastest) = measure(if tenants >= 5_000 { 5 } else { 11 }, || {
            children = planner::fleet_statuses(&fleet_world, now).children.len();
        });
        println!(
            "{:<44} {:>10.2}ms {:>10.2}ms {:>10}",
            format!("fleet-status pass ({tenants} tenants)"),
            median.as_secs_f64() * 1e3,
            fastest.as_secs_f64() * 1e3,
            children
        );
        // What one live reconcile plans: the tenant's slice, looked up by key.
        let indexed = Indexed::new(&world);
        let target = format!("tenant-{:05}", tenants / 2);
        let (median, fastest) = measure(101, || {
            let slice = planner::tenant_slice(&indexed, &target).expect("tenant");
            children = planner::plan(&slice, now).for_tenant(&target).children.len();
        });
        println!(
            "{:<44} {:>10.3}ms {:>10.3}ms {:>10}",
            format!("plan one tenant, indexed lookups (of {tenants})"),
            median.as_secs_f64() * 1e3,
            fastest.as_secs_f64() * 1e3,
            children
        );
    }
}
