//! Label keys the operator puts on every child, so the live controller can find, prune and
//! attribute them, and the checks that a name can be used as a label value.

use std::collections::BTreeMap;

/// Marks every object tenantry manages.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// Value of [`MANAGED_BY`].
pub const MANAGER: &str = "tenantry";
/// Tenant a child belongs to.
pub const TENANT: &str = "tenantry.dev/tenant";
/// Partner of that tenant.
pub const PARTNER: &str = "tenantry.dev/partner";
/// Tier of that tenant.
pub const TIER: &str = "tenantry.dev/tier";
/// Kind of the object that owns a child: `Tenant` or `Workflow`.
pub const OWNER_KIND: &str = "tenantry.dev/owner-kind";
/// Workflow a child belongs to, for children of workflows.
pub const WORKFLOW: &str = "tenantry.dev/workflow";
/// Calendar month of a BillingRecord (`2026-11`).
pub const PERIOD: &str = "tenantry.dev/period";
/// Hash of a workflow's rendered definition, on its pod template, so a change rolls the pods.
pub const DEFINITION_HASH: &str = "tenantry.dev/definition-hash";

/// The labels every child of a tenant carries.
pub fn tenant_child(tenant: &str, partner: &str, tier: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY.to_string(), MANAGER.to_string()),
        (TENANT.to_string(), tenant.to_string()),
        (PARTNER.to_string(), partner.to_string()),
        (TIER.to_string(), tier.to_string()),
        (OWNER_KIND.to_string(), "Tenant".to_string()),
    ])
}

/// The labels every child of a workflow carries.
pub fn workflow_child(tenant: &str, partner: &str, tier: &str, workflow: &str) -> BTreeMap<String, String> {
    let mut labels = tenant_child(tenant, partner, tier);
    labels.insert(OWNER_KIND.to_string(), "Workflow".to_string());
    labels.insert(WORKFLOW.to_string(), workflow.to_string());
    labels
}

/// Whether `value` is a valid label value: at most 63 characters, alphanumeric at both ends,
/// with `-`, `_` and `.` inside.
pub fn is_valid_value(value: &str) -> bool {
    let bytes = value.as_bytes();
    if bytes.len() > 63 {
        return false;
    }
    if bytes.is_empty() {
        return true;
    }
    let inner_ok = bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    inner_ok && bytes[0].is_ascii_alphanumeric() && bytes[bytes.len() - 1].is_ascii_alphanumeric()
}

/// Whether `name` is a DNS-1123 label (what a namespace name must be).
pub fn is_dns_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}
