"""A bounded memo of recently seen keys: what the run path remembers about the tokens it holds.

The run path derives the same facts from the same few live tokens over and over (a token's
fingerprint each time it is presented, adopted or forgotten; an access token's claims when an
answer hands it out again), and a long run sees millions of distinct tokens, so the memo must
be bounded without costing more than it saves. Two generations do that: entries go into the
young one; when it is full it becomes the old one (the previous old one is dropped whole) and
an entry found there moves back to the young one. A lookup is one or two dict probes, a clear
is O(1) amortised, and whatever was used within the last ``size`` insertions is kept. An LRU
by ``OrderedDict.move_to_end`` costs more per hit, and evicting a plain dict's oldest entry by
``next(iter(d))`` scans the dead slots at its front.

Tokens kept here stay in memory only, as long as the sessions that hold them keep them or
not much longer, and are never written anywhere.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["Recent"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Recent(Generic[K, V]):
    """At most ``2 * size`` entries, including every one stored or found in the last ``size``.

    Usage::

        seen: Recent[str, str] = Recent(4096)
        label = seen.get(token)
        if label is None:
            label = seen.put(token, digest(token))
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a Recent memo needs a size of at least 1")
        self._size = size
        self._young: dict[K, V] = {}
        self._old: dict[K, V] = {}

    def __len__(self) -> int:
        return len(self._young) + len(self._old)

    def __contains__(self, key: K) -> bool:
        return key in self._young or key in self._old

    def get(self, key: K) -> V | None:
        """The value stored for ``key``, or None if it was never stored or has been dropped."""
        young = self._young
        if key in young:
            return young[key]
        old = self._old
        if key in old:
            return self.put(key, old.pop(key))
        return None

    def put(self, key: K, value: V) -> V:
        """Store ``value`` for ``key`` and return it."""
        young = self._young
        if len(young) >= self._size:
            self._old = young
            self._young = young = {}
        young[key] = value
        return value
