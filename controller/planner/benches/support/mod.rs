//! What the benchmarks share: a generated fleet of any size and a timer. Used by the
//! planner's `plan` bench and, through `#[path]`, by the operator's `live` bench.

#![allow(dead_code, clippy::expect_used)]

use serde_json::json;
use std::time::{Duration, Instant};
use tenantry_planner::World;

/// Workflows each generated tenant has.
pub const WORKFLOWS_PER_TENANT: usize = 5;

/// A valid fleet of `tenants` tenants over two partners and six tiers.
pub fn fleet(tenants: usize) -> World {
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
pub fn measure(runs: usize, mut work: impl FnMut()) -> (Duration, Duration) {
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
