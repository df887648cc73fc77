//! What GitOps tools make of the statuses the operator writes: the Argo CD health check we
//! ship (`docs/argocd-health.lua`), run in a real Lua 5.1 as Argo CD runs it, and the kstatus
//! rules Flux and `kubectl wait` apply, on every status shape the planner produces (Ready,
//! Reconciling, Stalled, Suspended, Held, a stale observedGeneration, no status yet).

use mlua::{Lua, LuaSerdeExt, SerializeOptions};
use serde_json::Value;
use tenantry::api::governance::GovernancePolicy;
use tenantry::api::{Tenant, Workflow, WorkflowCategory};
use tenantry::planner::{self, fixtures, Plan, WorkloadState, World};

const HEALTH_CHECK: &str = include_str!("../docs/argocd-health.lua");

fn now() -> jiff::Timestamp {
    "2026-11-10T12:00:00Z".parse().expect("instant")
}

/// Argo CD's verdict: the `status` and `message` the health script returns for `object`.
fn argo_health(object: &Value) -> (String, String) {
    let lua = Lua::new();
    let options = SerializeOptions::new().serialize_none_to_null(false).serialize_unit_to_null(false);
    let obj = lua.to_value_with(object, options).expect("the object converts to a Lua table");
    lua.globals().set("obj", obj).expect("obj is set");
    let health: mlua::Table = lua.load(HEALTH_CHECK).set_name("argocd-health.lua").eval().expect("the script runs");
    (health.get("status").expect("status"), health.get("message").unwrap_or_default())
}

/// kstatus, as Flux's health checks and `kubectl wait` compute it for a custom resource:
/// a status for an older generation is in progress, `Stalled=True` failed, `Reconciling=True`
/// in progress, anything else current.
fn kstatus(object: &Value) -> &'static str {
    let generation = object["metadata"]["generation"].as_i64();
    let observed = object["status"]["observedGeneration"].as_i64();
    if let (Some(generation), Some(observed)) = (generation, observed) {
        if observed != generation {
            return "InProgress";
        }
    }
    let conditions = object["status"]["conditions"].as_array().cloned().unwrap_or_default();
    let is_true = |kind: &str| conditions.iter().any(|c| c["type"] == kind && c["status"] == "True");
    if is_true("Stalled") {
        "Failed"
    } else if is_true("Reconciling") {
        "InProgress"
    } else {
        "Current"
    }
}

/// A declared workflow with the status the plan gives it, as the API server serves it.
fn workflow_object(world: &World, plan: &Plan, name: &str) -> Value {
    let mut workflow: Workflow =
        world.workflows.iter().find(|w| w.metadata.name.as_deref() == Some(name)).cloned().expect("declared");
    let namespace = workflow.metadata.namespace.clone().unwrap_or_default();
    workflow.metadata.generation = Some(workflow.metadata.generation.unwrap_or(1));
    workflow.status = plan.workflows.get(&(namespace, name.to_string())).cloned();
    serde_json::to_value(workflow).expect("JSON")
}

fn tenant_object(world: &World, plan: &Plan, name: &str) -> Value {
    let mut tenant: Tenant =
        world.tenants.iter().find(|t| t.metadata.name.as_deref() == Some(name)).cloned().expect("declared");
    tenant.metadata.generation = Some(1);
    tenant.status = plan.tenants.get(name).cloned();
    serde_json::to_value(tenant).expect("JSON")
}

/// The fleet as read from an API server: every object at generation 1.
fn generation_one(mut world: World) -> World {
    for workflow in &mut world.workflows {
        workflow.metadata.generation = Some(1);
    }
    for tenant in &mut world.tenants {
        tenant.metadata.generation = Some(1);
    }
    world
}

fn running(world: &mut World, name: &str) {
    let namespace = world
        .workflows
        .iter()
        .find(|w| w.metadata.name.as_deref() == Some(name))
        .and_then(|w| w.metadata.namespace.clone())
        .unwrap_or_default();
    world.workloads.insert(
        (namespace, name.to_string()),
        WorkloadState {
            running: true,
            message: "Deployment: 2/2 replicas available".into(),
            ..WorkloadState::default()
        },
    );
}

fn policy(name: &str, spec: Value) -> GovernancePolicy {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "tenantry.dev/v1alpha1", "kind": "GovernancePolicy", "metadata": {"name": name}, "spec": spec
    }))
    .expect("policy")
}

/// One status shape: the object, and what Argo CD and kstatus must say of it.
struct Shape {
    what: &'static str,
    object: Value,
    argo: &'static str,
    kstatus: &'static str,
}

fn shapes() -> Vec<Shape> {
    let mut shapes = Vec::new();

    let mut world = generation_one(fixtures::fleet());
    running(&mut world, "orders");
    let plan = planner::plan(&world, now());
    shapes.push(Shape {
        what: "running",
        object: workflow_object(&world, &plan, "orders"),
        argo: "Healthy",
        kstatus: "Current",
    });
    shapes.push(Shape {
        what: "tenant ready",
        object: tenant_object(&world, &plan, "shop"),
        argo: "Healthy",
        kstatus: "Current",
    });
    let mut stale = workflow_object(&world, &plan, "orders");
    stale["metadata"]["generation"] = Value::from(2);
    shapes.push(Shape {
        what: "a status of an older generation",
        object: stale,
        argo: "Progressing",
        kstatus: "InProgress",
    });
    let mut none = workflow_object(&world, &plan, "orders");
    none.as_object_mut().expect("object").remove("status");
    // kstatus reads an object without any status as current (upstream behaviour for custom
    // resources); Argo CD waits for the operator.
    shapes.push(Shape { what: "no status yet", object: none, argo: "Progressing", kstatus: "Current" });

    let world = generation_one(fixtures::fleet());
    let plan = planner::plan(&world, now());
    shapes.push(Shape {
        what: "deploying",
        object: workflow_object(&world, &plan, "orders"),
        argo: "Progressing",
        kstatus: "InProgress",
    });

    let mut world = generation_one(fixtures::fleet());
    world.workflows[0].spec.trigger = fixtures::schedule("61 * * * *", None);
    let plan = planner::plan(&world, now());
    shapes.push(Shape {
        what: "blocked by its spec",
        object: workflow_object(&world, &plan, "orders"),
        argo: "Degraded",
        kstatus: "Failed",
    });

    let mut world = generation_one(fixtures::fleet());
    world.workflows[0].spec.paused = true;
    let plan = planner::plan(&world, now());
    shapes.push(Shape {
        what: "paused",
        object: workflow_object(&world, &plan, "orders"),
        argo: "Suspended",
        kstatus: "Current",
    });

    let mut world = generation_one(fixtures::fleet());
    world.tenants[0].spec.suspended = true;
    let plan = planner::plan(&world, now());
    shapes.push(Shape {
        what: "tenant suspended",
        object: workflow_object(&world, &plan, "orders"),
        argo: "Suspended",
        kstatus: "Current",
    });
    shapes.push(Shape {
        what: "a suspended tenant",
        object: tenant_object(&world, &plan, "shop"),
        argo: "Healthy",
        kstatus: "Current",
    });

    let mut world = generation_one(fixtures::fleet());
    for name in ["b-orders", "c-orders"] {
        let mut extra = fixtures::workflow(name, "tenant-shop");
        extra.metadata.generation = Some(1);
        world.workflows.push(extra);
    }
    let plan = planner::plan(&world, now());
    shapes.push(Shape {
        what: "held by the tier's limit",
        object: workflow_object(&world, &plan, "orders"),
        argo: "Degraded",
        kstatus: "Failed",
    });

    let mut world = generation_one(fixtures::fleet());
    world.workflows[0].spec.category = WorkflowCategory::FinanceCompliance;
    world.workflows[0].spec.template = "reconciliation".into();
    let plan = planner::plan(&world, now());
    shapes.push(Shape {
        what: "held: category not in the tier",
        object: workflow_object(&world, &plan, "orders"),
        argo: "Degraded",
        kstatus: "Failed",
    });

    let mut world = generation_one(fixtures::fleet());
    world.policies = vec![policy(
        "finance",
        serde_json::json!({"approvals": [{"approvers": [{"kind": "Group", "name": "finance"}]}]}),
    )];
    let plan = planner::plan(&world, now());
    shapes.push(Shape {
        what: "held awaiting approval",
        object: workflow_object(&world, &plan, "orders"),
        argo: "Degraded",
        kstatus: "Failed",
    });

    let mut world = generation_one(fixtures::fleet());
    world.policies = vec![policy(
        "freeze",
        serde_json::json!({"changeFreezes": [{"name": "close", "window": {"start": "2026-11-10T00:00:00Z", "end": "2026-11-11T00:00:00Z"}}]}),
    )];
    let plan = planner::plan(&world, now());
    shapes.push(Shape {
        what: "held by a change freeze",
        object: workflow_object(&world, &plan, "orders"),
        argo: "Progressing",
        kstatus: "InProgress",
    });

    let mut world = generation_one(fixtures::fleet());
    world.policies = vec![policy("registries", serde_json::json!({"allowedImageRegistries": ["ghcr.io"]}))];
    let plan = planner::plan(&world, now());
    shapes.push(Shape {
        what: "blocked by a policy",
        object: workflow_object(&world, &plan, "orders"),
        argo: "Degraded",
        kstatus: "Failed",
    });

    let mut world = generation_one(fixtures::fleet());
    world.tenants[0].spec.tier_ref = "gold".into();
    let plan = planner::plan(&world, now());
    shapes.push(Shape {
        what: "tenant with an unknown tier",
        object: tenant_object(&world, &plan, "shop"),
        argo: "Degraded",
        kstatus: "Failed",
    });

    shapes
}

#[test]
fn argo_cd_reads_every_status_shape_as_intended() {
    for shape in shapes() {
        let (status, message) = argo_health(&shape.object);
        assert_eq!(status, shape.argo, "{}: Argo CD says {status} ({message})", shape.what);
        assert!(!message.is_empty(), "{}: Argo CD shows a message", shape.what);
    }
}

#[test]
fn kstatus_reads_every_status_shape_as_intended() {
    for shape in shapes() {
        assert_eq!(kstatus(&shape.object), shape.kstatus, "{}: {}", shape.what, shape.object["status"]);
    }
}

#[test]
fn argo_cd_and_kstatus_agree_on_what_needs_a_human() {
    for shape in shapes() {
        let (argo, _) = argo_health(&shape.object);
        assert_eq!(argo == "Degraded", kstatus(&shape.object) == "Failed", "{}", shape.what);
    }
}

#[test]
fn every_status_names_the_generation_it_was_computed_from() {
    for shape in shapes().into_iter().filter(|s| s.object.get("status").is_some()) {
        let status = &shape.object["status"];
        let observed = status["observedGeneration"].as_i64();
        assert_eq!(observed, Some(1), "{}: status.observedGeneration", shape.what);
        for condition in status["conditions"].as_array().expect("conditions") {
            assert_eq!(condition["observedGeneration"].as_i64(), observed, "{}: {condition}", shape.what);
        }
    }
}
