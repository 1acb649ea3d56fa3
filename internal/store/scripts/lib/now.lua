-- now (lib/now.lua, put in front of every script that reads the clock):
-- Redis's time in Unix ms, the one formula of it.
local function now_ms()
  local t = redis.call('TIME')
  return t[1] * 1000 + math.floor(t[2] / 1000)
end
