"""A policy measurement: each field's value with the ops that show it, and its renderings.

The ``[policy]`` block (:func:`policy_toml`) is what ``auth-stress policy --write`` writes and
``auth-stress init`` puts in a starter: a preset's name when the fields equal one, the explicit
fields otherwise, always a table :class:`stress.scenario.PolicySpec` accepts. The JSON form
(:func:`measurement_json`) carries everything: fields, evidence, the grace bracket and the burst.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, TypeVar, get_args

import msgspec

from stress.policy import Policy, Replay, ReuseScope, preset, resolve_policy

__all__ = [
    "FIELDS",
    "BurstOutcome",
    "Evidence",
    "FieldName",
    "FieldResult",
    "GraceBracket",
    "Measurement",
    "measurement_json",
    "policy_lines",
    "policy_toml",
    "policy_values",
]

FieldName = Literal[
    "rotates",
    "replay",
    "grace_seconds",
    "generations",
    "reuse_revokes",
    "tolerance_seconds",
    "refresh_revokes_access",
    "use_retires",
    "max_replays",
]
FIELDS: tuple[FieldName, ...] = get_args(FieldName)
FieldValue = bool | int | float | str
L = TypeVar("L")


class Evidence(msgspec.Struct, frozen=True, kw_only=True):
    """One op that shows a field: its invoke index in the history and a one-line summary."""

    op: int
    summary: str


class FieldResult(msgspec.Struct, frozen=True, kw_only=True):
    """One field: its value, whether it was measured (else it is the default) and why.

    ``lower_bound``: the search stopped at its bound while the target still accepted, so the
    true value may be larger.
    """

    name: FieldName
    value: FieldValue
    measured: bool
    why: str
    lower_bound: bool = False
    evidence: list[Evidence] = []


class GraceBracket(msgspec.Struct, frozen=True, kw_only=True):
    """A search's bracket, in seconds from a rotation's answer to the replay's send: the grace
    window's (replays accepted, then rejected) or the tolerance's (rejected reuses sparing the
    family, then revoking)."""

    accepted_at: float | None
    rejected_at: float | None
    resolution: float
    grace_max: float


class BurstOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """How a concurrent burst of refreshes of one token ended (reported; it decides no field).

    ``distinct_pairs`` counts the distinct successor refresh tokens the winners got;
    ``access_only`` the winners that got an access token and no refresh token; ``survived``
    whether a token the burst handed out still worked afterwards (None: unknown);
    ``outlived_use``, under a window a use ends (``use_retires``), how many of the other
    successors still worked after the access token of the one kept was used (None: not tried).
    """

    size: int
    winners: int
    distinct_pairs: int
    access_only: int
    rejected: int
    unknown: int
    survived: bool | None
    outlived_use: int | None = None
    summary: str
    evidence: list[Evidence] = []


class Measurement(msgspec.Struct, frozen=True, kw_only=True):
    """Everything ``auth-stress policy`` found, and where its history is."""

    target: str
    measured_at: str
    seconds: float
    requests: int
    history: str
    end: str
    fields: list[FieldResult]
    grace: GraceBracket | None = None
    tolerance: GraceBracket | None = None
    burst: BurstOutcome | None = None
    notes: list[str] = []

    def field(self, name: FieldName) -> FieldResult:
        return next(f for f in self.fields if f.name == name)

    def value(self, name: FieldName) -> FieldValue:
        return self.field(name).value

    @property
    def retires_nothing(self) -> bool:
        """True when no replay was ever rejected, as far as the searches went, and each got a
        new refresh token: the previous token still accepted at ``--grace-max``, tokens as many
        generations back as were tried too. A long window cannot be told from no retirement at
        all from outside, but the second is what such a target usually does: Keycloak, unless
        its realm revokes refresh tokens, signs a new refresh token at every refresh and keeps
        every earlier one valid for the whole login session. The measured fields then hold only
        as lower bounds. A replay answered with the successor already issued is another shape
        (Supabase Auth gives the parent of the current token the current one, for as long as it
        is the parent), so ``same-pair`` is left out, and so is a window that a use of the new
        access token ends (Doorkeeper's)."""
        grace, generations = self.field("grace_seconds"), self.field("generations")
        return (
            bool(self.value("rotates"))
            and not self.value("use_retires")
            and not self.value("max_replays")
            and self.value("replay") == "new-pair"
            and grace.measured
            and grace.lower_bound
            and generations.measured
            and generations.lower_bound
        )

    def policy(self) -> Policy:
        """The measured fields as a policy (unmeasured ones at their defaults)."""
        if not self.value("rotates"):
            return preset("none")
        replay: Replay = _literal(self.value("replay"), get_args(Replay))
        scope: ReuseScope = _literal(self.value("reuse_revokes"), get_args(ReuseScope))
        return resolve_policy(
            replay=replay,
            grace_seconds=float(self.value("grace_seconds")),
            generations=int(self.value("generations")),
            reuse_revokes=scope,
            tolerance_seconds=float(self.value("tolerance_seconds")),
            refresh_revokes_access=bool(self.value("refresh_revokes_access")),
            use_retires=bool(self.value("use_retires")),
            max_replays=int(self.value("max_replays")),
        )


def policy_values(policy: Policy) -> dict[FieldName, FieldValue]:
    """A policy's measurable fields by name (relaxations are a scenario's, not a target's).

    A tolerance that ends within the grace window changes nothing (reuse detection starts after
    the longer of the two) and cannot be measured, so it counts as 0 here: a server publishing
    a 1 s tolerance beside a 2 s window promises what a scenario declaring neither expects.
    """
    values: dict[FieldName, FieldValue] = {name: getattr(policy, name) for name in FIELDS}
    if policy.reuse_horizon_ns <= policy.window_ns:
        values["tolerance_seconds"] = 0.0
    return values


def _literal(value: FieldValue, allowed: tuple[L, ...]) -> L:
    for option in allowed:
        if value == option:
            return option
    raise ValueError(f"{value!r} is not one of {allowed}")


def _number(seconds: float) -> str:
    short = f"{seconds:g}"
    return short if float(short) == seconds else repr(seconds)


def policy_lines(policy: Policy) -> list[str]:
    """The ``key = value`` lines of a ``[policy]`` table for ``policy`` (relaxations kept)."""
    name = policy.preset
    lines = []
    if name is not None:
        lines.append(f'kind = "{name}"')
        if name in ("idempotent", "overlap"):
            lines.append(f"grace_seconds = {_number(policy.grace_seconds)}")
    else:
        lines += [
            f'replay = "{policy.replay}"',
            f"grace_seconds = {_number(policy.grace_seconds)}",
            f"generations = {policy.generations}",
            f'reuse_revokes = "{policy.reuse_revokes}"',
        ]
    if policy.tolerance_seconds:
        lines.append(f"tolerance_seconds = {_number(policy.tolerance_seconds)}")
    if name is None:
        lines.append(f"refresh_revokes_access = {str(policy.refresh_revokes_access).lower()}")
    if policy.use_retires:
        lines.append("use_retires = true")
    if policy.max_replays:
        lines.append(f"max_replays = {policy.max_replays}")
    if policy.relax:
        lines.append("relax = [" + ", ".join(f'"{r}"' for r in policy.relax) + "]")
    return lines


def policy_toml(policy: Policy, comments: Sequence[str] = ()) -> str:
    """A ``[policy]`` table, with ``comments`` as ``#`` lines under its header."""
    lines = ["[policy]", *(f"# {c}" for c in comments), *policy_lines(policy)]
    return "\n".join(lines) + "\n"


def measurement_json(measurement: Measurement) -> bytes:
    """The measurement as JSON, with the policy it stands for and its ``[policy]`` block."""
    policy = measurement.policy()
    document = {
        **msgspec.to_builtins(measurement),
        "policy": {
            "describe": policy.describe(),
            "preset": policy.preset,
            "toml": policy_toml(policy),
        },
    }
    return msgspec.json.format(msgspec.json.encode(document), indent=2) + b"\n"
