"""The behaviours by name, and the app factory granian calls in its worker process.

Why this module exists: granian imports the app in a worker process, so the CLI's choices reach
it as one environment variable (``CONFIG_ENV``, JSON); ``create_app`` reads it back.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_public_key
from starlette.applications import Starlette

from .access_only import AccessOnly
from .behaviour import Behaviour, Options
from .generations import Generations
from .idempotent import Idempotent
from .last_write_wins import LastWriteWins
from .overlap import Overlap
from .reissue import Reissue
from .revoke_access_on_refresh import RevokeAccessOnRefresh
from .revoke_on_use import RevokeOnUse, RevokeOnUseSiblings
from .signing import RotatingSigner
from .store import Store
from .strict_revoke_family import StrictRevokeFamily
from .strict_same_pair import StrictSamePair
from .strict_tolerant import StrictTolerant
from .surface import ACCESS_TOKEN_SECONDS, build_app

__all__ = ["BEHAVIOURS", "CONFIG_ENV", "config_env", "create_app"]

CONFIG_ENV = "OAUTH_BEHAVIOUR_CONFIG"

BEHAVIOURS: dict[str, type[Behaviour]] = {
    cls.name: cls
    for cls in (
        StrictRevokeFamily,
        StrictSamePair,
        StrictTolerant,
        Idempotent,
        Overlap,
        AccessOnly,
        Generations,
        LastWriteWins,
        RevokeAccessOnRefresh,
        Reissue,
        RevokeOnUse,
        RevokeOnUseSiblings,
    )
}


def config_env(behaviour: str, options: Options) -> str:
    return json.dumps({"behaviour": behaviour, **asdict(options)})


def create_app() -> Starlette:
    config = json.loads(os.environ[CONFIG_ENV])
    cls = BEHAVIOURS[config.pop("behaviour")]
    options = Options(**config)
    rotates_after = options.signing_key_rotates_after
    signer = RotatingSigner(rotates_after, ACCESS_TOKEN_SECONDS) if rotates_after else None
    key = None
    if options.client_assertion_key:
        key = load_pem_public_key(Path(options.client_assertion_key).read_bytes())
    store = Store(options.db_latency, signer)
    return build_app(
        cls(store, options),
        key,
        options.dpop,
        options.dpop_nonce,
        options.dpop_nonce_lifetime,
        options.waf_every,
    )
