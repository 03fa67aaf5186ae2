"""Test certificates made with ``cryptography``: a self-signed one that is also a CA, and client
certificates it issues (mutual TLS).

Why here: the TLS tests of the wire client, of the control plane and of whole runs all need
them, and a certificate is a few lines too many to repeat."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["Pair", "issue", "write_pair"]

Pair = tuple[x509.Certificate, ec.EllipticCurvePrivateKey]


def issue(common_name: str, issuer: Pair | None = None) -> Pair:
    """A certificate for ``common_name`` and its new key: self-signed, valid for 127.0.0.1 and
    a CA when ``issuer`` is None; else a client certificate that ``issuer`` signed."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer[0].subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if issuer is None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        ).add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        return builder.sign(key, hashes.SHA256()), key
    builder = builder.add_extension(
        x509.BasicConstraints(ca=False, path_length=None), critical=True
    ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    return builder.sign(issuer[1], hashes.SHA256()), key


def write_pair(pair: Pair, folder: Path, stem: str) -> tuple[Path, Path]:
    """``pair`` as PEM files ``{stem}.pem`` and ``{stem}-key.pem`` in ``folder``."""
    cert, key = pair
    cert_path, key_path = folder / f"{stem}.pem", folder / f"{stem}-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
