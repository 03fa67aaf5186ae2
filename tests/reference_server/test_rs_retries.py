"""Every script is safe to run twice: the link retries a command once after a connection error,
and the first run may have taken effect with only its reply lost. Run against a real Redis with
every script sent twice, a refresh still rotates once and the family stays alive, strict or not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from redis.typing import EncodableT

from reference_server.redis_link import RedisLink, Script, now_ms
from reference_server.rotation import Outcome, RevokeOutcome
from reference_server.settings import Settings, Strategy
from reference_server.strategies import create_store

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class EveryScriptTwice(RedisLink):
    """A link whose every script runs twice, as after a reply lost and the command retried."""

    async def run(self, script: Script, keys: Sequence[str], args: Sequence[EncodableT]) -> Any:
        await super().run(script, keys, args)
        return await super().run(script, keys, args)


@pytest.mark.parametrize("grace", [0.0, 2.0])
@pytest.mark.parametrize("strategy", list(Strategy))
async def test_a_refresh_whose_scripts_run_twice_rotates_once(
    redis_url: str, strategy: Strategy, grace: float
) -> None:
    settings = Settings(redis_url=redis_url, strategy=strategy, grace=grace)
    link = EveryScriptTwice(settings)
    store = create_store(settings, link)
    try:
        family, token = await store.create_family(subject="u", client_id="c", scope="api")
        for _ in range(3):
            result = await store.refresh(family, token, "c", now_ms())
            assert result.outcome is Outcome.ROTATED, result
            token = result.successor
        assert await store.family_active(family)
        # Run twice, a revocation finds the family revoked by its first run: 200 all the same.
        revoked = await store.revoke(family, None, "c")
        assert revoked in (RevokeOutcome.REVOKED, RevokeOutcome.ALREADY_REVOKED)
        assert not await store.family_active(family)
    finally:
        await link.close()
