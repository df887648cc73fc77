//! Resolves references between declared objects: which partner and tier each tenant is on,
//! which tiers are usable, which namespace belongs to which tenant. Every broken reference
//! becomes a verdict naming the field at fault, and the rest of the fleet is still planned.

use super::conditions::{Conditions, Verdict};
use super::quantity::{self, Milli};
use super::{age_key, labels, Plan, World};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube_core::ResourceExt;
use std::collections::BTreeMap;
use tenantry_api::tenant::TierHistoryEntry;
use tenantry_api::{Partner, PartnerStatus, ServiceTier, ServiceTierStatus, Tenant, Workflow};

/// Namespaces tenantry never takes over, whatever a tenant declares.
const RESERVED_NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

/// The declared objects by name.
pub struct Index<'a> {
    /// Partners by name.
    pub partners: BTreeMap<String, &'a Partner>,
    /// Tiers by name.
    pub tiers: BTreeMap<String, &'a ServiceTier>,
    /// Tenants by name.
    pub tenants: BTreeMap<String, &'a Tenant>,
    /// Workflows by namespace and name.
    pub workflows: BTreeMap<(String, String), &'a Workflow>,
}

impl<'a> Index<'a> {
    /// Indexes a world.
    pub fn new(world: &'a World) -> Self {
        Index {
            partners: world.partners.iter().map(|o| (o.name_any(), o)).collect(),
            tiers: world.tiers.iter().map(|o| (o.name_any(), o)).collect(),
            tenants: world.tenants.iter().map(|o| (o.name_any(), o)).collect(),
            workflows: world.workflows.iter().map(|o| ((o.namespace().unwrap_or_default(), o.name_any()), o)).collect(),
        }
    }
}

/// One resource amount as written and as parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Amount {
    /// As written in the tier, reused verbatim in children.
    pub quantity: Quantity,
    /// Parsed, for comparisons.
    pub milli: Milli,
}

/// A tier's container limits, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerLimits {
    /// CPU of a container that asks for none.
    pub default_cpu: Amount,
    /// Memory of a container that asks for none.
    pub default_memory: Amount,
    /// Most CPU a container may have.
    pub max_cpu: Amount,
    /// Most memory a container may have.
    pub max_memory: Amount,
}

/// A tier as the planner can use it.
pub struct TierCheck {
    /// Whether tenants can be planned on it.
    pub verdict: Verdict,
    /// Parsed limits, when they are valid.
    pub limits: Option<ContainerLimits>,
}

fn amount(value: Option<&Quantity>, field: &str) -> Result<Amount, Verdict> {
    let quantity = value.ok_or_else(|| Verdict::stalled("InvalidLimits", format!("{field} is required")))?;
    let milli = quantity::parse(&quantity.0).map_err(|e| Verdict::stalled("InvalidLimits", format!("{field}: {e}")))?;
    Ok(Amount { quantity: quantity.clone(), milli })
}

fn check_tier(index: &Index, tier: &ServiceTier) -> Result<ContainerLimits, Verdict> {
    let spec = &tier.spec;
    if !index.partners.contains_key(&spec.partner_ref) {
        return Err(Verdict::stalled(
            "UnknownPartner",
            format!("spec.partnerRef: partner '{}' does not exist", spec.partner_ref),
        ));
    }
    let limits = &spec.limits;
    let parsed = ContainerLimits {
        default_cpu: amount(limits.default_container.cpu.as_ref(), "spec.limits.defaultContainer.cpu")?,
        default_memory: amount(limits.default_container.memory.as_ref(), "spec.limits.defaultContainer.memory")?,
        max_cpu: amount(limits.max_container.cpu.as_ref(), "spec.limits.maxContainer.cpu")?,
        max_memory: amount(limits.max_container.memory.as_ref(), "spec.limits.maxContainer.memory")?,
    };
    amount(Some(&limits.namespace_quota.cpu), "spec.limits.namespaceQuota.cpu")?;
    amount(Some(&limits.namespace_quota.memory), "spec.limits.namespaceQuota.memory")?;
    for (what, default, max) in
        [("cpu", &parsed.default_cpu, &parsed.max_cpu), ("memory", &parsed.default_memory, &parsed.max_memory)]
    {
        if default.milli > max.milli {
            return Err(Verdict::stalled(
                "InvalidLimits",
                format!(
                    "spec.limits.defaultContainer.{what} ({}) is above spec.limits.maxContainer.{what} ({})",
                    default.quantity.0, max.quantity.0
                ),
            ));
        }
    }
    if !labels::is_valid_value(&tier.name_any()) {
        return Err(Verdict::stalled("InvalidName", "tier names must be valid label values (at most 63 characters)"));
    }
    Ok(parsed)
}

/// Checks every tier and writes its status.
pub fn tiers(index: &Index, now: &str, plan: &mut Plan) -> BTreeMap<String, TierCheck> {
    let mut checks = BTreeMap::new();
    for (name, tier) in &index.tiers {
        let (verdict, limits) = match check_tier(index, tier) {
            Ok(limits) => (Verdict::ready("Valid", "tier is valid"), Some(limits)),
            Err(verdict) => (verdict, None),
        };
        let previous = tier.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
        let mut conditions = Conditions::new(previous, now, tier.metadata.generation);
        conditions.readiness(&verdict);
        let tenants = index.tenants.values().filter(|t| &t.spec.tier_ref == name).count();
        plan.tiers.insert(
            name.clone(),
            ServiceTierStatus {
                observed_generation: tier.metadata.generation,
                tenants: tenants as i32,
                conditions: conditions.finish(),
            },
        );
        checks.insert(name.clone(), TierCheck { verdict, limits });
    }
    checks
}

/// Writes every partner's status.
pub fn partners(index: &Index, now: &str, plan: &mut Plan) {
    for (name, partner) in &index.partners {
        let tenants: Vec<_> = index.tenants.values().filter(|t| &t.spec.partner_ref == name).collect();
        let verdict = if labels::is_valid_value(name) {
            Verdict::ready("Valid", format!("{} tenants", tenants.len()))
        } else {
            Verdict::stalled("InvalidName", "partner names must be valid label values (at most 63 characters)")
        };
        let previous = partner.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
        let mut conditions = Conditions::new(previous, now, partner.metadata.generation);
        conditions.readiness(&verdict);
        plan.partners.insert(
            name.clone(),
            PartnerStatus {
                observed_generation: partner.metadata.generation,
                tenants: tenants.len() as i32,
                active_tenants: tenants.iter().filter(|t| !t.spec.suspended).count() as i32,
                tiers: index.tiers.values().filter(|t| &t.spec.partner_ref == name).count() as i32,
                conditions: conditions.finish(),
            },
        );
    }
}

/// A tenant whose references all resolve.
pub struct Resolved<'a> {
    /// Its partner.
    pub partner: &'a Partner,
    /// Its tier.
    pub tier: &'a ServiceTier,
    /// Its tier's parsed container limits.
    pub limits: ContainerLimits,
    /// A problem that does not stop planning (too many connected systems).
    pub warning: Option<Verdict>,
}

/// A tenant and what the planner can do with it.
pub struct TenantPlan<'a> {
    /// The declared tenant.
    pub tenant: &'a Tenant,
    /// Its name.
    pub name: String,
    /// The namespace it runs in.
    pub namespace: String,
    /// Whether the namespace is this tenant's (false when an older tenant claimed it first).
    pub owns_namespace: bool,
    /// Resolved references, or why they do not resolve.
    pub state: Result<Resolved<'a>, Verdict>,
}

impl TenantPlan<'_> {
    /// The tier history with the current tier appended when it changed: observed history
    /// plus this observation. Only a resolved tier enters the history, so a typo never
    /// shows up in a bill.
    pub fn tier_history(&self, now: &str) -> Vec<TierHistoryEntry> {
        let mut history = self.tenant.status.as_ref().map(|s| s.tier_history.clone()).unwrap_or_default();
        if let Ok(resolved) = &self.state {
            let current = resolved.tier.name_any();
            if history.last().map(|entry| entry.tier != current).unwrap_or(true) {
                history.push(TierHistoryEntry {
                    tier: current,
                    level: Some(resolved.tier.spec.level),
                    since: now.to_string(),
                });
            }
        }
        history
    }
}

fn resolve_tenant<'a>(
    index: &Index<'a>,
    tier_checks: &BTreeMap<String, TierCheck>,
    tenant: &'a Tenant,
    name: &str,
    namespace: &str,
) -> Result<Resolved<'a>, Verdict> {
    let spec = &tenant.spec;
    if !labels::is_valid_value(name) {
        return Err(Verdict::stalled(
            "InvalidName",
            format!(
                "tenant name '{name}' must be a valid label value (at most 63 characters, alphanumeric at both ends)"
            ),
        ));
    }
    if !labels::is_dns_label(namespace) {
        return Err(Verdict::stalled(
            "InvalidNamespace",
            format!("namespace '{namespace}' is not a DNS label (at most 63 lowercase letters, digits and '-'); set spec.namespace"),
        ));
    }
    if RESERVED_NAMESPACES.contains(&namespace) || namespace.starts_with("kube-") {
        return Err(Verdict::stalled(
            "ReservedNamespace",
            format!("spec.namespace: '{namespace}' is reserved for the cluster and is never given to a tenant"),
        ));
    }
    let partner = index.partners.get(&spec.partner_ref).copied().ok_or_else(|| {
        Verdict::stalled("UnknownPartner", format!("spec.partnerRef: partner '{}' does not exist", spec.partner_ref))
    })?;
    let tier = index.tiers.get(&spec.tier_ref).copied().ok_or_else(|| {
        Verdict::stalled("UnknownTier", format!("spec.tierRef: service tier '{}' does not exist", spec.tier_ref))
    })?;
    if tier.spec.partner_ref != spec.partner_ref {
        return Err(Verdict::stalled(
            "TierPartnerMismatch",
            format!(
                "spec.tierRef: service tier '{}' belongs to partner '{}', not to '{}'",
                spec.tier_ref, tier.spec.partner_ref, spec.partner_ref
            ),
        ));
    }
    let limits = match tier_checks.get(&spec.tier_ref) {
        Some(TierCheck { limits: Some(limits), .. }) => limits.clone(),
        Some(TierCheck { verdict, .. }) => {
            return Err(Verdict::stalled(
                "TierInvalid",
                format!("service tier '{}' cannot be used: {}", spec.tier_ref, verdict.message()),
            ))
        }
        None => {
            return Err(Verdict::stalled("UnknownTier", format!("service tier '{}' was not checked", spec.tier_ref)))
        }
    };
    let max_systems = tier.spec.limits.max_connected_systems;
    let warning = (spec.connected_systems.len() as i64 > max_systems as i64).then(|| {
        Verdict::stalled(
            "TooManyConnectedSystems",
            format!(
                "spec.connectedSystems: {} declared, tier '{}' allows {}; workflows keep running",
                spec.connected_systems.len(),
                spec.tier_ref,
                max_systems
            ),
        )
    });
    Ok(Resolved { partner, tier, limits, warning })
}

/// Resolves every tenant. Where two tenants claim one namespace, the older keeps it.
pub fn tenants<'a>(index: &Index<'a>, tier_checks: &BTreeMap<String, TierCheck>) -> BTreeMap<String, TenantPlan<'a>> {
    let mut by_age: Vec<&&Tenant> = index.tenants.values().collect();
    by_age.sort_by_key(|t| age_key(**t));
    let mut claimed: BTreeMap<String, String> = BTreeMap::new();
    let mut plans = BTreeMap::new();
    for tenant in by_age {
        let name = tenant.name_any();
        let namespace = tenant.spec.namespace_for(&name);
        let owns_namespace = !claimed.contains_key(&namespace);
        let state = match claimed.get(&namespace) {
            Some(owner) => Err(Verdict::stalled(
                "NamespaceConflict",
                format!("namespace '{namespace}' already belongs to tenant '{owner}'; set a different spec.namespace"),
            )),
            None => {
                claimed.insert(namespace.clone(), name.clone());
                resolve_tenant(index, tier_checks, tenant, &name, &namespace)
            }
        };
        plans.insert(name.clone(), TenantPlan { tenant, name, namespace, owns_namespace, state });
    }
    plans
}
