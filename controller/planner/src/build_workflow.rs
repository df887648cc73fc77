//! Builds a workflow's children: a ConfigMap with its rendered definition, and a CronJob
//! (scheduled) or a Deployment (continuous, event) running the runner with it mounted; and
//! the workflow's status.

use crate::audit;
use crate::child::{Child, ChildObject, Compact, OwnerKey};
use crate::conditions::Conditions;
use crate::labels;
use crate::meta::{owner_reference, RUNNER_SERVICE_ACCOUNT};
use crate::model::{Resolved, Resources, Rollout, TenantResolution, WorkflowDecision};
use crate::policy::Governance;
use crate::world::{FinishedRun, Plan, WorkloadState};
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMap, ConfigMapVolumeSource, Container, EmptyDirVolumeSource, EnvVar, PodSecurityContext,
    PodSpec, PodTemplateSpec, ResourceRequirements, SeccompProfile, SecretVolumeSource, SecurityContext, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube_core::ResourceExt;
use serde::Serialize;
use std::collections::BTreeMap;
use tenantry_api::conditions::{reason, POLICY_ADJUSTED, READY, RECONCILING, RESOURCES_CAPPED};
use tenantry_api::tenant::ConnectedSystem;
use tenantry_api::workflow::{DecisionKind, ExceptionHandling, RunCounts, ScheduleTrigger, Step, Trigger};
use tenantry_api::{ConditionStatus, Workflow, WorkflowCategory, WorkflowPhase, WorkflowSpec, WorkflowStatus};

/// Where the rendered definition is mounted in the runner.
pub const DEFINITION_DIR: &str = "/etc/tenantry";
/// File name of the rendered definition.
pub const DEFINITION_FILE: &str = "workflow.yaml";
/// Where connector Secrets are mounted, one directory per connector.
pub const CONNECTOR_DIR: &str = "/var/run/secrets/tenantry/connectors";
/// Unprivileged user and group the runner runs as.
const RUNNER_UID: i64 = 65532;

/// The definition the runner reads, as mounted from the ConfigMap.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RenderedDefinition<'a> {
    api_version: &'static str,
    kind: &'static str,
    tenant: &'a str,
    partner: &'a str,
    tier: String,
    workflow: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    generation: Option<i64>,
    category: WorkflowCategory,
    template: &'a str,
    trigger: &'a Trigger,
    connectors: Vec<RenderedConnector<'a>>,
    steps: &'a [Step],
    #[serde(skip_serializing_if = "Option::is_none")]
    ai: Option<&'a EffectiveAi<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exception_handling: Option<&'a ExceptionHandling>,
}

/// A connector as the runner sees it: where its credentials are mounted, never the credentials.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RenderedConnector<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    type_: tenantry_api::tenant::SystemType,
    vendor: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    credentials_path: Option<String>,
}

/// FNV-1a, 64 bits: a stable hash of the definition for the pod template annotation (the
/// standard library's hasher may change between Rust releases).
fn stable_hash(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

impl WorkflowDecision<'_, '_> {
    /// Adds the workflow's children (or keeps or stops the ones it has) and its status to
    /// the plan. A workflow that is to run is Ready only once `workload` shows it running.
    pub fn plan_into(&self, workload: Option<&WorkloadState>, instant: Timestamp, plan: &mut Plan) {
        let now = crate::format_time(instant);
        let previous = self.workflow.status.clone().unwrap_or_default();
        let mut conditions = Conditions::new(&previous.conditions, &now, self.workflow.metadata.generation);
        if self.phase == WorkflowPhase::Running {
            readiness_of_workload(&mut conditions, workload);
        } else {
            conditions.readiness(&self.verdict);
        }
        if let Some(gate) =
            self.gate.as_ref().filter(|g| g.kind == DecisionKind::Frozen && self.phase == WorkflowPhase::Held)
        {
            // The new generation rolls out on its own when the freeze ends: still converging
            // (kstatus: in progress), not stalled.
            conditions.set(RECONCILING, ConditionStatus::True, gate.reason, gate.message.clone());
        }
        let mut deployed_generation = previous.deployed_generation;
        match (&self.tenant, &self.resources, self.rollout) {
            (Some((tenant, resolved)), Some(resources), Rollout::Render) => {
                let running = self.phase == WorkflowPhase::Running;
                let ai = effective_ai(self.workflow, &tenant.governance);
                if let Some(raised) = &ai.as_ref().and_then(|ai| ai.raised.clone()) {
                    conditions.set(POLICY_ADJUSTED, ConditionStatus::True, reason::REVIEW_THRESHOLD_RAISED, raised);
                }
                plan.children.extend(children(self.workflow, tenant, resolved, resources, ai.as_ref(), running));
                deployed_generation = Some(crate::gate::generation_of(self.workflow));
                if let Some(capped) = (!resources.capped.is_empty()).then(|| resources.capped.join("; ")) {
                    conditions.set(RESOURCES_CAPPED, ConditionStatus::True, reason::ABOVE_TIER_MAXIMUM, capped);
                }
            }
            (_, _, Rollout::Stop) => {
                plan.stopped.insert(self.owner());
            }
            _ => {
                plan.frozen.insert(self.owner());
            }
        }
        let retention = self.tenant.and_then(|(tenant, _)| tenant.governance.retention_days);
        plan.workflows.insert(
            (self.namespace.clone(), self.name.clone()),
            WorkflowStatus {
                observed_generation: self.workflow.metadata.generation,
                phase: Some(self.phase),
                reason: (self.phase != WorkflowPhase::Running).then(|| self.verdict.reason().to_string()),
                trigger: Some(trigger_summary(&self.workflow.spec.trigger)),
                deployed_generation,
                // No finished run yet and nothing counted before: no counts to write (a
                // workflow's first status write waits for its first run).
                runs: match workload.and_then(|w| w.finished_runs.as_deref()) {
                    Some(finished) if !finished.is_empty() || previous.runs.is_some() => {
                        Some(count_runs(previous.runs.as_ref(), finished))
                    }
                    _ => previous.runs,
                },
                last_run_time: workload.and_then(|w| w.last_run_time.clone()).or(previous.last_run_time),
                // Set by the tenant's billing, which measures it (lib.rs).
                sla: None,
                frozen_until: self.gate.as_ref().and_then(|g| g.frozen_until).map(crate::format_time),
                decisions: audit::record(&previous.decisions, self.gate.as_ref(), self.workflow, instant, retention),
                conditions: conditions.finish(),
            },
        );
    }
}

/// The AI settings a workflow's runner gets: its own, tightened by the policies that apply.
#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
struct EffectiveAi<'a> {
    enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    human_review_threshold_percent: Option<i32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    allowed_models: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    escalation_contacts: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    policies: Vec<String>,
    /// Why the threshold is not the one the workflow asked for.
    #[serde(skip)]
    raised: Option<String>,
}

/// The AI settings of a workflow with AI enabled, with the strictest human-review threshold
/// of the workflow and its policies, the models every restricting policy allows, and the
/// escalation contacts of the policies and the workflow.
fn effective_ai<'a>(workflow: &'a Workflow, governance: &Governance) -> Option<EffectiveAi<'a>> {
    let ai = workflow.spec.ai.as_ref().filter(|ai| ai.enabled)?;
    let asked = ai.human_review_threshold_percent;
    let policy = governance.review_below_percent;
    let (threshold, raised) = match (asked, policy) {
        (Some(asked), Some((required, name))) if asked < required => (
            Some(required),
            Some(format!(
                "spec.ai.humanReviewThresholdPercent {asked} is looser than policy '{name}' allows; the runner gets {required}"
            )),
        ),
        (asked, policy) => (asked.max(policy.map(|(required, _)| required)), None),
    };
    let mut allowed_models: Option<Vec<String>> = None;
    for (_, list) in &governance.allowed_models {
        allowed_models = Some(match allowed_models {
            None => list.to_vec(),
            Some(kept) => kept.into_iter().filter(|m| list.contains(m)).collect(),
        });
    }
    let mut contacts = governance.escalation_contacts.clone();
    if let Some(handling) = &workflow.spec.exception_handling {
        contacts.extend(handling.contacts.iter().cloned());
    }
    contacts.sort();
    contacts.dedup();
    Some(EffectiveAi {
        enabled: true,
        model: ai.model.as_deref(),
        human_review_threshold_percent: threshold,
        allowed_models: allowed_models
            .map(|mut m| {
                m.sort();
                m
            })
            .unwrap_or_default(),
        escalation_contacts: contacts,
        policies: governance.policies.iter().map(|p| p.to_string()).collect(),
        raised,
    })
}

/// The run counts after `finished`: those of `previous`, plus each finished run scheduled
/// after the newest one `previous` counted. A CronJob runs one Job at a time
/// (`concurrencyPolicy: Forbid`), so runs finish in the order they were scheduled and each is
/// counted exactly once, however long the cluster keeps it; the counts never go down when
/// the history limits delete old Jobs.
pub fn count_runs(previous: Option<&RunCounts>, finished: &[FinishedRun]) -> RunCounts {
    let mut counts = previous.cloned().unwrap_or_default();
    let through = counts.counted_through.as_deref().and_then(|t| t.parse::<jiff::Timestamp>().ok());
    let mut newest = through;
    for run in finished.iter().filter(|run| through.is_none_or(|t| run.scheduled > t)) {
        if run.succeeded {
            counts.succeeded += 1;
        } else {
            counts.failed += 1;
        }
        newest = newest.max(Some(run.scheduled));
    }
    if newest != through {
        counts.counted_through = newest.map(|t| t.to_string());
    }
    counts
}

/// Ready follows the workload, not the plan: `Ready=True` (`Running`) once it runs;
/// until then `Ready=False` and `Reconciling=True` (`Deploying`), which is also what an
/// offline plan says, as it observes no workload.
pub fn readiness_of_workload(conditions: &mut Conditions, workload: Option<&WorkloadState>) {
    match workload {
        Some(state) if state.running => {
            conditions.set(READY, ConditionStatus::True, reason::RUNNING, state.message.clone())
        }
        _ => {
            let message = match workload {
                Some(state) => format!("workload applied, not running yet: {}", state.message),
                None => "workload planned; not observed running yet".to_string(),
            };
            conditions.set(READY, ConditionStatus::False, reason::DEPLOYING, message.clone());
            conditions.set(RECONCILING, ConditionStatus::True, reason::DEPLOYING, message);
        }
    }
}

/// One line describing a trigger, for printer columns and tables.
pub fn trigger_summary(trigger: &Trigger) -> String {
    match (&trigger.schedule, &trigger.continuous, &trigger.event) {
        (Some(schedule), None, None) => match &schedule.time_zone {
            Some(zone) => format!("schedule {} ({zone})", schedule.cron),
            None => format!("schedule {}", schedule.cron),
        },
        (None, Some(continuous), None) => format!("continuous x{}", continuous.replicas),
        (None, None, Some(event)) => format!("event {}", event.source),
        _ => "invalid".to_string(),
    }
}

/// The children of a deployable workflow: the ConfigMap with its rendered definition, and
/// its workload. `running` false scales a Deployment to zero and suspends a CronJob: held
/// and suspended workflows keep their objects.
fn children(
    workflow: &Workflow,
    tenant: &TenantResolution,
    resolved: &Resolved,
    resources: &Resources,
    ai: Option<&EffectiveAi>,
    running: bool,
) -> Vec<Child> {
    let name = workflow.name_any();
    let labels = labels::workflow_child(&tenant.name, &resolved.partner.name_any(), &resolved.tier.name_any(), &name);
    let meta = |object_name: String| ObjectMeta {
        name: Some(object_name),
        namespace: Some(tenant.namespace.clone()),
        labels: Some(labels.clone()),
        owner_references: owner_reference(workflow),
        ..ObjectMeta::default()
    };
    // Connectors in the order the workflow lists them; their declarations come from the tenant.
    let systems: Vec<&ConnectedSystem> = workflow
        .spec
        .connectors
        .iter()
        .filter_map(|connector| tenant.tenant.spec.connected_systems.iter().find(|s| &s.name == connector))
        .collect();
    let rendered = render_definition(workflow, tenant, resolved, &systems, ai);
    let config_map_name = format!("{name}-definition");
    let pod = Runner { workflow, tenant: &tenant.name, labels: &labels, resources, systems: &systems };
    let pod_template = pod.template(&config_map_name, stable_hash(&rendered));
    let config_map = ConfigMap {
        metadata: meta(config_map_name),
        data: Some(BTreeMap::from([(DEFINITION_FILE.to_string(), rendered)])),
        ..ConfigMap::default()
    };
    let workload = match &workflow.spec.trigger.schedule {
        Some(schedule) => ChildObject::CronJob(Compact::new(cron_job(
            schedule,
            &workflow.spec,
            meta(name.clone()),
            &labels,
            pod_template,
            running,
        ))),
        None => ChildObject::Deployment(Compact::new(deployment(
            &workflow.spec,
            meta(name.clone()),
            &name,
            pod_template,
            running,
        ))),
    };
    let owner = OwnerKey::Workflow { namespace: tenant.namespace.clone(), name };
    [ChildObject::ConfigMap(config_map), workload]
        .into_iter()
        .map(|object| Child { owner: owner.clone(), object })
        .collect()
}

/// The definition the runner reads, as YAML.
fn render_definition(
    workflow: &Workflow,
    tenant: &TenantResolution,
    resolved: &Resolved,
    systems: &[&ConnectedSystem],
    ai: Option<&EffectiveAi>,
) -> String {
    let spec = &workflow.spec;
    let name = workflow.name_any();
    let partner = resolved.partner.name_any();
    let definition = RenderedDefinition {
        api_version: "tenantry.dev/v1alpha1",
        kind: "WorkflowDefinition",
        tenant: &tenant.name,
        partner: &partner,
        tier: resolved.tier.name_any(),
        workflow: &name,
        generation: workflow.metadata.generation,
        category: spec.category,
        template: &spec.template,
        trigger: &spec.trigger,
        connectors: systems
            .iter()
            .map(|system| RenderedConnector {
                name: &system.name,
                type_: system.type_,
                vendor: &system.vendor,
                credentials_path: system.secret_ref.as_ref().map(|_| format!("{CONNECTOR_DIR}/{}", system.name)),
            })
            .collect(),
        steps: &spec.steps,
        ai,
        exception_handling: spec.exception_handling.as_ref(),
    };
    serde_yaml::to_string(&definition).unwrap_or_default()
}

/// What the runner's pod is made of.
struct Runner<'a> {
    workflow: &'a Workflow,
    tenant: &'a str,
    labels: &'a BTreeMap<String, String>,
    resources: &'a Resources,
    systems: &'a [&'a ConnectedSystem],
}

impl Runner<'_> {
    /// The pod template: the runner container with the definition and the connector Secrets
    /// mounted, restricted as Pod Security `restricted` demands. `hash` is the definition's,
    /// so a change to it rolls the pods.
    fn template(&self, config_map_name: &str, hash: String) -> PodTemplateSpec {
        let (volumes, mounts) = self.volumes(config_map_name);
        let scheduled = self.workflow.spec.trigger.schedule.is_some();
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(self.labels.clone()),
                annotations: Some(BTreeMap::from([(labels::DEFINITION_HASH.to_string(), hash)])),
                ..ObjectMeta::default()
            }),
            spec: Some(PodSpec {
                service_account_name: Some(RUNNER_SERVICE_ACCOUNT.to_string()),
                automount_service_account_token: Some(false),
                restart_policy: Some(if scheduled { "Never" } else { "Always" }.to_string()),
                security_context: Some(PodSecurityContext {
                    run_as_non_root: Some(true),
                    run_as_user: Some(RUNNER_UID),
                    run_as_group: Some(RUNNER_UID),
                    fs_group: Some(RUNNER_UID),
                    seccomp_profile: Some(SeccompProfile {
                        type_: "RuntimeDefault".to_string(),
                        ..SeccompProfile::default()
                    }),
                    ..PodSecurityContext::default()
                }),
                containers: vec![self.container(mounts)],
                volumes: Some(volumes),
                ..PodSpec::default()
            }),
        }
    }

    /// The definition, a writable /tmp, and one read-only directory per connector Secret.
    fn volumes(&self, config_map_name: &str) -> (Vec<Volume>, Vec<VolumeMount>) {
        let mut volumes = vec![
            Volume {
                name: "definition".to_string(),
                config_map: Some(ConfigMapVolumeSource {
                    name: config_map_name.to_string(),
                    ..ConfigMapVolumeSource::default()
                }),
                ..Volume::default()
            },
            Volume { name: "tmp".to_string(), empty_dir: Some(EmptyDirVolumeSource::default()), ..Volume::default() },
        ];
        let mut mounts = vec![
            VolumeMount {
                name: "definition".to_string(),
                mount_path: DEFINITION_DIR.to_string(),
                read_only: Some(true),
                ..VolumeMount::default()
            },
            VolumeMount { name: "tmp".to_string(), mount_path: "/tmp".to_string(), ..VolumeMount::default() },
        ];
        for system in self.systems {
            if let Some(secret) = &system.secret_ref {
                let volume = format!("connector-{}", system.name);
                volumes.push(Volume {
                    name: volume.clone(),
                    secret: Some(SecretVolumeSource {
                        secret_name: Some(secret.name.clone()),
                        ..SecretVolumeSource::default()
                    }),
                    ..Volume::default()
                });
                mounts.push(VolumeMount {
                    name: volume,
                    mount_path: format!("{CONNECTOR_DIR}/{}", system.name),
                    read_only: Some(true),
                    ..VolumeMount::default()
                });
            }
        }
        (volumes, mounts)
    }

    /// The runner container: its image and arguments, where to find the definition, the
    /// resources decided, and no privileges.
    fn container(&self, mounts: Vec<VolumeMount>) -> Container {
        let spec = &self.workflow.spec;
        let amounts = BTreeMap::from([
            ("cpu".to_string(), self.resources.cpu.clone()),
            ("memory".to_string(), self.resources.memory.clone()),
        ]);
        let env = [
            ("TENANTRY_TENANT", self.tenant.to_string()),
            ("TENANTRY_WORKFLOW", self.workflow.name_any()),
            ("TENANTRY_DEFINITION", format!("{DEFINITION_DIR}/{DEFINITION_FILE}")),
        ]
        .into_iter()
        .map(|(key, value)| EnvVar { name: key.to_string(), value: Some(value), ..EnvVar::default() })
        .collect();
        Container {
            name: "runner".to_string(),
            image: Some(spec.runner.image.clone()),
            args: (!spec.runner.args.is_empty()).then(|| spec.runner.args.clone()),
            env: Some(env),
            resources: Some(ResourceRequirements {
                requests: Some(amounts.clone()),
                limits: Some(amounts),
                ..ResourceRequirements::default()
            }),
            security_context: Some(SecurityContext {
                allow_privilege_escalation: Some(false),
                capabilities: Some(Capabilities { drop: Some(vec!["ALL".to_string()]), ..Capabilities::default() }),
                read_only_root_filesystem: Some(true),
                run_as_non_root: Some(true),
                ..SecurityContext::default()
            }),
            volume_mounts: Some(mounts),
            ..Container::default()
        }
    }
}

/// A scheduled workflow's CronJob: one run at a time, suspended unless `running`.
fn cron_job(
    schedule: &ScheduleTrigger,
    spec: &WorkflowSpec,
    metadata: ObjectMeta,
    labels: &BTreeMap<String, String>,
    template: PodTemplateSpec,
    running: bool,
) -> CronJob {
    CronJob {
        metadata,
        spec: Some(CronJobSpec {
            schedule: schedule.cron.clone(),
            time_zone: schedule.time_zone.clone(),
            suspend: Some(!running),
            concurrency_policy: Some("Forbid".to_string()),
            starting_deadline_seconds: Some(300),
            successful_jobs_history_limit: Some(3),
            failed_jobs_history_limit: Some(3),
            job_template: JobTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(labels.clone()), ..ObjectMeta::default() }),
                spec: Some(JobSpec {
                    backoff_limit: Some(spec.exception_handling.as_ref().map(|e| e.retries).unwrap_or(0)),
                    template,
                    ..JobSpec::default()
                }),
            },
        }),
        ..CronJob::default()
    }
}

/// A continuous or event-driven workflow's Deployment, scaled to zero unless `running`.
fn deployment(
    spec: &WorkflowSpec,
    metadata: ObjectMeta,
    name: &str,
    template: PodTemplateSpec,
    running: bool,
) -> Deployment {
    let replicas = match (&spec.trigger.continuous, &spec.trigger.event) {
        (Some(continuous), _) => continuous.replicas,
        (_, Some(event)) => event.replicas,
        _ => 1,
    };
    Deployment {
        metadata,
        spec: Some(DeploymentSpec {
            replicas: Some(if running { replicas } else { 0 }),
            selector: LabelSelector {
                match_labels: Some(BTreeMap::from([(labels::WORKFLOW.to_string(), name.to_string())])),
                ..LabelSelector::default()
            },
            template,
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}
