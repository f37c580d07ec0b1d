-- Argo CD health of a lifeboat.dev Backup, from the status the Lifeboat runner and its worker
-- write: status.phase (pending, running, completed, failed), status.reason and status.error on a
-- failure, and the conditions Ready and Expired. Written for Argo CD's Lua (5.1) and runs on 5.4.
local hs = {}

local function condition(status, kind)
  if status == nil or status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == kind then
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

local status = obj.status
if status == nil or status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Lifeboat runner to take up the Backup (no status yet)"
  return hs
end

local ready = condition(status, "Ready")
local phase = status.phase

if phase == "failed" then
  hs.status = "Degraded"
  local reason = status.reason or (ready ~= nil and ready.reason) or "Failed"
  hs.message = reason .. ": " .. (status.error or message_of(ready, "the backup failed"))
  return hs
end

if phase == "completed" then
  local expired = condition(status, "Expired")
  if expired ~= nil and expired.status == "True" then
    -- Retention removed its objects; the Backup came from Git and stays, but restores nothing.
    hs.status = "Healthy"
    hs.message = "Expired (not restorable): " .. message_of(expired, "retention deleted its objects")
    return hs
  end
  hs.status = "Healthy"
  hs.message = message_of(ready, "completed at " .. (status.stoppedAt or "an unknown time"))
  return hs
end

if phase == "running" then
  hs.status = "Progressing"
  local from = ""
  if status.instanceName ~= nil then
    from = " from " .. status.instanceName
  end
  hs.message = "running since " .. (status.startedAt or "an unknown time") .. from
  if ready ~= nil and ready.message ~= nil and ready.message ~= "" then
    hs.message = hs.message .. ": " .. ready.message
  end
  return hs
end

if phase == "pending" then
  hs.status = "Progressing"
  hs.message = "pending: " .. message_of(ready, "waiting for a worker")
  return hs
end

hs.status = "Unknown"
hs.message = "unknown status.phase " .. tostring(phase)
return hs
