"""Client certificates (RFC 8705): mutual TLS as the client's credential.

A server that registers the test client for ``tls_client_auth`` or
``self_signed_tls_client_auth`` (Keycloak's "X509 Certificate", Okta, Spring Authorization
Server, FAPI profiles), or a gateway in front of any API that wants mutual TLS, knows the client
by the certificate it presents in the TLS handshake, and may bind the access tokens it issues
to that certificate (RFC 8705 section 3), so that the API wants the same one. So every
connection the tester opens to the target presents it: discovery, logins, bursts and uses alike.

The certificate and its key come from environment variables, as the client's other credentials
do, so that a CI secret never lands in a scenario file. OpenSSL loads a certificate only from a
file: on Linux it reads them from a memory-only file of this process (``memfd_create``), so the
key never reaches a disk; elsewhere from a file only this user may read, removed once read.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from stress.errors import ScenarioError
from stress.scenario import TargetSpec

__all__ = ["ClientCertificate", "target_certificate"]


@dataclass(frozen=True)
class ClientCertificate:
    """A client's certificate chain (PEM, the client's own certificate first) and its private
    key (PEM; None when the chain's text holds it too). Never shown: the key is a secret."""

    chain: bytes = field(repr=False)
    key: bytes | None = field(default=None, repr=False)

    @classmethod
    def from_environment(cls, cert_env: str, key_env: str | None) -> ClientCertificate:
        """The certificate in the variable ``cert_env`` with the key in ``key_env`` (or in
        ``cert_env`` too); ``ScenarioError`` naming the field and what is wrong when a variable
        is unset or its text is not a certificate and its matching, unencrypted key."""
        chain = _variable(cert_env, "client_cert_env")
        key = _variable(key_env, "client_cert_key_env") if key_env is not None else None
        try:
            x509.load_pem_x509_certificates(chain)
        except ValueError:
            raise ScenarioError(
                f"target.client_cert_env: {cert_env} holds no PEM certificate "
                "(-----BEGIN CERTIFICATE-----)"
            ) from None
        key_text, key_field, key_name = (
            (key, "client_cert_key_env", key_env) if key is not None
            else (chain, "client_cert_env", cert_env)
        )  # fmt: skip
        if b"PRIVATE KEY-----" not in key_text:
            where = "" if key is not None else " (or name it in target.client_cert_key_env)"
            raise ScenarioError(f"target.{key_field}: {key_name} holds no PEM private key{where}")
        try:
            load_pem_private_key(key_text, password=None)
        except (ValueError, TypeError) as exc:
            raise ScenarioError(
                f"target.{key_field}: {key_name} holds no unencrypted private key ({exc})"
            ) from None
        certificate = cls(chain, key)
        try:
            certificate.load_into(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
        except ssl.SSLError as exc:
            raise ScenarioError(
                f"target.client_cert_env: the key does not go with the certificate in "
                f"{cert_env} ({exc.reason or exc})"
            ) from None
        return certificate

    def load_into(self, context: ssl.SSLContext) -> None:
        """Present this certificate in every handshake ``context`` makes."""
        with _memory_file(self.chain) as chain, contextlib.ExitStack() as stack:
            key = stack.enter_context(_memory_file(self.key)) if self.key is not None else None
            context.load_cert_chain(chain, key, password=_no_password)


def _variable(name: str, field_name: str) -> bytes:
    value = os.environ.get(name)
    if value is None:
        raise ScenarioError(f"target.{field_name}: environment variable {name} is not set")
    return value.encode()


def _no_password() -> str:
    """Refuse to prompt: OpenSSL would ask the terminal for an encrypted key's password."""
    raise ssl.SSLError("the private key is encrypted")


@contextlib.contextmanager
def _memory_file(data: bytes) -> Iterator[str]:
    """A path that reads as ``data``, gone when the block ends (see the module's docstring);
    a private file where there is no memory-only one or no ``/proc`` to open it by."""
    if hasattr(os, "memfd_create") and Path("/proc/self/fd").is_dir():
        fd = os.memfd_create("auth-stress-client-certificate", os.MFD_CLOEXEC)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    with tempfile.TemporaryDirectory(prefix="auth-stress-cert-") as folder:
        path = Path(folder) / "client.pem"
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
            out.write(data)
        yield str(path)


def target_certificate(spec: TargetSpec, bases: Iterable[str]) -> ClientCertificate | None:
    """The certificate ``spec`` presents (``target.client_cert_env``), None when it names none;
    ``ScenarioError`` when it cannot be read or a base URL in ``bases`` is not https (a
    certificate would never be presented there, and every request would fail for want of it)."""
    if spec.client_cert_env is None:
        return None
    for base in bases:
        if not base.startswith("https://"):
            raise ScenarioError(
                f"target.client_cert_env: a client certificate is presented over TLS only, "
                f"and the target {base} is not https"
            )
    return ClientCertificate.from_environment(spec.client_cert_env, spec.client_cert_key_env)
