//! The tenantry API (`tenantry.dev/v1alpha1`): the seven kinds users declare and the operator
//! writes back, as Rust types from which the CRDs are generated ([`crdgen`]).
//!
//! This crate depends on kube's derive and kube-core only: no client, no runtime, no I/O.

// kube's `printcolumn(...)` repeats `type_ = ...` across columns, which clippy mistakes for
// duplicated attributes.
#![allow(clippy::duplicated_attributes)]
#![forbid(unsafe_code)]

pub mod approval;
pub mod billing;
pub mod common;
pub mod conditions;
pub mod crdgen;
pub mod governance;
pub mod partner;
pub mod tenant;
pub mod tier;
pub mod workflow;

pub use approval::{Approval, ApprovalSpec, ApprovalStatus, Approver};
pub use billing::{BillingRecord, BillingRecordSpec, BillingRecordStatus};
pub use common::{Condition, ConditionStatus, ResourceAmounts, WorkflowCategory};
pub use governance::{GovernancePolicy, GovernancePolicySpec, GovernancePolicyStatus};
pub use partner::{Partner, PartnerSpec, PartnerStatus};
pub use tenant::{Tenant, TenantSpec, TenantStatus};
pub use tier::{ServiceTier, ServiceTierSpec, ServiceTierStatus};
pub use workflow::{Workflow, WorkflowPhase, WorkflowSpec, WorkflowStatus};
