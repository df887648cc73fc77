//! The condition types and reasons tenantry writes, in one place: the planner and the
//! operator set them, `tenantry plan` prints them, users `kubectl wait` on them.
//! The repository's `docs/api.md` says what each reason means and what to do about it.

/// Whether the object is ready: every kind has it.
pub const READY: &str = "Ready";
/// Set to `True`, with the reason of `Ready`, when only a human can fix the object.
pub const STALLED: &str = "Stalled";
/// Set to `True`, with the reason of `Ready`, while the operator is still getting there on
/// its own (a workload deploying, a transient refusal retried).
pub const RECONCILING: &str = "Reconciling";
/// Set to `True` on a workflow whose resources were capped at its tier's maximum.
pub const RESOURCES_CAPPED: &str = "ResourcesCapped";
/// Set to `True` on a workflow whose AI settings a policy tightened (its human-review
/// threshold raised to the policy's).
pub const POLICY_ADJUSTED: &str = "PolicyAdjusted";
/// Set to `True` on a tenant (and on the workflow that causes it) while the current month's
/// service-level attainment is below its tier's target.
pub const SLA_BREACHED: &str = "SLABreached";
/// Set to `False` on a tenant whose bills cannot be computed (its history names the problem).
pub const BILLING: &str = "Billing";

/// The reasons of tenantry's conditions.
pub mod reason {
    // Partners and service tiers.
    /// Partner or tier: usable.
    pub const VALID: &str = "Valid";
    /// Partner, tier, tenant or workflow: its name cannot be used as a label value.
    pub const INVALID_NAME: &str = "InvalidName";
    /// Tier: its `sla` target or credit bands do not parse or are out of order.
    pub const INVALID_SLA: &str = "InvalidSla";
    /// Tier: a container default or maximum is missing, does not parse, or is inverted.
    pub const INVALID_LIMITS: &str = "InvalidLimits";
    /// Tier, tenant or policy: `spec.partnerRef` names no partner.
    pub const UNKNOWN_PARTNER: &str = "UnknownPartner";

    // Tenants.
    /// Tenant: its namespace and children are planned.
    pub const PROVISIONED: &str = "Provisioned";
    /// Tenant: suspended, its workflows stopped.
    pub const SUSPENDED: &str = "Suspended";
    /// Tenant: more connected systems than its tier allows (children still planned).
    pub const TOO_MANY_CONNECTED_SYSTEMS: &str = "TooManyConnectedSystems";
    /// Tenant: its namespace is not a DNS label.
    pub const INVALID_NAMESPACE: &str = "InvalidNamespace";
    /// Tenant: its namespace is reserved for the cluster.
    pub const RESERVED_NAMESPACE: &str = "ReservedNamespace";
    /// Tenant: an older tenant claims its namespace.
    pub const NAMESPACE_CONFLICT: &str = "NamespaceConflict";
    /// Tenant: `spec.tierRef` names no tier.
    pub const UNKNOWN_TIER: &str = "UnknownTier";
    /// Tenant: its tier belongs to another partner.
    pub const TIER_PARTNER_MISMATCH: &str = "TierPartnerMismatch";
    /// Tenant: its tier exists but is not usable.
    pub const TIER_INVALID: &str = "TierInvalid";
    /// Tenant: its billing history in the status cannot be read or priced.
    pub const INVALID_HISTORY: &str = "InvalidHistory";
    /// Tenant (`Billing=False`): a billing adjustment names a month whose record is already
    /// Closed (or no month at all); no record carries it.
    pub const ADJUSTMENT_REFUSED: &str = "AdjustmentRefused";
    /// Tenant or workflow (`SLABreached=True`): the month's attainment is below the target.
    pub const BELOW_TARGET: &str = "BelowTarget";
    /// Tenant or workflow (`SLABreached=False`): the month's attainment meets the target.
    pub const WITHIN_TARGET: &str = "WithinTarget";
    /// BillingRecord: the month is running; the record is updated as it goes.
    pub const OPEN: &str = "Open";
    /// BillingRecord: the month is billed and final.
    pub const CLOSED: &str = "Closed";
    /// Tenant or workflow: the API server refused one of its children.
    pub const APPLY_FAILED: &str = "ApplyFailed";
    /// Tenant or workflow (`Reconciling`): the API server did not accept a child yet, for a
    /// reason that passes on its own; retried.
    pub const RETRYING: &str = "Retrying";
    /// Tenant: its namespace exists and was not created for it; never adopted.
    pub const NAMESPACE_EXISTS: &str = "NamespaceExists";
    /// Tenant or workflow: the stored object does not decode; its children are frozen.
    pub const INVALID_SPEC: &str = "InvalidSpec";

    // Workflows.
    /// Workflow: its workload is planned with the current definition.
    pub const DEPLOYED: &str = "Deployed";
    /// Workflow (`Ready=False`, `Reconciling`): its workload is applied but not running yet.
    pub const DEPLOYING: &str = "Deploying";
    /// Workflow (`Ready=True`): its workload runs.
    pub const RUNNING: &str = "Running";
    /// Workflow: its tenant is suspended.
    pub const TENANT_SUSPENDED: &str = "TenantSuspended";
    /// Workflow: `spec.paused` is true.
    pub const PAUSED: &str = "Paused";
    /// Workflow: its tier does not allow its category.
    pub const TIER_DISALLOWS_CATEGORY: &str = "TierDisallowsCategory";
    /// Workflow: its tier's `maxWorkflows` older workflows already run.
    pub const TIER_WORKFLOW_LIMIT: &str = "TierWorkflowLimit";
    /// Workflow: a feature it uses needs a capability its tier does not include (held,
    /// scaled to zero, until the tenant moves to a tier that has it).
    pub const TIER_LACKS_CAPABILITY: &str = "TierLacksCapability";
    /// Workflow: no tenant owns its namespace.
    pub const NO_TENANT: &str = "NoTenant";
    /// Workflow: its tenant cannot be planned.
    pub const TENANT_NOT_READY: &str = "TenantNotReady";
    /// Workflow: not exactly one trigger.
    pub const INVALID_TRIGGER: &str = "InvalidTrigger";
    /// Workflow: a cron expression a CronJob would refuse.
    pub const INVALID_SCHEDULE: &str = "InvalidSchedule";
    /// Workflow: a time zone that is not an IANA zone.
    pub const INVALID_TIME_ZONE: &str = "InvalidTimeZone";
    /// Workflow: a template that is not one of its category's.
    pub const UNKNOWN_TEMPLATE: &str = "UnknownTemplate";
    /// Workflow: a connector that is not a connected system of its tenant.
    pub const MISSING_CONNECTOR: &str = "MissingConnector";
    /// Workflow: resources that are not positive quantities.
    pub const INVALID_RESOURCES: &str = "InvalidResources";
    /// Workflow (`ResourcesCapped`): resources above the tier's maximum, capped to it.
    pub const ABOVE_TIER_MAXIMUM: &str = "AboveTierMaximum";

    // Governance.
    /// Policy: its selector is valid; the message counts the tenants it selects.
    pub const SELECTED: &str = "Selected";
    /// Policy: a selector operator the API server does not know.
    pub const INVALID_SELECTOR: &str = "InvalidSelector";
    /// Approval: the workflow generation it approves exists.
    pub const RECORDED: &str = "Recorded";
    /// Approval: no such workflow in its namespace.
    pub const UNKNOWN_WORKFLOW: &str = "UnknownWorkflow";
    /// Approval: a generation newer than the workflow's.
    pub const FUTURE_GENERATION: &str = "FutureGeneration";
    /// Approval: approves a generation the workflow has moved past; it counts no more.
    pub const STALE_GENERATION: &str = "StaleGeneration";
    /// Approval: its approver is none of the subjects allowed to approve this workflow.
    pub const NOT_AN_APPROVER: &str = "NotAnApprover";
    /// Policy: a change freeze that cannot be evaluated (bad time zone, window or days).
    pub const INVALID_FREEZE: &str = "InvalidFreeze";
    /// Workflow: a new generation waits for the approvals a policy requires; the deployed
    /// generation keeps running unchanged.
    pub const AWAITING_APPROVAL: &str = "AwaitingApproval";
    /// Workflow: a change freeze holds the new generation until it ends (or an emergency
    /// approval lets it through).
    pub const CHANGE_FREEZE: &str = "ChangeFreeze";
    /// Workflow: its runner image is from no registry a policy allows.
    pub const IMAGE_NOT_ALLOWED: &str = "ImageNotAllowed";
    /// Workflow: its AI model is not one a policy allows.
    pub const MODEL_NOT_ALLOWED: &str = "ModelNotAllowed";
    /// Tenant or workflow: the tenant's region is not one a policy allows; no workload runs.
    pub const REGION_NOT_ALLOWED: &str = "RegionNotAllowed";
    /// Workflow: the approvals its generation needed are there; it is rolled out.
    pub const APPROVED: &str = "Approved";
    /// Workflow: an emergency approval let its generation through a change freeze.
    pub const EMERGENCY_APPROVED: &str = "EmergencyApproved";
    /// Workflow: what held, froze or blocked it no longer applies.
    pub const RELEASED: &str = "Released";
    /// Workflow: its human-review threshold was raised to the policy's.
    pub const REVIEW_THRESHOLD_RAISED: &str = "ReviewThresholdRaised";
}
