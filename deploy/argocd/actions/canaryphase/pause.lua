-- CanaryPhase: cutover.nokta.io/action = pause:<token> (each token is acted on once).
if obj.metadata.annotations == nil then obj.metadata.annotations = {} end
obj.metadata.annotations["cutover.nokta.io/action"] = "pause:" .. os.date("!%Y%m%dt%H%M%Sz")
return obj
