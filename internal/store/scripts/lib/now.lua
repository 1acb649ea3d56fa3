-- now (lib/now.lua, put in front of every script that reads the clock):
-- Redis's time in Unix ms, the one formula of it. clock_ms returns it as a
-- number and as the string of its digits, made without arithmetic: a
-- string goes to redis.call as it is, where Redis 7.0 formats a Lua number
-- with snprintf("%.17g"), several thousand instructions each (int, below,
-- formats an integer for a tenth of that).
local function clock_ms()
  local t = redis.call('TIME')
  -- seconds .. the first three of the six digits of the microseconds
  local s = t[1] .. string.sub('00000' .. t[2], -6, -4)
  return tonumber(s), s
end
local function now_ms()
  return (clock_ms())
end
-- int: integer n as the string Redis reads.
local function int(n)
  return string.format('%d', n)
end
