"""The tester's shared vocabulary: names that several modules must spell the same way.

Kept in one stdlib-only module so that the scenario schema, the wire client, the history, the
CLI and the reports agree: sync engines, op kinds, retryable statuses and exit codes. Policy
names live with the policy model (:mod:`stress.policy`).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Literal, get_args

__all__ = [
    "ENGINES",
    "NOT_OAUTH",
    "OP_KINDS",
    "RETRYABLE_STATUSES",
    "Engine",
    "ExitCode",
    "OpKind",
    "ReleaseEngine",
]

Engine = Literal["none", "barrier", "last-byte", "single-packet", "auto"]
"""How a burst is released: ``none`` (as scheduled), ``barrier`` (warm connections, one event),
``last-byte`` (HTTP/1.1: all but each request's last byte, then every last byte at once),
``single-packet`` (HTTP/2: every stream's final frame in one write), ``auto`` (the tightest the
target supports)."""
ENGINES: tuple[Engine, ...] = get_args(Engine)

ReleaseEngine = Literal["none", "barrier", "last-byte", "single-packet"]
"""The engines a burst can actually be released with (``auto`` resolves to one of these)."""

OpKind = Literal["login", "refresh", "use", "revoke", "probe"]
OP_KINDS: tuple[OpKind, ...] = get_args(OpKind)

RETRYABLE_STATUSES = frozenset({409, 429})
"""Statuses that say "try again later", not "this token is dead": never a logout."""

NOT_OAUTH = "no-oauth-error"
"""The label of an OAuth 2.0 token endpoint's 3xx or 4xx without an RFC 6749 error document:
likely not the endpoint's answer (a firewall's or a proxy's page), so unknown."""


class ExitCode(IntEnum):
    """The command line's exit codes, the same for every command."""

    PASS = 0  # every expectation holds
    FAIL = 1  # a violation was found (or, for `policy --expect`, the policy drifted)
    USAGE = 2  # usage error, invalid scenario or unreadable history
    INCONCLUSIVE = 3  # target unreachable, interrupted, too many indeterminate ops
    INTERNAL = 4  # a bug of the tester's (logged with its traceback)
