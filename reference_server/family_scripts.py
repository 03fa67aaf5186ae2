"""The Lua scripts that read and write token families inside Redis.

Why this module exists: the scripts mirror ``rotation`` line by line and are easier to review
side by side with it than buried in Python. A script runs whole, so ``REFRESH`` and ``REVOKE``
are the ``atomic`` strategy, ``CAS_COMMIT`` is ``redis-lock``'s fenced commit, and the plain
writes are what ``naive`` and ``local-lock`` run after deciding in Python. Every script touches
only the keys of one family, which share the hash tag ``{fam:<id>}`` and so one Redis Cluster
slot, and every key it touches is passed in KEYS. Every script is safe to run twice with the
same arguments (``redis_link`` retries once after a connection error): a rotation run again
finds its own undelivered successor (the stored value carries the time of the call) and
answers as the first run did, a revocation run again finds the family revoked, the plain
writes write the same values again.

KEYS of the family scripts: 1 = state hash, 2 = set of rotated-away token hashes,
3 = the successor stored for the presented token (``{fam:<id>}:succ:<presented hash>``).
State hash fields: gen, cur, prev, revoked ("0"/"1"), client, sub, scope.
A stored successor is ``u<ms>:<sealed>`` while undelivered since its rotation at ``<ms>`` (TTL:
the refresh lifetime) and ``d<ms>:<sealed>`` once delivered at ``<ms>`` (TTL: about the longer
of the grace window and the rejection tolerance); the rotating caller passes the undelivered
form whole. See ``rotation``.
"""

from __future__ import annotations

from .redis_link import Script

__all__ = [
    "CAS_COMMIT",
    "CREATE",
    "LEASE_RELEASE",
    "REFRESH",
    "REVOKE",
    "WRITE_REVOCATION",
    "WRITE_ROTATION",
]

# Shared head: rotate or revoke the family, and the replay rule of ``rotation``.
_FAMILY = """
local function rotate(gen, presented, new_hash, undelivered, ttl_ms)
  redis.call('HSET', KEYS[1], 'gen', gen, 'cur', new_hash, 'prev', presented)
  redis.call('PEXPIRE', KEYS[1], ttl_ms)
  redis.call('SADD', KEYS[2], presented)
  redis.call('PEXPIRE', KEYS[2], ttl_ms)
  redis.call('SET', KEYS[3], undelivered, 'PX', ttl_ms)
end
local function revoke(gen, revoked_ttl_ms)
  redis.call('HSET', KEYS[1], 'revoked', '1', 'gen', gen)
  redis.call('PEXPIRE', KEYS[1], revoked_ttl_ms)
  if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], revoked_ttl_ms) end
end
local function replayable(stored, arrival_ms, grace_ms, give_up_ms)
  local kind, since = string.match(stored, '^(%a)(%d+):')
  local age = arrival_ms - tonumber(since)
  if grace_ms > 0 and age <= grace_ms then return true end
  return kind == 'u' and age >= give_up_ms
end
local function concurrent_at(stored, arrival_ms, give_up_ms, tolerance_ms)
  local kind, since = string.match(stored, '^(%a)(%d+):')
  local age = arrival_ms - tonumber(since)
  if kind == 'd' then return age <= tolerance_ms end
  return age < give_up_ms
end
"""

# The atomic refresh. ARGV: presented hash, new hash, undelivered successor, arrival ms,
# grace ms, ttl ms, client id, revoked ttl ms, give-up ms, tolerance ms.
# Returns {outcome, sub, scope, stored successor or ''}.
REFRESH = Script(
    _FAMILY
    + """
local f = redis.call('HMGET', KEYS[1], 'gen', 'cur', 'prev', 'revoked', 'client', 'sub', 'scope')
if not f[1] then return {'unknown_token', '', '', ''} end
if f[5] ~= ARGV[7] then return {'wrong_client', f[6], f[7], ''} end
if f[4] == '1' then return {'family_revoked', f[6], f[7], ''} end
if f[2] == ARGV[1] then
  rotate(tonumber(f[1]) + 1, ARGV[1], ARGV[2], ARGV[3], ARGV[6])
  return {'rotated', f[6], f[7], ''}
end
if f[3] == ARGV[1] then
  local stored = redis.call('GET', KEYS[3])
  if stored == ARGV[3] then return {'rotated', f[6], f[7], ''} end  -- this call, run again
  local arrival_ms, give_up_ms = tonumber(ARGV[4]), tonumber(ARGV[9])
  if stored and replayable(stored, arrival_ms, tonumber(ARGV[5]), give_up_ms) then
    return {'replayed', f[6], f[7], stored}
  end
  if stored and concurrent_at(stored, arrival_ms, give_up_ms, tonumber(ARGV[10])) then
    return {'superseded', f[6], f[7], ''}
  end
elseif redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 then
  return {'unknown_token', f[6], f[7], ''}
end
revoke(tonumber(f[1]) + 1, ARGV[8])
return {'reuse_detected', f[6], f[7], ''}
"""
)

# The atomic revocation (RFC 7009). KEYS: state, used. ARGV: presented hash ('' = revoke by
# family), client id, revoked ttl ms. Returns an outcome.
REVOKE = Script(
    _FAMILY
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

# redis-lock's fenced commit: rotate only if the generation read under the lease is still
# current (the fencing token), the presented token is still current and the family is live; on
# success also release the lease if still ours (saves a round trip). KEYS[4] = lease.
# ARGV: expected gen, presented hash, new hash, undelivered successor, ttl ms, lease value.
# Returns 1 (committed, lease released if ours) or 0 (fenced out, lease untouched).
CAS_COMMIT = Script(
    _FAMILY
    + """
local f = redis.call('HMGET', KEYS[1], 'gen', 'cur', 'revoked')
if f[1] ~= ARGV[1] or f[2] ~= ARGV[2] or f[3] == '1' then
  if redis.call('GET', KEYS[3]) == ARGV[4] then return 1 end  -- this call, run again
  return 0
end
rotate(tonumber(f[1]) + 1, ARGV[2], ARGV[3], ARGV[4], ARGV[5])
if redis.call('GET', KEYS[4]) == ARGV[6] then redis.call('DEL', KEYS[4]) end
return 1
"""
)

# naive's write of a rotation it has decided on, unconditionally. KEYS: state, used, successor.
# ARGV: new generation, presented hash, new hash, undelivered successor, ttl ms.
WRITE_ROTATION = Script(
    _FAMILY
    + """
rotate(ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
return 1
"""
)

# naive's write of a revocation it has decided on. KEYS: state, used.
# ARGV: new generation, revoked ttl ms.
WRITE_REVOCATION = Script(
    _FAMILY
    + """
revoke(ARGV[1], ARGV[2])
return 1
"""
)

# A new family (a login). KEYS: state. ARGV: first token's hash, client id, subject, scope,
# ttl ms.
CREATE = Script(
    """
redis.call('HSET', KEYS[1], 'gen', '1', 'cur', ARGV[1], 'prev', '', 'revoked', '0',
           'client', ARGV[2], 'sub', ARGV[3], 'scope', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""
)

# Compare-and-delete release of a lease: only the holder's unique value deletes the key.
LEASE_RELEASE = Script(
    """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
)
