"""How every client of the tester checks an https target's certificate.

Why one place: discovery, the custom-API probe, the policy measurement and the socket-level
burst engine all talk to the same target with the same ``--ca-file`` or ``--insecure``, and
they must trust the same CAs: a control plane that trusted certifi's bundle while the engine
trusted the system's would discover a target whose every burst then fails. The system's CAs are
the default, as for the reproducer's curl lines (OpenSSL's default paths, which
``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` override). httpx's context is built once per process:
loading a CA bundle costs about 0.1 s, which a repetition or a shrink would pay per run.
"""

from __future__ import annotations

import functools
import ssl
from pathlib import Path

from stress.client_certificate import ClientCertificate

__all__ = [
    "Verify",
    "ca_file_problem",
    "client_context",
    "tls_context",
    "tls_failure",
    "verify_setting",
]

Verify = ssl.SSLContext | bool
"""httpx's ``verify``: a context, or False for no check at all."""


def client_context(ca_file: str | None) -> ssl.SSLContext:
    """A new verifying client context: the system's CAs, or those of ``ca_file`` (a PEM bundle,
    or a folder of certificates named by their hash, as ``openssl rehash`` leaves them)."""
    if ca_file is not None and Path(ca_file).is_dir():
        return ssl.create_default_context(capath=ca_file)
    return ssl.create_default_context(cafile=ca_file)


def tls_context(
    ca_file: str | None, insecure: bool, certificate: ClientCertificate | None = None
) -> ssl.SSLContext:
    """A new client context: :func:`client_context`'s, checking nothing when ``insecure``, and
    presenting ``certificate`` to servers that ask for one (mutual TLS)."""
    context = client_context(ca_file)
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if certificate is not None:
        certificate.load_into(context)
    return context


@functools.cache
def verify_setting(
    ca_file: str | None, insecure: bool, certificate: ClientCertificate | None = None
) -> Verify:
    """httpx's ``verify``: :func:`tls_context`'s, or False (no check at all) when ``insecure``
    and there is no certificate to present."""
    if insecure and certificate is None:
        return False
    return tls_context(ca_file, insecure, certificate)


def ca_file_problem(ca_file: str) -> str | None:
    """Why ``ca_file`` cannot be a ``--ca-file``, or None when its CAs load."""
    if not Path(ca_file).exists():
        return "no such file or folder"
    try:
        client_context(ca_file)
    except (ssl.SSLError, OSError) as exc:
        return f"not a PEM bundle of CA certificates ({exc})"
    return None


def tls_failure(exc: ssl.SSLError) -> str:
    """What ``exc`` says, and what to do when it is a server's refusal of a client without a
    certificate (TLS 1.3's ``certificate_required`` alert): the same words from the control
    plane and from the burst engine."""
    said = f"{type(exc).__name__}: {exc}"
    if "CERTIFICATE_REQUIRED" in said.upper():
        return (
            f"{said}: the server wants a client certificate (mutual TLS); set "
            "target.client_cert_env (init and policy: --client-cert-env)"
        )
    return said
