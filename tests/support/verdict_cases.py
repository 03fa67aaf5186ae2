"""The verdict cases on independent test servers: each target, the policy it really promises,
and the verdict and failing checkers a correct tester must reach.

Shared by the verdict test (tests/tester/test_verdicts_on_targets.py) and the benchmark that
repeats every case (benchmarks/verdicts.py), so that both judge exactly the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass

from support.targets import TargetSpec

__all__ = ["CASES", "SCENARIO", "Case", "scenario_text"]

SCENARIO = """
name = "verdict-{name}"

[target]
kind = "oauth2"
base_url = "{url}"
client_id = "demo-client"
resource = "/api/me"

[auth]
username = "user{{n}}"
password = "password"

[policy]
{policy}

[run]
sessions = 6
op_timeout_seconds = 5
max_seconds = 30

[[steps]]
op = "login"

[[steps]]
op = "refresh"
parallel = 8
profile = "multi-tab"

[[steps]]
op = "use"

[[steps]]
op = "refresh"
parallel = 8
profile = "multi-tab"
{extra}
"""

REPLAY_GRANDPARENT = """
[[steps]]
op = "replay"
age = 2
"""

REPLAY_PREDECESSOR = """
[[steps]]
op = "replay"
age = 1

[[steps]]
op = "probe"
"""


@dataclass(frozen=True)
class Case:
    spec: TargetSpec
    policy: str
    failing: frozenset[str] = frozenset()
    extra: str = ""

    @property
    def verdict(self) -> str:
        return "fail" if self.failing else "pass"


USE_RETIRES = """replay = "new-pair"
grace_seconds = 3600
generations = 4
reuse_revokes = "nothing"
use_retires = true"""

# Targets whose burst outcome depends on the requests overlapping run with a round trip far
# longer than a burst's spread, so that the outcome is certain.
SLOW = 0.1
CASES = {
    "strict-revoke-family": Case(
        TargetSpec("strict-revoke-family"),
        'kind = "strict"',
        frozenset({"self-inflicted-logout"}),
    ),
    "strict-same-pair": Case(TargetSpec("strict-same-pair", db_latency=SLOW), 'kind = "strict"'),
    # Single use that spares reuses for 2 s after a rotation: the losers of each burst and the
    # predecessor replayed at once are refused and revoke nothing, as its policy says...
    "strict-tolerant": Case(
        TargetSpec("strict-tolerant", grace=2.0),
        'kind = "strict"\ntolerance_seconds = 2',
        extra=REPLAY_PREDECESSOR,
    ),
    # ...and judged under plain single use, the same replay is a reuse that revoked nothing.
    "strict-tolerant-declared-plain": Case(
        TargetSpec("strict-tolerant", grace=2.0),
        'kind = "strict"',
        frozenset({"reuse-not-revoking"}),
        extra=REPLAY_PREDECESSOR,
    ),
    "idempotent": Case(
        TargetSpec("idempotent", grace=2.0),
        'kind = "idempotent"\ngrace_seconds = 2',
        extra=REPLAY_GRANDPARENT,
    ),
    "overlap": Case(TargetSpec("overlap", grace=2.0), 'kind = "overlap"\ngrace_seconds = 2'),
    # Keycloak's "Refresh Token Max Reuse" of 1: the burst's third tab is reuse and the session
    # goes, so the user is logged out by the tabs the limit was raised for...
    "overlap-max-replays": Case(
        TargetSpec("overlap", grace=2.0, replays=1),
        'kind = "overlap"\ngrace_seconds = 2\nmax_replays = 1',
        frozenset({"self-inflicted-logout"}),
    ),
    # ...and, judged as if it had no limit, its refusals of those tabs break the window too,
    # and the successors the session lost with them look as if a 200 handed out dead tokens.
    "overlap-max-replays-declared-unlimited": Case(
        TargetSpec("overlap", grace=2.0, replays=1),
        'kind = "overlap"\ngrace_seconds = 2',
        frozenset({"self-inflicted-logout", "sibling-invalidation", "dead-successor"}),
    ),
    # The same limit where a presentation past it is only refused: its tabs are refused as
    # promised, and nobody is logged out.
    "overlap-max-replays-sparing": Case(
        TargetSpec("overlap", grace=2.0, replays=1, reuse_revokes="nothing"),
        'kind = "overlap"\ngrace_seconds = 2\nmax_replays = 1\nreuse_revokes = "nothing"',
    ),
    # The same idempotent server behind a firewall that blocks every fifth refresh with an
    # HTML 403: that is no refusal of the token by the server, so no tab is taken for one.
    "idempotent-behind-a-firewall": Case(
        TargetSpec("idempotent", grace=2.0, waf_every=5), 'kind = "idempotent"\ngrace_seconds = 2'
    ),
    "access-only": Case(
        TargetSpec("access-only", grace=2.0), 'replay = "access-only"\ngrace_seconds = 2'
    ),
    "generations": Case(
        TargetSpec("generations", grace=2.0, generations=2),
        'replay = "same-pair"\ngrace_seconds = 2\ngenerations = 2',
        extra=REPLAY_GRANDPARENT,
    ),
    "last-write-wins": Case(
        TargetSpec("last-write-wins", db_latency=SLOW),
        'kind = "strict"',
        frozenset({"fork", "dead-successor"}),
    ),
    "revoke-access-on-refresh": Case(
        TargetSpec("revoke-access-on-refresh", grace=2.0),
        'kind = "idempotent"\ngrace_seconds = 2\nrefresh_revokes_access = true',
    ),
    # A server that signs a new refresh token at every refresh and keeps the old ones valid
    # (Keycloak's default) rotates nothing: judged as no rotation, its bursts are no finding.
    "reissue": Case(TargetSpec("reissue"), 'kind = "none"'),
    # Doorkeeper's revoke-on-use: a replay mints a new pair until an access token of its
    # successors is used, then only the token presented is retired. The burst's siblings that
    # the session did not keep stay alive after its use: a fork...
    "revoke-on-use": Case(
        TargetSpec("revoke-on-use"),
        USE_RETIRES,
        frozenset({"fork"}),
    ),
    # ...which the same server avoids by retiring every other sibling at that use.
    "revoke-on-use-siblings": Case(TargetSpec("revoke-on-use-siblings"), USE_RETIRES),
    # The same generations server judged under a policy that promises only the predecessor:
    # its accepted grandparent replays are stale reuses.
    "generations-declared-one": Case(
        TargetSpec("generations", grace=2.0, generations=2),
        'kind = "idempotent"\ngrace_seconds = 2',
        frozenset({"stale-reuse-accepted"}),
        extra=REPLAY_GRANDPARENT,
    ),
}


def scenario_text(name: str, url: str, case: Case) -> str:
    """The scenario of ``case`` against the target at ``url``."""
    return SCENARIO.format(name=name, url=url, policy=case.policy, extra=case.extra)
