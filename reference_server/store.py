"""Redis token store with four interchangeable concurrency-control strategies.

Why this module exists: the point of the reference server is to show that the *same* rotation
policy (``rotation``) is correct or broken depending only on how the read and the write of a
refresh are kept together. The strategies:

- ``naive``: read, decide, write, with awaits in between; concurrent refreshes of one token fork
  the family or trip reuse detection (it exists to be caught);
- ``local-lock``: the naive path under a per-family ``asyncio.Lock``; correct in one process,
  broken with several processes or replicas;
- ``redis-lock``: a per-family lease (``SET NX PX`` with a unique value, Lua compare-and-delete
  release) for single flight; the lease try and the state read share one pipelined round trip,
  and a waiter reads again with each try, so the winner's result serves its grace replay; the
  commit is a Lua compare-and-set on the family generation (the fencing token) that also
  releases the lease, so an expired lease cannot fork the family and a refresh costs two round
  trips. A bounded wait ends in ``LockTimeout`` (503 with Retry-After);
- ``atomic``: one Lua script decides and commits in one round trip.

Revocation goes through the same path as refresh in every strategy. Every Redis round trip goes
through ``_round_trip``: it waits for one of a bounded number of connection slots and for the
reply within the Redis timeout, and turns connection errors and timeouts into
``StoreUnavailable`` (503). The reads and script runs of a refresh go through ``autopipeline``,
so concurrent requests share round trips; multi-command writes (MULTI/EXEC) go alone. With
``autopipeline``, this is the only module that imports ``redis``.

Key layout (all keys of a family share the hash tag ``{fam:<id>}``; every key has a TTL):
``{fam:<id>}:state`` hash, ``{fam:<id>}:used`` set of rotated-away hashes,
``{fam:<id>}:succ`` sealed successor (TTL = grace), ``{fam:<id>}:lock`` lease (TTL = lease).
The replicas' public signing keys are indexed in ``auth-stress:jwks:v1`` (see ``keyring``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.connection import HiredisRespSerializer
from redis.exceptions import BusyLoadingError, ConnectionError, NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT, FieldT

from . import scripts
from .autopipeline import AutoPipeline, Command
from .rotation import FamilyState, Outcome, RevokeOutcome, Snapshot, decide_refresh, decide_revoke
from .settings import Settings, Strategy
from .tokens import new_family_id, new_refresh_token, seal_successor, token_hash

__all__ = [
    "JWKS_INDEX",
    "LockTimeout",
    "RefreshResult",
    "StoreUnavailable",
    "TokenStore",
    "connect",
    "create_store",
]

JWKS_INDEX = "auth-stress:jwks:v1"
_CAS_ATTEMPTS = 3
_UNAVAILABLE = (ConnectionError, RedisTimeoutError, TimeoutError, BusyLoadingError, OSError)
_T = TypeVar("_T")


class StoreUnavailable(Exception):
    """Redis could not be reached or did not answer in time (maps to 503)."""


class LockTimeout(Exception):
    """The family lease was not acquired within the bounded wait (maps to 503)."""


@dataclass(frozen=True, slots=True)
class RefreshResult:
    """What a refresh decided; ``sealed`` is the successor sealed under the presented token."""

    outcome: Outcome
    subject: str = ""
    scope: str = ""
    sealed: str = ""
    lock_wait_ms: float = 0.0
    fenced_out: int = 0


# Connections one server process keeps to Redis. Round trips beyond it wait for a slot (bounded
# by the Redis timeout, then 503) instead of failing at once as redis-py's plain pool does.
MAX_REDIS_CONNECTIONS = 256


class _HiredisPackedConnection(aioredis.Connection):
    """redis-py's asyncio connection, packing commands with hiredis like its sync twin.

    redis-py's synchronous ``Connection`` packs commands with hiredis when it is installed; the
    asyncio one always uses the pure-Python packer, which costs more per argument than the Lua
    script it sends takes to run. This reuses redis-py's own hiredis serializer.
    """

    _serializer = HiredisRespSerializer()

    def pack_command(self, *args: EncodableT) -> list[bytes]:
        # redis-py annotates ``pack(*args: List)`` although it takes the arguments themselves.
        packed: list[bytes] = self._serializer.pack(*args)  # type: ignore[arg-type]
        return packed


def connect(settings: Settings) -> aioredis.Redis:
    """A client with no retries (a refresh is not idempotent) and no per-read timeout.

    The store bounds each round trip as a whole (``TokenStore._round_trip``): one deadline per
    round trip costs less than redis-py's deadline on the send and on every read, and the slots
    it waits for keep the pool below ``MAX_REDIS_CONNECTIONS``.
    """
    pool = aioredis.ConnectionPool.from_url(
        settings.redis_url,
        connection_class=_HiredisPackedConnection,
        max_connections=MAX_REDIS_CONNECTIONS,
        decode_responses=True,
        socket_connect_timeout=settings.redis_timeout,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
    )
    return aioredis.Redis(connection_pool=pool)


def _keys(family_id: str) -> list[str]:
    tag = "{fam:" + family_id + "}"
    return [f"{tag}:state", f"{tag}:used", f"{tag}:succ"]


def _lock_key(family_id: str) -> str:
    return "{fam:" + family_id + "}:lock"


def _state(raw: dict[str, str]) -> FamilyState | None:
    if "gen" not in raw:
        return None
    return FamilyState(
        generation=int(raw["gen"]),
        current=raw.get("cur", ""),
        previous=raw.get("prev", ""),
        rotated_at_ms=int(raw.get("rot", "0")),
        revoked=raw.get("revoked") == "1",
        client_id=raw.get("client", ""),
        subject=raw.get("sub", ""),
        scope=raw.get("scope", ""),
    )


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class TokenStore:
    """Base: family creation, reads, plain writes and revocation-state checks (naive path).

    Subclasses override ``refresh`` and ``revoke`` to change only concurrency control.
    """

    strategy: Strategy = Strategy.NAIVE

    def __init__(self, client: aioredis.Redis, settings: Settings) -> None:
        self.redis = client
        self.settings = settings
        self._ttl_ms = settings.refresh_ttl * 1000
        self._revoked_ttl_ms = max(settings.refresh_ttl, settings.access_ttl) * 1000
        self._slots = asyncio.Semaphore(MAX_REDIS_CONNECTIONS)
        self._jwk_publish = client.register_script(scripts.JWK_PUBLISH)
        self._batch = AutoPipeline(client, self._round_trip)

    async def _round_trip(self, call: Awaitable[_T]) -> _T:
        """Await one Redis command or pipeline within the Redis timeout, slot wait included.

        A timeout cancels the call, and redis-py then drops the connection (a reply may still
        be in flight on it). Connection errors and timeouts become ``StoreUnavailable``.
        """
        try:
            async with asyncio.timeout(self.settings.redis_timeout):
                async with self._slots:
                    return await call
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc
        finally:
            if isinstance(call, Coroutine):  # not started if the deadline passed in the slot wait
                call.close()

    async def close(self) -> None:
        """Close the Redis connection pool."""
        # The client does not own a pool it was given: close both.
        await self.redis.aclose()
        await self.redis.connection_pool.disconnect()

    async def ping(self) -> bool:
        """True when Redis answers."""
        return bool(await self._round_trip(self.redis.ping()))

    async def publish_jwk(self, jwk: str, lifetime_ms: int) -> list[str]:
        """Add or renew ``jwk`` in the shared index for ``lifetime_ms``; returns the live JWKs."""
        args: list[EncodableT] = [jwk, _now_ms(), lifetime_ms]
        entries = await self._eval(self._jwk_publish, [JWKS_INDEX], args)
        return [str(entry) for entry in entries]

    async def live_jwks(self) -> list[str]:
        """The JWKs in the shared index that have not expired."""
        entries = await self._round_trip(self.redis.zrangebyscore(JWKS_INDEX, _now_ms(), "+inf"))
        return [str(entry) for entry in entries]

    async def create_family(self, *, subject: str, client_id: str, scope: str) -> tuple[str, str]:
        """Start a family for a login; returns (family id, first refresh token)."""
        family_id = new_family_id()
        token = new_refresh_token(family_id)
        state_key = _keys(family_id)[0]
        fields: dict[FieldT, EncodableT] = {
            "gen": "1",
            "cur": token_hash(token),
            "prev": "",
            "rot": "0",
            "revoked": "0",
            "client": client_id,
            "sub": subject,
            "scope": scope,
        }
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(state_key, mapping=fields)
            pipe.pexpire(state_key, self._ttl_ms)
            await self._round_trip(pipe.execute())
        return family_id, token

    async def family_active(self, family_id: str) -> bool:
        """True when the family exists and is not revoked (checked by the protected API)."""
        revoked: str | None = await self._batch.call("HGET", _keys(family_id)[0], "revoked")
        return revoked == "0"

    async def refresh(
        self, family_id: str, presented_token: str, new_token: str, client_id: str
    ) -> RefreshResult:
        """Decide and apply a refresh (naive: read, decide, write; racy by design)."""
        return await self._read_decide_write(family_id, presented_token, new_token, client_id)

    async def revoke(self, family_id: str, presented_hash: str | None, client_id: str) -> str:
        """Revoke the family of a token (RFC 7009); ``None`` revokes by family id."""
        return await self._read_decide_revoke(family_id, presented_hash, client_id)

    # -- building blocks -------------------------------------------------------------------

    async def _snapshot(
        self, family_id: str, presented: str, lease: tuple[str, str, int] | None = None
    ) -> tuple[Snapshot, str, bool]:
        """One round trip: state, membership, sealed successor (and optionally a lease try).

        Returns (snapshot, sealed successor or "", lease acquired).
        """
        state_key, used_key, succ_key = _keys(family_id)
        commands: list[Command] = [
            ("HGETALL", state_key),
            ("SISMEMBER", used_key, presented),
            ("GET", succ_key),
        ]
        if lease is not None:
            commands.insert(0, ("SET", lease[0], lease[1], "NX", "PX", lease[2]))
        replies = await self._batch.submit(commands)
        acquired = bool(replies.pop(0)) if lease is not None else True
        raw, known, sealed = replies
        snap = Snapshot(state=_state(raw), known=bool(known), has_successor=sealed is not None)
        return snap, str(sealed) if sealed is not None else "", acquired

    async def _eval(self, script: AsyncScript, keys: list[str], args: list[EncodableT]) -> Any:
        """Run a registered Lua script by its SHA, loading it first if Redis lost it."""
        command = ("EVALSHA", script.sha, len(keys), *keys, *args)
        try:
            return await self._batch.call(*command)
        except NoScriptError:  # Redis restarted or its script cache was flushed
            await self._round_trip(self.redis.script_load(script.script))
            return await self._batch.call(*command)

    def _decide(
        self, snap: Snapshot, presented: str, client_id: str
    ) -> tuple[Outcome, int, str, str]:
        """The policy's answer for ``snap`` now: (outcome, now in ms, subject, scope)."""
        now = _now_ms()
        outcome = decide_refresh(
            snap, presented, client_id=client_id, now_ms=now, grace_ms=self.settings.grace_ms
        )
        state = snap.state
        subject, scope = (state.subject, state.scope) if state else ("", "")
        return outcome, now, subject, scope

    async def _inject_delay(self) -> None:
        if self.settings.inject_delay_ms:
            await asyncio.sleep(self.settings.inject_delay_ms / 1000)

    async def _read_decide_write(
        self, family_id: str, presented_token: str, new_token: str, client_id: str
    ) -> RefreshResult:
        presented = token_hash(presented_token)
        snap, stored, _ = await self._snapshot(family_id, presented)
        outcome, now, subject, scope = self._decide(snap, presented, client_id)
        state = snap.state
        if outcome is Outcome.ROTATED and state is not None:
            await self._inject_delay()
            sealed = seal_successor(presented_token, new_token)
            await self._write_rotation(
                family_id, state.generation + 1, presented, token_hash(new_token), sealed, now
            )
            return RefreshResult(outcome, subject, scope, sealed)
        if outcome is Outcome.REPLAYED:
            return RefreshResult(outcome, subject, scope, stored)
        if outcome is Outcome.REUSE_DETECTED and state is not None:
            await self._inject_delay()
            await self._write_revocation(family_id, state.generation + 1)
        return RefreshResult(outcome, subject, scope)

    async def _write_rotation(
        self,
        family_id: str,
        generation: int,
        presented: str,
        new_hash: str,
        sealed: str,
        now_ms: int,
    ) -> None:
        state_key, used_key, succ_key = _keys(family_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                state_key,
                mapping={
                    "gen": str(generation),
                    "cur": new_hash,
                    "prev": presented,
                    "rot": str(now_ms),
                },
            )
            pipe.pexpire(state_key, self._ttl_ms)
            pipe.sadd(used_key, presented)
            pipe.pexpire(used_key, self._ttl_ms)
            if self.settings.grace_ms > 0:
                pipe.set(succ_key, sealed, px=self.settings.grace_ms)
            else:
                pipe.delete(succ_key)
            await self._round_trip(pipe.execute())

    async def _write_revocation(self, family_id: str, generation: int) -> None:
        state_key, used_key, succ_key = _keys(family_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(state_key, mapping={"revoked": "1", "gen": str(generation)})
            pipe.pexpire(state_key, self._revoked_ttl_ms)
            pipe.pexpire(used_key, self._revoked_ttl_ms)
            pipe.delete(succ_key)
            await self._round_trip(pipe.execute())

    async def _read_decide_revoke(
        self, family_id: str, presented: str | None, client_id: str
    ) -> str:
        snap, _, _ = await self._snapshot(family_id, presented or "")
        outcome = decide_revoke(snap, presented, client_id=client_id)
        if outcome is RevokeOutcome.REVOKED and snap.state is not None:
            await self._inject_delay()
            await self._write_revocation(family_id, snap.state.generation + 1)
        return outcome.value


class LocalLockStore(TokenStore):
    """The naive path under a per-family ``asyncio.Lock`` (one process only)."""

    strategy = Strategy.LOCAL_LOCK

    def __init__(self, client: aioredis.Redis, settings: Settings) -> None:
        super().__init__(client, settings)
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def _locked(self, family_id: str) -> AsyncIterator[float]:
        lock, users = self._locks.get(family_id, (asyncio.Lock(), 0))
        self._locks[family_id] = (lock, users + 1)
        started = time.perf_counter()
        try:
            async with lock:
                yield (time.perf_counter() - started) * 1000
        finally:
            lock, users = self._locks[family_id]
            if users <= 1:
                del self._locks[family_id]
            else:
                self._locks[family_id] = (lock, users - 1)

    async def refresh(
        self, family_id: str, presented_token: str, new_token: str, client_id: str
    ) -> RefreshResult:
        async with self._locked(family_id) as waited:
            result = await super().refresh(family_id, presented_token, new_token, client_id)
        return _with_wait(result, waited)

    async def revoke(self, family_id: str, presented_hash: str | None, client_id: str) -> str:
        async with self._locked(family_id):
            return await super().revoke(family_id, presented_hash, client_id)


def _with_wait(result: RefreshResult, waited_ms: float) -> RefreshResult:
    return dataclasses.replace(result, lock_wait_ms=waited_ms)


class _ScriptStore(TokenStore):
    """Registers the Lua scripts (EVALSHA, reloaded by redis-py on NOSCRIPT)."""

    def __init__(self, client: aioredis.Redis, settings: Settings) -> None:
        super().__init__(client, settings)
        self._refresh_script = client.register_script(scripts.REFRESH)
        self._revoke_script = client.register_script(scripts.REVOKE)
        self._commit_script = client.register_script(scripts.CAS_COMMIT)
        self._release_script = client.register_script(scripts.LEASE_RELEASE)

    async def _revoke_atomic(self, family_id: str, presented: str | None, client_id: str) -> str:
        args: list[EncodableT] = [presented or "", client_id, self._revoked_ttl_ms]
        return str(await self._eval(self._revoke_script, _keys(family_id), args))


class RedisLockStore(_ScriptStore):
    """Lease for single flight, fenced Lua compare-and-set for correctness."""

    strategy = Strategy.REDIS_LOCK

    async def _acquire(
        self, family_id: str, presented: str, value: str
    ) -> tuple[Snapshot, str, float]:
        """Take the lease and read the family in the same round trip; bounded wait.

        Returns (snapshot, sealed successor, ms waited). The read taken with a *failed* try is
        discarded: waiters re-read after acquiring, so the winner's commit serves their replay.
        """
        lease = (_lock_key(family_id), value, self.settings.lease_ms)
        started = time.perf_counter()
        deadline = started + self.settings.lock_wait_ms / 1000
        pause = 0.001
        while True:
            snap, sealed, acquired = await self._snapshot(family_id, presented, lease)
            if acquired:
                return snap, sealed, (time.perf_counter() - started) * 1000
            if time.perf_counter() >= deadline:
                raise LockTimeout(f"lease not acquired within {self.settings.lock_wait_ms} ms")
            await asyncio.sleep(pause * (0.5 + secrets.randbelow(1000) / 1000))
            pause = min(pause * 2, 0.02)

    async def _release(self, family_id: str, value: str) -> None:
        # A failed release is harmless: the lease expires on its own.
        with contextlib.suppress(StoreUnavailable):
            await self._eval(self._release_script, [_lock_key(family_id)], [value])

    async def refresh(
        self, family_id: str, presented_token: str, new_token: str, client_id: str
    ) -> RefreshResult:
        value = secrets.token_hex(16)
        snap, stored, waited = await self._acquire(family_id, token_hash(presented_token), value)
        released = False
        try:
            result, released = await self._fenced_refresh(
                family_id, presented_token, new_token, client_id, value, snap, stored
            )
        finally:
            if not released:
                await self._release(family_id, value)
        return _with_wait(result, waited)

    async def _fenced_refresh(
        self,
        family_id: str,
        presented_token: str,
        new_token: str,
        client_id: str,
        lease_value: str,
        snap: Snapshot,
        stored: str,
    ) -> tuple[RefreshResult, bool]:
        """Decide, then commit by generation compare-and-set; returns (result, lease released)."""
        presented = token_hash(presented_token)
        keys = [*_keys(family_id), _lock_key(family_id)]
        for attempt in range(_CAS_ATTEMPTS):
            if attempt:
                snap, stored, _ = await self._snapshot(family_id, presented)
            outcome, now, subject, scope = self._decide(snap, presented, client_id)
            state = snap.state
            if outcome is Outcome.REPLAYED:
                return RefreshResult(outcome, subject, scope, stored, fenced_out=attempt), False
            if outcome is Outcome.REUSE_DETECTED:
                await self._inject_delay()
                await self._revoke_atomic(family_id, None, client_id)
                return RefreshResult(outcome, subject, scope, fenced_out=attempt), False
            if outcome is not Outcome.ROTATED or state is None:
                return RefreshResult(outcome, subject, scope, fenced_out=attempt), False
            await self._inject_delay()
            sealed = seal_successor(presented_token, new_token)
            args: list[EncodableT] = [
                str(state.generation),
                presented,
                token_hash(new_token),
                sealed,
                now,
                self.settings.grace_ms,
                self._ttl_ms,
                lease_value,
            ]
            if await self._eval(self._commit_script, keys, args):
                result = RefreshResult(outcome, subject, scope, sealed, fenced_out=attempt)
                return result, True
            # Fenced out: someone committed since our read (our lease expired). Decide again.
        raise StoreUnavailable(f"compare-and-set lost {_CAS_ATTEMPTS} times in a row")

    async def revoke(self, family_id: str, presented_hash: str | None, client_id: str) -> str:
        value = secrets.token_hex(16)
        await self._acquire(family_id, presented_hash or "", value)
        try:
            return await self._revoke_atomic(family_id, presented_hash, client_id)
        finally:
            await self._release(family_id, value)


class AtomicStore(_ScriptStore):
    """One Lua script per refresh or revocation: decision and commit in one round trip."""

    strategy = Strategy.ATOMIC

    async def refresh(
        self, family_id: str, presented_token: str, new_token: str, client_id: str
    ) -> RefreshResult:
        presented = token_hash(presented_token)
        sealed = seal_successor(presented_token, new_token)
        args: list[EncodableT] = [
            presented,
            token_hash(new_token),
            sealed,
            _now_ms(),
            self.settings.grace_ms,
            self._ttl_ms,
            client_id,
            self._revoked_ttl_ms,
        ]
        reply = await self._eval(self._refresh_script, _keys(family_id), args)
        outcome = Outcome(str(reply[0]))
        subject, scope = str(reply[1]), str(reply[2])
        if outcome is Outcome.ROTATED:
            return RefreshResult(outcome, subject, scope, sealed)
        if outcome is Outcome.REPLAYED:
            return RefreshResult(outcome, subject, scope, str(reply[4]))
        return RefreshResult(outcome, subject, scope)

    async def revoke(self, family_id: str, presented_hash: str | None, client_id: str) -> str:
        return await self._revoke_atomic(family_id, presented_hash, client_id)


_STORES: dict[Strategy, Callable[[aioredis.Redis, Settings], TokenStore]] = {
    Strategy.NAIVE: TokenStore,
    Strategy.LOCAL_LOCK: LocalLockStore,
    Strategy.REDIS_LOCK: RedisLockStore,
    Strategy.ATOMIC: AtomicStore,
}


def create_store(settings: Settings) -> TokenStore:
    """The store for ``settings.strategy`` on a fresh Redis client."""
    return _STORES[settings.strategy](connect(settings), settings)
