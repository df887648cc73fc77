//! Small builders of declared objects for tests: a valid fleet in a few lines, each test
//! then breaking one thing.

use crate::World;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use tenantry_api::common::{ResourceAmounts, SecretReference};
use tenantry_api::partner::Branding;
use tenantry_api::tenant::{ConnectedSystem, SystemType};
use tenantry_api::tier::{NamespaceQuota, TierLimits, TierPricing};
use tenantry_api::workflow::{ContinuousTrigger, Runner, ScheduleTrigger, Trigger};
use tenantry_api::{
    Partner, PartnerSpec, ServiceTier, ServiceTierSpec, Tenant, TenantSpec, Workflow, WorkflowCategory, WorkflowSpec,
};

/// A partner with the given name.
pub fn partner(name: &str) -> Partner {
    Partner::new(
        name,
        PartnerSpec {
            display_name: format!("{name} display"),
            branding: Branding {
                product_name: format!("{name} Flow"),
                logo_url: Some("https://example.com/logo.svg".into()),
                primary_color: Some("#0a0b0c".into()),
                support_email: None,
                portal_domain: None,
            },
            currency: "EUR".into(),
            invoice_prefix: "INV".into(),
            cost_model: None,
        },
    )
}

fn amounts(cpu: &str, memory: &str) -> ResourceAmounts {
    ResourceAmounts { cpu: Some(Quantity(cpu.into())), memory: Some(Quantity(memory.into())) }
}

/// A tier of `partner` allowing `categories`, at most `max_workflows`.
pub fn tier(name: &str, partner: &str, categories: &[WorkflowCategory], max_workflows: i32) -> ServiceTier {
    ServiceTier::new(
        name,
        ServiceTierSpec {
            partner_ref: partner.into(),
            display_name: format!("{name} display"),
            level: 1,
            capabilities: vec![],
            workflow_categories: categories.to_vec(),
            limits: TierLimits {
                max_workflows,
                max_connected_systems: 5,
                namespace_quota: NamespaceQuota { cpu: Quantity("4".into()), memory: Quantity("8Gi".into()), pods: 20 },
                default_container: amounts("100m", "128Mi"),
                max_container: amounts("1", "1Gi"),
            },
            pricing: TierPricing {
                monthly_base_fee: 10000,
                monthly_fee_per_active_workflow: 1000,
                included_runs_per_month: 1000,
                price_per_thousand_extra_runs: 100,
            },
            sla: None,
        },
    )
}

/// A tenant of `partner` on `tier`, with one connected storefront `shop`.
pub fn tenant(name: &str, partner: &str, tier: &str) -> Tenant {
    Tenant::new(
        name,
        TenantSpec {
            partner_ref: partner.into(),
            tier_ref: tier.into(),
            display_name: format!("{name} display"),
            namespace: None,
            region: "eu-west-1".into(),
            suspended: false,
            contract: None,
            billing_adjustments: vec![],
            connected_systems: vec![ConnectedSystem {
                name: "shop".into(),
                type_: SystemType::Storefront,
                vendor: "Shopify".into(),
                secret_ref: Some(SecretReference { name: "shop-credentials".into() }),
            }],
        },
    )
}

/// A continuous order-to-cash workflow in `namespace`.
pub fn workflow(name: &str, namespace: &str) -> Workflow {
    let mut workflow = Workflow::new(
        name,
        WorkflowSpec {
            category: WorkflowCategory::OrderToCash,
            template: "order-validation".into(),
            trigger: Trigger { continuous: Some(ContinuousTrigger { replicas: 2 }), ..Trigger::default() },
            runner: Runner { image: "registry.example.com/runner:1".into(), resources: None, args: vec![] },
            connectors: vec!["shop".into()],
            steps: vec![],
            ai: None,
            exception_handling: None,
            paused: false,
        },
    );
    workflow.metadata.namespace = Some(namespace.into());
    workflow
}

/// A schedule trigger.
pub fn schedule(cron: &str, time_zone: Option<&str>) -> Trigger {
    Trigger {
        schedule: Some(ScheduleTrigger { cron: cron.into(), time_zone: time_zone.map(str::to_string) }),
        ..Trigger::default()
    }
}

/// A valid fleet: partner `acme`, tier `basic` (order-to-cash, 2 workflows), tenant `shop`
/// and workflow `orders` in `tenant-shop`.
pub fn fleet() -> World {
    World {
        partners: vec![partner("acme")],
        tiers: vec![tier("basic", "acme", &[WorkflowCategory::OrderToCash], 2)],
        tenants: vec![tenant("shop", "acme", "basic")],
        workflows: vec![workflow("orders", "tenant-shop")],
        ..World::default()
    }
}
