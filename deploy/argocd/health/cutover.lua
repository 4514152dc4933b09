-- Argo CD health check for cutover.nokta.io/Cutover (kstatus conventions).
-- Install: resource.customizations.health.cutover.nokta.io_Cutover in argocd-cm.
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

local s = obj.status
local phase = s.phase

if phase == "RolledBack" or phase == "Failed" or phase == "Aborted" then
  hs.status = "Degraded"
  local why = ""
  if s.rollback ~= nil and s.rollback.trigger ~= nil then
    why = ": " .. s.rollback.trigger
    if s.rollback.reason ~= nil then why = why .. " (" .. s.rollback.reason .. ")" end
  end
  hs.message = "Cutover " .. phase .. why
  return hs
end
if phase == "RollingBack" then
  hs.status = "Degraded"
  local trigger = (s.rollback and s.rollback.trigger) or "rollback"
  hs.message = "Rolling back (" .. trigger .. ")"
  return hs
end

local stalled = condition("Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = msg(stalled, "Stalled: " .. tostring(stalled.reason))
  return hs
end

if s.steps ~= nil then
  for _, step in ipairs(s.steps) do
    if step.state == "AwaitingApproval" then
      hs.status = "Suspended"
      hs.message = "Waiting for approval of step " .. tostring(step.name)
      return hs
    end
  end
end
local awaiting = condition("AwaitingApproval")
if awaiting ~= nil and awaiting.status == "True" then
  hs.status = "Suspended"
  hs.message = msg(awaiting, "Waiting for approval")
  return hs
end
if phase == "Paused" or (obj.spec ~= nil and obj.spec.paused == true) then
  hs.status = "Suspended"
  hs.message = "Paused at " .. tostring(s.currentStep or phase)
  return hs
end
if phase == "SteadyState" then
  hs.status = "Healthy"
  hs.message = "Steady state"
  return hs
end

-- Waiting for a planned time (not working): Suspended, so Argo CD does not show days of Progressing.
local running = false
local waiting = false
if s.steps ~= nil then
  for _, step in ipairs(s.steps) do
    if step.state == "Running" then running = true end
    if step.state == "Waiting" then waiting = true end
  end
end
if not running and s.nextStepAt ~= nil and (waiting or phase == "AwaitingCutover" or phase == "Pending") then
  hs.status = "Suspended"
  hs.message = "Waiting until " .. s.nextStepAt .. " for step " .. tostring(s.nextStep)
  return hs
end
if phase == "AwaitingCutover" then
  hs.status = "Suspended"
  hs.message = "Waiting for the cutover night" .. (s.message and (": " .. s.message) or "")
  return hs
end
if phase == "LegacyHot" and s.legacyHotUntil ~= nil then
  hs.status = "Suspended"
  hs.message = "Switched; legacy kept hot until " .. s.legacyHotUntil
  return hs
end
if phase == "PostCutover" then
  hs.status = "Suspended"
  local since = ""
  if s.stableSince ~= nil then since = ", stable since " .. s.stableSince end
  hs.message = "Post-cutover checks, waiting for steady state" .. since
  return hs
end

local ready = condition("Ready")
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = tostring(phase or "Ready") .. ": " .. msg(ready, "Ready")
  return hs
end

local next = ""
if s.nextStep ~= nil then
  next = "; next " .. s.nextStep
  if s.nextStepAt ~= nil then next = next .. " at " .. s.nextStepAt end
end
local current = ""
if s.currentStep ~= nil then current = ": " .. s.currentStep end
hs.message = tostring(phase or "Pending") .. current .. next
return hs
