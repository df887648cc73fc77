//! tenantry: a Kubernetes operator that turns partners, service tiers, tenants, workflows,
//! governance policies and approvals into running workloads and billing records.
//!
//! The [`planner`] is pure: declared objects and a clock in, desired children and statuses
//! out. The command line feeds it from a directory of YAML ([`input`]); the live controller
//! feeds it from its caches.

pub mod api;
pub mod crdgen;
pub mod input;
pub mod planner;
pub mod render;
pub mod shell;
