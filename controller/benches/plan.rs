//! Planner benchmarks: prints how long planning takes for fleets of several sizes, for the
//! whole fleet (`tenantry plan`) and for one tenant's slice (one live reconcile), and for
//! loading and planning the bundled example. Run with `cargo bench --bench plan`.
//! Figures only: nothing here passes or fails on time.

use serde_json::json;
use std::time::{Duration, Instant};
use tenantry::planner::{self, World};

const WORKFLOWS_PER_TENANT: usize = 5;

fn fleet(tenants: usize) -> World {
    let partners = ["northbridge", "loop"];
    let mut world = World::default();
    for partner in partners {
        world.partners.push(
            serde_json::from_value(json!({
                "apiVersion": "tenantry.dev/v1alpha1", "kind": "Partner", "metadata": {"name": partner},
                "spec": {"displayName": partner, "branding": {"productName": partner}, "currency": "EUR", "invoicePrefix": "INV"}
            }))
            .expect("partner"),
        );
        for (level, name) in [(1, "foundation"), (2, "managed-ai"), (3, "plus")] {
            world.tiers.push(
                serde_json::from_value(json!({
                    "apiVersion": "tenantry.dev/v1alpha1", "kind": "ServiceTier", "metadata": {"name": format!("{partner}-{name}")},
                    "spec": {"partnerRef": partner, "displayName": name, "level": level,
                             "workflowCategories": ["orderToCash", "inventoryProcurement", "financeCompliance"],
                             "limits": {"maxWorkflows": 4, "maxConnectedSystems": 5,
                                        "namespaceQuota": {"cpu": "8", "memory": "16Gi", "pods": 50},
                                        "defaultContainer": {"cpu": "100m", "memory": "128Mi"},
                                        "maxContainer": {"cpu": "1", "memory": "1Gi"}},
                             "pricing": {"monthlyBaseFee": 100000}}
                }))
                .expect("tier"),
            );
        }
    }
    let templates = [
        ("orderToCash", "order-validation"),
        ("inventoryProcurement", "replenishment"),
        ("financeCompliance", "reconciliation"),
    ];
    for index in 0..tenants {
        let partner = partners[index % 2];
        let tier = format!("{partner}-{}", ["foundation", "managed-ai", "plus"][index % 3]);
        let name = format!("tenant-{index:05}");
        world.tenants.push(
            serde_json::from_value(json!({
                "apiVersion": "tenantry.dev/v1alpha1", "kind": "Tenant", "metadata": {"name": name, "uid": format!("uid-{index}")},
                "spec": {"partnerRef": partner, "tierRef": tier, "displayName": name, "region": "eu-west-1",
                         "connectedSystems": [{"name": "erp", "type": "erp", "vendor": "SAP", "secretRef": {"name": "erp"}},
                                              {"name": "shop", "type": "storefront", "vendor": "Shopify"}]}
            }))
            .expect("tenant"),
        );
        for workflow in 0..WORKFLOWS_PER_TENANT {
            let (category, template) = templates[workflow % templates.len()];
            let trigger = if workflow % 2 == 0 {
                json!({"schedule": {"cron": "*/15 * * * *", "timeZone": "Europe/Berlin"}})
            } else {
                json!({"continuous": {"replicas": 1}})
            };
            world.workflows.push(
                serde_json::from_value(json!({
                    "apiVersion": "tenantry.dev/v1alpha1", "kind": "Workflow",
                    "metadata": {"name": format!("wf-{workflow}"), "namespace": format!("tenant-{name}"), "generation": 1},
                    "spec": {"category": category, "template": template, "trigger": trigger,
                             "runner": {"image": "registry.example.com/runner:1"}, "connectors": ["erp", "shop"],
                             "steps": [{"name": "one", "action": "do-one"}, {"name": "two", "action": "do-two", "requiresApproval": true}]}
                }))
                .expect("workflow"),
            );
        }
    }
    world
}

/// Runs `work` `runs` times and returns the median and the fastest duration.
fn measure(runs: usize, mut work: impl FnMut()) -> (Duration, Duration) {
    work();
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            work();
            started.elapsed()
        })
        .collect();
    times.sort();
    (times[times.len() / 2], times[0])
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
        // What one live reconcile plans: the tenant's slice, looked up in indexed caches.
        let caches = tenantry::shell::cache::Caches::from_snapshot(&world, Vec::new());
        let target = format!("tenant-{:05}", tenants / 2);
        let (median, fastest) = measure(101, || {
            let slice = planner::tenant_slice(&caches, &target).expect("tenant");
            children = planner::plan(&slice, now).for_tenant(&target).children.len();
        });
        println!(
            "{:<44} {:>10.3}ms {:>10.3}ms {:>10}",
            format!("plan one tenant from caches (of {tenants})"),
            median.as_secs_f64() * 1e3,
            fastest.as_secs_f64() * 1e3,
            children
        );
    }
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/gitops");
    let (median, fastest) = measure(21, || {
        let loaded = tenantry::input::load_dir(&example).expect("the example loads");
        let plan = planner::plan(&loaded.world, now);
        tenantry::render::yaml(&plan).expect("renders");
    });
    println!(
        "{:<44} {:>10.2}ms {:>10.2}ms",
        "load + plan + render examples/gitops",
        median.as_secs_f64() * 1e3,
        fastest.as_secs_f64() * 1e3
    );
}
