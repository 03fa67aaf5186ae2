"""Token fingerprints: how histories and reports refer to tokens without ever holding them.

A fingerprint is a keyed BLAKE2b digest. Within one run the same token always maps to the same
fingerprint, which is all the checkers need; without the key a fingerprint cannot be used to
confirm a guessed token (custom APIs sometimes issue low-entropy tokens).

The key of an unsharded run is random. The shards of one run must agree on it (a token one
shard saw must have the same fingerprint in another's history), so they derive it from a
secret they share (``AUTH_STRESS_RUN_KEY``, e.g. from a Kubernetes Secret) and the run id. If
no secret is given it is derived from the run id alone, which is written in every history:
whoever holds a history can then confirm a guessed token, and the run logs a warning. The
history records a *key check* (a digest of the key, never the key) so that a merge can refuse
shards keyed differently.
"""

from __future__ import annotations

import hashlib
import secrets

from stress.recent import Recent

__all__ = ["CACHE_SIZE", "Fingerprinter", "fingerprint", "key_check", "run_key"]


CACHE_SIZE = 2048
"""A :class:`Fingerprinter` remembers the fingerprints of at least this many recent tokens."""


class Fingerprinter:
    """Maps tokens to short stable labels for the lifetime of one run.

    A run fingerprints the same few live tokens over and over (the refresh token it presents,
    then adopts and later forgets; the access token every use presents), so the labels of the
    recent tokens are remembered (:class:`stress.recent.Recent`): a lookup costs a dict probe
    on a string whose hash Python already keeps, a digest several microseconds.
    """

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key if key is not None else secrets.token_bytes(32)
        self._known: Recent[str, str] = Recent(CACHE_SIZE)

    @property
    def key_check(self) -> str:
        """A digest of the key: equal for equal keys, useless for recovering it."""
        return key_check(self._key)

    def __call__(self, token: str) -> str:
        known = self._known.get(token)
        if known is not None:
            return known
        label = hashlib.blake2b(token.encode(), key=self._key, digest_size=8).hexdigest()
        return self._known.put(token, label)


def run_key(run_id: str, secret: str | None) -> bytes:
    """The fingerprint key of run ``run_id``: keyed by ``secret`` when the shards share one,
    else derived from the run id alone (see the module docstring for what that gives away)."""
    if secret is None:
        return hashlib.blake2b(run_id.encode(), digest_size=32, person=b"as-run-id").digest()
    seed = hashlib.sha256(secret.encode()).digest()
    return hashlib.blake2b(run_id.encode(), key=seed, digest_size=32, person=b"as-run-key").digest()


def key_check(key: bytes) -> str:
    """What a history records about its key: a one-way digest, distinct from any fingerprint."""
    return hashlib.blake2b(key, digest_size=8, person=b"as-key-check").hexdigest()


_default = Fingerprinter()


def fingerprint(token: str) -> str:
    """Fingerprint a token with this process's run key."""
    return _default(token)
