//! The workflow templates the runner knows, per category. A template outside its category
//! is refused with a condition; `custom-` templates are the partner's own and pass anywhere.

use tenantry_api::WorkflowCategory;

/// Templates the runner ships for a category.
pub fn known(category: WorkflowCategory) -> &'static [&'static str] {
    match category {
        WorkflowCategory::OrderToCash => &[
            "order-validation",
            "fraud-review-routing",
            "invoice-generation",
            "payment-capture",
            "order-routing",
            "backorder-notification",
        ],
        WorkflowCategory::InventoryProcurement => {
            &["stock-threshold-alerts", "replenishment", "purchase-order-approval", "supplier-sync", "inventory-sync"]
        }
        WorkflowCategory::ReturnsService => {
            &["rma-approval", "refund", "return-label", "customer-notification", "warranty-claim"]
        }
        WorkflowCategory::FinanceCompliance => {
            &["tax-validation", "reconciliation", "invoice-matching", "month-end-close", "payout-reconciliation"]
        }
        WorkflowCategory::OperationalIntelligence => {
            &["kpi-digest", "anomaly-detection", "sla-report", "demand-forecast", "executive-dashboard"]
        }
    }
}

/// Whether a template may be used in a category.
pub fn allowed(category: WorkflowCategory, template: &str) -> bool {
    template.starts_with("custom-") || known(category).contains(&template)
}
