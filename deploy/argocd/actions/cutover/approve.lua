-- Approves every step of the Cutover that waits for approval: adds it to cutover.nokta.io/approve
-- (comma-separated, what the controller reads) and records Argo CD as the approver.
local s = obj.status or {}
if obj.metadata.annotations == nil then obj.metadata.annotations = {} end
local list = obj.metadata.annotations["cutover.nokta.io/approve"] or ""
local have = {}
for name in string.gmatch(list, "[^,%s]+") do have[name] = true end
if s.steps ~= nil then
  for _, step in ipairs(s.steps) do
    if step.state == "AwaitingApproval" and step.name ~= nil and not have[step.name] then
      if list == "" then list = step.name else list = list .. "," .. step.name end
      have[step.name] = true
    end
  end
end
obj.metadata.annotations["cutover.nokta.io/approve"] = list
obj.metadata.annotations["cutover.nokta.io/approved-by"] = "argocd"
return obj
