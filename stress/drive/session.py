"""What one simulated user holds: its token chain, access token and tabs (processes).

Raw tokens live only here, in memory, for as long as the run needs to present them; everything
recorded elsewhere uses fingerprints. What a session holds is bounded by what the run can still
use, not by how long it runs: the chain keeps the tokens a replay step may present (``keep``),
and a token the target accepted leaves the set of leaves to probe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["SessionState"]


@dataclass
class SessionState:
    """One session's tokens. ``chain`` is the adopted lineage, oldest first."""

    n: int
    tabs: list[int]
    # How many of the newest chain tokens to keep (a replay presents one ``age`` back); None:
    # every one.
    keep: int | None = None
    chain: list[str] = field(default_factory=list)
    access: str | None = None
    # The refresh tokens the target handed to this session and has not accepted since (the
    # leaves to probe when the run quiesces), and the fingerprints of those it accepted (a
    # token handed out again after it was accepted is no leaf).
    issued: dict[str, str] = field(default_factory=dict)  # fingerprint -> raw token
    consumed: set[str] = field(default_factory=set)

    @property
    def current(self) -> str | None:
        return self.chain[-1] if self.chain else None

    def start_family(
        self, refresh: str | None, access: str | None, fp: Callable[[str], str]
    ) -> None:
        self.chain = [refresh] if refresh is not None else []
        self.access = access
        if refresh is not None:
            self.note_issued(refresh, fp)

    def note_issued(self, token: str, fp: Callable[[str], str]) -> None:
        fingerprint = fp(token)
        if fingerprint not in self.consumed:
            self.issued[fingerprint] = token

    def consume(self, fingerprint: str) -> None:
        """The target accepted the token with this fingerprint: it is no leaf any more."""
        self.consumed.add(fingerprint)
        self.issued.pop(fingerprint, None)

    def adopt(self, refresh: str | None, access: str | None, fp: Callable[[str], str]) -> None:
        """Keep a successor as the current token, as a client writing it to storage does."""
        if refresh is not None and refresh != self.current:
            self.chain.append(refresh)
            if self.keep is not None and len(self.chain) > self.keep:
                # Only chain tokens are ever presented, so only they are ever consumed; one
                # that left the chain can no longer be handed out again by any answer still
                # to come (nothing in flight presents its predecessor), so it is forgotten.
                self.consumed.discard(fp(self.chain.pop(0)))
            self.note_issued(refresh, fp)
        if access is not None:
            self.access = access

    def leaves(self) -> list[str]:
        """Tokens to probe at quiescence: the current one first, then every unconsumed other."""
        ordered: list[str] = []
        if self.current is not None:
            ordered.append(self.current)
        for fingerprint, token in self.issued.items():
            if fingerprint not in self.consumed and token not in ordered:
                ordered.append(token)
        return ordered
