-- Argo CD health check for cutover.nokta.io/Reconciliation (kstatus conventions).
-- Install: resource.customizations.health.cutover.nokta.io_Reconciliation in argocd-cm.
local hs = { status = "Progressing", message = "Waiting for the operator" }

local function condition(t)
  if obj.status == nil or obj.status.conditions == nil then return nil end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == t then return c end
  end
  return nil
end

local function msg(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then return c.message end
  return fallback
end

if obj.status == nil then return hs end
local generation = obj.metadata and obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local stalled = condition("Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = msg(stalled, "Stalled: " .. tostring(stalled.reason))
  return hs
end

local phase = obj.status.phase
local summary = obj.status.summary or {}
local variance = ""
if summary.maxVariancePercent ~= nil then
  variance = " (max variance " .. summary.maxVariancePercent .. " %"
  if summary.worstTenant ~= nil then variance = variance .. ", tenant " .. summary.worstTenant end
  variance = variance .. ")"
end

if phase == "Failed" then
  hs.status = "Degraded"
  hs.message = "Reconciliation failed" .. variance
  return hs
end
if phase == "Error" then
  hs.status = "Degraded"
  local err = obj.status.lastRun and obj.status.lastRun.error
  hs.message = "Reconciliation could not run: " .. tostring(err or msg(condition("Ready"), "error"))
  return hs
end
if phase == "RemediationNeeded" then
  hs.status = "Degraded"
  hs.message = "Remediation needed, a rerun follows" .. variance
  return hs
end

local reconciling = condition("Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  hs.message = msg(reconciling, "Running")
  return hs
end

if (phase == nil or phase == "Pending") and obj.status.nextRunAt ~= nil and obj.status.lastRun == nil then
  hs.status = "Suspended"
  hs.message = "First run at " .. obj.status.nextRunAt
  return hs
end

local ready = condition("Ready")
if phase == "Passed" and (ready == nil or ready.status == "True") then
  hs.status = "Healthy"
  hs.message = "Passed" .. variance
  return hs
end
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = msg(ready, "Ready")
  return hs
end
hs.message = msg(ready, "Phase " .. tostring(phase))
return hs
