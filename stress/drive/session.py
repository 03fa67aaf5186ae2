"""What one simulated user holds: its token chain, access token and tabs (processes).

Raw tokens live only here, in memory, for as long as the run needs to present them; everything
recorded elsewhere uses fingerprints.
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
    chain: list[str] = field(default_factory=list)
    access: str | None = None
    # Every refresh token the target handed to this session, and those it accepted since:
    # the difference is the set of leaves to probe when the run quiesces.
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
        self.issued[fp(token)] = token

    def adopt(self, refresh: str | None, access: str | None, fp: Callable[[str], str]) -> None:
        """Keep a successor as the current token, as a client writing it to storage does."""
        if refresh is not None and refresh != self.current:
            self.chain.append(refresh)
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
