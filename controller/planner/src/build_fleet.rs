//! Statuses of the fleet-wide objects resolving decided about: partners (their tenant and
//! tier counts) and tiers (whether they are usable, and how many tenants are on them).

use crate::billing;
use crate::conditions::Conditions;
use crate::model::{Index, TierCheck};
use crate::resolve;
use crate::world::Plan;
use std::collections::BTreeMap;
use tenantry_api::{BillingRecord, PartnerStatus, ServiceTierStatus, Tenant};

/// Writes every tier's status from its check.
pub fn tiers(index: &Index, checks: &BTreeMap<String, TierCheck>, now: &str, plan: &mut Plan) {
    for (name, tier) in &index.tiers {
        let Some(check) = checks.get(name) else { continue };
        let previous = tier.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
        let mut conditions = Conditions::new(previous, now, tier.metadata.generation);
        conditions.readiness(&check.verdict);
        let tenants = index.tenants.values().filter(|t| &t.spec.tier_ref == name).count();
        plan.tiers.insert(
            name.clone(),
            ServiceTierStatus {
                observed_generation: tier.metadata.generation,
                tenants: tenants as i32,
                conditions: conditions.finish(),
            },
        );
    }
}

/// Writes every partner's status.
pub fn partners(index: &Index, instant: jiff::Timestamp, now: &str, plan: &mut Plan) {
    // The records as they will stand: those observed, with this plan's writes over them.
    let mut records: BTreeMap<&str, &BillingRecord> =
        index.billing_records.iter().map(|(name, record)| (name.as_str(), *record)).collect();
    records.extend(plan.billing_records.iter().map(|(name, record)| (name.as_str(), record)));
    let records: Vec<&BillingRecord> = records.into_values().collect();
    for (name, partner) in &index.partners {
        let tenants: Vec<_> = index.tenants.values().filter(|t| &t.spec.partner_ref == name).collect();
        let verdict = resolve::partner(name, tenants.len());
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
                revenue: Some(billing::revenue::partner_revenue(
                    records.iter().copied(),
                    name,
                    &partner.spec.currency,
                    partner.spec.cost_model.as_ref(),
                    instant,
                    &mut times_to_value(&tenants),
                )),
                conditions: conditions.finish(),
            },
        );
    }
}

/// Seconds from each tenant's creation to its first ready workflow, where both are known.
fn times_to_value(tenants: &[&&Tenant]) -> Vec<i64> {
    tenants
        .iter()
        .filter_map(|tenant| {
            let created = tenant.metadata.creation_timestamp.as_ref()?.0;
            let first: jiff::Timestamp = tenant.status.as_ref()?.first_value_time.as_ref()?.parse().ok()?;
            Some((first.as_second() - created.as_second()).max(0))
        })
        .collect()
}
