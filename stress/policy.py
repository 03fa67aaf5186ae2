"""The policy model: what a target promises when one refresh token is presented more than once.

No standard defines this (RFC 6749, RFC 9700 and OAuth 2.1 define no grace window), and real
servers differ along a few independent axes, so the model is those axes as explicit fields:

- ``rotates``: a refresh returns a new refresh token (False: the same token stays valid);
- ``grace_seconds``: how long after a rotation the previous token is still accepted;
- ``replay``: what a replay inside the window returns: ``same-pair`` (the successor already
  issued, django-oauth-toolkit, Supabase's parent rule), ``new-pair`` (a new successor in the same
  family, Auth0, Ory Hydra), ``access-only`` (an access token and no refresh token), or
  ``rejected`` (no grace: single use);
- ``generations``: how many generations behind the newest token a replay inside the window may
  go (1: only the immediate predecessor);
- ``reuse_revokes``: what a reuse outside the window revokes: ``family`` (RFC 9700), ``user``
  (every family of that user and client) or ``nothing`` (the old token is merely rejected);
- ``tolerance_seconds``: how long after a rotation a presentation of the previous token that the
  window does not accept still is not reuse: it is rejected and revokes nothing. A server stamps a
  request when its handler runs, which under load can lag the request's arrival, so a server that
  spares its holder's concurrent tabs needs such an allowance even under single use. Reuse
  detection starts after the longer of the window and the tolerance;
- ``refresh_revokes_access``: a rotation revokes the access token issued with the presented
  refresh token;
- ``use_retires``: the window of a rotation also ends, early, once the access token it handed
  out is accepted by the API: the previous token, and every sibling the window minted but the
  used one, are retired then (Doorkeeper's ``previous_refresh_token``: "revoked on use");
- ``max_replays``: how many times inside the window the previous token may be presented
  again (0: no limit); one more is reuse (Keycloak's "Refresh Token Max Reuse", Ory Hydra's
  grace reuse count);
- ``relax``: invariants the scenario explicitly downgrades to warnings.

The presets ``strict``, ``idempotent``, ``overlap`` and ``none`` name the common combinations.
Checkers read the fields, never a preset's name. This module is pure: the scenario loader, the
history header and the policy prober all build the same :class:`Policy`.
"""

from __future__ import annotations

from typing import Literal, get_args

import msgspec

__all__ = [
    "INVARIANTS",
    "PRESETS",
    "Invariant",
    "Policy",
    "PresetName",
    "Replay",
    "ReuseScope",
    "preset",
    "resolve_policy",
]

Replay = Literal["same-pair", "new-pair", "access-only", "rejected"]
ReuseScope = Literal["family", "user", "nothing"]
PresetName = Literal["strict", "idempotent", "overlap", "none"]
Invariant = Literal["fork", "self-inflicted-logout", "dead-successor", "retry-later-logout"]
"""The checkers that hold under every policy; a scenario may only relax them explicitly."""

INVARIANTS: tuple[Invariant, ...] = get_args(Invariant)
PRESETS: tuple[PresetName, ...] = get_args(PresetName)

_PRESET_REPLAY: dict[PresetName, Replay] = {
    "strict": "rejected",
    "idempotent": "same-pair",
    "overlap": "new-pair",
}


class Policy(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One target's promises, field by field; build it with :func:`resolve_policy`."""

    rotates: bool = True
    grace_seconds: float = 0.0
    replay: Replay = "rejected"
    generations: int = 0
    reuse_revokes: ReuseScope = "family"
    tolerance_seconds: float = 0.0
    refresh_revokes_access: bool = False
    use_retires: bool = False
    max_replays: int = 0
    relax: tuple[Invariant, ...] = ()

    @property
    def accepts_replay(self) -> bool:
        """True when a token presented again inside the window must still be accepted."""
        return self.rotates and self.replay != "rejected" and self.grace_seconds > 0

    @property
    def window_ns(self) -> int:
        """The grace window in ns; 0 whenever no replay is accepted."""
        return int(self.grace_seconds * 1e9) if self.accepts_replay else 0

    @property
    def reuse_horizon_ns(self) -> int:
        """How long after a rotation, in ns, the previous token may still be presented without
        that being reuse: the longer of the window and the tolerance."""
        if not self.rotates:
            return 0
        return max(self.window_ns, int(self.tolerance_seconds * 1e9))

    @property
    def one_successor(self) -> bool:
        """True when a token may have only one successor (every rotating policy but new-pair)."""
        return self.rotates and self.replay != "new-pair"

    @property
    def depth(self) -> int:
        """How many generations back a replay may go before it is certainly stale (>= 1)."""
        return max(self.generations, 1)

    def relaxed(self, invariant: Invariant) -> bool:
        """True when the scenario downgraded ``invariant`` to a warning."""
        return invariant in self.relax

    @property
    def preset(self) -> PresetName | None:
        """The preset these fields equal, apart from relaxations and the tolerance (which any
        rotating preset may add); None for a custom policy."""
        plain = msgspec.structs.replace(self, relax=(), tolerance_seconds=0.0)
        for name in PRESETS:
            if plain == preset(name, self.grace_seconds):
                return name
        return None

    def describe(self) -> str:
        """One line for reports: the preset's name with its window, or every field."""
        name = self.preset
        relax = f"; relaxed: {', '.join(self.relax)}" if self.relax else ""
        tolerance = f", tolerance {self.tolerance_seconds:g}s" if self.tolerance_seconds else ""
        if name in ("idempotent", "overlap"):
            return f"{name}, grace {self.grace_seconds:g}s{tolerance}{relax}"
        if name is not None:
            return f"{name}{tolerance}{relax}"
        if not self.rotates:
            return f"no rotation{relax}"
        parts = [
            f"replay {self.replay}",
            f"grace {self.grace_seconds:g}s",
            f"{self.generations} generation(s)",
            f"reuse revokes {self.reuse_revokes}",
        ]
        if self.tolerance_seconds:
            parts.append(f"tolerance {self.tolerance_seconds:g}s")
        if self.refresh_revokes_access:
            parts.append("refresh revokes the access token")
        if self.use_retires:
            parts.append("a use of the new access token ends the window")
        if self.max_replays:
            parts.append(f"at most {self.max_replays} replay(s)")
        return ", ".join(parts) + relax


def preset(name: PresetName, grace_seconds: float = 0.0) -> Policy:
    """The fields a preset stands for (``grace_seconds`` applies to idempotent and overlap)."""
    if name == "none":
        return Policy(rotates=False, reuse_revokes="nothing")
    if name == "strict":
        return Policy()
    return Policy(grace_seconds=grace_seconds, replay=_PRESET_REPLAY[name], generations=1)


def resolve_policy(
    kind: PresetName | None = None,
    *,
    grace_seconds: float | None = None,
    replay: Replay | None = None,
    generations: int | None = None,
    reuse_revokes: ReuseScope | None = None,
    tolerance_seconds: float | None = None,
    refresh_revokes_access: bool = False,
    use_retires: bool = False,
    max_replays: int = 0,
    relax: tuple[Invariant, ...] = (),
) -> Policy:
    """Combine a preset (optional) with explicit fields; contradictions raise ``ValueError``.

    A preset fixes some fields (``strict``: no grace, replays rejected; ``idempotent``: replays
    return the same pair; ``overlap``: a new pair; ``none``: no rotation); an explicit field may
    fill in what the preset leaves open but never contradict it. Messages name the field.

    >>> resolve_policy("idempotent", grace_seconds=2).describe()
    'idempotent, grace 2s'
    >>> resolve_policy(replay="access-only", grace_seconds=5).describe()
    'replay access-only, grace 5s, 1 generation(s), reuse revokes family'
    >>> resolve_policy("strict", tolerance_seconds=1).describe()
    'strict, tolerance 1s'
    """
    if max_replays < 0:
        raise ValueError(f"policy.max_replays must be >= 0 (0: no limit), found {max_replays}")
    if tolerance_seconds is not None and tolerance_seconds < 0:
        raise ValueError(f"policy.tolerance_seconds must be >= 0, found {tolerance_seconds:g}")
    if kind == "none":
        given = {
            "grace_seconds": grace_seconds or None,
            "replay": replay,
            "generations": generations,
            "reuse_revokes": reuse_revokes,
            "tolerance_seconds": tolerance_seconds or None,
        }
        extra = [f"policy.{k}" for k, v in given.items() if v is not None]
        flags = {
            "refresh_revokes_access": refresh_revokes_access,
            "use_retires": use_retires,
            "max_replays": bool(max_replays),
        }
        if extra or any(flags.values()):
            extra += [f"policy.{k}" for k, v in flags.items() if v]
            raise ValueError(
                f"policy 'none' means no rotation: {', '.join(extra)} do(es) not apply; "
                "remove them or pick another policy.kind"
            )
        return msgspec.structs.replace(preset("none"), relax=relax)
    if kind is not None:
        fixed = _PRESET_REPLAY[kind]
        if replay is not None and replay != fixed:
            raise ValueError(
                f"policy.kind = '{kind}' means policy.replay = '{fixed}', found '{replay}'; "
                "drop policy.kind to combine the fields freely"
            )
        replay = fixed
    if replay is None:
        if grace_seconds:
            raise ValueError(
                "policy.grace_seconds is set but policy.replay is not: say what a replay inside "
                "the window returns ('same-pair', 'new-pair', 'access-only'), or set policy.kind"
            )
        replay = "rejected"
    grace = 0.0 if grace_seconds is None else grace_seconds
    if replay == "rejected":
        if grace > 0:
            label = f"policy.kind = '{kind}'" if kind else "policy.replay = 'rejected'"
            raise ValueError(
                f"{label} means single use: policy.grace_seconds must be 0, found {grace:g}"
            )
        if generations:
            raise ValueError(
                f"policy.generations = {generations}: a policy that rejects every replay "
                "accepts no older generation (use 0 or drop it)"
            )
        for name, limit in (("use_retires", use_retires), ("max_replays", max_replays)):
            if limit:
                raise ValueError(
                    f"policy.{name} limits a replay window, and a policy that rejects every "
                    "replay has none: drop it, or say what a replay inside the window returns"
                )
        depth = 0
    else:
        if grace <= 0:
            label = f"policy '{kind}'" if kind else f"policy.replay = '{replay}'"
            raise ValueError(f"{label} needs policy.grace_seconds > 0 (the replay window)")
        if generations is not None and generations < 1:
            raise ValueError(
                f"policy.generations = {generations}: a policy that accepts replays accepts at "
                "least the immediate predecessor (1)"
            )
        depth = 1 if generations is None else generations
    return Policy(
        grace_seconds=grace,
        replay=replay,
        generations=depth,
        reuse_revokes=reuse_revokes or "family",
        tolerance_seconds=0.0 if tolerance_seconds is None else tolerance_seconds,
        refresh_revokes_access=refresh_revokes_access,
        use_retires=use_retires,
        max_replays=max_replays,
        relax=relax,
    )
