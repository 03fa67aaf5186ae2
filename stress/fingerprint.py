"""Token fingerprints: how histories and reports refer to tokens without ever holding them.

A fingerprint is a keyed BLAKE2b digest. The key is random per run, so a fingerprint cannot be
used to confirm a guessed token (custom APIs sometimes issue low-entropy tokens), yet within one
run the same token always maps to the same fingerprint, which is all the checkers need.
"""

from __future__ import annotations

import hashlib
import secrets

__all__ = ["Fingerprinter", "fingerprint"]


class Fingerprinter:
    """Maps tokens to short stable labels for the lifetime of one run."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key if key is not None else secrets.token_bytes(32)

    def __call__(self, token: str) -> str:
        digest = hashlib.blake2b(token.encode(), key=self._key, digest_size=8)
        return digest.hexdigest()


_default = Fingerprinter()


def fingerprint(token: str) -> str:
    """Fingerprint a token with this process's run key."""
    return _default(token)
