"""TLS on the wire client: a self-signed certificate trusted through ``ca_file`` or ``insecure``."""

from __future__ import annotations

import shutil
from pathlib import Path

import anyio
import httpx
import pytest

from stress.client_certificate import ClientCertificate
from stress.http_tls import verify_setting
from stress.wire import WireClient, WireRequest

from .conftest import start_tls_server

pytestmark = pytest.mark.anyio

BODY = b"grant_type=refresh_token&refresh_token=abc"


@pytest.mark.parametrize(("alpn", "version"), [(["http/1.1"], "HTTP/1.1"), (["h2"], "HTTP/2")])
async def test_ca_file_trusts_self_signed(
    cert_files: tuple[Path, Path], alpn: list[str], version: str
) -> None:
    server, info = await start_tls_server(cert_files, alpn)
    try:
        async with WireClient(ca_file=str(cert_files[0])) as client:
            outcome = await client.request(WireRequest("GET", info.url("/")), timeout=5)
            again = await client.request(WireRequest("GET", info.url("/")), timeout=5)
            assert client.statistics().connections_opened == 1
    finally:
        server.close()
    assert outcome.error is None
    assert outcome.response is not None
    assert outcome.response.http_version == version
    assert again.response is not None


async def test_insecure_skips_verification(cert_files: tuple[Path, Path]) -> None:
    server, info = await start_tls_server(cert_files, ["h2", "http/1.1"])
    try:
        async with WireClient(insecure=True) as client:
            outcome = await client.request(WireRequest("GET", info.url("/")), timeout=5)
    finally:
        server.close()
    assert outcome.response is not None
    assert outcome.response.status == 200


async def test_untrusted_certificate_fails_unsent(cert_files: tuple[Path, Path]) -> None:
    server, info = await start_tls_server(cert_files, ["http/1.1"])
    try:
        async with WireClient() as client:
            outcome = await client.request(WireRequest("POST", info.url("/t"), (), BODY), timeout=5)
    finally:
        server.close()
    assert outcome.sent is False
    assert outcome.error == "tls"
    assert outcome.error_detail is not None
    assert "CERTIFICATE_VERIFY_FAILED" in outcome.error_detail


@pytest.mark.parametrize(
    ("alpn", "engine"), [(["http/1.1"], "last-byte"), (["h2"], "single-packet")]
)
async def test_tight_engines_over_tls(
    cert_files: tuple[Path, Path], alpn: list[str], engine: str
) -> None:
    server, info = await start_tls_server(cert_files, alpn)
    try:
        async with WireClient(ca_file=str(cert_files[0]), settle=0.005) as client:
            reqs = [WireRequest("POST", info.url("/token"), (), BODY)] * 4
            result = await client.burst(reqs, engine="auto", timeout=5)
    finally:
        server.close()
    assert result.engine == engine
    assert all(o.error is None and o.response is not None for o in result.outcomes)
    assert len(info.rec.arrivals) == 4


async def test_a_folder_of_hashed_certificates_is_trusted_by_the_engine_and_httpx(
    cert_files: tuple[Path, Path], tmp_path: Path
) -> None:
    """``--ca-file`` names a bundle or a folder (as ``openssl rehash`` leaves one); the burst
    engine and the control plane trust the same CAs either way."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to name the certificate by its hash")
    folder = tmp_path / "cas"
    folder.mkdir()
    shutil.copy(cert_files[0], folder / "test-ca.pem")
    await anyio.run_process(["openssl", "rehash", str(folder)])
    server, info = await start_tls_server(cert_files, ["http/1.1"])
    try:
        async with WireClient(ca_file=str(folder)) as client:
            outcome = await client.request(WireRequest("GET", info.url("/")), timeout=5)
        async with httpx.AsyncClient(verify=verify_setting(str(folder), False)) as http:
            answer = await http.get(info.url("/"), timeout=5)
    finally:
        server.close()
    assert outcome.error is None
    assert outcome.response is not None
    assert answer.status_code == outcome.response.status


def _certificate(client_cert_files: tuple[Path, Path]) -> ClientCertificate:
    chain, key = client_cert_files
    return ClientCertificate(chain.read_bytes(), key.read_bytes())


@pytest.mark.parametrize(
    ("alpn", "engine"), [(["http/1.1"], "last-byte"), (["h2"], "single-packet")]
)
async def test_a_client_certificate_is_presented_on_every_connection(
    cert_files: tuple[Path, Path],
    client_cert_files: tuple[Path, Path],
    alpn: list[str],
    engine: str,
) -> None:
    """Mutual TLS: single requests, bursts and the control plane present the same certificate
    to a server that wants one."""
    certificate = _certificate(client_cert_files)
    server, info = await start_tls_server(cert_files, alpn, client_ca=cert_files[0])
    ca = str(cert_files[0])
    try:
        async with WireClient(ca_file=ca, certificate=certificate, settle=0.005) as client:
            single = await client.request(WireRequest("GET", info.url("/")), timeout=5)
            reqs = [WireRequest("POST", info.url("/token"), (), BODY)] * 3
            burst = await client.burst(reqs, engine="auto", timeout=5)
        async with httpx.AsyncClient(verify=verify_setting(ca, False, certificate)) as http:
            answer = await http.get(info.url("/"), timeout=5)
    finally:
        server.close()
    assert single.error is None, single.error_detail
    assert burst.engine == engine
    assert all(o.error is None and o.response is not None for o in burst.outcomes)
    assert answer.status_code == 200


async def test_without_the_certificate_a_mutual_tls_server_answers_nothing(
    cert_files: tuple[Path, Path],
) -> None:
    """The server refuses the handshake (TLS 1.3 tells the client once it reads): no request
    reaches it, and the outcome is a failure, not an answer."""
    server, info = await start_tls_server(cert_files, ["http/1.1"], client_ca=cert_files[0])
    try:
        async with WireClient(ca_file=str(cert_files[0])) as client:
            outcome = await client.request(WireRequest("GET", info.url("/")), timeout=5)
    finally:
        server.close()
    assert outcome.response is None
    assert outcome.error in ("reset", "tls"), outcome.error_detail
    assert info.rec.arrivals == []
