"""What one simulated user holds: its token chain, access token and tabs (processes).

Raw tokens live only here, in memory, for as long as the run needs to present them; everything
recorded elsewhere uses fingerprints. What a session holds is bounded by what the run can still
use, not by how long it runs: the chain keeps the tokens a replay step may present (``keep``),
and a token the target accepted leaves the set of leaves to probe.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
    # The CSRF value (target.csrf_cookie) each held token came with, for the tokens still in
    # the chain or among the leaves; a token whose answer set none has the latest one set
    # (a server that sets it at login only, as Django does, keeps one value).
    csrf: dict[str, str] = field(default_factory=dict)  # raw token -> its CSRF value
    latest_csrf: str | None = None
    # The session's other cookies (target.session_cookies) as the server last set them: one
    # jar for all its tabs, as a browser has, kept across logins.
    cookies: dict[str, str] = field(default_factory=dict)

    @property
    def current(self) -> str | None:
        return self.chain[-1] if self.chain else None

    def start_family(
        self,
        refresh: str | None,
        access: str | None,
        fp: Callable[[str], str],
        csrf: str | None = None,
    ) -> None:
        self.chain = [refresh] if refresh is not None else []
        self.access = access
        self.csrf.clear()
        self.latest_csrf = None
        if refresh is not None:
            self.note_issued(refresh, fp, csrf)

    def note_issued(self, token: str, fp: Callable[[str], str], csrf: str | None = None) -> None:
        """The target handed ``token`` out (with ``csrf``, the CSRF value its answer set)."""
        fingerprint = fp(token)
        if fingerprint not in self.consumed:
            self.issued[fingerprint] = token
        if csrf is not None:
            self.csrf[token] = csrf
            self.latest_csrf = csrf

    def set_cookies(self, answered: Mapping[str, str | None]) -> None:
        """Keep what an answer set of the session's cookies; one it cleared (None) goes."""
        for name, value in answered.items():
            if value is None:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value

    def csrf_of(self, token: str) -> str | None:
        """The CSRF value to send with ``token``: the one it came with, else the latest."""
        return self.csrf.get(token, self.latest_csrf)

    def consume(self, fingerprint: str) -> None:
        """The target accepted the token with this fingerprint: it is no leaf any more."""
        self.consumed.add(fingerprint)
        token = self.issued.pop(fingerprint, None)
        if token is not None and self.csrf and token not in self.chain:
            self.csrf.pop(token, None)

    def adopt(
        self,
        refresh: str | None,
        access: str | None,
        fp: Callable[[str], str],
        csrf: str | None = None,
    ) -> None:
        """Keep a successor as the current token, as a client writing it to storage does."""
        if refresh is not None and refresh != self.current:
            self.chain.append(refresh)
            if self.keep is not None and len(self.chain) > self.keep:
                # Only chain tokens are ever presented, so only they are ever consumed; one
                # that left the chain can no longer be handed out again by any answer still
                # to come (nothing in flight presents its predecessor), so it is forgotten.
                gone = self.chain.pop(0)
                fingerprint = fp(gone)
                self.consumed.discard(fingerprint)
                if fingerprint not in self.issued:  # no leaf either: its CSRF value goes too
                    self.csrf.pop(gone, None)
            self.note_issued(refresh, fp, csrf)
        elif refresh is not None and csrf is not None:
            self.note_issued(refresh, fp, csrf)
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
