-- Argo CD resource actions of cutover.nokta.io/Cutover: which are offered, which are disabled.
local actions = {}
local s = obj.status or {}
local phase = s.phase
local terminal = phase == "SteadyState" or phase == "RolledBack" or phase == "RollingBack" or phase == "Failed" or phase == "Aborted"
local paused = obj.spec ~= nil and obj.spec.paused == true
local awaiting = false
if s.steps ~= nil then
  for _, step in ipairs(s.steps) do
    if step.state == "AwaitingApproval" then awaiting = true end
  end
end
actions["approve"] = { ["disabled"] = terminal or not awaiting }
actions["pause"] = { ["disabled"] = terminal or paused }
actions["resume"] = { ["disabled"] = not paused }
return actions
