-- Reconciliation: a new cutover.nokta.io/rerun value runs it now.
if obj.metadata.annotations == nil then obj.metadata.annotations = {} end
obj.metadata.annotations["cutover.nokta.io/rerun"] = os.date("!%Y%m%dt%H%M%Sz")
return obj
