-- Pauses the Cutover before its next step (spec.paused, what the controller reads).
obj.spec.paused = true
return obj
