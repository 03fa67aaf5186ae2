"""The runner in-process, against a scripted token endpoint (no sockets, no servers)."""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import parse_qs

import anyio
import anyio.lowlevel
import msgspec
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
        if request.url.endswith("/revoke"):
            self.current.discard(form["token"])
            return WireResponse(200, (), b"", "1.1")
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
    profile = TargetProfile(loaded.target, Endpoints("/token", "/revoke", None, None))
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


class Rotating(TokenEndpoint):
    """Every refresh of the current token succeeds with its own successor (an overlap-like
    server), each answer a little later than the one before, so the order of landing is known."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def __call__(self, request: WireRequest) -> WireResponse:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if form.get("grant_type") == "refresh_token":
            self.calls += 1
            await anyio.sleep(0.002 * self.calls)  # the n-th caller lands n-th
            return self._pair()
        return await super().__call__(request)


def _refresh_step(profile: str, **fields: Any) -> list[Operation]:
    return drive([{"op": "refresh", "profile": profile, **fields}, {"op": "probe"}], Rotating())


@pytest.mark.parametrize(("profile", "kept"), [("naive-parallel", 0), ("multi-tab", -1),
                                               ("server-fan-out", -1)])  # fmt: skip
def test_each_profile_keeps_the_answer_its_client_would(profile: str, kept: int) -> None:
    ops = _refresh_step(profile, parallel=3)
    burst = sorted((o for o in ops if o.burst is not None), key=lambda o: o.recv_ns or 0)
    assert len(burst) == 3
    [probe] = [o for o in ops if o.kind == "probe"]
    assert probe.presented == burst[kept].returned  # the token the client stored


def test_single_flight_sends_one_request_per_tab() -> None:
    ops = _refresh_step("single-flight", parallel=6, tabs=2)
    assert len([o for o in ops if o.burst is not None]) == 2


def test_lost_response_retry_discards_an_answer_then_retries_the_same_token() -> None:
    ops = drive([{"op": "refresh", "profile": "lost-response-retry"}], TokenEndpoint())
    _, lost, retry = ops
    assert (lost.outcome, lost.returned, lost.error) == ("info", None, "response-lost")
    assert (retry.invoke.retry_of, retry.presented) == (lost.index, lost.presented)
    assert retry.outcome == "fail"  # a strict endpoint: the lost answer consumed the token


def test_a_revoke_races_the_burst_as_one_more_request() -> None:
    ops = drive([{"op": "refresh", "parallel": 2, "revoke": True}], TokenEndpoint())
    assert sorted(o.kind for o in ops if o.burst is not None) == ["refresh", "refresh", "revoke"]


class AssertionChecking(TokenEndpoint):
    """As :class:`TokenEndpoint`, refusing a client assertion it has seen (RFC 7523 section 3),
    as Keycloak and Okta refuse one: a retry that resent the same bytes would be refused."""

    def __init__(self, busy: int = 0) -> None:
        super().__init__(busy=busy)
        self.seen: set[str] = set()

    async def __call__(self, request: WireRequest) -> WireResponse:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        assertion = form.get("client_assertion", "")
        if not assertion or assertion in self.seen:
            return WireResponse(401, (), b'{"error":"invalid_client"}', "1.1")
        self.seen.add(assertion)
        return await super().__call__(request)


@pytest.mark.parametrize(
    ("steps", "busy"),
    [([{"op": "refresh"}], 1), ([{"op": "refresh", "profile": "lost-response-retry"}], 0)],
)
def test_a_resent_request_carries_a_new_client_assertion(
    monkeypatch: pytest.MonkeyPatch, steps: list[dict[str, Any]], busy: int
) -> None:
    monkeypatch.setenv("CLIENT_SECRET", "s3cret-of-32-bytes-or-more-for-hs256")
    loaded = scenario(steps)
    target = msgspec.structs.replace(
        loaded.target, client_auth="client_secret_jwt", client_secret_env="CLIENT_SECRET"
    )
    loaded = msgspec.structs.replace(loaded, target=target)
    history = History(
        Header(scenario="s", policy=loaded.policy.model(), targets=[BASE], seed=0, started_unix=0)
    )
    profile = TargetProfile(loaded.target, Endpoints("/token", "/revoke", None, None))
    endpoint = AssertionChecking(busy=busy)
    anyio.run(Driver(loaded, profile, [BASE], ScriptedWire(endpoint), history, ClaimReader()).run)
    _login, first, retry = history.operations()
    assert retry.invoke.retry_of == first.index
    assert retry.status != 401, retry.error  # not refused as a replayed assertion
    assert len(endpoint.seen) == 3
