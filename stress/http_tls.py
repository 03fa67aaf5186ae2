"""How the control plane's httpx clients check an https target's certificate.

Why one place: discovery, the custom-API probe, the policy measurement and the run all talk to
the same target with the same ``--ca-file`` or ``--insecure``, and httpx takes an SSL context
(a CA bundle given as a path is deprecated there). A context is built once per process:
loading a CA bundle costs about 0.1 s, which a repetition or a shrink would pay per run.
"""

from __future__ import annotations

import functools
import ssl
from pathlib import Path

import httpx

__all__ = ["Verify", "verify_setting"]

Verify = ssl.SSLContext | bool
"""httpx's ``verify``: a context, or False for no check at all."""


@functools.cache
def verify_setting(ca_file: str | None, insecure: bool) -> Verify:
    """No check when ``insecure``; else the CAs of ``ca_file`` (a file or a folder of them), or
    the system's."""
    if insecure:
        return False
    if ca_file is None:
        return httpx.create_ssl_context(verify=True)
    if Path(ca_file).is_dir():
        return ssl.create_default_context(capath=ca_file)
    return ssl.create_default_context(cafile=ca_file)
