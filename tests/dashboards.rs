//! The Grafana dashboards in `charts/tenantry/dashboards/` and the chart's alerts.
//!
//! The dashboards are generated here, from the short descriptions below: a change to a panel
//! is made in this file and written out with `UPDATE_DASHBOARDS=1 cargo test --test
//! dashboards`; `dashboards_are_fresh` fails when the JSON files differ from what this file
//! generates.
//!
//! `every_queried_metric_exists` parses every PromQL expression of every dashboard (panels
//! and template variables) and of the chart's PrometheusRule, and checks each metric name is
//! one the operator exports (its registry, encoded) or one the runner contract documents
//! (the metrics table of `docs/runner.md`), so a typo, a renamed metric or a metric dropped
//! from the docs fails here.

use std::collections::BTreeSet;
use std::path::PathBuf;

use prometheus_client::registry::Registry;
use serde_json::{json, Value};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn dashboards_dir() -> PathBuf {
    root().join("charts").join("tenantry").join("dashboards")
}

// --- The dashboards ------------------------------------------------------------------------

/// The data source of every panel: the dashboard's `datasource` variable.
fn datasource() -> Value {
    json!({"type": "prometheus", "uid": "${datasource}"})
}

/// One query of a panel: a PromQL expression and its legend.
struct Query(&'static str, &'static str);

/// One panel, before it is laid out.
struct Panel {
    kind: &'static str,
    title: &'static str,
    description: &'static str,
    unit: &'static str,
    width: u32,
    queries: Vec<Query>,
    stacked: bool,
}

fn panel(kind: &'static str, title: &'static str, unit: &'static str, width: u32, queries: Vec<Query>) -> Panel {
    Panel { kind, title, description: "", unit, width, queries, stacked: false }
}

/// A time series.
fn ts(title: &'static str, unit: &'static str, queries: Vec<Query>) -> Panel {
    panel("timeseries", title, unit, 12, queries)
}

/// A single figure (the newest value).
fn stat(title: &'static str, unit: &'static str, queries: Vec<Query>) -> Panel {
    panel("stat", title, unit, 4, queries)
}

/// Horizontal bars, one per series (the newest value).
fn bars(title: &'static str, unit: &'static str, queries: Vec<Query>) -> Panel {
    panel("bargauge", title, unit, 12, queries)
}

impl Panel {
    fn about(mut self, description: &'static str) -> Self {
        self.description = description;
        self
    }

    fn width(mut self, width: u32) -> Self {
        self.width = width;
        self
    }

    fn stacked(mut self) -> Self {
        self.stacked = true;
        self
    }
}

/// A row of the dashboard: a title and its panels.
struct Row(&'static str, Vec<Panel>);

/// A template variable of the dashboard.
enum Var {
    /// `partner`, from the fleet gauge; `multi` allows several (and All).
    Partner { multi: bool },
    /// `tenant`: the tenants of the selected partner (those with an SLA figure).
    Tenant,
    /// `job`: the operator's scrape jobs (one per release).
    Job,
}

fn variable(var: &Var) -> Value {
    let query = |name: &str, label: &str, query: &str, multi: bool| {
        json!({
            "name": name,
            "label": label,
            "type": "query",
            "datasource": datasource(),
            "definition": query,
            "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
            "refresh": 2,
            "sort": 1,
            "multi": multi,
            "includeAll": multi,
            "current": {},
            "options": [],
            "hide": 0,
        })
    };
    match var {
        Var::Partner { multi } => query("partner", "Partner", "label_values(tenantry_fleet_tenants, partner)", *multi),
        Var::Tenant => {
            query("tenant", "Tenant", "label_values(tenantry_tenant_sla_pcm{partner=~\"$partner\"}, tenant)", true)
        }
        Var::Job => query("job", "Operator job", "label_values(tenantry_leader, job)", true),
    }
}

fn dashboard(uid: &str, title: &str, description: &str, vars: &[Var], rows: Vec<Row>) -> Value {
    let mut panels = Vec::new();
    let mut id = 0;
    let mut y = 0;
    for Row(title, row) in rows {
        id += 1;
        panels.push(json!({
            "id": id, "type": "row", "title": title, "collapsed": false, "panels": [],
            "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
        }));
        y += 1;
        // Panels side by side, 24 units wide; a line is as high as its highest panel.
        let (mut x, mut line) = (0, 0);
        for p in row {
            let height = if p.kind == "stat" { 4 } else { 8 };
            if x + p.width > 24 {
                x = 0;
                y += line;
                line = 0;
            }
            line = line.max(height);
            id += 1;
            let refs = ["A", "B", "C", "D", "E", "F", "G", "H"];
            let targets: Vec<Value> = p
                .queries
                .iter()
                .zip(refs)
                .map(|(Query(expr, legend), ref_id)| {
                    json!({
                        "refId": ref_id, "datasource": datasource(), "expr": expr,
                        "legendFormat": legend, "instant": p.kind != "timeseries",
                        "range": p.kind == "timeseries",
                    })
                })
                .collect();
            let options = match p.kind {
                "timeseries" => json!({
                    "legend": {"displayMode": "table", "placement": "bottom", "showLegend": true, "calcs": ["lastNotNull", "max"]},
                    "tooltip": {"mode": "multi", "sort": "desc"},
                }),
                "bargauge" => json!({
                    "orientation": "horizontal", "displayMode": "basic", "showUnfilled": true,
                    "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": false},
                }),
                _ => json!({
                    "colorMode": "value", "graphMode": "area", "textMode": "auto",
                    "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": false},
                }),
            };
            let mut defaults = json!({"unit": p.unit});
            if p.kind == "timeseries" {
                defaults["custom"] = json!({
                    "drawStyle": "line", "lineWidth": 1, "fillOpacity": if p.stacked { 30 } else { 0 },
                    "stacking": {"mode": if p.stacked { "normal" } else { "none" }},
                    "spanNulls": true,
                });
            }
            panels.push(json!({
                "id": id, "type": p.kind, "title": p.title, "description": p.description,
                "datasource": datasource(),
                "gridPos": {"h": height, "w": p.width, "x": x, "y": y},
                "fieldConfig": {"defaults": defaults, "overrides": []},
                "options": options,
                "targets": targets,
            }));
            x += p.width;
        }
        y += line;
    }
    let mut list = vec![json!({
        "name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
        "current": {}, "options": [], "refresh": 1, "hide": 0,
    })];
    list.extend(vars.iter().map(variable));
    json!({
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["tenantry"],
        "editable": true,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "1m",
        "time": {"from": "now-24h", "to": "now"},
        "timezone": "",
        "annotations": {"list": []},
        "links": [],
        "templating": {"list": list},
        "panels": panels,
    })
}

fn operator() -> Value {
    dashboard(
        "tenantry-operator",
        "tenantry / Operator health",
        "The tenantry operator: reconciles, latency, queue, leader lease, watches, writes and billing closes (docs/operations.md).",
        &[Var::Job],
        vec![
            Row("Reconciles", vec![
                ts("Reconciles by controller and result", "ops", vec![Query(
                    r#"sum by (controller, result) (rate(tenantry_reconciles_total{job=~"$job"}[$__rate_interval]))"#,
                    "{{controller}} {{result}}",
                )]),
                ts("Reconcile errors by controller and result", "ops", vec![Query(
                    r#"sum by (controller, result) (rate(tenantry_reconciles_total{job=~"$job", result!="ok"}[$__rate_interval]))"#,
                    "{{controller}} {{result}}",
                )])
                .about("result is the failed operation: apply, prune, status_patch, finalizer, lease, request."),
                ts("Reconcile latency", "s", vec![
                    Query(
                        r#"histogram_quantile(0.5, sum by (le, controller) (rate(tenantry_reconcile_duration_seconds_bucket{job=~"$job"}[$__rate_interval])))"#,
                        "p50 {{controller}}",
                    ),
                    Query(
                        r#"histogram_quantile(0.9, sum by (le, controller) (rate(tenantry_reconcile_duration_seconds_bucket{job=~"$job"}[$__rate_interval])))"#,
                        "p90 {{controller}}",
                    ),
                    Query(
                        r#"histogram_quantile(0.99, sum by (le, controller) (rate(tenantry_reconcile_duration_seconds_bucket{job=~"$job"}[$__rate_interval])))"#,
                        "p99 {{controller}}",
                    ),
                ]),
                ts("Queue depth", "short", vec![Query(r#"tenantry_queue_depth{job=~"$job"}"#, "{{instance}}")])
                    .about("Reconcile triggers sent to the tenant controller and not yet taken."),
            ]),
            Row("Leader election and watches", vec![
                stat("Replicas leading", "short", vec![Query(r#"sum(tenantry_leader{job=~"$job"})"#, "leading")])
                    .about("Exactly 1 per release (shard); 0 means nothing is reconciled (alert TenantryNoLeader)."),
                ts("Leader by replica", "short", vec![Query(r#"tenantry_leader{job=~"$job"}"#, "{{instance}}")]).width(8),
                ts("Lease transitions and renew failures", "short", vec![
                    Query(
                        r#"sum by (transition) (increase(tenantry_lease_transitions_total{job=~"$job"}[$__rate_interval]))"#,
                        "{{transition}}",
                    ),
                    Query(
                        r#"sum(increase(tenantry_lease_renew_failures_total{job=~"$job"}[$__rate_interval]))"#,
                        "renew failures",
                    ),
                ]),
                ts("Watch errors by kind and reason", "short", vec![Query(
                    r#"sum by (kind, reason) (increase(tenantry_watch_errors_total{job=~"$job"}[$__rate_interval]))"#,
                    "{{kind}} {{reason}}",
                )])
                .about("forbidden: the chart's RBAC misses a grant; transient: the API server is unreachable or overloaded.")
                .width(24),
            ]),
            Row("Writes", vec![
                ts("Applies by kind", "ops", vec![Query(
                    r#"sum by (kind) (rate(tenantry_applies_total{job=~"$job"}[$__rate_interval]))"#,
                    "{{kind}}",
                )]),
                ts("Apply errors by kind", "ops", vec![Query(
                    r#"sum by (kind) (rate(tenantry_apply_errors_total{job=~"$job"}[$__rate_interval]))"#,
                    "{{kind}}",
                )]),
                ts("Prunes by kind", "ops", vec![Query(
                    r#"sum by (kind) (rate(tenantry_prunes_total{job=~"$job"}[$__rate_interval]))"#,
                    "{{kind}}",
                )]),
                ts("Status patches and errors by kind", "ops", vec![
                    Query(
                        r#"sum by (kind) (rate(tenantry_status_patches_total{job=~"$job"}[$__rate_interval]))"#,
                        "{{kind}}",
                    ),
                    Query(
                        r#"sum by (kind) (rate(tenantry_status_patch_errors_total{job=~"$job"}[$__rate_interval]))"#,
                        "{{kind}} errors",
                    ),
                ]),
                ts("Managed objects by kind", "short", vec![Query(
                    r#"max by (kind) (tenantry_managed_objects{job=~"$job"})"#,
                    "{{kind}}",
                )])
                .width(24),
            ]),
            Row("Billing", vec![
                ts("BillingRecord write errors by phase, operation and reason", "short", vec![Query(
                    r#"sum by (phase, operation, reason) (increase(tenantry_billing_record_write_errors_total{job=~"$job"}[$__rate_interval]))"#,
                    "{{phase}} {{operation}} {{reason}}",
                )])
                .about("phase=Closed: the write that closes a month failed (alert TenantryBillingCloseFailing)."),
                ts("Overdue months by partner", "short", vec![Query(
                    r#"max by (partner) (tenantry_billing_overdue_months{job=~"$job"})"#,
                    "{{partner}}",
                )])
                .about("Tenant-months past their end and grace period not recorded Closed (alert TenantryBillingMonthsOverdue)."),
            ]),
        ],
    )
}

fn fleet() -> Value {
    dashboard(
        "tenantry-fleet",
        "tenantry / Fleet",
        "Tenants and workflows by partner and state, holds and blocks, governance decisions.",
        &[Var::Partner { multi: true }],
        vec![
            Row("Now", vec![
                stat("Tenants", "short", vec![Query(
                    r#"sum(max by (partner, state) (tenantry_fleet_tenants{partner=~"$partner"}))"#,
                    "tenants",
                )]),
                stat("Tenants not Ready", "short", vec![Query(
                    r#"sum(max by (partner, state) (tenantry_fleet_tenants{partner=~"$partner", state!="True"}))"#,
                    "not Ready",
                )]),
                stat("Workflows", "short", vec![Query(
                    r#"sum(max by (partner, state) (tenantry_fleet_workflows{partner=~"$partner"}))"#,
                    "workflows",
                )]),
                stat("Running", "short", vec![Query(
                    r#"sum(max by (partner, state) (tenantry_fleet_workflows{partner=~"$partner", state="Running"}))"#,
                    "Running",
                )]),
                stat("Held", "short", vec![Query(
                    r#"sum(max by (partner, state) (tenantry_fleet_workflows{partner=~"$partner", state="Held"}))"#,
                    "Held",
                )]),
                stat("Blocked", "short", vec![Query(
                    r#"sum(max by (partner, state) (tenantry_fleet_workflows{partner=~"$partner", state="Blocked"}))"#,
                    "Blocked",
                )]),
            ]),
            Row("Tenants and workflows", vec![
                ts("Tenants by partner and readiness", "short", vec![Query(
                    r#"max by (partner, state) (tenantry_fleet_tenants{partner=~"$partner"})"#,
                    "{{partner}} Ready={{state}}",
                )])
                .stacked(),
                ts("Workflows by partner and phase", "short", vec![Query(
                    r#"max by (partner, state) (tenantry_fleet_workflows{partner=~"$partner"})"#,
                    "{{partner}} {{state}}",
                )])
                .stacked(),
                ts("Held and blocked workflows by partner and reason", "short", vec![Query(
                    r#"max by (partner, state, reason) (tenantry_fleet_workflows_not_running{partner=~"$partner", state=~"Held|Blocked"})"#,
                    "{{partner}} {{state}} {{reason}}",
                )])
                .about("Held: by the tier (TierWorkflowLimit, TierDisallowsCategory, TierLacksCapability) or a policy (AwaitingApproval, ChangeFreeze, RegionNotAllowed); Blocked: its spec, references or a policy (ImageNotAllowed, ModelNotAllowed) must be fixed."),
                ts("Paying tenants by partner", "short", vec![Query(
                    r#"max by (partner) (tenantry_partner_paying_tenants{partner=~"$partner"})"#,
                    "{{partner}}",
                )]),
            ]),
            Row("Governance", vec![
                bars("Held, frozen and blocked by reason (range)", "short", vec![Query(
                    r#"sum by (decision, reason) (increase(tenantry_governance_decisions_total{decision=~"Held|Frozen|Blocked"}[$__range]))"#,
                    "{{decision}} {{reason}}",
                )])
                .about("Decisions recorded over the dashboard's time range (every partner: decisions carry policy, decision and reason labels)."),
                ts("Governance decisions by policy, decision and reason", "short", vec![Query(
                    r#"sum by (policy, decision, reason) (increase(tenantry_governance_decisions_total[$__rate_interval]))"#,
                    "{{policy}} {{decision}} {{reason}}",
                )]),
            ]),
        ],
    )
}

fn revenue() -> Value {
    // Amounts are gauges in minor units of the partner's currency: /100 shows major units of
    // the two-decimal currencies (EUR, USD, GBP...).
    dashboard(
        "tenantry-revenue",
        "tenantry / Revenue",
        "Partners' recurring revenue this month (docs/billing.md): amounts in major units of each partner's currency (minor units / 100), rates in percent.",
        &[Var::Partner { multi: true }],
        vec![
            Row("Recurring revenue", vec![
                ts("MRR by partner", "none", vec![Query(
                    r#"max by (partner, currency) (tenantry_partner_revenue{partner=~"$partner", measure="mrr"}) / 100"#,
                    "{{partner}} ({{currency}})",
                )]),
                ts("MRR by layer", "none", vec![Query(
                    r#"max by (partner, currency, measure) (tenantry_partner_revenue{partner=~"$partner", measure=~"platform_mrr|managed_operations_mrr"}) / 100"#,
                    "{{partner}} {{measure}} ({{currency}})",
                )])
                .about("The platform layer and the managed-operations layer of each partner's MRR.")
                .stacked(),
                ts("MRR movements", "none", vec![Query(
                    r#"max by (partner, currency, measure) (tenantry_partner_revenue{partner=~"$partner", measure=~"new_mrr|expansion_mrr|reactivated_mrr|expansion_movement|contraction_movement|churned_mrr"}) / 100"#,
                    "{{partner}} {{measure}} ({{currency}})",
                )]),
                ts("ARR and ARPA", "none", vec![Query(
                    r#"max by (partner, currency, measure) (tenantry_partner_revenue{partner=~"$partner", measure=~"arr|arpa"}) / 100"#,
                    "{{partner}} {{measure}} ({{currency}})",
                )]),
            ]),
            Row("Retention and attach", vec![
                ts("NRR and GRR", "percent", vec![Query(
                    r#"max by (partner, rate) (tenantry_partner_rate_basis_points{partner=~"$partner", rate=~"nrr|grr"}) / 100"#,
                    "{{partner}} {{rate}}",
                )]),
                ts("Automation attach rate", "percent", vec![Query(
                    r#"max by (partner) (tenantry_partner_rate_basis_points{partner=~"$partner", rate="attach_rate"}) / 100"#,
                    "{{partner}}",
                )]),
                ts("Workflow adoption", "percent", vec![Query(
                    r#"max by (partner) (tenantry_partner_rate_basis_points{partner=~"$partner", rate="workflow_adoption"}) / 100"#,
                    "{{partner}}",
                )])
                .about("Scheduled workflows with a run in the last 30 days, among those deployed."),
                ts("Scheduled workflows deployed and adopted", "short", vec![Query(
                    r#"max by (partner, state) (tenantry_partner_scheduled_workflows{partner=~"$partner"})"#,
                    "{{partner}} {{state}}",
                )]),
            ]),
            Row("Margin and credits", vec![
                ts("Gross margin", "percent", vec![Query(
                    r#"max by (partner) (tenantry_partner_rate_basis_points{partner=~"$partner", rate="gross_margin"}) / 100"#,
                    "{{partner}}",
                )])
                .about("Partners with a cost model only."),
                ts("Costs and gross margin", "none", vec![Query(
                    r#"max by (partner, currency, measure) (tenantry_partner_revenue{partner=~"$partner", measure=~"infrastructure_cost|support_cost|gross_margin"}) / 100"#,
                    "{{partner}} {{measure}} ({{currency}})",
                )]),
                ts("Billed and service credits by partner", "none", vec![Query(
                    r#"max by (partner, currency, measure) (tenantry_partner_revenue{partner=~"$partner", measure=~"billed|credits"}) / 100"#,
                    "{{partner}} {{measure}} ({{currency}})",
                )])
                .about("Credits are negative: service credits among what was billed (docs/sla.md)."),
                ts("Paying tenants", "short", vec![Query(
                    r#"max by (partner) (tenantry_partner_paying_tenants{partner=~"$partner"})"#,
                    "{{partner}}",
                )]),
            ]),
        ],
    )
}

fn partner() -> Value {
    dashboard(
        "tenantry-partner",
        "tenantry / Partner service review",
        "What a partner shows its clients: SLA attainment against target, credits, adoption, and the runners' outcomes (docs/runner.md).",
        &[Var::Partner { multi: false }, Var::Tenant],
        vec![
            Row("Service level", vec![
                ts("SLA attainment and target by tenant", "percent", vec![
                    Query(
                        r#"max by (tenant) (tenantry_tenant_sla_pcm{partner=~"$partner", tenant=~"$tenant", figure="attainment"}) / 1000"#,
                        "{{tenant}} attainment",
                    ),
                    Query(
                        r#"max by (tenant) (tenantry_tenant_sla_pcm{partner=~"$partner", tenant=~"$tenant", figure="target"}) / 1000"#,
                        "{{tenant}} target",
                    ),
                ])
                .about("This month so far, against the tier's availabilityTarget (docs/sla.md)."),
                bars("SLA margin over target by tenant", "percent", vec![Query(
                    r#"(max by (tenant) (tenantry_tenant_sla_pcm{partner=~"$partner", tenant=~"$tenant", figure="attainment"}) - max by (tenant) (tenantry_tenant_sla_pcm{partner=~"$partner", tenant=~"$tenant", figure="target"})) / 1000"#,
                    "{{tenant}}",
                )])
                .about("Attainment minus target, in percentage points: below zero the month may earn a service credit."),
                stat("Tenants below target", "short", vec![Query(
                    r#"count((max by (tenant) (tenantry_tenant_sla_pcm{partner=~"$partner", tenant=~"$tenant", figure="attainment"}) - max by (tenant) (tenantry_tenant_sla_pcm{partner=~"$partner", tenant=~"$tenant", figure="target"})) < 0) or vector(0)"#,
                    "below target",
                )]),
                stat("Service credits this month", "none", vec![Query(
                    r#"max(tenantry_partner_revenue{partner=~"$partner", measure="credits"}) / 100"#,
                    "credits",
                )])
                .about("In major units of the partner's currency; negative."),
                stat("Workflow adoption", "percent", vec![Query(
                    r#"max(tenantry_partner_rate_basis_points{partner=~"$partner", rate="workflow_adoption"}) / 100"#,
                    "adoption",
                )]),
                stat("Scheduled workflows adopted", "short", vec![Query(
                    r#"max(tenantry_partner_scheduled_workflows{partner=~"$partner", state="adopted"})"#,
                    "adopted",
                )]),
                stat("Scheduled workflows deployed", "short", vec![Query(
                    r#"max(tenantry_partner_scheduled_workflows{partner=~"$partner", state="deployed"})"#,
                    "deployed",
                )]),
                stat("Items processed (range)", "short", vec![Query(
                    r#"sum(increase(tenantry_runner_items_processed_total{tenant=~"$tenant"}[$__range]))"#,
                    "items",
                )]),
            ]),
            Row("Outcomes", vec![
                ts("Items processed by item and outcome", "short", vec![Query(
                    r#"sum by (item, outcome) (increase(tenantry_runner_items_processed_total{tenant=~"$tenant"}[$__rate_interval]))"#,
                    "{{item}} {{outcome}}",
                )])
                .stacked(),
                ts("Items processed by tenant and category", "short", vec![Query(
                    r#"sum by (tenant, category) (increase(tenantry_runner_items_processed_total{tenant=~"$tenant"}[$__rate_interval]))"#,
                    "{{tenant}} {{category}}",
                )])
                .stacked(),
                ts("Exceptions and escalations by kind", "short", vec![
                    Query(
                        r#"sum by (kind) (increase(tenantry_runner_exceptions_total{tenant=~"$tenant"}[$__rate_interval]))"#,
                        "{{kind}}",
                    ),
                    Query(
                        r#"sum by (kind) (increase(tenantry_runner_exceptions_escalated_total{tenant=~"$tenant"}[$__rate_interval]))"#,
                        "{{kind}} escalated",
                    ),
                ]),
                ts("Exception resolution time by category (p50, p90)", "s", vec![
                    Query(
                        r#"histogram_quantile(0.5, sum by (le, category) (rate(tenantry_runner_exception_resolution_seconds_bucket{tenant=~"$tenant"}[$__rate_interval])))"#,
                        "p50 {{category}}",
                    ),
                    Query(
                        r#"histogram_quantile(0.9, sum by (le, category) (rate(tenantry_runner_exception_resolution_seconds_bucket{tenant=~"$tenant"}[$__rate_interval])))"#,
                        "p90 {{category}}",
                    ),
                ]),
                ts("Mean exception resolution time by kind", "s", vec![Query(
                    r#"sum by (kind) (rate(tenantry_runner_exception_resolution_seconds_sum{tenant=~"$tenant"}[$__rate_interval])) / sum by (kind) (rate(tenantry_runner_exception_resolution_seconds_count{tenant=~"$tenant"}[$__rate_interval]))"#,
                    "{{kind}}",
                )]),
                ts("AI decisions by route", "short", vec![Query(
                    r#"sum by (model, route) (increase(tenantry_runner_ai_decisions_total{tenant=~"$tenant"}[$__rate_interval]))"#,
                    "{{model}} {{route}}",
                )])
                .about("human_review: below the workflow's humanReviewThresholdPercent, sent to a person."),
                ts("Run duration p90 by workflow", "s", vec![Query(
                    r#"histogram_quantile(0.9, sum by (le, tenant, workflow) (rate(tenantry_runner_run_duration_seconds_bucket{tenant=~"$tenant"}[$__rate_interval])))"#,
                    "{{tenant}}/{{workflow}}",
                )]),
                bars("Time since last success by workflow", "s", vec![Query(
                    r#"time() - max by (tenant, workflow) (tenantry_runner_last_success_timestamp_seconds{tenant=~"$tenant"})"#,
                    "{{tenant}}/{{workflow}}",
                )]),
            ]),
        ],
    )
}

fn generated() -> Vec<(&'static str, Value)> {
    vec![
        ("operator.json", operator()),
        ("fleet.json", fleet()),
        ("revenue.json", revenue()),
        ("partner.json", partner()),
    ]
}

#[test]
fn dashboards_are_fresh() {
    let dir = dashboards_dir();
    let generated = generated();
    if std::env::var_os("UPDATE_DASHBOARDS").is_some() {
        std::fs::create_dir_all(&dir).expect("create the dashboards directory");
        for (name, dashboard) in &generated {
            let text = serde_json::to_string_pretty(dashboard).expect("dashboard as JSON") + "\n";
            std::fs::write(dir.join(name), text).expect("write a dashboard");
        }
    }
    let present: BTreeSet<String> = std::fs::read_dir(&dir)
        .expect("charts/tenantry/dashboards exists")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .collect();
    let expected: BTreeSet<String> = generated.iter().map(|(name, _)| name.to_string()).collect();
    assert_eq!(
        present, expected,
        "other files than the generated dashboards; run UPDATE_DASHBOARDS=1 cargo test --test dashboards"
    );
    for (name, dashboard) in generated {
        let on_disk = std::fs::read_to_string(dir.join(name)).expect("read a dashboard");
        let expected = serde_json::to_string_pretty(&dashboard).expect("dashboard as JSON") + "\n";
        assert!(
            on_disk == expected,
            "{name} differs from what tests/dashboards.rs generates; run UPDATE_DASHBOARDS=1 cargo test --test dashboards"
        );
    }
}

// --- Metric names in PromQL ----------------------------------------------------------------

/// The metric names a PromQL expression selects: every identifier that is not a function (an
/// identifier followed by `(`), a keyword or aggregation, a label (inside `{...}`, or in the parentheses of
/// `by`, `without`, `on`, `ignoring`, `group_left`, `group_right`), a string, a number or a
/// range (`[...]`). Grafana's `label_values(<selector>, <label>)` selects its first argument.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let expr = expr.trim();
    if let Some(inner) = expr.strip_prefix("label_values(") {
        let selector = inner.rsplit_once(',').map(|(selector, _)| selector).unwrap_or(inner.trim_end_matches(')'));
        return metric_names(selector);
    }
    // Keywords, and aggregations (`sum by (x) (...)` puts a label list before the parenthesis).
    const KEYWORDS: [&str; 19] = [
        "bool",
        "and",
        "or",
        "unless",
        "offset",
        "sum",
        "min",
        "max",
        "avg",
        "count",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "quantile",
        "count_values",
        "group",
        "limitk",
        "limit_ratio",
    ];
    const LABEL_LISTS: [&str; 6] = ["by", "without", "on", "ignoring", "group_left", "group_right"];
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    let skip_to = |from: usize, close: char| -> usize {
        let mut j = from + 1;
        let mut quote = None;
        while j < chars.len() {
            match (quote, chars[j]) {
                (Some(_), '\\') => j += 1,
                (Some(q), c) if c == q => quote = None,
                (None, '"' | '\'' | '`') => quote = Some(chars[j]),
                (None, c) if c == close => return j + 1,
                _ => {}
            }
            j += 1;
        }
        panic!("unclosed {close} in {expr}");
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '{' {
            i = skip_to(i, '}');
        } else if c == '[' {
            i = skip_to(i, ']');
        } else if c == '"' || c == '\'' || c == '`' {
            let mut j = i + 1;
            while chars[j] != c {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
            i = j + 1;
        } else if c.is_ascii_digit() || c == '.' || c == '$' {
            // A number (1e3, 0.5) or a Grafana variable: letters that follow belong to it.
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '.') {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let mut next = i;
            while next < chars.len() && chars[next].is_whitespace() {
                next += 1;
            }
            let called = chars.get(next) == Some(&'(');
            if LABEL_LISTS.contains(&word.as_str()) {
                if called {
                    i = skip_to(next, ')');
                }
            } else if !called && !KEYWORDS.contains(&word.as_str()) {
                names.insert(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

#[test]
fn metric_names_are_read_from_promql() {
    let names = |expr: &str| metric_names(expr).into_iter().collect::<Vec<_>>();
    assert_eq!(
        names(
            r#"histogram_quantile(0.9, sum by (le, controller) (rate(a_bucket{job=~"$job", x="}"}[$__rate_interval])))"#
        ),
        ["a_bucket"]
    );
    assert_eq!(names("sum(b) / ignoring(figure) c * on (tenant) group_left(partner) d or vector(0)"), ["b", "c", "d"]);
    assert_eq!(names("time() - max by (tenant) (e) > 1e3 offset 5m"), ["e"]);
    assert_eq!(names(r#"label_values(f{partner=~"$partner"}, tenant)"#), ["f"]);
}

// --- What exists ---------------------------------------------------------------------------

/// The series names the operator exports: its registry encoded as Prometheus text, with a
/// sample in every family, read from the `# TYPE` lines (`_total` for counters; `_bucket`,
/// `_sum` and `_count` for histograms).
fn operator_series() -> BTreeSet<String> {
    use tenantry::shell::metrics::*;
    let mut registry = Registry::default();
    let metrics = Metrics::new(&mut registry);
    let kind = || KindLabels { kind: "Tenant".into() };
    let fleet = || FleetLabels { partner: "p".into(), state: "s".into() };
    metrics.reconciled("tenant", "ok", 0.1);
    metrics.queue_depth.set(1);
    for family in [
        &metrics.applies,
        &metrics.apply_errors,
        &metrics.prunes,
        &metrics.status_patches,
        &metrics.status_patch_errors,
    ] {
        Metrics::kind(family, "Tenant").inc();
    }
    metrics.managed_objects.get_or_create(&kind()).set(1);
    metrics.tenants.get_or_create(&fleet()).set(1);
    metrics.workflows.get_or_create(&fleet()).set(1);
    metrics.paying_tenants.get_or_create(&fleet()).set(1);
    metrics.scheduled_workflows.get_or_create(&fleet()).set(1);
    metrics.leader.set(1);
    metrics.lease_transition("acquired");
    metrics.lease_renew_failures.inc();
    metrics.watch_errors.get_or_create(&WatchLabels { kind: "Tenant".into(), reason: "forbidden".into() }).inc();
    let decision = DecisionLabels { policy: "p".into(), decision: "Held".into(), reason: "r".into() };
    metrics.governance_decisions.get_or_create(&decision).inc();
    let held = HeldLabels { partner: "p".into(), state: "Held".into(), reason: "r".into() };
    metrics.workflows_not_running.get_or_create(&held).set(1);
    let revenue = RevenueLabels { partner: "p".into(), currency: "EUR".into(), measure: "mrr".into() };
    metrics.revenue.get_or_create(&revenue).set(1);
    metrics.rates.get_or_create(&RateLabels { partner: "p".into(), rate: "nrr".into() }).set(1);
    let sla = SlaLabels { partner: "p".into(), tenant: "t".into(), figure: "target".into() };
    metrics.sla.get_or_create(&sla).set(1);
    let refused = kube::Error::Api(Box::new(kube::core::Status::failure("frozen", "Invalid").with_code(422)));
    metrics.billing_write_failed(true, "status_patch", &refused);
    metrics.billing_overdue_months.get_or_create(&PartnerLabels { partner: "p".into() }).set(1);

    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).expect("encode the registry");
    let mut series = BTreeSet::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else { continue };
        let (name, kind) = rest.split_once(' ').expect("# TYPE <name> <type>");
        series.extend(series_of(name, kind));
        // Every family has a sample: a family no panel can see would be a family unset here.
        assert!(
            text.lines()
                .any(|l| !l.starts_with('#') && series_of(name, kind).iter().any(|s| l.starts_with(s.as_str()))),
            "{name} has no sample: set one in operator_series"
        );
    }
    assert!(series.len() >= 21, "too few operator metrics read from:\n{text}");
    series
}

/// The series names of a metric family of a type.
fn series_of(name: &str, kind: &str) -> Vec<String> {
    match kind {
        "counter" if name.ends_with("_total") => vec![name.to_string()],
        "counter" => vec![format!("{name}_total")],
        "histogram" => ["_bucket", "_sum", "_count"].iter().map(|s| format!("{name}{s}")).collect(),
        _ => vec![name.to_string()],
    }
}

/// The runner's series, from the metrics table of docs/runner.md.
fn runner_series() -> BTreeSet<String> {
    let doc = std::fs::read_to_string(root().join("docs").join("runner.md")).expect("read docs/runner.md");
    let mut series = BTreeSet::new();
    for line in doc.lines().filter(|l| l.starts_with("| `tenantry_runner_")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let name = cells[1].trim_matches('`');
        series.extend(series_of(name, cells[2]));
    }
    assert!(series.len() >= 7, "the runner's metrics table of docs/runner.md was not found");
    series
}

/// Every PromQL expression of the dashboards: panel targets and template variable queries.
fn dashboard_exprs() -> Vec<(String, String)> {
    let mut exprs = Vec::new();
    for entry in std::fs::read_dir(dashboards_dir()).expect("read the dashboards") {
        let path = entry.expect("a dashboard").path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("JSON");
        for panel in dashboard["panels"].as_array().expect("panels") {
            for target in panel["targets"].as_array().into_iter().flatten() {
                let expr = target["expr"].as_str().expect("a target's expr").to_string();
                exprs.push((format!("{name}: {}", panel["title"]), expr));
            }
        }
        for var in dashboard["templating"]["list"].as_array().expect("templating") {
            if let Some(query) = var["query"]["query"].as_str() {
                exprs.push((format!("{name}: variable {}", var["name"]), query.to_string()));
            }
        }
    }
    assert!(exprs.len() > 40, "too few queries read from the dashboards");
    exprs
}

/// Every alert expression of the chart's PrometheusRule, with Helm's `{{ ... }}` removed
/// (they only fill in label matchers and thresholds).
fn alert_exprs() -> Vec<(String, String)> {
    let path = root().join("charts/tenantry/templates/prometheusrule.yaml");
    let text = std::fs::read_to_string(path).expect("read prometheusrule.yaml");
    let helm = regex::Regex::new(r"\{\{.*?\}\}").unwrap();
    let text = helm.replace_all(&text, "1");
    let mut exprs = Vec::new();
    let mut alert = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if let Some(name) = trimmed.strip_prefix("- alert: ") {
            alert = name.to_string();
        } else if let Some(expr) = trimmed.strip_prefix("expr: ") {
            let mut expr = expr.trim_start_matches(">-").to_string();
            let indent = line.len() - trimmed.len();
            while let Some(next) = lines.peek() {
                if next.trim().is_empty() || next.len() - next.trim_start().len() <= indent {
                    break;
                }
                expr.push(' ');
                expr.push_str(next.trim());
                lines.next();
            }
            exprs.push((format!("alert {alert}"), expr));
        }
    }
    assert!(exprs.len() >= 6, "too few alerts read from prometheusrule.yaml");
    exprs
}

#[test]
fn every_queried_metric_exists() {
    let known: BTreeSet<String> = operator_series().into_iter().chain(runner_series()).collect();
    let mut unknown = Vec::new();
    for (place, expr) in dashboard_exprs().into_iter().chain(alert_exprs()) {
        let names = metric_names(&expr);
        assert!(!names.is_empty(), "{place}: no metric in {expr}");
        for name in names.into_iter().filter(|name| !known.contains(name)) {
            unknown.push(format!("{place}: {name}"));
        }
    }
    assert!(
        unknown.is_empty(),
        "metrics neither the operator exports nor docs/runner.md documents:\n  {}\nknown: {known:?}",
        unknown.join("\n  ")
    );
}

/// Each alert's runbook_url anchor is a section of docs/operations.md.
#[test]
fn every_alert_has_a_runbook() {
    let rule = std::fs::read_to_string(root().join("charts/tenantry/templates/prometheusrule.yaml")).expect("read");
    let doc = std::fs::read_to_string(root().join("docs/operations.md")).expect("read docs/operations.md");
    // GitHub's anchors: headings lowercased, spaces to dashes, other punctuation dropped.
    let anchors: BTreeSet<String> = doc
        .lines()
        .filter_map(|l| l.strip_prefix('#').map(|h| h.trim_start_matches('#').trim()))
        .map(|h| {
            h.to_lowercase()
                .chars()
                .filter_map(|c| match c {
                    ' ' => Some('-'),
                    c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                    _ => None,
                })
                .collect()
        })
        .collect();
    let alerts: Vec<&str> = rule.lines().filter_map(|l| l.trim().strip_prefix("- alert: ")).collect();
    let runbooks: Vec<&str> = rule.lines().filter_map(|l| l.trim().strip_prefix("runbook_url: ")).collect();
    assert_eq!(alerts.len(), runbooks.len(), "every alert has one runbook_url");
    for (alert, url) in alerts.iter().zip(&runbooks) {
        let (_, anchor) = url.rsplit_once('#').expect("runbook_url with an anchor");
        assert_eq!(anchor, alert.to_lowercase(), "{alert}'s runbook anchor");
        assert!(anchors.contains(anchor), "{alert}: docs/operations.md has no section #{anchor}");
    }
}
