"""The runner in-process, against a scripted token endpoint (no sockets, no servers)."""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import parse_qs

import anyio
import anyio.lowlevel
import pytest

from stress.claims import ClaimReader
from stress.drive import Driver
from stress.history import Header, History, Operation
from stress.scenario import parse_scenario
from stress.target import Endpoints, TargetProfile
from stress.wire import ScriptedWire, WireRequest, WireResponse

BASE = "http://127.0.0.1:9/"


def scenario(steps: list[dict[str, Any]], **run: Any) -> Any:
    return parse_scenario(
        {
            "name": "scripted",
            "target": {"kind": "oauth2", "token_endpoint": "/token", "client_id": "c"},
            "auth": {"password": "pw"},
            "policy": {"kind": "strict"},
            "run": {"probe_at_end": False, **run},
            "steps": [{"op": "login"}, *steps],
        },
        "scripted",
    )


class TokenEndpoint:
    """A strict token endpoint; ``busy`` answers the first n refreshes with 503 Retry-After."""

    def __init__(self, busy: int = 0, retry_after: str = "0") -> None:
        self.busy = busy
        self.retry_after = retry_after
        self.current: set[str] = set()

    def _pair(self) -> WireResponse:
        token = secrets.token_urlsafe(8)
        self.current.add(token)
        body = {"access_token": "at-" + token, "refresh_token": token, "token_type": "Bearer"}
        return WireResponse(200, (), json.dumps(body).encode(), "1.1")

    async def __call__(self, request: WireRequest) -> WireResponse:
        await anyio.lowlevel.checkpoint()
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if form["grant_type"] == "password":
            return self._pair()
        if self.busy:
            self.busy -= 1
            headers = (("retry-after", self.retry_after),)
            return WireResponse(503, headers, b'{"error":"temporarily_unavailable"}', "1.1")
        if form["refresh_token"] not in self.current:
            return WireResponse(400, (), b'{"error":"invalid_grant"}', "1.1")
        self.current.discard(form["refresh_token"])
        return self._pair()


def drive(steps: list[dict[str, Any]], endpoint: TokenEndpoint, **run: Any) -> list[Operation]:
    loaded = scenario(steps, **run)
    history = History(
        Header(scenario="s", policy=loaded.policy.model(), targets=[BASE], seed=0, started_unix=0)
    )
    profile = TargetProfile(loaded.target, Endpoints("/token", None, None, None))
    driver = Driver(loaded, profile, [BASE], ScriptedWire(endpoint), history, ClaimReader())
    anyio.run(driver.run)
    return history.operations()


def test_a_refresh_told_to_retry_later_is_retried_with_the_same_token() -> None:
    ops = drive([{"op": "refresh"}, {"op": "probe"}], TokenEndpoint(busy=1))
    _login, told, retry, probe = ops
    assert (told.status, told.retry_after, told.outcome) == (503, 0.0, "info")
    assert retry.invoke.retry_of == told.index
    assert (retry.presented, retry.invoke.step, retry.outcome) == (
        told.presented,
        "retry-after",
        "ok",
    )
    assert retry.process != told.process  # an indeterminate op retires its process (Jepsen)
    assert probe.presented == retry.returned  # the retry's successor was adopted
    assert [o.phase for o in ops] == ["step", "burst", "burst", "step"]


def test_retries_are_bounded() -> None:
    ops = drive([{"op": "refresh"}], TokenEndpoint(busy=10), max_retries=2)
    assert [o.status for o in ops[1:]] == [503, 503, 503]


@pytest.mark.parametrize("wait", ["30", "soon"])
def test_a_wait_too_long_or_unreadable_is_not_honoured(wait: str) -> None:
    ops = drive([{"op": "refresh"}], TokenEndpoint(busy=1, retry_after=wait))
    assert [o.status for o in ops[1:]] == [503]


def test_every_tab_of_a_burst_told_to_wait_retries() -> None:
    endpoint = TokenEndpoint(busy=3)
    ops = drive([{"op": "refresh", "parallel": 3}], endpoint)
    retries = [o for o in ops if o.invoke.retry_of is not None]
    assert len(retries) == 3
    assert sorted(o.outcome for o in retries) == ["fail", "fail", "ok"]  # strict: one winner
