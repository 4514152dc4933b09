-- Argo CD resource actions of cutover.nokta.io/Reconciliation: rerun, unless a run is in progress.
local actions = {}
local phase = obj.status and obj.status.phase
actions["rerun"] = { ["disabled"] = phase == "Running" }
return actions
