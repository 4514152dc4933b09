-- Resumes a paused Cutover.
obj.spec.paused = false
return obj
