/*
 * Lua scripts of the Redis store. Each runs atomically inside Redis, takes the
 * time from Redis (`TIME`), so every process sees the same clock, and sets an
 * expiry on every key it writes.
 */

const NOW = `
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

/*
 * The invalid-request guard, shared by GLOBAL_ACQUIRE and INVALID_CHECK (after NOW): trims the
 * token's log, then the log of all tokens, to the sliding window and returns
 * {status, waitMs, count} for the first one at its threshold (2 token, 3 total), else nil.
 * waitMs is how long until the oldest entry that keeps the log at the threshold leaves the window.
 */
const INVALID_GUARD = `
local function invalidGuard (tokenKey, totalKey, tokenThreshold, totalThreshold, window)
  for _, g in ipairs({{tokenKey, tokenThreshold, 2}, {totalKey, totalThreshold, 3}}) do
    redis.call('ZREMRANGEBYSCORE', g[1], '-inf', now - window)
    local n = redis.call('ZCARD', g[1])
    if n >= g[2] then
      local e = redis.call('ZRANGE', g[1], n - g[2], n - g[2], 'WITHSCORES')
      return {g[3], tonumber(e[2]) + window - now, n}
    end
  end
  return nil
end
`

/**
 * KEYS: global log (zset), global pause, invalid log of the token (zset), invalid log of all tokens (zset),
 * instances using the token (zset), pacing (string: theoretical arrival time of the next grant)
 * ARGV: limit, windowMs, member, invalidThreshold, invalidTotalThreshold, invalidWindowMs, instance id ('' for none), instance TTL ms,
 * intervalMs (0: no pacing), burst, inFlightMs (0: the grant is dated now)
 * Returns {status, waitMs, count, inWindow, instances}: status 0 granted, 1 paused, 2 token guard tripped,
 * 3 total guard tripped, 4 window full or paced; inWindow is the log's size after this call and instances how
 * many processes used the token recently (what a process needs to carry the window if Redis goes away).
 * Guarantee: at most `limit` grants carry a score in any `windowMs` interval, whatever the
 * number of callers, because the count and the insert happen in one atomic step; with pacing,
 * grants are also spread `intervalMs` apart on average over every process (GCRA with `burst`).
 * A grant in flight is scored `inFlightMs` ahead (counted until GLOBAL_SETTLE dates it), so the
 * window holds it from its grant until a window after its answer.
 */
export const GLOBAL_ACQUIRE = `${NOW}${INVALID_GUARD}
local tripped = invalidGuard(KEYS[3], KEYS[4], tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]))
if tripped then return tripped end
local instances = 1
if ARGV[7] ~= '' then
  redis.call('ZADD', KEYS[5], now, ARGV[7])
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now - tonumber(ARGV[8]))
  redis.call('PEXPIRE', KEYS[5], ARGV[8])
  instances = redis.call('ZCARD', KEYS[5])
end
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local c = redis.call('ZCARD', KEYS[1])
local p = redis.call('PTTL', KEYS[2])
if p > 0 then return {1, p, 0, c, instances} end
local interval = tonumber(ARGV[9])
if c >= limit then
  local e = redis.call('ZRANGE', KEYS[1], c - limit, c - limit, 'WITHSCORES')
  local at = tonumber(e[2])
  -- An in-flight grant frees its place only a window after it settles: look again one interval on.
  if at > now then return {4, math.max(1, math.ceil(interval)), 0, c, instances} end
  return {4, at + window - now, 0, c, instances}
end
if interval > 0 then
  local tat = tonumber(redis.call('GET', KEYS[6]) or '0')
  if tat < now then tat = now end
  local early = tat - now - (math.max(1, tonumber(ARGV[10])) - 1) * interval
  if early > 0 then return {4, math.ceil(early), 0, c, instances} end
  redis.call('SET', KEYS[6], tostring(tat + interval), 'PX', math.ceil(tat + interval - now) + window)
end
local inflight = tonumber(ARGV[11] or '0')
redis.call('ZADD', KEYS[1], now + inflight, ARGV[3])
if redis.call('PTTL', KEYS[1]) < window + inflight then redis.call('PEXPIRE', KEYS[1], window + inflight) end
return {0, 0, 0, c + 1, instances}
`

/**
 * KEYS: global log (zset). ARGV: member.
 * Dates an in-flight grant now (its answer came back); a member no longer in the log is left out.
 */
export const GLOBAL_SETTLE = `${NOW}
redis.call('ZADD', KEYS[1], 'XX', now, ARGV[1])
return 0
`

/**
 * KEYS: global log (zset). ARGV: windowMs, member prefix, then the ages (ms before now) of grants.
 * Puts grants a process made while Redis was away (or empty) back into the shared log, aged by
 * Redis's own clock, so processes that use Redis again count them.
 */
export const GLOBAL_SEED = `${NOW}
local window = tonumber(ARGV[1])
for i = 3, #ARGV do
  local at = now - tonumber(ARGV[i])
  if at > now - window then redis.call('ZADD', KEYS[1], at, ARGV[2] .. ':' .. i) end
end
if redis.call('PTTL', KEYS[1]) < window then redis.call('PEXPIRE', KEYS[1], window) end
return 0
`

/**
 * KEYS: invalid log of the token, invalid log of all tokens.
 * ARGV: invalidThreshold, invalidTotalThreshold, invalidWindowMs.
 * Returns {status, waitMs, count}: 0 fine, 2 token guard tripped, 3 total guard tripped.
 */
export const INVALID_CHECK = `${NOW}${INVALID_GUARD}
local tripped = invalidGuard(KEYS[1], KEYS[2], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))
if tripped then return tripped end
return {0, 0, 0}
`

/**
 * KEYS: global pause. ARGV: ms.
 * Extends the pause to `ms` from now; never shortens a longer one.
 */
export const GLOBAL_PAUSE = `
local p = redis.call('PTTL', KEYS[1])
if p < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], '1', 'PX', ARGV[1]) end
return 0
`

/**
 * KEYS: invalid log of the token, invalid log of all tokens. ARGV: member, windowMs.
 * Adds one invalid response to both sliding windows.
 */
export const RECORD_INVALID = `${NOW}
local window = tonumber(ARGV[2])
for i = 1, 2 do
  redis.call('ZADD', KEYS[i], now, ARGV[1])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  redis.call('PEXPIRE', KEYS[i], window)
end
return 0
`

/**
 * KEYS: bucket state (hash: limit, remaining, reset, pause), bucket lock. ARGV: owner, lockTtlMs.
 * Returns {status, waitMs}: 0 granted (lock taken, one of remaining consumed when the
 * state is current), 1 locked by another owner, 2 exhausted until the reset (or paused).
 * Guarantee: one request per bucket in flight across all processes (until the lock's
 * TTL), and none is granted while remaining is 0 before the reset or during a 429 pause.
 */
export const BUCKET_ACQUIRE = `${NOW}
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[1] then
  return {1, redis.call('PTTL', KEYS[2])}
end
local s = redis.call('HMGET', KEYS[1], 'remaining', 'reset', 'pause')
local remaining = tonumber(s[1])
local reset = tonumber(s[2])
local pause = tonumber(s[3])
if pause and pause > now then return {2, pause - now} end
if remaining and reset and reset > now then
  if remaining <= 0 then return {2, reset - now} end
  redis.call('HSET', KEYS[1], 'remaining', remaining - 1)
end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return {0, 0}
`

/**
 * KEYS: bucket state to write, bucket lock to release.
 * ARGV: owner, hasUpdate ('1'|'0'), limit, remaining, resetAfterMs, graceMs, pauseMs.
 * Writes the state from the response's headers (reset = Redis now + resetAfterMs),
 * extends the 429 pause to now + pauseMs, keeps the key until graceMs after the later
 * of the two, and releases the lock if `owner` still holds it.
 * While the stored window is still running the answer belongs to that same window,
 * so the lower remaining and the later reset win: a late answer from another
 * process never makes the bucket look fresher than it is.
 */
export const BUCKET_RELEASE = `${NOW}
local s = redis.call('HMGET', KEYS[1], 'remaining', 'reset', 'pause')
local oldRemaining = tonumber(s[1])
local oldReset = tonumber(s[2])
local pause = tonumber(s[3]) or 0
local reset = oldReset or 0
local pauseMs = tonumber(ARGV[7])
if ARGV[2] == '1' then
  local remaining = tonumber(ARGV[4])
  reset = now + tonumber(ARGV[5])
  if oldRemaining and oldReset and oldReset > now then
    if oldRemaining < remaining then remaining = oldRemaining end
    if oldReset > reset then reset = oldReset end
  end
  redis.call('HSET', KEYS[1], 'limit', ARGV[3], 'remaining', remaining, 'reset', reset)
end
if pauseMs > 0 and now + pauseMs > pause then
  pause = now + pauseMs
  redis.call('HSET', KEYS[1], 'pause', pause)
end
if ARGV[2] == '1' or pauseMs > 0 then
  local horizon = reset
  if pause > horizon then horizon = pause end
  redis.call('PEXPIRE', KEYS[1], math.max(1, horizon - now + tonumber(ARGV[6])))
end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return 0
`
