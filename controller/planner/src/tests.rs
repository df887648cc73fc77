//! Unit tests of the planner: every condition reason, the tier rules, history and the
//! guarantees about children (labels, owners, never deleting on bad input).

use super::fixtures::*;
use super::*;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use tenantry_api::workflow::Trigger;
use tenantry_api::{Condition, ConditionStatus, Workflow, WorkflowCategory, WorkflowPhase, WorkflowStatus};

/// A change that breaks one thing in a valid object.
type Breakage<T> = Box<dyn Fn(&mut T)>;

fn at(text: &str) -> Timestamp {
    text.parse().expect("test instants are valid")
}

fn now() -> Timestamp {
    at("2026-11-01T08:00:00Z")
}

fn ready(conditions: &[Condition]) -> &Condition {
    conditions.iter().find(|c| c.type_ == "Ready").expect("every status has Ready")
}

fn tenant_reason(plan: &Plan, name: &str) -> String {
    ready(&plan.tenants[name].conditions).reason.clone()
}

fn workflow_status<'p>(plan: &'p Plan, namespace: &str, name: &str) -> &'p WorkflowStatus {
    &plan.workflows[&(namespace.to_string(), name.to_string())]
}

fn workflow_reason(plan: &Plan, namespace: &str, name: &str) -> (WorkflowPhase, String) {
    let status = workflow_status(plan, namespace, name);
    (status.phase.expect("phase is always set"), ready(&status.conditions).reason.clone())
}

fn find<'p>(plan: &'p Plan, kind: ChildKind, namespace: Option<&str>, name: &str) -> Option<&'p ChildObject> {
    plan.children.iter().map(|c| &c.object).find(|o| {
        o.kind() == kind && o.meta().name.as_deref() == Some(name) && o.meta().namespace.as_deref() == namespace
    })
}

#[test]
fn a_valid_tenant_gets_its_namespace_and_everything_in_it() {
    let plan = plan(&fleet(), now());
    assert_eq!(tenant_reason(&plan, "shop"), "Provisioned");
    assert_eq!(ready(&plan.tenants["shop"].conditions).status, ConditionStatus::True);
    let namespace = find(&plan, ChildKind::Namespace, None, "tenant-shop").expect("namespace planned");
    let labels = namespace.meta().labels.clone().unwrap_or_default();
    assert_eq!(labels.get("pod-security.kubernetes.io/enforce").map(String::as_str), Some("restricted"));
    assert_eq!(labels.get(labels::TIER).map(String::as_str), Some("basic"));
    for (kind, name) in [
        (ChildKind::ResourceQuota, "tenantry-quota"),
        (ChildKind::LimitRange, "tenantry-limits"),
        (ChildKind::NetworkPolicy, "tenantry-isolation"),
        (ChildKind::ServiceAccount, "tenantry-runner"),
        (ChildKind::ConfigMap, "tenantry-branding"),
        (ChildKind::ConfigMap, "orders-definition"),
        (ChildKind::Deployment, "orders"),
    ] {
        assert!(find(&plan, kind, Some("tenant-shop"), name).is_some(), "{kind:?} {name} planned");
    }
    // Offline nothing is observed running: planned, not Ready.
    assert_eq!(workflow_reason(&plan, "tenant-shop", "orders"), (WorkflowPhase::Running, "Deploying".into()));
}

fn condition<'c>(conditions: &'c [tenantry_api::Condition], type_: &str) -> Option<&'c tenantry_api::Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

#[test]
fn a_running_workflow_is_ready_only_once_its_workload_runs() {
    let key = ("tenant-shop".to_string(), "orders".to_string());
    let mut world = fleet();
    let status = |world: &World| workflow_status(&plan(world, now()), "tenant-shop", "orders").clone();

    let unobserved = status(&world);
    assert_eq!(ready(&unobserved.conditions).reason, "Deploying");
    assert_eq!(format!("{:?}", ready(&unobserved.conditions).status), "False");
    let reconciling = condition(&unobserved.conditions, "Reconciling").expect("Reconciling while it converges");
    assert_eq!(format!("{:?}", reconciling.status), "True");
    assert!(condition(&unobserved.conditions, "Stalled").is_none(), "nothing for a human to fix");

    let waiting = crate::WorkloadState {
        running: false,
        message: "Deployment: 0/1 replicas available".into(),
        ..Default::default()
    };
    world.workloads.insert(key.clone(), waiting);
    let rolling = status(&world);
    assert_eq!(ready(&rolling.conditions).reason, "Deploying");
    assert!(ready(&rolling.conditions).message.contains("0/1 replicas available"));

    let running = crate::WorkloadState {
        running: true,
        message: "Deployment: 1/1 replicas available".into(),
        available: Some(true),
        finished_runs: None,
        last_run_time: Some("2026-11-01T02:00:00Z".into()),
    };
    world.workflows[0].status =
        Some(WorkflowStatus { runs: Some(runs(3, 1, Some("2026-11-01T01:00:00Z"))), ..Default::default() });
    world.workloads.insert(key, running);
    let ready_now = status(&world);
    assert_eq!(format!("{:?}", ready(&ready_now.conditions).status), "True");
    assert_eq!(ready(&ready_now.conditions).reason, "Running");
    assert!(condition(&ready_now.conditions, "Reconciling").is_none(), "converged");
    assert_eq!(ready_now.runs, Some(runs(3, 1, Some("2026-11-01T01:00:00Z"))), "kept while Jobs are not observed");
    assert_eq!(ready_now.last_run_time.as_deref(), Some("2026-11-01T02:00:00Z"));
}

#[test]
fn a_workflow_that_is_not_to_run_ignores_its_workload() {
    let mut world = fleet();
    world.workflows[0].spec.paused = true;
    let running = crate::WorkloadState { running: true, ..Default::default() };
    world.workloads.insert(("tenant-shop".to_string(), "orders".to_string()), running);
    let status = workflow_status(&plan(&world, now()), "tenant-shop", "orders").clone();
    assert_eq!(ready(&status.conditions).reason, "Paused");
}

#[test]
fn every_child_carries_the_labels_the_controller_prunes_by() {
    let plan = plan(&fleet(), now());
    for child in &plan.children {
        let labels = child.object.meta().labels.clone().unwrap_or_default();
        assert_eq!(
            labels.get(labels::MANAGED_BY).map(String::as_str),
            Some("tenantry"),
            "{:?}",
            child.object.meta().name
        );
        assert_eq!(labels.get(labels::TENANT).map(String::as_str), Some("shop"));
        assert_eq!(labels.get(labels::PARTNER).map(String::as_str), Some("acme"));
        let owner_kind = labels.get(labels::OWNER_KIND).cloned().unwrap_or_default();
        match &child.owner {
            OwnerKey::Tenant { .. } => assert_eq!(owner_kind, "Tenant"),
            OwnerKey::Workflow { name, .. } => {
                assert_eq!(owner_kind, "Workflow");
                assert_eq!(labels.get(labels::WORKFLOW), Some(name));
            }
        }
    }
}

#[test]
fn owner_references_only_with_real_uids() {
    let offline = plan(&fleet(), now());
    assert!(offline.children.iter().all(|c| c.object.meta().owner_references.is_none()));

    let mut world = fleet();
    world.tenants[0].metadata.uid = Some("uid-tenant".into());
    world.workflows[0].metadata.uid = Some("uid-workflow".into());
    let live = plan(&world, now());
    for child in &live.children {
        let references = child.object.meta().owner_references.clone().expect("owner reference with a uid");
        let expected = match child.owner {
            OwnerKey::Tenant { .. } => ("Tenant", "uid-tenant"),
            OwnerKey::Workflow { .. } => ("Workflow", "uid-workflow"),
        };
        assert_eq!((references[0].kind.as_str(), references[0].uid.as_str()), expected);
        assert_eq!(references[0].controller, Some(true));
    }
}

#[test]
fn broken_tenant_references_become_conditions_and_freeze_children() {
    let cases: Vec<(&str, Breakage<World>)> = vec![
        ("UnknownPartner", Box::new(|w: &mut World| w.tenants[0].spec.partner_ref = "nobody".into())),
        ("UnknownTier", Box::new(|w: &mut World| w.tenants[0].spec.tier_ref = "gold".into())),
        (
            "TierPartnerMismatch",
            Box::new(|w: &mut World| {
                w.partners.push(partner("other"));
                w.tiers.push(tier("other-basic", "other", &[WorkflowCategory::OrderToCash], 2));
                w.tenants[0].spec.tier_ref = "other-basic".into();
            }),
        ),
        (
            "TierInvalid",
            Box::new(|w: &mut World| {
                w.tiers[0].spec.limits.max_container.cpu =
                    Some(k8s_openapi::apimachinery::pkg::api::resource::Quantity("lots".into()))
            }),
        ),
        ("ReservedNamespace", Box::new(|w: &mut World| w.tenants[0].spec.namespace = Some("kube-system".into()))),
        ("InvalidNamespace", Box::new(|w: &mut World| w.tenants[0].metadata.name = Some("shop.example.com".into()))),
        ("InvalidName", Box::new(|w: &mut World| w.tenants[0].metadata.name = Some("s".repeat(70)))),
    ];
    for (reason, break_it) in cases {
        let mut world = fleet();
        break_it(&mut world);
        let plan = plan(&world, now());
        let name = world.tenants[0].metadata.name.clone().unwrap_or_default();
        let status = &plan.tenants[&name];
        assert_eq!(ready(&status.conditions).reason, reason);
        assert_eq!(ready(&status.conditions).status, ConditionStatus::False);
        let stalled = status.conditions.iter().find(|c| c.type_ == "Stalled").expect("stalled");
        assert_eq!(stalled.status, ConditionStatus::True);
        assert!(plan.frozen.contains(&OwnerKey::Tenant { name: name.clone() }), "{reason}: tenant frozen");
        assert!(plan.children.iter().all(|c| c.owner != OwnerKey::Tenant { name: name.clone() }), "{reason}");
        // Its workflow is blocked, and its workload frozen rather than deleted. (A tenant
        // whose namespace changed no longer owns tenant-shop: the workflow there has no tenant.)
        let expected = if matches!(reason, "InvalidNamespace" | "InvalidName" | "ReservedNamespace") {
            "NoTenant"
        } else {
            "TenantNotReady"
        };
        assert_eq!(workflow_reason(&plan, "tenant-shop", "orders").1, expected, "{reason}");
        assert!(plan.frozen.contains(&OwnerKey::Workflow { namespace: "tenant-shop".into(), name: "orders".into() }));
    }
}

#[test]
fn one_broken_tenant_does_not_stop_the_fleet() {
    let mut world = fleet();
    let mut broken = tenant("broken", "acme", "missing-tier");
    broken.spec.namespace = Some("broken".into());
    world.tenants.push(broken);
    let plan = plan(&world, now());
    assert_eq!(tenant_reason(&plan, "broken"), "UnknownTier");
    assert!(ready(&plan.tenants["broken"].conditions).message.contains("spec.tierRef"));
    assert_eq!(tenant_reason(&plan, "shop"), "Provisioned");
    assert!(find(&plan, ChildKind::Deployment, Some("tenant-shop"), "orders").is_some());
}

#[test]
fn two_tenants_claiming_one_namespace_the_older_keeps_it() {
    let mut world = fleet();
    let mut newer = tenant("another", "acme", "basic");
    newer.spec.namespace = Some("tenant-shop".into());
    newer.metadata.creation_timestamp = Some(Time(at("2026-10-02T00:00:00Z")));
    world.tenants[0].metadata.creation_timestamp = Some(Time(at("2026-10-01T00:00:00Z")));
    world.tenants.push(newer);
    let plan = plan(&world, now());
    assert_eq!(tenant_reason(&plan, "another"), "NamespaceConflict");
    assert_eq!(tenant_reason(&plan, "shop"), "Provisioned");
    let namespace = find(&plan, ChildKind::Namespace, None, "tenant-shop").expect("namespace planned once");
    assert_eq!(namespace.meta().labels.as_ref().and_then(|l| l.get(labels::TENANT)).map(String::as_str), Some("shop"));
}

#[test]
fn too_many_connected_systems_is_reported_but_planned() {
    let mut world = fleet();
    world.tiers[0].spec.limits.max_connected_systems = 0;
    let plan = plan(&world, now());
    assert_eq!(tenant_reason(&plan, "shop"), "TooManyConnectedSystems");
    assert!(find(&plan, ChildKind::Deployment, Some("tenant-shop"), "orders").is_some());
    assert!(!plan.frozen.contains(&OwnerKey::Tenant { name: "shop".into() }));
}

#[test]
fn tier_problems_are_reported_on_the_tier() {
    let mut world = fleet();
    world.tiers.push(tier("orphan", "ghost", &[], 1));
    let mut inverted = tier("inverted", "acme", &[], 1);
    inverted.spec.limits.default_container.memory =
        Some(k8s_openapi::apimachinery::pkg::api::resource::Quantity("2Gi".into()));
    world.tiers.push(inverted);
    let plan = plan(&world, now());
    assert_eq!(ready(&plan.tiers["orphan"].conditions).reason, "UnknownPartner");
    let inverted = ready(&plan.tiers["inverted"].conditions);
    assert_eq!(inverted.reason, "InvalidLimits");
    assert!(inverted.message.contains("spec.limits.defaultContainer.memory"), "{}", inverted.message);
    assert_eq!(ready(&plan.tiers["basic"].conditions).reason, "Valid");
    assert_eq!(plan.tiers["basic"].tenants, 1);
    assert_eq!(plan.partners["acme"].tenants, 1);
    assert_eq!(plan.partners["acme"].tiers, 2);
}

#[test]
fn partner_names_must_fit_in_a_label() {
    let mut world = fleet();
    world.partners.push(partner(&"p".repeat(64)));
    let plan = plan(&world, now());
    assert_eq!(ready(&plan.partners[&"p".repeat(64)].conditions).reason, "InvalidName");
}

#[test]
fn workflow_spec_errors_block_it_and_leave_its_workload_alone() {
    let cases: Vec<(&str, Breakage<Workflow>)> = vec![
        ("UnknownTemplate", Box::new(|w: &mut Workflow| w.spec.template = "refund".into())),
        ("MissingConnector", Box::new(|w: &mut Workflow| w.spec.connectors = vec!["erp".into()])),
        (
            "MissingConnector",
            Box::new(|w: &mut Workflow| {
                w.spec.trigger = Trigger {
                    event: Some(tenantry_api::workflow::EventTrigger { source: "erp/orders".into(), replicas: 1 }),
                    ..Trigger::default()
                }
            }),
        ),
        ("InvalidSchedule", Box::new(|w: &mut Workflow| w.spec.trigger = fixtures::schedule("61 * * * *", None))),
        (
            "InvalidTimeZone",
            Box::new(|w: &mut Workflow| w.spec.trigger = fixtures::schedule("0 * * * *", Some("Mars/Olympus"))),
        ),
        ("InvalidTrigger", Box::new(|w: &mut Workflow| w.spec.trigger = Trigger::default())),
        (
            "InvalidResources",
            Box::new(|w: &mut Workflow| {
                w.spec.runner.resources = Some(tenantry_api::ResourceAmounts {
                    cpu: Some(k8s_openapi::apimachinery::pkg::api::resource::Quantity("fast".into())),
                    memory: None,
                })
            }),
        ),
        ("InvalidName", Box::new(|w: &mut Workflow| w.metadata.name = Some("w".repeat(64)))),
        (
            "InvalidName",
            Box::new(|w: &mut Workflow| {
                w.metadata.name = Some("w".repeat(53));
                w.spec.trigger = fixtures::schedule("0 * * * *", None);
            }),
        ),
    ];
    for (reason, break_it) in cases {
        let mut world = fleet();
        break_it(&mut world.workflows[0]);
        let name = world.workflows[0].metadata.name.clone().unwrap_or_default();
        let plan = plan(&world, now());
        let (phase, got) = workflow_reason(&plan, "tenant-shop", &name);
        assert_eq!((phase, got.as_str()), (WorkflowPhase::Blocked, reason));
        let owner = OwnerKey::Workflow { namespace: "tenant-shop".into(), name: name.clone() };
        assert!(plan.frozen.contains(&owner), "{reason}: frozen, so its old workload is neither changed nor pruned");
        assert_eq!(plan.children_of(&owner).count(), 0, "{reason}");
        let message = &ready(&workflow_status(&plan, "tenant-shop", &name).conditions).message;
        assert!(message.contains("spec.") || message.contains("name"), "{reason}: message names the field: {message}");
    }
}

#[test]
fn a_workflow_in_a_namespace_of_no_tenant_is_blocked() {
    let mut world = fleet();
    world.workflows.push(workflow("stray", "default"));
    let plan = plan(&world, now());
    assert_eq!(workflow_reason(&plan, "default", "stray"), (WorkflowPhase::Blocked, "NoTenant".into()));
    assert!(plan.frozen.contains(&OwnerKey::Workflow { namespace: "default".into(), name: "stray".into() }));
}

#[test]
fn a_suspended_tenant_scales_its_workflows_to_zero() {
    let mut world = fleet();
    world.tenants[0].spec.suspended = true;
    world.workflows.push({
        let mut nightly = workflow("nightly", "tenant-shop");
        nightly.spec.trigger = fixtures::schedule("0 2 * * *", Some("Europe/Berlin"));
        nightly
    });
    let plan = plan(&world, now());
    assert_eq!(tenant_reason(&plan, "shop"), "Suspended");
    assert_eq!(workflow_reason(&plan, "tenant-shop", "orders"), (WorkflowPhase::Suspended, "TenantSuspended".into()));
    let Some(ChildObject::Deployment(deployment)) = find(&plan, ChildKind::Deployment, Some("tenant-shop"), "orders")
    else {
        panic!("the deployment is kept, not deleted")
    };
    let deployment = deployment.decode().unwrap();
    assert_eq!(deployment.spec.as_ref().and_then(|s| s.replicas), Some(0));
    let Some(ChildObject::CronJob(cron_job)) = find(&plan, ChildKind::CronJob, Some("tenant-shop"), "nightly") else {
        panic!("the cron job is kept, not deleted")
    };
    let cron_job = cron_job.decode().unwrap();
    assert_eq!(cron_job.spec.as_ref().and_then(|s| s.suspend), Some(true));
    let stalled = workflow_status(&plan, "tenant-shop", "orders").conditions.iter().any(|c| c.type_ == "Stalled");
    assert!(!stalled, "suspension is intended, not stalled");
}

#[test]
fn a_paused_workflow_is_suspended() {
    let mut world = fleet();
    world.workflows[0].spec.paused = true;
    let plan = plan(&world, now());
    assert_eq!(workflow_reason(&plan, "tenant-shop", "orders"), (WorkflowPhase::Suspended, "Paused".into()));
}

#[test]
fn a_category_the_tier_does_not_allow_is_held_not_deleted() {
    let mut world = fleet();
    world.workflows[0].spec.category = WorkflowCategory::FinanceCompliance;
    world.workflows[0].spec.template = "reconciliation".into();
    let plan = plan(&world, now());
    assert_eq!(workflow_reason(&plan, "tenant-shop", "orders"), (WorkflowPhase::Held, "TierDisallowsCategory".into()));
    let Some(ChildObject::Deployment(deployment)) = find(&plan, ChildKind::Deployment, Some("tenant-shop"), "orders")
    else {
        panic!("held workflows keep their deployment")
    };
    let deployment = deployment.decode().unwrap();
    assert_eq!(deployment.spec.as_ref().and_then(|s| s.replicas), Some(0));
    assert_eq!(workflow_status(&plan, "tenant-shop", "orders").reason.as_deref(), Some("TierDisallowsCategory"));
}

#[test]
fn beyond_the_workflow_limit_the_oldest_keep_running() {
    let mut world = fleet();
    world.workflows.clear();
    for (name, day) in [("c-newest", 3), ("a-middle", 2), ("b-oldest", 1)] {
        let mut w = workflow(name, "tenant-shop");
        w.metadata.creation_timestamp = Some(Time(at(&format!("2026-10-0{day}T00:00:00Z"))));
        world.workflows.push(w);
    }
    let plan = plan(&world, now());
    assert_eq!(workflow_reason(&plan, "tenant-shop", "b-oldest").0, WorkflowPhase::Running);
    assert_eq!(workflow_reason(&plan, "tenant-shop", "a-middle").0, WorkflowPhase::Running);
    assert_eq!(workflow_reason(&plan, "tenant-shop", "c-newest"), (WorkflowPhase::Held, "TierWorkflowLimit".into()));
    let counts = plan.tenants["shop"].workflows.clone().expect("counts");
    assert_eq!((counts.total, counts.running, counts.held), (3, 2, 1));
}

#[test]
fn resources_are_defaulted_and_capped_by_the_tier() {
    let mut world = fleet();
    world.workflows.push(workflow("greedy", "tenant-shop"));
    world.workflows[1].spec.runner.resources = Some(tenantry_api::ResourceAmounts {
        cpu: Some(k8s_openapi::apimachinery::pkg::api::resource::Quantity("8".into())),
        memory: Some(k8s_openapi::apimachinery::pkg::api::resource::Quantity("256Mi".into())),
    });
    let plan = plan(&world, now());
    let resources = |name: &str| {
        let Some(ChildObject::Deployment(d)) = find(&plan, ChildKind::Deployment, Some("tenant-shop"), name) else {
            panic!("deployment {name}")
        };
        let d = d.decode().unwrap();
        let container = &d.spec.as_ref().and_then(|s| s.template.spec.as_ref()).expect("pod spec").containers[0];
        let limits = container.resources.as_ref().and_then(|r| r.limits.clone()).expect("limits");
        (limits["cpu"].0.clone(), limits["memory"].0.clone())
    };
    assert_eq!(resources("orders"), ("100m".to_string(), "128Mi".to_string()), "tier default");
    assert_eq!(resources("greedy"), ("1".to_string(), "256Mi".to_string()), "cpu capped at the tier's maximum");
    let capped =
        workflow_status(&plan, "tenant-shop", "greedy").conditions.iter().find(|c| c.type_ == "ResourcesCapped");
    assert!(capped.expect("capping is reported").message.contains("spec.runner.resources.cpu"));
}

#[test]
fn a_tier_change_moves_quota_and_limits_and_is_recorded_once() {
    let mut world = fleet();
    let mut bigger = tier("plus", "acme", &[WorkflowCategory::OrderToCash], 10);
    bigger.spec.level = 3;
    bigger.spec.limits.namespace_quota.cpu = k8s_openapi::apimachinery::pkg::api::resource::Quantity("16".into());
    world.tiers.push(bigger);
    let first = plan(&world, now());
    assert_eq!(first.tenants["shop"].tier_history.len(), 1);

    world.tenants[0].status = Some(first.tenants["shop"].clone());
    world.tenants[0].spec.tier_ref = "plus".into();
    let later = at("2026-11-15T12:00:00Z");
    let second = plan(&world, later);
    let history = &second.tenants["shop"].tier_history;
    assert_eq!(
        history.iter().map(|h| (h.tier.as_str(), h.since.as_str())).collect::<Vec<_>>(),
        vec![("basic", "2026-11-01T08:00:00Z"), ("plus", "2026-11-15T12:00:00Z")]
    );
    assert_eq!(history[1].level, Some(3));
    let Some(ChildObject::ResourceQuota(quota)) =
        find(&second, ChildKind::ResourceQuota, Some("tenant-shop"), "tenantry-quota")
    else {
        panic!("quota")
    };
    assert_eq!(
        quota.spec.as_ref().and_then(|s| s.hard.as_ref()).map(|h| h["requests.cpu"].0.clone()),
        Some("16".into())
    );

    // Observing the same tier again appends nothing.
    world.tenants[0].status = Some(second.tenants["shop"].clone());
    let third = plan(&world, at("2026-11-20T00:00:00Z"));
    assert_eq!(third.tenants["shop"].tier_history.len(), 2);

    // A typo in the tier never enters the history (it would end up on a bill).
    world.tenants[0].spec.tier_ref = "plsu".into();
    let typo = plan(&world, at("2026-11-21T00:00:00Z"));
    assert_eq!(typo.tenants["shop"].tier_history.len(), 2);
    assert_eq!(typo.tenants["shop"].tier.as_deref(), Some("plus"), "status keeps the last tier it ran on");
}

#[test]
fn transition_time_moves_only_when_the_status_flips() {
    let mut world = fleet();
    let running = crate::WorkloadState { running: true, ..Default::default() };
    world.workloads.insert(("tenant-shop".to_string(), "orders".to_string()), running);
    let first = plan(&world, now());
    world.workflows[0].status = Some(workflow_status(&first, "tenant-shop", "orders").clone());
    let same = plan(&world, at("2026-11-02T00:00:00Z"));
    let time = |p: &Plan| ready(&workflow_status(p, "tenant-shop", "orders").conditions).last_transition_time.clone();
    assert_eq!(time(&same), "2026-11-01T08:00:00Z");

    world.workflows[0].spec.paused = true;
    let flipped = plan(&world, at("2026-11-03T00:00:00Z"));
    assert_eq!(time(&flipped), "2026-11-03T00:00:00Z");
}

#[test]
fn first_value_time_waits_for_a_workflow_to_run() {
    let mut world = fleet();
    let planned = plan(&world, now());
    assert_eq!(workflow_status(&planned, "tenant-shop", "orders").phase, Some(WorkflowPhase::Running));
    assert_eq!(planned.tenants["shop"].first_value_time, None, "planned to run is not running");
    let applied =
        crate::WorkloadState { running: false, message: "0/1 replicas available".into(), ..Default::default() };
    world.workloads.insert(("tenant-shop".to_string(), "orders".to_string()), applied);
    assert_eq!(plan(&world, now()).tenants["shop"].first_value_time, None, "applied, not running yet");
    world.workloads.get_mut(&("tenant-shop".to_string(), "orders".to_string())).expect("workload").running = true;
    let ready = plan(&world, at("2026-11-01T09:00:00Z"));
    assert_eq!(ready.tenants["shop"].first_value_time.as_deref(), Some("2026-11-01T09:00:00Z"));
}

#[test]
fn first_value_time_is_kept_once_set() {
    let mut world = fleet();
    let running = crate::WorkloadState { running: true, ..Default::default() };
    world.workloads.insert(("tenant-shop".to_string(), "orders".to_string()), running);
    let first = plan(&world, now());
    assert_eq!(first.tenants["shop"].first_value_time.as_deref(), Some("2026-11-01T08:00:00Z"));
    world.tenants[0].status = Some(first.tenants["shop"].clone());
    let later = plan(&world, at("2026-12-01T00:00:00Z"));
    assert_eq!(later.tenants["shop"].first_value_time.as_deref(), Some("2026-11-01T08:00:00Z"));
}

#[test]
fn connector_secrets_are_referenced_never_copied() {
    let plan = plan(&fleet(), now());
    let Some(ChildObject::Deployment(deployment)) = find(&plan, ChildKind::Deployment, Some("tenant-shop"), "orders")
    else {
        panic!("deployment")
    };
    let deployment = deployment.decode().unwrap();
    let pod = deployment.spec.as_ref().and_then(|s| s.template.spec.as_ref()).expect("pod spec");
    let secret_volume = pod.volumes.iter().flatten().find_map(|v| v.secret.as_ref()).expect("secret volume");
    assert_eq!(secret_volume.secret_name.as_deref(), Some("shop-credentials"));
    let rendered =
        serde_json::to_string(&plan.children.iter().map(|c| &c.object).collect::<Vec<_>>()).unwrap_or_default();
    assert!(!rendered.contains("\"kind\":\"Secret\""), "no Secret is ever planned");
    let security = pod.containers[0].security_context.as_ref().expect("restricted security context");
    assert_eq!(security.allow_privilege_escalation, Some(false));
    assert_eq!(pod.security_context.as_ref().and_then(|s| s.run_as_non_root), Some(true));
}

#[test]
fn the_same_input_in_any_order_gives_the_same_plan() {
    let mut world = fleet();
    world.tenants.push(tenant("zeta", "acme", "basic"));
    world.workflows.push(workflow("returns", "tenant-zeta"));
    let forward = plan(&world, now());
    world.tenants.reverse();
    world.workflows.reverse();
    let backward = plan(&world, now());
    assert_eq!(forward, backward);
}

#[test]
fn policies_count_the_tenants_they_select() {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
    use tenantry_api::{GovernancePolicy, GovernancePolicySpec};
    let mut world = fleet();
    world.tenants[0].metadata.labels = Some([("tier-class".to_string(), "strict".to_string())].into());
    world.tenants.push(tenant("other", "acme", "basic"));
    let spec = |selector: LabelSelector, partner: Option<&str>| GovernancePolicySpec {
        tenant_selector: Some(selector),
        partner_ref: partner.map(str::to_string),
        approvals: vec![],
        change_freezes: vec![],
        allowed_regions: vec![],
        allowed_image_registries: vec![],
        ai: None,
        escalation: None,
        rbac: vec![],
        audit: None,
    };
    let strict = LabelSelector {
        match_labels: Some([("tier-class".to_string(), "strict".to_string())].into()),
        ..LabelSelector::default()
    };
    let broken = LabelSelector {
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: "a".into(),
            operator: "Near".into(),
            values: None,
        }]),
        ..LabelSelector::default()
    };
    world.policies = vec![
        GovernancePolicy::new("everyone", spec(LabelSelector::default(), None)),
        GovernancePolicy::new("strict", spec(strict, Some("acme"))),
        GovernancePolicy::new("ghost", spec(LabelSelector::default(), Some("ghost"))),
        GovernancePolicy::new("broken", spec(broken, None)),
    ];
    let plan = plan(&world, now());
    assert_eq!(plan.policies["everyone"].matched_tenants, 2);
    assert_eq!(plan.policies["strict"].matched_tenants, 1);
    assert_eq!(ready(&plan.policies["ghost"].conditions).reason, "UnknownPartner");
    assert_eq!(ready(&plan.policies["broken"].conditions).reason, "InvalidSelector");
}

#[test]
fn approvals_name_a_workflow_generation_that_exists() {
    use tenantry_api::{Approval, ApprovalSpec};
    let mut world = fleet();
    world.workflows[0].metadata.generation = Some(2);
    let approval = |name: &str, workflow: &str, generation: i64| {
        let mut a = Approval::new(
            name,
            ApprovalSpec {
                workflow: workflow.into(),
                generation,
                comment: None,
                emergency: false,
                approver: tenantry_api::Approver { user: "ana@example.com".into(), groups: vec![] },
            },
        );
        a.metadata.namespace = Some("tenant-shop".into());
        a
    };
    world.approvals =
        vec![approval("ok", "orders", 2), approval("missing", "nothing", 1), approval("early", "orders", 5)];
    let plan = plan(&world, now());
    let reason =
        |name: &str| ready(&plan.approvals[&("tenant-shop".to_string(), name.to_string())].conditions).reason.clone();
    assert_eq!(reason("ok"), "Recorded");
    assert_eq!(reason("missing"), "UnknownWorkflow");
    assert_eq!(reason("early"), "FutureGeneration");
}

fn runs(succeeded: i64, failed: i64, through: Option<&str>) -> tenantry_api::workflow::RunCounts {
    tenantry_api::workflow::RunCounts { succeeded, failed, counted_through: through.map(str::to_string) }
}

fn finished(scheduled: &str, succeeded: bool) -> crate::FinishedRun {
    crate::FinishedRun { scheduled: at(scheduled), succeeded, ended: None }
}

#[test]
fn finished_runs_are_counted_once_and_never_uncounted() {
    // The cluster holds three finished Jobs; nothing was counted before: all three count.
    let held = [
        finished("2026-11-01T02:00:00Z", true),
        finished("2026-11-01T03:00:00Z", false),
        finished("2026-11-01T04:00:00Z", true),
    ];
    let first = crate::count_runs(None, &held);
    assert_eq!(first, runs(2, 1, Some("2026-11-01T04:00:00Z")));
    // The same Jobs seen again: nothing new.
    assert_eq!(crate::count_runs(Some(&first), &held), first);
    // The history limit deleted the oldest and a new run finished: one more, none fewer.
    let later = [held[1].clone(), held[2].clone(), finished("2026-11-01T05:00:00Z", true)];
    assert_eq!(crate::count_runs(Some(&first), &later), runs(3, 1, Some("2026-11-01T05:00:00Z")));
    // Every Job gone: the counts stay.
    assert_eq!(crate::count_runs(Some(&first), &[]), first);
    // Counts written before the watermark existed: kept, and everything held is added once.
    assert_eq!(crate::count_runs(Some(&runs(5, 0, None)), &held[..1]), runs(6, 0, Some("2026-11-01T02:00:00Z")));
}

#[test]
fn a_scheduled_workflow_counts_its_runs_from_its_jobs() {
    let key = ("tenant-shop".to_string(), "orders".to_string());
    let mut world = fleet();
    world.workflows[0].spec.trigger = schedule("*/5 * * * *", None);
    let observed = |jobs: Vec<crate::FinishedRun>| crate::WorkloadState {
        running: true,
        message: "CronJob scheduled".into(),
        available: None,
        finished_runs: Some(jobs),
        last_run_time: Some("2026-11-01T07:55:00Z".into()),
    };
    world.workloads.insert(key.clone(), observed(Vec::new()));
    let none_yet = workflow_status(&plan(&world, now()), "tenant-shop", "orders").clone();
    assert_eq!(none_yet.runs, None, "no run has finished: nothing to write");
    world.workloads.insert(key.clone(), observed(vec![finished("2026-11-01T07:50:00Z", true)]));
    let first = workflow_status(&plan(&world, now()), "tenant-shop", "orders").clone();
    assert_eq!(first.runs, Some(runs(1, 0, Some("2026-11-01T07:50:00Z"))));
    assert_eq!(first.last_run_time.as_deref(), Some("2026-11-01T07:55:00Z"));
    world.workflows[0].status = Some(first);
    let jobs = vec![finished("2026-11-01T07:50:00Z", true), finished("2026-11-01T07:55:00Z", false)];
    world.workloads.insert(key.clone(), observed(jobs));
    let second = workflow_status(&plan(&world, now()), "tenant-shop", "orders").clone();
    assert_eq!(second.runs, Some(runs(1, 1, Some("2026-11-01T07:55:00Z"))));
    world.workflows[0].status = Some(second.clone());
    world.workloads.insert(key, observed(Vec::new()));
    let emptied = workflow_status(&plan(&world, now()), "tenant-shop", "orders").clone();
    assert_eq!(emptied.runs, second.runs, "Jobs deleted by the history limits stay counted");
}

mod role_bindings {
    use super::*;
    use k8s_openapi::api::rbac::v1::RoleBinding;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
    use tenantry_api::governance::{RoleGrant, Subject, SubjectKind, TenantRole};
    use tenantry_api::{GovernancePolicy, GovernancePolicySpec};

    fn subject(kind: SubjectKind, name: &str, namespace: Option<&str>) -> Subject {
        Subject { kind, name: name.into(), namespace: namespace.map(str::to_string) }
    }

    fn policy(name: &str, rbac: Vec<RoleGrant>) -> GovernancePolicy {
        GovernancePolicy::new(
            name,
            GovernancePolicySpec {
                tenant_selector: Some(LabelSelector::default()),
                partner_ref: None,
                approvals: vec![],
                change_freezes: vec![],
                allowed_regions: vec![],
                allowed_image_registries: vec![],
                ai: None,
                escalation: None,
                rbac,
                audit: None,
            },
        )
    }

    fn bindings(plan: &Plan) -> Vec<&RoleBinding> {
        plan.children
            .iter()
            .filter_map(|c| match &c.object {
                ChildObject::RoleBinding(binding) => Some(binding),
                _ => None,
            })
            .collect()
    }

    /// (kind, name, namespace, apiGroup) of each subject, in order.
    fn subjects(binding: &RoleBinding) -> Vec<(String, String, Option<String>, Option<String>)> {
        binding
            .subjects
            .iter()
            .flatten()
            .map(|s| (s.kind.clone(), s.name.clone(), s.namespace.clone(), s.api_group.clone()))
            .collect()
    }

    fn rbac() -> Option<String> {
        Some("rbac.authorization.k8s.io".into())
    }

    #[test]
    fn no_policy_grants_no_binding() {
        let mut world = fleet();
        assert!(bindings(&plan(&world, now())).is_empty());
        world.policies = vec![policy("quiet", vec![])];
        assert!(bindings(&plan(&world, now())).is_empty());
    }

    #[test]
    fn grants_of_two_policies_add_up_without_duplicates() {
        let mut world = fleet();
        world.tenants[0].metadata.uid = Some("uid-tenant".into());
        world.policies = vec![
            policy(
                "b-finance",
                vec![
                    RoleGrant {
                        role: TenantRole::Approver,
                        subjects: vec![
                            subject(SubjectKind::User, "zoe@example.com", None),
                            subject(SubjectKind::Group, "finance-approvers", None),
                        ],
                    },
                    RoleGrant {
                        role: TenantRole::Viewer,
                        subjects: vec![subject(SubjectKind::ServiceAccount, "dashboard", Some("monitoring"))],
                    },
                ],
            ),
            policy(
                "a-baseline",
                vec![RoleGrant {
                    role: TenantRole::Approver,
                    subjects: vec![
                        subject(SubjectKind::Group, "finance-approvers", None),
                        subject(SubjectKind::Group, "auditors", None),
                    ],
                }],
            ),
        ];
        let plan = plan(&world, now());
        let found = bindings(&plan);
        let names: Vec<_> = found.iter().map(|b| b.metadata.name.clone().unwrap_or_default()).collect();
        assert_eq!(names, ["tenantry-approver", "tenantry-viewer"]);
        let approver = found[0];
        assert_eq!(approver.metadata.namespace.as_deref(), Some("tenant-shop"));
        assert_eq!(
            (approver.role_ref.api_group.as_str(), approver.role_ref.kind.as_str(), approver.role_ref.name.as_str()),
            ("rbac.authorization.k8s.io", "ClusterRole", "tenantry-approver")
        );
        assert_eq!(
            subjects(approver),
            [
                ("Group".into(), "auditors".into(), None, rbac()),
                ("Group".into(), "finance-approvers".into(), None, rbac()),
                ("User".into(), "zoe@example.com".into(), None, rbac()),
            ]
        );
        assert_eq!(
            subjects(found[1]),
            [("ServiceAccount".into(), "dashboard".into(), Some("monitoring".into()), None)]
        );
        // Tenant children: labelled for pruning and owned by the tenant.
        let labels = approver.metadata.labels.clone().unwrap_or_default();
        assert_eq!(labels.get(labels::TENANT).map(String::as_str), Some("shop"));
        assert_eq!(labels.get(labels::OWNER_KIND).map(String::as_str), Some("Tenant"));
        let owner = approver.metadata.owner_references.clone().unwrap_or_default();
        assert_eq!(owner.iter().map(|o| o.uid.as_str()).collect::<Vec<_>>(), ["uid-tenant"]);
        let child = plan.children.iter().find(|c| c.object.kind() == ChildKind::RoleBinding).expect("binding");
        assert_eq!(child.owner, OwnerKey::Tenant { name: "shop".into() });

        // The same grants in another order give the same bindings, byte for byte.
        world.policies.reverse();
        for policy in &mut world.policies {
            for grant in &mut policy.spec.rbac {
                grant.subjects.reverse();
            }
        }
        let again = super::plan(&world, now());
        assert_eq!(bindings(&again), found);
    }

    #[test]
    fn a_service_account_without_namespace_binds_nobody() {
        let mut world = fleet();
        world.policies = vec![policy(
            "odd",
            vec![
                RoleGrant {
                    role: TenantRole::Operator,
                    subjects: vec![subject(SubjectKind::ServiceAccount, "deployer", None)],
                },
                RoleGrant { role: TenantRole::Viewer, subjects: vec![subject(SubjectKind::User, "ana", None)] },
            ],
        )];
        let plan = plan(&world, now());
        let names: Vec<_> = bindings(&plan).iter().map(|b| b.metadata.name.clone().unwrap_or_default()).collect();
        assert_eq!(names, ["tenantry-viewer"]);
    }

    #[test]
    fn a_binding_is_planned_after_the_runner_service_account_and_before_the_quota() {
        let mut world = fleet();
        world.policies = vec![policy(
            "view",
            vec![RoleGrant { role: TenantRole::Viewer, subjects: vec![subject(SubjectKind::Group, "g", None)] }],
        )];
        let plan = plan(&world, now());
        let kinds: Vec<ChildKind> = plan.children.iter().map(|c| c.object.kind()).collect();
        let at = |kind| kinds.iter().position(|k| *k == kind).expect("planned");
        assert!(at(ChildKind::ServiceAccount) < at(ChildKind::RoleBinding));
        assert!(at(ChildKind::RoleBinding) < at(ChildKind::ResourceQuota));
    }

    #[test]
    fn a_policy_that_stops_selecting_the_tenant_takes_its_bindings_along() {
        let mut world = fleet();
        world.policies = vec![policy(
            "view",
            vec![RoleGrant { role: TenantRole::Viewer, subjects: vec![subject(SubjectKind::Group, "g", None)] }],
        )];
        assert_eq!(bindings(&plan(&world, now())).len(), 1);
        world.policies[0].spec.tenant_selector = Some(LabelSelector {
            match_labels: Some([("tenantry.dev/compliance".to_string(), "strict".to_string())].into()),
            ..LabelSelector::default()
        });
        assert!(bindings(&plan(&world, now())).is_empty(), "no longer planned, so pruned");
    }
}
