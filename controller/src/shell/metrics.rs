//! Prometheus metrics of the operator: reconciles, errors, durations, trigger queue depth,
//! writes, managed objects, BillingRecord write failures and fleet gauges, served as text on
//! `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Labels naming a controller and an outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    /// `tenant` or `fleet`.
    pub controller: String,
    /// `ok` or an error kind.
    pub result: String,
}

/// Labels naming a Kubernetes kind.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    /// The kind.
    pub kind: String,
}

/// Labels naming a controller.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabels {
    /// `tenant` or `fleet`.
    pub controller: String,
}

/// Labels of a lease transition.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TransitionLabels {
    /// `acquired`, `released`, `taken` (another replica holds it) or `renew_deadline`
    /// (no renewal within the renew deadline).
    pub transition: String,
}

/// Labels of a failing watch or list.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WatchLabels {
    /// The kind watched.
    pub kind: String,
    /// `forbidden`, `transient` or `other`.
    pub reason: String,
}

/// Labels of a BillingRecord write that failed. No tenant or record: the log names them, and
/// every label here has a handful of values.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BillingWriteLabels {
    /// The phase the write gives the record: `Open`, or `Closed` when it closes the month.
    pub phase: String,
    /// `apply` (the spec, by server-side apply) or `status_patch` (the status, which is what
    /// closes the record).
    pub operation: String,
    /// `forbidden` (403: RBAC), `invalid` (422: the CRD's validation, such as its freeze of a
    /// Closed record), `transient` (the API server unreachable or overloaded: timeouts, 409,
    /// 429, 5xx) or `other` (see [`super::error::reason_label`]).
    pub reason: String,
}

/// Labels naming a partner.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PartnerLabels {
    /// The partner.
    pub partner: String,
}

/// Labels of a fleet gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FleetLabels {
    /// The partner.
    pub partner: String,
    /// A phase or readiness.
    pub state: String,
}

/// Labels of a workflow that does not run, by why.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HeldLabels {
    /// The partner.
    pub partner: String,
    /// `Held`, `Blocked`, `Suspended` or `Pending`.
    pub state: String,
    /// The workflow's reason (`TierWorkflowLimit`, `AwaitingApproval`, `ImageNotAllowed`, ...).
    pub reason: String,
}

/// Labels of a governance decision.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    /// The GovernancePolicy behind it (`none` when no policy is named).
    pub policy: String,
    /// `Held`, `Frozen`, `Blocked`, `Approved` or `Released`.
    pub decision: String,
    /// The reason (`AwaitingApproval`, `ChangeFreeze`, `ImageNotAllowed`, ...).
    pub reason: String,
}

/// Labels of a partner's revenue gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RevenueLabels {
    /// The partner.
    pub partner: String,
    /// Its ISO 4217 currency (amounts are in its minor units).
    pub currency: String,
    /// What is measured: `mrr`, `arr`, `platform_mrr`, `managed_operations_mrr`,
    /// `expansion_mrr`, `new_mrr`, `reactivated_mrr`, `expansion_movement`,
    /// `contraction_movement`, `churned_mrr`, `arpa`, `billed`, `credits` (service credits
    /// among what was billed, negative), and with a cost model
    /// `infrastructure_cost`, `support_cost` and `gross_margin` (this month so far).
    pub measure: String,
}

/// Labels of a tenant's service-level gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SlaLabels {
    /// The partner.
    pub partner: String,
    /// The tenant.
    pub tenant: String,
    /// `attainment` (this month so far) or `target` (the tier's `availabilityTarget`).
    pub figure: String,
}

/// Labels of a partner's rate gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RateLabels {
    /// The partner.
    pub partner: String,
    /// `nrr`, `grr`, `attach_rate`, `gross_margin` or `workflow_adoption`.
    pub rate: String,
}

/// Every metric the operator exports.
pub struct Metrics {
    /// Reconciles by controller and result.
    pub reconciles: Family<ResultLabels, Counter>,
    /// Reconcile durations by controller.
    pub reconcile_seconds: Family<ControllerLabels, Histogram>,
    /// Triggers sent to the tenant controller and not yet taken.
    pub queue_depth: Gauge,
    /// Server-side applies by kind.
    pub applies: Family<KindLabels, Counter>,
    /// Applies the API server refused, by kind.
    pub apply_errors: Family<KindLabels, Counter>,
    /// Prunes by kind.
    pub prunes: Family<KindLabels, Counter>,
    /// Status patches by kind.
    pub status_patches: Family<KindLabels, Counter>,
    /// Managed objects observed, by kind.
    pub managed_objects: Family<KindLabels, Gauge>,
    /// Tenants by partner and readiness.
    pub tenants: Family<FleetLabels, Gauge>,
    /// Workflows by partner and phase.
    pub workflows: Family<FleetLabels, Gauge>,
    /// 1 while this replica holds the leader lease.
    pub leader: Gauge,
    /// Lease transitions of this replica, by kind of transition.
    pub lease_transitions: Family<TransitionLabels, Counter>,
    /// Attempts to renew the held lease that failed or timed out.
    pub lease_renew_failures: Counter,
    /// Failed lists and watches, by kind and reason (`forbidden` needs RBAC fixed).
    pub watch_errors: Family<WatchLabels, Counter>,
    /// Status patches that failed, by kind.
    pub status_patch_errors: Family<KindLabels, Counter>,
    /// Governance decisions recorded, by policy, decision and reason.
    pub governance_decisions: Family<DecisionLabels, Counter>,
    /// Workflows that do not run, by partner, phase and reason.
    pub workflows_not_running: Family<HeldLabels, Gauge>,
    /// Partners' recurring revenue this month, in minor units of their currency.
    pub revenue: Family<RevenueLabels, Gauge>,
    /// Partners' retention and attach rates, in basis points (10,000 = 100 %).
    pub rates: Family<RateLabels, Gauge>,
    /// Partners' paying tenants.
    pub paying_tenants: Family<FleetLabels, Gauge>,
    /// Tenants' service-level attainment this month and target, in pcm (100,000 = 100 %).
    pub sla: Family<SlaLabels, Gauge>,
    /// Partners' scheduled workflows active now (`deployed`) and those with a run in the
    /// last 30 days (`adopted`).
    pub scheduled_workflows: Family<FleetLabels, Gauge>,
    /// BillingRecord writes (spec or status) the API server refused or never answered, by the
    /// phase written, the operation and a reason.
    pub billing_write_errors: Family<BillingWriteLabels, Counter>,
    /// Tenant-months past their end and grace period that the tenants' statuses do not record
    /// as Closed, by partner (the fleet pass's count; see `fleet::overdue_months`).
    pub billing_overdue_months: Family<PartnerLabels, Gauge>,
}

impl Metrics {
    /// Creates the metrics and registers them.
    pub fn new(registry: &mut Registry) -> Self {
        let metrics = Metrics {
            reconciles: Family::default(),
            reconcile_seconds: Family::new_with_constructor(|| {
                Histogram::new([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
            }),
            queue_depth: Gauge::default(),
            applies: Family::default(),
            apply_errors: Family::default(),
            prunes: Family::default(),
            status_patches: Family::default(),
            managed_objects: Family::default(),
            tenants: Family::default(),
            workflows: Family::default(),
            leader: Gauge::default(),
            lease_transitions: Family::default(),
            lease_renew_failures: Counter::default(),
            watch_errors: Family::default(),
            status_patch_errors: Family::default(),
            governance_decisions: Family::default(),
            workflows_not_running: Family::default(),
            revenue: Family::default(),
            rates: Family::default(),
            paying_tenants: Family::default(),
            sla: Family::default(),
            scheduled_workflows: Family::default(),
            billing_write_errors: Family::default(),
            billing_overdue_months: Family::default(),
        };
        let prefixed = registry.sub_registry_with_prefix("tenantry");
        prefixed.register("reconciles", "Reconciles by controller and result", metrics.reconciles.clone());
        prefixed.register("reconcile_duration_seconds", "Time a reconcile takes", metrics.reconcile_seconds.clone());
        prefixed.register(
            "queue_depth",
            "Reconcile triggers waiting for the tenant controller",
            metrics.queue_depth.clone(),
        );
        prefixed.register("applies", "Server-side applies of managed objects", metrics.applies.clone());
        prefixed.register("apply_errors", "Applies the API server refused", metrics.apply_errors.clone());
        prefixed.register("prunes", "Managed objects deleted because no longer desired", metrics.prunes.clone());
        prefixed.register("status_patches", "Status patches written", metrics.status_patches.clone());
        prefixed.register(
            "managed_objects",
            "Managed objects observed in the cluster",
            metrics.managed_objects.clone(),
        );
        prefixed.register("fleet_tenants", "Tenants by partner and readiness", metrics.tenants.clone());
        prefixed.register("fleet_workflows", "Workflows by partner and phase", metrics.workflows.clone());
        prefixed.register("leader", "1 while this replica holds the leader lease", metrics.leader.clone());
        prefixed.register(
            "lease_transitions",
            "Leader lease transitions of this replica (acquired, released, taken, renew_deadline)",
            metrics.lease_transitions.clone(),
        );
        prefixed.register(
            "lease_renew_failures",
            "Renewals of the held lease that failed or timed out",
            metrics.lease_renew_failures.clone(),
        );
        prefixed.register(
            "watch_errors",
            "Failed lists and watches by kind and reason (forbidden: fix the RBAC)",
            metrics.watch_errors.clone(),
        );
        prefixed.register("status_patch_errors", "Status patches that failed", metrics.status_patch_errors.clone());
        prefixed.register(
            "fleet_workflows_not_running",
            "Workflows that do not run, by partner, phase and reason",
            metrics.workflows_not_running.clone(),
        );
        prefixed.register(
            "governance_decisions",
            "Governance decisions recorded on workflows, by policy, decision and reason",
            metrics.governance_decisions.clone(),
        );
        prefixed.register(
            "partner_revenue",
            "Partners' recurring revenue this month by measure, in minor units of their currency",
            metrics.revenue.clone(),
        );
        prefixed.register(
            "partner_rate_basis_points",
            "Partners' NRR, GRR, automation attach rate, gross margin and workflow adoption, in basis points (10000 = 100 %)",
            metrics.rates.clone(),
        );
        prefixed.register(
            "partner_scheduled_workflows",
            "Partners' scheduled workflows active now (deployed) and with a run in the last 30 days (adopted)",
            metrics.scheduled_workflows.clone(),
        );
        prefixed.register(
            "tenant_sla_pcm",
            "Tenants' service-level attainment this month (figure=attainment) and their tier's target (figure=target), in pcm (100000 = 100 %)",
            metrics.sla.clone(),
        );
        prefixed.register(
            "partner_paying_tenants",
            "Partners' tenants with MRR above zero",
            metrics.paying_tenants.clone(),
        );
        prefixed.register(
            "billing_record_write_errors",
            "BillingRecord writes that failed, by the phase written (Closed: the write that closes the month), operation and reason",
            metrics.billing_write_errors.clone(),
        );
        prefixed.register(
            "billing_overdue_months",
            "Tenant-months past their end and grace period that tenants' statuses do not record as Closed, by partner",
            metrics.billing_overdue_months.clone(),
        );
        metrics
    }

    /// Records one reconcile.
    pub fn reconciled(&self, controller: &str, result: &str, seconds: f64) {
        self.reconciles.get_or_create(&ResultLabels { controller: controller.into(), result: result.into() }).inc();
        self.reconcile_seconds.get_or_create(&ControllerLabels { controller: controller.into() }).observe(seconds);
    }

    /// Records a lease transition (`acquired`, `released`, `taken`, `renew_deadline`).
    pub fn lease_transition(&self, transition: &str) {
        self.lease_transitions.get_or_create(&TransitionLabels { transition: transition.into() }).inc();
    }

    /// Counts a BillingRecord write that failed: `closing` when the write was to close the
    /// record, `operation` `apply` or `status_patch`.
    pub fn billing_write_failed(&self, closing: bool, operation: &str, error: &kube::Error) {
        let labels = BillingWriteLabels {
            phase: if closing { "Closed" } else { "Open" }.into(),
            operation: operation.into(),
            reason: super::error::reason_label(error).into(),
        };
        self.billing_write_errors.get_or_create(&labels).inc();
    }

    /// The counter of one kind in a family.
    pub fn kind<'a>(
        family: &'a Family<KindLabels, Counter>,
        kind: &str,
    ) -> impl std::ops::Deref<Target = Counter> + 'a {
        family.get_or_create(&KindLabels { kind: kind.into() })
    }
}
