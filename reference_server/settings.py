"""Configuration of the reference server, shared by the CLI and every worker process.

Why this module exists: granian starts the app in worker processes through a factory, so the
options parsed by the CLI travel to the workers as environment variables. ``Settings`` is the
single frozen record of those options; ``to_env``/``from_env`` are its only transport.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum

__all__ = ["ENV_PREFIX", "Settings", "SettingsError", "Strategy"]

ENV_PREFIX = "AUTH_REF_"


class Strategy(StrEnum):
    """Concurrency control used for refresh and revocation (semantics are identical)."""

    NAIVE = "naive"
    LOCAL_LOCK = "local-lock"
    REDIS_LOCK = "redis-lock"
    ATOMIC = "atomic"


class SettingsError(ValueError):
    """An option is missing or out of range."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Every option of one server instance (all workers share it).

    ``grace`` is the idempotent-replay window in seconds (0 = strict single use);
    ``tolerance`` is how long after a successor's delivery its predecessor is still refused
    without revoking the family, because a request's arrival stamp lags its bytes (``rotation``
    explains why);
    ``inject_delay_ms`` is a test-only fault: a sleep between the decision read and the commit;
    ``inject_unpublished_key`` is another: sign with a key that never goes into the JWKS index;
    ``body_timeout`` bounds the time to receive a request body; ``max_concurrent_requests`` is
    the number of requests one worker takes at once (granian's backpressure), a quarter of
    which may be waiting for their bodies; ``redis_cluster`` selects the Redis Cluster client.
    """

    redis_url: str
    strategy: Strategy = Strategy.ATOMIC
    grace: float = 2.0
    tolerance: float = 1.0
    access_ttl: int = 300
    refresh_ttl: int = 86400
    issuer: str = "http://127.0.0.1:8000"
    audience: str = "auth-stress-api"
    inject_delay_ms: int = 0
    inject_unpublished_key: bool = False
    lease_ms: int = 2000
    lock_wait_ms: int = 2000
    max_body_bytes: int = 8192
    signing_key_path: str = ""
    log_level: str = "info"
    redis_timeout: float = 1.0
    redis_cluster: bool = False
    body_timeout: float = 5.0
    max_concurrent_requests: int = 1024

    def __post_init__(self) -> None:
        if not self.redis_url:
            raise SettingsError("redis_url is required")
        if self.grace < 0:
            raise SettingsError("grace must be >= 0")
        if self.tolerance < 0:
            raise SettingsError("tolerance must be >= 0")
        if self.access_ttl < 1 or self.refresh_ttl < 1:
            raise SettingsError("access_ttl and refresh_ttl must be >= 1 second")
        if self.inject_delay_ms < 0:
            raise SettingsError("inject_delay_ms must be >= 0")
        if self.lease_ms < 1 or self.lock_wait_ms < 1:
            raise SettingsError("lease_ms and lock_wait_ms must be >= 1")
        if self.grace >= self.refresh_ttl:
            raise SettingsError("grace must be shorter than refresh_ttl")
        if self.tolerance >= self.refresh_ttl:
            raise SettingsError("tolerance must be shorter than refresh_ttl")
        if self.body_timeout <= 0:
            raise SettingsError("body_timeout must be > 0")
        if self.max_concurrent_requests < 4:
            raise SettingsError("max_concurrent_requests must be >= 4")

    @property
    def grace_ms(self) -> int:
        """The grace window in whole milliseconds."""
        return round(self.grace * 1000)

    @property
    def tolerance_ms(self) -> int:
        """The rejection tolerance in whole milliseconds."""
        return round(self.tolerance * 1000)

    def to_env(self) -> dict[str, str]:
        """Encode as environment variables for worker processes."""
        return {ENV_PREFIX + f.name.upper(): str(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Decode from environment variables written by ``to_env``."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is None:
                continue
            if f.name == "strategy":
                values[f.name] = Strategy(raw)
            elif f.type == "float":
                values[f.name] = float(raw)
            elif f.type == "int":
                values[f.name] = int(raw)
            elif f.type == "bool":
                values[f.name] = raw == "True"
            else:
                values[f.name] = raw
        if "redis_url" not in values:
            values["redis_url"] = env.get("REDIS_URL", "")
        return cls(**values)  # type: ignore[arg-type]
