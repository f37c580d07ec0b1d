-- Argo CD health of a lifeboat.dev ScheduledBackup, from its spec.suspend and the status the
-- Lifeboat runner writes: the condition Ready (ScheduleActive, ScheduleSuspended, InvalidSchedule,
-- NeverFires, TickFailed), lastSuccessfulBackup and lastFailedBackup. Written for Argo CD's Lua
-- (5.1) and runs on 5.4.
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

-- Backups of a schedule are named <schedule>-<yyyymmddhhmmss> after their tick, so of two the one
-- with the later stamp is the newer; names without a stamp compare as strings.
local function newer(a, b)
  local sa = string.match(a, "%-(%d%d%d%d%d%d%d%d%d%d%d%d%d%d)$")
  local sb = string.match(b, "%-(%d%d%d%d%d%d%d%d%d%d%d%d%d%d)$")
  if sa ~= nil and sb ~= nil then
    return sa > sb
  end
  return a > b
end

local spec = obj.spec or {}
local status = obj.status
local ready = condition(status, "Ready")

if spec.suspend == true then
  hs.status = "Suspended"
  hs.message = "suspend is true: no Backups are created"
  return hs
end

if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Lifeboat runner to arm the schedule (no Ready condition yet)"
  return hs
end

local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and ready.observedGeneration ~= nil and ready.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the Lifeboat runner to act on generation " .. tostring(generation) ..
    " (status is of generation " .. tostring(ready.observedGeneration) .. ")"
  return hs
end

if ready.status ~= "True" then
  if ready.reason == "ScheduleSuspended" then
    -- spec.suspend was just cleared; the runner re-arms the schedule at its next reconcile.
    hs.status = "Progressing"
    hs.message = "resuming: " .. (ready.message or "")
    return hs
  end
  hs.status = "Degraded"
  hs.message = (ready.reason or "NotReady") .. ": " .. (ready.message or "")
  return hs
end

local failed = status.lastFailedBackup
local succeeded = status.lastSuccessfulBackup
if failed ~= nil and (succeeded == nil or newer(failed, succeeded)) then
  hs.status = "Degraded"
  local since = "no Backup of it has completed yet"
  if succeeded ~= nil then
    since = "the newest completed one is " .. succeeded
  end
  hs.message = "the newest Backup of this schedule, " .. failed .. ", failed (see its status.error); " .. since ..
    "; the schedule keeps running"
  return hs
end

hs.status = "Healthy"
hs.message = ready.message or "the schedule is active"
if succeeded ~= nil then
  hs.message = hs.message .. "; the newest completed Backup is " .. succeeded
end
return hs
