"""Synthetic auth-stress histories of any size, valid by construction, for benchmarking analysis.

Why this exists: ``auth-stress analyze`` must stay linear in the history (a soak or a sharded
run writes millions of ops), and only a history of the right shape reaches the checkers' costly
paths: many sessions interleaved in time, bursts of concurrent refreshes with winners and
losers, lost responses and Retry-After retries, timeouts, logouts, final probes of every leaf,
and a few soak families that refresh thousands of times. Every record goes through
``stress.history.History``, so the file is exactly what a run writes.

The target is simulated per policy: under ``strict`` one member of a burst wins and the others
are rejected; under ``idempotent`` every presentation of a token inside the grace window is
answered with the pair already issued. A history generated with ``violations=0`` therefore
passes every checker (``server-error`` warns about the 503s the target answered). With
``violations=k`` the generator also seeds ``k`` bugs of each kind (forks, dead successors,
self-inflicted logouts, retry-later logouts, stale reuse accepted, reuse not revoking,
revocation races, duplicate access tokens, bad JWT claims, 500s, and under ``idempotent``
sibling invalidation and rejected lost-response retries) and records the findings each bug
must produce, so a benchmark measures the checkers doing real work and a test can assert the
exact findings.

``ops`` counts history records (invokes and completions, the lines after the header), so a
history holds about ``ops / 2`` paired operations; the generator stops planning sessions once
the budget is reached, so the real count is within one session of it.

Usage::

    .venv/bin/python benchmarks/synthetic_history.py OUT.jsonl [--ops 100000] [--seed 1]
        [--policy idempotent|strict] [--grace 2] [--violations 0]
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stress.history import REPLAY_STEP, Claims, Header, History, Op
from stress.policy import Policy, preset
from stress.run_record import BurstRecord, RunEnd

__all__ = ["VIOLATIONS", "Expected", "Synthetic", "main", "policy_for", "write_history"]

PolicyName = Literal["strict", "idempotent"]

MS = 1_000_000
_START_NS = 1_000_000_000_000  # a monotonic clock reading far from zero, as a real run's is
_STARTED_UNIX = 1_767_225_600.0
_TARGET = "http://127.0.0.1:8000/"
# A session starts every 47 ms on average, so about 70 run at once while they start; the soak
# families pace their refreshes over that span, and outlast it by their own latency.
_START_GAP = 1_500 * MS // 32
_SOAK_SHARE = 0.3  # of the record budget, spent by soak families
_SOAK_RECORDS = 250_000  # one soak family per this many records (at least one)

_ANY_POLICY = (
    "fork",
    "dead-successor",
    "self-inflicted-logout",
    "retry-later-logout",
    "stale-reuse-accepted",
    "reuse-not-revoking",
    "revocation-race",
    "token-uniqueness",
    "jwt-claims",
    "server-error",
)
VIOLATIONS: dict[PolicyName, tuple[str, ...]] = {
    "strict": _ANY_POLICY,
    # Only a window promises that a burst's losers and a lost response's retry are accepted.
    "idempotent": (*_ANY_POLICY, "sibling-invalidation", "lost-response-retry"),
}
"""The bugs each policy's generator can seed, named for the checker that must catch them."""


def policy_for(name: PolicyName, grace_seconds: float = 2.0) -> Policy:
    """The policy a synthetic target keeps (``grace_seconds`` applies to ``idempotent``)."""
    return preset(name, grace_seconds if name == "idempotent" else 0.0)


@dataclass(frozen=True)
class Expected:
    """A finding a seeded bug must produce: its checker, severity and witness (invoke indices)."""

    checker: str
    severity: str
    witness: tuple[int, ...]


@dataclass(frozen=True)
class Synthetic:
    """What was written: the record count, the paired operations and the expected findings."""

    path: Path
    records: int
    operations: int
    expected: tuple[Expected, ...]


@dataclass
class _Record:
    """One history record before it has an index (indices follow the merged time order)."""

    time: int
    fields: dict[str, Any]
    key: int | None = None  # set on invokes: how witnesses and retries refer to them
    retry_key: int | None = None
    sent: int = 0  # on invokes: when the request left (the completion's ``sent_ns``)


@dataclass
class _Expectation:
    checker: str
    severity: str
    keys: tuple[int, ...]


@dataclass
class _Leaf:
    """A refresh token the session holds and has not seen consumed: probed at quiescence."""

    family: int
    mint: int
    works: bool = True
    probe: int | None = None


@dataclass
class _Plan:
    start: int
    actions: list[str]
    soak_think: int = 0


@dataclass
class _Keys:
    """Invoke keys -> (index, send time), filled in as the merged stream is written."""

    counter: Iterator[int] = field(default_factory=itertools.count)
    placed: dict[int, tuple[int, int]] = field(default_factory=dict)

    def new(self) -> int:
        return next(self.counter)


class _Session:
    """One simulated user against a correct target, except where a seeded bug says otherwise."""

    def __init__(self, n: int, plan: _Plan, ctx: _Context) -> None:
        self.n = n
        self.plan = plan
        self.ctx = ctx
        self.rng = random.Random(ctx.seed * 1_000_003 + n)
        self.t = plan.start
        self.tabs: list[int] = []
        self.family = 0
        self.head: str | None = None
        self.parent: str | None = None
        self.access: str | None = None
        self.access_claims: Claims | None = None
        self.head_minted_at = 0  # completion of the op that minted the head
        self.alive = False
        self.leaves: dict[str, _Leaf] = {}
        self.forked: list[int] = []  # families a seeded fork split in two

    # -- plumbing ---------------------------------------------------------------------------

    def token(self) -> str:
        return f"{self.rng.getrandbits(64):016x}"

    def process(self, tab: int) -> int:
        while len(self.tabs) <= tab:
            self.tabs.append(self.ctx.new_process())
        return self.tabs[tab]

    def latency(self) -> int:
        return int((2 + self.rng.expovariate(1 / 6)) * MS)

    def think(self, low_ms: float = 5, high_ms: float = 200) -> None:
        self.t += int(self.rng.uniform(low_ms, high_ms) * MS)

    def issue_access(self, at: int, family: int | None = None) -> tuple[str, Claims]:
        iat = int(_STARTED_UNIX + (at - _START_NS) / 1e9)
        claims = Claims(
            jti=self.token(),
            sub=f"user{self.n}",
            sid=f"sid-{self.n}-{self.family if family is None else family}",
            iat=iat,
            exp=iat + 300,
            verified=True,
        )
        return self.token(), claims

    def op(
        self,
        kind: str,
        *,
        tab: int = 0,
        send: int,
        sent: int | None = None,
        recv: int,
        outcome: str = "ok",
        presented: str | None = None,
        returned: str | None = None,
        access: str | None = None,
        claims: Claims | None = None,
        status: int | None = None,
        error: str | None = None,
        burst: int | None = None,
        step: str | None = None,
        phase: str = "step",
        retry_key: int | None = None,
        retry_after: float | None = None,
    ) -> tuple[_Record, _Record]:
        """An invoke and its completion; the caller yields both in time order."""
        process = self.process(tab)
        sent = send + 20_000 if sent is None else sent
        invoke = _Record(
            send,
            {
                "type": "invoke",
                "process": process,
                "session": self.n,
                "kind": kind,
                "time_ns": send,
                "presented": presented,
                "burst": burst,
                "engine": "auto" if burst is not None else None,
                "target": _TARGET,
                "step": step or kind,
                "phase": phase,
            },
            key=self.ctx.keys.new(),
            retry_key=retry_key,
            sent=sent,
        )
        if status is None:
            status = {"ok": 200, "fail": 400}.get(outcome)
        if outcome == "fail" and error is None:
            error = "invalid_grant"
        done = _Record(
            recv,
            {
                "type": outcome,
                "process": process,
                "session": self.n,
                "kind": kind,
                "time_ns": recv,
                "sent_ns": sent,
                "status": status,
                "error": error,
                "returned": returned,
                "access": access,
                "claims": claims,
                "arrival_ns": sent + 150_000 if status is not None else None,
                "engine": "single-packet" if burst is not None else None,
                "retry_after": retry_after,
            },
        )
        if outcome == "info":
            # Jepsen's rule: a process whose op is indeterminate is never reused.
            self.tabs[tab] = self.ctx.new_process()
        return invoke, done

    def single(self, kind: str, **kw: Any) -> tuple[list[_Record], int]:
        """A sequential op sent now; returns its records and its invoke key."""
        send = self.t
        recv = send + self.latency()
        invoke, done = self.op(kind, send=send, recv=recv, **kw)
        self.t = recv
        assert invoke.key is not None
        return [invoke, done], invoke.key

    def expect(self, checker: str, *keys: int, severity: str = "error") -> None:
        self.ctx.expected.append(_Expectation(checker, severity, keys))

    def adopt(self, new: str, access: str, claims: Claims, key: int) -> None:
        """The head was refreshed into ``new``: the old head is consumed, ``new`` is a leaf."""
        if self.head is not None:
            self.leaves.pop(self.head, None)
        self.parent, self.head = self.head, new
        self.access, self.access_claims = access, claims
        self.head_minted_at = self.t
        self.leaves[new] = _Leaf(self.family, key)

    def kill_head(self) -> None:
        """The head no longer works (logged out, or killed by a seeded bug)."""
        self.alive = False
        if self.head is not None and self.head in self.leaves:
            self.leaves[self.head].works = False

    # -- correct behaviour ------------------------------------------------------------------

    def login(self) -> list[_Record]:
        self.family = self.ctx.new_family()
        token = self.token()
        access, claims = self.issue_access(self.t)
        records, key = self.single("login", returned=token, access=access, claims=claims)
        self.head = self.parent = None  # a new family: the old head stays a leaf
        self.adopt(token, access, claims, key)
        self.parent = None
        self.alive = True
        return records

    def refresh(
        self, phase: str = "step", step: str = "refresh", retry_key: int | None = None
    ) -> tuple[list[_Record], int]:
        """The head refreshed into a new pair."""
        new = self.token()
        access, claims = self.issue_access(self.t)
        records, key = self.single(
            "refresh",
            presented=self.head,
            returned=new,
            access=access,
            claims=claims,
            phase=phase,
            step=step,
            retry_key=retry_key,
        )
        self.adopt(new, access, claims, key)
        return records, key

    def use(self, outcome: str = "ok") -> list[_Record]:
        error = "timeout" if outcome == "info" else None
        return self.single("use", presented=self.access, outcome=outcome, error=error)[0]

    def burst(
        self, size: int, outcomes: list[str] | None = None
    ) -> tuple[list[_Record], list[int]]:
        """``size`` refreshes of the head released together; the first to arrive rotates it.

        ``outcomes`` overrides what each member gets (``ok``, ``fail`` or ``fork``: an ok with a
        second, distinct successor).
        """
        burst = self.ctx.new_burst()
        release = self.t + 2 * MS  # invokes are recorded before the engine warms up
        new, second = self.token(), self.token()
        access, claims = self.issue_access(release)
        other_access, other_claims = self.issue_access(release)
        if outcomes is None:
            replay = self.ctx.policy.accepts_replay
            outcomes = ["ok" if i == 0 or replay else "fail" for i in range(size)]
        invokes, dones, keys = [], [], []
        for i, outcome in enumerate(outcomes):
            sent = release + i * 5_000
            returned, pair = None, (None, None)
            if outcome == "ok":
                returned, pair = new, (access, claims)
            elif outcome == "fork":
                returned, pair = second, (other_access, other_claims)
            invoke, done = self.op(
                "refresh",
                tab=i,
                send=self.t + i * 1_000,
                sent=sent,
                recv=sent + self.latency() + i * 50_000,
                outcome="fail" if outcome == "fail" else "ok",
                presented=self.head,
                returned=returned,
                access=pair[0],
                claims=pair[1],
                burst=burst,
                step="naive-parallel",
                phase="burst",
            )
            invokes.append(invoke)
            dones.append(done)
            assert invoke.key is not None
            keys.append(invoke.key)
        dones.sort(key=lambda r: r.time)
        spread = (len(outcomes) - 1) * 5_000
        self.ctx.burst_records.append(
            BurstRecord(burst=burst, engine="single-packet", size=len(outcomes),
                        release_spread_ns=spread, arrival_spread_ns=spread)
        )  # fmt: skip
        self.t = dones[-1].time
        self.adopt(new, access, claims, keys[outcomes.index("ok")])
        if "fork" in outcomes:
            self.leaves[second] = _Leaf(self.family, keys[outcomes.index("fork")])
        return invokes + dones, keys

    def retry_later(self, then: str = "ok") -> tuple[list[_Record], int, int]:
        """A 503 with Retry-After, the wait it asked for, and the retry with the same token."""
        wait = self.rng.choice((0.05, 0.1, 0.2))
        records, told = self.single(
            "refresh",
            presented=self.head,
            outcome="info",
            status=503,
            error="temporarily_unavailable",
            retry_after=wait,
        )
        self.ctx.retry_later.append(told)
        self.t += int(wait * 1e9) + MS
        more, retry = self.retried(told, "retry-after", then)
        return records + more, told, retry

    def retried(self, of: int, step: str, then: str) -> tuple[list[_Record], int]:
        if then == "ok":
            return self.refresh(step=step, retry_key=of)
        return self.single("refresh", presented=self.head, outcome="fail", step=step, retry_key=of)

    def timed_out(self) -> list[_Record]:
        """A refresh that timed out before the target committed anything; the token lives on."""
        return self.single("refresh", presented=self.head, outcome="info", error="timeout")[0]

    def lost(self, then: str = "ok") -> tuple[list[_Record], int, int]:
        """A refresh whose response was lost after the target rotated, then the retry.

        Inside the window the retry is answered with the pair already issued, which nobody saw.
        """
        records, lost = self.single(
            "refresh", presented=self.head, outcome="info", error="response-lost",
            step="lost-response",
        )  # fmt: skip
        self.think(1, 20)
        more, retry = self.retried(lost, "retry", then)
        return records + more, lost, retry

    def logout(self) -> list[_Record]:
        records, _ = self.single("revoke", presented=self.head, status=200)
        self.kill_head()
        return records

    def final_probes(self, start: int) -> Iterator[_Record]:
        """Probe every leaf once the run is quiet: the live ones rotate, the dead are rejected."""
        self.t = start
        for token, leaf in list(self.leaves.items()):
            if leaf.works:
                access, claims = self.issue_access(self.t, leaf.family)
                records, leaf.probe = self.single(
                    "probe",
                    presented=token,
                    returned=self.token(),
                    access=access,
                    claims=claims,
                    step="final-probe",
                    phase="final-probe",
                )
            else:
                records, leaf.probe = self.single(
                    "probe", presented=token, outcome="fail", step="final-probe",
                    phase="final-probe",
                )  # fmt: skip
            yield from records
            self.think(0.1, 1)

    # -- seeded bugs ------------------------------------------------------------------------

    def seed(self, bug: str) -> Iterator[_Record]:
        """Records of one seeded bug, in a fresh family so that no earlier event excuses it."""
        yield from self.login()
        self.think()
        yield from self.refresh()[0]
        self.think()
        yield from getattr(self, "_bug_" + bug.replace("-", "_"))()

    def _bug_fork(self) -> Iterator[_Record]:
        size = self.rng.randint(3, 5)
        rest = "ok" if self.ctx.policy.accepts_replay else "fail"
        records, keys = self.burst(size, ["ok", "fork"] + [rest] * (size - 2))
        yield from records
        self.expect("fork", keys[0], keys[1])
        self.forked.append(self.family)

    def _bug_dead_successor(self) -> Iterator[_Record]:
        records, mint = self.refresh()
        yield from records
        self.kill_head()
        self.think()
        records, rejected = self.single("refresh", presented=self.head, outcome="fail")
        yield from records
        self.expect("dead-successor", mint, rejected)

    def _bug_self_inflicted_logout(self) -> Iterator[_Record]:
        records, keys = self.burst(self.rng.randint(2, 6))
        yield from records
        self.kill_head()
        self.think()
        more, rejected = self.single("refresh", presented=self.head, outcome="fail")
        yield from more
        if self.ctx.policy.accepts_replay:
            # Every member succeeded: the burst's successor was dead on arrival as well.
            self.expect("self-inflicted-logout", *keys, rejected)
            self.expect("dead-successor", keys[0], rejected)
        else:
            self.expect("self-inflicted-logout", keys[0], keys[1], rejected)

    def _bug_retry_later_logout(self) -> Iterator[_Record]:
        records, told, retry = self.retry_later(then="fail")
        yield from records
        self.kill_head()
        self.expect("retry-later-logout", told, retry)
        if self.ctx.policy.accepts_replay:
            self.expect("lost-response-retry", told, retry)

    def _stale_replay(self, outcome: str) -> tuple[list[_Record], int, int]:
        """The previous token presented again once the window is certainly over."""
        records, rotated_by = self.refresh()
        self.t = self.head_minted_at + self.ctx.policy.window_ns + 100 * MS
        kept = (self.head, self.access, self.access_claims) if outcome == "ok" else (None,) * 3
        more, replay = self.single(
            "refresh",
            presented=self.parent,
            outcome=outcome,
            returned=kept[0],
            access=kept[1],
            claims=kept[2],
            step=REPLAY_STEP,
        )
        return records + more, rotated_by, replay

    def _bug_stale_reuse_accepted(self) -> Iterator[_Record]:
        # Answered with the family's head: no fork, only the acceptance is wrong.
        records, rotated_by, replay = self._stale_replay("ok")
        yield from records
        self.expect("stale-reuse-accepted", rotated_by, replay)

    def _bug_reuse_not_revoking(self) -> Iterator[_Record]:
        records, rotated_by, replay = self._stale_replay("fail")
        yield from records
        self.think()
        more, survivor = self.refresh()
        yield from more
        self.expect("reuse-not-revoking", rotated_by, replay, survivor)

    def _bug_revocation_race(self) -> Iterator[_Record]:
        records, revoke = self.single("revoke", presented=self.head, status=200)
        yield from records
        self.think()
        more, lives = self.refresh()
        yield from more
        self.expect("revocation-race", revoke, lives)

    def _bug_token_uniqueness(self) -> Iterator[_Record]:
        first = self.leaves[self.head or ""].mint
        access, claims = self.access, self.access_claims
        assert access is not None
        assert claims is not None
        new = self.token()
        records, again = self.single(
            "refresh", presented=self.head, returned=new, access=access, claims=claims
        )
        self.adopt(new, access, claims, again)
        yield from records
        self.expect("token-uniqueness", first, again)

    def _bug_jwt_claims(self) -> Iterator[_Record]:
        new = self.token()
        access, claims = self.issue_access(self.t)
        expired = msgspec.structs.replace(claims, exp=claims.iat)
        records, key = self.single(
            "refresh", presented=self.head, returned=new, access=access, claims=expired
        )
        self.adopt(new, access, expired, key)
        yield from records
        self.expect("jwt-claims", key)

    def _bug_server_error(self) -> Iterator[_Record]:
        records, key = self.single(
            "use", presented=self.access, outcome="info", status=500, error="server_error"
        )
        yield from records
        self.ctx.server_errors.append(key)

    def _bug_sibling_invalidation(self) -> Iterator[_Record]:
        size = self.rng.randint(3, 6)
        records, keys = self.burst(size, ["ok"] * (size - 1) + ["fail"])
        yield from records
        self.expect("sibling-invalidation", keys[0], keys[-1])

    def _bug_lost_response_retry(self) -> Iterator[_Record]:
        records, lost, retry = self.lost(then="fail")
        yield from records
        self.kill_head()
        self.expect("lost-response-retry", lost, retry)

    # -- the session's program --------------------------------------------------------------

    def run(self) -> Iterator[_Record]:
        """The session's records in time order: a login, then its actions."""
        yield from self.login()
        for action in self.plan.actions:
            self.t += self.plan.soak_think
            if not self.plan.soak_think:
                self.think()
            if action.startswith("bug:"):
                yield from self.seed(action[4:])
            elif not self.alive:
                if action != "logout":
                    yield from self.login()
            else:
                yield from self._background(action)

    def _background(self, action: str) -> Iterator[_Record]:
        if action in ("refresh", "load"):
            yield from self.refresh(phase="load" if action == "load" else "step", step=action)[0]
        elif action == "use":
            yield from self.use()
        elif action == "use-timeout":
            yield from self.use(outcome="info")
        elif action == "burst":
            yield from self.burst(self.rng.randint(2, 8))[0]
        elif action == "retry-later":
            yield from self.retry_later()[0]
        elif action == "timeout":
            yield from self.timed_out()
        elif action == "lost":
            yield from self.lost()[0]
        elif action == "logout":
            yield from self.logout()
        else:
            raise ValueError(f"unknown action {action!r}")

    def fork_expectations(self) -> Iterator[_Expectation]:
        """After the final probes: each forked family's two live leaves were both accepted."""
        for family in self.forked:
            live = [leaf for leaf in self.leaves.values() if leaf.family == family and leaf.works]
            if len(live) >= 2:
                a, b = live[:2]
                assert a.probe is not None
                assert b.probe is not None
                yield _Expectation("fork", "error", (a.mint, b.mint, a.probe, b.probe))


@dataclass
class _Context:
    seed: int
    policy: Policy
    keys: _Keys = field(default_factory=_Keys)
    expected: list[_Expectation] = field(default_factory=list)
    server_errors: list[int] = field(default_factory=list)
    retry_later: list[int] = field(default_factory=list)
    processes: Iterator[int] = field(default_factory=itertools.count)
    bursts: Iterator[int] = field(default_factory=itertools.count)
    families: Iterator[int] = field(default_factory=itertools.count)
    burst_records: list[BurstRecord] = field(default_factory=list)

    def new_family(self) -> int:
        return next(self.families)

    def new_process(self) -> int:
        return next(self.processes)

    def new_burst(self) -> int:
        return next(self.bursts)


# Records each background action writes, for planning against the budget.
_RECORDS = {
    "refresh": 2,
    "load": 2,
    "use": 2,
    "use-timeout": 2,
    "burst": 10,
    "retry-later": 4,
    "timeout": 2,
    "lost": 4,
    "logout": 2,
}


def _normal_actions(rng: random.Random, policy: Policy) -> list[str]:
    weights = {
        "refresh": 34,
        "use": 36,
        "burst": 10,
        "retry-later": 2,
        "timeout": 2,
        "lost": 2 if policy.accepts_replay else 0,
        "use-timeout": 1,
    }
    names = [n for n in weights if weights[n]]
    actions = rng.choices(names, [weights[n] for n in names], k=rng.randint(8, 50))
    if rng.random() < 0.2:
        actions.append("logout")
    return actions


def _plan(ops: int, seed: int, policy: Policy, violations: int) -> list[_Plan]:
    """Sessions, soak families first, until the record budget is spent."""
    rng = random.Random(seed)
    soak_count = max(1, round(ops / _SOAK_RECORDS))
    soak_records = int(ops * _SOAK_SHARE)
    per_soak = max(20, soak_records // soak_count)
    normal: list[_Plan] = []
    spent = soak_count * (per_soak + 4)
    start = _START_NS
    gap = _START_GAP
    while spent < ops:
        actions = _normal_actions(rng, policy)
        spent += 4 + sum(_RECORDS[a] for a in actions)
        normal.append(_Plan(start=start, actions=actions))
        start += int(rng.expovariate(1 / gap))
    bugs = [bug for _ in range(violations) for bug in VIOLATIONS[_policy_name(policy)]]
    if bugs:
        step = max(1, len(normal) // len(bugs))
        for i, bug in enumerate(bugs):
            plan = normal[min(len(normal) - 1, i * step + step // 2)]
            plan.actions.insert(rng.randint(0, len(plan.actions)), "bug:" + bug)
    span = max(start - _START_NS, 1)
    soaks = []
    for _ in range(soak_count):
        pairs = per_soak // 4
        actions = [a for _ in range(pairs) for a in ("load", "use")]
        soaks.append(_Plan(start=_START_NS, actions=actions, soak_think=span // max(1, 2 * pairs)))
    return soaks + normal


def _policy_name(policy: Policy) -> PolicyName:
    return "idempotent" if policy.accepts_replay else "strict"


def _merge(sessions: list[tuple[int, Iterator[_Record]]]) -> Iterator[_Record]:
    """Records of every session in time order; sessions join when their start comes."""
    sessions.sort(key=lambda s: s[0])
    heap: list[tuple[int, int, _Record, Iterator[_Record]]] = []
    order = itertools.count()
    pending = iter(sessions)
    upcoming = next(pending, None)
    while heap or upcoming is not None:
        while upcoming is not None and (not heap or upcoming[0] <= heap[0][0]):
            first = next(upcoming[1], None)
            if first is not None:
                heapq.heappush(heap, (first.time, next(order), first, upcoming[1]))
            upcoming = next(pending, None)
        _, _, record, stream = heapq.heappop(heap)
        yield record
        following = next(stream, None)
        if following is not None:
            heapq.heappush(heap, (following.time, next(order), following, stream))


def write_history(
    path: Path,
    *,
    ops: int,
    seed: int = 1,
    policy: PolicyName = "idempotent",
    grace_seconds: float = 2.0,
    violations: int = 0,
) -> Synthetic:
    """Write a synthetic history of about ``ops`` records to ``path``; see the module docstring."""
    model = policy_for(policy, grace_seconds)
    ctx = _Context(seed=seed, policy=model)
    plans = _plan(ops, seed, model, violations)
    sessions = [_Session(n, plan, ctx) for n, plan in enumerate(plans)]
    header = Header(
        scenario="synthetic",
        policy=model,
        targets=[_TARGET],
        seed=seed,
        started_unix=_STARTED_UNIX,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as sink:
        history = History(header, sink)
        end = _write(history, ctx, _merge([(s.plan.start, s.run()) for s in sessions]))
        probes = [(end + MS + (n % 16) * 100_000, s.final_probes(end + MS)) for n, s in
                  enumerate(sessions)]  # fmt: skip
        quiet = _write(history, ctx, _merge(probes))
        records = len(history)
        # A run that ended normally says so last, with every burst's engine and spread.
        wall = (quiet - _START_NS) / 1e9
        history.finish(RunEnd(end="completed", wall_seconds=wall, bursts=ctx.burst_records))
    return Synthetic(
        path=path,
        records=records,
        operations=records // 2,
        expected=_resolve(ctx, sessions),
    )


def _resolve(ctx: _Context, sessions: list[_Session]) -> tuple[Expected, ...]:
    """Expectations with invoke indices, witnesses in the checkers' order (send time, index)."""
    found = list(ctx.expected)
    for session in sessions:
        found.extend(session.fork_expectations())
    placed = ctx.keys.placed
    first = {
        ("error", "use"): ctx.server_errors,
        ("warning", "refresh"): ctx.retry_later,
    }
    for (severity, _), keys in first.items():
        if keys:
            earliest = min(keys, key=lambda k: (placed[k][1], placed[k][0]))
            found.append(_Expectation("server-error", severity, (earliest,)))
    expected = []
    for e in found:
        ordered = sorted({placed[k] for k in e.keys}, key=lambda p: (p[1], p[0]))
        expected.append(Expected(e.checker, e.severity, tuple(index for index, _ in ordered)))
    return tuple(sorted(expected, key=lambda e: (e.checker, e.witness)))


def _write(history: History, ctx: _Context, records: Iterator[_Record]) -> int:
    """Append the merged records with dense indices; returns the last record's time."""
    last = 0
    for record in records:
        fields = dict(record.fields)
        if record.retry_key is not None:
            fields["retry_of"] = ctx.keys.placed[record.retry_key][0]
        fields = {k: v for k, v in fields.items() if v is not None}
        op = history.append(Op(index=history.next_index(), **fields))
        if record.key is not None:
            ctx.keys.placed[record.key] = (op.index, record.sent)
        last = record.time
    return last


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="where to write the JSONL history")
    parser.add_argument("--ops", type=int, default=100_000, help="history records to write")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--policy", choices=("idempotent", "strict"), default="idempotent")
    parser.add_argument("--grace", type=float, default=2.0, help="grace window (idempotent)")
    parser.add_argument("--violations", type=int, default=0, help="bugs to seed, of each kind")
    args = parser.parse_args(argv)
    written = write_history(
        args.out,
        ops=args.ops,
        seed=args.seed,
        policy=args.policy,
        grace_seconds=args.grace,
        violations=args.violations,
    )
    print(
        f"{written.path}: {written.records} records, {written.operations} operations, "
        f"{len(written.expected)} expected findings"
    )


if __name__ == "__main__":
    main()
