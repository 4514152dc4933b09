-- CanaryPhase: cutover.nokta.io/action = abort:<token> (each token is acted on once).
if obj.metadata.annotations == nil then obj.metadata.annotations = {} end
obj.metadata.annotations["cutover.nokta.io/action"] = "abort:" .. os.date("!%Y%m%dt%H%M%Sz")
return obj
