"""The OAuth behaviour targets themselves, over real HTTP: each does what its real servers do.

No tester code: httpx for sequential steps, and last-byte-synchronised raw-socket bursts
(support.burst) for concurrent ones, so that the 8 requests of a burst reach the server within
a millisecond or so. Outcomes asserted on a burst follow from the row lock alone, or, where they
depend on the requests overlapping (strict-same-pair, last-write-wins), the target runs with a
database round trip (``SLOW_DB``) hundreds of times longer than a burst's spread.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from support.burst import BurstClient, RawResponse, form_post
from support.oauth import me, refresh, revoke
from support.targets import ROOT, TargetSpec

pytestmark = pytest.mark.integration

GRACE = 0.6  # the window of the grace behaviours here; in-window steps take milliseconds
AFTER_GRACE = GRACE + 0.2
SLOW_DB = 0.25
BURST = 8

STRICT = TargetSpec("strict-revoke-family")
SAME_PAIR = TargetSpec("strict-same-pair", db_latency=SLOW_DB)
IDEMPOTENT = TargetSpec("idempotent", grace=GRACE)
IDEMPOTENT_USER = TargetSpec("idempotent", grace=GRACE, reuse_revokes="user")
IDEMPOTENT_NOTHING = TargetSpec("idempotent", grace=GRACE, reuse_revokes="nothing")
OVERLAP = TargetSpec("overlap", grace=GRACE)
ACCESS_ONLY = TargetSpec("access-only", grace=GRACE)
GENERATIONS = TargetSpec("generations", grace=GRACE, generations=2)
LAST_WRITE = TargetSpec("last-write-wins", db_latency=SLOW_DB)
REVOKE_ACCESS = TargetSpec("revoke-access-on-refresh", grace=GRACE)
REISSUE = TargetSpec("reissue")
EVERY = [
    STRICT,
    SAME_PAIR,
    IDEMPOTENT,
    OVERLAP,
    ACCESS_ONLY,
    GENERATIONS,
    LAST_WRITE,
    REVOKE_ACCESS,
    REISSUE,
]

_users = itertools.count(100)


def on(*specs: TargetSpec) -> pytest.MarkDecorator:
    """Run the test against each of ``specs`` (one shared process per spec)."""
    return pytest.mark.parametrize("oauth_target", specs, indirect=True, ids=[s.id for s in specs])


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


def login(http: httpx.Client, url: str, user: str | None = None) -> dict[str, Any]:
    """A fresh family (for a fresh user unless ``user`` is given)."""
    data = {"grant_type": "password", "username": user or f"user{next(_users)}"}
    resp = http.post(f"{url}/oauth/token", data={**data, "password": "password"})
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def rotate(http: httpx.Client, url: str, token: str) -> dict[str, Any]:
    """A refresh that must succeed with a new pair."""
    resp = refresh(http, url, token)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    assert body["refresh_token"] != token
    return body


def rejected(http: httpx.Client, url: str, token: str) -> bool:
    resp = refresh(http, url, token)
    if resp.status_code == 200:
        return False
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"] == "invalid_grant"
    return True


def access_works(http: httpx.Client, url: str, access_token: str) -> bool:
    status = me(http, url, access_token).status_code
    assert status in (200, 401)
    return status == 200


def burst(url: str, token: str) -> list[RawResponse]:
    """``BURST`` refreshes of ``token``, their last bytes sent together."""
    port = urlsplit(url).port
    assert port is not None
    fields = {"grant_type": "refresh_token", "refresh_token": token, "client_id": "demo-client"}
    with BurstClient([("127.0.0.1", port)], size=BURST) as client:
        replies = client.burst([form_post("/oauth/token", fields)] * BURST)
    assert len(replies) == BURST
    return replies


def pairs(replies: list[RawResponse]) -> set[tuple[str | None, str]]:
    """The distinct (refresh, access) pairs of the 200 replies."""
    return {(r.json().get("refresh_token"), r.json()["access_token"]) for r in ok(replies)}


def ok(replies: list[RawResponse]) -> list[RawResponse]:
    return [r for r in replies if r.status == 200]


# The common surface, on every behaviour.


@on(*EVERY)
def test_refresh_rotates_and_the_new_access_token_works(
    http: httpx.Client, oauth_target: str
) -> None:
    first = login(http, oauth_target)
    resp = refresh(http, oauth_target, first["refresh_token"])
    assert resp.status_code == 200
    assert resp.headers["cache-control"] == "no-store"
    second = resp.json()
    assert set(second) == {"access_token", "token_type", "expires_in", "refresh_token", "scope"}
    assert second["token_type"] == "Bearer"
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    reply = me(http, oauth_target, second["access_token"])
    assert reply.status_code == 200
    assert reply.json()["sub"].startswith("user")


@on(*EVERY)
def test_revocation_kills_every_token_of_the_family(http: httpx.Client, oauth_target: str) -> None:
    first = login(http, oauth_target)
    second = rotate(http, oauth_target, first["refresh_token"])
    other = login(http, oauth_target)
    assert revoke(http, oauth_target, second["refresh_token"]).status_code == 200
    assert rejected(http, oauth_target, second["refresh_token"])
    assert not access_works(http, oauth_target, second["access_token"])
    assert not access_works(http, oauth_target, first["access_token"])
    assert access_works(http, oauth_target, other["access_token"])
    # By access token, and of a token nobody issued: 200 all the same (RFC 7009 §2.2).
    assert revoke(http, oauth_target, other["access_token"]).status_code == 200
    assert rejected(http, oauth_target, other["refresh_token"])
    assert revoke(http, oauth_target, "no-such-token").status_code == 200


@on(STRICT)
def test_metadata_publishes_no_refresh_policy(http: httpx.Client, oauth_target: str) -> None:
    meta = http.get(f"{oauth_target}/.well-known/oauth-authorization-server").json()
    assert meta["token_endpoint"] == f"{oauth_target}/oauth/token"
    assert meta["revocation_endpoint"] == f"{oauth_target}/oauth/revoke"
    assert set(meta) == {
        "issuer",
        "token_endpoint",
        "revocation_endpoint",
        "grant_types_supported",
        "token_endpoint_auth_methods_supported",
        "revocation_endpoint_auth_methods_supported",
        "scopes_supported",
    }


@on(STRICT)
@pytest.mark.parametrize(
    ("data", "status", "error"),
    [
        ({"grant_type": "password", "username": "user1", "password": "nope"}, 400, "invalid_grant"),
        ({"grant_type": "password", "username": "user10000", "password": "password"}, 400,
         "invalid_grant"),
        ({"grant_type": "password", "username": "user1"}, 400, "invalid_request"),
        ({"grant_type": "password", "username": "user1", "password": "password",
          "scope": "admin"}, 400, "invalid_scope"),
        ({"grant_type": "refresh_token"}, 400, "invalid_request"),
        ({"grant_type": "refresh_token", "refresh_token": "forged"}, 400, "invalid_grant"),
        ({"grant_type": "client_credentials"}, 400, "unsupported_grant_type"),
        ({}, 400, "invalid_request"),
        ({"grant_type": "password", "client_id": "someone-else"}, 401, "invalid_client"),
        ("grant_type=password&grant_type=refresh_token", 400, "invalid_request"),
        ("not a form", 400, "invalid_request"),
        (b"grant_type=\xff", 400, "invalid_request"),
    ],
)  # fmt: skip
def test_bad_token_requests_get_rfc6749_errors(
    http: httpx.Client, oauth_target: str, data: Any, status: int, error: str
) -> None:
    form = "application/x-www-form-urlencoded"
    if isinstance(data, dict):
        resp = http.post(f"{oauth_target}/oauth/token", data=data)
    else:
        content = data if isinstance(data, bytes) else data.encode()
        resp = http.post(
            f"{oauth_target}/oauth/token", content=content, headers={"content-type": form}
        )
    assert resp.status_code == status, resp.text
    assert resp.json()["error"] == error
    assert resp.headers["cache-control"] == "no-store"


@on(STRICT)
def test_protocol_edges(http: httpx.Client, oauth_target: str) -> None:
    token = f"{oauth_target}/oauth/token"
    assert http.post(token, json={"grant_type": "password"}).json()["error"] == "invalid_request"
    assert http.get(f"{oauth_target}/api/me").status_code == 401
    assert me(http, oauth_target, "forged").status_code == 401
    assert http.post(f"{oauth_target}/oauth/revoke", data={}).json()["error"] == "invalid_request"
    session = login(http, oauth_target)
    # A refresh keeps the grant's scope; asking for another one is refused, not coerced.
    resp = refresh(http, oauth_target, session["refresh_token"], scope="profile")
    assert resp.json()["error"] == "invalid_scope"
    assert http.get(f"{oauth_target}/healthz").status_code == 200


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--behaviour", "nope", "--port", "1"], "invalid choice"),
        (["--behaviour", "strict-revoke-family", "--port", "1", "--grace", "1"],
         "--grace does not apply to strict-revoke-family"),
        (["--behaviour", "overlap", "--port", "1", "--generations", "3"],
         "--generations does not apply to overlap"),
        (["--behaviour", "idempotent", "--port", "1", "--grace", "-1"], "must be >= 0"),
        (["--behaviour", "generations", "--port", "1", "--generations", "0"], "must be >= 1"),
    ],
)  # fmt: skip
def test_cli_rejects_bad_options(argv: list[str], message: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tests.targets.oauth_behaviours", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


# The strict ones: strict-revoke-family and strict-same-pair.


@on(STRICT, SAME_PAIR)
def test_sequential_replay_revokes_the_family(http: httpx.Client, oauth_target: str) -> None:
    first = login(http, oauth_target)
    second = rotate(http, oauth_target, first["refresh_token"])
    assert rejected(http, oauth_target, first["refresh_token"])
    assert rejected(http, oauth_target, second["refresh_token"])
    assert not access_works(http, oauth_target, second["access_token"])


@on(STRICT)
def test_strict_burst_logs_the_user_out(http: httpx.Client, oauth_target: str) -> None:
    replies = burst(oauth_target, login(http, oauth_target)["refresh_token"])
    [winner] = ok(replies)
    assert [r.json()["error"] for r in replies if r.status != 200] == ["invalid_grant"] * 7
    assert rejected(http, oauth_target, winner.json()["refresh_token"])
    assert not access_works(http, oauth_target, winner.json()["access_token"])


# The grace ones: a replay inside the window, and after it.


@on(IDEMPOTENT, OVERLAP, ACCESS_ONLY, GENERATIONS, REVOKE_ACCESS)
def test_replay_after_window_revokes_the_family(http: httpx.Client, oauth_target: str) -> None:
    first = login(http, oauth_target)
    second = rotate(http, oauth_target, first["refresh_token"])
    time.sleep(AFTER_GRACE)
    assert rejected(http, oauth_target, first["refresh_token"])
    assert rejected(http, oauth_target, second["refresh_token"])
    assert not access_works(http, oauth_target, second["access_token"])


@on(IDEMPOTENT)
def test_idempotent_replay_in_window_gets_the_same_pair(
    http: httpx.Client, oauth_target: str
) -> None:
    first = login(http, oauth_target)
    second = rotate(http, oauth_target, first["refresh_token"])
    assert refresh(http, oauth_target, first["refresh_token"]).json() == second
    # Only the immediate predecessor: once its successor has rotated, it is reuse.
    third = rotate(http, oauth_target, second["refresh_token"])
    assert rejected(http, oauth_target, first["refresh_token"])
    assert rejected(http, oauth_target, third["refresh_token"])


@on(SAME_PAIR, IDEMPOTENT, GENERATIONS, REVOKE_ACCESS)
def test_burst_shares_one_pair_and_the_family_lives(http: httpx.Client, oauth_target: str) -> None:
    replies = burst(oauth_target, login(http, oauth_target)["refresh_token"])
    assert len(ok(replies)) == BURST
    [(refresh_token, access_token)] = pairs(replies)
    assert access_works(http, oauth_target, access_token)
    rotate(http, oauth_target, refresh_token or "")


@on(IDEMPOTENT_USER)
def test_reuse_can_revoke_every_family_of_the_user(http: httpx.Client, oauth_target: str) -> None:
    user = f"user{next(_users)}"
    first, elsewhere, stranger = (login(http, oauth_target, u) for u in (user, user, None))
    rotate(http, oauth_target, first["refresh_token"])
    time.sleep(AFTER_GRACE)
    assert rejected(http, oauth_target, first["refresh_token"])
    assert rejected(http, oauth_target, elsewhere["refresh_token"])
    assert not access_works(http, oauth_target, elsewhere["access_token"])
    rotate(http, oauth_target, stranger["refresh_token"])


@on(IDEMPOTENT_NOTHING)
def test_reuse_can_revoke_nothing(http: httpx.Client, oauth_target: str) -> None:
    first = login(http, oauth_target)
    second = rotate(http, oauth_target, first["refresh_token"])
    time.sleep(AFTER_GRACE)
    assert rejected(http, oauth_target, first["refresh_token"])
    assert access_works(http, oauth_target, second["access_token"])
    rotate(http, oauth_target, second["refresh_token"])


# overlap


@on(OVERLAP)
def test_overlap_replay_in_window_mints_a_sibling(http: httpx.Client, oauth_target: str) -> None:
    first = login(http, oauth_target)
    second = rotate(http, oauth_target, first["refresh_token"])
    sibling = rotate(http, oauth_target, first["refresh_token"])
    assert sibling["refresh_token"] != second["refresh_token"]
    assert sibling["access_token"] != second["access_token"]
    assert access_works(http, oauth_target, second["access_token"])
    assert access_works(http, oauth_target, sibling["access_token"])
    # Refreshing the sibling advances the family and retires the other one, whose use is reuse.
    third = rotate(http, oauth_target, sibling["refresh_token"])
    assert rejected(http, oauth_target, second["refresh_token"])
    assert rejected(http, oauth_target, third["refresh_token"])


@on(OVERLAP)
def test_overlap_grandparent_in_window_is_reuse(http: httpx.Client, oauth_target: str) -> None:
    first = login(http, oauth_target)
    second = rotate(http, oauth_target, first["refresh_token"])
    third = rotate(http, oauth_target, second["refresh_token"])
    assert rejected(http, oauth_target, first["refresh_token"])
    assert rejected(http, oauth_target, third["refresh_token"])


@on(OVERLAP)
def test_overlap_burst_gives_distinct_live_pairs(http: httpx.Client, oauth_target: str) -> None:
    replies = burst(oauth_target, login(http, oauth_target)["refresh_token"])
    assert len(ok(replies)) == BURST
    minted = pairs(replies)
    assert len(minted) == BURST
    assert len({access for _, access in minted}) == BURST
    assert all(access_works(http, oauth_target, access) for _, access in minted)
    (one, _), (other, _) = sorted(minted, key=str)[:2]
    rotate(http, oauth_target, one or "")
    assert rejected(http, oauth_target, other or "")  # a retired sibling: reuse


# reissue


@on(REISSUE)
def test_reissue_keeps_every_refresh_token_valid(http: httpx.Client, oauth_target: str) -> None:
    first = login(http, oauth_target)
    second = rotate(http, oauth_target, first["refresh_token"])
    third = rotate(http, oauth_target, second["refresh_token"])
    # The login's token, two refreshes back, still refreshes, and doing so retires nothing.
    again = rotate(http, oauth_target, first["refresh_token"])
    assert again["refresh_token"] not in (second["refresh_token"], third["refresh_token"])
    for token in (first, second, third, again):
        rotate(http, oauth_target, token["refresh_token"])
        assert access_works(http, oauth_target, token["access_token"])


@on(REISSUE)
def test_reissue_burst_gives_distinct_pairs_and_retires_nothing(
    http: httpx.Client, oauth_target: str
) -> None:
    token = login(http, oauth_target)["refresh_token"]
    minted = pairs(burst(oauth_target, token))
    assert len(minted) == BURST
    for refresh_token, _ in minted:
        rotate(http, oauth_target, refresh_token or "")
    rotate(http, oauth_target, token)


# access-only


@on(ACCESS_ONLY)
def test_access_only_replay_in_window(http: httpx.Client, oauth_target: str) -> None:
    first = login(http, oauth_target)
    second = rotate(http, oauth_target, first["refresh_token"])
    resp = refresh(http, oauth_target, first["refresh_token"])
    assert resp.status_code == 200
    replay = resp.json()
    assert "refresh_token" not in replay
    assert replay["access_token"] not in (first["access_token"], second["access_token"])
    assert access_works(http, oauth_target, replay["access_token"])
    rotate(http, oauth_target, second["refresh_token"])


@on(ACCESS_ONLY)
def test_access_only_burst(http: httpx.Client, oauth_target: str) -> None:
    replies = burst(oauth_target, login(http, oauth_target)["refresh_token"])
    assert len(ok(replies)) == BURST
    minted = pairs(replies)
    [winner] = [refresh_token for refresh_token, _ in minted if refresh_token is not None]
    assert len({access for _, access in minted}) == BURST
    rotate(http, oauth_target, winner)


# generations


@on(GENERATIONS)
def test_generations_back_get_the_head_pair(http: httpx.Client, oauth_target: str) -> None:
    chain = [login(http, oauth_target)]
    for _ in range(3):
        chain.append(rotate(http, oauth_target, chain[-1]["refresh_token"]))
    head = chain[-1]
    assert refresh(http, oauth_target, chain[2]["refresh_token"]).json() == head  # 1 back
    assert refresh(http, oauth_target, chain[1]["refresh_token"]).json() == head  # 2 back
    assert rejected(http, oauth_target, chain[0]["refresh_token"])  # 3 back: reuse
    assert rejected(http, oauth_target, head["refresh_token"])


# last-write-wins


@on(LAST_WRITE)
def test_last_write_wins_rejects_an_old_token_without_revoking(
    http: httpx.Client, oauth_target: str
) -> None:
    first = login(http, oauth_target)
    second = rotate(http, oauth_target, first["refresh_token"])
    assert rejected(http, oauth_target, first["refresh_token"])
    rotate(http, oauth_target, second["refresh_token"])


@on(LAST_WRITE)
def test_last_write_wins_burst_leaves_dead_successors(
    http: httpx.Client, oauth_target: str
) -> None:
    replies = burst(oauth_target, login(http, oauth_target)["refresh_token"])
    assert len(ok(replies)) == BURST
    successors = [refresh_token or "" for refresh_token, _ in pairs(replies)]
    assert len(successors) == BURST
    alive = [token for token in successors if not rejected(http, oauth_target, token)]
    assert len(alive) == 1


# revoke-access-on-refresh


@on(REVOKE_ACCESS)
def test_rotation_revokes_the_presented_tokens_access_token(
    http: httpx.Client, oauth_target: str
) -> None:
    first = login(http, oauth_target)
    second = rotate(http, oauth_target, first["refresh_token"])
    assert not access_works(http, oauth_target, first["access_token"])
    assert access_works(http, oauth_target, second["access_token"])
    # An in-window replay is no rotation: the same pair, whose access token stays valid.
    assert refresh(http, oauth_target, first["refresh_token"]).json() == second
    assert access_works(http, oauth_target, second["access_token"])
    third = rotate(http, oauth_target, second["refresh_token"])
    assert not access_works(http, oauth_target, second["access_token"])
    assert access_works(http, oauth_target, third["access_token"])
