-- Argo CD health check for cutover.nokta.io/CanaryPhase (kstatus conventions).
-- Install: resource.customizations.health.cutover.nokta.io_CanaryPhase in argocd-cm.
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

local s = obj.status
local phase = s.phase
local where = ""
if s.currentWeight ~= nil then where = " at weight " .. tostring(s.currentWeight) .. " %" end
if s.currentStep ~= nil then where = where .. " (step " .. tostring(s.currentStep) .. ")" end

if phase == "RolledBack" or phase == "Aborted" or phase == "Failed" then
  hs.status = "Degraded"
  hs.message = "Canary " .. phase .. ": " .. tostring(s.message or msg(condition("Ready"), "see status"))
  return hs
end
if phase == "Paused" or (obj.spec ~= nil and obj.spec.paused == true) then
  hs.status = "Suspended"
  hs.message = "Paused" .. where
  return hs
end
if s.waitingForGate ~= nil and s.waitingForGate ~= "" then
  hs.status = "Suspended"
  hs.message = "Waiting for approval of gate " .. s.waitingForGate .. where
  return hs
end
if phase == "Pending" and obj.spec ~= nil and obj.spec.startAt ~= nil then
  hs.status = "Suspended"
  hs.message = "Starts at " .. obj.spec.startAt
  return hs
end
if phase == "Promoted" or phase == "Succeeded" then
  hs.status = "Healthy"
  hs.message = "Canary " .. phase
  return hs
end

local failures = ""
if s.consecutiveFailures ~= nil and s.consecutiveFailures > 0 then
  failures = ", " .. tostring(s.consecutiveFailures) .. " consecutive failed measurement(s)"
end
local ready = condition("Ready")
if phase == nil and ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = msg(ready, "Ready")
  return hs
end
hs.message = tostring(phase or "Progressing") .. where .. failures
return hs
