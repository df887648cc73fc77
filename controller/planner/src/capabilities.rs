//! Which tier capabilities a workflow's features need: what a tier sells is what its tenants
//! can run. Written down in `docs/api.md` ("Capabilities and the features they unlock").

use tenantry_api::tier::Capability;
use tenantry_api::WorkflowSpec;

/// Templates that need a capability beyond `workflowAutomation`.
const TEMPLATE_CAPABILITIES: [(&str, Capability); 5] = [
    ("anomaly-detection", Capability::PredictiveAlerts),
    ("demand-forecast", Capability::PredictiveAlerts),
    ("executive-dashboard", Capability::ExecutiveDashboards),
    ("kpi-digest", Capability::KpiAnalytics),
    ("sla-report", Capability::SlaOversight),
];

/// The capabilities `spec` needs beyond running at all, each with the feature (a field and
/// its value) that needs it, in a stable order. Running a plain workflow is what every tier
/// sells (`workflowAutomation`): it is not gated, so a tier that forgets to list it still
/// runs its tenants' workflows.
pub fn required(spec: &WorkflowSpec) -> Vec<(Capability, String)> {
    let mut needs = Vec::new();
    if spec.ai.as_ref().is_some_and(|ai| ai.enabled) {
        needs.push((Capability::AiOrchestration, "spec.ai.enabled".to_string()));
    }
    if spec.exception_handling.as_ref().is_some_and(|handling| handling.escalate_after_minutes.is_some()) {
        needs.push((Capability::ExceptionHandling, "spec.exceptionHandling.escalateAfterMinutes".to_string()));
    }
    for (template, capability) in TEMPLATE_CAPABILITIES {
        if spec.template == template {
            needs.push((capability, format!("spec.template '{template}'")));
        }
    }
    needs
}

/// A capability as the API writes it (`aiOrchestration`).
pub fn name(capability: Capability) -> String {
    serde_json::to_value(capability).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}
