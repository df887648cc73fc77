//! A generated fleet of any size for benchmarks and `tenantry bench generate`: partners, their
//! tiers, tenants with a year of tier history and contracts, their workflows, governance
//! policies selecting subsets, approvals, and a few problem objects. Deterministic: the same
//! [`FleetShape`] and instant give the same documents, byte for byte (a small PRNG of its
//! own, no clock, no randomness from the system).
//!
//! The documents are plain JSON values, so the same fleet is written to disk as YAML (one
//! file per object, laid out like `examples/gitops`) and loaded straight into a [`World`].

use crate::billing::Period;
use crate::World;
use jiff::Timestamp;
use serde_json::{json, Value};

/// The size and seed of a generated fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FleetShape {
    /// Tenants.
    pub tenants: usize,
    /// Workflows each tenant declares.
    pub workflows_per_tenant: usize,
    /// Partners; each has three tiers.
    pub partners: usize,
    /// Seed of the generator.
    pub seed: u64,
}

/// One generated object and where it goes: a path relative to the fleet's directory.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// `partners/<name>.yaml`, `tiers/<partner>/<name>.yaml`, `tenants/<name>/tenant.yaml`,
    /// `tenants/<name>/workflows/<name>.yaml`, `governance/<name>.yaml` or
    /// `approvals/<tenant>/<name>.yaml`.
    pub path: String,
    /// The object, as its YAML says it.
    pub object: Value,
}

/// splitmix64: small, fast and good enough to spread a fleet's choices.
struct Prng(u64);

impl Prng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound` > 0).
    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound.max(1) as u64) as usize
    }

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// Partner names, currencies and invoice prefixes; beyond these, `partner-NN` in EUR.
const PARTNERS: [(&str, &str, &str, &str); 6] = [
    ("northbridge", "Northbridge ERP Partners", "EUR", "NB-FLOW"),
    ("loop", "Loop Automation", "USD", "LOOP"),
    ("souq", "Souq Systems", "AED", "SOUQ"),
    ("fjordline", "Fjordline Integrators", "EUR", "FJL"),
    ("keystone", "Keystone MSP", "USD", "KMSP"),
    ("albion", "Albion Commerce Consulting", "GBP", "ALB"),
];

/// A tier: name suffix, level, categories, maxWorkflows, base fee, fee per workflow.
type TierShape = (&'static str, i32, &'static [&'static str], i64, i64, i64);

/// Each partner's tiers.
const TIERS: [TierShape; 3] = [
    ("foundation", 1, &["orderToCash", "inventoryProcurement"], 4, 149_000, 9_900),
    (
        "managed-ai",
        2,
        &["orderToCash", "inventoryProcurement", "returnsService", "financeCompliance"],
        8,
        349_000,
        14_900,
    ),
    (
        "intelligence-plus",
        3,
        &["orderToCash", "inventoryProcurement", "returnsService", "financeCompliance", "operationalIntelligence"],
        12,
        690_000,
        19_900,
    ),
];

/// Templates per category, from `templates::known`.
fn template(category: &str, pick: usize) -> &'static str {
    let list: &[&str] = match category {
        "orderToCash" => &["order-validation", "invoice-generation", "payment-capture", "order-routing"],
        "inventoryProcurement" => &["stock-threshold-alerts", "replenishment", "supplier-sync", "inventory-sync"],
        "returnsService" => &["rma-approval", "refund", "return-label"],
        "financeCompliance" => &["tax-validation", "reconciliation", "invoice-matching"],
        _ => &["kpi-digest", "anomaly-detection", "demand-forecast"],
    };
    list[pick % list.len()]
}

/// The registry the fleet-baseline policy allows runner images from.
const REGISTRY: &str = "registry.tenantry.dev/runners/workflow-runner:1.4.2";

/// The name of generated tenant `index`: `tenant-00042`.
pub fn tenant_name(index: usize) -> String {
    format!("tenant-{index:05}")
}

fn partner_name(index: usize) -> String {
    PARTNERS.get(index).map_or_else(|| format!("partner-{index:02}"), |p| p.0.to_string())
}

fn time(instant: Timestamp) -> String {
    crate::format_time(instant)
}

/// Every object of the fleet, in a fixed order: partners, tiers, policies, then each tenant
/// followed by its workflows and approvals. `now` anchors the year of tier history: it starts
/// in the month twelve months before `now`'s.
pub fn documents(shape: FleetShape, now: Timestamp) -> Vec<Document> {
    let mut rng = Prng(shape.seed);
    let partners = shape.partners.max(1);
    let mut docs = Vec::new();
    for p in 0..partners {
        let name = partner_name(p);
        let (display, currency, prefix) =
            PARTNERS.get(p).map_or_else(|| (name.clone(), "EUR", "INV"), |&(_, d, c, x)| (d.to_string(), c, x));
        docs.push(Document {
            path: format!("partners/{name}.yaml"),
            object: json!({
                "apiVersion": "tenantry.dev/v1alpha1", "kind": "Partner", "metadata": {"name": name},
                "spec": {"displayName": display,
                         "branding": {"productName": format!("{display} FlowOps"), "primaryColor": "#0B4F6C",
                                      "supportEmail": format!("support@{name}.example")},
                         "currency": currency, "invoicePrefix": prefix,
                         "costModel": {"cpuCoreMonth": 2400, "memoryGibMonth": 310,
                                       "supportPerTenant": [{"tierLevel": 1, "monthly": 15000},
                                                            {"tierLevel": 2, "monthly": 42000},
                                                            {"tierLevel": 3, "monthly": 95000}]}}
            }),
        });
        for (suffix, level, categories, max_workflows, base, per_workflow) in TIERS {
            let tier = format!("{name}-{suffix}");
            docs.push(Document {
                path: format!("tiers/{name}/{tier}.yaml"),
                object: json!({
                    "apiVersion": "tenantry.dev/v1alpha1", "kind": "ServiceTier", "metadata": {"name": tier},
                    "spec": {"partnerRef": name, "displayName": suffix, "level": level,
                             "capabilities": ["workflowAutomation", "monitoring", "alerting", "monthlyReporting"],
                             "workflowCategories": categories,
                             "limits": {"maxWorkflows": max_workflows, "maxConnectedSystems": 8,
                                        "namespaceQuota": {"cpu": "8", "memory": "16Gi", "pods": 60},
                                        "defaultContainer": {"cpu": "100m", "memory": "128Mi"},
                                        "maxContainer": {"cpu": "1", "memory": "1Gi"}},
                             "pricing": {"monthlyBaseFee": base, "monthlyFeePerActiveWorkflow": per_workflow,
                                         "includedRunsPerMonth": 100000, "pricePerThousandExtraRuns": 200}}
                }),
            });
        }
    }
    docs.extend(policies());
    let first = Period::containing(now);
    let history_start = (0..12).fold(first, |period, _| period.previous()).start();
    let span_seconds = now.as_second() - history_start.as_second();
    for index in 0..shape.tenants {
        docs.extend(tenant(&mut rng, shape, index, partners, history_start, span_seconds));
    }
    docs
}

/// Three policies: the fleet-wide baseline (regions, registries), strict finance for tenants
/// labelled `compliance=strict` (two approvers for finance workflows), AI review for tenants
/// labelled `ai-review=required`.
fn policies() -> Vec<Document> {
    let policy = |name: &str, spec: Value| Document {
        path: format!("governance/{name}.yaml"),
        object: json!({"apiVersion": "tenantry.dev/v1alpha1", "kind": "GovernancePolicy",
                       "metadata": {"name": name}, "spec": spec}),
    };
    vec![
        policy(
            "fleet-baseline",
            json!({"tenantSelector": {}, "allowedRegions": ["eu-west-1", "eu-central-1", "us-east-1", "me-central-1"],
                   "allowedImageRegistries": ["registry.tenantry.dev"],
                   "escalation": {"contacts": ["platform-oncall@tenantry.example"]}, "audit": {"retentionDays": 400}}),
        ),
        policy(
            "strict-finance",
            json!({"tenantSelector": {"matchLabels": {"tenantry.dev/compliance": "strict"}},
                   "approvals": [{"categories": ["financeCompliance"],
                                  "approvers": [{"kind": "Group", "name": "finance-approvers"}], "minApprovals": 2}],
                   "rbac": [{"role": "approver", "subjects": [{"kind": "Group", "name": "finance-approvers"}]}],
                   "audit": {"retentionDays": 2555}}),
        ),
        policy(
            "intelligence-ai-review",
            json!({"tenantSelector": {"matchLabels": {"tenantry.dev/ai-review": "required"}},
                   "ai": {"humanReviewBelowPercent": 90, "allowedModels": ["claude-haiku", "claude-sonnet"]},
                   "escalation": {"contacts": ["ai-desk@tenantry.example"]}}),
        ),
    ]
}

/// Which problem, if any, tenant `index` carries: one of each kind in every thousand tenants.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Problem {
    None,
    UnknownTier,
    BadCron,
    DisallowedCategory,
    RefusedRegistry,
}

fn problem(index: usize) -> Problem {
    match index % 1000 {
        7 => Problem::UnknownTier,
        113 => Problem::BadCron,
        331 => Problem::DisallowedCategory,
        617 => Problem::RefusedRegistry,
        _ => Problem::None,
    }
}

/// A tenant, its workflows and, under strict finance, one approval per finance workflow (of
/// the two it needs).
fn tenant(
    rng: &mut Prng,
    shape: FleetShape,
    index: usize,
    partners: usize,
    history_start: Timestamp,
    span_seconds: i64,
) -> Vec<Document> {
    let name = tenant_name(index);
    let namespace = format!("tenant-{name}");
    let problem = problem(index);
    let partner = partner_name(index % partners);
    // Half on foundation, a third on managed AI, the rest on intelligence plus.
    let mut level = match rng.below(6) {
        0..=2 => 0,
        3 | 4 => 1,
        _ => 2,
    };
    if problem == Problem::DisallowedCategory {
        level = 0;
    }
    let tier = |level: usize| format!("{partner}-{}", TIERS[level].0);
    // Joined in the first half of the year, some upgraded one level since.
    let joined = history_start.as_second() + (rng.below(100) as i64) * span_seconds / 200;
    let at = |second: i64| time(Timestamp::from_second(second).unwrap_or(history_start));
    let mut history = Vec::new();
    let upgraded = level > 0 && rng.chance(30);
    let upgrade_at = joined + (span_seconds - (joined - history_start.as_second())) / 2;
    if upgraded {
        history.push(json!({"tier": tier(level - 1), "level": TIERS[level - 1].1, "since": at(joined)}));
        history.push(json!({"tier": tier(level), "level": TIERS[level].1, "since": at(upgrade_at)}));
    } else {
        history.push(json!({"tier": tier(level), "level": TIERS[level].1, "since": at(joined)}));
    }
    let tier_ref = if problem == Problem::UnknownTier { format!("{partner}-platinum") } else { tier(level) };
    let strict = rng.chance(5);
    let ai_review = level == 2 && rng.chance(50);
    let segments = ["distribution", "retail", "manufacturing", "health", "food"];
    let mut labels = json!({"tenantry.dev/segment": segments[rng.below(segments.len())],
                            "tenantry.dev/compliance": if strict { "strict" } else { "standard" }});
    if ai_review {
        labels["tenantry.dev/ai-review"] = json!("required");
    }
    let regions = ["eu-west-1", "eu-central-1", "us-east-1", "me-central-1"];
    let mut docs = Vec::new();
    let mut workflows = Vec::new();
    let mut activity = Vec::new();
    let mut approvals = Vec::new();
    let categories = TIERS[level].2;
    for w in 0..shape.workflows_per_tenant {
        let mut category = categories[rng.below(categories.len())];
        if problem == Problem::DisallowedCategory && w == 0 {
            category = "operationalIntelligence";
        }
        let template = template(category, rng.below(4));
        let workflow = format!("{template}-{w}");
        let trigger = match (problem, w, rng.below(3)) {
            (Problem::BadCron, 0, _) => json!({"schedule": {"cron": "75 * * * *", "timeZone": "Europe/Berlin"}}),
            (_, _, 0) => json!({"continuous": {"replicas": 1 + rng.below(2)}}),
            (_, _, 1) => json!({"event": {"source": "shop/orders-create"}}),
            _ => json!({"schedule": {"cron": format!("{} */2 * * *", rng.below(60)), "timeZone": "Europe/Berlin"}}),
        };
        let image = if problem == Problem::RefusedRegistry && w == 0 {
            "docker.io/someone/workflow-runner:latest"
        } else {
            REGISTRY
        };
        let since = if w < 3 || !upgraded { joined } else { upgrade_at };
        if w < TIERS[level].3 as usize {
            activity.push(json!({"workflow": workflow, "since": at(since)}));
        }
        if strict && category == "financeCompliance" {
            approvals.push(Document {
                path: format!("approvals/{name}/{workflow}-v1-controller.yaml"),
                object: json!({"apiVersion": "tenantry.dev/v1alpha1", "kind": "Approval",
                               "metadata": {"name": format!("{workflow}-v1-controller"), "namespace": namespace},
                               "spec": {"workflow": workflow, "generation": 1, "comment": "Reviewed.",
                                        "approver": {"user": format!("controller@{name}.example"),
                                                     "groups": ["finance-approvers"]}}}),
            });
        }
        workflows.push(Document {
            path: format!("tenants/{name}/workflows/{workflow}.yaml"),
            object: json!({"apiVersion": "tenantry.dev/v1alpha1", "kind": "Workflow",
                           "metadata": {"name": workflow, "namespace": namespace, "generation": 1},
                           "spec": {"category": category, "template": template, "trigger": trigger,
                                    "runner": {"image": image}, "connectors": ["erp", "shop"],
                                    "steps": [{"name": "fetch", "action": "fetch-orders"},
                                              {"name": "post", "action": "post-documents"}]}}),
        });
    }
    let term = [12, 24, 36][rng.below(3)];
    let discount = [0, 0, 5, 10][rng.below(4)];
    let region = regions[rng.below(regions.len())];
    let start_date = at(joined)[..10].to_string();
    docs.push(Document {
        path: format!("tenants/{name}/tenant.yaml"),
        object: json!({
            "apiVersion": "tenantry.dev/v1alpha1", "kind": "Tenant",
            "metadata": {"name": name, "uid": format!("uid-{index}"), "labels": labels},
            "spec": {"partnerRef": partner, "tierRef": tier_ref, "displayName": format!("Client {index}"),
                     "region": region,
                     "contract": {"startDate": start_date, "termMonths": term, "discountPercent": discount},
                     "connectedSystems": [{"name": "erp", "type": "erp", "vendor": "SAP Business One",
                                           "secretRef": {"name": "erp-credentials"}},
                                          {"name": "shop", "type": "storefront", "vendor": "Shopify",
                                           "secretRef": {"name": "shop-credentials"}}]},
            "status": {"tierHistory": history, "workflowActivity": activity}
        }),
    });
    docs.extend(workflows);
    docs.extend(approvals);
    docs
}

/// The fleet as a [`World`], as the loader would read it from the written files.
pub fn world(shape: FleetShape, now: Timestamp) -> Result<World, serde_json::Error> {
    let mut world = World::default();
    for doc in documents(shape, now) {
        let object = doc.object;
        match object["kind"].as_str() {
            Some("Partner") => world.partners.push(serde_json::from_value(object)?),
            Some("ServiceTier") => world.tiers.push(serde_json::from_value(object)?),
            Some("Tenant") => world.tenants.push(serde_json::from_value(object)?),
            Some("Workflow") => world.workflows.push(serde_json::from_value(object)?),
            Some("GovernancePolicy") => world.policies.push(serde_json::from_value(object)?),
            Some("Approval") => world.approvals.push(serde_json::from_value(object)?),
            _ => {}
        }
    }
    Ok(world)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-11-15T09:00:00Z".parse().unwrap()
    }

    #[test]
    fn the_same_seed_gives_the_same_fleet_and_another_seed_another() {
        let shape = FleetShape { tenants: 50, workflows_per_tenant: 4, partners: 3, seed: 7 };
        assert_eq!(documents(shape, now()), documents(shape, now()));
        assert_ne!(documents(shape, now()), documents(FleetShape { seed: 8, ..shape }, now()));
    }

    #[test]
    fn a_generated_fleet_plans_with_its_problems_and_a_year_of_bills() {
        let shape = FleetShape { tenants: 1200, workflows_per_tenant: 5, partners: 3, seed: 1 };
        let world = world(shape, now()).unwrap();
        assert_eq!((world.tenants.len(), world.workflows.len(), world.policies.len()), (1200, 6000, 3));
        let plan = crate::plan(&world, now());
        let reason = |ns: &str, wf: &str| {
            plan.workflows.iter().find(|((n, w), _)| n == ns && w.ends_with(wf)).and_then(|(_, s)| s.reason.clone())
        };
        assert!(plan.frozen.iter().any(|owner| format!("{owner:?}").contains("tenant-00007")));
        assert_eq!(reason("tenant-tenant-00113", "-0").as_deref(), Some("InvalidSchedule"));
        assert_eq!(reason("tenant-tenant-00331", "-0").as_deref(), Some("TierDisallowsCategory"));
        assert!(reason("tenant-tenant-00617", "-0").is_some());
        // About twelve months of records per tenant.
        assert!(plan.billing_records.len() > 1200 * 9, "{}", plan.billing_records.len());
    }
}
