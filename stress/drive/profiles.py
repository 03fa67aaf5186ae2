"""Client profiles: how a real client turns callers who need a fresh token into requests, and
which answer it keeps.

A scenario's refresh step names a profile (:data:`stress.scenario.ClientProfile`):

- ``naive-parallel``: every caller sends its own refresh; the first answer to land is kept.
- ``single-flight``: callers inside one tab share one in-flight refresh (a promise cache or a
  Web Lock), so only ``tabs`` requests go out; the first answer to land is kept.
- ``multi-tab``: independent tabs share one stored token (localStorage); each refreshes and the
  last answer to land overwrites the others in storage.
- ``server-fan-out``: a server-rendered page makes many backend requests carrying the same
  refresh cookie; each refreshes and the browser keeps the last Set-Cookie.
- ``lost-response-retry``: one refresh whose response is lost (a dropped mobile connection),
  then a retry with the same token (see ``Actions.lost_response``).

Answers that are not kept stay in the session as leaves, which the final probes check.
"""

from __future__ import annotations

from collections.abc import Sequence

from stress.scenario import ClientProfile, RefreshStep
from stress.target import TokenPair

__all__ = ["LOST_RESPONSE", "kept", "requests"]

LOST_RESPONSE: ClientProfile = "lost-response-retry"
_LAST_WRITE_WINS: frozenset[ClientProfile] = frozenset({"multi-tab", "server-fan-out"})


def requests(step: RefreshStep) -> int:
    """How many refresh requests the step's callers become."""
    if step.profile == LOST_RESPONSE:
        return 1
    return step.tabs if step.profile == "single-flight" else step.parallel


def kept(profile: ClientProfile, answers: Sequence[tuple[int, TokenPair]]) -> TokenPair | None:
    """The pair the client stores from ``(received_ns, pair)`` answers; None when there is none.

    Tabs sharing storage and fanned-out server requests keep the last answer that lands (last
    write wins); a single caller keeps the first.
    """
    if not answers:
        return None
    ordered = sorted(answers, key=lambda answer: answer[0])
    return ordered[-1 if profile in _LAST_WRITE_WINS else 0][1]
