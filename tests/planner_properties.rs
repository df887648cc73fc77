//! Property tests of the planner over arbitrary fleets: it never panics, the same input gives
//! the same bytes whatever the order it is listed in, and no workflow or tenant loses its
//! children unless it is frozen (bad input never deletes a workload). The loader's properties
//! are in `loader_properties.rs`, with the operator crate that holds the loader.

// A panic in a property test is a failed case.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use serde_json::json;
use tenantry_api::{Partner, ServiceTier, Tenant, Workflow};
use tenantry_planner::{self as planner, OwnerKey, World};

const PARTNERS: [&str; 2] = ["acme", "beta"];
const TIERS: [&str; 3] = ["basic", "plus", "beta-basic"];
const TENANTS: [&str; 4] = ["shop", "maker", "distributor", "x.invalid"];
const NAMESPACES: [&str; 5] = ["tenant-shop", "tenant-maker", "shared", "kube-system", "tenant-distributor"];
const CATEGORIES: [&str; 5] =
    ["orderToCash", "inventoryProcurement", "returnsService", "financeCompliance", "operationalIntelligence"];
const TEMPLATES: [&str; 5] = ["order-validation", "replenishment", "refund", "custom-thing", "kpi-digest"];
const SYSTEMS: [&str; 3] = ["erp", "shop", "wms"];

fn quantity() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("100m".to_string()),
        Just("1".to_string()),
        Just("2Gi".to_string()),
        Just("512Mi".to_string()),
        "[0-9a-zA-Z.]{0,6}",
    ]
}

fn cron() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("*/15 * * * *".to_string()),
        Just("0 6 * * 1-5".to_string()),
        Just("@daily".to_string()),
        "[0-9*/, -]{0,14}"
    ]
}

fn created() -> impl Strategy<Value = Option<String>> {
    proptest::option::of((1u32..28).prop_map(|day| format!("2026-10-{day:02}T00:00:00Z")))
}

fn tier() -> impl Strategy<Value = ServiceTier> {
    (
        prop::sample::select(&TIERS[..]),
        prop::sample::select(&PARTNERS[..]),
        prop::sample::subsequence(&CATEGORIES[..], 0..=5),
        -1i32..4,
        (quantity(), quantity(), quantity(), quantity()),
        0i32..3,
    )
        .prop_map(|(name, partner, categories, max_workflows, (dcpu, dmem, mcpu, mmem), max_systems)| {
            serde_json::from_value(json!({
                "apiVersion": "tenantry.dev/v1alpha1", "kind": "ServiceTier", "metadata": {"name": name},
                "spec": {
                    "partnerRef": partner, "displayName": name, "level": 1,
                    "workflowCategories": categories,
                    "limits": {
                        "maxWorkflows": max_workflows, "maxConnectedSystems": max_systems,
                        "namespaceQuota": {"cpu": "4", "memory": "8Gi", "pods": 10},
                        "defaultContainer": {"cpu": dcpu, "memory": dmem},
                        "maxContainer": {"cpu": mcpu, "memory": mmem}
                    },
                    "pricing": {"monthlyBaseFee": 100}
                }
            }))
            .expect("generated tiers deserialize")
        })
}

fn tenant() -> impl Strategy<Value = Tenant> {
    (
        prop::sample::select(&TENANTS[..]),
        prop::sample::select(&PARTNERS[..]),
        prop::sample::select(&TIERS[..]),
        proptest::option::of(prop::sample::select(&NAMESPACES[..])),
        any::<bool>(),
        prop::sample::subsequence(&SYSTEMS[..], 0..=3),
        created(),
    )
        .prop_map(|(name, partner, tier, namespace, suspended, systems, created)| {
            let systems: Vec<_> = systems
                .iter()
                .map(|s| json!({"name": s, "type": "erp", "vendor": "Vendor", "secretRef": {"name": format!("{s}-secret")}}))
                .collect();
            let mut value = json!({
                "apiVersion": "tenantry.dev/v1alpha1", "kind": "Tenant",
                "metadata": {"name": name},
                "spec": {"partnerRef": partner, "tierRef": tier, "displayName": name, "region": "eu-west-1",
                          "suspended": suspended, "connectedSystems": systems}
            });
            if let Some(namespace) = namespace {
                value["spec"]["namespace"] = json!(namespace);
            }
            if let Some(created) = created {
                value["metadata"]["creationTimestamp"] = json!(created);
                value["metadata"]["uid"] = json!(format!("uid-{name}"));
            }
            serde_json::from_value(value).expect("generated tenants deserialize")
        })
}

fn workflow() -> impl Strategy<Value = Workflow> {
    (
        "[a-z]{1,3}",
        prop::sample::select(&NAMESPACES[..]),
        prop::sample::select(&CATEGORIES[..]),
        prop::sample::select(&TEMPLATES[..]),
        0u8..4,
        cron(),
        prop::sample::subsequence(&SYSTEMS[..], 0..=2),
        (any::<bool>(), proptest::option::of(quantity()), created()),
    )
        .prop_map(|(name, namespace, category, template, trigger, cron, connectors, (paused, cpu, created))| {
            let trigger = match trigger {
                0 => json!({"schedule": {"cron": cron, "timeZone": "Europe/Berlin"}}),
                1 => json!({"continuous": {"replicas": 2}}),
                2 => json!({"event": {"source": format!("{}/orders", connectors.first().copied().unwrap_or("erp"))}}),
                _ => json!({}),
            };
            let mut runner = json!({"image": "registry.example.com/runner:1"});
            if let Some(cpu) = cpu {
                runner["resources"] = json!({"cpu": cpu});
            }
            let mut value = json!({
                "apiVersion": "tenantry.dev/v1alpha1", "kind": "Workflow",
                "metadata": {"name": name, "namespace": namespace, "generation": 3},
                "spec": {"category": category, "template": template, "trigger": trigger, "runner": runner,
                         "connectors": connectors, "paused": paused}
            });
            if let Some(created) = created {
                value["metadata"]["creationTimestamp"] = json!(created);
            }
            serde_json::from_value(value).expect("generated workflows deserialize")
        })
}

fn dedup_by_key<T, K: Ord>(items: Vec<T>, key: impl Fn(&T) -> K) -> Vec<T> {
    let mut seen = std::collections::BTreeSet::new();
    items.into_iter().filter(|item| seen.insert(key(item))).collect()
}

fn world() -> impl Strategy<Value = World> {
    (
        prop::sample::subsequence(&PARTNERS[..], 0..=2),
        prop::collection::vec(tier(), 0..4),
        prop::collection::vec(tenant(), 0..5),
        prop::collection::vec(workflow(), 0..8),
    )
        .prop_map(|(partners, tiers, tenants, workflows)| World {
            partners: partners
                .iter()
                .map(|name| {
                    serde_json::from_value::<Partner>(json!({
                        "apiVersion": "tenantry.dev/v1alpha1", "kind": "Partner", "metadata": {"name": name},
                        "spec": {"displayName": name, "branding": {"productName": name}, "currency": "EUR", "invoicePrefix": "INV"}
                    }))
                    .expect("partners deserialize")
                })
                .collect(),
            // A cluster holds one object per name: so does the generated world.
            tiers: dedup_by_key(tiers, |t| t.metadata.name.clone()),
            tenants: dedup_by_key(tenants, |t| t.metadata.name.clone()),
            workflows: dedup_by_key(workflows, |w| (w.metadata.namespace.clone(), w.metadata.name.clone())),
            ..World::default()
        })
}

fn instant() -> impl Strategy<Value = jiff::Timestamp> {
    (1_700_000_000i64..1_900_000_000).prop_map(|s| jiff::Timestamp::from_second(s).expect("in range"))
}

fn bytes(plan: &planner::Plan) -> String {
    // The manifests as `tenantry plan -o yaml` prints them, then every status.
    let mut out = String::new();
    for child in &plan.children {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&child.object).expect("renders"));
    }
    out.push_str(&format!(
        "{:?}{:?}{:?}{:?}{:?}",
        plan.frozen, plan.partners, plan.tiers, plan.tenants, plan.workflows
    ));
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn planning_is_deterministic_and_order_independent(world in world(), now in instant()) {
        let first = planner::plan(&world, now);
        let second = planner::plan(&world, now);
        prop_assert_eq!(bytes(&first), bytes(&second));

        let mut reversed = world.clone();
        reversed.partners.reverse();
        reversed.tiers.reverse();
        reversed.tenants.reverse();
        reversed.workflows.reverse();
        prop_assert_eq!(bytes(&first), bytes(&planner::plan(&reversed, now)));
    }

    #[test]
    fn every_owner_keeps_its_children_or_is_frozen(world in world(), now in instant()) {
        let plan = planner::plan(&world, now);
        for tenant in &world.tenants {
            let owner = OwnerKey::Tenant { name: tenant.metadata.name.clone().unwrap_or_default() };
            let planned = plan.children_of(&owner).count() > 0;
            prop_assert!(planned != plan.frozen.contains(&owner), "{} planned={} frozen={}", owner, planned, plan.frozen.contains(&owner));
        }
        for workflow in &world.workflows {
            let owner = OwnerKey::Workflow {
                namespace: workflow.metadata.namespace.clone().unwrap_or_default(),
                name: workflow.metadata.name.clone().unwrap_or_default(),
            };
            let planned = plan.children_of(&owner).count() == 2;
            prop_assert!(planned != plan.frozen.contains(&owner), "{}", owner);
            let status = &plan.workflows[&(owner_namespace(&owner), owner_name(&owner))];
            prop_assert!(status.conditions.iter().any(|c| c.type_ == "Ready"));
        }
        for child in &plan.children {
            let labels = child.object.meta().labels.clone().unwrap_or_default();
            prop_assert_eq!(labels.get("app.kubernetes.io/managed-by").map(String::as_str), Some("tenantry"));
        }
    }

    #[test]
    fn planning_one_tenant_from_its_slice_matches_the_fleet_plan(world in world(), now in instant()) {
        let fleet = planner::plan(&world, now);
        for tenant in &world.tenants {
            let name = tenant.metadata.name.clone().unwrap_or_default();
            let slice = planner::tenant_slice(&world, &name).expect("the tenant is in the world");
            let alone = planner::plan(&slice, now);
            prop_assert_eq!(alone.for_tenant(&name), fleet.for_tenant(&name), "{}", name);
        }
    }

    #[test]
    fn fleet_statuses_agree_with_the_full_plan(world in world(), now in instant()) {
        let full = planner::plan(&world, now);
        let fleet = planner::fleet_statuses(&world, now);
        prop_assert_eq!(&fleet.partners, &full.partners);
        prop_assert_eq!(&fleet.tiers, &full.tiers);
        prop_assert_eq!(&fleet.policies, &full.policies);
        prop_assert_eq!(&fleet.approvals, &full.approvals);
        prop_assert_eq!(&fleet.workflows, &full.workflows);
        prop_assert!(fleet.tenants.is_empty());
        // Only workflow children remain: the tenant controller plans tenants one at a time.
        let only_workflow_children = fleet.children.iter().all(|c| matches!(c.owner, OwnerKey::Workflow { .. }));
        prop_assert!(only_workflow_children, "tenant children were planned");
    }

    #[test]
    fn a_tenant_is_stalled_exactly_when_it_is_frozen(world in world(), now in instant()) {
        let plan = planner::plan(&world, now);
        for (name, status) in &plan.tenants {
            let stalled = status.conditions.iter().any(|c| c.type_ == "Stalled" && c.reason != "TooManyConnectedSystems");
            prop_assert_eq!(stalled, plan.frozen.contains(&OwnerKey::Tenant { name: name.clone() }), "{}", name);
        }
    }
}

fn owner_namespace(owner: &OwnerKey) -> String {
    match owner {
        OwnerKey::Workflow { namespace, .. } => namespace.clone(),
        OwnerKey::Tenant { .. } => String::new(),
    }
}

fn owner_name(owner: &OwnerKey) -> String {
    match owner {
        OwnerKey::Workflow { name, .. } | OwnerKey::Tenant { name } => name.clone(),
    }
}
