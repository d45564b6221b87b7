-- Argo CD health check for clawhost.dev/OpenClawInstance (install: docs/gitops.md).
-- Argo CD runs this with gopher-lua (Lua 5.1); `obj` is the live resource, the result is a table with
-- `status` (Healthy, Progressing, Degraded, Suspended) and `message`.
--
-- The operator writes kstatus conditions, so the verdict follows kstatus:
--   being deleted                               -> Progressing
--   status.observedGeneration ~= generation     -> Progressing (the operator has not seen the change yet)
--   Stalled=True                                -> Degraded    (needs a human; the message says why)
--   Ready=True and phase Suspended              -> Suspended   (intentionally powered off, e.g. unpaid)
--   Ready=True                                  -> Healthy
--   anything else                               -> Progressing (provisioning, resizing, rebooting, ...)
local hs = {}

local function condition(status, wanted)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == wanted then
      return c
    end
  end
  return nil
end

local function message_of(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return fallback
end

if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Deleting: the operator is removing the server and DNS records"
  return hs
end

local status = obj.status
if status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to pick up the instance"
  return hs
end

local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and status.observedGeneration ~= generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to act on generation " .. tostring(generation)
  return hs
end

local stalled = condition(status, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = message_of(stalled, "Stalled")
  return hs
end

local ready = condition(status, "Ready")
if ready ~= nil and ready.status == "True" then
  if status.phase == "Suspended" then
    hs.status = "Suspended"
  else
    hs.status = "Healthy"
  end
  hs.message = message_of(ready, "Ready")
  return hs
end

hs.status = "Progressing"
hs.message = message_of(ready, "Waiting for the instance to become Ready")
return hs
