//! Generates the CustomResourceDefinitions of every tenantry kind, as the API server must
//! receive them: structural, with no nulls allowed where a field is simply optional, and
//! with the rules the derive cannot express (immutability of a closed bill).

use crate::{Approval, BillingRecord, GovernancePolicy, Partner, ServiceTier, Tenant, Workflow};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps, ValidationRule,
};
use kube::{CustomResourceExt, Resource};

/// Every tenantry CRD, in a stable order.
pub fn all() -> Vec<CustomResourceDefinition> {
    let mut crds = vec![
        Partner::crd(),
        ServiceTier::crd(),
        Tenant::crd(),
        Workflow::crd(),
        GovernancePolicy::crd(),
        Approval::crd(),
        BillingRecord::crd(),
    ];
    for crd in &mut crds {
        for version in &mut crd.spec.versions {
            if let Some(schema) = version.schema.as_mut().and_then(|s| s.open_api_v3_schema.as_mut()) {
                forbid_nulls(schema);
            }
        }
    }
    let bills = BillingRecord::kind(&());
    crds.iter_mut().filter(|crd| crd.spec.names.kind == bills).for_each(freeze_closed_bills);
    let approvals = Approval::kind(&());
    crds.iter_mut().filter(|crd| crd.spec.names.kind == approvals).for_each(freeze_approval_specs);
    crds
}

/// Drops `nullable: true`, which the derive adds for every `Option`: an omitted optional
/// field is the only way to leave it unset, and the API server then prunes explicit nulls
/// instead of storing them.
fn forbid_nulls(schema: &mut JSONSchemaProps) {
    schema.nullable = None;
    if let Some(properties) = schema.properties.as_mut() {
        properties.values_mut().for_each(forbid_nulls);
    }
    if let Some(k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaPropsOrArray::Schema(
        items,
    )) = schema.items.as_mut()
    {
        forbid_nulls(items);
    }
    if let Some(k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaPropsOrBool::Schema(
        extra,
    )) = schema.additional_properties.as_mut()
    {
        forbid_nulls(extra);
    }
    for group in [&mut schema.all_of, &mut schema.any_of, &mut schema.one_of].into_iter().flatten() {
        group.iter_mut().for_each(forbid_nulls);
    }
}

/// An Approval says who approved which generation: once created, its spec never changes (a
/// new generation needs a new Approval), whoever asks, so an approval cannot be reworded or
/// moved to another generation after the fact.
fn freeze_approval_specs(crd: &mut CustomResourceDefinition) {
    for version in &mut crd.spec.versions {
        if let Some(root) = version.schema.as_mut().and_then(|s| s.open_api_v3_schema.as_mut()) {
            root.x_kubernetes_validations.get_or_insert_with(Vec::new).push(ValidationRule {
                rule: "self.spec == oldSelf.spec".to_string(),
                message: Some("an Approval's spec never changes after creation: create a new Approval".to_string()),
                reason: Some("FieldValueForbidden".to_string()),
                ..ValidationRule::default()
            });
        }
    }
}

/// A closed BillingRecord is never rewritten: once its status says Closed, neither spec nor
/// status may change. Every supported Kubernetes version (1.30 and later) enforces the CEL
/// rule, even against a cluster admin; the operator never writes a closed record either.
fn freeze_closed_bills(crd: &mut CustomResourceDefinition) {
    for version in &mut crd.spec.versions {
        if let Some(root) = version.schema.as_mut().and_then(|s| s.open_api_v3_schema.as_mut()) {
            root.x_kubernetes_validations.get_or_insert_with(Vec::new).push(ValidationRule {
                rule: "!has(oldSelf.status) || !has(oldSelf.status.phase) || oldSelf.status.phase != 'Closed' || (self.spec == oldSelf.spec && has(self.status) && self.status == oldSelf.status)".to_string(),
                message: Some("a Closed BillingRecord is frozen: neither spec nor status may change".to_string()),
                reason: Some("FieldValueForbidden".to_string()),
                ..ValidationRule::default()
            });
        }
    }
}
