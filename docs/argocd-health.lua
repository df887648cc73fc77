-- Argo CD health of every tenantry kind, from the standard conditions the operator writes.
-- Install it for each kind in argocd-cm (see docs/operations.md):
--   resource.customizations.health.tenantry.dev_Tenant: |
--     <this file>
local health = {}
if obj.status == nil or obj.status.conditions == nil then
  health.status = "Progressing"
  health.message = "Waiting for the tenantry operator to report"
  return health
end
local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and observed ~= nil and observed < generation then
  health.status = "Progressing"
  health.message = "Waiting for the operator to act on generation " .. generation
  return health
end
for _, condition in ipairs(obj.status.conditions) do
  if condition.type == "Stalled" and condition.status == "True" then
    health.status = "Degraded"
    health.message = condition.reason .. ": " .. condition.message
    return health
  end
end
for _, condition in ipairs(obj.status.conditions) do
  if condition.type == "Ready" then
    if condition.status == "True" then
      health.status = "Healthy"
    elseif condition.reason == "Paused" or condition.reason == "TenantSuspended" then
      health.status = "Suspended"
    else
      health.status = "Progressing"
    end
    health.message = condition.message
    return health
  end
end
health.status = "Progressing"
health.message = "No Ready condition yet"
return health
