//! Resolves references between declared objects: which partner and tier each tenant is on,
//! which tiers are usable, which namespace belongs to which tenant. Every broken reference
//! becomes a verdict naming the field at fault, and the rest of the fleet is still planned.

use crate::conditions::Verdict;
use crate::labels;
use crate::model::{age_key, Amount, ContainerLimits, Index, Resolved, TenantResolution, TierCheck};
use crate::quantity;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube_core::ResourceExt;
use std::collections::BTreeMap;
use tenantry_api::conditions::reason;
use tenantry_api::{ServiceTier, Tenant};

/// Namespaces tenantry never takes over, whatever a tenant declares.
const RESERVED_NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

fn amount(value: Option<&Quantity>, field: &str) -> Result<Amount, Verdict> {
    let quantity = value.ok_or_else(|| Verdict::stalled(reason::INVALID_LIMITS, format!("{field} is required")))?;
    let milli =
        quantity::parse(&quantity.0).map_err(|e| Verdict::stalled(reason::INVALID_LIMITS, format!("{field}: {e}")))?;
    Ok(Amount { quantity: quantity.clone(), milli })
}

fn check_tier(index: &Index, tier: &ServiceTier) -> Result<ContainerLimits, Verdict> {
    let spec = &tier.spec;
    if !index.partners.contains_key(&spec.partner_ref) {
        return Err(Verdict::stalled(
            reason::UNKNOWN_PARTNER,
            format!("spec.partnerRef: partner '{}' does not exist", spec.partner_ref),
        ));
    }
    if let Some(sla) = &spec.sla {
        crate::sla_terms::terms(sla).map_err(|why| Verdict::stalled(reason::INVALID_SLA, why))?;
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
                reason::INVALID_LIMITS,
                format!(
                    "spec.limits.defaultContainer.{what} ({}) is above spec.limits.maxContainer.{what} ({})",
                    default.quantity.0, max.quantity.0
                ),
            ));
        }
    }
    if !labels::is_valid_value(&tier.name_any()) {
        return Err(Verdict::stalled(
            reason::INVALID_NAME,
            "tier names must be valid label values (at most 63 characters)",
        ));
    }
    Ok(parsed)
}

/// Checks every tier: whether tenants can be planned on it, and its parsed limits.
pub fn tiers(index: &Index) -> BTreeMap<String, TierCheck> {
    let mut checks = BTreeMap::new();
    for (name, tier) in &index.tiers {
        let check = match check_tier(index, tier) {
            Ok(limits) => TierCheck { verdict: Verdict::ready(reason::VALID, "tier is valid"), limits: Some(limits) },
            Err(verdict) => TierCheck { verdict, limits: None },
        };
        checks.insert(name.clone(), check);
    }
    checks
}

/// Whether a partner with `tenants` tenants is usable: its name must fit in a label.
pub fn partner(name: &str, tenants: usize) -> Verdict {
    if labels::is_valid_value(name) {
        Verdict::ready(reason::VALID, format!("{tenants} tenants"))
    } else {
        Verdict::stalled(reason::INVALID_NAME, "partner names must be valid label values (at most 63 characters)")
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
            reason::INVALID_NAME,
            format!(
                "tenant name '{name}' must be a valid label value (at most 63 characters, alphanumeric at both ends)"
            ),
        ));
    }
    if !labels::is_dns_label(namespace) {
        return Err(Verdict::stalled(
            reason::INVALID_NAMESPACE,
            format!("namespace '{namespace}' is not a DNS label (at most 63 lowercase letters, digits and '-'); set spec.namespace"),
        ));
    }
    if RESERVED_NAMESPACES.contains(&namespace) || namespace.starts_with("kube-") {
        return Err(Verdict::stalled(
            reason::RESERVED_NAMESPACE,
            format!("spec.namespace: '{namespace}' is reserved for the cluster and is never given to a tenant"),
        ));
    }
    let partner = index.partners.get(&spec.partner_ref).copied().ok_or_else(|| {
        Verdict::stalled(
            reason::UNKNOWN_PARTNER,
            format!("spec.partnerRef: partner '{}' does not exist", spec.partner_ref),
        )
    })?;
    let tier = index.tiers.get(&spec.tier_ref).copied().ok_or_else(|| {
        Verdict::stalled(reason::UNKNOWN_TIER, format!("spec.tierRef: service tier '{}' does not exist", spec.tier_ref))
    })?;
    if tier.spec.partner_ref != spec.partner_ref {
        return Err(Verdict::stalled(
            reason::TIER_PARTNER_MISMATCH,
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
                reason::TIER_INVALID,
                format!("service tier '{}' cannot be used: {}", spec.tier_ref, verdict.message()),
            ))
        }
        None => {
            return Err(Verdict::stalled(
                reason::UNKNOWN_TIER,
                format!("service tier '{}' was not checked", spec.tier_ref),
            ))
        }
    };
    let max_systems = tier.spec.limits.max_connected_systems;
    let warning = (spec.connected_systems.len() as i64 > max_systems as i64).then(|| {
        Verdict::stalled(
            reason::TOO_MANY_CONNECTED_SYSTEMS,
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
pub fn tenants<'a>(
    index: &Index<'a>,
    tier_checks: &BTreeMap<String, TierCheck>,
) -> BTreeMap<String, TenantResolution<'a>> {
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
                reason::NAMESPACE_CONFLICT,
                format!("namespace '{namespace}' already belongs to tenant '{owner}'; set a different spec.namespace"),
            )),
            None => {
                claimed.insert(namespace.clone(), name.clone());
                resolve_tenant(index, tier_checks, tenant, &name, &namespace)
            }
        };
        let governance = crate::policy::for_tenant(index, tenant);
        plans.insert(name.clone(), TenantResolution { tenant, name, namespace, owns_namespace, state, governance });
    }
    plans
}
