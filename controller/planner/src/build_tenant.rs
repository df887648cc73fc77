//! Builds a tenant's children (namespace, quota, limits, isolation, runner service account,
//! the RoleBindings governance grants, branding) and its status.

use crate::child::{Child, ChildObject, OwnerKey};
use crate::conditions::{Conditions, Verdict};
use crate::labels;
use crate::meta::{owner_reference, RUNNER_SERVICE_ACCOUNT};
use crate::model::{Resolved, TenantResolution, WorkflowDecision};
use crate::world::{NamespacedName, Plan, WorkloadState};
use k8s_openapi::api::core::v1::{
    ConfigMap, LimitRange, LimitRangeItem, LimitRangeSpec, Namespace, ResourceQuota, ResourceQuotaSpec, ServiceAccount,
};
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject as RbacSubject};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube_core::ResourceExt;
use std::collections::BTreeMap;
use tenantry_api::conditions::{reason, BILLING};
use tenantry_api::governance::{Subject, SubjectKind, TenantRole};
use tenantry_api::tenant::WorkflowCounts;
use tenantry_api::{ConditionStatus, TenantStatus, WorkflowPhase};

/// Name of the branding ConfigMap in every tenant namespace.
pub const BRANDING_CONFIG_MAP: &str = "tenantry-branding";
/// Name of the ResourceQuota in every tenant namespace.
pub const QUOTA: &str = "tenantry-quota";
/// Name of the LimitRange in every tenant namespace.
pub const LIMITS: &str = "tenantry-limits";
/// Name of the NetworkPolicy in every tenant namespace.
pub const ISOLATION: &str = "tenantry-isolation";

/// The API group of RBAC objects, and of the User and Group subjects of a binding.
const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// The ClusterRole (shipped by the Helm chart) that a tenantry role binds, which is also the
/// name of the RoleBinding in each tenant namespace. The operator may bind these three and no
/// other role (`bind` with `resourceNames` in its own ClusterRole).
pub fn cluster_role(role: TenantRole) -> &'static str {
    match role {
        TenantRole::Viewer => "tenantry-viewer",
        TenantRole::Operator => "tenantry-operator",
        TenantRole::Approver => "tenantry-approver",
    }
}

/// Private and link-local ranges a tenant's pods may not reach: other tenants, the cluster's
/// own services and cloud metadata endpoints live there.
const PRIVATE_RANGES: [&str; 4] = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"];

impl TenantResolution<'_> {
    /// Adds the tenant's children (or freezes them) and its status to the plan. `workloads`
    /// is what the cluster shows of the workflows' workloads: time to value starts when one
    /// of them runs, not when it is planned to.
    pub fn plan_into(
        &self,
        decisions: &BTreeMap<NamespacedName, WorkflowDecision>,
        workloads: &BTreeMap<NamespacedName, WorkloadState>,
        billing: &crate::billing::tenant::TenantBilling,
        now: &str,
        plan: &mut Plan,
    ) {
        let tenant = self.tenant;
        let previous = tenant.status.clone().unwrap_or_default();
        let mut conditions = Conditions::new(&previous.conditions, now, tenant.metadata.generation);
        let counts = self.workflow_counts(decisions);
        let verdict = match &self.state {
            Ok(resolved) => {
                plan.children.extend(self.children(resolved));
                self.verdict(resolved, &counts)
            }
            Err(why) => {
                plan.frozen.insert(OwnerKey::Tenant { name: self.name.clone() });
                why.clone()
            }
        };
        conditions.readiness(&verdict);
        if let Some(sla) = &billing.sla {
            crate::billing::sla::set_condition(&mut conditions, sla, "the tenant's");
        }
        if let Some(problem) = &billing.problem {
            conditions.set(BILLING, ConditionStatus::False, reason::INVALID_HISTORY, problem.to_string());
        } else if !billing.refused_adjustments.is_empty() {
            let message = billing.refused_adjustments.join("; ");
            conditions.set(BILLING, ConditionStatus::False, reason::ADJUSTMENT_REFUSED, message);
        }

        let first_value_time = previous
            .first_value_time
            .clone()
            .or_else(|| self.a_workflow_is_ready(decisions, workloads).then(|| now.to_string()));
        plan.tenants.insert(
            self.name.clone(),
            TenantStatus {
                observed_generation: tenant.metadata.generation,
                namespace: Some(self.namespace.clone()),
                tier: match &self.state {
                    Ok(resolved) => Some(resolved.tier.name_any()),
                    Err(_) => previous.tier.clone(),
                },
                tier_history: billing.tier_history.clone(),
                workflow_activity: billing.workflow_activity.clone(),
                usage: billing.usage.clone(),
                runs_counted: billing.runs_counted.clone(),
                billing_closed_through: billing.closed_through.clone(),
                unavailability: billing.unavailability.clone(),
                sla: billing.sla.clone(),
                workflows: Some(counts),
                first_value_time,
                policies: self.governance.policies.iter().map(|p| p.to_string()).collect(),
                conditions: conditions.finish(),
            },
        );
    }

    /// How many of the workflows in its namespace are in each phase (none when an older
    /// tenant owns the namespace).
    fn workflow_counts(&self, decisions: &BTreeMap<NamespacedName, WorkflowDecision>) -> WorkflowCounts {
        let mine: Vec<&WorkflowDecision> = if self.owns_namespace {
            // Decisions are keyed by (namespace, name): this namespace's are one contiguous range.
            decisions
                .range((self.namespace.clone(), String::new())..)
                .take_while(|((namespace, _), _)| namespace == &self.namespace)
                .map(|(_, decision)| decision)
                .collect()
        } else {
            Vec::new()
        };
        let count = |phase| mine.iter().filter(|o| o.phase == phase).count() as i32;
        WorkflowCounts {
            total: mine.len() as i32,
            running: count(WorkflowPhase::Running),
            held: count(WorkflowPhase::Held),
            suspended: count(WorkflowPhase::Suspended),
            blocked: count(WorkflowPhase::Blocked),
        }
    }

    /// Whether one of the workflows in its namespace is Ready: planned to run and observed
    /// running (the workflow's own `Ready=True`).
    fn a_workflow_is_ready(
        &self,
        decisions: &BTreeMap<NamespacedName, WorkflowDecision>,
        workloads: &BTreeMap<NamespacedName, WorkloadState>,
    ) -> bool {
        self.owns_namespace
            && decisions
                .range((self.namespace.clone(), String::new())..)
                .take_while(|((namespace, _), _)| namespace == &self.namespace)
                .any(|(key, decision)| {
                    decision.phase == WorkflowPhase::Running && workloads.get(key).is_some_and(|w| w.running)
                })
    }

    /// Ready, unless resolving found a problem that does not stop planning.
    fn verdict(&self, resolved: &Resolved, counts: &WorkflowCounts) -> Verdict {
        if let Some(refusal) = self.governance.region_refusal(&self.tenant.spec.region) {
            return Verdict::stalled(
                reason::REGION_NOT_ALLOWED,
                format!("{}; no workload runs ({} workflows held)", refusal.message, counts.held),
            );
        }
        match &resolved.warning {
            Some(warning) => warning.clone(),
            None if self.tenant.spec.suspended => Verdict::ready(
                reason::SUSPENDED,
                format!("tenant is suspended: {} workflows scaled to zero", counts.suspended),
            ),
            None => Verdict::ready(
                reason::PROVISIONED,
                format!(
                    "namespace {} on tier {}: {} running, {} held, {} suspended, {} blocked",
                    self.namespace,
                    resolved.tier.name_any(),
                    counts.running,
                    counts.held,
                    counts.suspended,
                    counts.blocked
                ),
            ),
        }
    }

    fn meta(&self, resolved: &Resolved, name: &str, namespaced: bool) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.to_string()),
            namespace: namespaced.then(|| self.namespace.clone()),
            labels: Some(labels::tenant_child(&self.name, &resolved.partner.name_any(), &resolved.tier.name_any())),
            owner_references: owner_reference(self.tenant),
            ..ObjectMeta::default()
        }
    }

    fn children(&self, resolved: &Resolved) -> Vec<Child> {
        let owner = OwnerKey::Tenant { name: self.name.clone() };
        let objects = vec![
            ChildObject::Namespace(self.namespace_object(resolved)),
            ChildObject::ResourceQuota(self.quota(resolved)),
            ChildObject::LimitRange(self.limit_range(resolved)),
            ChildObject::NetworkPolicy(self.isolation(resolved)),
            ChildObject::ServiceAccount(ServiceAccount {
                metadata: self.meta(resolved, RUNNER_SERVICE_ACCOUNT, true),
                automount_service_account_token: Some(false),
                ..ServiceAccount::default()
            }),
            ChildObject::ConfigMap(self.branding(resolved)),
        ];
        let bindings = self.role_bindings(resolved).into_iter().map(ChildObject::RoleBinding);
        objects.into_iter().chain(bindings).map(|object| Child { owner: owner.clone(), object }).collect()
    }

    /// One RoleBinding per tenantry role that the tenant's policies grant to someone, named
    /// and bound to the chart's ClusterRole of that role, its subjects sorted. A role no
    /// policy grants any more has no binding, so the normal pruning removes it. A
    /// ServiceAccount subject without a namespace names nobody and is left out (the CRD
    /// refuses it; offline YAML may still carry one).
    fn role_bindings(&self, resolved: &Resolved) -> Vec<RoleBinding> {
        self.governance
            .grants
            .iter()
            .filter_map(|(role, subjects)| {
                let mut subjects: Vec<RbacSubject> = subjects.iter().filter_map(rbac_subject).collect();
                subjects.sort_by(|a, b| (&a.kind, &a.namespace, &a.name).cmp(&(&b.kind, &b.namespace, &b.name)));
                subjects.dedup();
                if subjects.is_empty() {
                    return None;
                }
                let name = cluster_role(*role);
                Some(RoleBinding {
                    metadata: self.meta(resolved, name, true),
                    role_ref: RoleRef {
                        api_group: RBAC_GROUP.to_string(),
                        kind: "ClusterRole".to_string(),
                        name: name.to_string(),
                    },
                    subjects: Some(subjects),
                })
            })
            .collect()
    }

    fn namespace_object(&self, resolved: &Resolved) -> Namespace {
        let mut metadata = self.meta(resolved, &self.namespace, false);
        let labels = metadata.labels.get_or_insert_with(BTreeMap::new);
        for mode in ["enforce", "audit", "warn"] {
            labels.insert(format!("pod-security.kubernetes.io/{mode}"), "restricted".to_string());
            labels.insert(format!("pod-security.kubernetes.io/{mode}-version"), "latest".to_string());
        }
        Namespace { metadata, ..Namespace::default() }
    }

    fn quota(&self, resolved: &Resolved) -> ResourceQuota {
        let quota = &resolved.tier.spec.limits.namespace_quota;
        let hard = BTreeMap::from([
            ("limits.cpu".to_string(), quota.cpu.clone()),
            ("limits.memory".to_string(), quota.memory.clone()),
            ("pods".to_string(), Quantity(quota.pods.to_string())),
            ("requests.cpu".to_string(), quota.cpu.clone()),
            ("requests.memory".to_string(), quota.memory.clone()),
        ]);
        ResourceQuota {
            metadata: self.meta(resolved, QUOTA, true),
            spec: Some(ResourceQuotaSpec { hard: Some(hard), ..ResourceQuotaSpec::default() }),
            ..ResourceQuota::default()
        }
    }

    fn limit_range(&self, resolved: &Resolved) -> LimitRange {
        let limits = &resolved.limits;
        let default = BTreeMap::from([
            ("cpu".to_string(), limits.default_cpu.quantity.clone()),
            ("memory".to_string(), limits.default_memory.quantity.clone()),
        ]);
        let max = BTreeMap::from([
            ("cpu".to_string(), limits.max_cpu.quantity.clone()),
            ("memory".to_string(), limits.max_memory.quantity.clone()),
        ]);
        LimitRange {
            metadata: self.meta(resolved, LIMITS, true),
            spec: Some(LimitRangeSpec {
                limits: vec![LimitRangeItem {
                    type_: "Container".to_string(),
                    default: Some(default.clone()),
                    default_request: Some(default),
                    max: Some(max),
                    ..LimitRangeItem::default()
                }],
            }),
        }
    }

    /// Ingress only from the tenant's own namespace; egress to its own namespace, to cluster
    /// DNS, and to public addresses (the SaaS systems it connects), never to private ranges.
    fn isolation(&self, resolved: &Resolved) -> NetworkPolicy {
        let same_namespace =
            NetworkPolicyPeer { pod_selector: Some(LabelSelector::default()), ..NetworkPolicyPeer::default() };
        let dns_peer = NetworkPolicyPeer {
            namespace_selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([(
                    "kubernetes.io/metadata.name".to_string(),
                    "kube-system".to_string(),
                )])),
                ..LabelSelector::default()
            }),
            ..NetworkPolicyPeer::default()
        };
        let dns_ports = ["UDP", "TCP"]
            .into_iter()
            .map(|protocol| NetworkPolicyPort {
                protocol: Some(protocol.to_string()),
                port: Some(IntOrString::Int(53)),
                ..NetworkPolicyPort::default()
            })
            .collect();
        let public = NetworkPolicyPeer {
            ip_block: Some(IPBlock {
                cidr: "0.0.0.0/0".to_string(),
                except: Some(PRIVATE_RANGES.iter().map(|r| r.to_string()).collect()),
            }),
            ..NetworkPolicyPeer::default()
        };
        NetworkPolicy {
            metadata: self.meta(resolved, ISOLATION, true),
            spec: Some(NetworkPolicySpec {
                pod_selector: Some(LabelSelector::default()),
                policy_types: Some(vec!["Ingress".to_string(), "Egress".to_string()]),
                ingress: Some(vec![NetworkPolicyIngressRule {
                    from: Some(vec![same_namespace.clone()]),
                    ..NetworkPolicyIngressRule::default()
                }]),
                egress: Some(vec![
                    NetworkPolicyEgressRule { to: Some(vec![same_namespace]), ..NetworkPolicyEgressRule::default() },
                    NetworkPolicyEgressRule { to: Some(vec![dns_peer]), ports: Some(dns_ports) },
                    NetworkPolicyEgressRule { to: Some(vec![public]), ..NetworkPolicyEgressRule::default() },
                ]),
            }),
        }
    }

    fn branding(&self, resolved: &Resolved) -> ConfigMap {
        let partner = &resolved.partner.spec;
        let mut data = BTreeMap::from([
            ("partner".to_string(), resolved.partner.name_any()),
            ("partnerDisplayName".to_string(), partner.display_name.clone()),
            ("productName".to_string(), partner.branding.product_name.clone()),
            ("currency".to_string(), partner.currency.clone()),
            ("tenantDisplayName".to_string(), self.tenant.spec.display_name.clone()),
            ("tierDisplayName".to_string(), resolved.tier.spec.display_name.clone()),
        ]);
        let optional = [
            ("logoUrl", &partner.branding.logo_url),
            ("primaryColor", &partner.branding.primary_color),
            ("supportEmail", &partner.branding.support_email),
            ("portalDomain", &partner.branding.portal_domain),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                data.insert(key.to_string(), value.clone());
            }
        }
        ConfigMap { metadata: self.meta(resolved, BRANDING_CONFIG_MAP, true), data: Some(data), ..ConfigMap::default() }
    }
}

/// A governance subject as an RBAC subject: users and groups in the RBAC API group, service
/// accounts in the core group (no `apiGroup`, as the API server stores it) with their
/// namespace.
fn rbac_subject(subject: &Subject) -> Option<RbacSubject> {
    let (kind, api_group, namespace) = match subject.kind {
        SubjectKind::User => ("User", Some(RBAC_GROUP.to_string()), None),
        SubjectKind::Group => ("Group", Some(RBAC_GROUP.to_string()), None),
        SubjectKind::ServiceAccount => ("ServiceAccount", None, Some(subject.namespace.clone()?)),
    };
    Some(RbacSubject { kind: kind.to_string(), name: subject.name.clone(), api_group, namespace })
}
