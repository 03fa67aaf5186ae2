"""The options that describe a target beyond its base URL, shared by ``init`` and ``policy``.

Why one module: both commands can stand on no scenario at all, and a real server often needs
more than discovery gives (no RFC 8414 metadata, a confidential client, a required scope, no
password grant). The flags, their checks and their exit-2 messages are the same wherever they
are accepted.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
from collections.abc import Sequence
from typing import Annotated, cast, get_args

import typer

from stress.cli.output import fail
from stress.client_certificate import ClientCertificate, target_certificate
from stress.errors import ScenarioError
from stress.scenario import TLS_AUTHS, ClientAuth, TargetSpec
from stress.starter import ClientSetup, Login, MintLogin, PasswordLogin, target_spec
from stress.target import target_headers
from stress.types import ExitCode

__all__ = [
    "ENV_NAME",
    "ClientAssertionAudience",
    "ClientAuthOption",
    "ClientCertEnv",
    "ClientCertKeyEnv",
    "ClientKeyEnv",
    "ClientKeyId",
    "ClientSecretEnv",
    "DpopOption",
    "HeaderEnvOption",
    "HeaderOption",
    "JwksUri",
    "MintCommand",
    "RevocationEndpoint",
    "Scope",
    "TokenEndpoint",
    "checked_client_setup",
    "client_certificate",
    "client_flags",
    "header_setup",
    "header_variables",
    "login_flags",
    "mint_login",
    "needed_variables",
    "password_login",
    "refuse_mint_with_password",
    "require_variables",
    "sent_headers",
]

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CLIENT_AUTHS: tuple[str, ...] = get_args(ClientAuth)

TokenEndpoint = Annotated[
    str | None, typer.Option(help="Token endpoint URL or path, where discovery finds none.")
]
RevocationEndpoint = Annotated[
    str | None, typer.Option(help="Revocation endpoint (RFC 7009) URL or path.")
]
JwksUri = Annotated[str | None, typer.Option(help="JWKS URL or path, to verify access tokens.")]
ClientSecretEnv = Annotated[
    str | None,
    typer.Option(help="Environment variable holding a confidential client's secret."),
]
ClientAuthOption = Annotated[
    str | None,
    typer.Option(
        help="How a confidential client authenticates: basic (the default with a secret), body, "
        "client_secret_jwt, private_key_jwt (the default with a key), tls_client_auth (the "
        "default with a certificate alone) or self_signed_tls_client_auth."
    ),
]
ClientCertEnv = Annotated[
    str | None,
    typer.Option(
        help="Environment variable holding the client certificate (PEM) presented on every "
        "connection: mutual TLS (RFC 8705), its key too unless --client-cert-key-env names it."
    ),
]
ClientCertKeyEnv = Annotated[
    str | None,
    typer.Option(help="Environment variable holding the client certificate's private key (PEM)."),
]
ClientKeyEnv = Annotated[
    str | None,
    typer.Option(help="Environment variable holding a private_key_jwt client's private key (PEM)."),
]
ClientKeyId = Annotated[
    str | None, typer.Option(help="The kid of the client's key, if the server wants one.")
]
ClientAssertionAudience = Annotated[
    str | None,
    typer.Option(help="The client assertion's aud, where it is not the endpoint's URL."),
]
Scope = Annotated[str | None, typer.Option(help="Scope to ask for at login.")]
DpopOption = Annotated[
    bool,
    typer.Option(
        "--dpop", help="Send a DPoP proof (RFC 9449) with every request: DPoP-bound tokens."
    ),
]
HeaderOption = Annotated[
    list[str] | None,
    typer.Option(
        "--header",
        help="'Name: value' to send with every request (a gateway's key); repeat for more.",
    ),
]
HeaderEnvOption = Annotated[
    list[str] | None,
    typer.Option(
        "--header-env",
        help="'Name=VARIABLE': a header sent with every request, its value read from the "
        "variable (a secret); repeat for more.",
    ),
]
MintCommand = Annotated[
    str | None,
    typer.Option(
        help="Command that logs session {n} in and prints the token response (JSON), for "
        "servers without the password grant; {target} is the base URL."
    ),
]


def mint_login(command: str) -> MintLogin:
    """``--mint-command``'s text as the argv it names (shell quoting), or exit 2."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise fail(ExitCode.USAGE, f"--mint-command {command!r}: {exc}") from None
    if not argv:
        raise fail(ExitCode.USAGE, "--mint-command: expected a command, found nothing")
    return MintLogin(tuple(argv))


def login_flags(login: Login) -> list[str]:
    """The flags that give ``login`` again, for a command line a person can rerun."""
    if isinstance(login, PasswordLogin):
        return ["--username", login.username, "--password-env", login.password_env]
    return ["--mint-command", shlex.join(login.command)]


def checked_client_setup(target: str, setup: ClientSetup, client_auth: str | None) -> ClientSetup:
    """``setup`` with its client authentication settled and checked (exit 2 if wrong)."""
    secret, key, cert = setup.client_secret_env, setup.client_key_env, setup.client_cert_env
    for flag, variable in (("--client-secret-env", secret), ("--client-key-env", key)):
        if variable is not None and not ENV_NAME.match(variable):
            raise fail(ExitCode.USAGE, f"{flag} {variable!r}: not an environment variable name")
    if client_auth is not None and client_auth not in _CLIENT_AUTHS:
        raise fail(
            ExitCode.USAGE, f"--client-auth {client_auth!r}: expected {', '.join(_CLIENT_AUTHS)}"
        )
    if key is not None and secret is not None:
        raise fail(
            ExitCode.USAGE, "--client-key-env and --client-secret-env: give one or the other"
        )
    credential = key or secret
    default = (
        "private_key_jwt" if key is not None
        else "basic" if secret is not None
        else "tls_client_auth" if cert is not None
        else "none"
    )  # fmt: skip
    auth = cast(ClientAuth, client_auth or default)
    if auth == "none":
        misfit = credential is not None
    elif auth in TLS_AUTHS:
        misfit = cert is None or credential is not None
    else:
        misfit = (key if auth == "private_key_jwt" else secret) is None
    if misfit:
        raise fail(
            ExitCode.USAGE,
            f"--client-auth {auth}: expected basic, body or client_secret_jwt with "
            "--client-secret-env, private_key_jwt with --client-key-env, tls_client_auth or "
            "self_signed_tls_client_auth with --client-cert-env alone, none without either",
        )
    setup = dataclasses.replace(setup, client_auth=auth)
    try:
        target_spec(target, setup)
    except ValueError as exc:
        raise fail(ExitCode.USAGE, _as_flags(str(exc))) from None
    return setup


def client_certificate(target: str, setup: ClientSetup) -> ClientCertificate | None:
    """The certificate ``--client-cert-env`` (and ``--client-cert-key-env``) name, read and
    checked before any request, or None when none is named; exit 2 saying what is wrong (a
    variable unset, not a certificate and its key, a target that is not https)."""
    if setup.client_cert_env is None:
        if setup.client_cert_key_env is not None:
            raise fail(ExitCode.USAGE, "--client-cert-key-env goes with --client-cert-env")
        return None
    for flag, variable in (("--client-cert-env", setup.client_cert_env),
                           ("--client-cert-key-env", setup.client_cert_key_env)):  # fmt: skip
        if variable is not None and not ENV_NAME.match(variable):
            raise fail(ExitCode.USAGE, f"{flag} {variable!r}: not an environment variable name")
    spec = TargetSpec(
        kind="oauth2",
        client_cert_env=setup.client_cert_env,
        client_cert_key_env=setup.client_cert_key_env,
    )
    try:
        return target_certificate(spec, [target])
    except ScenarioError as exc:
        raise fail(ExitCode.USAGE, _as_flags(str(exc))) from None


def _as_flags(message: str) -> str:
    """``message`` with the client certificate's fields and the base URL named by their flags."""
    for name in ("client_cert_key_env", "client_cert_env"):
        message = message.replace(f"target.{name}", "--" + name.replace("_", "-"))
    return message.replace("target.base_url", "--target")


def header_setup(
    setup: ClientSetup, headers: Sequence[str] | None, headers_env: Sequence[str] | None
) -> ClientSetup:
    """``setup`` with the ``--header`` and ``--header-env`` flags in it, or exit 2 naming the
    flag whose text is not ``Name: value`` (``Name=VARIABLE``), or whose header the scenario
    would refuse (checked by the scenario's own rules, so that init never writes a file that
    ``check`` rejects)."""
    given = []
    for text in headers or ():
        name, colon, value = text.partition(":")
        if not colon or not name.strip():
            raise fail(ExitCode.USAGE, f"--header {text!r}: expected 'Name: value'")
        given.append((name.strip(), value.strip()))
    named = []
    for text in headers_env or ():
        name, equals, variable = text.partition("=")
        if not equals or not name.strip() or not ENV_NAME.match(variable.strip()):
            raise fail(ExitCode.USAGE, f"--header-env {text!r}: expected 'Name=VARIABLE'")
        named.append((name.strip(), variable.strip()))
    for flag, pairs in (("--header", given), ("--header-env", named)):
        names = [name.lower() for name, _ in pairs]
        twice = next((name for name in names if names.count(name) > 1), None)
        if twice is not None:
            raise fail(ExitCode.USAGE, f"{flag}: {twice!r} is named twice")
    setup = dataclasses.replace(setup, headers=tuple(given), headers_env=tuple(named))
    try:
        _header_spec(setup)
    except ValueError as exc:
        flags = {"target.headers_env": "--header-env", "target.headers": "--header"}
        message = str(exc)
        for field, flag in flags.items():
            message = message.replace(field, flag)
        raise fail(ExitCode.USAGE, message) from None
    return setup


def sent_headers(setup: ClientSetup) -> tuple[tuple[str, str], ...]:
    """The headers ``setup`` sends with every request, as a run of the scenario it writes
    sends them (:func:`stress.target.target_headers`; the variables were checked before by
    :func:`require_variables`)."""
    return target_headers(_header_spec(setup))


def _header_spec(setup: ClientSetup) -> TargetSpec:
    """A target that has ``setup``'s headers and nothing else: the scenario's own rules check
    them, and its own code sends them; ``ValueError`` when those rules refuse them."""
    return TargetSpec(
        kind="oauth2", headers=dict(setup.headers), headers_env=dict(setup.headers_env)
    )


def password_login(username: str, variable: str) -> PasswordLogin:
    """The password grant as the flags (or prompts) give it; exit 2 for a bad variable name."""
    if not ENV_NAME.match(variable):
        raise fail(ExitCode.USAGE, f"--password-env {variable!r}: not an environment variable name")
    return PasswordLogin(username, variable)


def refuse_mint_with_password(
    mint_command: str | None, username: str | None, password_env: str | None
) -> None:
    """Exit 2 when ``--mint-command`` comes with the password grant's flags."""
    if mint_command is not None and (username is not None or password_env is not None):
        raise fail(
            ExitCode.USAGE,
            "--username and --password-env go with the password grant; --mint-command logs "
            "sessions in instead: drop one or the other",
        )


def needed_variables(login: Login, setup: ClientSetup) -> list[tuple[str, str]]:
    """The variables a login reads (the password's, the client secret's), with what each holds."""
    needed = login.variables()
    if setup.client_secret_env is not None:
        needed.append((setup.client_secret_env, "the client's secret"))
    if setup.client_key_env is not None:
        needed.append((setup.client_key_env, "the client's private key"))
    if setup.client_cert_env is not None:
        needed.append((setup.client_cert_env, "the client certificate"))
    if setup.client_cert_key_env is not None:
        needed.append((setup.client_cert_key_env, "the client certificate's key"))
    return needed + header_variables(setup)


def header_variables(setup: ClientSetup) -> list[tuple[str, str]]:
    """The variables the ``--header-env`` headers are read from, with what each holds."""
    return [(variable, f"the {name} header's value") for name, variable in setup.headers_env]


def require_variables(needed: Sequence[tuple[str, str]], why: str, remedy: str = "") -> None:
    """Exit 2 naming the first ``(variable, what it holds)`` that is not set, before a request.

    Why: an unset secret found mid-measurement would surface as a scenario field's error, not
    as the flag the person passed.
    """
    for variable, what in needed:
        if variable not in os.environ:
            raise fail(ExitCode.USAGE, f"{why}: set {variable} ({what}){remedy}")


def client_flags(setup: ClientSetup) -> list[str]:
    """The flags that give ``setup`` again, for a command line a person can rerun."""
    flags: list[str] = []
    for name, value in setup.fields().items():
        if name == "headers":
            flags += [
                f for header, text in value.items() for f in ("--header", f"{header}: {text}")
            ]
        elif name == "headers_env":
            flags += [
                f for header, var in value.items() for f in ("--header-env", f"{header}={var}")
            ]
        elif value is True:
            flags.append("--" + name.replace("_", "-"))
        else:
            flags += ["--" + name.replace("_", "-"), str(value)]
    return flags
