-- Argo CD resource actions of cutover.nokta.io/CanaryPhase: which are offered, which are disabled.
local actions = {}
local s = obj.status or {}
local phase = s.phase
local ended = phase == "Promoted" or phase == "Succeeded" or phase == "RolledBack" or phase == "Aborted" or phase == "Failed"
actions["approve"] = { ["disabled"] = ended or s.waitingForGate == nil or s.waitingForGate == "" }
actions["pause"] = { ["disabled"] = ended or phase == "Paused" }
actions["resume"] = { ["disabled"] = ended or phase ~= "Paused" }
actions["promote"] = { ["disabled"] = ended }
actions["abort"] = { ["disabled"] = ended }
return actions
