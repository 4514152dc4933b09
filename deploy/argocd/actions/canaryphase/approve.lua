-- Approves the gate the CanaryPhase waits for: cutover.nokta.io/approve = <gate>:<token>.
local gate = obj.status and obj.status.waitingForGate
if gate == nil or gate == "" then return obj end
if obj.metadata.annotations == nil then obj.metadata.annotations = {} end
obj.metadata.annotations["cutover.nokta.io/approve"] = gate .. ":" .. os.date("!%Y%m%dt%H%M%Sz")
obj.metadata.annotations["cutover.nokta.io/approved-by"] = "argocd"
return obj
