"""Lua scripts run inside Redis: the atomic decisions and the fenced commit.

Why this module exists: the scripts mirror ``rotation`` line by line and are easier to review
side by side with it than buried in ``store``. Every script touches only the keys of one family,
which share the hash tag ``{fam:<id>}``, so they also run on Redis Cluster.

KEYS for every family script: 1 = state hash, 2 = set of rotated-away token hashes,
3 = sealed successor (TTL = grace).
State hash fields: gen, cur, prev, rot (ms of last rotation), revoked ("0"/"1"), client, sub,
scope.
"""

from __future__ import annotations

__all__ = ["CAS_COMMIT", "JWK_PUBLISH", "LEASE_RELEASE", "REFRESH", "REVOKE"]

# Shared tail: rotate the family (fields and TTLs); used by REFRESH and CAS_COMMIT.
_ROTATE = """
local function rotate(gen, presented, new_hash, now_ms, sealed, grace_ms, ttl_ms)
  redis.call('HSET', KEYS[1], 'gen', gen, 'cur', new_hash, 'prev', presented, 'rot', now_ms)
  redis.call('PEXPIRE', KEYS[1], ttl_ms)
  redis.call('SADD', KEYS[2], presented)
  redis.call('PEXPIRE', KEYS[2], ttl_ms)
  if tonumber(grace_ms) > 0 then
    redis.call('SET', KEYS[3], sealed, 'PX', grace_ms)
  else
    redis.call('DEL', KEYS[3])
  end
end
local function revoke(gen, revoked_ttl_ms)
  redis.call('HSET', KEYS[1], 'revoked', '1', 'gen', gen)
  redis.call('PEXPIRE', KEYS[1], revoked_ttl_ms)
  if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], revoked_ttl_ms) end
  redis.call('DEL', KEYS[3])
end
"""

# ARGV: presented hash, new hash, sealed successor, now ms, grace ms, ttl ms, client id,
# revoked ttl ms.  Returns {outcome, sub, scope, gen, sealed?}.
REFRESH = (
    _ROTATE
    + """
local f = redis.call('HMGET', KEYS[1], 'gen', 'cur', 'prev', 'rot', 'revoked', 'client', 'sub',
                     'scope')
if not f[1] then return {'unknown_token', '', '', '0'} end
local gen = tonumber(f[1])
if f[6] ~= ARGV[7] then return {'wrong_client', f[7], f[8], f[1]} end
if f[5] == '1' then return {'family_revoked', f[7], f[8], f[1]} end
if f[2] == ARGV[1] then
  rotate(gen + 1, ARGV[1], ARGV[2], ARGV[4], ARGV[3], ARGV[5], ARGV[6])
  return {'rotated', f[7], f[8], tostring(gen + 1)}
end
if f[3] ~= ARGV[1] and redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 then
  return {'unknown_token', f[7], f[8], f[1]}
end
if f[3] == ARGV[1] and tonumber(ARGV[5]) > 0
   and tonumber(ARGV[4]) - tonumber(f[4]) <= tonumber(ARGV[5]) then
  local sealed = redis.call('GET', KEYS[3])
  if sealed then return {'replayed', f[7], f[8], f[1], sealed} end
end
revoke(gen + 1, ARGV[8])
return {'reuse_detected', f[7], f[8], tostring(gen + 1)}
"""
)

# ARGV: presented hash ('' = revoke by family), client id, revoked ttl ms. Returns an outcome.
REVOKE = (
    _ROTATE
    + """
local f = redis.call('HMGET', KEYS[1], 'gen', 'cur', 'prev', 'revoked', 'client')
if not f[1] then return 'unknown_token' end
if f[5] ~= ARGV[2] then return 'wrong_client' end
if f[4] == '1' then return 'already_revoked' end
if ARGV[1] ~= '' and f[2] ~= ARGV[1] and f[3] ~= ARGV[1]
   and redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 then
  return 'unknown_token'
end
revoke(tonumber(f[1]) + 1, ARGV[3])
return 'revoked'
"""
)

# The fenced commit of redis-lock: rotate only if the generation read under the lease is still
# current (the fencing token), the presented token is still current and the family is live; on
# success also release the lease if still ours (saves a round trip). KEYS[4] = lease.
# ARGV: expected gen, presented hash, new hash, sealed, now ms, grace ms, ttl ms, lease value.
# Returns 1 (committed, lease released if ours) or 0 (fenced out, lease untouched).
CAS_COMMIT = (
    _ROTATE
    + """
local f = redis.call('HMGET', KEYS[1], 'gen', 'cur', 'revoked')
if f[1] ~= ARGV[1] or f[2] ~= ARGV[2] or f[3] == '1' then return 0 end
rotate(tonumber(f[1]) + 1, ARGV[2], ARGV[3], ARGV[5], ARGV[4], ARGV[6], ARGV[7])
if redis.call('GET', KEYS[4]) == ARGV[8] then redis.call('DEL', KEYS[4]) end
return 1
"""
)

# Compare-and-delete release of a lease: only the holder's unique value deletes the key.
LEASE_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# Publish one public JWK in the replicas' shared index (a sorted set scored by expiry in ms),
# drop expired entries, let the index expire with its last entry, and return the live entries.
# KEYS[1] = index. ARGV: JWK JSON, now ms, lifetime ms.
JWK_PUBLISH = """
local now = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])
return redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')
"""
