//! Unit tests of governance: policies matched and combined, approvals counted, freezes,
//! refusals that scale to zero, AI settings, the audit trail and the statuses.

use super::fixtures::*;
use super::*;
use tenantry_api::workflow::{AiSettings, DecisionKind, GovernanceDecision};
use tenantry_api::{Approval, Condition, GovernancePolicy, WorkflowCategory, WorkflowPhase, WorkflowStatus};

fn at(text: &str) -> Timestamp {
    text.parse().expect("test instants are valid")
}

fn now() -> Timestamp {
    at("2026-11-10T12:00:00Z")
}

/// A policy from its spec as YAML would write it.
fn policy(name: &str, spec: serde_json::Value) -> GovernancePolicy {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "tenantry.dev/v1alpha1", "kind": "GovernancePolicy",
        "metadata": {"name": name}, "spec": spec
    }))
    .expect("valid policy")
}

fn approval(name: &str, workflow: &str, generation: i64, user: &str, groups: &[&str], emergency: bool) -> Approval {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "tenantry.dev/v1alpha1", "kind": "Approval",
        "metadata": {"name": name, "namespace": "tenant-shop"},
        "spec": {"workflow": workflow, "generation": generation, "emergency": emergency,
                 "approver": {"user": user, "groups": groups}}
    }))
    .expect("valid approval")
}

/// Two finance approvers needed for order-to-cash changes.
fn two_approvers() -> GovernancePolicy {
    policy(
        "finance",
        serde_json::json!({"approvals": [{"categories": ["orderToCash"],
            "approvers": [{"kind": "Group", "name": "finance"}], "minApprovals": 2}]}),
    )
}

/// The fixture fleet with `orders` at `generation`, deployed at `deployed`.
fn world_with(policies: Vec<GovernancePolicy>, generation: i64, deployed: Option<i64>) -> World {
    let mut world = fleet();
    world.policies = policies;
    let orders = &mut world.workflows[0];
    orders.metadata.generation = Some(generation);
    orders.status = Some(WorkflowStatus { deployed_generation: deployed, ..WorkflowStatus::default() });
    world
}

fn orders(plan: &Plan) -> &WorkflowStatus {
    &plan.workflows[&("tenant-shop".to_string(), "orders".to_string())]
}

fn ready(conditions: &[Condition]) -> &Condition {
    conditions.iter().find(|c| c.type_ == "Ready").expect("Ready is always set")
}

fn phase_and_reason(plan: &Plan) -> (WorkflowPhase, String) {
    let status = orders(plan);
    (status.phase.expect("phase"), ready(&status.conditions).reason.clone())
}

fn owner() -> OwnerKey {
    OwnerKey::Workflow { namespace: "tenant-shop".into(), name: "orders".into() }
}

fn has_children(plan: &Plan) -> bool {
    plan.children_of(&owner()).next().is_some()
}

fn definition(plan: &Plan) -> String {
    plan.children_of(&owner())
        .find_map(|child| match &child.object {
            ChildObject::ConfigMap(map) => map.data.as_ref()?.get("workflow.yaml").cloned(),
            _ => None,
        })
        .expect("definition planned")
}

#[test]
fn a_never_deployed_workflow_waits_for_approval_with_nothing_running() {
    let plan = plan(&world_with(vec![two_approvers()], 1, None), now());
    assert_eq!(phase_and_reason(&plan), (WorkflowPhase::Held, "AwaitingApproval".into()));
    assert!(!has_children(&plan), "nothing of it is planned");
    assert!(plan.frozen.contains(&owner()), "and nothing of it is pruned or changed");
    assert!(orders(&plan).conditions.iter().any(|c| c.type_ == "Stalled"), "a human must approve");
    assert!(ready(&orders(&plan).conditions).message.contains("0 so far"));
}

#[test]
fn two_distinct_matching_approvers_release_the_generation() {
    let mut world = world_with(vec![two_approvers()], 1, None);
    world.approvals = vec![
        approval("a", "orders", 1, "ana", &["finance"], false),
        approval("b", "orders", 1, "bo", &["finance", "ops"], false),
    ];
    let plan = plan(&world, now());
    assert_eq!(orders(&plan).phase, Some(WorkflowPhase::Running));
    assert!(has_children(&plan));
    assert_eq!(orders(&plan).deployed_generation, Some(1));
    let decision = orders(&plan).decisions.last().expect("approval recorded");
    assert_eq!((decision.decision, decision.reason.as_str()), (DecisionKind::Approved, "Approved"));
    assert!(decision.message.contains("ana") && decision.message.contains("bo"));
}

#[test]
fn one_approver_twice_an_outsider_or_a_stale_generation_does_not_count() {
    for second in [
        approval("b", "orders", 1, "ana", &["finance"], false),
        approval("b", "orders", 1, "eve", &["marketing"], false),
        approval("b", "orders", 1, "bo", &[], false),
        approval("b", "orders", 0, "bo", &["finance"], false),
        approval("b", "other", 1, "bo", &["finance"], false),
    ] {
        let mut world = world_with(vec![two_approvers()], 1, None);
        world.approvals = vec![approval("a", "orders", 1, "ana", &["finance"], false), second.clone()];
        let plan = plan(&world, now());
        assert_eq!(phase_and_reason(&plan).1, "AwaitingApproval", "{:?} must not count", second.spec);
        assert!(ready(&orders(&plan).conditions).message.contains("1 so far: ana"));
    }
}

#[test]
fn a_held_new_generation_leaves_the_deployed_one_running_and_an_old_approval_does_not_release_it() {
    let mut world = world_with(vec![two_approvers()], 3, Some(2));
    world.approvals = vec![
        approval("a2", "orders", 2, "ana", &["finance"], false),
        approval("b2", "orders", 2, "bo", &["finance"], false),
    ];
    let plan = plan(&world, now());
    assert_eq!(phase_and_reason(&plan), (WorkflowPhase::Held, "AwaitingApproval".into()));
    assert!(plan.frozen.contains(&owner()) && !has_children(&plan), "generation 2 stays exactly as it is");
    assert_eq!(orders(&plan).deployed_generation, Some(2));
    assert!(ready(&orders(&plan).conditions).message.contains("generation 2 keeps running unchanged"));
}

#[test]
fn an_unchanged_generation_needs_no_new_approval() {
    let plan = plan(&world_with(vec![two_approvers()], 2, Some(2)), now());
    assert_eq!(orders(&plan).phase, Some(WorkflowPhase::Running));
    assert!(has_children(&plan));
}

#[test]
fn approval_rules_of_several_policies_add_up_and_cover_only_their_categories() {
    let ops = policy("ops", serde_json::json!({"approvals": [{"approvers": [{"kind": "User", "name": "olga"}]}]}));
    let mut world = world_with(vec![two_approvers(), ops], 1, None);
    world.approvals = vec![
        approval("a", "orders", 1, "ana", &["finance"], false),
        approval("b", "orders", 1, "bo", &["finance"], false),
    ];
    let held = plan(&world, now());
    assert_eq!(phase_and_reason(&held).1, "AwaitingApproval", "the ops rule is not satisfied");
    assert!(ready(&orders(&held).conditions).message.contains("policy 'ops'"));
    world.approvals.push(approval("c", "orders", 1, "olga", &[], false));
    assert_eq!(orders(&plan(&world, now())).phase, Some(WorkflowPhase::Running));

    let finance_only = policy(
        "finance",
        serde_json::json!({"approvals": [{"categories": ["financeCompliance"],
            "approvers": [{"kind": "Group", "name": "finance"}]}]}),
    );
    let plan = plan(&world_with(vec![finance_only], 1, None), now());
    assert_eq!(orders(&plan).phase, Some(WorkflowPhase::Running), "order-to-cash is not covered");
}

fn freeze(name: &str, start: &str, end: &str, categories: &[&str]) -> serde_json::Value {
    serde_json::json!({"name": name, "window": {"start": start, "end": end}, "categories": categories})
}

#[test]
fn a_freeze_holds_a_new_generation_until_it_ends_and_the_deployed_one_keeps_running() {
    let frozen = policy(
        "freeze",
        serde_json::json!({"changeFreezes": [freeze("close", "2026-11-10T00:00:00Z", "2026-11-11T00:00:00Z", &[])]}),
    );
    let plan = plan(&world_with(vec![frozen.clone()], 2, Some(1)), now());
    assert_eq!(phase_and_reason(&plan), (WorkflowPhase::Held, "ChangeFreeze".into()));
    assert_eq!(orders(&plan).frozen_until.as_deref(), Some("2026-11-11T00:00:00Z"));
    assert!(plan.frozen.contains(&owner()));
    assert!(!orders(&plan).conditions.iter().any(|c| c.type_ == "Stalled"), "it ends on its own");
    let reconciling = orders(&plan).conditions.iter().find(|c| c.type_ == "Reconciling").expect("still converging");
    assert_eq!(reconciling.reason, "ChangeFreeze");
    // The last second of the window still holds; its end does not.
    let last = plan_at(&world_with(vec![frozen.clone()], 2, Some(1)), "2026-11-10T23:59:59Z");
    assert_eq!(phase_and_reason(&last).1, "ChangeFreeze");
    let after = plan_at(&world_with(vec![frozen.clone()], 2, Some(1)), "2026-11-11T00:00:00Z");
    assert_eq!(orders(&after).phase, Some(WorkflowPhase::Running));
    assert_eq!(orders(&after).deployed_generation, Some(2));
    // Nothing new: the freeze changes nothing that runs.
    assert_eq!(
        orders(&plan_at(&world_with(vec![frozen], 2, Some(2)), "2026-11-10T12:00:00Z")).phase,
        Some(WorkflowPhase::Running)
    );
}

fn plan_at(world: &World, instant: &str) -> Plan {
    plan(world, at(instant))
}

#[test]
fn adjoining_freezes_hold_until_the_last_ends_and_categories_limit_them() {
    let frozen = policy(
        "freeze",
        serde_json::json!({"changeFreezes": [
            freeze("one", "2026-11-10T00:00:00Z", "2026-11-11T00:00:00Z", &[]),
            freeze("finance-only", "2026-11-09T00:00:00Z", "2026-11-20T00:00:00Z", &["financeCompliance"]),
        ]}),
    );
    let other = policy(
        "other",
        serde_json::json!({"changeFreezes": [freeze("two", "2026-11-11T00:00:00Z", "2026-11-12T06:00:00Z", &["orderToCash"])]}),
    );
    let plan = plan(&world_with(vec![frozen, other], 2, Some(1)), now());
    assert_eq!(orders(&plan).frozen_until.as_deref(), Some("2026-11-12T06:00:00Z"));
    let decision = orders(&plan).decisions.last().expect("recorded");
    assert_eq!(decision.policies, vec!["freeze".to_string(), "other".to_string()]);
}

#[test]
fn an_emergency_approval_from_an_approver_goes_through_a_freeze_and_one_from_anyone_else_does_not() {
    let frozen = policy(
        "freeze",
        serde_json::json!({
            "changeFreezes": [freeze("close", "2026-11-10T00:00:00Z", "2026-11-11T00:00:00Z", &[])],
            "rbac": [{"role": "approver", "subjects": [{"kind": "User", "name": "ana"}]}]
        }),
    );
    let mut world = world_with(vec![frozen], 2, Some(1));
    world.approvals = vec![approval("e", "orders", 2, "eve", &[], true)];
    assert_eq!(phase_and_reason(&plan(&world, now())).1, "ChangeFreeze");
    world.approvals.push(approval("a", "orders", 2, "ana", &[], false));
    assert_eq!(phase_and_reason(&plan(&world, now())).1, "ChangeFreeze", "not an emergency approval");
    world.approvals.push(approval("b", "orders", 2, "ana", &[], true));
    let plan = plan(&world, now());
    assert_eq!(orders(&plan).phase, Some(WorkflowPhase::Running));
    assert_eq!(orders(&plan).decisions.last().map(|d| d.reason.as_str()), Some("EmergencyApproved"));
}

#[test]
fn a_region_not_allowed_by_every_policy_stops_the_tenants_workloads() {
    let eu = policy("eu", serde_json::json!({"allowedRegions": ["eu-west-1", "eu-central-1"]}));
    let central = policy("central", serde_json::json!({"allowedRegions": ["eu-central-1"]}));
    let plan = plan(&world_with(vec![eu.clone(), central], 1, Some(1)), now());
    assert_eq!(phase_and_reason(&plan), (WorkflowPhase::Held, "RegionNotAllowed".into()));
    assert!(plan.stopped.contains(&owner()), "scaled to zero, not deleted");
    assert!(!has_children(&plan));
    let tenant = &plan.tenants["shop"];
    assert_eq!(ready(&tenant.conditions).reason, "RegionNotAllowed");
    assert!(ready(&tenant.conditions).message.contains("policy 'central'"));
    assert_eq!(tenant.policies, vec!["central".to_string(), "eu".to_string()]);
    let allowed = plan_at(&world_with(vec![eu], 1, Some(1)), "2026-11-10T12:00:00Z");
    assert_eq!(orders(&allowed).phase, Some(WorkflowPhase::Running));
}

#[test]
fn an_image_from_a_registry_not_allowed_blocks_and_stops_the_workflow() {
    for (allowed, runs) in [
        (vec!["registry.example.com"], true),
        (vec!["registry.example.com/team"], false),
        (vec!["registry.example.co"], false),
        (vec!["ghcr.io", "registry.example.com/"], true),
    ] {
        let registries = policy("registries", serde_json::json!({"allowedImageRegistries": allowed}));
        let plan = plan(&world_with(vec![registries], 1, Some(1)), now());
        if runs {
            assert_eq!(orders(&plan).phase, Some(WorkflowPhase::Running), "{allowed:?}");
        } else {
            assert_eq!(phase_and_reason(&plan), (WorkflowPhase::Blocked, "ImageNotAllowed".into()), "{allowed:?}");
            assert!(plan.stopped.contains(&owner()));
            assert_eq!(orders(&plan).decisions.last().map(|d| d.decision), Some(DecisionKind::Blocked));
        }
    }
    // Two policies: the image must come from a registry both allow.
    let a = policy("a", serde_json::json!({"allowedImageRegistries": ["registry.example.com"]}));
    let b = policy("b", serde_json::json!({"allowedImageRegistries": ["ghcr.io"]}));
    let plan = plan(&world_with(vec![a, b], 1, Some(1)), now());
    assert_eq!(phase_and_reason(&plan).1, "ImageNotAllowed");
    assert_eq!(orders(&plan).decisions.last().map(|d| d.policies.clone()), Some(vec!["b".to_string()]));
}

fn with_ai(world: &mut World, model: Option<&str>, threshold: Option<i32>) {
    let capabilities = &mut world.tiers[0].spec.capabilities;
    if !capabilities.contains(&tenantry_api::tier::Capability::AiOrchestration) {
        capabilities.push(tenantry_api::tier::Capability::AiOrchestration);
    }
    world.workflows[0].spec.ai =
        Some(AiSettings { enabled: true, model: model.map(str::to_string), human_review_threshold_percent: threshold });
}

#[test]
fn ai_models_must_be_allowed_and_the_strictest_review_threshold_wins() {
    let strict = policy(
        "strict",
        serde_json::json!({"ai": {"humanReviewBelowPercent": 85, "allowedModels": ["haiku", "sonnet"]},
            "escalation": {"contacts": ["desk@example.com"]}}),
    );
    let stricter =
        policy("stricter", serde_json::json!({"ai": {"humanReviewBelowPercent": 90, "allowedModels": ["haiku"]}}));
    let mut world = world_with(vec![strict.clone(), stricter], 1, Some(1));
    with_ai(&mut world, Some("sonnet"), Some(95));
    let plan_sonnet = plan(&world, now());
    assert_eq!(phase_and_reason(&plan_sonnet), (WorkflowPhase::Blocked, "ModelNotAllowed".into()));
    assert!(ready(&orders(&plan_sonnet).conditions).message.contains("policy 'stricter'"));

    with_ai(&mut world, None, None);
    assert_eq!(phase_and_reason(&plan(&world, now())).1, "ModelNotAllowed", "a model must be named");

    with_ai(&mut world, Some("haiku"), Some(95));
    let kept = plan(&world, now());
    assert_eq!(orders(&kept).phase, Some(WorkflowPhase::Running));
    assert!(definition(&kept).contains("humanReviewThresholdPercent: 95"), "stricter than the policies");
    assert!(!orders(&kept).conditions.iter().any(|c| c.type_ == "PolicyAdjusted"));

    with_ai(&mut world, Some("haiku"), Some(70));
    let raised = plan(&world, now());
    let text = definition(&raised);
    assert!(text.contains("humanReviewThresholdPercent: 90"), "{text}");
    assert!(text.contains("allowedModels:\n  - haiku\n") && !text.contains("- sonnet"), "models intersect: {text}");
    assert!(text.contains("desk@example.com"), "escalation contacts reach the runner: {text}");
    let adjusted = orders(&raised).conditions.iter().find(|c| c.type_ == "PolicyAdjusted").expect("said so");
    assert_eq!(adjusted.reason, "ReviewThresholdRaised");
    assert!(adjusted.message.contains("70") && adjusted.message.contains("'stricter'"));
}

#[test]
fn a_suspended_tenant_with_a_pending_generation_stops_the_deployed_one_without_rolling_out() {
    let mut world = world_with(vec![two_approvers()], 2, Some(1));
    world.tenants[0].spec.suspended = true;
    let plan = plan(&world, now());
    assert_eq!(orders(&plan).phase, Some(WorkflowPhase::Suspended));
    assert!(plan.stopped.contains(&owner()) && !has_children(&plan), "generation 2 is not written, even at zero");
    assert_eq!(orders(&plan).deployed_generation, Some(1));
}

#[test]
fn the_audit_trail_records_each_decision_once_then_the_release_and_forgets_past_retention() {
    let mut world = world_with(vec![two_approvers()], 1, None);
    let first = plan(&world, now());
    assert_eq!(orders(&first).decisions.len(), 1);
    // Planned again with the status it wrote: no second entry for the same decision.
    world.workflows[0].status = Some(orders(&first).clone());
    let again = plan(&world, at("2026-11-10T13:00:00Z"));
    assert_eq!(orders(&again).decisions, orders(&first).decisions);
    // The policy goes: released.
    world.workflows[0].status = Some(orders(&again).clone());
    world.policies.clear();
    let released = plan(&world, at("2026-11-10T14:00:00Z"));
    let last = orders(&released).decisions.last().expect("release recorded");
    assert_eq!((last.decision, last.reason.as_str()), (DecisionKind::Released, "Released"));
    assert_eq!(last.time, "2026-11-10T14:00:00Z");

    // Retention: entries older than the policies' retention go; at most 20 stay.
    let old = |day: u32| GovernanceDecision {
        time: format!("2026-10-{day:02}T00:00:00Z"),
        generation: Some(1),
        decision: DecisionKind::Held,
        reason: "AwaitingApproval".into(),
        message: String::new(),
        policies: vec![],
    };
    let mut kept = policy("finance", two_approvers().spec.clone().into_value());
    kept.spec.audit = Some(tenantry_api::governance::AuditSettings { retention_days: 30 });
    let mut world = world_with(vec![kept], 1, None);
    world.workflows[0].status.as_mut().expect("status").decisions = (1..=31).map(old).collect();
    let pruned = plan(&world, now());
    let times: Vec<&str> = orders(&pruned).decisions.iter().map(|d| d.time.as_str()).collect();
    assert!(times.iter().all(|t| *t >= "2026-10-11T12:00:00Z"), "{times:?}");
    assert!(times.len() <= 20);
}

/// A spec as JSON, to build a policy from another's spec.
trait IntoValue {
    fn into_value(self) -> serde_json::Value;
}

impl IntoValue for tenantry_api::GovernancePolicySpec {
    fn into_value(self) -> serde_json::Value {
        serde_json::to_value(self).expect("serializes")
    }
}

#[test]
fn policy_statuses_name_their_tenants_and_report_what_cannot_be_evaluated() {
    let mut world = fleet();
    world.tenants.push(tenant("cafe", "acme", "basic"));
    world.tenants[1].metadata.labels = Some([("tier".to_string(), "gold".to_string())].into());
    world.policies = vec![
        policy("all", serde_json::json!({})),
        policy("gold", serde_json::json!({"tenantSelector": {"matchLabels": {"tier": "gold"}}})),
        policy("other-partner", serde_json::json!({"partnerRef": "nobody"})),
        policy("bad", serde_json::json!({"tenantSelector": {"matchExpressions": [{"key": "x", "operator": "Near"}]}})),
        policy(
            "bad-freeze",
            serde_json::json!({"changeFreezes": [{"name": "x", "window": {"start": "2026-11-11T00:00:00Z", "end": "2026-11-10T00:00:00Z"}}]}),
        ),
    ];
    let plan = plan(&world, now());
    let all = &plan.policies["all"];
    assert_eq!((all.matched_tenants, all.tenants.clone()), (2, vec!["cafe".to_string(), "shop".to_string()]));
    assert_eq!(plan.policies["gold"].tenants, vec!["cafe".to_string()]);
    assert_eq!(ready(&plan.policies["other-partner"].conditions).reason, "UnknownPartner");
    let bad = &plan.policies["bad"];
    assert_eq!((ready(&bad.conditions).reason.as_str(), bad.matched_tenants), ("InvalidSelector", 0));
    assert_eq!(ready(&plan.policies["bad-freeze"].conditions).reason, "InvalidFreeze");
    assert_eq!(plan.tenants["cafe"].policies, vec!["all", "bad-freeze", "gold"]);
    // The invalid freeze holds nothing.
    let mut changed = world.clone();
    changed.workflows[0].metadata.generation = Some(2);
    changed.workflows[0].status = Some(WorkflowStatus { deployed_generation: Some(1), ..WorkflowStatus::default() });
    assert_eq!(orders(&plan_at(&changed, "2026-11-10T12:00:00Z")).phase, Some(WorkflowPhase::Running));
}

#[test]
fn approval_statuses_say_whether_they_count() {
    let mut world = world_with(vec![two_approvers()], 2, Some(1));
    world.approvals = vec![
        approval("current", "orders", 2, "ana", &["finance"], false),
        approval("stale", "orders", 1, "ana", &["finance"], false),
        approval("outsider", "orders", 2, "eve", &[], false),
    ];
    let plan = plan(&world, now());
    let reason =
        |name: &str| ready(&plan.approvals[&("tenant-shop".to_string(), name.to_string())].conditions).reason.clone();
    assert_eq!(reason("current"), "Recorded");
    assert_eq!(reason("stale"), "StaleGeneration");
    assert_eq!(reason("outsider"), "NotAnApprover");
}

#[test]
fn the_category_of_a_workflow_decides_which_rules_apply() {
    let mut world = world_with(vec![two_approvers()], 1, None);
    world.workflows[0].spec.category = WorkflowCategory::ReturnsService;
    world.workflows[0].spec.template = "refund".into();
    world.tiers[0].spec.workflow_categories.push(WorkflowCategory::ReturnsService);
    assert_eq!(orders(&plan(&world, now())).phase, Some(WorkflowPhase::Running));
}

#[test]
fn a_feature_the_tier_does_not_sell_holds_the_workflow_and_names_a_tier_that_does() {
    use tenantry_api::tier::Capability;
    let mut world = fleet();
    let mut premium = tier("premium", "acme", &[WorkflowCategory::OrderToCash], 5);
    premium.spec.level = 3;
    premium.spec.capabilities = vec![Capability::AiOrchestration, Capability::ExceptionHandling];
    let mut middle = tier("middle", "acme", &[WorkflowCategory::OrderToCash], 5);
    middle.spec.level = 2;
    middle.spec.capabilities = vec![Capability::AiOrchestration];
    world.tiers.extend([premium, middle]);
    world.workflows[0].spec.ai = Some(AiSettings { enabled: true, model: None, human_review_threshold_percent: None });
    let held = plan(&world, now());
    assert_eq!(phase_and_reason(&held), (WorkflowPhase::Held, "TierLacksCapability".into()));
    let message = ready(&orders(&held).conditions).message.clone();
    assert!(message.contains("aiOrchestration") && message.contains("tier 'middle' includes it"), "{message}");

    // Escalation needs exceptionHandling too: only premium has both.
    world.workflows[0].spec.exception_handling = Some(tenantry_api::workflow::ExceptionHandling {
        retries: 0,
        backoff_seconds: None,
        escalate_after_minutes: Some(30),
        contacts: vec![],
    });
    let message = ready(&orders(&plan(&world, now())).conditions).message.clone();
    assert!(message.contains("tier 'premium' includes it"), "{message}");

    // Moving up releases it; templates need theirs.
    world.tenants[0].spec.tier_ref = "premium".into();
    assert_eq!(orders(&plan(&world, now())).phase, Some(WorkflowPhase::Running));
    world.workflows[0].spec.category = WorkflowCategory::OperationalIntelligence;
    world.workflows[0].spec.template = "kpi-digest".into();
    for tier in &mut world.tiers {
        tier.spec.workflow_categories.push(WorkflowCategory::OperationalIntelligence);
    }
    let message = ready(&orders(&plan(&world, now())).conditions).message.clone();
    assert!(message.contains("spec.template 'kpi-digest' needs capability kpiAnalytics"), "{message}");
    assert!(message.contains("no tier of partner 'acme' includes it"), "{message}");
}
