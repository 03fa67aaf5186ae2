"""The client certificate of mutual TLS (RFC 8705): read from the environment, checked before any
request with errors that name the field, never shown, and presented by the contexts built."""

from __future__ import annotations

import re
import ssl
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from support.certificates import Pair, issue, write_pair

from stress.client_certificate import ClientCertificate, target_certificate
from stress.errors import ScenarioError
from stress.http_tls import tls_context, tls_failure, verify_setting
from stress.scenario import TargetSpec, load_scenario


@pytest.fixture
def pem(client_cert_files: tuple[Path, Path]) -> tuple[str, str]:
    chain, key = client_cert_files
    return chain.read_text(), key.read_text()


def _read(monkeypatch: pytest.MonkeyPatch, cert: str, key: str | None) -> ClientCertificate:
    monkeypatch.setenv("APP_CERT", cert)
    if key is not None:
        monkeypatch.setenv("APP_KEY", key)
    return ClientCertificate.from_environment("APP_CERT", "APP_KEY" if key is not None else None)


def test_a_certificate_and_its_key_load_apart_or_in_one_text(
    monkeypatch: pytest.MonkeyPatch, pem: tuple[str, str]
) -> None:
    cert, key = pem
    for certificate in (_read(monkeypatch, cert, key), _read(monkeypatch, cert + key, None)):
        context = tls_context(None, False, certificate)
        assert context.verify_mode == ssl.CERT_REQUIRED  # the server is still checked
        assert "PRIVATE" not in repr(certificate)


@pytest.mark.parametrize(
    ("cert", "key", "said"),
    [
        ("nothing", None, "target.client_cert_env: APP_CERT holds no PEM certificate"),
        ("CERT", None, "target.client_cert_env: APP_CERT holds no PEM private key (or name it in "
                       "target.client_cert_key_env)"),
        ("CERT", "junk", "target.client_cert_key_env: APP_KEY holds no PEM private key"),
        ("CERT", "OTHER", "target.client_cert_env: the key does not go with the certificate in "
                          "APP_CERT"),
        ("CERT", "LOCKED", "target.client_cert_key_env: APP_KEY holds no unencrypted private key"),
    ],
)  # fmt: skip
def test_what_is_wrong_with_the_variables_is_said_before_any_request(
    monkeypatch: pytest.MonkeyPatch,
    pem: tuple[str, str],
    tmp_path: Path,
    cert: str,
    key: str | None,
    said: str,
) -> None:
    other = write_pair(issue("other"), tmp_path, "other")[1].read_text()
    locked = load_pem_private_key(pem[1].encode(), None).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    texts = {"CERT": pem[0], "OTHER": other, "LOCKED": locked.decode()}
    with pytest.raises(ScenarioError) as info:
        _read(monkeypatch, texts.get(cert, cert), texts.get(key, key) if key else None)
    assert str(info.value).startswith(said)
    assert pem[1].splitlines()[1] not in str(info.value)  # no key material in the message


def test_an_unset_variable_and_a_plain_http_target_are_named(
    monkeypatch: pytest.MonkeyPatch, pem: tuple[str, str]
) -> None:
    spec = TargetSpec(kind="oauth2", client_cert_env="APP_CERT")
    monkeypatch.delenv("APP_CERT", raising=False)
    with pytest.raises(ScenarioError, match="environment variable APP_CERT is not set"):
        target_certificate(spec, ["https://127.0.0.1:8443/"])
    monkeypatch.setenv("APP_CERT", pem[0] + pem[1])
    with pytest.raises(
        ScenarioError, match=re.escape("the target http://127.0.0.1:8000/ is not https")
    ):
        target_certificate(spec, ["https://127.0.0.1:8443/", "http://127.0.0.1:8000/"])
    assert target_certificate(spec, ["https://127.0.0.1:8443/"]) is not None
    assert target_certificate(TargetSpec(kind="oauth2"), ["http://127.0.0.1:8000/"]) is None


def test_insecure_still_presents_the_certificate(
    monkeypatch: pytest.MonkeyPatch, pem: tuple[str, str]
) -> None:
    """``--insecure`` alone is httpx's ``verify=False``; with a certificate to present it must
    be a context that checks nothing and still has the certificate."""
    assert verify_setting(None, True) is False
    verify = verify_setting(None, True, _read(monkeypatch, *pem))
    assert isinstance(verify, ssl.SSLContext)
    assert verify.verify_mode == ssl.CERT_NONE


def test_a_refusal_for_want_of_a_certificate_says_how_to_give_one() -> None:
    refusal = ssl.SSLError(1, "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert")
    assert "set target.client_cert_env" in tls_failure(refusal)
    other = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
    assert tls_failure(other) == "SSLError: [SSL: WRONG_VERSION_NUMBER] wrong version number"


def test_pair_fixture_issues_client_certificates(certificate_authority: Pair) -> None:
    client = issue("c", certificate_authority)
    assert client[0].issuer == certificate_authority[0].subject


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ('client_auth = "tls_client_auth"', "'tls_client_auth' needs target.client_cert_env"),
        ('client_auth = "self_signed_tls_client_auth"',
         "'self_signed_tls_client_auth' needs target.client_cert_env"),
        ('client_cert_key_env = "K"', "client_cert_key_env goes with target.client_cert_env"),
        ('client_cert_env = "C"\nbase_url = "http://h"',
         "a client certificate is presented over TLS only, and target.base_url 'http://h' is not"),
        ('client_auth = "tls_client_auth"\nclient_cert_env = "C"\nclient_id = ""',
         "'tls_client_auth' needs target.client_id"),
    ],
)  # fmt: skip
def test_a_certificate_goes_with_its_methods_and_over_https(
    tmp_path: Path, fields: str, message: str
) -> None:
    text = (
        f'name = "x"\n[target]\nkind = "oauth2"\n{fields}\n[auth]\nusername = "u"\n'
        'password_env = "P"\n[policy]\nkind = "strict"\n[[steps]]\nop = "login"\n'
    )
    if "client_id" not in fields:
        text = text.replace('kind = "oauth2"', 'kind = "oauth2"\nclient_id = "app"')
    path = tmp_path / "s.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=re.escape(message)):
        load_scenario(path)


def test_a_certificate_for_any_kind_of_target_is_a_variable_to_check_for(tmp_path: Path) -> None:
    """A gateway in front of a custom API may want mutual TLS too."""
    path = tmp_path / "s.toml"
    path.write_text(
        'name = "x"\n[target]\nkind = "json"\nbase_url = "https://h"\nclient_cert_env = "C"\n'
        'client_cert_key_env = "K"\n[target.login]\npath = "/login"\n[target.refresh]\n'
        'path = "/refresh"\n[auth]\nusername = "u"\npassword_env = "P"\n[policy]\n'
        'kind = "strict"\n[[steps]]\nop = "login"\n'
    )
    scenario = load_scenario(path)
    assert {"C", "K"} <= set(scenario.secret_env_vars())


def test_without_a_memory_only_file_the_key_is_in_a_private_file_removed_at_once(
    monkeypatch: pytest.MonkeyPatch, pem: tuple[str, str], tmp_path: Path
) -> None:
    """Where there is no ``memfd_create`` (macOS), the certificate is loaded from a file only
    this user may read, in a folder removed once it is loaded."""
    monkeypatch.delattr("os.memfd_create", raising=False)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    certificate = _read(monkeypatch, *pem)
    tls_context(None, False, certificate)
    assert list(tmp_path.iterdir()) == []
